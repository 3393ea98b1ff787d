/**
 * Entry of a render worker thread (see pool.ts). Parses the fonts once when the thread starts, then
 * renders one invoice per message and transfers the PDF bytes back (no copy).
 */
import { parentPort } from 'node:worker_threads';
import { isConnectorError } from '../errors.ts';
import { loadFonts } from './fonts.ts';
import { renderStandardPrint } from './print.ts';
import type { WorkerRequest, WorkerResponse } from './pool.ts';

const port = parentPort;
if (!port) throw new Error('src/render/worker.ts must run as a worker thread');

loadFonts();

port.on('message', (req: WorkerRequest) => {
  renderStandardPrint(req.invoice, req.printId, req.options).then(
    ({ pdf, warnings }) => {
      const owned = pdf.byteOffset === 0 && pdf.byteLength === pdf.buffer.byteLength ? pdf : new Uint8Array(pdf);
      const res: WorkerResponse = { id: req.id, ok: true, pdf: owned, warnings };
      port.postMessage(res, [owned.buffer as ArrayBuffer]);
    },
    (e: unknown) => {
      const res: WorkerResponse = {
        id: req.id,
        ok: false,
        error: {
          code: isConnectorError(e) ? e.code : 'render_failed',
          message: e instanceof Error ? e.message : String(e),
          detail: isConnectorError(e) ? e.detail : undefined,
        },
      };
      port.postMessage(res);
    },
  );
});
