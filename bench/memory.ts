/**
 * Where the connector's resident memory goes, each part in a fresh process (issue 12):
 *   npx tsx bench/memory.ts [--runtime compiled,tsx]
 *
 * Every part runs in both runtimes, labelled: `compiled` = the `npm run build` output (dist/) on plain
 * node, as production runs (`node dist/main.js`); `tsx` = the TypeScript sources through tsx, as
 * `npm start` and the tests run them (tsx keeps every module's source and source map in the heap).
 *
 * 1. the floor: an empty Node process, the same under tsx;
 * 2. importing everything `src/compose.ts` reaches (before anything runs), and the packages the
 *    product depends on, imported one after another into one process (RSS deltas: a package's cost
 *    includes what it shares with those before it, so the order matters a little; the renderer's,
 *    IMAP's and bounce parsing's packages are loaded on first use, not by compose);
 * 3. one render worker thread (its own V8 isolate, pdfkit, fontkit and parsed fonts): after its first
 *    render and after 300 renders;
 * 4. renders in this thread: RSS and heap after 600 renders, and the heap still live after a full GC
 *    (what the font caches keep; the rest was garbage not yet collected).
 */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import fs from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import type { Invoice } from '../src/domain.ts';

const self = fileURLToPath(import.meta.url);
const argv = process.argv.slice(2);
const arg = (name: string): string | undefined => {
  const i = argv.indexOf(`--${name}`);
  return i >= 0 ? argv[i + 1] : undefined;
};
const mb = (x: number) => (x / 1048576).toFixed(0);
const rss = () => Number(/^VmRSS:\s+(\d+) kB/m.exec(readFileSync('/proc/self/status', 'utf8'))![1]) / 1024;

const PACKAGES = [
  'luxon',
  'pg',
  'axios',
  'fastify',
  'agenda',
  '@agendajs/postgres-backend',
  '@agendajs/mongo-backend',
  'agendash',
  'date-holidays',
  'fontkit',
  'pdfkit',
  'pdf-lib',
  'qrcode',
  'html-to-text',
  'imapflow',
  'mailparser',
  'nodemailer',
  'pino',
  'prom-client',
  'typebox',
];

/** A module of the product in this part's runtime (see bench/e2e.ts: same convention). */
function product<T>(module: string): Promise<T> {
  const url = arg('runtime') === 'compiled' ? new URL(`${module}.js`, arg('dist')) : new URL(`../src/${module}.ts`, import.meta.url);
  return import(url.href) as Promise<T>;
}

/** The invoice the render parts draw (test/fixtures is TypeScript: the compiled part reads it as JSON). */
async function fixture(): Promise<Invoice> {
  const file = arg('fixture');
  if (file) return JSON.parse(await fs.readFile(file, 'utf8')) as Invoice;
  return (await import('../test/fixtures/invoices.ts')).KSEF_INVOICE;
}

async function part(name: string): Promise<void> {
  const label = (s: string) => s.padEnd(41);
  if (name === 'empty') {
    console.log(`${label('empty process')}${rss().toFixed(0)} MB`);
  } else if (name === 'compose') {
    const r0 = rss();
    await product('compose');
    const m = process.memoryUsage();
    console.log(
      `${label('after importing compose')}${rss().toFixed(0)} MB (+${(rss() - r0).toFixed(0)}; heap used ${mb(m.heapUsed)}, array buffers ${mb(m.arrayBuffers)})`,
    );
  } else if (name === 'packages') {
    let last = rss();
    const row: string[] = [];
    for (const p of PACKAGES) {
      await import(p);
      row.push(`${p} ${(rss() - last).toFixed(1)}`);
      last = rss();
    }
    console.log(`${label('packages, MB each (in this order):')}${row.join(', ')}`);
  } else if (name === 'worker') {
    const { createPdfRenderer } = await product<typeof import('../src/render/pool.ts')>('render/pool');
    const invoice = await fixture();
    const r0 = rss();
    const pool = createPdfRenderer({ workers: 1, maxInFlight: 16 });
    await pool.render(invoice, 'invoice');
    const r1 = rss();
    await Promise.all(Array.from({ length: 300 }, (_, i) => pool.render({ ...invoice, id: `m${i}`, number: `FV/${i}` }, 'invoice')));
    console.log(`${label('one render worker')}+${(r1 - r0).toFixed(0)} MB after its first render, +${(rss() - r0).toFixed(0)} MB after 300`);
    await pool.close();
  } else if (name === 'inprocess') {
    const { renderStandardPrint } = await product<typeof import('../src/render/print.ts')>('render/print');
    const invoice = await fixture();
    const r0 = rss();
    let next = 0;
    await Promise.all(
      Array.from({ length: 16 }, async () => {
        while (next < 600) {
          const i = next++;
          await renderStandardPrint({ ...invoice, id: `m${i}`, number: `FV/${i}` }, 'invoice');
        }
      }),
    );
    const m = process.memoryUsage();
    (globalThis as { gc?: () => void }).gc?.();
    const g = process.memoryUsage();
    console.log(
      `${label('600 renders in this thread (16 at once)')}+${(rss() - r0).toFixed(0)} MB RSS; heap ${mb(m.heapUsed)} used of ${mb(m.heapTotal)}, array buffers ${mb(m.arrayBuffers)}; live after a full GC: heap ${mb(g.heapUsed)}, array buffers ${mb(g.arrayBuffers)}`,
    );
  }
}

/**
 * For the compiled parts: builds dist/ (`npm run build`), writes this file as plain JavaScript where node
 * resolves the repository's packages from, and the fixture invoice as JSON beside it.
 */
async function buildCompiled(): Promise<string[]> {
  const root = fileURLToPath(new URL('..', import.meta.url));
  execFileSync('npm', ['run', '--silent', 'build'], { cwd: root, stdio: 'inherit' });
  const ts = (await import('typescript')).default;
  const js = ts.transpileModule(await fs.readFile(self, 'utf8'), {
    fileName: 'memory.ts',
    compilerOptions: { module: ts.ModuleKind.ESNext, target: ts.ScriptTarget.ES2022 },
  }).outputText;
  const dir = path.join(root, 'node_modules', '.cache', 'invoice-courier-bench');
  await fs.mkdir(dir, { recursive: true });
  await fs.writeFile(path.join(dir, 'memory.mjs'), js);
  const invoice = path.join(dir, 'invoice.json');
  await fs.writeFile(invoice, JSON.stringify((await import('../test/fixtures/invoices.ts')).KSEF_INVOICE));
  return [path.join(dir, 'memory.mjs'), '--dist', pathToFileURL(path.join(root, 'dist') + path.sep).href, '--fixture', invoice];
}

const which = argv.find((a, i) => !a.startsWith('--') && !argv[i - 1]?.startsWith('--'));
if (which) {
  await part(which);
} else {
  const runtimes = (arg('runtime') ?? 'compiled,tsx').split(',');
  console.log(`memory bench, node ${process.version}; each line a fresh process`);
  for (const runtime of runtimes) {
    const entry = runtime === 'compiled' ? await buildCompiled() : ['--import', 'tsx', self];
    console.log(runtime === 'compiled' ? 'compiled (node dist/, as production runs):' : 'tsx (the TypeScript sources, as npm start runs):');
    for (const p of ['empty', 'compose', 'packages', 'worker', 'inprocess']) {
      const empty = `console.log('empty process'.padEnd(41) + Math.round(process.memoryUsage.rss() / 1048576) + ' MB')`;
      const args = p === 'empty' && runtime === 'compiled' ? ['-e', empty] : [...entry, p, '--runtime', runtime];
      process.stdout.write(
        execFileSync(process.execPath, ['--expose-gc', ...args])
          .toString()
          .replace(/^(?=.)/gm, '  '),
      );
    }
  }
}
