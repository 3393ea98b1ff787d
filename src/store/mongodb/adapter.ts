/**
 * The store port on MongoDB (official driver). Same semantics as the PostgreSQL adapter; every ledger
 * transition is one single-document conditional write.
 *
 * claim(): `findOneAndUpdate(<key + claimable conditions>, <pipeline>, { upsert: true })`. No entry: the
 * upsert inserts a fresh claim. A claimable entry: it is updated atomically. An entry that exists but is
 * not claimable: the filter matches nothing, the upsert tries to insert the same key and the unique
 * index {installationId, invoiceId} refuses it (E11000) -> null. Concurrent claimers of the same entry
 * are serialised by the document write; each re-evaluates the filter, so exactly one wins.
 */
import crypto from 'node:crypto';
import { MongoClient, MongoServerError, type Collection, type Db, type Document, type Filter } from 'mongodb';
import { emptyCounts } from '../../domain.ts';
import type { LedgerState, Outcome, OutcomeCounts, RunCounts } from '../../domain.ts';
import { ConnectorError } from '../../errors.ts';
import { mergeBounces, recipientsOf } from '../recipients.ts';
import { storedHostKind } from '../host-kind.ts';
import { readableInstallations, settingsForStore, settingsFromStore } from '../settings-on-read.ts';
import { guardsOf, OWNED_STATES, RELEASE_RESTORES, type LedgerGuard, type LedgerOperation } from '../ledger-states.ts';
import type {
  BounceRecord,
  ClaimItem,
  NewParkedInvoice,
  ParkedInvoice,
  ClaimRequest,
  MailboxCursor,
  WriteBackDone,
  Installation,
  LedgerEntry,
  LogEntry,
  LogQuery,
  ManagedKind,
  ManagedRecordOf,
  NewInstallation,
  NewLogEntry,
  NewWebhookDelivery,
  Run,
  RunStatus,
  Store,
  WebhookAttempt,
  WebhookDelivery,
  WebhookDeliveryStatus,
} from '../port.ts';
import { loggedKey, OUTCOME_EVENTS, outcomeCounts } from '../port.ts';

export interface MongoStoreOptions {
  url: string;
  /** Database name; default: the URL's path, else `invoice_courier`. */
  dbName?: string;
  maxConnections?: number;
  log?: (msg: string) => void;
}

type InstallationPatch = Parameters<Store['updateInstallation']>[1];

const DUPLICATE_KEY = 11000;
const UNAVAILABLE_ERRORS = new Set([
  'MongoServerSelectionError',
  'MongoNetworkError',
  'MongoNetworkTimeoutError',
  'MongoTopologyClosedError',
  'MongoNotConnectedError',
  'MongoOperationTimeoutError',
  'MongoPoolClearedError',
]);

export function mapMongoError(e: unknown, what: string): ConnectorError {
  if (e instanceof ConnectorError) return e;
  const name = (e as { name?: string } | null)?.name ?? '';
  const message = e instanceof Error ? e.message : String(e);
  if (UNAVAILABLE_ERRORS.has(name)) {
    return new ConnectorError('store_unavailable', `The database is not reachable (${what}): ${name}`, { cause: e });
  }
  if (e instanceof MongoServerError && e.code === DUPLICATE_KEY) return new ConnectorError('conflict', `Duplicate record (${what})`, { cause: e });
  return new ConnectorError('internal', `Database error (${what}): ${message}`, { cause: e });
}

const isDuplicateKey = (e: unknown): boolean => e instanceof MongoServerError && e.code === DUPLICATE_KEY;

/** Database name from a mongodb:// URL's path, if any. */
export function dbNameFromUrl(url: string): string | null {
  const m = /^mongodb(?:\+srv)?:\/\/[^/]+\/([^?]+)/.exec(url);
  return m?.[1] ? decodeURIComponent(m[1]) : null;
}

/**
 * The URL with a database path: unchanged when it names one, else with `/<dbName>` added, so another
 * user of the URL (Agenda's backend) lands in the same database as the store.
 */
export function mongoUrlWithDatabase(url: string, dbName: string): string {
  if (dbNameFromUrl(url) !== null) return url;
  const m = /^(mongodb(?:\+srv)?:\/\/[^/?]+)\/?(\?.*)?$/.exec(url);
  if (!m) return url;
  return `${m[1]}/${encodeURIComponent(dbName)}${m[2] ?? ''}`;
}

const toDate = (iso: string): Date => {
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) throw new ConnectorError('validation', `Not an ISO instant: ${iso}`);
  return d;
};
const toDateOrNull = (iso: string | null): Date | null => (iso === null ? null : toDate(iso));
const iso = (v: unknown): string => (v as Date).toISOString();
const isoOrNull = (v: unknown): string | null => (v === null || v === undefined ? null : (v as Date).toISOString());
const orNull = <T>(v: T | undefined): T | null => (v === undefined ? null : v);
const escapeRegex = (s: string): string => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

function toInstallation(d: Document): Installation {
  return {
    id: d['_id'] as string,
    hostKind: storedHostKind(d['hostKind']),
    hostUrl: d['hostUrl'],
    hostDatabase: d['hostDatabase'],
    companyId: orNull(d['companyId']),
    integrationLogin: d['integrationLogin'],
    integrationSecret: d['integrationSecret'],
    operatorSecret: orNull(d['operatorSecret']),
    settings: settingsFromStore(String(d['_id']), d['settings'], d['settingsVersion']),
    callbackUrl: orNull(d['callbackUrl']),
    webhookSecret: orNull(d['webhookSecret']),
    apiTokenHash: orNull(d['apiTokenHash']),
    status: d['status'],
    createdAt: iso(d['createdAt']),
    updatedAt: iso(d['updatedAt']),
    version: d['version'],
  };
}

function toLedger(d: Document): LedgerEntry {
  return {
    installationId: d['installationId'],
    invoiceId: d['invoiceId'],
    invoiceNumber: orNull(d['invoiceNumber']),
    state: d['state'],
    owner: orNull(d['owner']),
    leaseUntil: isoOrNull(d['leaseUntil']),
    attempts: d['attempts'] ?? 0,
    messageId: d['messageId'],
    contentHash: orNull(d['contentHash']),
    reason: orNull(d['reason']),
    detail: orNull(d['detail']),
    recipients: recipientsOf(d['recipients']),
    writeBackPending: d['writeBackPending'] ?? false,
    outcomeVersion: d['outcomeVersion'] ?? 0,
    nextAttemptAt: isoOrNull(d['nextAttemptAt']),
    updatedAt: iso(d['updatedAt']),
    version: d['version'] ?? 1,
    draft: d['draft'] ?? false,
    handedOver: d['handedOver'] ?? true,
  };
}

function toLog(d: Document): LogEntry {
  return {
    id: String(d['_id']),
    installationId: d['installationId'],
    runId: orNull(d['runId']),
    at: iso(d['at']),
    level: d['level'],
    event: d['event'],
    invoiceId: orNull(d['invoiceId']),
    invoiceNumber: orNull(d['invoiceNumber']),
    message: d['message'],
    data: orNull(d['data']),
  };
}

function toRun(d: Document): Run {
  return {
    id: d['_id'],
    installationId: d['installationId'],
    trigger: d['trigger'],
    status: d['status'],
    startedAt: iso(d['startedAt']),
    finishedAt: isoOrNull(d['finishedAt']),
    counts: { ...emptyCounts(), ...(d['counts'] as RunCounts) },
    processed: d['processed'] ?? 0,
    total: d['total'] ?? 0,
    error: orNull(d['error']),
    owner: orNull(d['owner']),
    leaseUntil: isoOrNull(d['leaseUntil']),
  };
}

interface GuardValues {
  now?: Date;
  maxAttempts?: number;
  owner?: string;
  deadOwners?: string[];
  expectedLease?: Date;
}

function need<K extends keyof GuardValues>(v: GuardValues, key: K): NonNullable<GuardValues[K]> {
  const x = v[key];
  if (x === undefined) throw new Error(`ledger guard needs ${key}`);
  return x as NonNullable<GuardValues[K]>;
}

/** The filter for one guard of the transition table (src/store/ledger-states.ts). */
function mongoGuard(g: LedgerGuard, v: GuardValues): Filter<Document> {
  switch (g) {
    case 'always':
      return {};
    case 'due':
      return { attempts: { $lt: need(v, 'maxAttempts') }, $or: [{ nextAttemptAt: null }, { nextAttemptAt: { $lte: need(v, 'now') } }] };
    case 'lease_expired':
      return { $or: [{ leaseUntil: null }, { leaseUntil: { $lt: need(v, 'now') } }] };
    case 'owner':
      return { owner: need(v, 'owner') };
    case 'dead_owner':
      return { owner: { $in: need(v, 'deadOwners') } };
    case 'expected_lease':
      return { leaseUntil: need(v, 'expectedLease') };
    case 'bounced':
      return { recipients: { $elemMatch: { bounce: { $type: 'object' } } } };
    case 'was_draft':
      return { draft: true };
    case 'written_back':
      return { writeBackPending: false };
  }
}

/** An operation's condition, derived from the transition table: one `$or` term per state it may start from. */
export function mongoCondition(op: LedgerOperation, v: GuardValues): Filter<Document> {
  return { $or: guardsOf(op).map(([state, guards]) => ({ $and: [{ state }, ...guards.map((g) => mongoGuard(g, v))] })) };
}

/** `release`'s update: back to the state before the claim when the table allows it, else skipped. */
const RELEASE_UPDATE = (now: Date): Document[] => [
  {
    $set: {
      state: { $cond: [{ $in: [{ $ifNull: ['$prevState', null] }, { $literal: RELEASE_RESTORES }] }, '$prevState', { $literal: 'skipped' }] },
      prevState: null,
      owner: null,
      leaseUntil: null,
      updatedAt: { $literal: now },
    },
  },
];

function toWebhookDelivery(d: Document): WebhookDelivery {
  return {
    id: d['_id'] as string,
    installationId: d['installationId'],
    eventType: d['eventType'],
    url: d['url'],
    payload: d['payload'],
    status: d['status'] as WebhookDeliveryStatus,
    attempts: (d['attempts'] ?? []) as WebhookAttempt[],
    nextAttemptAt: isoOrNull(d['nextAttemptAt']),
    expiresAt: iso(d['expiresAt']),
    owner: orNull(d['owner']),
    leaseUntil: isoOrNull(d['leaseUntil']),
    createdAt: iso(d['createdAt']),
    updatedAt: iso(d['updatedAt']),
  };
}

/** The patchable fields but `settings` (written with its version). */
const PATCHABLE: readonly Exclude<keyof InstallationPatch, 'settings'>[] = [
  'operatorSecret',
  'callbackUrl',
  'webhookSecret',
  'apiTokenHash',
  'status',
  'integrationSecret',
  'integrationLogin',
];

export const DEFAULT_MONGO_DB = 'invoice_courier';

export class MongoStore implements Store {
  readonly kind = 'mongodb' as const;
  private readonly client: MongoClient;
  private readonly db: Db;
  private readonly log: (msg: string) => void;

  constructor(opts: MongoStoreOptions) {
    this.log = opts.log ?? (() => undefined);
    // The driver connects lazily on the first operation.
    this.client = new MongoClient(opts.url, {
      maxPoolSize: opts.maxConnections ?? 10,
      serverSelectionTimeoutMS: 10_000,
      connectTimeoutMS: 10_000,
      socketTimeoutMS: 60_000,
    });
    this.db = this.client.db(opts.dbName ?? dbNameFromUrl(opts.url) ?? DEFAULT_MONGO_DB);
  }

  private get installations(): Collection<Document> {
    return this.db.collection('installations');
  }
  private get ledger(): Collection<Document> {
    return this.db.collection('ledger');
  }
  private get logs(): Collection<Document> {
    return this.db.collection('logs');
  }
  private get runs(): Collection<Document> {
    return this.db.collection('runs');
  }
  private get managed(): Collection<Document> {
    return this.db.collection('managed_records');
  }
  private get webhookDeliveries(): Collection<Document> {
    return this.db.collection('webhook_deliveries');
  }
  private get incomingEvents(): Collection<Document> {
    return this.db.collection('incoming_events');
  }
  private get mailboxCursors(): Collection<Document> {
    return this.db.collection('mailbox_cursors');
  }
  private get counters(): Collection<{ _id: string; seq: number }> {
    return this.db.collection<{ _id: string; seq: number }>('counters');
  }

  private async op<T>(what: string, fn: () => Promise<T>): Promise<T> {
    try {
      return await fn();
    } catch (e) {
      throw mapMongoError(e, what);
    }
  }

  async migrate(): Promise<void> {
    await this.op('migrate', async () => {
      // createIndex with an identical spec is a no-op, also when several processes run it at once.
      await this.installations.createIndex({ apiTokenHash: 1 }, { name: 'api_token_hash', partialFilterExpression: { apiTokenHash: { $type: 'string' } } });
      await this.installations.createIndex({ status: 1, createdAt: 1 }, { name: 'status_created' });
      await this.ledger.createIndex({ installationId: 1, invoiceId: 1 }, { name: 'ledger_key', unique: true });
      await this.ledger.createIndex({ installationId: 1, state: 1 }, { name: 'ledger_state' });
      await this.ledger.createIndex({ installationId: 1, state: 1, invoiceId: 1 }, { name: 'ledger_state_cursor' });
      await this.ledger.createIndex({ installationId: 1, messageId: 1 }, { name: 'ledger_message_id' });
      await this.mailboxCursors.createIndex({ installationId: 1, accountId: 1 }, { name: 'mailbox_cursor_key', unique: true });
      await this.runs.createIndex({ installationId: 1, status: 1 }, { name: 'runs_status' });
      await this.incomingEvents.createIndex({ installationId: 1, eventId: 1 }, { name: 'incoming_event_key', unique: true });
      await this.incomingEvents.createIndex({ keepUntil: 1 }, { name: 'incoming_event_expiry' });
      await this.ledger.createIndex({ installationId: 1, updatedAt: 1 }, { name: 'ledger_write_back', partialFilterExpression: { writeBackPending: true } });
      await this.logs.createIndex({ installationId: 1, _id: -1 }, { name: 'logs_newest' });
      await this.logs.createIndex({ installationId: 1, invoiceId: 1, event: 1 }, { name: 'logs_invoice_event' });
      await this.logs.createIndex({ runId: 1 }, { name: 'logs_run', partialFilterExpression: { runId: { $type: 'string' } } });
      await this.runs.createIndex({ installationId: 1, startedAt: -1 }, { name: 'runs_newest' });
      await this.webhookDeliveries.createIndex(
        { status: 1, nextAttemptAt: 1 },
        { name: 'webhook_deliveries_due', partialFilterExpression: { status: 'pending' } },
      );
      await this.webhookDeliveries.createIndex({ installationId: 1, createdAt: -1, _id: -1 }, { name: 'webhook_deliveries_newest' });
      await this.managed.createIndex({ installationId: 1, kind: 1, id: 1 }, { name: 'managed_key', unique: true });
      await this.parked.createIndex({ installationId: 1, invoiceId: 1 }, { name: 'parked_key', unique: true });
      try {
        await this.counters.updateOne({ _id: 'logs' }, { $setOnInsert: { seq: 0 } }, { upsert: true });
      } catch (e) {
        if (!isDuplicateKey(e)) throw e;
      }
    });
  }

  async close(): Promise<void> {
    await this.client.close();
  }

  // ---- installations ----

  async createInstallation(input: NewInstallation): Promise<Installation> {
    const now = new Date();
    const settings = settingsForStore(input.settings);
    const doc: Document = {
      _id: input.id ?? crypto.randomUUID(),
      hostKind: input.hostKind,
      hostUrl: input.hostUrl,
      hostDatabase: input.hostDatabase,
      companyId: input.companyId,
      integrationLogin: input.integrationLogin,
      integrationSecret: input.integrationSecret,
      operatorSecret: input.operatorSecret,
      settings: settings.settings,
      settingsVersion: settings.version,
      callbackUrl: input.callbackUrl,
      webhookSecret: input.webhookSecret,
      apiTokenHash: input.apiTokenHash,
      status: 'active',
      createdAt: now,
      updatedAt: now,
      version: 1,
    };
    await this.op('createInstallation', () => this.installations.insertOne(doc));
    return toInstallation(doc);
  }

  async getInstallation(id: string): Promise<Installation | null> {
    const d = await this.op('getInstallation', () => this.installations.findOne({ _id: id as unknown as Document['_id'] }));
    return d ? toInstallation(d) : null;
  }

  async findInstallationByTokenHash(hash: string): Promise<Installation | null> {
    const d = await this.op('findInstallationByTokenHash', () => this.installations.findOne({ apiTokenHash: hash }));
    return d ? toInstallation(d) : null;
  }

  async listInstallations(filter: { status?: Installation['status'] } = {}): Promise<Installation[]> {
    const q: Filter<Document> = filter.status === undefined ? {} : { status: filter.status };
    const docs = await this.op('listInstallations', () => this.installations.find(q).sort({ createdAt: 1, _id: 1 }).toArray());
    return readableInstallations(docs, toInstallation, this.log);
  }

  async updateInstallation(id: string, patch: InstallationPatch, expectedVersion?: number): Promise<Installation> {
    const set: Document = { updatedAt: new Date() };
    for (const key of PATCHABLE) {
      if (key in patch && patch[key] !== undefined) set[key] = patch[key];
    }
    if (patch.settings !== undefined) {
      const settings = settingsForStore(patch.settings);
      set['settings'] = settings.settings;
      set['settingsVersion'] = settings.version;
    }
    const q: Filter<Document> = { _id: id as unknown as Document['_id'] };
    if (expectedVersion !== undefined) q['version'] = expectedVersion;
    const d = await this.op('updateInstallation', () =>
      this.installations.findOneAndUpdate(q, { $set: set, $inc: { version: 1 } }, { returnDocument: 'after' }),
    );
    if (d) return toInstallation(d);
    const current = await this.getInstallation(id);
    if (!current) throw new ConnectorError('not_found', `Installation ${id} does not exist`);
    throw new ConnectorError('conflict', `Installation ${id} was changed meanwhile (version ${current.version}, expected ${expectedVersion})`, {
      detail: { currentVersion: current.version },
    });
  }

  async purgeInstallation(id: string): Promise<void> {
    await this.op('purgeInstallation', async () => {
      await this.ledger.deleteMany({ installationId: id });
      await this.logs.deleteMany({ installationId: id });
      await this.runs.deleteMany({ installationId: id });
      await this.webhookDeliveries.deleteMany({ installationId: id });
      await this.managed.deleteMany({ installationId: id });
      await this.incomingEvents.deleteMany({ installationId: id });
      await this.mailboxCursors.deleteMany({ installationId: id });
      await this.parked.deleteMany({ installationId: id });
      await this.installations.deleteOne({ _id: id as unknown as Document['_id'] });
    });
  }

  // ---- ledger ----

  async claim(req: ClaimRequest): Promise<LedgerEntry | null> {
    const now = toDate(req.now);
    const filter: Filter<Document> = {
      installationId: req.installationId,
      invoiceId: req.invoiceId,
      ...mongoCondition('claim', { now, maxAttempts: req.maxAttempts }),
    };
    // Pipeline update: expressions read the document as it was (missing fields on insert), and every
    // caller-supplied value is wrapped in $literal so a leading '$' is never read as a field path.
    const update: Document[] = [
      {
        $set: {
          state: { $literal: 'claimed' },
          prevState: { $ifNull: ['$state', null] },
          owner: { $literal: req.owner },
          leaseUntil: { $literal: toDate(req.leaseUntil) },
          // a later version (a posted draft, a re-send after a bounce) keeps the Message-ID it was taken with
          messageId: { $cond: [{ $gt: [{ $ifNull: ['$version', 1] }, 1] }, '$messageId', { $literal: req.messageId }] },
          invoiceNumber: req.invoiceNumber === null ? { $ifNull: ['$invoiceNumber', null] } : { $literal: req.invoiceNumber },
          updatedAt: { $literal: now },
          attempts: { $ifNull: ['$attempts', 0] },
          contentHash: { $ifNull: ['$contentHash', null] },
          reason: { $ifNull: ['$reason', null] },
          detail: { $ifNull: ['$detail', null] },
          recipients: { $ifNull: ['$recipients', { $literal: [] }] },
          writeBackPending: { $ifNull: ['$writeBackPending', false] },
          nextAttemptAt: { $ifNull: ['$nextAttemptAt', null] },
          version: { $ifNull: ['$version', 1] },
          draft: { $literal: req.draft ?? false },
        },
      },
    ];
    try {
      const d = await this.ledger.findOneAndUpdate(filter, update, { upsert: true, returnDocument: 'after' });
      return d ? toLedger(d) : null;
    } catch (e) {
      if (isDuplicateKey(e)) return null; // the entry exists and is not claimable
      throw mapMongoError(e, 'claim');
    }
  }

  async claimMany(req: Omit<ClaimRequest, 'invoiceId' | 'invoiceNumber' | 'messageId' | 'draft'>, items: ClaimItem[]): Promise<LedgerEntry[]> {
    // MongoDB has no multi-document upsert with a per-document condition that returns the documents won:
    // each invoice is claimed by `claim`'s own atomic findOneAndUpdate, a few at a time.
    const unique = [...new Map(items.map((i) => [i.invoiceId, i])).values()];
    const won: LedgerEntry[] = [];
    for (let i = 0; i < unique.length; i += 16) {
      const part = await Promise.all(unique.slice(i, i + 16).map((item) => this.claim({ ...req, ...item })));
      for (const e of part) if (e) won.push(e);
    }
    return won;
  }

  async claimNewVersion(req: ClaimRequest): Promise<LedgerEntry | null> {
    const filter: Filter<Document> = { installationId: req.installationId, invoiceId: req.invoiceId, ...mongoCondition('claimNewVersion', {}) };
    const update: Document[] = [
      {
        $set: {
          prevState: '$state',
          state: { $literal: 'claimed' },
          owner: { $literal: req.owner },
          leaseUntil: { $literal: toDate(req.leaseUntil) },
          messageId: { $literal: req.messageId },
          invoiceNumber: req.invoiceNumber === null ? { $ifNull: ['$invoiceNumber', null] } : { $literal: req.invoiceNumber },
          attempts: { $literal: 0 },
          contentHash: { $literal: null },
          reason: { $literal: null },
          detail: { $literal: null },
          recipients: { $literal: [] },
          writeBackPending: { $literal: false },
          nextAttemptAt: { $literal: null },
          version: { $add: [{ $ifNull: ['$version', 1] }, 1] },
          draft: { $literal: req.draft ?? false },
          updatedAt: { $literal: toDate(req.now) },
        },
      },
    ];
    const d = await this.op('claimNewVersion', () => this.ledger.findOneAndUpdate(filter, update, { returnDocument: 'after' }));
    return d ? toLedger(d) : null;
  }

  async markSending(installationId: string, invoiceId: string, owner: string, contentHash: string, leaseUntil: string): Promise<boolean> {
    const r = await this.op('markSending', () =>
      this.ledger.updateOne(
        { installationId, invoiceId, ...mongoCondition('markSending', { owner }) },
        { $set: { state: 'sending', contentHash, leaseUntil: toDate(leaseUntil), handedOver: false, updatedAt: new Date() }, $inc: { attempts: 1 } },
      ),
    );
    return r.matchedCount === 1;
  }

  async markHandedOver(installationId: string, invoiceId: string, owner: string): Promise<boolean> {
    const r = await this.op('markHandedOver', () =>
      this.ledger.updateOne(
        { installationId, invoiceId, ...mongoCondition('markHandedOver', { owner }) },
        { $set: { handedOver: true, updatedAt: new Date() } },
      ),
    );
    return r.matchedCount === 1;
  }

  async recordOutcome(
    installationId: string,
    invoiceId: string,
    owner: string,
    outcome: Outcome,
    opts: { writeBack: boolean; nextAttemptAt: string | null; log?: NewLogEntry },
  ): Promise<boolean> {
    const r = await this.op('recordOutcome', () =>
      this.ledger.updateOne(
        { installationId, invoiceId, ...mongoCondition('recordOutcome', { owner }) },
        {
          $inc: { outcomeVersion: 1 },
          $set: {
            state: outcome.state,
            prevState: null,
            reason: outcome.reason,
            detail: outcome.detail,
            recipients: outcome.recipients,
            writeBackPending: opts.writeBack,
            nextAttemptAt: toDateOrNull(opts.nextAttemptAt),
            owner: null,
            leaseUntil: null,
            updatedAt: new Date(),
          },
        },
      ),
    );
    // Not atomic here (no multi-document transaction): the log entry follows the recorded outcome.
    if (r.matchedCount === 1 && opts.log) await this.appendLogs([opts.log]);
    return r.matchedCount === 1;
  }

  async release(installationId: string, invoiceId: string, owner: string): Promise<void> {
    await this.op('release', () => this.ledger.updateOne({ installationId, invoiceId, ...mongoCondition('release', { owner }) }, RELEASE_UPDATE(new Date())));
  }

  async getLedger(installationId: string, invoiceIds: string[]): Promise<LedgerEntry[]> {
    if (invoiceIds.length === 0) return [];
    const docs = await this.op('getLedger', () => this.ledger.find({ installationId, invoiceId: { $in: invoiceIds } }).toArray());
    return docs.map(toLedger);
  }

  async listLedger(installationId: string, filter: { states?: LedgerState[]; owner?: string; after?: string; limit: number }): Promise<LedgerEntry[]> {
    // Invoice-id order on the ledger_key / ledger_state_cursor index; the cursor is stable while entries change.
    const q: Filter<Document> = { installationId };
    if (filter.states !== undefined) q['state'] = { $in: filter.states };
    if (filter.owner !== undefined) q['owner'] = filter.owner;
    if (filter.after !== undefined) q['invoiceId'] = { $gt: filter.after };
    const docs = await this.op('listLedger', () => this.ledger.find(q).sort({ invoiceId: 1 }).limit(filter.limit).toArray());
    return docs.map(toLedger);
  }

  async releaseDeadOwners(installationId: string, owners: string[], now: string): Promise<{ released: number; expired: number }> {
    if (owners.length === 0) return { released: 0, expired: 0 };
    const at = toDate(now);
    const released = await this.op('releaseDeadOwners', () =>
      this.ledger.updateMany({ installationId, ...mongoCondition('releaseDead', { deadOwners: owners }) }, RELEASE_UPDATE(new Date())),
    );
    const expired = await this.op('releaseDeadOwners', () =>
      this.ledger.updateMany(
        { installationId, ...mongoCondition('expireDead', { deadOwners: owners }) },
        { $set: { leaseUntil: new Date(at.getTime() - 1), updatedAt: new Date() } },
      ),
    );
    await this.op('releaseDeadOwners', () =>
      this.ledger.updateMany({ installationId, writeBackOwner: { $in: owners } }, { $set: { writeBackOwner: null, writeBackLeaseUntil: null } }),
    );
    return { released: released.modifiedCount, expired: expired.modifiedCount };
  }

  async listExpiredSending(installationId: string, now: string): Promise<LedgerEntry[]> {
    const docs = await this.op('listExpiredSending', () =>
      this.ledger
        .find({ installationId, state: 'sending', leaseUntil: { $lt: toDate(now) } })
        .sort({ leaseUntil: 1, invoiceId: 1 })
        .toArray(),
    );
    return docs.map(toLedger);
  }

  async resolveInterrupted(installationId: string, invoiceId: string, expectedLeaseUntil: string, outcome: Outcome, writeBack: boolean): Promise<boolean> {
    const r = await this.op('resolveInterrupted', () =>
      this.ledger.updateOne(
        { installationId, invoiceId, ...mongoCondition('resolveInterrupted', { expectedLease: toDate(expectedLeaseUntil) }) },
        {
          $inc: { outcomeVersion: 1 },
          $set: {
            state: outcome.state,
            prevState: null,
            reason: outcome.reason,
            detail: outcome.detail,
            recipients: outcome.recipients,
            writeBackPending: writeBack,
            nextAttemptAt: null,
            owner: null,
            leaseUntil: null,
            updatedAt: new Date(),
          },
        },
      ),
    );
    return r.matchedCount === 1;
  }

  async allowResend(installationId: string, invoiceId: string, next?: { messageId: string }): Promise<boolean> {
    // A bounced `sent` entry becomes its next version (with the new Message-ID when given).
    const wasSent = { $eq: ['$state', 'sent'] };
    const r = await this.op('allowResend', () =>
      this.ledger.updateOne({ installationId, invoiceId, ...mongoCondition('allowResend', {}) }, [
        {
          $set: {
            version: { $cond: [wasSent, { $add: [{ $ifNull: ['$version', 1] }, 1] }, { $ifNull: ['$version', 1] }] },
            messageId: next ? { $cond: [wasSent, { $literal: next.messageId }, '$messageId'] } : '$messageId',
          },
        },
        { $set: { state: 'retry', prevState: null, attempts: 0, nextAttemptAt: null, owner: null, leaseUntil: null, updatedAt: { $literal: new Date() } } },
      ]),
    );
    return r.matchedCount === 1;
  }

  async findLedgerByMessageId(installationId: string, messageId: string): Promise<LedgerEntry | null> {
    const d = await this.op('findLedgerByMessageId', () => this.ledger.findOne({ installationId, messageId }));
    return d ? toLedger(d) : null;
  }

  async recordBounces(installationId: string, invoiceId: string, messageId: string, bounces: BounceRecord[]): Promise<string[]> {
    // Read, merge, write only while the recipients are unchanged (another reader records nothing twice).
    for (let attempt = 0; attempt < 5; attempt++) {
      const d = await this.op('recordBounces', () => this.ledger.findOne({ installationId, invoiceId, messageId, state: 'sent' }));
      if (!d) return [];
      const stored: unknown = d['recipients'] ?? [];
      const { recipients, added } = mergeBounces(recipientsOf(stored), bounces);
      if (added.length === 0) return [];
      const r = await this.op('recordBounces', () =>
        this.ledger.updateOne({ installationId, invoiceId, messageId, state: 'sent', recipients: stored }, { $set: { recipients, updatedAt: new Date() } }),
      );
      if (r.matchedCount === 1) return added;
    }
    throw new ConnectorError('conflict', `The ledger entry of invoice ${invoiceId} kept changing while its bounces were recorded`);
  }

  async getMailboxCursor(installationId: string, accountId: string): Promise<MailboxCursor | null> {
    const d = await this.op('getMailboxCursor', () => this.mailboxCursors.findOne({ installationId, accountId }));
    return d ? { uidValidity: String(d['uidValidity']), lastUid: Number(d['lastUid']) } : null;
  }

  async putMailboxCursor(installationId: string, accountId: string, cursor: MailboxCursor): Promise<void> {
    await this.op('putMailboxCursor', () =>
      this.mailboxCursors.updateOne(
        { installationId, accountId },
        { $set: { uidValidity: cursor.uidValidity, lastUid: cursor.lastUid, updatedAt: new Date() } },
        { upsert: true },
      ),
    );
  }

  async listPendingWriteBacks(installationId: string, limit: number): Promise<LedgerEntry[]> {
    const docs = await this.op('listPendingWriteBacks', () =>
      this.ledger
        .find({ installationId, writeBackPending: true, state: { $nin: [...OWNED_STATES] } })
        .sort({ updatedAt: 1, invoiceId: 1 })
        .limit(limit)
        .toArray(),
    );
    return docs.map(toLedger);
  }

  async claimWriteBacks(installationId: string, req: { owner: string; leaseUntil: string; now: string; limit: number }): Promise<LedgerEntry[]> {
    // One conditional write per entry: of two processes taking the same one, exactly one matches.
    const now = toDate(req.now);
    const free: Filter<Document> = {
      installationId,
      writeBackPending: true,
      state: { $nin: [...OWNED_STATES] },
      $or: [{ writeBackLeaseUntil: null }, { writeBackLeaseUntil: { $lt: now } }],
    };
    const candidates = await this.op('claimWriteBacks', () =>
      this.ledger
        .find(free, { projection: { invoiceId: 1 } })
        .sort({ updatedAt: 1, invoiceId: 1 })
        .limit(req.limit)
        .toArray(),
    );
    const taken: LedgerEntry[] = [];
    for (const c of candidates) {
      const d = await this.op('claimWriteBacks', () =>
        this.ledger.findOneAndUpdate(
          { ...free, invoiceId: c['invoiceId'] },
          { $set: { writeBackOwner: req.owner, writeBackLeaseUntil: toDate(req.leaseUntil) } },
          { returnDocument: 'after' },
        ),
      );
      if (d) taken.push(toLedger(d));
    }
    return taken;
  }

  async markWrittenBack(installationId: string, owner: string, done: WriteBackDone[]): Promise<void> {
    if (done.length === 0) return;
    await this.op('markWrittenBack', () =>
      this.ledger.bulkWrite(
        done.map((d) => ({
          updateOne: {
            filter: {
              installationId,
              invoiceId: d.invoiceId,
              writeBackOwner: owner,
              ...(d.outcomeVersion === 0 ? { $or: [{ outcomeVersion: 0 }, { outcomeVersion: null }] } : { outcomeVersion: d.outcomeVersion }),
            },
            update: { $set: { writeBackPending: false, writeBackOwner: null, writeBackLeaseUntil: null } },
          },
        })),
        { ordered: false },
      ),
    );
  }

  async releaseWriteBacks(installationId: string, owner: string, which: string[] | { leaseUntil: string }): Promise<void> {
    if (Array.isArray(which) && which.length === 0) return;
    const taken = Array.isArray(which) ? { invoiceId: { $in: which } } : { writeBackLeaseUntil: toDate(which.leaseUntil) };
    await this.op('releaseWriteBacks', () =>
      this.ledger.updateMany({ installationId, writeBackOwner: owner, ...taken }, { $set: { writeBackOwner: null, writeBackLeaseUntil: null } }),
    );
  }

  async rememberIncomingEvent(installationId: string, eventId: string, now: string, keepUntil: string): Promise<boolean> {
    await this.op('rememberIncomingEvent', () => this.incomingEvents.deleteMany({ keepUntil: { $lt: toDate(now) } }));
    try {
      await this.incomingEvents.insertOne({ installationId, eventId, keepUntil: toDate(keepUntil) });
      return true;
    } catch (e) {
      if (isDuplicateKey(e)) return false;
      throw mapMongoError(e, 'rememberIncomingEvent');
    }
  }

  // ---- logs ----

  async appendLogs(entries: NewLogEntry[]): Promise<void> {
    if (entries.length === 0) return;
    await this.op('appendLogs', async () => {
      // Numeric, strictly increasing ids (as in PostgreSQL) so `before` paging is stable across processes.
      const counter = await this.counters.findOneAndUpdate({ _id: 'logs' }, { $inc: { seq: entries.length } }, { upsert: true, returnDocument: 'after' });
      const last = counter!.seq;
      const first = last - entries.length + 1;
      await this.logs.insertMany(
        entries.map((e, i) => ({
          _id: first + i,
          installationId: e.installationId,
          runId: e.runId,
          at: toDate(e.at),
          level: e.level,
          event: e.event,
          invoiceId: e.invoiceId,
          invoiceNumber: e.invoiceNumber,
          message: e.message,
          data: e.data,
        })) as unknown as Document[],
      );
    });
  }

  async listLogs(query: LogQuery): Promise<LogEntry[]> {
    const q: Filter<Document> = { installationId: query.installationId };
    if (query.from !== undefined || query.to !== undefined) {
      const range: Document = {};
      if (query.from !== undefined) range['$gte'] = toDate(query.from);
      if (query.to !== undefined) range['$lte'] = toDate(query.to);
      q['at'] = range;
    }
    if (query.level !== undefined) q['level'] = query.level;
    if (query.event !== undefined) q['event'] = query.event;
    if (query.runId !== undefined) q['runId'] = query.runId;
    if (query.invoiceNumber !== undefined) q['invoiceNumber'] = { $regex: escapeRegex(query.invoiceNumber), $options: 'i' };
    if (query.before !== undefined) {
      if (!/^\d{1,15}$/.test(query.before)) throw new ConnectorError('validation', 'before must be a log entry id', { field: 'before' });
      (q as Document)['_id'] = { $lt: Number(query.before) };
    }
    const docs = await this.op('listLogs', () => this.logs.find(q).sort({ _id: -1 }).limit(query.limit).toArray());
    return docs.map(toLog);
  }

  async hasLog(installationId: string, invoiceId: string, event: string): Promise<boolean> {
    const d = await this.op('hasLog', () => this.logs.findOne({ installationId, invoiceId, event }, { projection: { _id: 1 } }));
    return d !== null;
  }

  async loggedEvents(installationId: string, invoiceIds: string[], events: string[]): Promise<Set<string>> {
    if (invoiceIds.length === 0 || events.length === 0) return new Set();
    const docs = await this.op('loggedEvents', () =>
      this.logs
        .find(
          { installationId, invoiceId: { $in: [...new Set(invoiceIds)] }, event: { $in: [...new Set(events)] } },
          { projection: { _id: 0, invoiceId: 1, event: 1 } },
        )
        .toArray(),
    );
    return new Set(docs.map((d) => loggedKey(d['invoiceId'] as string, d['event'] as string)));
  }

  // ---- runs ----

  async startRun(run: Pick<Run, 'installationId' | 'trigger' | 'startedAt'> & Partial<Pick<Run, 'owner' | 'leaseUntil'>>): Promise<Run> {
    const doc: Document = {
      _id: crypto.randomUUID(),
      installationId: run.installationId,
      trigger: run.trigger,
      status: 'running',
      startedAt: toDate(run.startedAt),
      finishedAt: null,
      counts: emptyCounts(),
      processed: 0,
      total: 0,
      error: null,
      owner: run.owner ?? null,
      leaseUntil: run.leaseUntil ? toDate(run.leaseUntil) : null,
    };
    await this.op('startRun', () => this.runs.insertOne(doc));
    return toRun(doc);
  }

  async heartbeatRun(runId: string, leaseUntil: string): Promise<boolean> {
    const r = await this.op('heartbeatRun', () =>
      this.runs.updateOne({ _id: runId as unknown as Document['_id'], status: 'running' }, { $set: { leaseUntil: toDate(leaseUntil) } }),
    );
    return r.matchedCount === 1;
  }

  async interruptRun(runId: string, error: string, finishedAt: string): Promise<Run | null> {
    const d = await this.op('interruptRun', () =>
      this.runs.findOneAndUpdate(
        { _id: runId as unknown as Document['_id'], status: 'running' },
        { $set: { status: 'interrupted', error, finishedAt: toDate(finishedAt), leaseUntil: null } },
        { returnDocument: 'after' },
      ),
    );
    return d ? toRun(d) : null;
  }

  async updateRunProgress(runId: string, processed: number, total: number, counts: RunCounts): Promise<void> {
    await this.op('updateRunProgress', () =>
      this.runs.updateOne({ _id: runId as unknown as Document['_id'], status: 'running' }, { $set: { processed, total, counts } }),
    );
  }

  async addRunCounts(runId: string, delta: RunCounts, processed: number, opts: { page?: number } = {}): Promise<boolean> {
    // $inc is atomic on the document: concurrent adds of several processes are all kept; a page's counts
    // only while the document does not list that page yet (the filter and $addToSet in one update).
    const inc: Record<string, number> = { processed, total: delta.due };
    for (const [k, v] of Object.entries(delta)) inc[`counts.${k}`] = v;
    const page = opts.page;
    const result = await this.op('addRunCounts', () =>
      this.runs.updateOne(
        { _id: runId as unknown as Document['_id'], status: 'running', ...(page === undefined ? {} : { countedPages: { $ne: page } }) },
        page === undefined ? { $inc: inc } : { $inc: inc, $addToSet: { countedPages: page } },
      ),
    );
    return result.modifiedCount > 0;
  }

  async countRunOutcomes(runId: string): Promise<OutcomeCounts> {
    const groups = await this.op('countRunOutcomes', () =>
      this.logs
        .aggregate<{ _id: string; n: number }>([
          { $match: { runId, event: { $in: [...OUTCOME_EVENTS] }, 'data.announcedLate': { $ne: true } } },
          { $group: { _id: '$event', n: { $sum: 1 } } },
        ])
        .toArray(),
    );
    return outcomeCounts(groups.map((g) => [g._id, g.n]));
  }

  async finishRun(runId: string, status: Exclude<RunStatus, 'running'>, counts: RunCounts, error: string | null, finishedAt: string): Promise<Run> {
    const d = await this.op('finishRun', () =>
      this.runs.findOneAndUpdate(
        { _id: runId as unknown as Document['_id'] },
        { $set: { status, counts, error, finishedAt: toDate(finishedAt), leaseUntil: null } },
        { returnDocument: 'after' },
      ),
    );
    if (!d) throw new ConnectorError('not_found', `Run ${runId} does not exist`);
    return toRun(d);
  }

  async listRuns(installationId: string, limit: number, filter: { status?: RunStatus } = {}): Promise<Run[]> {
    const docs = await this.op('listRuns', () =>
      this.runs
        .find({ installationId, ...(filter.status ? { status: filter.status } : {}) })
        .sort({ startedAt: -1, _id: 1 })
        .limit(limit)
        .toArray(),
    );
    return docs.map(toRun);
  }

  async getRun(id: string): Promise<Run | null> {
    const d = await this.op('getRun', () => this.runs.findOne({ _id: id as unknown as Document['_id'] }));
    return d ? toRun(d) : null;
  }
  // ---- connector-managed accounts and templates ----

  async listManaged<K extends ManagedKind>(installationId: string, kind: K): Promise<ManagedRecordOf[K][]> {
    const docs = await this.op('listManaged', () => this.managed.find({ installationId, kind }).sort({ createdAt: 1, id: 1 }).toArray());
    return docs.map((d) => d['record'] as ManagedRecordOf[K]);
  }

  async getManaged<K extends ManagedKind>(installationId: string, kind: K, id: string): Promise<ManagedRecordOf[K] | null> {
    const d = await this.op('getManaged', () => this.managed.findOne({ installationId, kind, id }));
    return d ? (d['record'] as ManagedRecordOf[K]) : null;
  }

  async putManaged<K extends ManagedKind>(kind: K, record: ManagedRecordOf[K]): Promise<ManagedRecordOf[K]> {
    const key = { installationId: record.installationId, kind, id: record.id };
    const existing = await this.op('putManaged', () => this.managed.findOne(key));
    const createdAt = existing ? (existing['record'] as ManagedRecordOf[K]).createdAt : record.createdAt;
    const saved = { ...record, createdAt };
    await this.op('putManaged', () =>
      this.managed.updateOne(
        key,
        { $set: { record: saved, updatedAt: new Date(record.updatedAt) }, $setOnInsert: { createdAt: new Date(createdAt) } },
        { upsert: true },
      ),
    );
    return saved;
  }

  async deleteManaged(installationId: string, kind: ManagedKind, id: string): Promise<boolean> {
    const r = await this.op('deleteManaged', () => this.managed.deleteOne({ installationId, kind, id }));
    return r.deletedCount > 0;
  }

  // ---- webhook deliveries ----

  async createWebhookDelivery(input: NewWebhookDelivery): Promise<WebhookDelivery> {
    const createdAt = toDate(input.createdAt);
    const doc: Document = {
      _id: input.id,
      installationId: input.installationId,
      eventType: input.eventType,
      url: input.url,
      payload: input.payload,
      status: 'pending',
      attempts: [],
      nextAttemptAt: toDateOrNull(input.nextAttemptAt),
      expiresAt: toDate(input.expiresAt),
      owner: null,
      leaseUntil: null,
      createdAt,
      updatedAt: createdAt,
    };
    await this.op('createWebhookDelivery', () => this.webhookDeliveries.insertOne(doc));
    return toWebhookDelivery(doc);
  }

  async getWebhookDelivery(installationId: string, id: string): Promise<WebhookDelivery | null> {
    const d = await this.op('getWebhookDelivery', () => this.webhookDeliveries.findOne({ _id: id as unknown as Document['_id'], installationId }));
    return d ? toWebhookDelivery(d) : null;
  }

  async listWebhookDeliveries(installationId: string, filter: { status?: WebhookDeliveryStatus; limit: number }): Promise<WebhookDelivery[]> {
    const q: Filter<Document> = { installationId, ...(filter.status ? { status: filter.status } : {}) };
    const docs = await this.op('listWebhookDeliveries', () => this.webhookDeliveries.find(q).sort({ createdAt: -1, _id: -1 }).limit(filter.limit).toArray());
    return docs.map(toWebhookDelivery);
  }

  async claimDueWebhookDeliveries(req: { now: string; owner: string; leaseUntil: string; limit: number }): Promise<WebhookDelivery[]> {
    const now = toDate(req.now);
    const claimed: WebhookDelivery[] = [];
    // One conditional single-document write per delivery: two dispatchers never take the same one.
    while (claimed.length < req.limit) {
      const d = await this.op('claimDueWebhookDeliveries', () =>
        this.webhookDeliveries.findOneAndUpdate(
          { status: 'pending', nextAttemptAt: { $lte: now }, $or: [{ leaseUntil: null }, { leaseUntil: { $lt: now } }] },
          { $set: { owner: req.owner, leaseUntil: toDate(req.leaseUntil), updatedAt: new Date() } },
          { sort: { nextAttemptAt: 1, _id: 1 }, returnDocument: 'after' },
        ),
      );
      if (!d) break;
      claimed.push(toWebhookDelivery(d));
    }
    return claimed;
  }

  async claimWebhookDelivery(installationId: string, id: string, req: { now: string; owner: string; leaseUntil: string }): Promise<WebhookDelivery | null> {
    const now = toDate(req.now);
    const d = await this.op('claimWebhookDelivery', () =>
      this.webhookDeliveries.findOneAndUpdate(
        { _id: id as unknown as Document['_id'], installationId, $or: [{ leaseUntil: null }, { leaseUntil: { $lt: now } }] },
        { $set: { owner: req.owner, leaseUntil: toDate(req.leaseUntil), updatedAt: new Date() } },
        { returnDocument: 'after' },
      ),
    );
    return d ? toWebhookDelivery(d) : null;
  }

  async recordWebhookAttempt(
    id: string,
    owner: string,
    attempt: WebhookAttempt,
    next: { status: WebhookDeliveryStatus; nextAttemptAt: string | null },
  ): Promise<WebhookDelivery | null> {
    const d = await this.op('recordWebhookAttempt', () =>
      this.webhookDeliveries.findOneAndUpdate(
        { _id: id as unknown as Document['_id'], owner },
        {
          $push: { attempts: attempt },
          $set: { status: next.status, nextAttemptAt: toDateOrNull(next.nextAttemptAt), owner: null, leaseUntil: null, updatedAt: new Date() },
        } as Document,
        { returnDocument: 'after' },
      ),
    );
    return d ? toWebhookDelivery(d) : null;
  }

  // ---- Parked invoices (issue 12 item 5) ----

  private get parked(): Collection<Document> {
    return this.db.collection('parked_invoices');
  }

  async park(installationId: string, items: NewParkedInvoice[], checkedAt: string): Promise<void> {
    if (items.length === 0) return;
    await this.op('park', () =>
      this.parked.bulkWrite(
        items.map((i) => ({
          updateOne: {
            filter: { installationId, invoiceId: i.invoiceId },
            update: {
              $set: { installationId, invoiceId: i.invoiceId, reason: i.reason, ledger: i.ledger ? { ...i.ledger } : null, checkedAt: toDate(checkedAt) },
            },
            upsert: true,
          },
        })),
        { ordered: false },
      ),
    );
  }

  async listParked(installationId: string): Promise<ParkedInvoice[]> {
    return this.op('listParked', async () => {
      const parks = await this.parked.find({ installationId }).sort({ invoiceId: 1 }).toArray();
      if (parks.length === 0) return [];
      const entries = new Map<string, Document>();
      for (const d of await this.ledger
        .find(
          { installationId, invoiceId: { $in: parks.map((p) => p['invoiceId'] as string) } },
          { projection: { invoiceId: 1, state: 1, outcomeVersion: 1, version: 1 } },
        )
        .toArray()) {
        entries.set(d['invoiceId'] as string, d);
      }
      const held: ParkedInvoice[] = [];
      const stale: string[] = [];
      for (const p of parks) {
        const entry = entries.get(p['invoiceId'] as string);
        const was = p['ledger'] as ParkedInvoice['ledger'];
        // A park whose ledger entry moved on (a re-send allowed, a new outcome, a claim) is forgotten.
        const holds =
          was === null
            ? entry === undefined
            : entry !== undefined &&
              entry['state'] === was.state &&
              ((entry['outcomeVersion'] as number | undefined) ?? 0) === was.outcomeVersion &&
              ((entry['version'] as number | undefined) ?? 1) === was.version;
        if (!holds) stale.push(p['invoiceId'] as string);
        else held.push({ invoiceId: p['invoiceId'] as string, reason: p['reason'] as string, ledger: was, checkedAt: (p['checkedAt'] as Date).toISOString() });
      }
      if (stale.length) await this.parked.deleteMany({ installationId, invoiceId: { $in: stale } });
      return held;
    });
  }

  async checkedParked(installationId: string, changed: string[], checkedAt: string): Promise<void> {
    await this.op('checkedParked', async () => {
      if (changed.length) await this.parked.deleteMany({ installationId, invoiceId: { $in: changed } });
      await this.parked.updateMany({ installationId, checkedAt: { $lt: toDate(checkedAt) } }, { $set: { checkedAt: toDate(checkedAt) } });
    });
  }
}
