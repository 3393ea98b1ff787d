/** An installation's host kind as the store port types it, whatever an older version stored. */
import type { Installation } from './port.ts';

/**
 * 'sandbox' was a host kind until the demo world moved out of the connector (sandbox/): the sandbox
 * speaks Odoo's protocol, so an installation stored with it (the demo's data dir from before) is 'odoo'.
 */
export function storedHostKind(v: unknown): Installation['hostKind'] {
  const kind = String(v);
  return (kind === 'sandbox' ? 'odoo' : kind) as Installation['hostKind'];
}
