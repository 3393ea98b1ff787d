/** The app declares the service plugins it needs: Fastify refuses to start it without one, naming it. */
import { describe, expect, it } from 'vitest';
import Fastify from 'fastify';
import { httpApp, httpServerOptions } from '../../src/http/app.ts';
import { authPlugin } from '../../src/http/plugins/auth.ts';
import { sitePlugin } from '../../src/http/plugins/services.ts';
import { createLogger } from '../../src/observability/logger.ts';

describe('the service plugins', () => {
  it('the app does not start without the store, and names the plugin it misses', async () => {
    const app = Fastify(httpServerOptions(createLogger('silent')));
    await app.register(sitePlugin, { version: 'test', publicUrl: 'http://courier.test' });
    await expect(app.register(httpApp)).rejects.toThrow(/ic-store/);
    await app.close().catch(() => undefined);
  });

  it('the auth plugin does not start without the installation service and the page sessions', async () => {
    const app = Fastify(httpServerOptions(createLogger('silent')));
    await expect(app.register(authPlugin)).rejects.toThrow(/ic-installations/);
    await app.close().catch(() => undefined);
  });
});
