/**
 * The log-once entries of the page a run is planning (skips, invalid addresses, changes after sending):
 * which (invoice, event) pairs are logged already is asked once per page (`Store.loggedEvents`, one query,
 * not one per skipped invoice), and the page's new entries are appended in one statement.
 */
import type { Invoice } from '../../domain.ts';
import type { NewLogEntry, Store } from '../../store/port.ts';
import { loggedKey } from '../../store/port.ts';

export interface PageLogsOptions {
  store: Store;
  installationId: string;
  runId: string;
  clock: () => Date;
}

export class PageLogs {
  /** The page's logged (invoice, event) pairs, and those noted since. */
  private logged = new Set<string>();
  private pending: NewLogEntry[] = [];

  constructor(private readonly o: PageLogsOptions) {}

  /** Starts a page: reads which of `events` its invoices have logged already. */
  async startPage(invoiceIds: string[], events: Iterable<string>): Promise<void> {
    this.logged = await this.o.store.loggedEvents(this.o.installationId, invoiceIds, [...events]);
  }

  /** A log-once entry: noted unless the invoice has logged the event already (in the store or on this page). */
  once(
    invoice: Pick<Invoice, 'id' | 'number'>,
    event: string,
    level: NewLogEntry['level'],
    message: string,
    data: Record<string, unknown> | null = null,
  ): void {
    const key = loggedKey(invoice.id, event);
    if (this.logged.has(key)) return;
    this.logged.add(key);
    this.pending.push({
      installationId: this.o.installationId,
      runId: this.o.runId,
      at: this.o.clock().toISOString(),
      level,
      event,
      invoiceId: invoice.id,
      invoiceNumber: invoice.number,
      message,
      data,
    });
  }

  /** Appends the entries noted since the last call, in one statement. */
  async append(): Promise<void> {
    if (this.pending.length === 0) return;
    const entries = this.pending;
    this.pending = [];
    await this.o.store.appendLogs(entries);
  }
}
