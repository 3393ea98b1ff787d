/**
 * The process entry of the connector as built and shipped (`npm run build` -> dist/main.js): the
 * composition root booted from the environment (src/boot.ts), without the demo world. `npm start`
 * runs sandbox/demo.ts instead, which boots the same connector with the sandbox host and SMTP sink.
 */
import { boot } from './boot.ts';

boot();
