import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { isConnectorError } from '../../src/errors.ts';
import { createPdfRenderer, sampleRenderWorkers } from '../../src/render/pool.ts';
import { renderStandardPrint } from '../../src/render/print.ts';
import { ALL_FIXTURES, CREDIT_NOTE, EUR_NO_RATE_INVOICE, PLN_INVOICE } from '../fixtures/invoices.ts';

const run = promisify(execFile);

describe('PDF renderer pool', () => {
  it('renders in worker threads exactly the bytes an in-process render gives, with the same warnings', async () => {
    const pool = createPdfRenderer({ workers: 2, maxInFlight: 4 });
    try {
      const invoices = Object.values(ALL_FIXTURES);
      const viaPool = await Promise.all(invoices.map((inv) => pool.render(inv, 'invoice')));
      for (const [i, inv] of invoices.entries()) {
        const local = await renderStandardPrint(inv, 'invoice');
        expect(Buffer.from(viaPool[i]!.pdf).equals(Buffer.from(local.pdf)), inv.id).toBe(true);
        expect(viaPool[i]!.warnings).toEqual(local.warnings);
      }
      expect(viaPool.find((r, i) => invoices[i] === EUR_NO_RATE_INVOICE)!.warnings).toHaveLength(1);
    } finally {
      await pool.close();
    }
  });

  it('passes errors from a worker back as ConnectorError with their code', async () => {
    const pool = createPdfRenderer({ workers: 1, maxInFlight: 1 });
    try {
      const e = await pool.render(PLN_INVOICE, 'standard:missing').catch((x: unknown) => x);
      expect(isConnectorError(e, 'print_unavailable')).toBe(true);
      // the worker survives and renders the next one
      expect((await pool.render(CREDIT_NOTE, 'invoice')).pdf.byteLength).toBeGreaterThan(1000);
    } finally {
      await pool.close();
    }
  });

  it('holds further renders back while maxInFlight are pending (backpressure)', async () => {
    for (const workers of [0, 1]) {
      const pool = createPdfRenderer({ workers, maxInFlight: 2 });
      try {
        const all = [1, 2, 3, 4, 5].map(() => pool.render(PLN_INVOICE, 'invoice'));
        expect(pool.stats()).toMatchObject({ inFlight: 2, waiting: 3 });
        let maxSeen = 0;
        const timer = setInterval(() => (maxSeen = Math.max(maxSeen, pool.stats().inFlight)), 1);
        await Promise.all(all);
        clearInterval(timer);
        expect(maxSeen).toBeLessThanOrEqual(2);
        expect(pool.stats()).toMatchObject({ inFlight: 0, waiting: 0 });
      } finally {
        await pool.close();
      }
    }
  });

  it('finishes pending renders on close and refuses new ones afterwards', async () => {
    const pool = createPdfRenderer({ workers: 1, maxInFlight: 1 });
    const pending = [pool.render(PLN_INVOICE, 'invoice'), pool.render(CREDIT_NOTE, 'invoice')];
    await pool.close();
    expect((await Promise.all(pending)).every((r) => r.pdf.byteLength > 1000)).toBe(true);
    await expect(pool.render(PLN_INVOICE, 'invoice')).rejects.toThrow(/closed/);
  });

  it('fails a worker render that exceeds the timeout as retryable render_failed and replaces the worker', async () => {
    const pool = createPdfRenderer({ workers: 1, maxInFlight: 2, timeoutMs: 1 });
    try {
      const e = await pool.render(PLN_INVOICE, 'invoice').catch((x: unknown) => x);
      expect(isConnectorError(e, 'render_failed')).toBe(true);
      expect((e as { retryable: boolean }).retryable).toBe(true);
      expect(pool.stats()).toMatchObject({ workers: 1, inFlight: 0 });
    } finally {
      await pool.close();
    }
  });

  it('starts no worker thread before the first render and stops them after idleMs without renders', async () => {
    const pool = createPdfRenderer({ workers: 2, maxInFlight: 4, idleMs: 300 });
    try {
      expect(pool.stats().workers).toBe(0);
      const first = await pool.render(PLN_INVOICE, 'invoice');
      expect(pool.stats().workers).toBe(2);
      await new Promise((r) => setTimeout(r, 800));
      expect(pool.stats().workers).toBe(0);
      // started again on demand, printing the same bytes
      const again = await pool.render(PLN_INVOICE, 'invoice');
      expect(pool.stats().workers).toBe(2);
      expect(Buffer.from(again.pdf).equals(Buffer.from(first.pdf))).toBe(true);
    } finally {
      await pool.close();
    }
  });

  it('warm() starts the workers before any render (and they still stop after idleMs); with no workers it starts nothing', async () => {
    const pool = createPdfRenderer({ workers: 2, maxInFlight: 4, idleMs: 300 });
    const inThread = createPdfRenderer({ workers: 0, maxInFlight: 4 });
    try {
      await pool.warm();
      expect(pool.stats().workers).toBe(2);
      await new Promise((r) => setTimeout(r, 800));
      expect(pool.stats().workers).toBe(0);
      await inThread.warm();
      expect(inThread.stats()).toEqual({ inFlight: 0, waiting: 0, workers: 0 });
      expect((await inThread.render(PLN_INVOICE, 'invoice')).pdf.length).toBeGreaterThan(1000);
    } finally {
      await pool.close();
      await inThread.close();
    }
  });

  it('keeps its workers while renders keep coming within idleMs', async () => {
    const pool = createPdfRenderer({ workers: 1, maxInFlight: 1, idleMs: 400 });
    try {
      for (let i = 0; i < 4; i++) {
        await pool.render(CREDIT_NOTE, 'invoice');
        await new Promise((r) => setTimeout(r, 150));
        expect(pool.stats().workers).toBe(1);
      }
    } finally {
      await pool.close();
    }
  });

  it("sampleRenderWorkers reports each running worker's own heap and render count, and no worker once they stopped", async () => {
    const pool = createPdfRenderer({ workers: 2, maxInFlight: 4, idleMs: 300 });
    try {
      expect(await sampleRenderWorkers()).toEqual([]);
      await Promise.all([PLN_INVOICE, CREDIT_NOTE, PLN_INVOICE].map((inv) => pool.render(inv, 'invoice')));
      const heaps = await sampleRenderWorkers();
      expect(heaps).toHaveLength(2);
      expect(heaps.reduce((n, h) => n + h.renders, 0)).toBe(3);
      for (const h of heaps) {
        // a worker holds pdfkit, fontkit and two parsed fonts: megabytes of its own heap, within what it committed
        expect(h.used).toBeGreaterThan(5 * 1048576);
        expect(h.used).toBeLessThanOrEqual(h.total);
        expect(h.newSpace).toBeLessThanOrEqual(h.total);
      }
      await new Promise((r) => setTimeout(r, 800));
      expect(pool.stats().workers).toBe(0);
      expect(await sampleRenderWorkers()).toEqual([]);
    } finally {
      await pool.close();
    }
  });

  it('refuses nonsense options', () => {
    expect(() => createPdfRenderer({ workers: -1, maxInFlight: 1 })).toThrow(/workers/);
    expect(() => createPdfRenderer({ workers: 0, maxInFlight: 0 })).toThrow(/maxInFlight/);
  });

  it('starts its worker under plain tsx too (as `tsx src/main.ts` runs)', async () => {
    const { stdout } = await run('node_modules/.bin/tsx', ['test/render/tsx-pool-smoke.ts'], { timeout: 60_000 });
    expect(JSON.parse(stdout.trim())).toMatchObject({ same: true });
  });
});
