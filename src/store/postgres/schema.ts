/**
 * PostgreSQL schema as numbered migrations. `migrate()` applies the missing ones under a transaction-level
 * advisory lock, so several processes starting at once apply each migration exactly once.
 * Append new migrations; never edit an applied one.
 */
import type pg from 'pg';

export interface Migration {
  version: number;
  name: string;
  sql: string;
}

export const MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    name: 'initial',
    sql: `
      CREATE TABLE installations (
        id                  text PRIMARY KEY,
        host_kind           text NOT NULL,
        host_url            text NOT NULL,
        host_database       text NOT NULL,
        company_id          text,
        integration_login   text NOT NULL,
        integration_secret  jsonb NOT NULL,
        operator_secret     jsonb,
        settings            jsonb NOT NULL,
        callback_url        text,
        webhook_secret      jsonb,
        api_token_hash      text,
        status              text NOT NULL DEFAULT 'active',
        created_at          timestamptz NOT NULL,
        updated_at          timestamptz NOT NULL,
        version             integer NOT NULL DEFAULT 1
      );
      CREATE INDEX installations_api_token_hash ON installations (api_token_hash) WHERE api_token_hash IS NOT NULL;

      CREATE TABLE ledger (
        installation_id     text NOT NULL,
        invoice_id          text NOT NULL,
        invoice_number      text,
        state               text NOT NULL,
        -- state before the current claim, restored by release()
        prev_state          text,
        owner               text,
        lease_until         timestamptz,
        attempts            integer NOT NULL DEFAULT 0,
        message_id          text NOT NULL,
        content_hash        text,
        reason              text,
        detail              text,
        recipients          jsonb NOT NULL DEFAULT '[]',
        write_back_pending  boolean NOT NULL DEFAULT false,
        next_attempt_at     timestamptz,
        updated_at          timestamptz NOT NULL,
        PRIMARY KEY (installation_id, invoice_id)
      );
      CREATE INDEX ledger_state ON ledger (installation_id, state);
      CREATE INDEX ledger_write_back ON ledger (installation_id, updated_at) WHERE write_back_pending;

      CREATE TABLE logs (
        id                  bigserial PRIMARY KEY,
        installation_id     text NOT NULL,
        run_id              text,
        at                  timestamptz NOT NULL,
        level               text NOT NULL,
        event               text NOT NULL,
        invoice_id          text,
        invoice_number      text,
        message             text NOT NULL,
        data                jsonb
      );
      CREATE INDEX logs_newest ON logs (installation_id, id DESC);
      CREATE INDEX logs_invoice_event ON logs (installation_id, invoice_id, event);
      CREATE INDEX logs_run ON logs (run_id) WHERE run_id IS NOT NULL;

      CREATE TABLE runs (
        id                  text PRIMARY KEY,
        installation_id     text NOT NULL,
        trigger             text NOT NULL,
        status              text NOT NULL,
        started_at          timestamptz NOT NULL,
        finished_at         timestamptz,
        counts              jsonb NOT NULL,
        processed           integer NOT NULL DEFAULT 0,
        total               integer NOT NULL DEFAULT 0,
        error               text
      );
      CREATE INDEX runs_newest ON runs (installation_id, started_at DESC);
    `,
  },
  {
    version: 2,
    name: 'managed accounts and templates',
    sql: `
      -- connector-managed e-mail accounts and templates (hosts without them, e.g. Tryton); record = the port's shape
      CREATE TABLE managed_records (
        installation_id     text NOT NULL,
        kind                text NOT NULL,
        id                  text NOT NULL,
        record              jsonb NOT NULL,
        created_at          timestamptz NOT NULL,
        updated_at          timestamptz NOT NULL,
        PRIMARY KEY (installation_id, kind, id)
      );
    `,
  },
  {
    version: 3,
    name: 'webhook deliveries',
    sql: `
      -- outgoing webhooks: persisted before the first attempt, every attempt appended to attempts
      CREATE TABLE webhook_deliveries (
        id                  text PRIMARY KEY,
        installation_id     text NOT NULL,
        event_type          text NOT NULL,
        url                 text NOT NULL,
        payload             text NOT NULL,
        status              text NOT NULL,
        attempts            jsonb NOT NULL DEFAULT '[]',
        next_attempt_at     timestamptz,
        expires_at          timestamptz NOT NULL,
        owner               text,
        lease_until         timestamptz,
        created_at          timestamptz NOT NULL,
        updated_at          timestamptz NOT NULL
      );
      CREATE INDEX webhook_deliveries_due ON webhook_deliveries (next_attempt_at) WHERE status = 'pending';
      CREATE INDEX webhook_deliveries_newest ON webhook_deliveries (installation_id, created_at DESC, id);
    `,
  },
  {
    version: 4,
    name: 'ledger versions and hand-over',
    sql: `
      -- a draft e-mailed under "all documents" is e-mailed again once as the posted invoice: version 2
      ALTER TABLE ledger ADD COLUMN version integer NOT NULL DEFAULT 1;
      ALTER TABLE ledger ADD COLUMN draft boolean NOT NULL DEFAULT false;
      -- markSending sets it false, markHandedOver true just before the final "."; rows from before: true (safe side)
      ALTER TABLE ledger ADD COLUMN handed_over boolean NOT NULL DEFAULT true;
    `,
  },
  {
    version: 5,
    name: 'ledger cursor and write-back leases, run heartbeats, incoming event ids',
    sql: `
      -- every recorded outcome bumps outcome_version; a write-back is cleared for the one it wrote
      ALTER TABLE ledger ADD COLUMN outcome_version integer NOT NULL DEFAULT 0;
      ALTER TABLE ledger ADD COLUMN write_back_owner text;
      ALTER TABLE ledger ADD COLUMN write_back_lease_until timestamptz;
      -- the ledger API pages by invoice id, also within one state
      CREATE INDEX ledger_state_cursor ON ledger (installation_id, state, invoice_id);
      CREATE INDEX ledger_owner ON ledger (installation_id, owner) WHERE owner IS NOT NULL;
      -- a running run renews lease_until; one past it belongs to a dead process
      ALTER TABLE runs ADD COLUMN owner text;
      ALTER TABLE runs ADD COLUMN lease_until timestamptz;
      CREATE INDEX runs_running ON runs (installation_id) WHERE status = 'running';
      -- incoming webhook event ids, kept for the signature window (replays are refused)
      CREATE TABLE incoming_events (
        installation_id     text NOT NULL,
        event_id            text NOT NULL,
        keep_until          timestamptz NOT NULL,
        PRIMARY KEY (installation_id, event_id)
      );
      CREATE INDEX incoming_events_expiry ON incoming_events (keep_until);
    `,
  },
  {
    version: 6,
    name: 'delivery reports: ledger by Message-ID, mailbox cursors',
    sql: `
      -- a delivery report names the Message-ID of the message that bounced
      CREATE INDEX ledger_message_id ON ledger (installation_id, message_id);
      -- how far each installation's e-mail account's INBOX was read for delivery reports
      CREATE TABLE mailbox_cursors (
        installation_id     text NOT NULL,
        account_id          text NOT NULL,
        uid_validity        text NOT NULL,
        last_uid            bigint NOT NULL,
        updated_at          timestamptz NOT NULL,
        PRIMARY KEY (installation_id, account_id)
      );
    `,
  },
  {
    version: 7,
    name: 'settings version',
    sql: `
      -- the settings version the settings were written under (src/settings/stored.ts); rows from before: 1
      ALTER TABLE installations ADD COLUMN IF NOT EXISTS settings_version integer NOT NULL DEFAULT 1;
    `,
  },
  {
    version: 8,
    name: 'parked invoices: not read again until the host changes them',
    sql: `
      -- an invoice skipped for a reason only a host change lifts, or with a final outcome; the ledger_*
      -- columns are the entry it was judged with (all NULL = none): the park holds while the entry is that one
      CREATE TABLE parked_invoices (
        installation_id         text NOT NULL,
        invoice_id              text NOT NULL,
        reason                  text NOT NULL,
        ledger_state            text,
        ledger_outcome_version  integer,
        ledger_version          integer,
        checked_at              timestamptz NOT NULL,
        PRIMARY KEY (installation_id, invoice_id)
      );
    `,
  },
  {
    version: 9,
    name: 'split runs: pages whose counts were added',
    sql: `
      -- the page indexes of a split run whose judged counts were added (Store.addRunCounts with a page): once each
      ALTER TABLE runs ADD COLUMN counted_pages integer[] NOT NULL DEFAULT '{}';
    `,
  },
];

/** Arbitrary constant key of the advisory lock that serialises migrations (per database). */
const MIGRATION_LOCK_KEY = 0x1c0_0e7;

/** Applies missing migrations; returns the versions applied by this call. */
export async function migrate(client: pg.ClientBase, migrations: readonly Migration[] = MIGRATIONS): Promise<number[]> {
  const applied: number[] = [];
  await client.query('BEGIN');
  try {
    // Transaction-level lock: released by COMMIT/ROLLBACK, also if the connection dies.
    await client.query('SELECT pg_advisory_xact_lock($1)', [MIGRATION_LOCK_KEY]);
    await client.query(`CREATE TABLE IF NOT EXISTS schema_migrations (
      version integer PRIMARY KEY,
      name text NOT NULL,
      applied_at timestamptz NOT NULL DEFAULT now()
    )`);
    const done = new Set((await client.query<{ version: number }>('SELECT version FROM schema_migrations')).rows.map((r) => r.version));
    for (const m of [...migrations].sort((a, b) => a.version - b.version)) {
      if (done.has(m.version)) continue;
      await client.query(m.sql);
      await client.query('INSERT INTO schema_migrations (version, name) VALUES ($1, $2)', [m.version, m.name]);
      applied.push(m.version);
    }
    await client.query('COMMIT');
  } catch (e) {
    await client.query('ROLLBACK').catch(() => undefined);
    throw e;
  }
  return applied;
}
