/**
 * Entry of a render worker thread (see pool.ts). Parses the fonts once when the thread starts, then
 * renders one invoice per message and transfers the PDF bytes back (no copy).
 */
import v8 from 'node:v8';
import { parentPort } from 'node:worker_threads';
import { isConnectorError } from '../errors.ts';
import { loadFonts } from './fonts.ts';
import { renderStandardPrint } from './print.ts';
import type { WorkerHeapRequest, WorkerRequest, WorkerResponse } from './pool.ts';

const port = parentPort;
if (!port) throw new Error('src/render/worker.ts must run as a worker thread');

loadFonts();
let renders = 0;

port.on('message', (req: WorkerRequest | WorkerHeapRequest) => {
  if ('heap' in req) {
    const h = v8.getHeapStatistics();
    const m = process.memoryUsage();
    const newSpace = v8.getHeapSpaceStatistics().find((s) => s.space_name === 'new_space')?.space_size ?? 0;
    const heap = {
      total: h.total_heap_size,
      physical: h.total_physical_size,
      used: h.used_heap_size,
      external: m.external,
      arrayBuffers: m.arrayBuffers,
      malloced: h.malloced_memory,
      newSpace,
      renders,
    };
    port.postMessage({ id: req.id, heap } satisfies WorkerResponse);
    return;
  }
  renders++;
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
