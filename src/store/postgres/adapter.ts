/**
 * The store port on PostgreSQL (node-postgres Pool). Every ledger transition is one conditional
 * statement, so the claim rules hold with any number of processes sharing the database.
 */
import crypto from 'node:crypto';
import pg from 'pg';
import { emptyCounts } from '../../domain.ts';
import type { LedgerState, Outcome, OutcomeCounts, RunCounts } from '../../domain.ts';
import { ConnectorError } from '../../errors.ts';
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
import { migrate } from './schema.ts';
import { mergeBounces, recipientsOf } from '../recipients.ts';
import { storedHostKind } from '../host-kind.ts';
import { readableInstallations, settingsForStore, settingsFromStore } from '../settings-on-read.ts';
import { guardsOf, OWNED_STATES, RELEASE_RESTORES, type LedgerGuard, type LedgerOperation } from '../ledger-states.ts';
import { Coalescer } from './coalesce.ts';

export interface PostgresStoreOptions {
  url: string;
  /** Pool size; default 10. */
  maxConnections?: number;
  log?: (msg: string) => void;
  /** Per-statement timeout; default 30 s. */
  statementTimeoutMs?: number;
}

type Row = Record<string, unknown>;
type InstallationPatch = Parameters<Store['updateInstallation']>[1];

/** pg error codes / Node errno values that mean "the database cannot be reached or is going away". */
const UNAVAILABLE_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ENOTFOUND',
  'ETIMEDOUT',
  'EHOSTUNREACH',
  'EPIPE',
  'EAI_AGAIN',
  '57P01', // admin_shutdown
  '57P02', // crash_shutdown
  '57P03', // cannot_connect_now
  '53300', // too_many_connections
  '3D000', // invalid_catalog_name (database does not exist)
  '28P01', // invalid_password
  '28000', // invalid_authorization_specification
  '57014', // query_canceled (statement timeout)
]);

export function mapPgError(e: unknown, what: string): ConnectorError {
  if (e instanceof ConnectorError) return e;
  const code = (e as { code?: string } | null)?.code;
  const message = e instanceof Error ? e.message : String(e);
  if (
    (code !== undefined && (UNAVAILABLE_CODES.has(code) || code.startsWith('08'))) ||
    /Connection terminated|timeout exceeded when trying to connect|Client has encountered a connection error|pool.*(ended|end on)/i.test(message)
  ) {
    return new ConnectorError('store_unavailable', `The database is not reachable (${what}): ${code ?? message}`, { cause: e });
  }
  if (code === '23505') return new ConnectorError('conflict', `Duplicate record (${what})`, { cause: e });
  return new ConnectorError('internal', `Database error (${what}): ${code ?? ''} ${message}`.trim(), { cause: e });
}

const iso = (v: unknown): string => (v as Date).toISOString();
const isoOrNull = (v: unknown): string | null => (v === null || v === undefined ? null : (v as Date).toISOString());
const str = (v: unknown): string | null => (v === null || v === undefined ? null : String(v));

function toInstallation(r: Row): Installation {
  return {
    id: r['id'] as string,
    hostKind: storedHostKind(r['host_kind']),
    hostUrl: r['host_url'] as string,
    hostDatabase: r['host_database'] as string,
    companyId: str(r['company_id']),
    integrationLogin: r['integration_login'] as string,
    integrationSecret: r['integration_secret'] as Installation['integrationSecret'],
    operatorSecret: (r['operator_secret'] ?? null) as Installation['operatorSecret'],
    settings: settingsFromStore(r['id'] as string, r['settings'], r['settings_version']),
    callbackUrl: str(r['callback_url']),
    webhookSecret: (r['webhook_secret'] ?? null) as Installation['webhookSecret'],
    apiTokenHash: str(r['api_token_hash']),
    status: r['status'] as Installation['status'],
    createdAt: iso(r['created_at']),
    updatedAt: iso(r['updated_at']),
    version: r['version'] as number,
  };
}

function toLedger(r: Row): LedgerEntry {
  return {
    installationId: r['installation_id'] as string,
    invoiceId: r['invoice_id'] as string,
    invoiceNumber: str(r['invoice_number']),
    state: r['state'] as LedgerState,
    owner: str(r['owner']),
    leaseUntil: isoOrNull(r['lease_until']),
    attempts: r['attempts'] as number,
    messageId: r['message_id'] as string,
    contentHash: str(r['content_hash']),
    reason: (r['reason'] ?? null) as LedgerEntry['reason'],
    detail: str(r['detail']),
    recipients: recipientsOf(r['recipients']),
    writeBackPending: r['write_back_pending'] as boolean,
    outcomeVersion: (r['outcome_version'] as number | undefined) ?? 0,
    nextAttemptAt: isoOrNull(r['next_attempt_at']),
    updatedAt: iso(r['updated_at']),
    version: (r['version'] as number | undefined) ?? 1,
    draft: (r['draft'] as boolean | undefined) ?? false,
    handedOver: (r['handed_over'] as boolean | undefined) ?? true,
  };
}

function toLog(r: Row): LogEntry {
  return {
    id: String(r['id']),
    installationId: r['installation_id'] as string,
    runId: str(r['run_id']),
    at: iso(r['at']),
    level: r['level'] as LogEntry['level'],
    event: r['event'] as string,
    invoiceId: str(r['invoice_id']),
    invoiceNumber: str(r['invoice_number']),
    message: r['message'] as string,
    data: (r['data'] ?? null) as LogEntry['data'],
  };
}

function toRun(r: Row): Run {
  return {
    id: r['id'] as string,
    installationId: r['installation_id'] as string,
    trigger: r['trigger'] as Run['trigger'],
    status: r['status'] as RunStatus,
    startedAt: iso(r['started_at']),
    finishedAt: isoOrNull(r['finished_at']),
    counts: { ...emptyCounts(), ...(r['counts'] as RunCounts) },
    processed: r['processed'] as number,
    total: r['total'] as number,
    error: str(r['error']),
    owner: str(r['owner']),
    leaseUntil: isoOrNull(r['lease_until']),
  };
}

/** Placeholders an operation's guards read (`$n` of the statement). */
type GuardParams = Partial<Record<'now' | 'maxAttempts' | 'owner' | 'deadOwners' | 'expectedLease', string>>;

function need(p: GuardParams, key: keyof GuardParams): string {
  const v = p[key];
  if (!v) throw new Error(`ledger guard needs ${key}`);
  return v;
}

/** SQL for one guard of the transition table (src/store/ledger-states.ts) on the ledger row `a`. */
function pgGuard(g: LedgerGuard, p: GuardParams, a: string): string {
  switch (g) {
    case 'always':
      return 'true';
    case 'due':
      return `${a}.attempts < ${need(p, 'maxAttempts')} AND (${a}.next_attempt_at IS NULL OR ${a}.next_attempt_at <= ${need(p, 'now')}::timestamptz)`;
    case 'lease_expired':
      return `(${a}.lease_until IS NULL OR ${a}.lease_until < ${need(p, 'now')}::timestamptz)`;
    case 'owner':
      return `${a}.owner = ${need(p, 'owner')}`;
    case 'dead_owner':
      return `${a}.owner = ANY(${need(p, 'deadOwners')}::text[])`;
    case 'expected_lease':
      return `${a}.lease_until = ${need(p, 'expectedLease')}::timestamptz`;
    case 'bounced':
      return `EXISTS (SELECT 1 FROM jsonb_array_elements(${a}.recipients) AS rcpt WHERE jsonb_typeof(rcpt->'bounce') = 'object')`;
    case 'was_draft':
      return `${a}.draft`;
    case 'written_back':
      return `NOT ${a}.write_back_pending`;
  }
}

/** The WHERE of an operation, derived from the transition table: one term per state it may start from. */
export function pgCondition(op: LedgerOperation, p: GuardParams, a = 'ledger'): string {
  return guardsOf(op)
    .map(([state, guards]) => `(${[`${a}.state = '${state}'`, ...guards.filter((g) => g !== 'always').map((g) => pgGuard(g, p, a))].join(' AND ')})`)
    .join(' OR ');
}

/** Which of `count` batched items a `RETURNING t.n` (1-based ordinality) statement matched. */
function answered(rows: Row[], count: number): boolean[] {
  const hit = new Array<boolean>(count).fill(false);
  for (const r of rows) hit[Number(r['n']) - 1] = true;
  return hit;
}

const sqlList = (xs: readonly string[]): string => xs.map((x) => `'${x}'`).join(', ');

function toWebhookDelivery(r: Row): WebhookDelivery {
  return {
    id: r['id'] as string,
    installationId: r['installation_id'] as string,
    eventType: r['event_type'] as string,
    url: r['url'] as string,
    payload: r['payload'] as string,
    status: r['status'] as WebhookDeliveryStatus,
    attempts: (r['attempts'] ?? []) as WebhookAttempt[],
    nextAttemptAt: isoOrNull(r['next_attempt_at']),
    expiresAt: iso(r['expires_at']),
    owner: str(r['owner']),
    leaseUntil: isoOrNull(r['lease_until']),
    createdAt: iso(r['created_at']),
    updatedAt: iso(r['updated_at']),
  };
}

/** JSON parameter for a jsonb column (null stays SQL NULL). */
const json = (v: unknown): string | null => (v === null || v === undefined ? null : JSON.stringify(v));

/** Escapes LIKE wildcards so a user's text matches literally. */
const likeLiteral = (s: string): string => s.replace(/[\\%_]/g, (c) => '\\' + c);

/** The columns of the patchable fields but `settings` (written with its version). */
const INSTALLATION_COLUMNS: Record<Exclude<keyof InstallationPatch, 'settings'>, { column: string; json: boolean }> = {
  operatorSecret: { column: 'operator_secret', json: true },
  callbackUrl: { column: 'callback_url', json: false },
  webhookSecret: { column: 'webhook_secret', json: true },
  apiTokenHash: { column: 'api_token_hash', json: false },
  status: { column: 'status', json: false },
  integrationSecret: { column: 'integration_secret', json: true },
  integrationLogin: { column: 'integration_login', json: false },
};

export class PostgresStore implements Store {
  readonly kind = 'postgres' as const;
  private readonly pool: pg.Pool;
  /** A checked-out client whose connection dies between statements (the next statement reports it). */
  private readonly clientError: (err: Error) => void;
  private readonly log: (msg: string) => void;

  constructor(opts: PostgresStoreOptions) {
    this.pool = new pg.Pool({
      connectionString: opts.url,
      max: opts.maxConnections ?? 10,
      connectionTimeoutMillis: 10_000,
      idleTimeoutMillis: 30_000,
      statement_timeout: opts.statementTimeoutMs ?? 30_000,
      query_timeout: (opts.statementTimeoutMs ?? 30_000) + 5_000,
    });
    const log = opts.log ?? (() => undefined);
    this.log = log;
    // An idle client losing its connection must not crash the process; the next query reports it.
    this.pool.on('error', (err) => log(`store: idle database connection failed: ${err.message}`));
    this.clientError = (err) => log(`store: database connection failed: ${err.message}`);
  }

  private async q(what: string, sql: string, params: unknown[] = []): Promise<Row[]> {
    try {
      return (await this.pool.query(sql, params)).rows as Row[];
    } catch (e) {
      throw mapPgError(e, what);
    }
  }

  async migrate(): Promise<void> {
    let client: pg.PoolClient;
    try {
      client = await this.pool.connect();
    } catch (e) {
      throw mapPgError(e, 'migrate');
    }
    client.on('error', this.clientError);
    try {
      await migrate(client);
    } catch (e) {
      throw mapPgError(e, 'migrate');
    } finally {
      client.off('error', this.clientError);
      client.release();
    }
  }

  async close(): Promise<void> {
    await this.pool.end();
  }

  // ---- installations ----

  async createInstallation(input: NewInstallation): Promise<Installation> {
    const now = new Date().toISOString();
    const settings = settingsForStore(input.settings);
    const rows = await this.q(
      'createInstallation',
      `INSERT INTO installations (id, host_kind, host_url, host_database, company_id, integration_login, integration_secret,
         operator_secret, settings, settings_version, callback_url, webhook_secret, api_token_hash, status, created_at, updated_at, version)
       VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$14,$10,$11,$12,'active',$13,$13,1) RETURNING *`,
      [
        input.id ?? crypto.randomUUID(),
        input.hostKind,
        input.hostUrl,
        input.hostDatabase,
        input.companyId,
        input.integrationLogin,
        json(input.integrationSecret),
        json(input.operatorSecret),
        json(settings.settings),
        input.callbackUrl,
        json(input.webhookSecret),
        input.apiTokenHash,
        now,
        settings.version,
      ],
    );
    return toInstallation(rows[0]!);
  }

  async getInstallation(id: string): Promise<Installation | null> {
    const rows = await this.q('getInstallation', 'SELECT * FROM installations WHERE id = $1', [id]);
    return rows[0] ? toInstallation(rows[0]) : null;
  }

  async findInstallationByTokenHash(hash: string): Promise<Installation | null> {
    const rows = await this.q('findInstallationByTokenHash', 'SELECT * FROM installations WHERE api_token_hash = $1 LIMIT 1', [hash]);
    return rows[0] ? toInstallation(rows[0]) : null;
  }

  async listInstallations(filter: { status?: Installation['status'] } = {}): Promise<Installation[]> {
    const rows =
      filter.status === undefined
        ? await this.q('listInstallations', 'SELECT * FROM installations ORDER BY created_at, id')
        : await this.q('listInstallations', 'SELECT * FROM installations WHERE status = $1 ORDER BY created_at, id', [filter.status]);
    return readableInstallations(rows, toInstallation, this.log);
  }

  async updateInstallation(id: string, patch: InstallationPatch, expectedVersion?: number): Promise<Installation> {
    const sets: string[] = [];
    const params: unknown[] = [id, new Date().toISOString()];
    for (const [key, value] of Object.entries(patch) as [keyof InstallationPatch, unknown][]) {
      if (key === 'settings' || value === undefined) continue;
      const col = INSTALLATION_COLUMNS[key];
      if (!col) continue;
      params.push(col.json ? json(value) : value);
      sets.push(`${col.column} = $${params.length}`);
    }
    if (patch.settings !== undefined) {
      const settings = settingsForStore(patch.settings);
      params.push(json(settings.settings));
      sets.push(`settings = $${params.length}`);
      params.push(settings.version);
      sets.push(`settings_version = $${params.length}`);
    }
    let where = 'id = $1';
    if (expectedVersion !== undefined) {
      params.push(expectedVersion);
      where += ` AND version = $${params.length}`;
    }
    const rows = await this.q(
      'updateInstallation',
      `UPDATE installations SET ${[...sets, 'updated_at = $2', 'version = version + 1'].join(', ')} WHERE ${where} RETURNING *`,
      params,
    );
    if (rows[0]) return toInstallation(rows[0]);
    const current = await this.getInstallation(id);
    if (!current) throw new ConnectorError('not_found', `Installation ${id} does not exist`);
    throw new ConnectorError('conflict', `Installation ${id} was changed meanwhile (version ${current.version}, expected ${expectedVersion})`, {
      detail: { currentVersion: current.version },
    });
  }

  async purgeInstallation(id: string): Promise<void> {
    let client: pg.PoolClient;
    try {
      client = await this.pool.connect();
    } catch (e) {
      throw mapPgError(e, 'purgeInstallation');
    }
    client.on('error', this.clientError);
    try {
      await client.query('BEGIN');
      for (const table of ['ledger', 'logs', 'runs', 'managed_records', 'webhook_deliveries', 'incoming_events', 'mailbox_cursors', 'parked_invoices']) {
        await client.query(`DELETE FROM ${table} WHERE installation_id = $1`, [id]);
      }
      await client.query('DELETE FROM installations WHERE id = $1', [id]);
      await client.query('COMMIT');
    } catch (e) {
      await client.query('ROLLBACK').catch(() => undefined);
      throw mapPgError(e, 'purgeInstallation');
    } finally {
      client.off('error', this.clientError);
      client.release();
    }
  }

  // ---- ledger ----

  async claim(req: ClaimRequest): Promise<LedgerEntry | null> {
    // One statement: insert a fresh claim, or take over an existing entry only while it is claimable.
    // Concurrent claimers of the same key serialise on the row (or the unique index); each re-checks
    // the WHERE against the committed row, so exactly one of them gets a row back.
    const rows = await this.q(
      'claim',
      `INSERT INTO ledger AS l (installation_id, invoice_id, invoice_number, state, prev_state, owner, lease_until, attempts,
         message_id, recipients, write_back_pending, updated_at, draft)
       VALUES ($1, $2, $3, 'claimed', NULL, $4, $5, 0, $6, '[]', false, $7, $9)
       ON CONFLICT (installation_id, invoice_id) DO UPDATE SET
         state = 'claimed',
         draft = EXCLUDED.draft,
         prev_state = l.state,
         owner = EXCLUDED.owner,
         lease_until = EXCLUDED.lease_until,
         -- a later version (a posted draft, a re-send after a bounce) keeps the Message-ID it was taken with
         message_id = CASE WHEN l.version > 1 THEN l.message_id ELSE EXCLUDED.message_id END,
         invoice_number = COALESCE(EXCLUDED.invoice_number, l.invoice_number),
         updated_at = EXCLUDED.updated_at
       WHERE ${pgCondition('claim', { now: '$7', maxAttempts: '$8' }, 'l')}
       RETURNING l.*`,
      [req.installationId, req.invoiceId, req.invoiceNumber, req.owner, req.leaseUntil, req.messageId, req.now, req.maxAttempts, req.draft ?? false],
    );
    return rows[0] ? toLedger(rows[0]) : null;
  }

  async claimMany(req: Omit<ClaimRequest, 'invoiceId' | 'invoiceNumber' | 'messageId' | 'draft'>, items: ClaimItem[]): Promise<LedgerEntry[]> {
    // One statement for the whole batch, under `claim`'s rules. Rows are taken in invoice-id order (and
    // each invoice once), so two batches over the same invoices lock them in the same order: one waits
    // for the other instead of deadlocking, and re-checks the WHERE against the committed row.
    const byId = new Map(items.map((i) => [i.invoiceId, i]));
    if (byId.size === 0) return [];
    const sorted = [...byId.values()].sort((a, b) => (a.invoiceId < b.invoiceId ? -1 : a.invoiceId > b.invoiceId ? 1 : 0));
    const rows = await this.q(
      'claimMany',
      `INSERT INTO ledger AS l (installation_id, invoice_id, invoice_number, state, prev_state, owner, lease_until, attempts,
         message_id, recipients, write_back_pending, updated_at, draft)
       SELECT $1, t.invoice_id, t.invoice_number, 'claimed', NULL, $2, $3::timestamptz, 0, t.message_id, '[]', false, $4::timestamptz, t.draft
         FROM unnest($6::text[], $7::text[], $8::text[], $9::boolean[]) WITH ORDINALITY AS t(invoice_id, invoice_number, message_id, draft, n)
        ORDER BY t.n
       ON CONFLICT (installation_id, invoice_id) DO UPDATE SET
         state = 'claimed',
         draft = EXCLUDED.draft,
         prev_state = l.state,
         owner = EXCLUDED.owner,
         lease_until = EXCLUDED.lease_until,
         message_id = CASE WHEN l.version > 1 THEN l.message_id ELSE EXCLUDED.message_id END,
         invoice_number = COALESCE(EXCLUDED.invoice_number, l.invoice_number),
         updated_at = EXCLUDED.updated_at
       WHERE ${pgCondition('claim', { now: '$4::timestamptz', maxAttempts: '$5' }, 'l')}
       RETURNING l.*`,
      [
        req.installationId,
        req.owner,
        req.leaseUntil,
        req.now,
        req.maxAttempts,
        sorted.map((i) => i.invoiceId),
        sorted.map((i) => i.invoiceNumber),
        sorted.map((i) => i.messageId),
        sorted.map((i) => i.draft ?? false),
      ],
    );
    return rows.map(toLedger);
  }

  async claimNewVersion(req: ClaimRequest): Promise<LedgerEntry | null> {
    const rows = await this.q(
      'claimNewVersion',
      `UPDATE ledger SET state = 'claimed', prev_state = state, owner = $3, lease_until = $4, message_id = $5,
         invoice_number = COALESCE($6, invoice_number), attempts = 0, content_hash = NULL, reason = NULL, detail = NULL,
         recipients = '[]', write_back_pending = false, next_attempt_at = NULL, version = version + 1, draft = $7, updated_at = $8
       WHERE installation_id = $1 AND invoice_id = $2 AND (${pgCondition('claimNewVersion', {})})
       RETURNING *`,
      [req.installationId, req.invoiceId, req.owner, req.leaseUntil, req.messageId, req.invoiceNumber, req.draft ?? false, req.now],
    );
    return rows[0] ? toLedger(rows[0]) : null;
  }

  async markSending(installationId: string, invoiceId: string, owner: string, contentHash: string, leaseUntil: string): Promise<boolean> {
    return this.sendingMarks.submit({ installationId, invoiceId, owner, contentHash, leaseUntil });
  }

  /** `markSending` of every call that waited, as one statement (./coalesce.ts). */
  private readonly sendingMarks = new Coalescer<{ installationId: string; invoiceId: string; owner: string; contentHash: string; leaseUntil: string }, boolean>(
    async (items) => {
      const rows = await this.q(
        'markSending',
        `UPDATE ledger AS l SET state = 'sending', attempts = l.attempts + 1, content_hash = t.content_hash, lease_until = t.lease_until,
           handed_over = false, updated_at = now()
         FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::timestamptz[]) WITH ORDINALITY AS t(installation_id, invoice_id, owner, content_hash, lease_until, n)
         WHERE l.installation_id = t.installation_id AND l.invoice_id = t.invoice_id AND (${pgCondition('markSending', { owner: 't.owner' }, 'l')})
         RETURNING t.n`,
        [
          items.map((i) => i.installationId),
          items.map((i) => i.invoiceId),
          items.map((i) => i.owner),
          items.map((i) => i.contentHash),
          items.map((i) => i.leaseUntil),
        ],
      );
      return answered(rows, items.length);
    },
    (i) => `${i.installationId}\u0000${i.invoiceId}`,
  );

  async markHandedOver(installationId: string, invoiceId: string, owner: string): Promise<boolean> {
    return this.handovers.submit({ installationId, invoiceId, owner });
  }

  /** `markHandedOver` of every call that waited, as one statement (./coalesce.ts). */
  private readonly handovers = new Coalescer<{ installationId: string; invoiceId: string; owner: string }, boolean>(
    async (items) => {
      const rows = await this.q(
        'markHandedOver',
        `UPDATE ledger AS l SET handed_over = true, updated_at = now()
         FROM unnest($1::text[], $2::text[], $3::text[]) WITH ORDINALITY AS t(installation_id, invoice_id, owner, n)
         WHERE l.installation_id = t.installation_id AND l.invoice_id = t.invoice_id AND (${pgCondition('markHandedOver', { owner: 't.owner' }, 'l')})
         RETURNING t.n`,
        [items.map((i) => i.installationId), items.map((i) => i.invoiceId), items.map((i) => i.owner)],
      );
      return answered(rows, items.length);
    },
    (i) => `${i.installationId}\u0000${i.invoiceId}`,
  );

  async recordOutcome(
    installationId: string,
    invoiceId: string,
    owner: string,
    outcome: Outcome,
    opts: { writeBack: boolean; nextAttemptAt: string | null; log?: NewLogEntry },
  ): Promise<boolean> {
    return this.outcomes.submit({
      installationId,
      invoiceId,
      owner,
      outcome,
      writeBack: opts.writeBack,
      nextAttemptAt: opts.nextAttemptAt,
      log: opts.log ?? null,
    });
  }

  /**
   * `recordOutcome` of every call that waited, as one statement (./coalesce.ts), with the log entries of
   * the outcomes it recorded (a data-modifying CTE: the entries of outcomes that were not ours are not written).
   */
  private readonly outcomes = new Coalescer<
    { installationId: string; invoiceId: string; owner: string; outcome: Outcome; writeBack: boolean; nextAttemptAt: string | null; log: NewLogEntry | null },
    boolean
  >(
    async (items) => {
      const log = (f: (e: NewLogEntry) => unknown) => items.map((i) => (i.log ? f(i.log) : null));
      const rows = await this.q(
        'recordOutcome',
        `WITH recorded AS (
           UPDATE ledger AS l SET state = t.state, prev_state = NULL, reason = t.reason, detail = t.detail, recipients = t.recipients,
             write_back_pending = t.write_back, next_attempt_at = t.next_attempt_at, owner = NULL, lease_until = NULL,
             outcome_version = l.outcome_version + 1, updated_at = now()
           FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::jsonb[], $8::boolean[], $9::timestamptz[])
             WITH ORDINALITY AS t(installation_id, invoice_id, owner, state, reason, detail, recipients, write_back, next_attempt_at, n)
           WHERE l.installation_id = t.installation_id AND l.invoice_id = t.invoice_id AND (${pgCondition('recordOutcome', { owner: 't.owner' }, 'l')})
           RETURNING t.n
         ), logged AS (
           INSERT INTO logs (installation_id, run_id, at, level, event, invoice_id, invoice_number, message, data)
           SELECT g.installation_id, g.run_id, g.at, g.level, g.event, g.invoice_id, g.invoice_number, g.message, g.data
           FROM unnest($10::text[], $11::text[], $12::timestamptz[], $13::text[], $14::text[], $15::text[], $16::text[], $17::text[], $18::jsonb[])
             WITH ORDINALITY AS g(installation_id, run_id, at, level, event, invoice_id, invoice_number, message, data, n)
           JOIN recorded r ON r.n = g.n
           WHERE g.event IS NOT NULL
           ORDER BY g.n
         )
         SELECT n FROM recorded`,
        [
          items.map((i) => i.installationId),
          items.map((i) => i.invoiceId),
          items.map((i) => i.owner),
          items.map((i) => i.outcome.state),
          items.map((i) => i.outcome.reason),
          items.map((i) => i.outcome.detail),
          items.map((i) => json(i.outcome.recipients)),
          items.map((i) => i.writeBack),
          items.map((i) => i.nextAttemptAt),
          log((e) => e.installationId),
          log((e) => e.runId),
          log((e) => e.at),
          log((e) => e.level),
          log((e) => e.event),
          log((e) => e.invoiceId),
          log((e) => e.invoiceNumber),
          log((e) => e.message),
          log((e) => json(e.data)),
        ],
      );
      return answered(rows, items.length);
    },
    (i) => `${i.installationId}\u0000${i.invoiceId}`,
  );

  async release(installationId: string, invoiceId: string, owner: string): Promise<void> {
    // Back to the state before the claim; a crashed claimer's `claimed` (or none) becomes `skipped`.
    await this.q(
      'release',
      `UPDATE ledger SET state = CASE WHEN prev_state IN (${sqlList(RELEASE_RESTORES)}) THEN prev_state ELSE 'skipped' END,
         prev_state = NULL, owner = NULL, lease_until = NULL, updated_at = now()
       WHERE installation_id = $1 AND invoice_id = $2 AND (${pgCondition('release', { owner: '$3' })})`,
      [installationId, invoiceId, owner],
    );
  }

  async getLedger(installationId: string, invoiceIds: string[]): Promise<LedgerEntry[]> {
    if (invoiceIds.length === 0) return [];
    const rows = await this.q('getLedger', 'SELECT * FROM ledger WHERE installation_id = $1 AND invoice_id = ANY($2::text[])', [installationId, invoiceIds]);
    return rows.map(toLedger);
  }

  async listLedger(installationId: string, filter: { states?: LedgerState[]; owner?: string; after?: string; limit: number }): Promise<LedgerEntry[]> {
    // Invoice-id order: the primary key (or ledger_state_cursor within states) serves it, and the
    // cursor is stable while entries change.
    const where = ['installation_id = $1'];
    const params: unknown[] = [installationId];
    const add = (cond: (n: string) => string, value: unknown): void => {
      params.push(value);
      where.push(cond(`$${params.length}`));
    };
    if (filter.states !== undefined) add((p) => `state = ANY(${p}::text[])`, filter.states);
    if (filter.owner !== undefined) add((p) => `owner = ${p}`, filter.owner);
    if (filter.after !== undefined) add((p) => `invoice_id > ${p}`, filter.after);
    params.push(filter.limit);
    const rows = await this.q('listLedger', `SELECT * FROM ledger WHERE ${where.join(' AND ')} ORDER BY invoice_id LIMIT $${params.length}`, params);
    return rows.map(toLedger);
  }

  async releaseDeadOwners(installationId: string, owners: string[], now: string): Promise<{ released: number; expired: number }> {
    if (owners.length === 0) return { released: 0, expired: 0 };
    const released = await this.q(
      'releaseDeadOwners',
      `UPDATE ledger SET state = CASE WHEN prev_state IN (${sqlList(RELEASE_RESTORES)}) THEN prev_state ELSE 'skipped' END,
         prev_state = NULL, owner = NULL, lease_until = NULL, updated_at = now()
       WHERE installation_id = $1 AND (${pgCondition('releaseDead', { deadOwners: '$2' })}) RETURNING 1`,
      [installationId, owners],
    );
    // Just before now, so a `lease_until < now` check sees it expired.
    const expired = await this.q(
      'releaseDeadOwners',
      `UPDATE ledger SET lease_until = $3::timestamptz - interval '1 millisecond', updated_at = now()
       WHERE installation_id = $1 AND (${pgCondition('expireDead', { deadOwners: '$2' })}) RETURNING 1`,
      [installationId, owners, now],
    );
    await this.q(
      'releaseDeadOwners',
      'UPDATE ledger SET write_back_owner = NULL, write_back_lease_until = NULL WHERE installation_id = $1 AND write_back_owner = ANY($2::text[])',
      [installationId, owners],
    );
    return { released: released.length, expired: expired.length };
  }

  async listExpiredSending(installationId: string, now: string): Promise<LedgerEntry[]> {
    const rows = await this.q(
      'listExpiredSending',
      `SELECT * FROM ledger WHERE installation_id = $1 AND state = 'sending' AND lease_until < $2::timestamptz ORDER BY lease_until, invoice_id`,
      [installationId, now],
    );
    return rows.map(toLedger);
  }

  async resolveInterrupted(installationId: string, invoiceId: string, expectedLeaseUntil: string, outcome: Outcome, writeBack: boolean): Promise<boolean> {
    const rows = await this.q(
      'resolveInterrupted',
      `UPDATE ledger SET state = $4, prev_state = NULL, reason = $5, detail = $6, recipients = $7, write_back_pending = $8,
         next_attempt_at = NULL, owner = NULL, lease_until = NULL, outcome_version = outcome_version + 1, updated_at = now()
       WHERE installation_id = $1 AND invoice_id = $2 AND (${pgCondition('resolveInterrupted', { expectedLease: '$3' })}) RETURNING 1`,
      [installationId, invoiceId, expectedLeaseUntil, outcome.state, outcome.reason, outcome.detail, json(outcome.recipients), writeBack],
    );
    return rows.length === 1;
  }

  async allowResend(installationId: string, invoiceId: string, next?: { messageId: string }): Promise<boolean> {
    // `retry` with no attempts and no wait: claimable at the next run, with the full attempt budget.
    // A bounced `sent` entry becomes its next version (with the new Message-ID when given).
    const rows = await this.q(
      'allowResend',
      `UPDATE ledger SET state = 'retry', prev_state = NULL, attempts = 0, next_attempt_at = NULL, owner = NULL, lease_until = NULL,
         version = CASE WHEN state = 'sent' THEN version + 1 ELSE version END,
         message_id = CASE WHEN state = 'sent' AND $3::text IS NOT NULL THEN $3::text ELSE message_id END,
         updated_at = now()
       WHERE installation_id = $1 AND invoice_id = $2 AND (${pgCondition('allowResend', {})}) RETURNING 1`,
      [installationId, invoiceId, next?.messageId ?? null],
    );
    return rows.length === 1;
  }

  async findLedgerByMessageId(installationId: string, messageId: string): Promise<LedgerEntry | null> {
    const rows = await this.q('findLedgerByMessageId', 'SELECT * FROM ledger WHERE installation_id = $1 AND message_id = $2 LIMIT 1', [
      installationId,
      messageId,
    ]);
    return rows[0] ? toLedger(rows[0]) : null;
  }

  async recordBounces(installationId: string, invoiceId: string, messageId: string, bounces: BounceRecord[]): Promise<string[]> {
    // Read, merge, write only while the recipients are unchanged (another reader records nothing twice).
    for (let attempt = 0; attempt < 5; attempt++) {
      const rows = await this.q(
        'recordBounces',
        `SELECT recipients FROM ledger WHERE installation_id = $1 AND invoice_id = $2 AND message_id = $3 AND state = 'sent'`,
        [installationId, invoiceId, messageId],
      );
      if (!rows[0]) return [];
      const stored = rows[0]['recipients'];
      const { recipients, added } = mergeBounces(recipientsOf(stored), bounces);
      if (added.length === 0) return [];
      const done = await this.q(
        'recordBounces',
        `UPDATE ledger SET recipients = $5::jsonb, updated_at = now()
         WHERE installation_id = $1 AND invoice_id = $2 AND message_id = $3 AND state = 'sent' AND recipients = $4::jsonb RETURNING 1`,
        [installationId, invoiceId, messageId, json(stored), json(recipients)],
      );
      if (done.length === 1) return added;
    }
    throw new ConnectorError('conflict', `The ledger entry of invoice ${invoiceId} kept changing while its bounces were recorded`);
  }

  async getMailboxCursor(installationId: string, accountId: string): Promise<MailboxCursor | null> {
    const rows = await this.q('getMailboxCursor', 'SELECT uid_validity, last_uid FROM mailbox_cursors WHERE installation_id = $1 AND account_id = $2', [
      installationId,
      accountId,
    ]);
    return rows[0] ? { uidValidity: rows[0]['uid_validity'] as string, lastUid: Number(rows[0]['last_uid']) } : null;
  }

  async putMailboxCursor(installationId: string, accountId: string, cursor: MailboxCursor): Promise<void> {
    await this.q(
      'putMailboxCursor',
      `INSERT INTO mailbox_cursors (installation_id, account_id, uid_validity, last_uid, updated_at) VALUES ($1, $2, $3, $4, now())
       ON CONFLICT (installation_id, account_id) DO UPDATE SET uid_validity = EXCLUDED.uid_validity, last_uid = EXCLUDED.last_uid, updated_at = now()`,
      [installationId, accountId, cursor.uidValidity, cursor.lastUid],
    );
  }

  async listPendingWriteBacks(installationId: string, limit: number): Promise<LedgerEntry[]> {
    const rows = await this.q(
      'listPendingWriteBacks',
      `SELECT * FROM ledger WHERE installation_id = $1 AND write_back_pending AND state NOT IN (${sqlList(OWNED_STATES)})
       ORDER BY updated_at, invoice_id LIMIT $2`,
      [installationId, limit],
    );
    return rows.map(toLedger);
  }

  async claimWriteBacks(installationId: string, req: { owner: string; leaseUntil: string; now: string; limit: number }): Promise<LedgerEntry[]> {
    // SKIP LOCKED: concurrent flushers take different rows; the outer WHERE re-checks the lease. The pick
    // is a MATERIALIZED CTE: as an `IN (subquery)` the planner may run the LIMITed subquery more than once
    // (a semi-join rescan), and with SKIP LOCKED each run can pick other rows, so more than `limit` were taken.
    const free = `l.write_back_pending AND l.state NOT IN (${sqlList(OWNED_STATES)})
         AND (l.write_back_lease_until IS NULL OR l.write_back_lease_until < $3::timestamptz)`;
    const rows = await this.q(
      'claimWriteBacks',
      `WITH picked AS MATERIALIZED (
         SELECT l.invoice_id FROM ledger l WHERE l.installation_id = $1 AND ${free}
         ORDER BY l.updated_at, l.invoice_id LIMIT $5 FOR UPDATE SKIP LOCKED)
       UPDATE ledger l SET write_back_owner = $2, write_back_lease_until = $4
       FROM picked WHERE l.installation_id = $1 AND l.invoice_id = picked.invoice_id AND ${free}
       RETURNING l.*`,
      [installationId, req.owner, req.now, req.leaseUntil, req.limit],
    );
    return rows.map(toLedger).sort((a, b) => a.updatedAt.localeCompare(b.updatedAt) || a.invoiceId.localeCompare(b.invoiceId));
  }

  async markWrittenBack(installationId: string, owner: string, done: WriteBackDone[]): Promise<void> {
    if (done.length === 0) return;
    await this.q(
      'markWrittenBack',
      `UPDATE ledger l SET write_back_pending = false, write_back_owner = NULL, write_back_lease_until = NULL
       FROM unnest($3::text[], $4::int[]) AS d(invoice_id, outcome_version)
       WHERE l.installation_id = $1 AND l.invoice_id = d.invoice_id AND l.outcome_version = d.outcome_version AND l.write_back_owner = $2`,
      [installationId, owner, done.map((d) => d.invoiceId), done.map((d) => d.outcomeVersion)],
    );
  }

  async releaseWriteBacks(installationId: string, owner: string, which: string[] | { leaseUntil: string }): Promise<void> {
    if (Array.isArray(which) && which.length === 0) return;
    const [condition, param] = Array.isArray(which) ? ['invoice_id = ANY($3::text[])', which] : ['write_back_lease_until = $3::timestamptz', which.leaseUntil];
    await this.q(
      'releaseWriteBacks',
      `UPDATE ledger SET write_back_owner = NULL, write_back_lease_until = NULL WHERE installation_id = $1 AND write_back_owner = $2 AND ${condition}`,
      [installationId, owner, param],
    );
  }

  // ---- incoming webhook event ids ----

  async rememberIncomingEvent(installationId: string, eventId: string, now: string, keepUntil: string): Promise<boolean> {
    await this.q('rememberIncomingEvent', 'DELETE FROM incoming_events WHERE keep_until < $1::timestamptz', [now]);
    const rows = await this.q(
      'rememberIncomingEvent',
      `INSERT INTO incoming_events (installation_id, event_id, keep_until) VALUES ($1, $2, $3)
       ON CONFLICT (installation_id, event_id) DO NOTHING RETURNING 1`,
      [installationId, eventId, keepUntil],
    );
    return rows.length === 1;
  }

  // ---- logs ----

  async appendLogs(entries: NewLogEntry[]): Promise<void> {
    if (entries.length === 0) return;
    await this.logAppends.submit(entries);
  }

  /** `appendLogs` of every call that waited, as one statement, in the order they were made (./coalesce.ts). */
  private logBatches = 0;
  private readonly logAppends = new Coalescer<NewLogEntry[], void>(
    async (batches) => {
      const entries = batches.flat();
      // One statement for the batch; arrays keep the parameter count fixed.
      await this.q(
        'appendLogs',
        `INSERT INTO logs (installation_id, run_id, at, level, event, invoice_id, invoice_number, message, data)
         SELECT installation_id, run_id, at, level, event, invoice_id, invoice_number, message, data
         FROM unnest($1::text[], $2::text[], $3::timestamptz[], $4::text[], $5::text[], $6::text[], $7::text[], $8::text[], $9::jsonb[])
           WITH ORDINALITY AS t(installation_id, run_id, at, level, event, invoice_id, invoice_number, message, data, ord)
         ORDER BY ord`,
        [
          entries.map((e) => e.installationId),
          entries.map((e) => e.runId),
          entries.map((e) => e.at),
          entries.map((e) => e.level),
          entries.map((e) => e.event),
          entries.map((e) => e.invoiceId),
          entries.map((e) => e.invoiceNumber),
          entries.map((e) => e.message),
          entries.map((e) => json(e.data)),
        ],
      );
      return batches.map(() => undefined);
    },
    () => String(this.logBatches++),
    50,
  );

  async listLogs(query: LogQuery): Promise<LogEntry[]> {
    const where = ['installation_id = $1'];
    const params: unknown[] = [query.installationId];
    const add = (cond: (n: string) => string, value: unknown): void => {
      params.push(value);
      where.push(cond(`$${params.length}`));
    };
    if (query.from !== undefined) add((p) => `at >= ${p}::timestamptz`, query.from);
    if (query.to !== undefined) add((p) => `at <= ${p}::timestamptz`, query.to);
    if (query.level !== undefined) add((p) => `level = ${p}`, query.level);
    if (query.event !== undefined) add((p) => `event = ${p}`, query.event);
    if (query.runId !== undefined) add((p) => `run_id = ${p}`, query.runId);
    if (query.invoiceNumber !== undefined) add((p) => `invoice_number ILIKE '%' || ${p} || '%'`, likeLiteral(query.invoiceNumber));
    if (query.before !== undefined) {
      if (!/^\d{1,18}$/.test(query.before)) throw new ConnectorError('validation', 'before must be a log entry id', { field: 'before' });
      add((p) => `id < ${p}::bigint`, query.before);
    }
    params.push(query.limit);
    const rows = await this.q('listLogs', `SELECT * FROM logs WHERE ${where.join(' AND ')} ORDER BY id DESC LIMIT $${params.length}`, params);
    return rows.map(toLog);
  }

  async hasLog(installationId: string, invoiceId: string, event: string): Promise<boolean> {
    const rows = await this.q('hasLog', 'SELECT 1 FROM logs WHERE installation_id = $1 AND invoice_id = $2 AND event = $3 LIMIT 1', [
      installationId,
      invoiceId,
      event,
    ]);
    return rows.length > 0;
  }

  async loggedEvents(installationId: string, invoiceIds: string[], events: string[]): Promise<Set<string>> {
    if (invoiceIds.length === 0 || events.length === 0) return new Set();
    const rows = await this.q(
      'loggedEvents',
      'SELECT DISTINCT invoice_id, event FROM logs WHERE installation_id = $1 AND invoice_id = ANY($2::text[]) AND event = ANY($3::text[])',
      [installationId, [...new Set(invoiceIds)], [...new Set(events)]],
    );
    return new Set(rows.map((r) => loggedKey(r['invoice_id'] as string, r['event'] as string)));
  }

  // ---- runs ----

  async startRun(run: Pick<Run, 'installationId' | 'trigger' | 'startedAt'> & Partial<Pick<Run, 'owner' | 'leaseUntil'>>): Promise<Run> {
    const rows = await this.q(
      'startRun',
      `INSERT INTO runs (id, installation_id, trigger, status, started_at, counts, processed, total, owner, lease_until)
       VALUES ($1, $2, $3, 'running', $4, $5, 0, 0, $6, $7) RETURNING *`,
      [crypto.randomUUID(), run.installationId, run.trigger, run.startedAt, json(emptyCounts()), run.owner ?? null, run.leaseUntil ?? null],
    );
    return toRun(rows[0]!);
  }

  async heartbeatRun(runId: string, leaseUntil: string): Promise<boolean> {
    const rows = await this.q('heartbeatRun', `UPDATE runs SET lease_until = $2 WHERE id = $1 AND status = 'running' RETURNING 1`, [runId, leaseUntil]);
    return rows.length === 1;
  }

  async interruptRun(runId: string, error: string, finishedAt: string): Promise<Run | null> {
    const rows = await this.q(
      'interruptRun',
      `UPDATE runs SET status = 'interrupted', error = $2, finished_at = $3, lease_until = NULL WHERE id = $1 AND status = 'running' RETURNING *`,
      [runId, error, finishedAt],
    );
    return rows[0] ? toRun(rows[0]) : null;
  }

  async updateRunProgress(runId: string, processed: number, total: number, counts: RunCounts): Promise<void> {
    await this.q('updateRunProgress', `UPDATE runs SET processed = $2, total = $3, counts = $4 WHERE id = $1 AND status = 'running'`, [
      runId,
      processed,
      total,
      json(counts),
    ]);
  }

  async addRunCounts(runId: string, delta: RunCounts, processed: number, opts: { page?: number } = {}): Promise<boolean> {
    const keys = Object.keys(emptyCounts()) as (keyof RunCounts)[];
    // One statement: concurrent adds of several processes serialize on the row, none is lost; a page's
    // counts are added under the row's lock only if that page's are not there yet.
    const sums = keys.map((k, i) => `'${k}', COALESCE((counts->>'${k}')::integer, 0) + $${i + 4}::integer`).join(', ');
    const rows = await this.q(
      'addRunCounts',
      `UPDATE runs SET counts = jsonb_build_object(${sums}), processed = processed + $2, total = total + $${keys.indexOf('due') + 4}::integer,
          counted_pages = CASE WHEN $3::integer IS NULL THEN counted_pages ELSE array_append(counted_pages, $3::integer) END
        WHERE id = $1 AND status = 'running' AND ($3::integer IS NULL OR NOT ($3::integer = ANY(counted_pages)))
        RETURNING 1`,
      [runId, processed, opts.page ?? null, ...keys.map((k) => delta[k])],
    );
    return rows.length > 0;
  }

  async countRunOutcomes(runId: string): Promise<OutcomeCounts> {
    const rows = await this.q(
      'countRunOutcomes',
      `SELECT event, count(*)::integer AS n FROM logs
        WHERE run_id = $1 AND event = ANY($2::text[]) AND (data->>'announcedLate') IS DISTINCT FROM 'true'
        GROUP BY event`,
      [runId, OUTCOME_EVENTS],
    );
    return outcomeCounts(rows.map((r) => [r['event'] as string, r['n'] as number]));
  }

  async finishRun(runId: string, status: Exclude<RunStatus, 'running'>, counts: RunCounts, error: string | null, finishedAt: string): Promise<Run> {
    const rows = await this.q(
      'finishRun',
      'UPDATE runs SET status = $2, counts = $3, error = $4, finished_at = $5, lease_until = NULL WHERE id = $1 RETURNING *',
      [runId, status, json(counts), error, finishedAt],
    );
    if (!rows[0]) throw new ConnectorError('not_found', `Run ${runId} does not exist`);
    return toRun(rows[0]);
  }

  async listRuns(installationId: string, limit: number, filter: { status?: RunStatus } = {}): Promise<Run[]> {
    const rows = await this.q(
      'listRuns',
      'SELECT * FROM runs WHERE installation_id = $1 AND ($3::text IS NULL OR status = $3) ORDER BY started_at DESC, id LIMIT $2',
      [installationId, limit, filter.status ?? null],
    );
    return rows.map(toRun);
  }

  async getRun(id: string): Promise<Run | null> {
    const rows = await this.q('getRun', 'SELECT * FROM runs WHERE id = $1', [id]);
    return rows[0] ? toRun(rows[0]) : null;
  }
  // ---- connector-managed accounts and templates ----

  async listManaged<K extends ManagedKind>(installationId: string, kind: K): Promise<ManagedRecordOf[K][]> {
    const rows = await this.q('listManaged', 'SELECT record FROM managed_records WHERE installation_id = $1 AND kind = $2 ORDER BY created_at, id', [
      installationId,
      kind,
    ]);
    return rows.map((r) => r['record'] as ManagedRecordOf[K]);
  }

  async getManaged<K extends ManagedKind>(installationId: string, kind: K, id: string): Promise<ManagedRecordOf[K] | null> {
    const rows = await this.q('getManaged', 'SELECT record FROM managed_records WHERE installation_id = $1 AND kind = $2 AND id = $3', [
      installationId,
      kind,
      id,
    ]);
    return rows[0] ? (rows[0]['record'] as ManagedRecordOf[K]) : null;
  }

  async putManaged<K extends ManagedKind>(kind: K, record: ManagedRecordOf[K]): Promise<ManagedRecordOf[K]> {
    // An existing record keeps its createdAt (inside the JSON too).
    const rows = await this.q(
      'putManaged',
      `INSERT INTO managed_records AS m (installation_id, kind, id, record, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6)
       ON CONFLICT (installation_id, kind, id) DO UPDATE
         SET record = jsonb_set(EXCLUDED.record, '{createdAt}', m.record->'createdAt'), updated_at = EXCLUDED.updated_at
       RETURNING record`,
      [record.installationId, kind, record.id, json(record), record.createdAt, record.updatedAt],
    );
    return rows[0]!['record'] as ManagedRecordOf[K];
  }

  async deleteManaged(installationId: string, kind: ManagedKind, id: string): Promise<boolean> {
    const rows = await this.q('deleteManaged', 'DELETE FROM managed_records WHERE installation_id = $1 AND kind = $2 AND id = $3 RETURNING id', [
      installationId,
      kind,
      id,
    ]);
    return rows.length > 0;
  }

  // ---- webhook deliveries ----

  async createWebhookDelivery(input: NewWebhookDelivery): Promise<WebhookDelivery> {
    const rows = await this.q(
      'createWebhookDelivery',
      `INSERT INTO webhook_deliveries (id, installation_id, event_type, url, payload, status, attempts, next_attempt_at, expires_at, created_at, updated_at)
       VALUES ($1, $2, $3, $4, $5, 'pending', '[]', $6, $7, $8, $8) RETURNING *`,
      [input.id, input.installationId, input.eventType, input.url, input.payload, input.nextAttemptAt, input.expiresAt, input.createdAt],
    );
    return toWebhookDelivery(rows[0]!);
  }

  async getWebhookDelivery(installationId: string, id: string): Promise<WebhookDelivery | null> {
    const rows = await this.q('getWebhookDelivery', 'SELECT * FROM webhook_deliveries WHERE installation_id = $1 AND id = $2', [installationId, id]);
    return rows[0] ? toWebhookDelivery(rows[0]) : null;
  }

  async listWebhookDeliveries(installationId: string, filter: { status?: WebhookDeliveryStatus; limit: number }): Promise<WebhookDelivery[]> {
    const rows = await this.q(
      'listWebhookDeliveries',
      `SELECT * FROM webhook_deliveries WHERE installation_id = $1 AND ($2::text IS NULL OR status = $2)
       ORDER BY created_at DESC, id DESC LIMIT $3`,
      [installationId, filter.status ?? null, filter.limit],
    );
    return rows.map(toWebhookDelivery);
  }

  async claimDueWebhookDeliveries(req: { now: string; owner: string; leaseUntil: string; limit: number }): Promise<WebhookDelivery[]> {
    // SKIP LOCKED: concurrent dispatchers each take different rows; the outer WHERE re-checks the lease
    // (a MATERIALIZED pick, for the reason given at claimWriteBacks).
    const rows = await this.q(
      'claimDueWebhookDeliveries',
      `WITH picked AS MATERIALIZED (
         SELECT id FROM webhook_deliveries
         WHERE status = 'pending' AND next_attempt_at <= $1::timestamptz AND (lease_until IS NULL OR lease_until < $1::timestamptz)
         ORDER BY next_attempt_at, id LIMIT $4 FOR UPDATE SKIP LOCKED)
       UPDATE webhook_deliveries w SET owner = $2, lease_until = $3, updated_at = now()
       FROM picked WHERE w.id = picked.id
       AND w.status = 'pending' AND (w.lease_until IS NULL OR w.lease_until < $1::timestamptz)
       RETURNING w.*`,
      [req.now, req.owner, req.leaseUntil, req.limit],
    );
    return rows.map(toWebhookDelivery).sort((a, b) => (a.nextAttemptAt ?? '').localeCompare(b.nextAttemptAt ?? ''));
  }

  async claimWebhookDelivery(installationId: string, id: string, req: { now: string; owner: string; leaseUntil: string }): Promise<WebhookDelivery | null> {
    const rows = await this.q(
      'claimWebhookDelivery',
      `UPDATE webhook_deliveries SET owner = $3, lease_until = $4, updated_at = now()
       WHERE installation_id = $1 AND id = $2 AND (lease_until IS NULL OR lease_until < $5::timestamptz) RETURNING *`,
      [installationId, id, req.owner, req.leaseUntil, req.now],
    );
    return rows[0] ? toWebhookDelivery(rows[0]) : null;
  }

  async recordWebhookAttempt(
    id: string,
    owner: string,
    attempt: WebhookAttempt,
    next: { status: WebhookDeliveryStatus; nextAttemptAt: string | null },
  ): Promise<WebhookDelivery | null> {
    const rows = await this.q(
      'recordWebhookAttempt',
      `UPDATE webhook_deliveries SET attempts = attempts || $3::jsonb, status = $4, next_attempt_at = $5, owner = NULL, lease_until = NULL,
         updated_at = now()
       WHERE id = $1 AND owner = $2 RETURNING *`,
      [id, owner, JSON.stringify([attempt]), next.status, next.nextAttemptAt],
    );
    return rows[0] ? toWebhookDelivery(rows[0]) : null;
  }

  // ---- Parked invoices (issue 12 item 5) ----

  async park(installationId: string, items: NewParkedInvoice[], checkedAt: string): Promise<void> {
    if (items.length === 0) return;
    await this.q(
      'park',
      `INSERT INTO parked_invoices (installation_id, invoice_id, reason, ledger_state, ledger_outcome_version, ledger_version, checked_at)
       SELECT $1, d.invoice_id, d.reason, d.state, d.outcome_version, d.version, $7::timestamptz
         FROM unnest($2::text[], $3::text[], $4::text[], $5::int[], $6::int[]) AS d(invoice_id, reason, state, outcome_version, version)
       ON CONFLICT (installation_id, invoice_id) DO UPDATE SET reason = EXCLUDED.reason, ledger_state = EXCLUDED.ledger_state,
         ledger_outcome_version = EXCLUDED.ledger_outcome_version, ledger_version = EXCLUDED.ledger_version, checked_at = EXCLUDED.checked_at`,
      [
        installationId,
        items.map((i) => i.invoiceId),
        items.map((i) => i.reason),
        items.map((i) => i.ledger?.state ?? null),
        items.map((i) => i.ledger?.outcomeVersion ?? null),
        items.map((i) => i.ledger?.version ?? null),
        checkedAt,
      ],
    );
  }

  async listParked(installationId: string): Promise<ParkedInvoice[]> {
    // A park whose ledger entry moved on (a re-send allowed, a new outcome, a claim) is forgotten.
    const stale = `NOT EXISTS (SELECT 1 FROM ledger l WHERE l.installation_id = p.installation_id AND l.invoice_id = p.invoice_id
                     AND l.state = p.ledger_state AND l.outcome_version = p.ledger_outcome_version AND l.version = p.ledger_version)
                   AND (p.ledger_state IS NOT NULL OR EXISTS (SELECT 1 FROM ledger l WHERE l.installation_id = p.installation_id AND l.invoice_id = p.invoice_id))`;
    const rows = await this.q(
      'listParked',
      `WITH gone AS (DELETE FROM parked_invoices p WHERE p.installation_id = $1 AND ${stale} RETURNING p.invoice_id)
       SELECT p.* FROM parked_invoices p WHERE p.installation_id = $1 AND p.invoice_id NOT IN (SELECT invoice_id FROM gone) ORDER BY p.invoice_id`,
      [installationId],
    );
    return rows.map((r) => ({
      invoiceId: r['invoice_id'] as string,
      reason: r['reason'] as string,
      ledger:
        r['ledger_state'] === null
          ? null
          : { state: r['ledger_state'] as LedgerState, outcomeVersion: r['ledger_outcome_version'] as number, version: r['ledger_version'] as number },
      checkedAt: iso(r['checked_at']),
    }));
  }

  async checkedParked(installationId: string, changed: string[], checkedAt: string): Promise<void> {
    await this.q(
      'checkedParked',
      `WITH gone AS (DELETE FROM parked_invoices WHERE installation_id = $1 AND invoice_id = ANY($2::text[]) RETURNING invoice_id)
       UPDATE parked_invoices SET checked_at = $3::timestamptz
        WHERE installation_id = $1 AND checked_at < $3::timestamptz AND invoice_id NOT IN (SELECT invoice_id FROM gone)`,
      [installationId, changed, checkedAt],
    );
  }
}
