/**
 * A PDF renderer with bounded memory: `workers: 0` renders in this thread, `workers ≥ 1` in that many
 * worker threads (fonts parsed once per thread, PDF bytes transferred back, not copied). At most
 * `maxInFlight` renders are pending at once; further `render()` calls wait for a free slot
 * (backpressure), so a long run never holds more than `maxInFlight` PDFs in memory.
 *
 * The worker is `worker.ts` run through tsx's hooks when this module itself runs as TypeScript (vitest,
 * `tsx src/main.ts`), or the compiled `worker.js` next to the compiled `pool.js` (see `startWorker`).
 *
 * A worker that dies fails only the renders it held (`render_failed`, retryable) and is replaced.
 *
 * Memory (docs/performance.md, issue 12): a worker thread is a V8 isolate of its own with its own copy of
 * pdfkit, fontkit and the parsed fonts, about 55 MB before its first render and 80–110 MB after a few
 * hundred. So workers start on the first render, not with the pool, and stop again after `idleMs`
 * without a render (between scheduled runs the process holds none); the next render starts them again.
 * In this thread (`workers: 0`) the renderer's modules are loaded and the fonts parsed on the first render too.
 */
import { createRequire } from 'node:module';
import { pathToFileURL } from 'node:url';
import { Worker } from 'node:worker_threads';
import type { Invoice } from '../domain.ts';
import { ConnectorError, type ErrorCode } from '../errors.ts';
import type { PrintWarning } from '../messages/catalogue.ts';
import type { RenderOptions, RenderResult } from './print.ts';
import { afterIsolateCreated, holdingYoungGeneration } from './young-generation.ts';

/**
 * Renders in this thread (`workers: 0`). print.ts (pdfkit, fontkit, qrcode: ~20 MB resident) is loaded
 * on the first such render, not with the pool: with workers the main thread never loads it.
 */
let inThread: Promise<typeof import('./print.ts')> | null = null;
async function renderInThread(invoice: Invoice, printId: string, options: RenderOptions): Promise<RenderResult> {
  inThread ??= import('./print.ts').catch((e: unknown) => {
    inThread = null; // the next render tries again
    throw e;
  });
  return (await inThread).renderStandardPrint(invoice, printId, options);
}

export interface WorkerRequest {
  id: number;
  invoice: Invoice;
  printId: string;
  options: RenderOptions;
}

/** A diagnostic request (`sampleRenderWorkers`): the worker answers with its isolate's heap figures. */
export interface WorkerHeapRequest {
  id: number;
  heap: true;
}

/** One worker isolate's memory, in bytes (v8.getHeapStatistics and process.memoryUsage inside the worker). */
export interface WorkerHeap {
  /** Heap reserved / committed to physical pages / used by live and not yet collected objects. */
  total: number;
  physical: number;
  used: number;
  /** Memory outside the JS heap that V8 knows of (ArrayBuffer backing stores and the like). */
  external: number;
  arrayBuffers: number;
  /** V8's own malloc'd memory (compiler, parser). */
  malloced: number;
  /** Young generation (new space) committed. */
  newSpace: number;
  /** Renders this worker has done since it started. */
  renders: number;
}

export type WorkerResponse =
  | { id: number; heap: WorkerHeap }
  | { id: number; ok: true; pdf: Uint8Array; warnings: PrintWarning[] }
  | { id: number; ok: false; error: { code: ErrorCode; message: string; detail: Record<string, unknown> | undefined } };

export interface PdfRenderer {
  render(invoice: Invoice, printId: string, options?: RenderOptions): Promise<RenderResult>;
  /**
   * Prepares for renders about to come (a run that will print): with workers, starts them now, so that
   * their start (a second or more of CPU each, on threads of their own) overlaps the host's first page
   * instead of holding back the first e-mails. In this thread (`workers: 0`) it does nothing: loading the
   * print modules and parsing the fonts early would only hold this same thread while the host answers
   * (measured: it delayed the first page's reads by about a second). Never rejects.
   */
  warm(): Promise<void>;
  /** Renders running now, `render()` calls waiting for a free slot, and worker threads running now. */
  stats(): { inFlight: number; waiting: number; workers: number };
  /** Waits for pending renders, then stops the workers. Later `render()` calls fail. */
  close(): Promise<void>;
}

export interface PdfRendererOptions {
  workers: number;
  maxInFlight: number;
  /**
   * A worker render that takes longer fails with `render_failed` (retryable) and its worker is
   * replaced (it may be stuck). Default 60 s. Not applied to in-process renders (they cannot hang
   * without blocking the whole thread anyway).
   */
  timeoutMs?: number;
  /**
   * Workers stop after this long without a pending render and start again on the next one. Default
   * `DEFAULT_WORKER_IDLE_MS` (a scheduled run keeps them busy; between runs they would only hold memory).
   */
  idleMs?: number;
}

/**
 * 60 s: well above a gap between two pages of a run on a loaded machine (restarting a worker costs a
 * second or more of CPU), far below the 30 min between scheduled slots.
 */
export const DEFAULT_WORKER_IDLE_MS = 60_000;

/**
 * A worker's young generation (V8's two semi-spaces and the new large-object space; a semi-space is a
 * third of it): 24 MB, i.e. 8 MB semi-spaces instead of V8's 16 MB. Renders allocate ~3.7 MB of
 * short-lived objects each and keep almost nothing, so the default lets the semi-spaces grow to 2 ×
 * 16 MB resident per worker for no gain: measured (one worker, 400 renders one after another, plain
 * node) 78–82 MB instead of 92–95 MB of RSS, CPU per render unchanged (10.6–11.4 vs 11.7–13.0 ms).
 * Smaller is slower: 12 MB cost +25 % CPU per render, and 8 MB was measured mixed before
 * (docs/performance.md).
 */
export const WORKER_YOUNG_GENERATION_MB = 24;

interface Pending {
  resolve(r: RenderResult): void;
  reject(e: unknown): void;
}

interface Slot {
  worker: Worker;
  pending: Map<number, Pending>;
  /** Outstanding `sampleRenderWorkers` requests (not renders: they do not count as pending work). */
  sampling: Map<number, (h: WorkerHeap) => void>;
}

/** The running workers of every renderer in this process, for `sampleRenderWorkers`. */
const liveSlots = new Set<Slot>();
let nextSampleId = 1;

/**
 * A diagnostic (bench/e2e.ts --memory): each running render worker's heap figures, asked of the workers
 * themselves (a worker's memory is part of this process's RSS; only the isolate can tell its own heap).
 * Costs nothing unless called; a worker that does not answer within `timeoutMs` is left out.
 */
export async function sampleRenderWorkers(timeoutMs = 2_000): Promise<WorkerHeap[]> {
  const answers = [...liveSlots].map(
    (slot) =>
      new Promise<WorkerHeap | null>((resolve) => {
        const id = nextSampleId++;
        const timer = setTimeout(() => {
          slot.sampling.delete(id);
          resolve(null);
        }, timeoutMs);
        timer.unref();
        slot.sampling.set(id, (h) => {
          clearTimeout(timer);
          resolve(h);
        });
        const req: WorkerHeapRequest = { id, heap: true };
        slot.worker.postMessage(req);
      }),
  );
  return (await Promise.all(answers)).filter((h): h is WorkerHeap => h !== null);
}

/**
 * How to start a worker: a tiny CommonJS bootstrap (eval) that first tells this thread that the worker's
 * isolate exists, then imports the entry. Compiled: `worker.js` next to the compiled `pool.js`. TypeScript
 * (vitest, tsx): Node 20 does not apply `--import tsx` given in a worker's execArgv, so the bootstrap
 * registers tsx's ESM hooks inside the worker before it imports `worker.ts`.
 *
 * While young-generation.ts holds this thread's young generation, this thread waits (at most
 * ISOLATE_WAIT_MS; measured 40–50 ms per worker) for that first statement: creating the
 * worker's heap resets V8's semi-space growth factor, which young-generation.ts sets back before this
 * thread collects again.
 */
const ISOLATE_WAIT_MS = 3_000;

function startWorker(): Worker {
  const self = import.meta.url;
  const resourceLimits = { maxYoungGenerationSizeMb: WORKER_YOUNG_GENERATION_MB };
  const started = new Int32Array(new SharedArrayBuffer(4));
  const signal = `Atomics.store(require('node:worker_threads').workerData, 0, 1); Atomics.notify(require('node:worker_threads').workerData, 0);`;
  let code: string;
  if (!self.endsWith('.ts')) {
    code = `${signal}\nimport(${JSON.stringify(new URL('./worker.js', self).href)}).catch((e) => { setImmediate(() => { throw e; }); });`;
  } else {
    // tsx's ESM api entry (the `import` condition of its "./esm/api" export); the signal after register(),
    // which starts a thread of its own for the hooks (another isolate)
    const api = new URL('./dist/esm/api/index.mjs', pathToFileURL(createRequire(self).resolve('tsx/package.json'))).href;
    const entry = new URL('./worker.ts', self).href;
    code = `import(${JSON.stringify(api)}).then((tsx) => { tsx.register(); ${signal} return import(${JSON.stringify(entry)}); })
  .catch((e) => { setImmediate(() => { throw e; }); });`;
  }
  const worker = new Worker(code, { eval: true, resourceLimits, workerData: started });
  if (holdingYoungGeneration()) {
    Atomics.wait(started, 0, 0, ISOLATE_WAIT_MS);
    afterIsolateCreated();
  }
  return worker;
}

export function createPdfRenderer(options: PdfRendererOptions): PdfRenderer {
  const workers = Math.floor(options.workers);
  const maxInFlight = Math.floor(options.maxInFlight);
  const timeoutMs = options.timeoutMs ?? 60_000;
  const idleMs = options.idleMs ?? DEFAULT_WORKER_IDLE_MS;
  if (!(workers >= 0)) throw new ConnectorError('validation', 'createPdfRenderer: workers must be 0 or more', { field: 'workers' });
  if (!(maxInFlight >= 1)) throw new ConnectorError('validation', 'createPdfRenderer: maxInFlight must be 1 or more', { field: 'maxInFlight' });

  let inFlight = 0;
  const waiters: (() => void)[] = [];
  let closed = false;
  const settled = new Set<Promise<unknown>>();

  const acquire = async () => {
    while (inFlight >= maxInFlight) await new Promise<void>((r) => waiters.push(r));
    inFlight++;
  };
  const release = () => {
    inFlight--;
    waiters.shift()?.();
    if (inFlight === 0 && waiters.length === 0 && !closed) scheduleIdleStop();
  };

  /** Running workers by index; null = not started (or stopped while idle). */
  const slots: (Slot | null)[] = Array.from({ length: workers }, () => null);
  let idleTimer: NodeJS.Timeout | null = null;
  const scheduleIdleStop = () => {
    if (workers === 0 || idleTimer) return;
    idleTimer = setTimeout(() => {
      idleTimer = null;
      if (inFlight > 0 || waiters.length > 0) return;
      for (const [i, s] of slots.entries()) {
        if (!s || s.pending.size > 0) continue;
        slots[i] = null; // first, so its 'exit' does not respawn it
        liveSlots.delete(s);
        void s.worker.terminate();
      }
    }, idleMs);
    idleTimer.unref();
  };
  const cancelIdleStop = () => {
    if (idleTimer) clearTimeout(idleTimer);
    idleTimer = null;
  };
  let nextId = 1;

  const spawn = (index: number): Slot => {
    const worker = startWorker();
    const slot: Slot = { worker, pending: new Map(), sampling: new Map() };
    liveSlots.add(slot);
    worker.on('message', (res: WorkerResponse) => {
      if ('heap' in res) {
        slot.sampling.get(res.id)?.(res.heap);
        slot.sampling.delete(res.id);
        return;
      }
      const p = slot.pending.get(res.id);
      if (!p) return;
      slot.pending.delete(res.id);
      if (res.ok) p.resolve({ pdf: res.pdf, warnings: res.warnings });
      else p.reject(new ConnectorError(res.error.code, res.error.message, { detail: res.error.detail }));
    });
    const fail = (why: string, cause?: unknown) => {
      liveSlots.delete(slot);
      for (const p of slot.pending.values()) p.reject(new ConnectorError('render_failed', why, { retryable: true, cause }));
      slot.pending.clear();
      if (!closed && slots[index] === slot) slots[index] = spawn(index);
    };
    worker.on('error', (e) => fail(`Render worker failed: ${e.message}`, e));
    worker.on('exit', (code) => fail(`Render worker exited with code ${code}`));
    worker.unref();
    return slot;
  };

  const viaWorker = (invoice: Invoice, printId: string, opts: RenderOptions): Promise<RenderResult> => {
    // start the workers not running, then take the least busy one
    for (let i = 0; i < workers; i++) slots[i] ??= spawn(i);
    const running = slots as Slot[];
    let slot = running[0]!;
    for (const s of running) if (s.pending.size < slot.pending.size) slot = s;
    const id = nextId++;
    return new Promise<RenderResult>((resolve, reject) => {
      const timer = setTimeout(() => {
        if (!slot.pending.delete(id)) return;
        reject(new ConnectorError('render_failed', `Rendering invoice ${invoice.number ?? invoice.id} took longer than ${timeoutMs} ms.`, { retryable: true }));
        // the worker may be stuck: replace it (its other renders fail and are retried by their callers)
        void slot.worker.terminate();
      }, timeoutMs);
      timer.unref();
      slot.pending.set(id, {
        resolve: (r) => {
          clearTimeout(timer);
          resolve(r);
        },
        reject: (e) => {
          clearTimeout(timer);
          reject(e);
        },
      });
      slot.worker.ref();
      const req: WorkerRequest = { id, invoice, printId, options: opts };
      slot.worker.postMessage(req);
    }).finally(() => {
      if (slot.pending.size === 0) slot.worker.unref();
    });
  };

  return {
    render(invoice, printId, opts = {}) {
      if (closed) return Promise.reject(new ConnectorError('internal', 'The PDF renderer is closed.'));
      cancelIdleStop();
      const run = async () => {
        await acquire();
        try {
          return await (workers === 0 ? renderInThread(invoice, printId, opts) : viaWorker(invoice, printId, opts));
        } finally {
          release();
        }
      };
      const p = run();
      const tracked = p.catch(() => undefined);
      settled.add(tracked);
      void tracked.then(() => settled.delete(tracked));
      return p;
    },
    async warm() {
      if (closed) return;
      if (workers === 0) return;
      for (let i = 0; i < workers; i++) slots[i] ??= spawn(i);
      if (inFlight === 0 && waiters.length === 0) scheduleIdleStop();
    },
    stats() {
      return { inFlight, waiting: waiters.length, workers: slots.filter((s) => s !== null).length };
    },
    async close() {
      closed = true;
      cancelIdleStop();
      await Promise.all([...settled]);
      await Promise.all(slots.map((s) => s?.worker.terminate()));
    },
  };
}
