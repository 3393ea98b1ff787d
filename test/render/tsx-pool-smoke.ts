/**
 * Run by pool.test.ts under plain `tsx` (as `tsx src/main.ts` would run): one worker renders an invoice
 * and the bytes are compared with an in-process render. Prints one JSON line.
 */
import { createPdfRenderer } from '../../src/render/pool.ts';
import { renderStandardPrint } from '../../src/render/print.ts';
import { PLN_INVOICE } from '../fixtures/invoices.ts';

const pool = createPdfRenderer({ workers: 1, maxInFlight: 2 });
try {
  const [a, b] = await Promise.all([pool.render(PLN_INVOICE, 'invoice'), renderStandardPrint(PLN_INVOICE, 'invoice')]);
  process.stdout.write(JSON.stringify({ same: Buffer.from(a.pdf).equals(Buffer.from(b.pdf)), bytes: a.pdf.byteLength }) + '\n');
} finally {
  await pool.close();
}
