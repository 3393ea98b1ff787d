/**
 * The process entry of the connector as built and shipped (`npm run build` -> dist/main.js): the
 * composition root booted from the environment (src/boot.ts), without the demo world. `npm start`
 * runs sandbox/demo.ts instead, which boots the same connector with the sandbox host and SMTP sink.
 *
 * The young-generation hold starts before the product's modules load (src/render/young-generation.ts):
 * hence boot.ts is imported dynamically, after it.
 */
import { startHoldingYoungGeneration } from './render/young-generation.ts';

startHoldingYoungGeneration();
const { boot } = await import('./boot.ts');
boot();
