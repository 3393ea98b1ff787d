/**
 * The installation's life on the host's side (`/api` only): the install handshake (no token: it hands
 * the token out), uninstall (the installation's token) and purging an uninstalled one (ADMIN_TOKEN).
 */
import type { FastifyInstance } from 'fastify';
import { bearerToken, installationOf } from '../plugins/auth.ts';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import { errorResponses, InstallationParams } from '../schemas/common.ts';
import { InstallBody, InstallResponse } from '../schemas/installations.ts';

const security = [{ installationToken: [] }];

export async function installationRoutes(appBase: FastifyInstance): Promise<void> {
  const app = appBase.withTypeProvider<TypeBoxTypeProvider>();
  const service = app.installations;

  app.post(
    '/installations',
    {
      schema: {
        tags: ['installations'],
        summary: 'Install handshake: register a host company',
        body: InstallBody,
        response: { 201: InstallResponse, ...errorResponses },
      },
    },
    async (request, reply) => {
      const result = await service.install(request.body);
      return reply.status(201).send({ id: result.installation.id, apiToken: result.apiToken, webhookSecret: result.webhookSecret });
    },
  );

  app.delete(
    '/installations/:id',
    {
      schema: {
        tags: ['installations'],
        summary: 'Uninstall: remove the schedule and secrets, keep ledger and logs',
        params: InstallationParams,
        security,
        response: { 204: Type.Null(), ...errorResponses },
      },
    },
    async (request, reply) => {
      installationOf(request);
      await service.uninstall(request.params.id);
      return reply.status(204).send(null);
    },
  );

  app.delete(
    '/installations/:id/data',
    {
      schema: {
        tags: ['installations'],
        summary: 'Purge an uninstalled installation: its ledger, logs, runs and webhook deliveries (admin token)',
        description:
          "Needs `Authorization: Bearer <ADMIN_TOKEN>` (the connector operators' token, not an installation token). An installed one answers 409: uninstall first.",
        params: InstallationParams,
        security: [{ adminToken: [] }],
        response: { 204: Type.Null(), ...errorResponses },
      },
      config: { auth: 'admin' },
    },
    async (request, reply) => {
      await service.purge(request.params.id, bearerToken(request));
      return reply.status(204).send(null);
    },
  );
}
