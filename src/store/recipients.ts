/** Recipients as the store port types them, whatever shape an adapter finds stored. */
import type { RecipientResult } from '../domain.ts';

/**
 * A refusal stored as `{address, reply}` (no `accepted`, as older versions wrote permanent SMTP
 * failures) was refused; a missing reply is null; anything without an address is dropped.
 */
export function recipientsOf(v: unknown): RecipientResult[] {
  if (!Array.isArray(v)) return [];
  return v
    .filter((x): x is Record<string, unknown> => x !== null && typeof x === 'object' && typeof (x as { address?: unknown }).address === 'string')
    .map((x) => ({
      address: x['address'] as string,
      accepted: typeof x['accepted'] === 'boolean' ? x['accepted'] : false,
      reply: typeof x['reply'] === 'string' ? x['reply'] : x['reply'] == null ? null : String(x['reply']),
    }));
}
