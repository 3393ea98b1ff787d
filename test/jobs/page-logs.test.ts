/**
 * The log-once entries of a page (src/jobs/run/page-logs.ts), against a real PostgreSQL store: what an
 * invoice logged before is not logged again, a page's entries reach the store in one statement.
 */
import crypto from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { PageLogs } from '../../src/jobs/run/page-logs.ts';
import type { NewLogEntry, Store } from '../../src/store/port.ts';
import { usePostgresStore } from '../setup/db.ts';
import { storeWith } from '../support/store-with.ts';

const store = usePostgresStore();

/** The real store, counting its `appendLogs` statements. */
function countingAppends(): { store: Store; appends: NewLogEntry[][] } {
  const appends: NewLogEntry[][] = [];
  const counting = storeWith(store(), 'appendLogs', (real) => (entries) => {
    appends.push(entries);
    return real(entries);
  });
  return { store: counting, appends };
}

const inv = (id: string) => ({ id, number: `FV/2026/12/${id}` });
const events = async (installationId: string) => (await store().listLogs({ installationId, limit: 100 })).map((e) => `${e.invoiceId} ${e.event}`).sort();

describe('a page logs each skip once per invoice, whatever the number of runs', () => {
  it('an event the invoice logged in an earlier run is not logged again; a new one is', async () => {
    const inst = crypto.randomUUID();
    const logsOf = (runId: string) => new PageLogs({ store: store(), installationId: inst, runId, clock: () => new Date() });
    const first = logsOf('run-1');
    await first.startPage(['1', '2'], ['invoice.skipped.no_consent']);
    first.once(inv('1'), 'invoice.skipped.no_consent', 'warning', 'Skipped: no consent');
    await first.append();

    const second = logsOf('run-2');
    await second.startPage(['1', '2'], ['invoice.skipped.no_consent', 'invoice.skipped.no_recipient']);
    second.once(inv('1'), 'invoice.skipped.no_consent', 'warning', 'Skipped: no consent');
    second.once(inv('1'), 'invoice.skipped.no_recipient', 'warning', 'Skipped: no recipient');
    second.once(inv('2'), 'invoice.skipped.no_consent', 'warning', 'Skipped: no consent');
    await second.append();
    expect(await events(inst)).toEqual(['1 invoice.skipped.no_consent', '1 invoice.skipped.no_recipient', '2 invoice.skipped.no_consent']);
  });

  it('noted twice on one page, an entry is appended once; the page’s entries in one statement, and nothing for an empty page', async () => {
    const inst = crypto.randomUUID();
    const { store: counting, appends } = countingAppends();
    const logs = new PageLogs({ store: counting, installationId: inst, runId: 'run-1', clock: () => new Date('2026-12-04T08:00:00Z') });
    await logs.startPage(['1', '2', '3'], ['invoice.invalid_recipients']);
    for (const id of ['1', '2', '3', '1']) logs.once(inv(id), 'invoice.invalid_recipients', 'warning', 'Invalid e-mail address(es) left out: x@');
    await logs.append();
    await logs.append();
    expect(appends.map((a) => a.length)).toEqual([3]);
    expect(appends[0]![0]).toMatchObject({ runId: 'run-1', invoiceNumber: 'FV/2026/12/1', at: '2026-12-04T08:00:00.000Z', level: 'warning' });
  });
});
