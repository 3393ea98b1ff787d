/**
 * The store, split by aggregate the way Agenda splits its backend: five ports over one database,
 * `Installations`, `Ledger` (the exactly-once guarantee), `RunLog` (log entries and runs),
 * `WebhookOutbox` and `ManagedRecords`, and `Store`, which combines them with the lifecycle
 * (migrate, close, kind) and the purge that crosses them. Adapters: `postgres/` (node-postgres; also the embedded default and the
 * tests) and `mongodb/` (official driver); both pass each port's contract suite (`test/store/contract/`).
 *
 * Secrets arrive here already encrypted (`EncryptedSecret`); the store never sees plaintext.
 * No pg row or Mongo document crosses these ports.
 */
import type { HostKind } from '../connector/registry.ts';
import { OUTCOME_COUNT_KEYS } from '../domain.ts';
import type {
  LedgerState,
  LogLevel,
  Outcome,
  OutcomeCounts,
  OutcomeReason,
  RecipientBounce,
  RecipientResult,
  RunCounts,
  RunTrigger,
  Settings,
  TlsMode,
} from '../domain.ts';

/** AES-256-GCM ciphertext with the id of the key that made it (for rotation). */
export interface EncryptedSecret {
  keyId: string;
  /** base64 of iv(12) | tag(16) | ciphertext */
  data: string;
}

export interface Installation {
  id: string;
  hostKind: HostKind;
  hostUrl: string;
  hostDatabase: string;
  companyId: string | null;
  integrationLogin: string;
  integrationSecret: EncryptedSecret;
  operatorSecret: EncryptedSecret | null;
  settings: Settings;
  /** Callback URL for outgoing webhooks; null = none. */
  callbackUrl: string | null;
  webhookSecret: EncryptedSecret | null;
  /** SHA-256 (hex) of the host's API token for this installation. */
  apiTokenHash: string | null;
  status: 'active' | 'uninstalled';
  createdAt: string;
  updatedAt: string;
  /** Monotonic version, bumped on every settings change (optimistic concurrency). */
  version: number;
}

export type NewInstallation = Omit<Installation, 'id' | 'createdAt' | 'updatedAt' | 'version' | 'status'> & { id?: string };

export interface LedgerEntry {
  installationId: string;
  invoiceId: string;
  invoiceNumber: string | null;
  state: LedgerState;
  /** Worker that owns the claim (`<hostname>:<pid>:<random>`), null when not owned. */
  owner: string | null;
  leaseUntil: string | null;
  attempts: number;
  messageId: string;
  /** SHA-256 of the invoice content as sent (stale-attachment detection). */
  contentHash: string | null;
  reason: OutcomeReason | null;
  detail: string | null;
  recipients: RecipientResult[];
  /** Write-back to the host still owed for this outcome. */
  writeBackPending: boolean;
  /**
   * Bumped by every recorded outcome: a write-back is cleared for the (invoice, outcome version) it
   * wrote, so an outcome recorded while an older one was being written back stays owed. Always set by
   * the adapters (optional in the type only so that hand-made entries in tests need not carry it; absent = 0).
   * Not the document `version` below.
   */
  outcomeVersion?: number;
  /** Earliest instant a `retry` entry may be claimed again. */
  nextAttemptAt: string | null;
  updatedAt: string;
  /**
   * Which delivery of the invoice this entry is about: 1 for the first, +1 for each new version taken with
   * `claimNewVersion` (a draft e-mailed under "all documents", e-mailed again once as the posted invoice).
   * Adapters always set it; absent in hand-made entries means 1.
   */
  version?: number;
  /** The invoice was a draft when this entry was last claimed (absent means false). */
  draft?: boolean;
  /**
   * For a `sending` entry: the message was (about to be) handed over — the final "." of DATA, or the IMAP
   * APPEND — so the server may have it. False: the attempt stopped before (connect, envelope, data), so an
   * interrupted delivery is retried, not left for a person. Absent means true (the safe side).
   */
  handedOver?: boolean;
}

export interface ClaimRequest {
  installationId: string;
  invoiceId: string;
  invoiceNumber: string | null;
  owner: string;
  leaseUntil: string;
  messageId: string;
  now: string;
  /** Max attempts: a `retry` entry with this many attempts is not claimed again. */
  maxAttempts: number;
  /** The invoice is a draft now; kept on the entry (`LedgerEntry.draft`). Default false. */
  draft?: boolean;
}

/** One invoice of a batched claim (`Store.claimMany`); the rest of the request is shared by the batch. */
export interface ClaimItem {
  invoiceId: string;
  invoiceNumber: string | null;
  messageId: string;
  draft?: boolean;
}

export interface LogEntry {
  id: string;
  installationId: string;
  runId: string | null;
  at: string;
  level: LogLevel;
  /** Machine-readable event: run.started, run.completed, invoice.sent, invoice.skipped, ... */
  event: string;
  invoiceId: string | null;
  invoiceNumber: string | null;
  message: string;
  data: Record<string, unknown> | null;
}
export type NewLogEntry = Omit<LogEntry, 'id'>;

export interface LogQuery {
  installationId: string;
  from?: string;
  to?: string;
  level?: LogLevel;
  event?: string;
  /** Substring match on the invoice number. */
  invoiceNumber?: string;
  runId?: string;
  limit: number;
  /** Entries strictly older than this id (paging, newest first). */
  before?: string;
}

/** `interrupted`: the process running it died (its lease ran out); closed by a later start. */
export type RunStatus = 'running' | 'completed' | 'failed' | 'interrupted';

export interface Run {
  id: string;
  installationId: string;
  trigger: RunTrigger;
  status: RunStatus;
  startedAt: string;
  finishedAt: string | null;
  counts: RunCounts;
  /** Progress of a running run: processed of total due. */
  processed: number;
  total: number;
  error: string | null;
  /** Process running it (`<hostname>:<pid>:<random>`, the ledger owner); null for runs of older versions. */
  owner?: string | null;
  /** Heartbeat: the run is alive while this is in the future; renewed while it works (set by the adapters). */
  leaseUntil?: string | null;
}

/** A mailbox's read position: the IMAP UIDVALIDITY and the last UID read under it. */
export interface MailboxCursor {
  uidValidity: string;
  lastUid: number;
}

/** A bounce for one recipient of a ledger entry (`RecipientResult.bounce` with its address). */
export interface BounceRecord extends RecipientBounce {
  address: string;
}

/** An owed write-back taken by one process (`claimWriteBacks`), cleared by (invoice, outcome version). */
export interface WriteBackDone {
  invoiceId: string;
  outcomeVersion: number;
}

/**
 * A connector-managed e-mail account (docs/design.md §6: for hosts without an SMTP account model, e.g. Tryton).
 * Id `managed:<uuid>`, never a host id. Passwords arrive encrypted.
 */
export interface ManagedEmailAccount {
  id: string;
  installationId: string;
  name: string;
  active: boolean;
  fromAddress: string;
  smtp: { host: string; port: number; tls: TlsMode; user: string | null; password: EncryptedSecret | null };
  imap: { host: string; port: number; tls: TlsMode; user: string; password: EncryptedSecret } | null;
  /** DKIM signing key (optional; records saved before DKIM existed have none). */
  dkim?: { domain: string; selector: string; privateKey: EncryptedSecret } | null;
  createdAt: string;
  updatedAt: string;
}

/** A connector-managed e-mail template (id `connector:managed:<uuid>`); `en` null = the Polish text for everyone. */
export interface ManagedTemplate {
  id: string;
  installationId: string;
  name: string;
  subject: { pl: string; en: string | null };
  html: { pl: string; en: string | null };
  createdAt: string;
  updatedAt: string;
}

/** The record type of each kind of connector-managed record. */
export interface ManagedRecordOf {
  email_account: ManagedEmailAccount;
  template: ManagedTemplate;
}
export type ManagedKind = keyof ManagedRecordOf;

/** An outgoing webhook (connector -> host): persisted first, then delivered with retries. */
export type WebhookDeliveryStatus = 'pending' | 'delivered' | 'failed';

/** One POST of a webhook to the host. */
export interface WebhookAttempt {
  at: string;
  durationMs: number;
  /** HTTP status of the answer; null when none came (refused, timed out). */
  statusCode: number | null;
  /** Why the attempt did not count as delivered; null when it did. */
  error: string | null;
  /** True for a redelivery asked for through the API. */
  manual: boolean;
}

export interface WebhookDelivery {
  /** Also the event id in the body (receivers de-duplicate on it). */
  id: string;
  installationId: string;
  eventType: string;
  url: string;
  /** The JSON body exactly as it is POSTed (and signed). */
  payload: string;
  status: WebhookDeliveryStatus;
  attempts: WebhookAttempt[];
  /** When the next automatic attempt is due; null when none is (delivered or given up). */
  nextAttemptAt: string | null;
  /** No automatic attempt after this instant (creation + 24 h). */
  expiresAt: string;
  /** Dispatcher holding the delivery while it POSTs it, until `leaseUntil`. */
  owner: string | null;
  leaseUntil: string | null;
  createdAt: string;
  updatedAt: string;
}

export type NewWebhookDelivery = Pick<WebhookDelivery, 'id' | 'installationId' | 'eventType' | 'url' | 'payload' | 'nextAttemptAt' | 'expiresAt' | 'createdAt'>;

/**
 * Installations: the connection to the host, its encrypted credentials and the settings. Settings are
 * validated against the schema (src/settings/schema.ts) and filled with defaults when read, with the
 * settings version stored beside them (`settingsFromStore` in `settings-on-read.ts`): a stored row that
 * is invalid is refused as `internal` naming the installation and the field, never handed out as is.
 */
export interface Installations {
  /** Settings the schema refuses are `validation` (field `settings.<path>`), here and in `updateInstallation`; nothing is written. */
  createInstallation(input: NewInstallation): Promise<Installation>;
  getInstallation(id: string): Promise<Installation | null>;
  findInstallationByTokenHash(hash: string): Promise<Installation | null>;
  /** Oldest first; an installation whose stored settings are refused is left out (and logged), so one broken row stops no other. */
  listInstallations(filter?: { status?: Installation['status'] }): Promise<Installation[]>;
  /**
   * Replaces mutable fields when `expectedVersion` matches (else `conflict`); returns the new state.
   */
  updateInstallation(
    id: string,
    patch: Partial<
      Pick<Installation, 'settings' | 'operatorSecret' | 'callbackUrl' | 'webhookSecret' | 'apiTokenHash' | 'status' | 'integrationSecret' | 'integrationLogin'>
    >,
    expectedVersion?: number,
  ): Promise<Installation>;
}

/**
 * The per-invoice ledger: the exactly-once guarantee. Its state machine is declared once in
 * `ledger-states.ts` (`LEDGER_TRANSITIONS`); both adapters build every conditional write from it.
 * Also the owed write-backs and how far the delivery reports of each mailbox were read.
 */
export interface Ledger {
  /**
   * Atomically claims an invoice for one owner. Succeeds when there is no entry, or the entry is
   * `skipped`, or `retry` with attempts < maxAttempts and nextAttemptAt <= now, or `claimed` with an
   * expired lease. Never claims `sending`, `sent`, `drafted`, `failed` or `uncertain`.
   * Returns the claimed entry (state `claimed`) or null when someone else owns it / it is final.
   */
  claim(req: ClaimRequest): Promise<LedgerEntry | null>;
  /**
   * `claim` for many invoices of one installation at once (a run's page: one statement on PostgreSQL),
   * each under exactly the rules of `claim`, with the same owner, lease, now and maxAttempts. Returns the
   * entries won (in no particular order); an invoice not returned is someone else's or not claimable.
   * Concurrent batches over the same invoices: each invoice has one winner.
   */
  claimMany(req: Omit<ClaimRequest, 'invoiceId' | 'invoiceNumber' | 'messageId' | 'draft'>, items: ClaimItem[]): Promise<LedgerEntry[]>;
  /**
   * A draft e-mailed under "all documents" was posted: its `sent`/`drafted` entry claimed while a draft
   * (`draft` true), whose write-back is done, becomes a fresh claim of the next version (attempts 0, no
   * content hash, reason, detail or recipients; `draft` and `messageId` from the request). Atomic like
   * `claim`; null when the entry is not such a sent draft (never was, or its new version was taken).
   */
  claimNewVersion(req: ClaimRequest): Promise<LedgerEntry | null>;
  /**
   * Recorded just before the message is handed over (see `LedgerEntry.handedOver`), for the owner's
   * `sending` entry only; false when the claim is no longer the owner's (then nothing may be handed over).
   */
  markHandedOver(installationId: string, invoiceId: string, owner: string): Promise<boolean>;
  /** claimed -> sending (owner must match; increments attempts; stores the content hash; not yet handed over). */
  markSending(installationId: string, invoiceId: string, owner: string, contentHash: string, leaseUntil: string): Promise<boolean>;
  /**
   * Records the outcome for the owner's claim; sets writeBackPending when `writeBack` is true. `log`: the
   * outcome's log entry, appended with it when (and only when) the outcome is recorded — in the same
   * statement on PostgreSQL, so an outcome is never recorded without its log line.
   */
  recordOutcome(
    installationId: string,
    invoiceId: string,
    owner: string,
    outcome: Outcome,
    opts: { writeBack: boolean; nextAttemptAt: string | null; log?: NewLogEntry },
  ): Promise<boolean>;
  /** Releases a claim that did nothing (back to no owner, previous state kept or `skipped`). */
  release(installationId: string, invoiceId: string, owner: string): Promise<void>;
  getLedger(installationId: string, invoiceIds: string[]): Promise<LedgerEntry[]>;
  /**
   * Entries in invoice-id order (an index), `limit` at a time; `after` continues strictly after that
   * invoice id (cursor paging over any number of entries). `owner` filters by the claim's owner.
   */
  listLedger(installationId: string, filter: { states?: LedgerState[]; owner?: string; after?: string; limit: number }): Promise<LedgerEntry[]>;
  /**
   * Closes what dead owners left: their `claimed` entries go back as by `release`, their `sending`
   * entries' leases end now (so `listExpiredSending` hands them to the evidence check at once), and the
   * write-backs they had taken are given back (the next flush writes them; host write-backs are idempotent).
   */
  releaseDeadOwners(installationId: string, owners: string[], now: string): Promise<{ released: number; expired: number }>;
  /** `sending` entries whose lease expired before `now` (interrupted deliveries). */
  listExpiredSending(installationId: string, now: string): Promise<LedgerEntry[]>;
  /**
   * Resolves an interrupted delivery: `sending` with expired lease -> given state. Returns false when
   * the entry changed meanwhile.
   */
  resolveInterrupted(installationId: string, invoiceId: string, expectedLeaseUntil: string, outcome: Outcome, writeBack: boolean): Promise<boolean>;
  /**
   * A person asked to re-send an `uncertain` or `failed` invoice, or a `sent` one with a bounced recipient:
   * the entry becomes claimable again. A bounced `sent` entry also becomes its next `version` and, when
   * `next.messageId` is given, carries that Message-ID (a later claim keeps the id of a version > 1).
   */
  allowResend(installationId: string, invoiceId: string, next?: { messageId: string }): Promise<boolean>;
  /** The entry whose current delivery carries this Message-ID (exact, with brackets), or null. */
  findLedgerByMessageId(installationId: string, messageId: string): Promise<LedgerEntry | null>;
  /**
   * Records bounces on a `sent` entry while it still carries `messageId`: each bounce on the recipient with
   * that address (case-insensitive) that has none yet. Returns the addresses newly recorded (none twice).
   */
  recordBounces(installationId: string, invoiceId: string, messageId: string, bounces: BounceRecord[]): Promise<string[]>;
  /** How far the delivery reports of an installation's e-mail account were read (null: never). */
  getMailboxCursor(installationId: string, accountId: string): Promise<MailboxCursor | null>;
  /** Moves the cursor (replaces it; a new UIDVALIDITY starts over). */
  putMailboxCursor(installationId: string, accountId: string, cursor: MailboxCursor): Promise<void>;
  /** Owed write-backs (settled entries with writeBackPending), whoever holds them; read-only. */
  listPendingWriteBacks(installationId: string, limit: number): Promise<LedgerEntry[]>;
  /**
   * Takes up to `limit` owed write-backs whose write-back lease is free or expired, for `owner` until
   * `leaseUntil` (atomic: two processes never take the same one, so no note is posted twice).
   */
  claimWriteBacks(installationId: string, req: { owner: string; leaseUntil: string; now: string; limit: number }): Promise<LedgerEntry[]>;
  /** Clears the owed write-backs that were written, each only while its outcome version is unchanged. */
  markWrittenBack(installationId: string, owner: string, done: WriteBackDone[]): Promise<void>;
  /**
   * Gives back write-backs taken by `owner` that could not be written (the next run takes them): the named
   * invoices, or (`{ leaseUntil }`) whatever one take leased, found by its lease stamp: a take whose answer
   * was lost (the connection dropped after the store committed it) says nothing of what it took.
   */
  releaseWriteBacks(installationId: string, owner: string, which: string[] | { leaseUntil: string }): Promise<void>;

  // Parked invoices: not read again until the host changes them (see ParkedInvoice below).
  /**
   * Parks invoices (insert or replace by installation and invoice): runs leave them out of the listing
   * until the host changes them. Each remembers the ledger entry it was judged with (`ledger`, null = none)
   * and `checkedAt`.
   */
  park(installationId: string, items: NewParkedInvoice[], checkedAt: string): Promise<void>;
  /**
   * The installation's parked invoices whose ledger entry is still the one they were parked with (same
   * state, outcome version and version, or still none); the others are no longer parked (and forgotten):
   * a person's re-send or any new outcome lifts a park.
   */
  listParked(installationId: string): Promise<ParkedInvoice[]>;
  /**
   * After a run asked the host which parked invoices changed: those are no longer parked, and every other
   * park of the installation checked before `checkedAt` is known unchanged as of `checkedAt`.
   */
  checkedParked(installationId: string, changed: string[], checkedAt: string): Promise<void>;
}

/** What happened: the log entries of an installation and its runs (with their heartbeats). */
export interface RunLog {
  appendLogs(entries: NewLogEntry[]): Promise<void>;
  listLogs(query: LogQuery): Promise<LogEntry[]>;
  /** True when a log entry with this event exists for the invoice (log-once rules). */
  hasLog(installationId: string, invoiceId: string, event: string): Promise<boolean>;
  /**
   * `hasLog` for many invoices and events at once (a run's page: one statement): the (invoice, event)
   * pairs logged, as `loggedKey(invoiceId, event)`.
   */
  loggedEvents(installationId: string, invoiceIds: string[], events: string[]): Promise<Set<string>>;

  startRun(run: Pick<Run, 'installationId' | 'trigger' | 'startedAt'> & Partial<Pick<Run, 'owner' | 'leaseUntil'>>): Promise<Run>;
  updateRunProgress(runId: string, processed: number, total: number, counts: RunCounts): Promise<void>;
  /**
   * Adds to a running run's counts in one atomic statement (a run split into page jobs: every process adds
   * what its pages settled): each count += delta's, `processed` += `processed`, `total` += `delta.due`.
   * Nothing happens to a run that is not running. `page`: the counts of that page of the run as judged,
   * added once per page: an attempt of a page whose earlier attempt already added them adds nothing.
   * True when added.
   */
  addRunCounts(runId: string, delta: RunCounts, processed: number, opts?: { page?: number }): Promise<boolean>;
  /**
   * The outcomes a run recorded, counted from its log entries: `invoice.sent`, `.drafted`, `.failed`,
   * `.retry` and `.uncertain` with the run's id, leaving out the late announcements of earlier runs'
   * outcomes (`data.announcedLate`). An outcome is recorded with its log entry, so this holds what a
   * process recorded and died before adding to the run's counts (a split run's page).
   */
  countRunOutcomes(runId: string): Promise<OutcomeCounts>;
  /** Renews a running run's lease; false when the run is no longer running (e.g. closed as interrupted). */
  heartbeatRun(runId: string, leaseUntil: string): Promise<boolean>;
  finishRun(runId: string, status: Exclude<RunStatus, 'running'>, counts: RunCounts, error: string | null, finishedAt: string): Promise<Run>;
  /** Closes a run that is still `running` as `interrupted`; null when it is not running any more. */
  interruptRun(runId: string, error: string, finishedAt: string): Promise<Run | null>;
  /** Newest first; `status` filters. */
  listRuns(installationId: string, limit: number, filter?: { status?: RunStatus }): Promise<Run[]>;
  getRun(id: string): Promise<Run | null>;
}

/** Outgoing webhooks, persisted before the first attempt and retried; and the incoming events seen (replays). */
export interface WebhookOutbox {
  createWebhookDelivery(input: NewWebhookDelivery): Promise<WebhookDelivery>;
  getWebhookDelivery(installationId: string, id: string): Promise<WebhookDelivery | null>;
  /** Newest first. */
  listWebhookDeliveries(installationId: string, filter: { status?: WebhookDeliveryStatus; limit: number }): Promise<WebhookDelivery[]>;
  /**
   * Takes up to `limit` `pending` deliveries due at `now` (nextAttemptAt <= now) whose lease is free or
   * expired, for `owner` until `leaseUntil`. Atomic: concurrent dispatchers never take the same one.
   */
  claimDueWebhookDeliveries(req: { now: string; owner: string; leaseUntil: string; limit: number }): Promise<WebhookDelivery[]>;
  /** Takes one delivery whatever its status (a manual redelivery) when its lease is free; null otherwise. */
  claimWebhookDelivery(installationId: string, id: string, req: { now: string; owner: string; leaseUntil: string }): Promise<WebhookDelivery | null>;
  /**
   * Appends the attempt and sets the next status for the owner's claim, releasing it. Returns the new
   * state, or null when the claim is no longer the owner's.
   */
  recordWebhookAttempt(
    id: string,
    owner: string,
    attempt: WebhookAttempt,
    next: { status: WebhookDeliveryStatus; nextAttemptAt: string | null },
  ): Promise<WebhookDelivery | null>;

  /**
   * Remembers an incoming webhook's event id until `keepUntil`; false when it was seen already (a
   * replay). Expired ids are forgotten.
   */
  rememberIncomingEvent(installationId: string, eventId: string, now: string, keepUntil: string): Promise<boolean>;
}

/** What the store keeps per installation for hosts that lack it (accounts, templates), by kind. */
export interface ManagedRecords {
  /** Connector-managed records of one installation and kind, oldest first. */
  listManaged<K extends ManagedKind>(installationId: string, kind: K): Promise<ManagedRecordOf[K][]>;
  getManaged<K extends ManagedKind>(installationId: string, kind: K, id: string): Promise<ManagedRecordOf[K] | null>;
  /** Inserts or replaces (by installation and id); `createdAt` of an existing record is kept. */
  putManaged<K extends ManagedKind>(kind: K, record: ManagedRecordOf[K]): Promise<ManagedRecordOf[K]>;
  /** True when a record was removed. */
  deleteManaged(installationId: string, kind: ManagedKind, id: string): Promise<boolean>;
}

/** The ledger entry a park was judged with: the park holds while the entry is still this one. */
export interface ParkedLedger {
  state: LedgerState;
  outcomeVersion: number;
  version: number;
}

export interface NewParkedInvoice {
  invoiceId: string;
  /** Why it is parked: a skip reason only a host change can lift (`no_recipient`, `no_consent`) or `already_recorded`. */
  reason: string;
  ledger: ParkedLedger | null;
}

/**
 * An invoice runs do not read again until its host record changes (the invoice, or where its customer's
 * e-mail and consent live): `checkedAt` is the instant (connector clock) as of which it is known unchanged.
 */
export interface ParkedInvoice extends NewParkedInvoice {
  checkedAt: string;
}

/**
 * The whole store: the five ports over one database, plus its lifecycle and the purge that crosses
 * them all. The composition root holds a `Store`; a module that uses one aggregate depends on that
 * port (`Ledger`, `RunLog`, …) only.
 */
export interface Store extends Installations, Ledger, RunLog, WebhookOutbox, ManagedRecords {
  readonly kind: 'postgres' | 'mongodb';
  /** Creates/migrates the schema; idempotent and safe to call at every start. */
  migrate(): Promise<void>;
  close(): Promise<void>;
  /**
   * Removes the installation and everything of it in every aggregate: its ledger and mailbox cursors,
   * logs, runs, webhook deliveries and incoming event ids, managed records (audit purge; one transaction
   * on PostgreSQL).
   */
  purgeInstallation(id: string): Promise<void>;
}

/** The ledger's transitions, declared once (both adapters build their conditions from it). */
export { LEDGER_TRANSITIONS, type LedgerOperation, type LedgerTransition, type LedgerGuard } from './ledger-states.ts';

/** The key of an (invoice, event) pair in `Store.loggedEvents`' answer. */
export function loggedKey(invoiceId: string, event: string): string {
  return `${invoiceId}\u0000${event}`;
}

/** The log events `RunLog.countRunOutcomes` counts: `invoice.<state>` of each outcome count. */
export const OUTCOME_EVENTS: readonly string[] = OUTCOME_COUNT_KEYS.map((k) => `invoice.${k}`);

/** `RunLog.countRunOutcomes`' answer from (event, count) pairs; an outcome not among them counts 0. */
export function outcomeCounts(pairs: [event: string, n: number][]): OutcomeCounts {
  const byEvent = new Map(pairs);
  return Object.fromEntries(OUTCOME_COUNT_KEYS.map((k) => [k, byEvent.get(`invoice.${k}`) ?? 0])) as OutcomeCounts;
}
