/** Recipients as the store port types them, whatever shape an adapter finds stored. */
import type { RecipientBounce, RecipientResult } from '../domain.ts';

/**
 * A refusal stored as `{address, reply}` (no `accepted`, as older versions wrote permanent SMTP
 * failures) was refused; a missing reply is null; anything without an address is dropped.
 */
export function recipientsOf(v: unknown): RecipientResult[] {
  if (!Array.isArray(v)) return [];
  return v
    .filter((x): x is Record<string, unknown> => x !== null && typeof x === 'object' && typeof (x as { address?: unknown }).address === 'string')
    .map((x) => {
      const r: RecipientResult = {
        address: x['address'] as string,
        accepted: typeof x['accepted'] === 'boolean' ? x['accepted'] : false,
        reply: typeof x['reply'] === 'string' ? x['reply'] : x['reply'] == null ? null : String(x['reply']),
      };
      const b = x['bounce'];
      if (b !== null && typeof b === 'object') {
        const o = b as Record<string, unknown>;
        r.bounce = {
          status: typeof o['status'] === 'string' ? o['status'] : null,
          diagnostic: typeof o['diagnostic'] === 'string' ? o['diagnostic'] : null,
          at: String(o['at'] ?? ''),
        };
      }
      return r;
    });
}

/**
 * The recipients with each bounce set on the recipient of that address (case-insensitive) that has none
 * yet; bounces for addresses the message was not sent to, or already bounced, are left out. Pure.
 */
export function mergeBounces(
  recipients: RecipientResult[],
  bounces: (RecipientBounce & { address: string })[],
): { recipients: RecipientResult[]; added: string[] } {
  const added: string[] = [];
  const out = recipients.map((r) => {
    if (r.bounce || !r.accepted) return r;
    const b = bounces.find((x) => x.address.toLowerCase() === r.address.toLowerCase());
    if (!b) return r;
    added.push(r.address);
    return { ...r, bounce: { status: b.status, diagnostic: b.diagnostic, at: b.at } };
  });
  return { recipients: out, added };
}
