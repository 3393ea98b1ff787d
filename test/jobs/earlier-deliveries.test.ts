/**
 * What a run's start makes good of earlier deliveries (src/jobs/run/earlier-deliveries.ts), against a real
 * PostgreSQL store: interrupted deliveries decided by the rules and the mailbox's evidence, and uncertain
 * outcomes whose announcement was lost, a page of them at a time. The mailbox answers as the IMAP adapter
 * does (`found`, `not_found`, or `unknown` without IMAP); the IMAP search itself is tested against a real
 * IMAP server in test/e2e/delivery.test.ts.
 */
import crypto from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { emptyCounts, type EmailAccount } from '../../src/domain.ts';
import type { Evidence } from '../../src/mail/port.ts';
import { createLogger } from '../../src/observability/logger.ts';
import { announceUncertainOutcomes, resolveInterruptedDeliveries, type EarlierDeliveriesContext } from '../../src/jobs/run/earlier-deliveries.ts';
import type { PipelineEvent } from '../../src/jobs/run/events.ts';
import type { Store } from '../../src/store/port.ts';
import { usePostgresStore } from '../setup/db.ts';
import { claimReq, log, outcome } from '../store/contract/fixtures.ts';

const store = usePostgresStore();

const ACCOUNT = { id: 'acc', name: 'Biuro', active: true, fromAddress: null, fromFilter: null, imap: null } as unknown as EmailAccount;
const messageIdOf = (inst: string, invoiceId: string) => `<${inst}.${invoiceId}@invoice-courier>`;

/** The store's calls by method, every one passed on to the real store. */
function countingStore(real: Store): { store: Store; calls: Record<string, number> } {
  const calls: Record<string, number> = {};
  const counting = new Proxy(real, {
    get(target, prop, receiver) {
      const value = Reflect.get(target, prop, receiver) as unknown;
      if (typeof value !== 'function') return value;
      return (...args: unknown[]) => {
        calls[String(prop)] = (calls[String(prop)] ?? 0) + 1;
        return (value as (...a: unknown[]) => unknown).apply(target, args);
      };
    },
  });
  return { store: counting, calls };
}

function contextFor(
  inst: string,
  s: Store,
  over: { evidence?: (messageId: string) => Evidence; asked?: string[]; events?: PipelineEvent[]; uncertainPage?: number } = {},
): EarlierDeliveriesContext {
  const clock = () => new Date();
  return {
    installationId: inst,
    runId: crypto.randomUUID(),
    store: s,
    mail: {
      findByMessageId: async (_account, messageId) => {
        over.asked?.push(messageId);
        return over.evidence?.(messageId) ?? 'unknown';
      },
    },
    account: ACCOUNT,
    clock,
    counts: emptyCounts(),
    settleDeps: { store: s, clock, logger: createLogger('silent'), events: (e) => over.events?.push(e) },
    classifyContext: (attempts, recipients) => ({ mode: 'send_now', attempts, maxAttempts: 3, now: clock(), recipients }),
    events: (e) => over.events?.push(e),
    ...(over.uncertainPage === undefined ? {} : { uncertainPage: over.uncertainPage }),
  };
}

/** An invoice left `uncertain` in the ledger, as a delivery dropped after the final "." leaves it. */
async function uncertainEntry(inst: string, invoiceId: string): Promise<void> {
  const now = new Date().toISOString();
  await store().claim(claimReq(inst, invoiceId, 'w1', now));
  await store().recordOutcome(inst, invoiceId, 'w1', outcome('uncertain', { detail: `Dropped after DATA (${invoiceId})` }), {
    writeBack: false,
    nextAttemptAt: null,
  });
}

/** An invoice whose delivery a dead process left `sending`, its lease over; `handedOver`: it reached the final ".". */
async function interruptedEntry(inst: string, invoiceId: string, handedOver: boolean): Promise<void> {
  const past = new Date(Date.now() - 60 * 60_000).toISOString();
  expect(await store().claim(claimReq(inst, invoiceId, 'dead-host:1:abc', past))).not.toBeNull();
  expect(await store().markSending(inst, invoiceId, 'dead-host:1:abc', 'hash', past)).toBe(true);
  if (handedOver) expect(await store().markHandedOver(inst, invoiceId, 'dead-host:1:abc')).toBe(true);
}

describe('a run makes good what earlier deliveries left open', () => {
  it('uncertain outcomes never announced are announced once each, a page at a time: one read, one query and at most one statement per page', async () => {
    const inst = crypto.randomUUID();
    const ids = ['11', '12', '13', '14', '15', '16', '17', '18'];
    for (const id of ids) await uncertainEntry(inst, id);
    // two were announced when they were recorded; a sent invoice is not uncertain
    await store().appendLogs([log(inst, { invoiceId: '12', event: 'invoice.uncertain' }), log(inst, { invoiceId: '17', event: 'invoice.uncertain' })]);
    await store().claim(claimReq(inst, '19', 'w1', new Date().toISOString()));
    await store().recordOutcome(inst, '19', 'w1', outcome('sent'), { writeBack: false, nextAttemptAt: null });

    const events: PipelineEvent[] = [];
    const first = countingStore(store());
    expect(await announceUncertainOutcomes(contextFor(inst, first.store, { events, uncertainPage: 3 }))).toBe(6);
    // pages of 3, 3 and 2 entries; the last one shorter, so no fourth read
    expect(first.calls).toEqual({ listLedger: 3, loggedEvents: 3, appendLogs: 3 });
    const announced = ['11', '13', '14', '15', '16', '18'];
    expect(events.map((e) => (e.type === 'invoice.uncertain' ? e.invoiceId : e.type))).toEqual(announced);
    const logs = await store().listLogs({ installationId: inst, limit: 100 });
    const late = logs.filter((e) => e.event === 'invoice.uncertain' && (e.data as { announcedLate?: boolean } | null)?.announcedLate === true);
    expect(late.map((e) => e.invoiceId).sort()).toEqual(announced);
    expect(late.find((e) => e.invoiceId === '14')?.message).toBe('Dropped after DATA (14)');
    expect(late.find((e) => e.invoiceId === '14')?.data).toMatchObject({ messageId: messageIdOf(inst, '14') });

    // announced once: the next run reads the same pages and appends nothing (pages of 4: 4, 4, then an empty read)
    const again = countingStore(store());
    expect(await announceUncertainOutcomes(contextFor(inst, again.store, { events, uncertainPage: 4 }))).toBe(0);
    expect(again.calls).toEqual({ listLedger: 3, loggedEvents: 2 });
    expect(events).toHaveLength(6);
  });

  it('an interrupted delivery not handed over is retried without asking the mailbox; one handed over is sent when the mailbox has it, else uncertain (not in Sent, or no IMAP)', async () => {
    const inst = crypto.randomUUID();
    await interruptedEntry(inst, '21', false);
    await interruptedEntry(inst, '22', true);
    await interruptedEntry(inst, '23', true);
    await interruptedEntry(inst, '24', true);
    const evidence: Record<string, Evidence> = {
      [messageIdOf(inst, '22')]: 'found',
      [messageIdOf(inst, '23')]: 'unknown',
      [messageIdOf(inst, '24')]: 'not_found',
    };
    const asked: string[] = [];
    const events: PipelineEvent[] = [];
    const ctx = contextFor(inst, store(), { evidence: (id) => evidence[id] ?? 'unknown', asked, events });
    await resolveInterruptedDeliveries(ctx);

    expect(asked.sort()).toEqual([messageIdOf(inst, '22'), messageIdOf(inst, '23'), messageIdOf(inst, '24')].sort());
    const states = Object.fromEntries((await store().getLedger(inst, ['21', '22', '23', '24'])).map((e) => [e.invoiceId, e.state]));
    expect(states).toEqual({ '21': 'retry', '22': 'sent', '23': 'uncertain', '24': 'uncertain' });
    expect(ctx.counts).toMatchObject({ sent: 1, uncertain: 2, retry: 1 });
    expect(events.filter((e) => e.type === 'invoice.uncertain').map((e) => (e as { invoiceId: string }).invoiceId)).toEqual(['23', '24']);

    // resolved once: nothing is left for the next run, and the uncertain one was announced as it was resolved
    const next: string[] = [];
    await resolveInterruptedDeliveries(contextFor(inst, store(), { asked: next }));
    expect(next).toEqual([]);
    expect(await announceUncertainOutcomes(contextFor(inst, store(), { events }))).toBe(0);
  });
});
