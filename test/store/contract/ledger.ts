/**
 * The `Ledger` port's contract: the exactly-once guarantee (claim rules, ownership, leases,
 * concurrency), outcomes, retries, bounces and mailbox cursors, interrupted deliveries, write-backs and
 * dead owners.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import type { LedgerState, Outcome } from '../../../src/domain.ts';
import type { ClaimItem, Ledger, Store } from '../../../src/store/port.ts';
import { at, claimReq, outcome, uid } from './fixtures.ts';

export function ledgerContract(port: () => Store): void {
  describe('Ledger', () => {
    let store: Ledger;
    beforeAll(() => {
      store = port();
    });

    /** Brings a fresh invoice to `state` through the port's own transitions. */
    async function entryIn(state: LedgerState, opts: { attempts?: number; nextAttemptAt?: string | null } = {}) {
      const inst = uid();
      const inv = uid();
      const owner = 'w1';
      const claimed = await store.claim(claimReq(inst, inv, owner, at(0), { maxAttempts: 100 }));
      expect(claimed).not.toBeNull();
      if (state === 'claimed') return { inst, inv, owner, entry: claimed! };
      const sends = state === 'sending' || state === 'sent' || state === 'uncertain' ? 1 : (opts.attempts ?? 0);
      for (let i = 0; i < sends; i++) {
        if (i > 0) {
          expect(await store.recordOutcome(inst, inv, owner, outcome('retry'), { writeBack: false, nextAttemptAt: null })).toBe(true);
          expect(await store.claim(claimReq(inst, inv, owner, at(0), { maxAttempts: 100 }))).not.toBeNull();
        }
        expect(await store.markSending(inst, inv, owner, `hash-${i}`, at(10))).toBe(true);
      }
      if (state === 'sending') return { inst, inv, owner, entry: (await store.getLedger(inst, [inv]))[0]! };
      if (state === 'uncertain') {
        expect(await store.resolveInterrupted(inst, inv, at(10), outcome('uncertain', { reason: 'interrupted' }), false)).toBe(true);
      } else {
        const nextAttemptAt = opts.nextAttemptAt ?? null;
        expect(await store.recordOutcome(inst, inv, owner, outcome(state as Outcome['state']), { writeBack: false, nextAttemptAt })).toBe(true);
      }
      return { inst, inv, owner, entry: (await store.getLedger(inst, [inv]))[0]! };
    }

    describe('ledger: claim', () => {
      it('claiming a new invoice creates a claimed entry owned by the claimer', async () => {
        const inst = uid();
        const req = claimReq(inst, '42', 'host-a:1:aa', at(0));
        const entry = await store.claim(req);
        expect(entry).toMatchObject({
          installationId: inst,
          invoiceId: '42',
          invoiceNumber: req.invoiceNumber,
          state: 'claimed',
          owner: 'host-a:1:aa',
          leaseUntil: req.leaseUntil,
          attempts: 0,
          messageId: req.messageId,
          contentHash: null,
          reason: null,
          recipients: [],
          writeBackPending: false,
          nextAttemptAt: null,
        });
        expect(await store.getLedger(inst, ['42'])).toEqual([entry]);
      });

      it('a live claim cannot be taken by another owner, nor claimed twice by its own', async () => {
        const inst = uid();
        expect(await store.claim(claimReq(inst, '1', 'a', at(0)))).not.toBeNull();
        expect(await store.claim(claimReq(inst, '1', 'b', at(1)))).toBeNull();
        expect(await store.claim(claimReq(inst, '1', 'a', at(1)))).toBeNull();
        expect((await store.getLedger(inst, ['1']))[0]?.owner).toBe('a');
      });

      it('the same invoice id in two installations is two independent entries', async () => {
        const invoice = uid();
        expect(await store.claim(claimReq(uid(), invoice, 'a', at(0)))).not.toBeNull();
        expect(await store.claim(claimReq(uid(), invoice, 'b', at(0)))).not.toBeNull();
      });

      it('20 owners claiming the same invoice at once: exactly one wins, for each of 50 invoices', async () => {
        const inst = uid();
        const invoices = Array.from({ length: 50 }, (_, i) => `inv-${i}`);
        const winners = new Map<string, string>();
        for (const inv of invoices) {
          const results = await Promise.all(Array.from({ length: 20 }, (_, o) => store.claim(claimReq(inst, inv, `owner-${o}`, at(0)))));
          const won = results.filter((r) => r !== null);
          expect(won, `invoice ${inv}`).toHaveLength(1);
          winners.set(inv, won[0]!.owner!);
        }
        const entries = await store.getLedger(inst, invoices);
        expect(entries).toHaveLength(50);
        for (const e of entries) expect(e.owner).toBe(winners.get(e.invoiceId));
      });

      it("claimMany claims a batch under claim's rules: new and skipped invoices won, live, final and sending ones not", async () => {
        const inst = uid();
        const common = { installationId: inst, owner: 'a', leaseUntil: at(10), now: at(0), maxAttempts: 3 };
        const item = (id: string): ClaimItem => ({ invoiceId: id, invoiceNumber: `FV/${id}`, messageId: `<${inst}.${id}@invoice-courier>` });
        // live claim of someone else, a sent entry, a sending entry, a skipped entry
        expect(await store.claim(claimReq(inst, 'live', 'b', at(0)))).not.toBeNull();
        expect(await store.claim(claimReq(inst, 'sent', 'b', at(0)))).not.toBeNull();
        expect(await store.recordOutcome(inst, 'sent', 'b', outcome('sent'), { writeBack: false, nextAttemptAt: null })).toBe(true);
        expect(await store.claim(claimReq(inst, 'sending', 'b', at(0)))).not.toBeNull();
        expect(await store.markSending(inst, 'sending', 'b', 'h', at(-1))).toBe(true);
        expect(await store.claim(claimReq(inst, 'skipped', 'b', at(0), { invoiceNumber: 'FV/old' }))).not.toBeNull();
        await store.release(inst, 'skipped', 'b');

        const won = await store.claimMany({ ...common, now: at(5), leaseUntil: at(15) }, [
          item('new-1'),
          item('live'),
          item('sent'),
          item('sending'),
          { ...item('skipped'), invoiceNumber: null },
          { ...item('new-2'), invoiceNumber: null, draft: true },
          item('new-1'),
        ]);
        expect(won.map((e) => e.invoiceId).sort()).toEqual(['new-1', 'new-2', 'skipped']);
        for (const e of won) {
          expect(e.state).toBe('claimed');
          expect(e.owner).toBe('a');
          expect(e.leaseUntil).toBe(at(15));
          expect(e.messageId).toBe(`<${inst}.${e.invoiceId}@invoice-courier>`);
        }
        expect(won.find((e) => e.invoiceId === 'new-2')!.draft).toBe(true);
        expect(won.find((e) => e.invoiceId === 'skipped')!.invoiceNumber).toBe('FV/old');
        const ledger = new Map((await store.getLedger(inst, ['live', 'sent', 'sending'])).map((e) => [e.invoiceId, e]));
        expect(ledger.get('live')!.owner).toBe('b');
        expect(ledger.get('sent')!.state).toBe('sent');
        expect(ledger.get('sending')!.state).toBe('sending');
        expect(ledger.get('sending')!.owner).toBe('b');
        expect(await store.claimMany(common, [])).toEqual([]);
      });

      it('claimMany does not take a live claim, nor a retry before its time or past its attempts', async () => {
        const inst = uid();
        expect(await store.claim(claimReq(inst, 'live', 'b', at(0)))).not.toBeNull();
        expect(await store.claim(claimReq(inst, 'later', 'b', at(0)))).not.toBeNull();
        expect(await store.markSending(inst, 'later', 'b', 'h', at(10))).toBe(true);
        expect(await store.recordOutcome(inst, 'later', 'b', outcome('retry'), { writeBack: false, nextAttemptAt: at(30) })).toBe(true);
        const won = await store.claimMany(
          { installationId: inst, owner: 'a', leaseUntil: at(15), now: at(5), maxAttempts: 3 },
          ['live', 'later', 'fresh'].map((id) => ({ invoiceId: id, invoiceNumber: null, messageId: `<${id}@x>` })),
        );
        expect(won.map((e) => e.invoiceId)).toEqual(['fresh']);
        const exhausted = await store.claimMany({ installationId: inst, owner: 'a', leaseUntil: at(45), now: at(35), maxAttempts: 1 }, [
          { invoiceId: 'later', invoiceNumber: null, messageId: '<later@x>' },
        ]);
        expect(exhausted).toEqual([]);
        const due = await store.claimMany({ installationId: inst, owner: 'a', leaseUntil: at(45), now: at(35), maxAttempts: 3 }, [
          { invoiceId: 'later', invoiceNumber: null, messageId: '<later@x>' },
        ]);
        expect(due.map((e) => [e.invoiceId, e.attempts])).toEqual([['later', 1]]);
        expect((await store.getLedger(inst, ['live']))[0]!.owner).toBe('b');
      });

      it('20 owners claim the same invoices at once with claimMany: each invoice has one winner', async () => {
        const inst = uid();
        const invoices = Array.from({ length: 60 }, (_, i) => `inv-${String(i).padStart(2, '0')}`);
        // each owner asks for the invoices in its own order, and some owners for a part only
        const results = await Promise.all(
          Array.from({ length: 20 }, (_, o) => {
            const mine = invoices.filter((_, i) => o % 3 !== 0 || i % 2 === 0);
            const order = o % 2 ? [...mine].reverse() : mine;
            return store.claimMany(
              { installationId: inst, owner: `owner-${o}`, leaseUntil: at(10), now: at(0), maxAttempts: 3 },
              order.map((id) => ({ invoiceId: id, invoiceNumber: null, messageId: `<${id}@x>` })),
            );
          }),
        );
        const winners = new Map<string, string[]>();
        results.forEach((won, o) => {
          for (const e of won) {
            expect(e.owner).toBe(`owner-${o}`);
            winners.set(e.invoiceId, [...(winners.get(e.invoiceId) ?? []), e.owner!]);
          }
        });
        expect([...winners.keys()].sort()).toEqual(invoices);
        for (const [inv, owners] of winners) expect(owners, inv).toHaveLength(1);
        const entries = await store.getLedger(inst, invoices);
        for (const e of entries) expect(e.owner).toBe(winners.get(e.invoiceId)![0]);
      });

      it('concurrent takeover of an expired claim: exactly one new owner wins', async () => {
        const inst = uid();
        for (let i = 0; i < 10; i++) {
          const inv = `exp-${i}`;
          await store.claim(claimReq(inst, inv, 'crashed', at(0), { leaseUntil: at(1) }));
          const results = await Promise.all(Array.from({ length: 20 }, (_, o) => store.claim(claimReq(inst, inv, `o${o}`, at(5)))));
          expect(results.filter((r) => r !== null)).toHaveLength(1);
        }
      });

      it('a claim whose lease expired can be taken over; the old owner then can do nothing', async () => {
        const inst = uid();
        await store.claim(claimReq(inst, '1', 'old', at(0), { leaseUntil: at(5) }));
        expect(await store.claim(claimReq(inst, '1', 'new', at(4)))).toBeNull();
        expect(await store.claim(claimReq(inst, '1', 'new', at(5)))).toBeNull(); // lease_until < now, strictly
        const taken = await store.claim(claimReq(inst, '1', 'new', at(6)));
        expect(taken?.owner).toBe('new');
        expect(await store.markSending(inst, '1', 'old', 'h', at(20))).toBe(false);
        expect(await store.recordOutcome(inst, '1', 'old', outcome('sent'), { writeBack: true, nextAttemptAt: null })).toBe(false);
        await store.release(inst, '1', 'old');
        expect((await store.getLedger(inst, ['1']))[0]).toMatchObject({ state: 'claimed', owner: 'new' });
        expect(await store.markSending(inst, '1', 'new', 'h', at(20))).toBe(true);
      });

      it('a sending entry is never claimable, not even after its lease expired', async () => {
        const { inst, inv } = await entryIn('sending');
        expect(await store.claim(claimReq(inst, inv, 'other', at(5)))).toBeNull();
        expect(await store.claim(claimReq(inst, inv, 'other', at(60 * 24 * 365)))).toBeNull();
        expect((await store.getLedger(inst, [inv]))[0]?.state).toBe('sending');
      });

      for (const state of ['sent', 'drafted', 'failed', 'uncertain'] as const) {
        it(`a ${state} entry is never claimed again`, async () => {
          const { inst, inv } = await entryIn(state);
          expect(await store.claim(claimReq(inst, inv, 'other', at(60 * 24 * 30), { maxAttempts: 1000 }))).toBeNull();
          expect((await store.getLedger(inst, [inv]))[0]?.state).toBe(state);
        });
      }

      it('a skipped entry is claimable again, keeping its invoice number when the new claim has none', async () => {
        const { inst, inv, entry } = await entryIn('skipped');
        const again = await store.claim(claimReq(inst, inv, 'other', at(1), { invoiceNumber: null }));
        expect(again).toMatchObject({ state: 'claimed', owner: 'other', invoiceNumber: entry.invoiceNumber });
      });

      it("markSending starts not handed over; markHandedOver flags the owner's sending entry only", async () => {
        const { inst, inv, owner } = await entryIn('claimed');
        expect(await store.markHandedOver(inst, inv, owner)).toBe(false); // not sending yet
        expect(await store.markSending(inst, inv, owner, 'h', at(10))).toBe(true);
        expect((await store.getLedger(inst, [inv]))[0]).toMatchObject({ state: 'sending', handedOver: false });
        expect(await store.markHandedOver(inst, inv, 'someone-else')).toBe(false);
        expect((await store.getLedger(inst, [inv]))[0]?.handedOver).toBe(false);
        expect(await store.markHandedOver(inst, inv, owner)).toBe(true);
        expect(await store.markHandedOver(inst, inv, owner)).toBe(true);
        const [entry] = await store.listExpiredSending(inst, at(11));
        expect(entry).toMatchObject({ invoiceId: inv, handedOver: true });
      });

      /** Writes back every owed outcome of an installation, as the flusher does (taken under a lease, then cleared). */
      async function writtenBack(inst: string, now: string): Promise<void> {
        const taken = await store.claimWriteBacks(inst, { owner: 'flusher', now, leaseUntil: new Date(Date.parse(now) + 60_000).toISOString(), limit: 100 });
        await store.markWrittenBack(
          inst,
          'flusher',
          taken.map((e) => ({ invoiceId: e.invoiceId, outcomeVersion: e.outcomeVersion ?? 0 })),
        );
      }

      it('a sent draft whose write-back is done is claimed once more as the next version (claimNewVersion), exactly once, and only a sent draft', async () => {
        const inst = uid();
        const inv = uid();
        expect(await store.claim(claimReq(inst, inv, 'w1', at(0), { invoiceNumber: null, draft: true }))).toMatchObject({ version: 1, draft: true });
        expect(await store.markSending(inst, inv, 'w1', 'draft-hash', at(10))).toBe(true);
        expect(await store.recordOutcome(inst, inv, 'w1', outcome('sent'), { writeBack: true, nextAttemptAt: null })).toBe(true);
        const posted = claimReq(inst, inv, 'w2', at(20), { invoiceNumber: 'FV/2026/11/0017', messageId: '<v2@t>', draft: false });
        // Not while the draft's write-back is still owed.
        expect(await store.claimNewVersion(posted)).toBeNull();
        await writtenBack(inst, at(21));
        const results = await Promise.all([store.claimNewVersion(posted), store.claimNewVersion({ ...posted, owner: 'w3' })]);
        const won = results.filter((r) => r !== null);
        expect(won).toHaveLength(1);
        expect(won[0]).toMatchObject({
          state: 'claimed',
          version: 2,
          draft: false,
          attempts: 0,
          contentHash: null,
          recipients: [],
          messageId: '<v2@t>',
          invoiceNumber: 'FV/2026/11/0017',
          writeBackPending: false,
        });
        const owner = won[0]!.owner!;
        expect(await store.markSending(inst, inv, owner, 'posted-hash', at(30))).toBe(true);
        expect(await store.recordOutcome(inst, inv, owner, outcome('sent'), { writeBack: true, nextAttemptAt: null })).toBe(true);
        await writtenBack(inst, at(31));
        expect(await store.getLedger(inst, [inv])).toEqual([
          expect.objectContaining({ state: 'sent', version: 2, draft: false, attempts: 1, contentHash: 'posted-hash' }),
        ]);
        // The posted version is final: no third one.
        expect(await store.claimNewVersion({ ...posted, owner: 'w4' })).toBeNull();
        // A posted invoice that was sent (not a draft) has no new version; nor has an entry that is not final.
        const { inst: i2, inv: v2 } = await entryIn('sent');
        expect(await store.claimNewVersion(claimReq(i2, v2, 'w5', at(40)))).toBeNull();
        const d3 = uid();
        expect(await store.claim(claimReq(inst, d3, 'w1', at(0), { draft: true }))).not.toBeNull();
        expect(await store.claimNewVersion(claimReq(inst, d3, 'w6', at(40)))).toBeNull();
      });
    });

    describe('ledger: sending and outcomes', () => {
      it('markSending moves claimed -> sending for the owner only, counts the attempt and stores the content hash', async () => {
        const inst = uid();
        await store.claim(claimReq(inst, '1', 'a', at(0)));
        expect(await store.markSending(inst, '1', 'b', 'h1', at(10))).toBe(false);
        expect(await store.markSending(inst, '1', 'a', 'sha256-x', at(10))).toBe(true);
        expect(await store.markSending(inst, '1', 'a', 'sha256-x', at(10))).toBe(false); // already sending
        expect((await store.getLedger(inst, ['1']))[0]).toMatchObject({ state: 'sending', attempts: 1, contentHash: 'sha256-x', leaseUntil: at(10) });
      });

      it('recordOutcome stores the outcome for the owner, ends ownership and flags the write-back', async () => {
        const inst = uid();
        await store.claim(claimReq(inst, '1', 'a', at(0)));
        await store.markSending(inst, '1', 'a', 'h', at(10));
        const result = outcome('sent', {
          recipients: [
            { address: 'a@example.pl', accepted: true, reply: null },
            { address: 'b@example.pl', accepted: false, reply: '550 no such user' },
          ],
        });
        expect(await store.recordOutcome(inst, '1', 'b', result, { writeBack: true, nextAttemptAt: null })).toBe(false);
        expect(await store.recordOutcome(inst, '1', 'a', result, { writeBack: true, nextAttemptAt: null })).toBe(true);
        expect((await store.getLedger(inst, ['1']))[0]).toMatchObject({
          state: 'sent',
          owner: null,
          leaseUntil: null,
          recipients: result.recipients,
          writeBackPending: true,
          attempts: 1,
        });
        expect(await store.recordOutcome(inst, '1', 'a', outcome('failed'), { writeBack: false, nextAttemptAt: null })).toBe(false);
      });

      it("recordOutcome with a log entry writes the entry exactly when the outcome is recorded: never for a claim that is not the owner's", async () => {
        const full = port();
        const inst = uid();
        const ids = Array.from({ length: 12 }, (_, i) => String(i + 1));
        for (const id of ids) await store.claim(claimReq(inst, id, 'a', at(0)));
        const line = (id: string) => ({
          installationId: inst,
          runId: null,
          at: at(0),
          level: 'info' as const,
          event: 'invoice.sent',
          invoiceId: id,
          invoiceNumber: `FV/${id}`,
          message: `Sent ${id}`,
          data: { n: Number(id) },
        });
        // all at once (one batch where the store batches); every third one by an owner that does not hold the claim
        const answers = await Promise.all(
          ids.map((id) =>
            store.recordOutcome(inst, id, Number(id) % 3 === 0 ? 'b' : 'a', outcome('sent'), { writeBack: true, nextAttemptAt: null, log: line(id) }),
          ),
        );
        expect(answers).toEqual(ids.map((id) => Number(id) % 3 !== 0));
        const logged = await full.listLogs({ installationId: inst, limit: 100 });
        expect(logged.map((l) => l.invoiceId).sort()).toEqual(ids.filter((id) => Number(id) % 3 !== 0).sort());
        expect(logged.find((l) => l.invoiceId === '1')).toMatchObject({ event: 'invoice.sent', invoiceNumber: 'FV/1', message: 'Sent 1', data: { n: 1 } });
      });

      it('an outcome can be recorded straight from claimed (nothing was sent, e.g. no recipient)', async () => {
        const inst = uid();
        await store.claim(claimReq(inst, '1', 'a', at(0)));
        const skipped = outcome('skipped', { reason: 'no_recipient', detail: 'customer has no e-mail' });
        expect(await store.recordOutcome(inst, '1', 'a', skipped, { writeBack: false, nextAttemptAt: null })).toBe(true);
        expect((await store.getLedger(inst, ['1']))[0]).toMatchObject({
          state: 'skipped',
          reason: 'no_recipient',
          detail: 'customer has no e-mail',
          attempts: 0,
        });
      });

      it('release gives a fresh claim back as skipped, and a re-claim back its previous state', async () => {
        const inst = uid();
        await store.claim(claimReq(inst, 'new', 'a', at(0)));
        await store.release(inst, 'new', 'b'); // not the owner: nothing happens
        expect((await store.getLedger(inst, ['new']))[0]?.state).toBe('claimed');
        await store.release(inst, 'new', 'a');
        expect((await store.getLedger(inst, ['new']))[0]).toMatchObject({ state: 'skipped', owner: null, leaseUntil: null });

        const r = await entryIn('retry', { attempts: 2, nextAttemptAt: at(30) });
        expect(await store.claim(claimReq(r.inst, r.inv, 'c', at(31)))).not.toBeNull();
        await store.release(r.inst, r.inv, 'c');
        expect((await store.getLedger(r.inst, [r.inv]))[0]).toMatchObject({ state: 'retry', attempts: 2, owner: null, nextAttemptAt: at(30) });
        expect(await store.claim(claimReq(r.inst, r.inv, 'd', at(31)))).not.toBeNull();
      });

      it('release does not touch a sending entry', async () => {
        const { inst, inv, owner } = await entryIn('sending');
        await store.release(inst, inv, owner);
        expect((await store.getLedger(inst, [inv]))[0]).toMatchObject({ state: 'sending', owner });
      });
    });

    describe('ledger: retries', () => {
      it('a retry entry is claimable only once nextAttemptAt has come', async () => {
        const { inst, inv } = await entryIn('retry', { attempts: 1, nextAttemptAt: at(30) });
        expect(await store.claim(claimReq(inst, inv, 'x', at(29)))).toBeNull();
        const again = await store.claim(claimReq(inst, inv, 'x', at(30)));
        expect(again).toMatchObject({ state: 'claimed', owner: 'x', attempts: 1 });
      });

      it('a retry entry that used up maxAttempts is not claimed again', async () => {
        const { inst, inv } = await entryIn('retry', { attempts: 3, nextAttemptAt: at(1) });
        expect((await store.getLedger(inst, [inv]))[0]?.attempts).toBe(3);
        expect(await store.claim(claimReq(inst, inv, 'x', at(60), { maxAttempts: 3 }))).toBeNull();
        expect(await store.claim(claimReq(inst, inv, 'x', at(60), { maxAttempts: 4 }))).not.toBeNull();
      });

      it('a retry entry without nextAttemptAt is claimable at once', async () => {
        const { inst, inv } = await entryIn('retry', { attempts: 1, nextAttemptAt: null });
        expect(await store.claim(claimReq(inst, inv, 'x', at(0)))).not.toBeNull();
      });

      it('allowResend makes a failed or uncertain entry claimable again with a fresh attempt budget', async () => {
        for (const state of ['failed', 'uncertain'] as const) {
          const { inst, inv } = await entryIn(state, { attempts: 3 });
          expect(await store.claim(claimReq(inst, inv, 'x', at(60), { maxAttempts: 3 }))).toBeNull();
          expect(await store.allowResend(inst, inv)).toBe(true);
          expect(await store.claim(claimReq(inst, inv, 'x', at(60), { maxAttempts: 3 }))).toMatchObject({ state: 'claimed', attempts: 0 });
        }
      });

      it('allowResend refuses sent, sending and unknown entries', async () => {
        const sent = await entryIn('sent');
        expect(await store.allowResend(sent.inst, sent.inv)).toBe(false);
        const sending = await entryIn('sending');
        expect(await store.allowResend(sending.inst, sending.inv)).toBe(false);
        expect(await store.allowResend(uid(), 'nope')).toBe(false);
        expect((await store.getLedger(sent.inst, [sent.inv]))[0]?.state).toBe('sent');
      });
    });

    describe('ledger: bounces and mailbox cursors', () => {
      const bounce = (address: string, status = '5.1.1') => ({ address, status, diagnostic: `smtp; 550 ${status} ${address} unknown`, at: at(5) });

      it('an entry is found by the exact Message-ID of its current delivery, only in its installation', async () => {
        const { inst, inv, entry } = await entryIn('sent');
        expect((await store.findLedgerByMessageId(inst, entry.messageId))?.invoiceId).toBe(inv);
        expect(await store.findLedgerByMessageId(inst, entry.messageId.replace('@', '.v2@'))).toBeNull();
        expect(await store.findLedgerByMessageId(uid(), entry.messageId)).toBeNull();
      });

      it('a bounce is recorded once per recipient of a sent entry with that Message-ID; the state stays sent', async () => {
        const { inst, inv, entry } = await entryIn('sent');
        expect(await store.recordBounces(inst, inv, '<other@x>', [bounce('biuro@example.pl')])).toEqual([]);
        expect(await store.recordBounces(inst, inv, entry.messageId, [bounce('BIURO@example.pl'), bounce('nobody@example.pl')])).toEqual(['biuro@example.pl']);
        const [e] = await store.getLedger(inst, [inv]);
        expect(e).toMatchObject({
          state: 'sent',
          recipients: [
            { address: 'biuro@example.pl', accepted: true, bounce: { status: '5.1.1', diagnostic: 'smtp; 550 5.1.1 BIURO@example.pl unknown', at: at(5) } },
          ],
        });
        expect(await store.recordBounces(inst, inv, entry.messageId, [bounce('biuro@example.pl', '5.2.2')])).toEqual([]);
        expect((await store.getLedger(inst, [inv]))[0]?.recipients[0]?.bounce?.status).toBe('5.1.1');
        // Concurrent readers of the same report: recorded once in all.
        const other = await entryIn('sent');
        const results = await Promise.all(
          Array.from({ length: 5 }, () => store.recordBounces(other.inst, other.inv, other.entry.messageId, [bounce('biuro@example.pl')])),
        );
        expect(results.flat()).toEqual(['biuro@example.pl']);
      });

      it('a bounced sent entry may be re-sent: the next version with the new Message-ID, kept by the claim', async () => {
        const { inst, inv, entry } = await entryIn('sent');
        expect(await store.allowResend(inst, inv)).toBe(false);
        await store.recordBounces(inst, inv, entry.messageId, [bounce('biuro@example.pl')]);
        const next = entry.messageId.replace('@', '.v2@');
        expect(await store.allowResend(inst, inv, { messageId: next })).toBe(true);
        expect((await store.getLedger(inst, [inv]))[0]).toMatchObject({ state: 'retry', version: 2, messageId: next, attempts: 0 });
        expect(await store.claim(claimReq(inst, inv, 'x', at(60)))).toMatchObject({ state: 'claimed', messageId: next, version: 2 });
        expect(await store.findLedgerByMessageId(inst, next)).not.toBeNull();
        expect(await store.findLedgerByMessageId(inst, entry.messageId)).toBeNull();
      });

      it('a mailbox cursor is kept per installation and account and replaced', async () => {
        const inst = uid();
        expect(await store.getMailboxCursor(inst, 'a1')).toBeNull();
        await store.putMailboxCursor(inst, 'a1', { uidValidity: '17', lastUid: 4 });
        await store.putMailboxCursor(inst, 'a2', { uidValidity: '9', lastUid: 1 });
        await store.putMailboxCursor(inst, 'a1', { uidValidity: '18', lastUid: 2 });
        expect(await store.getMailboxCursor(inst, 'a1')).toEqual({ uidValidity: '18', lastUid: 2 });
        expect(await store.getMailboxCursor(inst, 'a2')).toEqual({ uidValidity: '9', lastUid: 1 });
        expect(await store.getMailboxCursor(uid(), 'a1')).toBeNull();
      });
    });

    describe('ledger: interrupted deliveries', () => {
      it('listExpiredSending lists only sending entries whose lease ended before now', async () => {
        const inst = uid();
        await store.claim(claimReq(inst, 'a', 'w', at(0)));
        await store.markSending(inst, 'a', 'w', 'h', at(10));
        await store.claim(claimReq(inst, 'b', 'w', at(0)));
        await store.markSending(inst, 'b', 'w', 'h', at(20));
        await store.claim(claimReq(inst, 'c', 'w', at(0), { leaseUntil: at(1) })); // claimed, expired: not "sending"
        expect((await store.listExpiredSending(inst, at(5))).map((e) => e.invoiceId)).toEqual([]);
        expect((await store.listExpiredSending(inst, at(15))).map((e) => e.invoiceId)).toEqual(['a']);
        expect((await store.listExpiredSending(inst, at(25))).map((e) => e.invoiceId).sort()).toEqual(['a', 'b']);
        expect(await store.listExpiredSending(uid(), at(25))).toEqual([]);
      });

      it('resolveInterrupted applies only while the entry is sending with the expected lease', async () => {
        const { inst, inv, entry } = await entryIn('sending');
        const uncertain = outcome('uncertain', { reason: 'interrupted', detail: 'no copy found in Sent' });
        expect(await store.resolveInterrupted(inst, inv, at(11), uncertain, false)).toBe(false);
        expect(await store.resolveInterrupted(inst, inv, entry.leaseUntil!, uncertain, true)).toBe(true);
        expect((await store.getLedger(inst, [inv]))[0]).toMatchObject({
          state: 'uncertain',
          reason: 'interrupted',
          detail: 'no copy found in Sent',
          owner: null,
          writeBackPending: true,
        });
        expect(await store.resolveInterrupted(inst, inv, entry.leaseUntil!, outcome('sent'), true)).toBe(false);
      });

      it('resolveInterrupted loses against the owner recording its outcome first', async () => {
        const { inst, inv, owner, entry } = await entryIn('sending');
        expect(await store.recordOutcome(inst, inv, owner, outcome('sent'), { writeBack: true, nextAttemptAt: null })).toBe(true);
        expect(await store.resolveInterrupted(inst, inv, entry.leaseUntil!, outcome('uncertain'), false)).toBe(false);
        expect((await store.getLedger(inst, [inv]))[0]?.state).toBe('sent');
      });
    });

    describe('ledger: reads and write-backs', () => {
      it('getLedger returns the asked entries only; listLedger filters by state and limits', async () => {
        const inst = uid();
        for (const id of ['1', '2', '3', '4']) await store.claim(claimReq(inst, id, 'w', at(0)));
        await store.recordOutcome(inst, '1', 'w', outcome('sent'), { writeBack: false, nextAttemptAt: null });
        await store.recordOutcome(inst, '2', 'w', outcome('failed', { reason: 'smtp_permanent' }), { writeBack: false, nextAttemptAt: null });
        expect((await store.getLedger(inst, ['1', '3', 'missing'])).map((e) => e.invoiceId).sort()).toEqual(['1', '3']);
        expect(await store.getLedger(inst, [])).toEqual([]);
        expect((await store.listLedger(inst, { states: ['sent', 'failed'], limit: 10 })).map((e) => e.invoiceId).sort()).toEqual(['1', '2']);
        expect(await store.listLedger(inst, { limit: 10 })).toHaveLength(4);
        expect(await store.listLedger(inst, { limit: 3 })).toHaveLength(3);
      });

      it('pending write-backs are listed until marked written back (by invoice and outcome version)', async () => {
        const inst = uid();
        for (const id of ['1', '2', '3']) await store.claim(claimReq(inst, id, 'w', at(0)));
        await store.recordOutcome(inst, '1', 'w', outcome('sent'), { writeBack: true, nextAttemptAt: null });
        await store.recordOutcome(inst, '2', 'w', outcome('failed'), { writeBack: true, nextAttemptAt: null });
        await store.recordOutcome(inst, '3', 'w', outcome('skipped'), { writeBack: false, nextAttemptAt: null });
        expect((await store.listPendingWriteBacks(inst, 10)).map((e) => e.invoiceId).sort()).toEqual(['1', '2']);
        expect(await store.listPendingWriteBacks(inst, 1)).toHaveLength(1);
        const taken = await store.claimWriteBacks(inst, { owner: 'f', now: at(1), leaseUntil: at(6), limit: 10 });
        const one = taken.find((e) => e.invoiceId === '1')!;
        await store.markWrittenBack(inst, 'f', [{ invoiceId: '1', outcomeVersion: one.outcomeVersion ?? 0 }]);
        expect((await store.listPendingWriteBacks(inst, 10)).map((e) => e.invoiceId)).toEqual(['2']);
        // A stale version (an outcome recorded after it was taken) does not clear the owed write-back.
        await store.markWrittenBack(inst, 'f', [{ invoiceId: '2', outcomeVersion: (taken.find((e) => e.invoiceId === '2')!.outcomeVersion ?? 0) + 1 }]);
        expect((await store.listPendingWriteBacks(inst, 10)).map((e) => e.invoiceId)).toEqual(['2']);
        await store.markWrittenBack(inst, 'f', [{ invoiceId: '2', outcomeVersion: taken.find((e) => e.invoiceId === '2')!.outcomeVersion ?? 0 }]);
        expect(await store.listPendingWriteBacks(inst, 10)).toEqual([]);
        expect((await store.getLedger(inst, ['1']))[0]?.writeBackPending).toBe(false);
      });

      it('every recorded outcome bumps the outcome version of the entry (not its document version)', async () => {
        const { inst, inv, owner, entry } = await entryIn('claimed');
        expect(await store.recordOutcome(inst, inv, owner, outcome('retry'), { writeBack: true, nextAttemptAt: null })).toBe(true);
        const v1 = (await store.getLedger(inst, [inv]))[0]!.outcomeVersion ?? 0;
        expect(v1).toBeGreaterThan(entry.outcomeVersion ?? 0);
        await store.claim(claimReq(inst, inv, owner, at(0)));
        await store.recordOutcome(inst, inv, owner, outcome('sent'), { writeBack: true, nextAttemptAt: null });
        const after = (await store.getLedger(inst, [inv]))[0]!;
        expect(after.outcomeVersion ?? 0).toBeGreaterThan(v1);
        expect(after.version).toBe(1);
      });

      it('an owed write-back is taken by one flusher at a time; given back or expired, it is taken again', async () => {
        const inst = uid();
        for (const id of ['a', 'b', 'c', 'd', 'e', 'f']) {
          await store.claim(claimReq(inst, id, 'w', at(0)));
          await store.recordOutcome(inst, id, 'w', outcome('sent'), { writeBack: true, nextAttemptAt: null });
        }
        const [x, y, z] = await Promise.all(
          ['p1', 'p2', 'p3'].map((owner) => store.claimWriteBacks(inst, { owner, now: at(1), leaseUntil: at(6), limit: 10 })),
        );
        const all = [...x!, ...y!, ...z!].map((e) => e.invoiceId).sort();
        expect(all).toEqual(['a', 'b', 'c', 'd', 'e', 'f']);
        expect(await store.claimWriteBacks(inst, { owner: 'p4', now: at(2), leaseUntil: at(7), limit: 10 })).toEqual([]);
        // Given back: taken again at once. Expired: taken by another.
        await store.releaseWriteBacks(
          inst,
          'p1',
          x!.map((e) => e.invoiceId),
        );
        expect((await store.claimWriteBacks(inst, { owner: 'p4', now: at(2), leaseUntil: at(7), limit: 10 })).map((e) => e.invoiceId).sort()).toEqual(
          x!.map((e) => e.invoiceId).sort(),
        );
        expect((await store.claimWriteBacks(inst, { owner: 'p5', now: at(8), leaseUntil: at(13), limit: 10 })).length).toBe(6);
        // Only the holder clears it.
        await store.markWrittenBack(inst, 'p1', [{ invoiceId: 'a', outcomeVersion: 1 }]);
        expect(await store.listPendingWriteBacks(inst, 10)).toHaveLength(6);
      });

      it('a take is given back by its lease stamp alone: only what that owner leased with that stamp', async () => {
        const inst = uid();
        for (const id of ['a', 'b', 'c', 'd']) {
          await store.claim(claimReq(inst, id, 'w', at(0)));
          await store.recordOutcome(inst, id, 'w', outcome('sent'), { writeBack: true, nextAttemptAt: null });
        }
        const first = await store.claimWriteBacks(inst, { owner: 'p1', now: at(1), leaseUntil: at(6), limit: 2 });
        const second = await store.claimWriteBacks(inst, { owner: 'p1', now: at(1), leaseUntil: at(7), limit: 1 });
        const other = await store.claimWriteBacks(inst, { owner: 'p2', now: at(1), leaseUntil: at(6), limit: 1 });
        expect([first.length, second.length, other.length]).toEqual([2, 1, 1]);
        await store.releaseWriteBacks(inst, 'p1', { leaseUntil: at(6) });
        const again = await store.claimWriteBacks(inst, { owner: 'p3', now: at(2), leaseUntil: at(8), limit: 10 });
        expect(again.map((e) => e.invoiceId).sort()).toEqual(first.map((e) => e.invoiceId).sort());
      });

      it('no write-back is taken while the entry is claimed or sending', async () => {
        const { inst, inv, owner } = await entryIn('claimed');
        await store.recordOutcome(inst, inv, owner, outcome('retry'), { writeBack: true, nextAttemptAt: null });
        await store.claim(claimReq(inst, inv, owner, at(0)));
        expect(await store.claimWriteBacks(inst, { owner: 'f', now: at(1), leaseUntil: at(6), limit: 10 })).toEqual([]);
      });

      it('listLedger pages by invoice id with a cursor: every entry once, also within states and by owner', async () => {
        const inst = uid();
        const ids = Array.from({ length: 23 }, (_, i) => `inv-${String(i).padStart(3, '0')}`);
        for (const id of ids) await store.claim(claimReq(inst, id, id < 'inv-010' ? 'w1' : 'w2', at(0)));
        for (const id of ids.filter((_, i) => i % 3 === 0))
          await store.recordOutcome(inst, id, id < 'inv-010' ? 'w1' : 'w2', outcome('sent'), { writeBack: false, nextAttemptAt: null });
        const pageAll = async (filter: { states?: LedgerState[]; owner?: string }) => {
          const seen: string[] = [];
          let after: string | undefined;
          for (;;) {
            const page = await store.listLedger(inst, { ...filter, limit: 5, ...(after !== undefined ? { after } : {}) });
            seen.push(...page.map((e) => e.invoiceId));
            if (page.length < 5) return seen;
            after = page[page.length - 1]!.invoiceId;
          }
        };
        expect(await pageAll({})).toEqual(ids);
        expect(await pageAll({ states: ['sent'] })).toEqual(ids.filter((_, i) => i % 3 === 0));
        expect(await pageAll({ states: ['claimed'], owner: 'w1' })).toEqual(ids.filter((id, i) => i % 3 !== 0 && id < 'inv-010'));
      });

      it('recipients stored without `accepted` read back as refused, with a null reply when none was stored', async () => {
        const { inst, inv, owner } = await entryIn('claimed');
        const legacy = [{ address: 'zly@example.pl', reply: '550 no such user' }, { address: 'x@example.pl' }] as unknown as Outcome['recipients'];
        await store.recordOutcome(inst, inv, owner, outcome('failed', { reason: 'smtp_permanent', recipients: legacy }), {
          writeBack: false,
          nextAttemptAt: null,
        });
        expect((await store.getLedger(inst, [inv]))[0]!.recipients).toEqual([
          { address: 'zly@example.pl', accepted: false, reply: '550 no such user' },
          { address: 'x@example.pl', accepted: false, reply: null },
        ]);
      });
    });

    describe('ledger: dead owners', () => {
      it("a dead owner's claimed entries are given back and its sending entries expire now; a live owner's stay", async () => {
        const inst = uid();
        await store.claim(claimReq(inst, 'c', 'dead', at(0)));
        await store.claim(claimReq(inst, 's', 'dead', at(0)));
        await store.markSending(inst, 's', 'dead', 'h', at(10));
        await store.claim(claimReq(inst, 'l', 'live', at(0)));
        expect(await store.releaseDeadOwners(inst, ['dead'], at(1))).toEqual({ released: 1, expired: 1 });
        const byId = new Map((await store.getLedger(inst, ['c', 's', 'l'])).map((e) => [e.invoiceId, e]));
        expect(byId.get('c')).toMatchObject({ state: 'skipped', owner: null });
        expect(byId.get('l')).toMatchObject({ state: 'claimed', owner: 'live' });
        expect((await store.listExpiredSending(inst, at(1))).map((e) => e.invoiceId)).toEqual(['s']);
        // The dead owner can no longer send what was given back.
        expect(await store.markSending(inst, 'c', 'dead', 'h', at(10))).toBe(false);
        expect(await store.releaseDeadOwners(inst, [], at(1))).toEqual({ released: 0, expired: 0 });
      });

      it("write-backs a dead owner had taken are given back at once; a live owner's stay taken", async () => {
        const inst = uid();
        for (const id of ['d1', 'd2', 'l1']) {
          await store.claim(claimReq(inst, id, 'w', at(0)));
          await store.recordOutcome(inst, id, 'w', outcome('sent'), { writeBack: true, nextAttemptAt: null });
        }
        const dead = await store.claimWriteBacks(inst, { owner: 'dead', now: at(1), leaseUntil: at(6), limit: 2 });
        // At most `limit` are taken.
        expect(dead).toHaveLength(2);
        expect(await store.claimWriteBacks(inst, { owner: 'live', now: at(1), leaseUntil: at(6), limit: 10 })).toHaveLength(1);
        await store.releaseDeadOwners(inst, ['dead'], at(2));
        const retaken = await store.claimWriteBacks(inst, { owner: 'next', now: at(2), leaseUntil: at(7), limit: 10 });
        expect(retaken.map((e) => e.invoiceId).sort()).toEqual(dead.map((e) => e.invoiceId).sort());
      });
    });

    // ---- Parked invoices (issue 12 item 5) ----
    describe('parked invoices', () => {
      it('parks are kept per installation with their reason, ledger entry and check time, and replaced by invoice', async () => {
        const inst = uid();
        const other = uid();
        await store.park(
          inst,
          [
            { invoiceId: '2', reason: 'no_consent', ledger: null },
            { invoiceId: '1', reason: 'no_recipient', ledger: null },
          ],
          at(0),
        );
        await store.park(other, [{ invoiceId: '1', reason: 'no_consent', ledger: null }], at(0));
        await store.park(inst, [{ invoiceId: '2', reason: 'no_recipient', ledger: null }], at(5));
        expect(await store.listParked(inst)).toEqual([
          { invoiceId: '1', reason: 'no_recipient', ledger: null, checkedAt: at(0) },
          { invoiceId: '2', reason: 'no_recipient', ledger: null, checkedAt: at(5) },
        ]);
        expect((await store.listParked(other)).map((p) => p.invoiceId)).toEqual(['1']);
        await store.park(inst, [], at(9)); // nothing to park: no change
        expect(await store.listParked(inst)).toHaveLength(2);
      });

      it('a park ends when its ledger entry moves on: an entry appears, a re-send is allowed, a new outcome is recorded', async () => {
        const inst = uid();
        // parked with no entry; then the invoice gets one (claimed): no longer parked
        await store.park(inst, [{ invoiceId: 'n', reason: 'no_recipient', ledger: null }], at(0));
        await store.claim(claimReq(inst, 'n', 'a', at(1)));
        // parked as failed; a person allows a re-send: no longer parked
        const failed = await entryIn('failed', { attempts: 1 });
        const asFailed = { state: failed.entry.state, outcomeVersion: failed.entry.outcomeVersion ?? 0, version: failed.entry.version ?? 1 };
        await store.park(failed.inst, [{ invoiceId: failed.inv, reason: 'already_recorded', ledger: asFailed }], at(0));
        expect((await store.listParked(failed.inst)).map((p) => p.invoiceId)).toEqual([failed.inv]);
        expect(await store.allowResend(failed.inst, failed.inv)).toBe(true);
        expect(await store.listParked(failed.inst)).toEqual([]);
        // parked as uncertain and still uncertain: parked; parked with an outcome version that is not the entry's: not
        const unsure = await entryIn('uncertain');
        const asUnsure = { state: unsure.entry.state, outcomeVersion: unsure.entry.outcomeVersion ?? 0, version: unsure.entry.version ?? 1 };
        await store.park(
          unsure.inst,
          [
            { invoiceId: unsure.inv, reason: 'already_recorded', ledger: asUnsure },
            { invoiceId: 'old', reason: 'already_recorded', ledger: asUnsure },
          ],
          at(0),
        );
        const retry = await entryIn('retry', { attempts: 1 });
        const asRetry = { state: retry.entry.state, outcomeVersion: retry.entry.outcomeVersion ?? 0, version: retry.entry.version ?? 1 };
        await store.park(
          retry.inst,
          [{ invoiceId: retry.inv, reason: 'no_recipient', ledger: { ...asRetry, outcomeVersion: asRetry.outcomeVersion - 1 } }],
          at(0),
        );
        expect(await store.listParked(inst)).toEqual([]);
        expect((await store.listParked(unsure.inst)).map((p) => p.invoiceId)).toEqual([unsure.inv]);
        expect(await store.listParked(retry.inst)).toEqual([]);
        // a forgotten park stays forgotten, also once the entry is back in the parked state
        await store.park(retry.inst, [{ invoiceId: retry.inv, reason: 'no_recipient', ledger: asRetry }], at(0));
        expect((await store.listParked(retry.inst)).map((p) => p.invoiceId)).toEqual([retry.inv]);
      });

      it("checkedParked forgets the changed invoices and moves the others' check time forward, never back", async () => {
        const inst = uid();
        await store.park(
          inst,
          ['a', 'b', 'c'].map((invoiceId) => ({ invoiceId, reason: 'no_recipient', ledger: null })),
          at(0),
        );
        await store.park(inst, [{ invoiceId: 'late', reason: 'no_consent', ledger: null }], at(20));
        await store.checkedParked(inst, ['b', 'unknown'], at(10));
        expect(await store.listParked(inst)).toEqual([
          { invoiceId: 'a', reason: 'no_recipient', ledger: null, checkedAt: at(10) },
          { invoiceId: 'c', reason: 'no_recipient', ledger: null, checkedAt: at(10) },
          { invoiceId: 'late', reason: 'no_consent', ledger: null, checkedAt: at(20) },
        ]);
        await store.checkedParked(inst, [], at(30));
        expect((await store.listParked(inst)).map((p) => p.checkedAt)).toEqual([at(30), at(30), at(30)]);
      });
    });
  });
}
