/**
 * The demo world, for `npm start` (sandbox/start.ts) and the tests, never shipped by the connector's build:
 * the sandbox host (an Odoo 17/18/19-compatible server with Polish seed data, `host/`), the SMTP sink
 * (`mail-sink/`) and the demo wiring (`demo.ts`). Imports nothing from src/ but the boot types (demo.ts).
 */
export * from './host/index.ts';
export * from './mail-sink/index.ts';
export { withoutGreetingPause } from './mail-sink/no-greeting-pause.ts';
