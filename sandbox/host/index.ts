/**
 * The sandbox host: a server that answers like real Odoo 17.0 / 18.0 (default) / 19.0 (JSON-RPC, the web
 * routes the connector uses, JSON-2 on 19), with deterministic, realistic Polish seed data, used by
 * `npm start` (the demo) and by the tests. docs/odoo-differences.md says how it follows the recorded real
 * Odoo (test/fixtures/odoo-real) and how to pick the version and modules.
 *
 * `startSandboxHost` seeds (or loads `stateFile`), binds `host:port` (default 127.0.0.1, port 0 =
 * any free port) and returns direct accessors for tests and the demo.
 */
import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { DateTime } from 'luxon';
import { applyManualField, buildModels } from './models.ts';
import { Orm } from './orm.ts';
import type { Env, OrmState } from './orm.ts';
import { makeProfile } from './profile.ts';
import type { OdooVersion, Profile, SandboxModules } from './profile.ts';
import { RpcServices } from './rpc.ts';
import { seedSandbox, upgradeState } from './seed.ts';
import { SandboxHttp } from './server.ts';
import { registerExtensions, type ExtensionsOptions, type ExtensionsScreen } from './extensions.ts';

export { USERS as SANDBOX_USERS, SELLER_DOMAIN as SANDBOX_SELLER_DOMAIN } from './seed.ts';
export { SandboxHttp } from './server.ts';
export type { OdooVersion, SandboxModules } from './profile.ts';
export type { RouteContext } from './server.ts';

export interface SandboxOptions {
  /** Bind address; default 127.0.0.1. */
  host?: string;
  /** Port; default 0 (any free port). */
  port?: number;
  /** Database name; default 'sandbox'. */
  database?: string;
  /** ISO date the seed is relative to; default = today in Europe/Warsaw. */
  today?: string;
  /** The SMTP server the seeded "Sandbox SMTP" mail server points at (the local SMTP sink). */
  smtp: { host: string; port: number; user?: string | null; password?: string | null; encryption?: 'none' | 'starttls' | 'ssl' };
  /** When given: a fetchmail.server for it, paired by user with a mail server. */
  imap?: { host: string; port: number; user: string; password: string; ssl: boolean } | null;
  /** When set: load state from it if present, save after every change (atomic rename). */
  stateFile?: string | null;
  /** Number of seeded invoices before credit notes; default 220. */
  invoiceCount?: number;
  /** When given: the "Extensions" screen at /extensions for the connector at `connectorUrl` (extensions.ts). */
  extensions?: ExtensionsOptions | null;
  /** Which real Odoo the sandbox answers like: '17.0', '18.0' (default) or '19.0' (JSON-2 on top of JSON-RPC). */
  version?: OdooVersion;
  /**
   * Modules beyond `account` + `l10n_pl` (default: both true, so the demo and the print tests have KSeF
   * numbers and split-payment data; real 18.0 community has neither: pass false for both to answer like it).
   */
  modules?: SandboxModules;
  /** The database's default language; default as the recorded servers: 18/19 en_US, 17 pl_PL. */
  defaultLang?: string;
}

export interface SandboxHost {
  url: string;
  database: string;
  port: number;
  /** Direct, typed access for tests and the demo: every record of a model (inactive ones too), serialised as `read` does, by id. */
  records(model: string): Record<string, unknown>[];
  /** Changes a record as the superuser (Odoo write values: many2one id, x2many id list or commands); hooks run (numbering, totals). */
  write(model: string, id: number, values: Record<string, unknown>): void;
  /** Creates a record as the superuser; returns its id. */
  create(model: string, values: Record<string, unknown>): number;
  /** The HTTP router, for later screens that add routes. */
  http: SandboxHttp;
  /** The version, modules and default language the sandbox answers with. */
  profile: Profile;
  /** The Extensions screen, when `options.extensions` was given. */
  extensions: ExtensionsScreen | null;
  stop(): Promise<void>;
}

export const DEFAULT_INVOICE_COUNT = 220;

/**
 * The sandbox's day in Warsaw, from which its whole seed is drawn; `SANDBOX_TODAY=YYYY-MM-DD` draws another
 * day's seed (to reproduce a test that failed on that day; the connector's own clock is not moved).
 */
export function warsawToday(): string {
  return process.env['SANDBOX_TODAY'] ?? (DateTime.now().setZone('Europe/Warsaw').toISODate() as string);
}

/** Builds the seeded ORM without any server (used by startSandboxHost and by determinism tests). */
export function buildSandboxOrm(
  options: Pick<SandboxOptions, 'today' | 'smtp' | 'imap' | 'invoiceCount' | 'version' | 'modules' | 'defaultLang'>,
  profile: Profile = makeProfile(options),
): Orm {
  const today = options.today ?? warsawToday();
  const orm = new Orm(buildModels(profile), today);
  seedSandbox(orm, { today, smtp: options.smtp, imap: options.imap ?? null, invoiceCount: options.invoiceCount ?? DEFAULT_INVOICE_COUNT, profile });
  return orm;
}

function loadState(file: string, profile: Profile): Orm {
  const state = JSON.parse(readFileSync(file, 'utf8')) as OrmState;
  const orm = new Orm(buildModels(profile), state.today);
  orm.importState(state);
  for (const r of orm.table('ir.model.fields').values()) applyManualField(orm, r);
  upgradeState(orm);
  return orm;
}

function saveState(orm: Orm, file: string): void {
  mkdirSync(path.dirname(file), { recursive: true });
  const tmp = `${file}.${process.pid}.tmp`;
  writeFileSync(tmp, JSON.stringify(orm.exportState()));
  renameSync(tmp, file);
}

/** A loaded state keeps its data, but the seeded SMTP servers follow this run's SMTP sink. */
function pointMailServersAt(orm: Orm, smtp: SandboxOptions['smtp']): void {
  for (const r of orm.table('ir.mail_server').values()) {
    if (r.name !== 'Sandbox SMTP' && r.name !== 'Serwer inny-dostawca.example') continue;
    Object.assign(r, {
      smtp_host: smtp.host,
      smtp_port: smtp.port,
      smtp_user: smtp.user ?? false,
      smtp_pass: smtp.password ?? false,
      smtp_encryption: smtp.encryption ?? 'none',
    });
  }
}

export async function startSandboxHost(options: SandboxOptions): Promise<SandboxHost> {
  if (!options.smtp || typeof options.smtp.host !== 'string' || !Number.isInteger(options.smtp.port)) {
    throw new Error('startSandboxHost: options.smtp { host, port } is required');
  }
  if (options.today !== undefined && !DateTime.fromISO(options.today).isValid) {
    throw new Error(`startSandboxHost: options.today must be an ISO date, got ${JSON.stringify(options.today)}`);
  }
  const profile = makeProfile(options);
  const database = options.database ?? 'sandbox';
  const stateFile = options.stateFile ?? null;
  const loaded = stateFile !== null && existsSync(stateFile);
  const orm = loaded ? loadState(stateFile, profile) : buildSandboxOrm(options, profile);
  let dirty = stateFile !== null;
  if (loaded) pointMailServersAt(orm, options.smtp);
  orm.onChange = () => {
    dirty = true;
  };
  const persist = (): void => {
    if (!stateFile || !dirty) return;
    dirty = false;
    saveState(orm, stateFile);
  };
  persist();

  const services = new RpcServices(orm, database, profile);
  const http = new SandboxHttp(orm, services, persist);
  const host = options.host ?? '127.0.0.1';
  const port = await http.listen(host, options.port ?? 0);
  const su: Env = { uid: 1, context: { active_test: false }, su: true };
  const urlHost = host.includes(':') ? `[${host}]` : host;

  return {
    url: `http://${urlHost}:${port}`,
    database,
    port,
    http,
    profile,
    extensions: options.extensions ? registerExtensions(http, orm, { url: () => `http://${urlHost}:${port}`, database }, options.extensions) : null,
    records(model) {
      const ids = [...orm.table(model).keys()].sort((a, b) => a - b);
      return orm.read(model, ids, null, su);
    },
    write(model, id, values) {
      orm.write(model, [id], values, su);
      persist();
    },
    create(model, values) {
      const id = orm.create(model, values, su);
      persist();
      return id;
    },
    async stop() {
      await http.close();
      persist();
    },
  };
}
