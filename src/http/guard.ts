/**
 * The installation guard: every route under `/api/installations/:id` answers a request whose bearer
 * token does not belong to that installation with 401/403 before anything else happens (body parsing
 * and validation included), so no route - also one added later - can tell another installation's
 * caller more than "not yours". Handlers still resolve the installation themselves; this is the gate.
 *
 * Routes authenticated otherwise say so in their config: `{ auth: 'signature' }` (incoming webhooks,
 * signed with the installation's webhook secret) or `{ auth: 'admin' }` (the operators' ADMIN_TOKEN).
 */
import type { FastifyReply, FastifyRequest } from 'fastify';
import { ConnectorError } from '../errors.ts';

export interface RouteAuthConfig {
  auth?: 'installation' | 'signature' | 'admin';
}

const SCOPED = '/api/installations/:id';

export async function installationGuard(request: FastifyRequest, _reply: FastifyReply): Promise<void> {
  const url = request.routeOptions.url;
  if (!url || (url !== SCOPED && !url.startsWith(`${SCOPED}/`))) return;
  const auth = (request.routeOptions.config as RouteAuthConfig | undefined)?.auth ?? 'installation';
  if (auth !== 'installation') return;
  const m = /^Bearer\s+(\S+)$/i.exec(request.headers.authorization ?? '');
  if (!m) throw new ConnectorError('unauthorized', 'Missing bearer token', { field: 'authorization' });
  const installation = await request.server.deps.service.authenticate(m[1]!);
  if (!installation) throw new ConnectorError('unauthorized', 'Invalid token', { field: 'authorization' });
  if (installation.id !== (request.params as { id?: string }).id) {
    throw new ConnectorError('forbidden', 'This token belongs to another installation', { field: 'authorization' });
  }
}
