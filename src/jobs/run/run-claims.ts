/**
 * What one run or page job (./pipeline.ts `RunContext`) claims in the ledger, the exactly-once gate, and
 * which invoices it is answerable for. One rule, stated here only: **a claim is noted before it is asked
 * for**, so that a claim whose answer was lost (the connection dropped after PostgreSQL committed it) is
 * still checked as settled when the context ends; an answer saying another owner won it takes it off
 * again, even when that owner is this process (another run or page job of the same installation).
 */
import type { Invoice } from '../../domain.ts';
import type { ClaimRequest, LedgerEntry, Store } from '../../store/port.ts';
import { versionedMessageId } from '../rules/plan.ts';

/** An invoice a run will deliver, as planned (./../rules/plan.ts): to whom, with which print. */
export interface Candidate {
  invoice: Invoice;
  recipients: string[];
  invalidRecipients: string[];
  printId: string;
  /** The posted invoice of a draft we e-mailed: sent as this version of its ledger entry. */
  newVersion: number | null;
}

/** A candidate this context won in the ledger. */
export interface Claimed extends Candidate {
  entry: LedgerEntry;
  /** The claim's lease: outcomes recorded before `sending` are retried until then. */
  leaseUntil: string;
}

export interface RunClaimsOptions {
  store: Store;
  installationId: string;
  /** This process in ledger claims (`PipelineDeps.owner`). */
  owner: string;
  leaseSeconds: number;
  maxAttempts: number;
  /** The Message-ID a claim of this invoice records (on the sender's domain, known once the run started). */
  messageIdOf: (invoiceId: string) => string;
}

export class RunClaims {
  private readonly noted = new Set<string>();

  constructor(private readonly o: RunClaimsOptions) {}

  /** Invoices this context claimed (or asked for and may have won). */
  ids(): string[] {
    return [...this.noted];
  }

  /** A lease of `leaseSeconds` from `now`. */
  leaseFrom(now: Date): string {
    return new Date(now.getTime() + this.o.leaseSeconds * 1000).toISOString();
  }

  /** Notes a claim about to be asked for; true when it was not noted yet (only then may a lost race take it off). */
  private note(invoiceId: string): boolean {
    if (this.noted.has(invoiceId)) return false;
    this.noted.add(invoiceId);
    return true;
  }

  /** A page's invoices in one statement (`Store.claimMany`): the entries this context won, by invoice id. */
  async many(invoices: Pick<Invoice, 'id' | 'number' | 'state'>[], now: Date, leaseUntil: string): Promise<Map<string, LedgerEntry>> {
    const { store, installationId, owner, maxAttempts, messageIdOf } = this.o;
    const fresh = invoices.filter((i) => this.note(i.id));
    const won = new Map(
      (
        await store.claimMany(
          { installationId, owner, leaseUntil, now: now.toISOString(), maxAttempts },
          invoices.map((i) => ({ invoiceId: i.id, invoiceNumber: i.number, messageId: messageIdOf(i.id), draft: i.state === 'draft' })),
        )
      ).map((e) => [e.invoiceId, e]),
    );
    for (const i of fresh) if (!won.has(i.id)) this.noted.delete(i.id);
    return won;
  }

  /** One invoice (`Store.claim`), with `maxAttempts` of the caller's (closing an exhausted entry takes one past the limit). */
  one(invoice: Pick<Invoice, 'id' | 'number' | 'state'>, now: Date, maxAttempts = this.o.maxAttempts): Promise<LedgerEntry | null> {
    return this.ask((r) => this.o.store.claim(r), {
      invoice,
      now,
      messageId: this.o.messageIdOf(invoice.id),
      maxAttempts,
      draft: invoice.state === 'draft',
    });
  }

  /** Version `version` of an entry (the posted invoice of a draft e-mailed earlier), under that version's Message-ID. */
  newVersion(invoice: Pick<Invoice, 'id' | 'number'>, now: Date, version: number): Promise<LedgerEntry | null> {
    const messageId = versionedMessageId(this.o.messageIdOf(invoice.id), version);
    return this.ask((r) => this.o.store.claimNewVersion(r), { invoice, now, messageId, maxAttempts: this.o.maxAttempts, draft: false });
  }

  /** One claim of one invoice, noted before it is asked for. */
  private async ask(
    claim: (request: ClaimRequest) => Promise<LedgerEntry | null>,
    c: { invoice: Pick<Invoice, 'id' | 'number'>; now: Date; messageId: string; maxAttempts: number; draft: boolean },
  ): Promise<LedgerEntry | null> {
    const invoiceId = c.invoice.id;
    const fresh = this.note(invoiceId);
    const claimed = await claim({
      installationId: this.o.installationId,
      invoiceId,
      invoiceNumber: c.invoice.number,
      owner: this.o.owner,
      leaseUntil: this.leaseFrom(c.now),
      messageId: c.messageId,
      now: c.now.toISOString(),
      maxAttempts: c.maxAttempts,
      draft: c.draft,
    });
    if (!claimed && fresh) this.noted.delete(invoiceId);
    return claimed;
  }

  /**
   * What this context left open (`claimed` or `sending`) of its claims: a run's, among the process's open
   * entries of the installation (claims of this process's page jobs of other runs are theirs).
   */
  async unsettled(): Promise<LedgerEntry[]> {
    const { store, installationId, owner } = this.o;
    const open = await store.listLedger(installationId, { owner, states: ['claimed', 'sending'], limit: 1000 });
    return open.filter((e) => this.noted.has(e.invoiceId));
  }

  /** The same for a page job: its claims read by id. */
  async unsettledOfPage(): Promise<LedgerEntry[]> {
    const { store, installationId, owner } = this.o;
    return (await store.getLedger(installationId, this.ids())).filter((e) => e.owner === owner && (e.state === 'claimed' || e.state === 'sending'));
  }
}
