/**
 * `npm start`: the connector booted exactly as src/main.ts boots it (src/boot.ts), with the demo world
 * (sandbox host, SMTP sink, demo installation: sandbox/demo.ts) around it while `DEMO` is on (the default).
 */
import { boot } from '../src/boot.ts';
import { startDemo } from './demo.ts';

boot({ demo: startDemo });
