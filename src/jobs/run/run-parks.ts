/**
 * Parking (issue 12 item 5): what a run leaves out of its listing because only the host can change it.
 *
 * An invoice skipped for a reason only a host change can lift (no recipient, no consent), or whose ledger
 * outcome is final but not marked sent on the host (failed, uncertain), is parked: later runs leave it out
 * of the listing until the host changes it or its customer's records. One `changedInvoices` call per run
 * asks which parked invoices changed since they were last known unchanged (less `PARK_MARGIN_MS`); those
 * are listed and judged again. A park also ends when its ledger entry moves on (a re-send a person allows,
 * any new outcome): `Store.listParked` forgets it. Parked invoices with a reason a person should know of
 * count as due and skipped, as when read.
 */
import type { HostErp } from '../../connector/port.ts';
import type { Invoice } from '../../domain.ts';
import type { LedgerEntry, NewParkedInvoice, Store } from '../../store/port.ts';
import type { planDelivery } from '../rules/plan.ts';
import { HOST_CHANGE_REASONS, LOG_ONCE_REASONS, type SkipReason } from '../rules/selection.ts';

/**
 * How far before a park's last check `changedInvoices` looks: the host stamps a change with its own
 * clock when its transaction started, so this covers the host's clock running behind the connector's
 * and transactions still committing when the park was made. A change is read again at most twice.
 */
export const PARK_MARGIN_MS = 10 * 60_000;

/** Whether a skipped invoice is parked: a host-only reason, or a final outcome the host does not mark sent. */
export function parks(reason: SkipReason, entry: LedgerEntry | null): boolean {
  if (HOST_CHANGE_REASONS.has(reason)) return true;
  return reason === 'already_recorded' && (entry?.state === 'failed' || entry?.state === 'uncertain');
}

/** One invoice of a page as the run planned it. */
export interface PlannedInvoice {
  invoice: Invoice;
  entry: LedgerEntry | null;
  plan: ReturnType<typeof planDelivery>;
}

/** What the run leaves out of its listing, and how many of those a person should know of (due and skipped). */
export interface StillParked {
  ids: string[];
  counted: number;
}

export interface RunParksOptions {
  store: Store;
  installationId: string;
  clock: () => Date;
  /** Default `PARK_MARGIN_MS`. */
  marginMs?: number;
  /** The host did not say which parked invoices changed (nothing is left out then). */
  warn: (err: unknown, message: string) => void;
}

/** The parks of one run or page job. */
export class RunParks {
  /**
   * When this run's parks were known unchanged: set by `stillParked` (a run) or taken from the page job
   * (`RunPage.parkedAt`); null = the host cannot tell changes, and nothing is parked.
   */
  parkedAt: string | null = null;

  constructor(private readonly o: RunParksOptions) {}

  /** The parked invoices the host did not change since they were last looked at: the ids to leave out of this run's listing. */
  async stillParked(host: HostErp): Promise<StillParked> {
    const { store, installationId, clock } = this.o;
    const none = { ids: [], counted: 0 };
    if (!host.changedInvoices) return none;
    // Parks made by this run are known unchanged as of now: the listing reads them after this instant.
    const parkedAt = (this.parkedAt = clock().toISOString());
    const parked = await store.listParked(installationId);
    if (parked.length === 0) return none;
    const oldest = parked.reduce((min, p) => Math.min(min, Date.parse(p.checkedAt)), Infinity);
    const since = new Date(oldest - (this.o.marginMs ?? PARK_MARGIN_MS)).toISOString();
    let changed: string[];
    try {
      changed = await host.changedInvoices(
        parked.map((p) => p.invoiceId),
        since,
      );
    } catch (err) {
      // Without the answer nothing is left out: this run reads them all again (the parks stay).
      this.o.warn(err, 'the host did not say which parked invoices changed; all are read');
      return none;
    }
    await store.checkedParked(installationId, changed, parkedAt);
    const gone = new Set(changed);
    const still = parked.filter((p) => !gone.has(p.invoiceId));
    // Counted as before parking: a skip a person should know of is due and skipped in every run.
    return { ids: still.map((p) => p.invoiceId), counted: still.filter((p) => LOG_ONCE_REASONS.has(p.reason as SkipReason)).length };
  }

  /** The page's invoices to park, recorded in one statement. */
  async park(plans: PlannedInvoice[]): Promise<void> {
    if (this.parkedAt === null) return;
    const items: NewParkedInvoice[] = [];
    for (const { invoice, entry, plan } of plans) {
      if (plan.kind !== 'skip' || !parks(plan.reason, entry)) continue;
      items.push({
        invoiceId: invoice.id,
        reason: plan.reason,
        ledger: entry ? { state: entry.state, outcomeVersion: entry.outcomeVersion ?? 0, version: entry.version ?? 1 } : null,
      });
    }
    if (items.length) await this.o.store.park(this.o.installationId, items, this.parkedAt);
  }
}
