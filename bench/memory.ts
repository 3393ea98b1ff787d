/**
 * Where the connector's resident memory goes, each part in a fresh process (issue 12):
 *   npx tsx bench/memory.ts
 *
 * 1. the floor: an empty Node process, the same under tsx;
 * 2. importing everything `src/compose.ts` reaches (before anything runs), and the packages it loads,
 *    imported one after another into one process (RSS deltas: a package's cost includes what it shares
 *    with those before it, so the order matters a little);
 * 3. one render worker thread (its own V8 isolate, pdfkit, fontkit and parsed fonts): before its first
 *    render and after 300 renders;
 * 4. renders in this thread: RSS and heap after 600 renders, and the heap still live after a full GC
 *    (what the font caches keep; the rest was garbage not yet collected).
 */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const self = fileURLToPath(import.meta.url);
const mb = (x: number) => (x / 1048576).toFixed(0);
const rss = () => Number(/^VmRSS:\s+(\d+) kB/m.exec(readFileSync('/proc/self/status', 'utf8'))![1]) / 1024;

const PACKAGES = [
  'luxon', 'pg', 'axios', 'fastify', 'agenda', '@agendajs/postgres-backend', '@agendajs/mongo-backend', 'agendash', 'date-holidays',
  'fontkit', 'pdfkit', 'pdf-lib', 'qrcode', 'html-to-text', 'imapflow', 'mailparser', 'nodemailer', 'pino', 'prom-client', 'typebox',
];

async function part(name: string): Promise<void> {
  if (name === 'tsx-empty') {
    console.log(`empty process under tsx                  ${rss().toFixed(0)} MB`);
  } else if (name === 'compose') {
    const r0 = rss();
    await import('../src/compose.ts');
    const m = process.memoryUsage();
    console.log(`after importing src/compose.ts           ${rss().toFixed(0)} MB (+${(rss() - r0).toFixed(0)}; heap used ${mb(m.heapUsed)}, array buffers ${mb(m.arrayBuffers)})`);
  } else if (name === 'packages') {
    let last = rss();
    const row: string[] = [];
    for (const p of PACKAGES) {
      await import(p);
      row.push(`${p} ${(rss() - last).toFixed(1)}`);
      last = rss();
    }
    console.log(`packages, MB each (in this order):       ${row.join(', ')}`);
  } else if (name === 'worker') {
    const { createPdfRenderer } = await import('../src/render/pool.ts');
    const { KSEF_INVOICE } = await import('../test/fixtures/invoices.ts');
    const r0 = rss();
    const pool = createPdfRenderer({ workers: 1, maxInFlight: 16 });
    await pool.render(KSEF_INVOICE, 'invoice');
    const r1 = rss();
    await Promise.all(Array.from({ length: 300 }, (_, i) => pool.render({ ...KSEF_INVOICE, id: `m${i}`, number: `FV/${i}` }, 'invoice')));
    console.log(`one render worker                        +${(r1 - r0).toFixed(0)} MB after its first render, +${(rss() - r0).toFixed(0)} MB after 300`);
    await pool.close();
  } else if (name === 'inprocess') {
    const { renderStandardPrint } = await import('../src/render/print.ts');
    const { KSEF_INVOICE } = await import('../test/fixtures/invoices.ts');
    const r0 = rss();
    let next = 0;
    await Promise.all(
      Array.from({ length: 16 }, async () => {
        while (next < 600) {
          const i = next++;
          await renderStandardPrint({ ...KSEF_INVOICE, id: `m${i}`, number: `FV/${i}` }, 'invoice');
        }
      }),
    );
    const m = process.memoryUsage();
    (globalThis as { gc?: () => void }).gc?.();
    const g = process.memoryUsage();
    console.log(
      `600 renders in this thread (16 at once)  +${(rss() - r0).toFixed(0)} MB RSS; heap ${mb(m.heapUsed)} used of ${mb(m.heapTotal)}, array buffers ${mb(m.arrayBuffers)}; live after a full GC: heap ${mb(g.heapUsed)}, array buffers ${mb(g.arrayBuffers)}`,
    );
  }
}

const which = process.argv.slice(2).find((a) => !a.startsWith('--'));
if (which) {
  await part(which);
} else {
  console.log(`memory bench, node ${process.version}; each line a fresh process`);
  console.log(`empty process (plain node)               ${execFileSync(process.execPath, ['-e', 'console.log(Math.round(process.memoryUsage.rss()/1048576))']).toString().trim()} MB`);
  for (const p of ['tsx-empty', 'compose', 'packages', 'worker', 'inprocess']) {
    process.stdout.write(execFileSync(process.execPath, ['--expose-gc', '--import', 'tsx', self, p]).toString());
  }
}
