/**
 * What the end-to-end benchmarks (../e2e.ts, ../split.ts) run on the far side of the connector, in their
 * parent process: a real SMTP server on loopback that notes every accepted message (in a thread of its own), a proxy in front of
 * the host that counts its calls, the embedded PostgreSQL, and the compiled child (the benchmark file as plain JavaScript beside
 * the packages, so that the connector runs on plain node on dist/ as production runs it).
 *
 * Parent only: the benchmarks import this module dynamically in their parent code, because their child
 * is the benchmark file alone, transpiled into node_modules (it cannot import files beside it).
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs/promises';
import http from 'node:http';
import { createRequire } from 'node:module';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { Worker } from 'node:worker_threads';

/** A message the SMTP server accepted: when, its Message-ID, and the SMTP session (connection) it came on. */
export interface Accepted {
  at: number;
  messageId: string;
  session: string;
}

/**
 * smtp-server on 127.0.0.1 with any AUTH accepted, in a thread of its own (./smtp-sink-thread.ts: the
 * host's work in this thread does not hold its replies); `accepted` grows as messages arrive, and after
 * `flush()` it holds every message accepted before the call. smtp-server waits 100 ms before each new
 * connection's greeting (its check for clients that talk too soon), as many real servers pause.
 */
export async function startSmtpSink(): Promise<{ port: number; accepted: Accepted[]; flush: () => Promise<void>; stop: () => Promise<void> }> {
  const accepted: Accepted[] = [];
  // The benchmarks' parent runs under tsx, whose hooks a worker does not inherit: the thread registers them.
  const tsxApi = new URL('./dist/esm/api/index.mjs', pathToFileURL(createRequire(import.meta.url).resolve('tsx/package.json'))).href;
  const entry = new URL('./smtp-sink-thread.ts', import.meta.url).href;
  const thread = new Worker(`import(${JSON.stringify(tsxApi)}).then((tsx) => { tsx.register(); return import(${JSON.stringify(entry)}); })`, { eval: true });
  const waiting = new Map<number, () => void>();
  let stopped: (() => void) | undefined;
  let flushes = 0;
  const port = await new Promise<number>((resolve, reject) => {
    thread.once('error', reject);
    thread.on('message', (msg: { listening?: number; accepted?: Accepted; flushed?: number; stopped?: boolean }) => {
      if (msg.accepted) accepted.push(msg.accepted);
      else if (msg.listening !== undefined) resolve(msg.listening);
      else if (msg.flushed !== undefined) waiting.get(msg.flushed)?.();
      else if (msg.stopped) stopped?.();
    });
  });
  return {
    port,
    accepted,
    flush: () =>
      new Promise<void>((resolve) => {
        const id = ++flushes;
        waiting.set(id, () => {
          waiting.delete(id);
          resolve();
        });
        thread.postMessage({ flush: id });
      }),
    stop: async () => {
      await new Promise<void>((resolve) => {
        stopped = resolve;
        thread.postMessage({ stop: true });
      });
      await thread.terminate();
    },
  };
}

/** One host call through the proxy: when, and `model.method` (JSON-RPC) or the route with its numbers left out. */
export interface HostCall {
  at: number;
  key: string;
}

/** An HTTP proxy in front of the host that notes every call (JSON-RPC by model.method, other routes by path). */
export async function startCountingProxy(target: string): Promise<{ url: string; calls: HostCall[]; stop: () => Promise<void> }> {
  const calls: HostCall[] = [];
  const agent = new http.Agent({ keepAlive: true, maxSockets: 64 });
  const t = new URL(target);
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks);
      let key = `${req.method} ${(req.url ?? '').replace(/\d+/g, ':n').split('?')[0]}`;
      try {
        const rpc = JSON.parse(body.toString('utf8'));
        const a = rpc?.params?.args;
        if (rpc?.params?.method === 'execute_kw' && Array.isArray(a)) key = `${a[3]}.${a[4]}`;
        else if (rpc?.params?.service) key = `${rpc.params.service}.${rpc.params.method}`;
      } catch {
        /* not JSON: keep the route */
      }
      calls.push({ at: Date.now(), key });
      const up = http.request({ host: t.hostname, port: t.port, method: req.method, path: req.url, headers: req.headers, agent }, (r) => {
        res.writeHead(r.statusCode ?? 502, r.headers);
        r.pipe(res);
      });
      up.on('error', () => {
        res.writeHead(502);
        res.end();
      });
      up.end(body);
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  const port = (server.address() as { port: number }).port;
  return {
    url: `http://127.0.0.1:${port}`,
    calls,
    stop: async () => {
      agent.destroy();
      await new Promise<void>((r) => server.close(() => r()));
    },
  };
}

/** Host calls between two instants (inclusive), by key. */
export function callsBetween(calls: HostCall[], from: number, to: number): Map<string, number> {
  const out = new Map<string, number>();
  for (const c of calls) if (c.at >= from && c.at <= to) out.set(c.key, (out.get(c.key) ?? 0) + 1);
  return out;
}

/**
 * For `--runtime compiled`: builds dist/ (`npm run build`) and writes the benchmark file `benchUrl` as
 * plain JavaScript where node resolves the repository's packages from. The file is this invocation's
 * own (node_modules may be a hard-linked copy shared by several checkouts: writing over a shared file
 * would change what another checkout's benchmark runs); `remove()` deletes it.
 */
export async function buildCompiledChild(benchUrl: string): Promise<{ file: string; dist: string; remove: () => Promise<void> }> {
  const root = fileURLToPath(new URL('..', benchUrl));
  execFileSync('npm', ['run', '--silent', 'build'], { cwd: root, stdio: 'inherit' });
  const ts = (await import('typescript')).default;
  const source = await fs.readFile(fileURLToPath(benchUrl), 'utf8');
  const name = path.basename(fileURLToPath(benchUrl), '.ts');
  const js = ts.transpileModule(source, {
    fileName: `${name}.ts`,
    compilerOptions: { module: ts.ModuleKind.ESNext, target: ts.ScriptTarget.ES2022 },
  }).outputText;
  const dir = path.join(root, 'node_modules', '.cache', 'invoice-courier-bench');
  await fs.mkdir(dir, { recursive: true });
  const file = path.join(dir, `${name}-child-${process.pid}.mjs`);
  await fs.rm(file, { force: true });
  await fs.writeFile(file, js);
  return { file, dist: pathToFileURL(path.join(root, 'dist') + path.sep).href, remove: () => fs.rm(file, { force: true }) };
}

/**
 * One embedded PostgreSQL for a benchmark invocation (in a temporary folder): a fresh database per
 * configuration, the postmaster's pid (for its CPU), and `stop()`, which also removes the folder.
 */
export async function startBenchPostgres(
  name: string,
): Promise<{ freshDatabase(label: string): Promise<string>; postmasterPid(): Promise<number>; stop(): Promise<void> }> {
  const { startEmbeddedPostgres } = await import('../../src/store/embedded.ts');
  const { freePort } = await import('../../test/support/ports.ts');
  const pg = (await import('pg')).default;
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), `invoice-courier-bench-${name}-`));
  await fs.chmod(dir, 0o755);
  const dataDir = path.join(dir, 'data');
  const server = await startEmbeddedPostgres({
    dataDir,
    port: await freePort(),
    database: 'bench',
    log: () => undefined,
    postgresFlags: ['-c', 'max_connections=300'],
  });
  return {
    async freshDatabase(label) {
      const dbName = `${label}_${Date.now().toString(36)}`;
      const admin = new pg.Client({ connectionString: server.url });
      await admin.connect();
      await admin.query(`CREATE DATABASE ${dbName} TEMPLATE template0`);
      await admin.end();
      const url = new URL(server.url);
      url.pathname = `/${dbName}`;
      return url.toString();
    },
    async postmasterPid() {
      return Number((await fs.readFile(path.join(dataDir, 'postmaster.pid'), 'utf8')).split('\n')[0]);
    },
    async stop() {
      await server.stop();
      await fs.rm(dir, { recursive: true, force: true });
    },
  };
}
