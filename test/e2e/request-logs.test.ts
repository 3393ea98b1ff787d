/** The connector's request log keeps the method and path for support, never credentials in the URL. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PassThrough } from 'node:stream';
import { createLogger } from '../../src/logger.ts';
import { startTestConnector, type TestConnector } from '../support/connector.ts';

let connector: TestConnector;
let text = '';

beforeAll(async () => {
  const out = new PassThrough();
  out.on('data', (d) => (text += d));
  connector = await startTestConnector({ logger: createLogger('info', out) });
});
afterAll(async () => connector?.close());

describe('request logs', () => {
  it('record the page URL with its signed link token redacted', async () => {
    const res = await fetch(`${connector.url}/ui/installations/00000000-0000-4000-8000-000000000000/settings?lang=pl&t=THIS-IS-A-LINK-TOKEN`);
    expect(res.status).toBe(401);
    await new Promise((r) => setTimeout(r, 50));
    expect(text).toContain('/ui/installations/00000000-0000-4000-8000-000000000000/settings');
    expect(text).toContain('t=[redacted]');
    expect(text).not.toContain('THIS-IS-A-LINK-TOKEN');
  });
});
