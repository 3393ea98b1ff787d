/**
 * The store's conformance suite, run against every adapter with a real backend (postgres.test.ts
 * always, mongodb.test.ts when MONGODB_URL is set): one contract file per port in `contract/`
 * (`installations.ts`, `ledger.ts` — the exactly-once guarantee —, `run-log.ts`, `webhook-outbox.ts`,
 * `managed-records.ts`), and here what belongs to the whole `Store`: its schema and the purge of an
 * installation across every aggregate. A new store method's test goes into its port's file.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { NewWebhookDelivery, Store } from '../../src/store/port.ts';
import { at, claimReq, log, newInstallation, uid } from './contract/fixtures.ts';
import { installationsContract, type StoredSettingsWriter } from './contract/installations.ts';
import { ledgerContract } from './contract/ledger.ts';
import { managedRecordsContract } from './contract/managed-records.ts';
import { runLogContract } from './contract/run-log.ts';
import { webhookOutboxContract } from './contract/webhook-outbox.ts';

export interface StoreUnderTest {
  /** A store on a fresh, empty database (not yet migrated). */
  store: Store;
  /** Writes a row's stored settings behind the port's back (as an older release, or a hand, would have). */
  writeStoredSettings: StoredSettingsWriter;
}
export type StoreFactory = () => Promise<StoreUnderTest>;

export function storeContractSuite(name: string, factory: StoreFactory): void {
  describe(`store contract: ${name}`, () => {
    let under: StoreUnderTest;
    let store: Store;

    beforeAll(async () => {
      under = await factory();
      store = under.store;
      await store.migrate();
    });
    afterAll(async () => {
      await under?.store.close();
    });

    describe('schema', () => {
      it('migrate can be called again at every start', async () => {
        await store.migrate();
        await store.migrate();
        expect(await store.getInstallation(uid())).toBeNull();
      });
    });

    describe('purge', () => {
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

      it('purging an installation removes its deliveries and nothing of others', async () => {
        const a = await store.createInstallation(newInstallation());
        const b = await store.createInstallation(newInstallation());
        const da = await store.createWebhookDelivery(delivery(a.id, { nextAttemptAt: null }));
        const db = await store.createWebhookDelivery(delivery(b.id, { nextAttemptAt: null }));
        await store.purgeInstallation(a.id);
        expect(await store.getWebhookDelivery(a.id, da.id)).toBeNull();
        expect(await store.getWebhookDelivery(b.id, db.id)).not.toBeNull();
      });

      it('purging an installation removes its parks', async () => {
        const created = await store.createInstallation(newInstallation());
        await store.park(created.id, [{ invoiceId: '1', reason: 'no_recipient', ledger: null }], at(0));
        await store.purgeInstallation(created.id);
        expect(await store.listParked(created.id)).toEqual([]);
      });
    });

    installationsContract(
      () => store,
      (...args) => under.writeStoredSettings(...args),
    );
    ledgerContract(() => store);
    runLogContract(() => store);
    webhookOutboxContract(() => store);
    managedRecordsContract(() => store);
  });
}
