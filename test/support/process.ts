/**
 * Runs the connector as a real child process (test/support/connector-child.ts under `node --import
 * tsx`) so that tests can SIGKILL it mid-run, restart it, and run several at once on one database.
 *
 *   const child = await startConnectorProcess({ DATABASE_URL: url, SECRET_KEYS: keys, LEASE_SECONDS: '5' });
 *   await child.api('POST', `/api/installations/${id}/runs`, { token });
 *   child.kill('SIGKILL'); await child.exited;
 */
import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import type { PipelineEvent } from '../../src/jobs/run/pipeline.ts';
import type { Run } from '../../src/store/port.ts';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const ENTRY = path.join(ROOT, 'test', 'support', 'connector-child.ts');

export interface ConnectorProcess {
  url: string;
  pid: number;
  events: PipelineEvent[];
  /** Resolves with the exit code (null after a signal) once the process is gone. */
  exited: Promise<number | null>;
  /** fetch against the child's API; returns status and parsed JSON. */
  api<T = any>(method: string, pathname: string, options?: { token?: string; body?: unknown }): Promise<{ status: number; body: T }>;
  /** Runs the installation in this process now (not through Agenda) and resolves with the finished run. */
  runDirect(installationId: string, timeoutMs?: number): Promise<Run>;
  kill(signal?: NodeJS.Signals): void;
  /** SIGTERM (graceful close), SIGKILL after `timeoutMs`. */
  stop(timeoutMs?: number): Promise<void>;
  /** stderr so far (for failure messages). */
  stderr(): string;
}

export async function startConnectorProcess(env: Record<string, string>, opts: { startTimeoutMs?: number } = {}): Promise<ConnectorProcess> {
  const child: ChildProcess = spawn(process.execPath, ['--import', 'tsx', ENTRY], {
    cwd: ROOT,
    env: { ...process.env, DEMO: 'false', PORT: '0', LOG_LEVEL: 'warn', ...env },
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  let stderr = '';
  child.stderr!.on('data', (c: Buffer) => {
    stderr = (stderr + c.toString('utf8')).slice(-20_000);
  });
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  const events: PipelineEvent[] = [];
  const runWaiters = new Map<string, { resolve: (r: Run) => void; reject: (e: Error) => void }>();
  let onReady: ((url: string) => void) | null = null;
  createInterface({ input: child.stdout! }).on('line', (line) => {
    let msg: any;
    try {
      msg = JSON.parse(line);
    } catch {
      return; // not ours (a library printing)
    }
    if (msg.ready) onReady?.(msg.ready as string);
    else if (msg.event) events.push(msg.event as PipelineEvent);
    else if (msg.tag && runWaiters.has(msg.tag)) {
      const w = runWaiters.get(msg.tag)!;
      runWaiters.delete(msg.tag);
      if (msg.run) w.resolve(msg.run as Run);
      else w.reject(new Error(`run failed in child ${child.pid}: ${msg.runError ?? 'no run (installation inactive?)'}`));
    }
  });
  void exited.then(() => {
    for (const w of runWaiters.values()) w.reject(new Error(`child ${child.pid} exited during a run\n${stderr}`));
    runWaiters.clear();
  });

  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`connector child did not start within the timeout\n${stderr}`));
    }, opts.startTimeoutMs ?? 90_000);
    onReady = (u) => {
      clearTimeout(timer);
      resolve(u);
    };
    void exited.then((code) => {
      clearTimeout(timer);
      reject(new Error(`connector child exited (${code}) before it was ready\n${stderr}`));
    });
  });

  let seq = 0;
  const proc: ConnectorProcess = {
    url,
    pid: child.pid!,
    events,
    exited,
    async api(method, pathname, options = {}) {
      const res = await fetch(`${url}${pathname}`, {
        method,
        headers: {
          ...(options.body !== undefined ? { 'content-type': 'application/json' } : {}),
          ...(options.token ? { authorization: `Bearer ${options.token}` } : {}),
        },
        ...(options.body !== undefined ? { body: JSON.stringify(options.body) } : {}),
        signal: AbortSignal.timeout(60_000),
      });
      const text = await res.text();
      return { status: res.status, body: text ? JSON.parse(text) : null };
    },
    runDirect(installationId, timeoutMs = 180_000) {
      const tag = `r${++seq}`;
      return new Promise<Run>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`run ${tag} in child ${child.pid} did not finish in time`)), timeoutMs);
        runWaiters.set(tag, {
          resolve: (r) => {
            clearTimeout(timer);
            resolve(r);
          },
          reject: (e) => {
            clearTimeout(timer);
            reject(e);
          },
        });
        child.stdin!.write(`run ${installationId} ${tag}\n`);
      });
    },
    kill(signal = 'SIGKILL') {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
    },
    async stop(timeoutMs = 15_000) {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
      await exited;
      clearTimeout(timer);
    },
    stderr: () => stderr,
  };
  return proc;
}
