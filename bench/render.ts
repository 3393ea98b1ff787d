/**
 * Render benchmark: one-page Polish invoices (seller/buyer, 10 lines with wrapped names, VAT summary,
 * totals, amount in words, KSeF QR), all distinct.
 *
 *   npx tsx bench/render.ts          ~2,000 invoices per variant
 *   npx tsx bench/render.ts --quick  200 per variant
 *   --heap-growing-percent P         V8's heap growing factor for this process and its workers, as
 *                                    src/boot.ts `tuneHeap` sets it in production (default: V8's own)
 *
 * Variants, in one run (the machine is noisy: compare within a run): DejaVu pre-parsed in this thread,
 * the same with 2 worker threads, and built-in Helvetica in this thread (no Polish glyphs: a lower
 * bound only). Prints invoices/s, CPU ms per invoice, mean PDF size and peak RSS.
 */
import v8 from 'node:v8';
import type { Invoice } from '../src/domain.ts';
import { createPdfRenderer } from '../src/render/pool.ts';
import { loadFonts } from '../src/render/fonts.ts';
import { renderStandardPrint, type RenderOptions } from '../src/render/print.ts';
import { KSEF_INVOICE, productLine, VAT23, VAT8, withTotals } from '../test/fixtures/invoices.ts';

const quick = process.argv.includes('--quick');
const growing = process.argv[process.argv.indexOf('--heap-growing-percent') + 1];
if (process.argv.includes('--heap-growing-percent')) v8.setFlagsFromString(`--heap-growing-percent=${Number(growing)}`);
const N = quick ? 200 : 2000;

function invoiceNo(i: number): Invoice {
  const lines = Array.from({ length: 10 }, (_, k) => {
    const qty = ((i + k) % 9) + 1;
    const price = 1000 + ((i * 31 + k * 977) % 50000);
    const name =
      k % 3 === 0
        ? `Usługa serwisowa nr ${i}-${k}: przegląd, konserwacja i regulacja urządzeń chłodniczych w obiekcie klienta (Łódź, Gdańsk)`
        : `Materiał eksploatacyjny ${i}-${k} — źródło światła, złączka`;
    return productLine(name, String(qty), (price / 100).toFixed(2), qty * price, k % 4 === 0 ? VAT8 : VAT23);
  });
  return withTotals({ ...KSEF_INVOICE, id: `bench-${i}`, number: `FV/2026/${String(i).padStart(5, '0')}`, lines });
}

interface Result {
  name: string;
  perSecond: number;
  cpuMsPerInvoice: number;
  meanBytes: number;
  rssMb: number;
}

let peakRss = 0;
const rssTimer = setInterval(() => (peakRss = Math.max(peakRss, process.memoryUsage.rss())), 50);

async function measure(name: string, render: (inv: Invoice) => Promise<Uint8Array>, concurrency: number): Promise<Result> {
  const invoices = Array.from({ length: N }, (_, i) => invoiceNo(i));
  // warm-up (JIT, font caches, worker start)
  await Promise.all(invoices.slice(0, Math.min(20, N)).map(render));
  peakRss = 0;
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  let bytes = 0;
  let next = 0;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < invoices.length) {
        const inv = invoices[next++]!;
        const pdf = await render(inv);
        bytes += pdf.byteLength;
        peakRss = Math.max(peakRss, process.memoryUsage.rss());
      }
    }),
  );
  const ms = performance.now() - t0;
  const cpu = process.cpuUsage(cpu0);
  return {
    name,
    perSecond: (N / ms) * 1000,
    cpuMsPerInvoice: (cpu.user + cpu.system) / 1000 / N,
    meanBytes: bytes / N,
    rssMb: peakRss / 1024 / 1024,
  };
}

const opts: RenderOptions = { ksefEnvironment: 'test' };
loadFonts();
const results: Result[] = [];
results.push(await measure('DejaVu, pre-parsed, 1 thread', async (inv) => (await renderStandardPrint(inv, 'invoice', opts)).pdf, 1));
{
  const pool = createPdfRenderer({ workers: 2, maxInFlight: 32 });
  results.push(await measure('DejaVu, pre-parsed, 2 workers', async (inv) => (await pool.render(inv, 'invoice', opts)).pdf, 32));
  await pool.close();
}
results.push(
  await measure(
    'Helvetica built-in, 1 thread (lower bound)',
    async (inv) => (await renderStandardPrint(inv, 'invoice', { ...opts, builtinHelveticaForBenchmark: true })).pdf,
    1,
  ),
);
clearInterval(rssTimer);

console.log(
  `render bench: ${N} distinct one-page invoices per variant${quick ? ' (--quick)' : ''}${growing && process.argv.includes('--heap-growing-percent') ? `, heap growing ${growing} %` : ''}, Node ${process.version}`,
);
console.log('variant'.padEnd(46), 'inv/s'.padStart(7), 'CPU ms/inv'.padStart(11), 'KB/PDF'.padStart(8), 'peak RSS MB'.padStart(12));
for (const r of results) {
  console.log(
    r.name.padEnd(46),
    r.perSecond.toFixed(1).padStart(7),
    r.cpuMsPerInvoice.toFixed(1).padStart(11),
    (r.meanBytes / 1024).toFixed(1).padStart(8),
    r.rssMb.toFixed(0).padStart(12),
  );
}
console.log('CPU ms/inv for 2 workers counts all threads of the process (main thread + workers).');
