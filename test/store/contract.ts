/**
 * The store port's conformance suite, run against every adapter with a real backend
 * (postgres.test.ts always, mongodb.test.ts when MONGODB_URL is set). The ledger part is the
 * exactly-once guarantee: claim rules, ownership, leases, concurrency.
 */
import crypto from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { emptyCounts } from '../../src/domain.ts';
import type { LedgerState, Outcome } from '../../src/domain.ts';
import { isConnectorError } from '../../src/errors.ts';
import { defaultSettings } from '../../src/settings/schema.ts';
import { loggedKey } from '../../src/store/port.ts';
import type { ClaimItem, ClaimRequest, ManagedEmailAccount, ManagedTemplate, NewInstallation, NewLogEntry, NewWebhookDelivery, Store, WebhookAttempt } from '../../src/store/port.ts';

/** Returns a store on a fresh, empty database (not yet migrated). */
export type StoreFactory = () => Promise<Store>;

const T0 = Date.parse('2026-11-27T10:00:00.000Z');
/** ISO instant `minutes` after T0. */
const at = (minutes: number): string => new Date(T0 + minutes * 60_000).toISOString();

const uid = (): string => crypto.randomUUID();

function newInstallation(over: Partial<NewInstallation> = {}): NewInstallation {
  return {
    hostKind: 'odoo',
    hostUrl: 'http://127.0.0.1:8069',
    hostDatabase: 'demo',
    companyId: '1',
    integrationLogin: 'connector',
    integrationSecret: { keyId: 'k1', data: 'c2VjcmV0' },
    operatorSecret: null,
    settings: defaultSettings(),
    callbackUrl: null,
    webhookSecret: null,
    apiTokenHash: crypto.randomBytes(32).toString('hex'),
    ...over,
  };
}

function claimReq(installationId: string, invoiceId: string, owner: string, now: string, over: Partial<ClaimRequest> = {}): ClaimRequest {
  return {
    installationId,
    invoiceId,
    invoiceNumber: `FV/2026/11/${invoiceId}`,
    owner,
    leaseUntil: new Date(Date.parse(now) + 10 * 60_000).toISOString(),
    messageId: `<${installationId}.${invoiceId}@invoice-courier>`,
    now,
    maxAttempts: 3,
    ...over,
  };
}

const outcome = (state: Outcome['state'], over: Partial<Outcome> = {}): Outcome => ({
  state,
  reason: null,
  detail: null,
  recipients: state === 'sent' ? [{ address: 'biuro@example.pl', accepted: true, reply: null }] : [],
  ...over,
});

function log(installationId: string, over: Partial<NewLogEntry> = {}): NewLogEntry {
  return {
    installationId,
    runId: null,
    at: at(0),
    level: 'info',
    event: 'invoice.sent',
    invoiceId: null,
    invoiceNumber: null,
    message: 'm',
    data: null,
    ...over,
  };
}

export function storeContractSuite(name: string, factory: StoreFactory): void {
  describe(`store contract: ${name}`, () => {
    let store: Store;

    beforeAll(async () => {
      store = await factory();
      await store.migrate();
    });
    afterAll(async () => {
      await store?.close();
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

    describe('schema', () => {
      it('migrate can be called again at every start', async () => {
        await store.migrate();
        await store.migrate();
        expect(await store.getInstallation(uid())).toBeNull();
      });
    });

    describe('installations', () => {
      it('a created installation is active, version 1, and reads back identically', async () => {
        const input = newInstallation({ callbackUrl: 'https://erp.example.pl/hook', webhookSecret: { keyId: 'k1', data: 'd2g=' } });
        const created = await store.createInstallation(input);
        expect(created.id).toMatch(/^[0-9a-f-]{36}$/);
        expect(created.status).toBe('active');
        expect(created.version).toBe(1);
        expect(Number.isNaN(Date.parse(created.createdAt))).toBe(false);
        expect(created.settings).toEqual(input.settings);
        expect(created.integrationSecret).toEqual(input.integrationSecret);
        expect(created.webhookSecret).toEqual({ keyId: 'k1', data: 'd2g=' });
        expect(await store.getInstallation(created.id)).toEqual(created);
      });

      it('an installation may be created with a given id; a second one with the same id is a conflict', async () => {
        const id = uid();
        const created = await store.createInstallation(newInstallation({ id }));
        expect(created.id).toBe(id);
        const err = await store.createInstallation(newInstallation({ id })).catch((e: unknown) => e);
        expect(isConnectorError(err, 'conflict')).toBe(true);
      });

      it("an installation stored with the former host kind 'sandbox' (the demo's data from before) reads as 'odoo'", async () => {
        // 'sandbox' is no longer a kind; older versions stored it, as createInstallation still writes what it is given.
        const created = await store.createInstallation(newInstallation({ hostKind: 'sandbox' as NewInstallation['hostKind'] }));
        expect(created.hostKind).toBe('odoo');
        expect((await store.getInstallation(created.id))?.hostKind).toBe('odoo');
        expect((await store.listInstallations({ status: 'active' })).find((i) => i.id === created.id)?.hostKind).toBe('odoo');
      });

      it('an unknown id (also a non-UUID one) reads as null', async () => {
        expect(await store.getInstallation(uid())).toBeNull();
        expect(await store.getInstallation('not-a-uuid')).toBeNull();
      });

      it('an installation is found by the hash of its API token', async () => {
        const created = await store.createInstallation(newInstallation());
        expect((await store.findInstallationByTokenHash(created.apiTokenHash!))?.id).toBe(created.id);
        expect(await store.findInstallationByTokenHash('0'.repeat(64))).toBeNull();
      });

      it('listing filters by status', async () => {
        const a = await store.createInstallation(newInstallation());
        const b = await store.createInstallation(newInstallation());
        await store.updateInstallation(b.id, { status: 'uninstalled' });
        const active = (await store.listInstallations({ status: 'active' })).map((i) => i.id);
        const gone = (await store.listInstallations({ status: 'uninstalled' })).map((i) => i.id);
        const all = (await store.listInstallations()).map((i) => i.id);
        expect(active).toContain(a.id);
        expect(active).not.toContain(b.id);
        expect(gone).toContain(b.id);
        expect(gone).not.toContain(a.id);
        expect(all).toEqual(expect.arrayContaining([a.id, b.id]));
      });

      it('an update replaces the given fields, keeps the others and bumps the version', async () => {
        const created = await store.createInstallation(newInstallation());
        const settings = { ...defaultSettings(), enabled: true, fromDate: '2026-11-01' };
        const updated = await store.updateInstallation(
          created.id,
          { settings, operatorSecret: { keyId: 'k2', data: 'eHl6' }, callbackUrl: 'https://x.example/cb' },
          1,
        );
        expect(updated.version).toBe(2);
        expect(updated.settings).toEqual(settings);
        expect(updated.operatorSecret).toEqual({ keyId: 'k2', data: 'eHl6' });
        expect(updated.callbackUrl).toBe('https://x.example/cb');
        expect(updated.hostUrl).toBe(created.hostUrl);
        expect(updated.integrationSecret).toEqual(created.integrationSecret);
        expect(Date.parse(updated.updatedAt)).toBeGreaterThanOrEqual(Date.parse(created.updatedAt));
        expect(await store.getInstallation(created.id)).toEqual(updated);

        const cleared = await store.updateInstallation(created.id, { operatorSecret: null, callbackUrl: null });
        expect(cleared.operatorSecret).toBeNull();
        expect(cleared.callbackUrl).toBeNull();
        expect(cleared.version).toBe(3);
      });

      it('an update with a stale expected version is a conflict and changes nothing', async () => {
        const created = await store.createInstallation(newInstallation());
        await store.updateInstallation(created.id, { integrationLogin: 'first' }, 1);
        const err = await store.updateInstallation(created.id, { integrationLogin: 'second' }, 1).catch((e: unknown) => e);
        expect(isConnectorError(err, 'conflict')).toBe(true);
        const now = await store.getInstallation(created.id);
        expect(now?.integrationLogin).toBe('first');
        expect(now?.version).toBe(2);
      });

      it('two concurrent updates with the same expected version: exactly one succeeds', async () => {
        const created = await store.createInstallation(newInstallation());
        const results = await Promise.allSettled(
          Array.from({ length: 8 }, (_, i) => store.updateInstallation(created.id, { integrationLogin: `w${i}` }, 1)),
        );
        expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(1);
        for (const r of results) if (r.status === 'rejected') expect(isConnectorError(r.reason, 'conflict')).toBe(true);
      });

      it('updating an unknown installation is not_found', async () => {
        const err = await store.updateInstallation(uid(), { status: 'uninstalled' }).catch((e: unknown) => e);
        expect(isConnectorError(err, 'not_found')).toBe(true);
      });

      it('purging removes the installation with its ledger, logs and runs, and nothing of others', async () => {
        const a = await store.createInstallation(newInstallation());
        const b = await store.createInstallation(newInstallation());
        for (const inst of [a.id, b.id]) {
          await store.claim(claimReq(inst, '1', 'w', at(0)));
          await store.appendLogs([log(inst, { invoiceId: '1', event: 'invoice.skipped' })]);
          await store.startRun({ installationId: inst, trigger: 'manual', startedAt: at(0) });
        }
        await store.purgeInstallation(a.id);
        expect(await store.getInstallation(a.id)).toBeNull();
        expect(await store.getLedger(a.id, ['1'])).toEqual([]);
        expect(await store.listLogs({ installationId: a.id, limit: 10 })).toEqual([]);
        expect(await store.listRuns(a.id, 10)).toEqual([]);
        expect(await store.getInstallation(b.id)).not.toBeNull();
        expect(await store.getLedger(b.id, ['1'])).toHaveLength(1);
        expect(await store.listLogs({ installationId: b.id, limit: 10 })).toHaveLength(1);
        expect(await store.listRuns(b.id, 10)).toHaveLength(1);
      });
    });

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

      it('claimMany claims a batch under claim\'s rules: new and skipped invoices won, live, final and sending ones not', async () => {
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

        const won = await store.claimMany({ ...common, now: at(5), leaseUntil: at(15) }, [item('new-1'), item('live'), item('sent'), item('sending'), { ...item('skipped'), invoiceNumber: null }, { ...item('new-2'), invoiceNumber: null, draft: true }, item('new-1')]);
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
        const won = await store.claimMany({ installationId: inst, owner: 'a', leaseUntil: at(15), now: at(5), maxAttempts: 3 }, ['live', 'later', 'fresh'].map((id) => ({ invoiceId: id, invoiceNumber: null, messageId: `<${id}@x>` })));
        expect(won.map((e) => e.invoiceId)).toEqual(['fresh']);
        const exhausted = await store.claimMany({ installationId: inst, owner: 'a', leaseUntil: at(45), now: at(35), maxAttempts: 1 }, [{ invoiceId: 'later', invoiceNumber: null, messageId: '<later@x>' }]);
        expect(exhausted).toEqual([]);
        const due = await store.claimMany({ installationId: inst, owner: 'a', leaseUntil: at(45), now: at(35), maxAttempts: 3 }, [{ invoiceId: 'later', invoiceNumber: null, messageId: '<later@x>' }]);
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
            return store.claimMany({ installationId: inst, owner: `owner-${o}`, leaseUntil: at(10), now: at(0), maxAttempts: 3 }, order.map((id) => ({ invoiceId: id, invoiceNumber: null, messageId: `<${id}@x>` })));
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

      it('markSending starts not handed over; markHandedOver flags the owner\'s sending entry only', async () => {
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
        await store.markWrittenBack(inst, 'flusher', taken.map((e) => ({ invoiceId: e.invoiceId, outcomeVersion: e.outcomeVersion ?? 0 })));
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
        expect(won[0]).toMatchObject({ state: 'claimed', version: 2, draft: false, attempts: 0, contentHash: null, recipients: [], messageId: '<v2@t>', invoiceNumber: 'FV/2026/11/0017', writeBackPending: false });
        const owner = won[0]!.owner!;
        expect(await store.markSending(inst, inv, owner, 'posted-hash', at(30))).toBe(true);
        expect(await store.recordOutcome(inst, inv, owner, outcome('sent'), { writeBack: true, nextAttemptAt: null })).toBe(true);
        await writtenBack(inst, at(31));
        expect(await store.getLedger(inst, [inv])).toEqual([expect.objectContaining({ state: 'sent', version: 2, draft: false, attempts: 1, contentHash: 'posted-hash' })]);
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

      it('an outcome can be recorded straight from claimed (nothing was sent, e.g. no recipient)', async () => {
        const inst = uid();
        await store.claim(claimReq(inst, '1', 'a', at(0)));
        const skipped = outcome('skipped', { reason: 'no_recipient', detail: 'customer has no e-mail' });
        expect(await store.recordOutcome(inst, '1', 'a', skipped, { writeBack: false, nextAttemptAt: null })).toBe(true);
        expect((await store.getLedger(inst, ['1']))[0]).toMatchObject({ state: 'skipped', reason: 'no_recipient', detail: 'customer has no e-mail', attempts: 0 });
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
        expect(e).toMatchObject({ state: 'sent', recipients: [{ address: 'biuro@example.pl', accepted: true, bounce: { status: '5.1.1', diagnostic: 'smtp; 550 5.1.1 BIURO@example.pl unknown', at: at(5) } }] });
        expect(await store.recordBounces(inst, inv, entry.messageId, [bounce('biuro@example.pl', '5.2.2')])).toEqual([]);
        expect((await store.getLedger(inst, [inv]))[0]?.recipients[0]?.bounce?.status).toBe('5.1.1');
        // Concurrent readers of the same report: recorded once in all.
        const other = await entryIn('sent');
        const results = await Promise.all(Array.from({ length: 5 }, () => store.recordBounces(other.inst, other.inv, other.entry.messageId, [bounce('biuro@example.pl')])));
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
        const [x, y, z] = await Promise.all(['p1', 'p2', 'p3'].map((owner) => store.claimWriteBacks(inst, { owner, now: at(1), leaseUntil: at(6), limit: 10 })));
        const all = [...x!, ...y!, ...z!].map((e) => e.invoiceId).sort();
        expect(all).toEqual(['a', 'b', 'c', 'd', 'e', 'f']);
        expect(await store.claimWriteBacks(inst, { owner: 'p4', now: at(2), leaseUntil: at(7), limit: 10 })).toEqual([]);
        // Given back: taken again at once. Expired: taken by another.
        await store.releaseWriteBacks(inst, 'p1', x!.map((e) => e.invoiceId));
        expect((await store.claimWriteBacks(inst, { owner: 'p4', now: at(2), leaseUntil: at(7), limit: 10 })).map((e) => e.invoiceId).sort()).toEqual(x!.map((e) => e.invoiceId).sort());
        expect((await store.claimWriteBacks(inst, { owner: 'p5', now: at(8), leaseUntil: at(13), limit: 10 })).length).toBe(6);
        // Only the holder clears it.
        await store.markWrittenBack(inst, 'p1', [{ invoiceId: 'a', outcomeVersion: 1 }]);
        expect(await store.listPendingWriteBacks(inst, 10)).toHaveLength(6);
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
        for (const id of ids.filter((_, i) => i % 3 === 0)) await store.recordOutcome(inst, id, id < 'inv-010' ? 'w1' : 'w2', outcome('sent'), { writeBack: false, nextAttemptAt: null });
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
        await store.recordOutcome(inst, inv, owner, outcome('failed', { reason: 'smtp_permanent', recipients: legacy }), { writeBack: false, nextAttemptAt: null });
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
    });

    describe('incoming webhook event ids', () => {
      it('an event id is accepted once per installation until it is forgotten after keepUntil', async () => {
        const inst = uid();
        expect(await store.rememberIncomingEvent(inst, 'evt_1', at(0), at(5))).toBe(true);
        expect(await store.rememberIncomingEvent(inst, 'evt_1', at(1), at(6))).toBe(false);
        expect(await store.rememberIncomingEvent(uid(), 'evt_1', at(1), at(6))).toBe(true);
        expect(await store.rememberIncomingEvent(inst, 'evt_1', at(10), at(15))).toBe(true);
        const [a, b] = await Promise.all([store.rememberIncomingEvent(inst, 'evt_2', at(0), at(5)), store.rememberIncomingEvent(inst, 'evt_2', at(0), at(5))]);
        expect([a, b].sort()).toEqual([false, true]);
      });
    });

    describe('logs', () => {
      const inst = uid();
      const run = uid();
      beforeAll(async () => {
        await store.appendLogs([
          log(inst, { at: at(0), event: 'run.started', runId: run, message: 'start' }),
          log(inst, { at: at(1), event: 'invoice.sent', runId: run, invoiceId: '1', invoiceNumber: 'FV/2026/11/0001', message: 'sent 1' }),
          log(inst, {
            at: at(2),
            level: 'warning',
            event: 'invoice.skipped',
            runId: run,
            invoiceId: '2',
            invoiceNumber: 'FV/2026/11/0002',
            message: 'no e-mail',
            data: { reason: 'no_recipient', nested: { ok: true, list: [1, 'a'] } },
          }),
          log(inst, { at: at(3), level: 'error', event: 'invoice.failed', invoiceId: '3', invoiceNumber: 'KOR/2026/11/0001', message: 'failed 3' }),
          log(inst, { at: at(4), event: 'run.completed', runId: run, message: 'done' }),
        ]);
        await store.appendLogs([log(uid(), { invoiceNumber: 'FV/2026/11/0001' })]);
        await store.appendLogs([]);
      });

      it('entries come back newest first, with their data', async () => {
        const all = await store.listLogs({ installationId: inst, limit: 10 });
        expect(all.map((e) => e.message)).toEqual(['done', 'failed 3', 'no e-mail', 'sent 1', 'start']);
        expect(all[2]).toMatchObject({
          installationId: inst,
          runId: run,
          at: at(2),
          level: 'warning',
          event: 'invoice.skipped',
          invoiceId: '2',
          invoiceNumber: 'FV/2026/11/0002',
          data: { reason: 'no_recipient', nested: { ok: true, list: [1, 'a'] } },
        });
        expect(all[0]?.data).toBeNull();
        expect(typeof all[0]?.id).toBe('string');
      });

      it('paging with `before` continues strictly older, without gaps or repeats', async () => {
        const first = await store.listLogs({ installationId: inst, limit: 2 });
        const second = await store.listLogs({ installationId: inst, limit: 2, before: first[1]!.id });
        const third = await store.listLogs({ installationId: inst, limit: 2, before: second[1]!.id });
        expect([...first, ...second, ...third].map((e) => e.message)).toEqual(['done', 'failed 3', 'no e-mail', 'sent 1', 'start']);
      });

      it('filters: date range (inclusive), level, event, run and invoice number substring', async () => {
        const q = async (extra: Partial<Parameters<Store['listLogs']>[0]>) =>
          (await store.listLogs({ installationId: inst, limit: 10, ...extra })).map((e) => e.message);
        expect(await q({ from: at(1), to: at(3) })).toEqual(['failed 3', 'no e-mail', 'sent 1']);
        expect(await q({ from: at(3) })).toEqual(['done', 'failed 3']);
        expect(await q({ level: 'error' })).toEqual(['failed 3']);
        expect(await q({ event: 'invoice.sent' })).toEqual(['sent 1']);
        expect(await q({ runId: run })).toEqual(['done', 'no e-mail', 'sent 1', 'start']);
        expect(await q({ invoiceNumber: '2026/11/000' })).toEqual(['failed 3', 'no e-mail', 'sent 1']);
        expect(await q({ invoiceNumber: 'kor/' })).toEqual(['failed 3']);
        expect(await q({ invoiceNumber: '%' })).toEqual([]);
        expect(await q({ invoiceNumber: '.*' })).toEqual([]);
        expect(await q({ level: 'info', runId: run, from: at(1) })).toEqual(['done', 'sent 1']);
      });

      it('hasLog tells whether an event was logged for an invoice', async () => {
        expect(await store.hasLog(inst, '2', 'invoice.skipped')).toBe(true);
        expect(await store.hasLog(inst, '2', 'invoice.sent')).toBe(false);
        expect(await store.hasLog(uid(), '2', 'invoice.skipped')).toBe(false);
      });

      it('loggedEvents answers hasLog for many invoices and events in one call', async () => {
        const got = await store.loggedEvents(inst, ['2', '3', '99', '2'], ['invoice.skipped', 'invoice.sent', 'run.started']);
        const expected = new Set<string>();
        for (const id of ['2', '3', '99']) for (const ev of ['invoice.skipped', 'invoice.sent', 'run.started']) if (await store.hasLog(inst, id, ev)) expected.add(loggedKey(id, ev));
        expect(got).toEqual(expected);
        expect(got.has(loggedKey('2', 'invoice.skipped'))).toBe(true);
        expect(got.has(loggedKey('99', 'invoice.skipped'))).toBe(false);
        expect(await store.loggedEvents(uid(), ['2'], ['invoice.skipped'])).toEqual(new Set());
        expect(await store.loggedEvents(inst, [], ['invoice.skipped'])).toEqual(new Set());
      });

      it('log ids keep increasing across appends (paging stays stable while runs write)', async () => {
        const own = uid();
        for (let i = 0; i < 5; i++) await store.appendLogs([log(own, { message: `a${i}` }), log(own, { message: `b${i}` })]);
        const all = await store.listLogs({ installationId: own, limit: 100 });
        expect(all.map((e) => e.message)).toEqual(['b4', 'a4', 'b3', 'a3', 'b2', 'a2', 'b1', 'a1', 'b0', 'a0']);
      });
    });

    describe('webhook deliveries', () => {
      const delivery = (installationId: string, over: Partial<NewWebhookDelivery> = {}): NewWebhookDelivery => ({
        id: uid(),
        installationId,
        eventType: 'run.completed',
        url: 'https://erp.example.pl/hook',
        payload: '{"id":"x","type":"run.completed"}',
        nextAttemptAt: at(0),
        expiresAt: at(24 * 60),
        createdAt: at(0),
        ...over,
      });
      const attempt = (statusCode: number | null, over: Partial<WebhookAttempt> = {}): WebhookAttempt => ({
        at: at(1),
        durationMs: 12,
        statusCode,
        error: statusCode === 200 ? null : `HTTP ${statusCode}`,
        manual: false,
        ...over,
      });

      it('a created delivery is pending with no attempts and reads back; other installations do not see it', async () => {
        const inst = uid();
        const input = delivery(inst);
        const created = await store.createWebhookDelivery(input);
        expect(created).toEqual({ ...input, status: 'pending', attempts: [], owner: null, leaseUntil: null, updatedAt: at(0) });
        expect(await store.getWebhookDelivery(inst, input.id)).toEqual(created);
        expect(await store.getWebhookDelivery(uid(), input.id)).toBeNull();
        expect(await store.listWebhookDeliveries(uid(), { limit: 10 })).toEqual([]);
      });

      it('deliveries are listed newest first, limited, filtered by status', async () => {
        const inst = uid();
        for (const m of [0, 1, 2]) await store.createWebhookDelivery(delivery(inst, { createdAt: at(m), eventType: `e${m}`, nextAttemptAt: null }));
        expect((await store.listWebhookDeliveries(inst, { limit: 10 })).map((d) => d.eventType)).toEqual(['e2', 'e1', 'e0']);
        expect(await store.listWebhookDeliveries(inst, { limit: 2 })).toHaveLength(2);
        expect(await store.listWebhookDeliveries(inst, { status: 'delivered', limit: 10 })).toEqual([]);
        expect(await store.listWebhookDeliveries(inst, { status: 'pending', limit: 10 })).toHaveLength(3);
      });

      it('only due pending deliveries with a free lease are claimed, and not again until the lease expires', async () => {
        const inst = uid();
        // Far in the future of every other test's deliveries, so that only these are due at `now`.
        const base = 100_000;
        const due = await store.createWebhookDelivery(delivery(inst, { nextAttemptAt: at(base) }));
        await store.createWebhookDelivery(delivery(inst, { nextAttemptAt: at(base + 5) }));
        const first = await store.claimDueWebhookDeliveries({ now: at(base + 1), owner: 'd1', leaseUntil: at(base + 2), limit: 10 });
        expect(first.map((d) => d.id)).toContain(due.id);
        expect(first.find((d) => d.id === due.id)).toMatchObject({ owner: 'd1', leaseUntil: at(base + 2) });
        const again = await store.claimDueWebhookDeliveries({ now: at(base + 1), owner: 'd2', leaseUntil: at(base + 3), limit: 10 });
        expect(again.map((d) => d.id)).not.toContain(due.id);
        const afterLease = await store.claimDueWebhookDeliveries({ now: at(base + 2.5), owner: 'd2', leaseUntil: at(base + 4), limit: 10 });
        expect(afterLease.find((d) => d.id === due.id)?.owner).toBe('d2');
      });

      it('concurrent dispatchers never claim the same delivery', async () => {
        const inst = uid();
        const base = 200_000;
        const ids = new Set<string>();
        for (let i = 0; i < 12; i++) ids.add((await store.createWebhookDelivery(delivery(inst, { nextAttemptAt: at(base) }))).id);
        const results = await Promise.all(
          Array.from({ length: 6 }, (_, i) => store.claimDueWebhookDeliveries({ now: at(base + 1), owner: `d${i}`, leaseUntil: at(base + 2), limit: 4 })),
        );
        const taken = results.flat().filter((d) => ids.has(d.id)).map((d) => d.id);
        expect(new Set(taken).size).toBe(taken.length);
        expect(taken.length).toBe(12);
      });

      it('an attempt is appended by the owner only, sets the status and releases the lease', async () => {
        const inst = uid();
        const base = 300_000;
        const d = await store.createWebhookDelivery(delivery(inst, { nextAttemptAt: at(base) }));
        await store.claimWebhookDelivery(inst, d.id, { now: at(base), owner: 'd1', leaseUntil: at(base + 1) });
        expect(await store.recordWebhookAttempt(d.id, 'intruder', attempt(500), { status: 'pending', nextAttemptAt: at(base + 2) })).toBeNull();
        const one = await store.recordWebhookAttempt(d.id, 'd1', attempt(500), { status: 'pending', nextAttemptAt: at(base + 2) });
        expect(one).toMatchObject({ status: 'pending', nextAttemptAt: at(base + 2), owner: null, leaseUntil: null, attempts: [attempt(500)] });
        await store.claimWebhookDelivery(inst, d.id, { now: at(base), owner: 'd1', leaseUntil: at(base + 1) });
        const two = await store.recordWebhookAttempt(d.id, 'd1', attempt(200, { durationMs: 7 }), { status: 'delivered', nextAttemptAt: null });
        expect(two?.attempts).toEqual([attempt(500), attempt(200, { durationMs: 7 })]);
        expect(two).toMatchObject({ status: 'delivered', nextAttemptAt: null });
        expect(await store.getWebhookDelivery(inst, d.id)).toEqual(two);
        // A delivered one is not due any more.
        const due = await store.claimDueWebhookDeliveries({ now: at(base + 10), owner: 'd3', leaseUntil: at(base + 11), limit: 100 });
        expect(due.map((x) => x.id)).not.toContain(d.id);
      });

      it('a manual claim takes a delivery in any status while its lease is free, and only for its installation', async () => {
        const inst = uid();
        const d = await store.createWebhookDelivery(delivery(inst, { nextAttemptAt: null }));
        expect(await store.claimWebhookDelivery(uid(), d.id, { now: at(0), owner: 'm', leaseUntil: at(1) })).toBeNull();
        expect((await store.claimWebhookDelivery(inst, d.id, { now: at(0), owner: 'm', leaseUntil: at(1) }))?.owner).toBe('m');
        expect(await store.claimWebhookDelivery(inst, d.id, { now: at(0.5), owner: 'n', leaseUntil: at(2) })).toBeNull();
        await store.recordWebhookAttempt(d.id, 'm', attempt(410, { manual: true }), { status: 'failed', nextAttemptAt: null });
        expect((await store.claimWebhookDelivery(inst, d.id, { now: at(0.5), owner: 'n', leaseUntil: at(2) }))?.status).toBe('failed');
      });

      it('purging an installation removes its deliveries and nothing of others', async () => {
        const a = await store.createInstallation(newInstallation());
        const b = await store.createInstallation(newInstallation());
        const da = await store.createWebhookDelivery(delivery(a.id, { nextAttemptAt: null }));
        const db = await store.createWebhookDelivery(delivery(b.id, { nextAttemptAt: null }));
        await store.purgeInstallation(a.id);
        expect(await store.getWebhookDelivery(a.id, da.id)).toBeNull();
        expect(await store.getWebhookDelivery(b.id, db.id)).not.toBeNull();
      });
    });

    describe('runs', () => {
      it('a run starts running with empty counts, reports progress and finishes', async () => {
        const inst = uid();
        const run = await store.startRun({ installationId: inst, trigger: 'schedule', startedAt: at(0) });
        expect(run).toMatchObject({
          installationId: inst,
          trigger: 'schedule',
          status: 'running',
          startedAt: at(0),
          finishedAt: null,
          counts: emptyCounts(),
          processed: 0,
          total: 0,
          error: null,
        });
        await store.updateRunProgress(run.id, 3, 10, { ...emptyCounts(), due: 10, sent: 2, skipped: 1 });
        expect(await store.getRun(run.id)).toMatchObject({ processed: 3, total: 10, counts: { due: 10, sent: 2, skipped: 1 } });
        const finished = await store.finishRun(run.id, 'failed', { ...emptyCounts(), due: 10, sent: 4 }, 'host went away', at(2));
        expect(finished).toMatchObject({ status: 'failed', finishedAt: at(2), error: 'host went away', counts: { sent: 4 } });
        expect(await store.getRun(run.id)).toEqual(finished);
      });

      it('runs are listed newest first, limited, per installation', async () => {
        const inst = uid();
        for (const m of [0, 30, 60]) await store.startRun({ installationId: inst, trigger: 'manual', startedAt: at(m) });
        await store.startRun({ installationId: uid(), trigger: 'manual', startedAt: at(90) });
        expect((await store.listRuns(inst, 10)).map((r) => r.startedAt)).toEqual([at(60), at(30), at(0)]);
        expect(await store.listRuns(inst, 2)).toHaveLength(2);
      });

      it('a run carries its owner and lease; heartbeats renew it; interruptRun closes only a running run', async () => {
        const inst = uid();
        const run = await store.startRun({ installationId: inst, trigger: 'schedule', startedAt: at(0), owner: 'host:1:a', leaseUntil: at(1) });
        expect(run).toMatchObject({ owner: 'host:1:a', leaseUntil: at(1), status: 'running' });
        expect(await store.heartbeatRun(run.id, at(2))).toBe(true);
        expect((await store.getRun(run.id))!.leaseUntil).toBe(at(2));
        expect((await store.listRuns(inst, 10, { status: 'running' })).map((r) => r.id)).toEqual([run.id]);
        const closed = await store.interruptRun(run.id, 'process died', at(3));
        expect(closed).toMatchObject({ status: 'interrupted', error: 'process died', finishedAt: at(3) });
        expect(await store.interruptRun(run.id, 'again', at(4))).toBeNull();
        expect(await store.heartbeatRun(run.id, at(5))).toBe(false);
        expect(await store.listRuns(inst, 10, { status: 'running' })).toEqual([]);
        const done = await store.startRun({ installationId: inst, trigger: 'manual', startedAt: at(6) });
        await store.finishRun(done.id, 'completed', emptyCounts(), null, at(7));
        expect(await store.interruptRun(done.id, 'late', at(8))).toBeNull();
      });

      it('an unknown run reads as null, and finishing it is not_found', async () => {
        expect(await store.getRun(uid())).toBeNull();
        const err = await store.finishRun(uid(), 'completed', emptyCounts(), null, at(0)).catch((e: unknown) => e);
        expect(isConnectorError(err, 'not_found')).toBe(true);
      });
    });

    describe('connector-managed accounts and templates', () => {
      const account = (installationId: string, over: Partial<ManagedEmailAccount> = {}): ManagedEmailAccount => ({
        id: `managed:${uid()}`,
        installationId,
        name: 'Faktury',
        active: true,
        fromAddress: 'faktury@firma.example.pl',
        smtp: { host: 'smtp.firma.example.pl', port: 587, tls: 'starttls', user: 'faktury', password: { keyId: 'k1', data: 'cGFzcw==' } },
        imap: null,
        createdAt: at(0),
        updatedAt: at(0),
        ...over,
      });
      const template = (installationId: string): ManagedTemplate => ({
        id: `connector:managed:${uid()}`,
        installationId,
        name: 'Przypomnienie',
        subject: { pl: 'Faktura {{ invoice.number }}', en: null },
        html: { pl: '<p>Dzień dobry</p>', en: null },
        createdAt: at(0),
        updatedAt: at(0),
      });

      it('a saved account reads back identically, listed oldest first per installation and kind', async () => {
        const inst = uid();
        const a = account(inst, { imap: { host: 'imap.firma.example.pl', port: 993, tls: 'tls', user: 'faktury', password: { keyId: 'k1', data: 'aW1hcA==' } } });
        const b = account(inst, { name: 'Drugie', createdAt: at(5), updatedAt: at(5) });
        expect(await store.putManaged('email_account', a)).toEqual(a);
        await store.putManaged('email_account', b);
        await store.putManaged('email_account', account(uid()));
        await store.putManaged('template', template(inst));
        expect(await store.getManaged(inst, 'email_account', a.id)).toEqual(a);
        expect((await store.listManaged(inst, 'email_account')).map((r) => r.id)).toEqual([a.id, b.id]);
        expect(await store.listManaged(inst, 'template')).toHaveLength(1);
        expect(await store.getManaged(inst, 'template', a.id)).toBeNull();
        expect(await store.getManaged(uid(), 'email_account', a.id)).toBeNull();
      });

      it('saving again replaces the record but keeps its creation time', async () => {
        const inst = uid();
        const t = template(inst);
        await store.putManaged('template', t);
        const changed = { ...t, name: 'Nowa nazwa', subject: { pl: 'X', en: 'Y' }, createdAt: at(30), updatedAt: at(30) };
        const saved = await store.putManaged('template', changed);
        expect(saved).toEqual({ ...changed, createdAt: at(0) });
        expect(await store.getManaged(inst, 'template', t.id)).toEqual({ ...changed, createdAt: at(0) });
        expect(await store.listManaged(inst, 'template')).toHaveLength(1);
      });

      it('delete removes one record and says whether there was one; purge removes them all', async () => {
        const created = await store.createInstallation(newInstallation());
        const a = account(created.id);
        const t = template(created.id);
        await store.putManaged('email_account', a);
        await store.putManaged('template', t);
        expect(await store.deleteManaged(created.id, 'template', a.id)).toBe(false);
        expect(await store.deleteManaged(created.id, 'email_account', a.id)).toBe(true);
        expect(await store.deleteManaged(created.id, 'email_account', a.id)).toBe(false);
        expect(await store.getManaged(created.id, 'email_account', a.id)).toBeNull();
        await store.purgeInstallation(created.id);
        expect(await store.listManaged(created.id, 'template')).toEqual([]);
      });
    });

    // ---- Parked invoices (issue 12 item 5) ----
    describe('parked invoices', () => {
      it('parks are kept per installation with their reason, ledger entry and check time, and replaced by invoice', async () => {
        const inst = uid();
        const other = uid();
        await store.park(inst, [{ invoiceId: '2', reason: 'no_consent', ledger: null }, { invoiceId: '1', reason: 'no_recipient', ledger: null }], at(0));
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
        await store.park(unsure.inst, [{ invoiceId: unsure.inv, reason: 'already_recorded', ledger: asUnsure }, { invoiceId: 'old', reason: 'already_recorded', ledger: asUnsure }], at(0));
        const retry = await entryIn('retry', { attempts: 1 });
        const asRetry = { state: retry.entry.state, outcomeVersion: retry.entry.outcomeVersion ?? 0, version: retry.entry.version ?? 1 };
        await store.park(retry.inst, [{ invoiceId: retry.inv, reason: 'no_recipient', ledger: { ...asRetry, outcomeVersion: asRetry.outcomeVersion - 1 } }], at(0));
        expect(await store.listParked(inst)).toEqual([]);
        expect((await store.listParked(unsure.inst)).map((p) => p.invoiceId)).toEqual([unsure.inv]);
        expect(await store.listParked(retry.inst)).toEqual([]);
        // a forgotten park stays forgotten, also once the entry is back in the parked state
        await store.park(retry.inst, [{ invoiceId: retry.inv, reason: 'no_recipient', ledger: asRetry }], at(0));
        expect((await store.listParked(retry.inst)).map((p) => p.invoiceId)).toEqual([retry.inv]);
      });

      it('checkedParked forgets the changed invoices and moves the others\' check time forward, never back', async () => {
        const inst = uid();
        await store.park(inst, ['a', 'b', 'c'].map((invoiceId) => ({ invoiceId, reason: 'no_recipient', ledger: null })), at(0));
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

      it('purging an installation removes its parks', async () => {
        const created = await store.createInstallation(newInstallation());
        await store.park(created.id, [{ invoiceId: '1', reason: 'no_recipient', ledger: null }], at(0));
        await store.purgeInstallation(created.id);
        expect(await store.listParked(created.id)).toEqual([]);
      });
    });
  });
}
