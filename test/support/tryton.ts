/**
 * Starts a real, seeded Tryton 6.0 (Debian's trytond) for a test file: `startTryton()` runs
 * test/services/tryton-start.sh into a fresh temp dir on a free 127.0.0.1 port and resolves when the
 * server answers. Start it ONCE per test file (beforeAll): creating and seeding takes 20-60 s the first
 * time a day; later starts copy the seeded database from .services/tryton-cache (~2 s).
 * Returns null when trytond is not installed (tests then print how to install it and skip).
 */
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

export const TRYTON_INSTALL =
  'DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends tryton-server tryton-modules-account-invoice ' +
  'tryton-modules-account-invoice-history tryton-modules-party tryton-modules-company tryton-modules-currency tryton-proteus';

export interface SeededInvoice {
  id: number;
  number: string | null;
  state: string;
  total: string;
  currency: string;
  date: string;
}

/** The seed script's JSON summary (test/services/tryton-seed.py). */
export interface TrytonSeed {
  invoices: Record<
    'posted_pln' | 'posted_mixed_vat' | 'paid_pln' | 'posted_eur' | 'cancelled_pln' | 'validated_pln' | 'draft_pln' | 'credit_note',
    SeededInvoice
  >;
  parties: Record<'acme' | 'nomail' | 'kowalski' | 'muller', number>;
  company: { id: number; party: number };
  users: { ksiegowa: number };
}

export interface RunningTryton {
  url: string;
  database: string;
  admin: { login: string; password: string };
  /** A second user with accounting rights. */
  ksiegowa: { login: string; password: string };
  seed: TrytonSeed;
  /** The SQLite file behind the database (for ground truth and for ending sessions in tests). */
  dbFile: string;
  /** e.g. "cached no, admin+activate 12.1s, seed 9.0s, server-ready 1.2s, total 22.3s" */
  timings: string;
  stop(): Promise<void>;
}

const ROOT = resolve(fileURLToPath(new URL('../..', import.meta.url)));
const SCRIPT = join(ROOT, 'test/services/tryton-start.sh');

export function trytonInstalled(): boolean {
  return ['/usr/bin/trytond', '/usr/local/bin/trytond'].some((p) => existsSync(p));
}

/** Logs the skip line once and returns null when Tryton is missing. */
export async function startTryton(): Promise<RunningTryton | null> {
  if (!trytonInstalled()) {
    console.warn(`tryton SKIPPED — install with: ${TRYTON_INSTALL}`);
    return null;
  }
  const dir = await mkdtemp(join(tmpdir(), 'courier-tryton-'));
  const port = await freePort();
  const database = 'courier';
  const out = await new Promise<string>((ok, fail) => {
    execFile(
      SCRIPT,
      [dir, String(port), database],
      { env: { ...process.env, TRYTON_CACHE_DIR: join(ROOT, '.services/tryton-cache') }, timeout: 180_000 },
      (err, stdout, stderr) => (err ? fail(new Error(`tryton-start.sh failed: ${stderr || err.message}`)) : ok(stdout)),
    );
  });
  const seed = JSON.parse(await readFile(join(dir, 'seed.json'), 'utf8')) as TrytonSeed;
  const pid = Number((await readFile(join(dir, 'server.pid'), 'utf8')).trim());
  return {
    url: `http://127.0.0.1:${port}`,
    database,
    admin: { login: 'admin', password: 'admin-secret' },
    ksiegowa: { login: 'ksiegowa', password: 'ksiegowa-secret-1' },
    seed,
    dbFile: join(dir, 'db', `${database}.sqlite`),
    timings: out.trim(),
    async stop() {
      try {
        process.kill(-pid, 'SIGTERM'); // setsid made the server its own process group
      } catch {
        /* already gone */
      }
      for (let i = 0; i < 50; i++) {
        try {
          process.kill(pid, 0);
        } catch {
          break;
        }
        await new Promise((r) => setTimeout(r, 100));
      }
      await rm(dir, { recursive: true, force: true });
    },
  };
}

function freePort(): Promise<number> {
  return new Promise((ok, fail) => {
    const s = createServer();
    s.once('error', fail);
    s.listen(0, '127.0.0.1', () => {
      const addr = s.address();
      const port = typeof addr === 'object' && addr ? addr.port : 0;
      s.close(() => ok(port));
    });
  });
}

/**
 * A raw JSON-RPC caller for ground truth in tests (deliberately not the adapter's client): logs in as
 * admin once; `call` appends nothing, so pass the context yourself (`{}` works for admin).
 * Results keep Tryton's tagged values as they are on the wire.
 */
// Raw wire shapes are what these tests inspect; typing every Tryton record would add nothing.
export type TrytonRawCall = (method: string, params: unknown[]) => Promise<any>;

export async function trytonRaw(t: RunningTryton): Promise<TrytonRawCall> {
  const post = async (body: unknown, auth?: string) => {
    const res = await fetch(`${t.url}/${t.database}/`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json', ...(auth ? { Authorization: auth } : {}) },
      body: JSON.stringify(body),
      signal: AbortSignal.timeout(20_000),
    });
    if (res.status !== 200) throw new Error(`tryton HTTP ${res.status}`);
    const json = (await res.json()) as { result?: unknown; error?: unknown };
    if (json.error) throw new Error(`tryton error ${JSON.stringify(json.error)}`);
    return json.result;
  };
  const [uid, session] = (await post({ id: 1, method: 'common.db.login', params: [t.admin.login, { password: t.admin.password }] })) as [number, string];
  const auth = `Session ${Buffer.from(`${t.admin.login}:${uid}:${session}`).toString('base64')}`;
  let id = 2;
  return (method, params) => post({ id: id++, method, params }, auth);
}

/** Runs one SQL statement on the Tryton database file (Debian's python3 sqlite3); returns the rows. */
export function trytonSql(t: RunningTryton, sql: string, params: (string | number)[] = []): Promise<unknown[][]> {
  const script =
    'import json,sqlite3,sys\n' +
    'c=sqlite3.connect(sys.argv[1],timeout=10)\n' +
    'rows=c.execute(sys.argv[2],json.loads(sys.argv[3])).fetchall()\n' +
    'c.commit()\n' +
    'print(json.dumps(rows,default=str))';
  return new Promise((ok, fail) => {
    execFile('/usr/bin/python3', ['-c', script, t.dbFile, sql, JSON.stringify(params)], { timeout: 20_000 }, (err, stdout, stderr) =>
      err ? fail(new Error(`sqlite failed: ${stderr || err.message}`)) : ok(JSON.parse(stdout) as unknown[][]),
    );
  });
}
