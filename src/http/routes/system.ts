/** Health and the extension manifest. */
import type { FastifyInstance } from 'fastify';
import { buildManifest } from '../../manifest/host-manifest.ts';

export async function systemRoutes(app: FastifyInstance): Promise<void> {
  app.get('/health', { schema: { tags: ['system'], summary: 'Liveness and store reachability' } }, async (_request, reply) => {
    try {
      await app.store.listInstallations({ status: 'active' });
      return { status: 'ok', version: app.site.version, store: 'up' };
    } catch {
      // The process stays up while the database is away (restart, failover) and reconnects by itself.
      return reply.status(503).send({ status: 'unavailable', version: app.site.version, store: 'down' });
    }
  });
  app.get('/manifest', { schema: { tags: ['system'], summary: 'The extension manifest the host reads' } }, async () =>
    buildManifest({ version: app.site.version, baseUrl: app.site.publicUrl }),
  );
}
