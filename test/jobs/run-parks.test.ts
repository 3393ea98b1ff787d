/**
 * What a run leaves out of its listing until the host changes it (src/jobs/run/run-parks.ts), against a
 * real PostgreSQL store and a host that answers `changedInvoices` as the Odoo adapter does (ids changed
 * since an instant).
 */
import crypto from 'node:crypto';
import { describe, expect, it } from 'vitest';
import type { HostErp } from '../../src/connector/port.ts';
import type { Invoice } from '../../src/domain.ts';
import { PARK_MARGIN_MS, RunParks, type PlannedInvoice } from '../../src/jobs/run/run-parks.ts';
import type { LedgerState } from '../../src/domain.ts';
import type { LedgerEntry, NewParkedInvoice, Store } from '../../src/store/port.ts';
import { usePostgresStore } from '../setup/db.ts';
import { storeWith } from '../support/store-with.ts';
import { claimReq, outcome } from '../store/contract/fixtures.ts';

const store = usePostgresStore();

/** A ledger entry brought to a final `state` through the store's own transitions. */
async function entryIn(installationId: string, invoiceId: string, state: Exclude<LedgerState, 'claimed' | 'sending'>): Promise<LedgerEntry> {
  const now = new Date().toISOString();
  await store().claim(claimReq(installationId, invoiceId, 'w1', now));
  await store().recordOutcome(installationId, invoiceId, 'w1', outcome(state), { writeBack: false, nextAttemptAt: null });
  return (await store().getLedger(installationId, [invoiceId]))[0]!;
}

/** The real store, with what `park` was given kept aside. */
function storeKeepingParks(): { store: Store; parked: NewParkedInvoice[] } {
  const parked: NewParkedInvoice[] = [];
  const keeping = storeWith(store(), 'park', (real) => (inst, items, at) => {
    parked.push(...items);
    return real(inst, items, at);
  });
  return { store: keeping, parked };
}

const invoice = (id: string) => ({ id, number: `FV/${id}` }) as Invoice;
const skip = (id: string, reason: string, entry: LedgerEntry | null = null): PlannedInvoice =>
  ({
    invoice: invoice(id),
    entry,
    plan: { kind: 'skip', reason, detail: reason, logOnce: true, changedAfterSending: false, invalidRecipients: [] },
  }) as PlannedInvoice;
const send = (id: string): PlannedInvoice => ({ invoice: invoice(id), entry: null, plan: { kind: 'send' } }) as unknown as PlannedInvoice;

/** A host that says which of the asked ids changed since `since` (and records what it was asked). */
function hostChanging(changed: string[]) {
  const asked: { ids: string[]; since: string }[] = [];
  const host = {
    changedInvoices: async (ids: string[], since: string) => {
      asked.push({ ids: [...ids].sort(), since });
      return changed.filter((id) => ids.includes(id));
    },
  } as unknown as HostErp;
  return { host, asked };
}

function parksOf(installationId: string, now: Date, warned: string[] = []): RunParks {
  return new RunParks({ store: store(), installationId, clock: () => now, warn: (_err, message) => warned.push(message) });
}

describe('a run parks what only the host can change, and leaves it out until the host changes it', () => {
  it('an invoice skipped for a host-only reason is parked; the next run leaves it out until the host says it changed', async () => {
    const inst = crypto.randomUUID();
    const t0 = new Date('2026-12-04T08:00:00Z');
    const first = parksOf(inst, t0);
    expect(await first.stillParked(hostChanging([]).host)).toEqual({ ids: [], counted: 0 });
    await first.park([skip('1', 'no_consent'), skip('2', 'no_recipient'), send('3')]);

    const t1 = new Date('2026-12-04T08:30:00Z');
    const unchanged = hostChanging([]);
    expect(await parksOf(inst, t1).stillParked(unchanged.host)).toEqual({ ids: ['1', '2'], counted: 2 });
    // asked about the parked ones only, from their last check less the margin
    expect(unchanged.asked).toEqual([{ ids: ['1', '2'], since: new Date(t0.getTime() - PARK_MARGIN_MS).toISOString() }]);

    const changed = hostChanging(['2']);
    expect(await parksOf(inst, new Date('2026-12-04T09:00:00Z')).stillParked(changed.host)).toEqual({ ids: ['1'], counted: 1 });
    // the check moved the unchanged park's last check forward; the changed one is no longer parked
    expect(changed.asked[0]!.since).toBe(new Date(t1.getTime() - PARK_MARGIN_MS).toISOString());
    expect((await store().listParked(inst)).map((p) => p.invoiceId)).toEqual(['1']);
  });

  it('a final outcome the host does not mark sent is parked (failed, uncertain); sent, and a skip the run lifts itself, are not', async () => {
    const inst = crypto.randomUUID();
    const { store: keeping, parked } = storeKeepingParks();
    const parks = new RunParks({ store: keeping, installationId: inst, clock: () => new Date(), warn: () => undefined });
    await parks.stillParked(hostChanging([]).host);
    await parks.park([
      skip('failed', 'already_recorded', await entryIn(inst, 'failed', 'failed')),
      skip('uncertain', 'already_recorded', await entryIn(inst, 'uncertain', 'uncertain')),
      skip('sent', 'already_recorded', await entryIn(inst, 'sent', 'sent')),
      skip('claimed', 'in_progress'),
      skip('later', 'retry_later'),
    ]);
    expect(parked.map((p) => p.invoiceId)).toEqual(['failed', 'uncertain']);
    expect(parked[0]!.ledger).toMatchObject({ state: 'failed', version: 1 });
    expect((await store().listParked(inst)).map((p) => p.invoiceId).sort()).toEqual(['failed', 'uncertain']);
  });

  it('a parked invoice with no reason a person should know of is left out but not counted as due and skipped', async () => {
    const inst = crypto.randomUUID();
    const parks = parksOf(inst, new Date());
    await parks.stillParked(hostChanging([]).host);
    await parks.park([skip('f', 'already_recorded', await entryIn(inst, 'f', 'failed')), skip('n', 'no_consent')]);
    const still = await parksOf(inst, new Date()).stillParked(hostChanging([]).host);
    expect({ ids: still.ids.sort(), counted: still.counted }).toEqual({ ids: ['f', 'n'], counted: 1 });
  });

  it('a host that cannot tell changes parks nothing and leaves nothing out', async () => {
    const inst = crypto.randomUUID();
    const parks = parksOf(inst, new Date());
    expect(await parks.stillParked({} as HostErp)).toEqual({ ids: [], counted: 0 });
    expect(parks.parkedAt).toBeNull();
    await parks.park([skip('1', 'no_consent')]);
    expect(await store().listParked(inst)).toEqual([]);
  });

  it('a host that fails to answer leaves nothing out this run, with a warning, and the parks stay', async () => {
    const inst = crypto.randomUUID();
    const first = parksOf(inst, new Date());
    await first.stillParked(hostChanging([]).host);
    await first.park([skip('1', 'no_consent')]);
    const warned: string[] = [];
    const failing = { changedInvoices: async () => Promise.reject(new Error('Odoo Server Error')) } as unknown as HostErp;
    expect(await parksOf(inst, new Date(), warned).stillParked(failing)).toEqual({ ids: [], counted: 0 });
    expect(warned).toEqual(['the host did not say which parked invoices changed; all are read']);
    expect((await store().listParked(inst)).map((p) => p.invoiceId)).toEqual(['1']);
  });

  it('a page job parks as of the instant its run looked (parkedAt given by the run)', async () => {
    const inst = crypto.randomUUID();
    const page = parksOf(inst, new Date('2026-12-04T10:00:00Z'));
    page.parkedAt = '2026-12-04T09:59:00.000Z';
    await page.park([skip('1', 'no_recipient')]);
    expect(await store().listParked(inst)).toMatchObject([{ invoiceId: '1', reason: 'no_recipient', checkedAt: '2026-12-04T09:59:00.000Z' }]);
  });
});
