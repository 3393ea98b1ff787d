/**
 * The installation guard: every route under `/api/installations/:id` answers a request whose bearer
 * token does not belong to that installation with 401/403 before anything else happens (body parsing
 * and validation included), so no route - also one added later - can tell another installation's
 * caller more than "not yours". The guard is the one place that authenticates installation callers:
 * it hands the installation to the handler (`installationOf(request)`), so handlers never check
 * tokens themselves.
 *
 * Routes authenticated otherwise say so in their config: `{ auth: 'signature' }` (incoming webhooks,
 * signed with the installation's webhook secret) or `{ auth: 'admin' }` (the operators' ADMIN_TOKEN).
 */
import type { FastifyReply, FastifyRequest } from 'fastify';
import { ConnectorError } from '../errors.ts';
import type { Installation } from '../store/port.ts';

export interface RouteAuthConfig {
  auth?: 'installation' | 'signature' | 'admin';
}

const SCOPED = '/api/installations/:id';
const AUTHENTICATED = Symbol('installation');

type GuardedRequest = FastifyRequest & { [AUTHENTICATED]?: Installation };

/** The `Authorization: Bearer <token>` value, or '' when absent. */
export function bearerToken(request: { headers: FastifyRequest['headers'] }): string {
  const m = /^Bearer\s+(\S+)$/i.exec(request.headers.authorization ?? '');
  return m ? m[1]! : '';
}

export async function installationGuard(request: FastifyRequest, _reply: FastifyReply): Promise<void> {
  const url = request.routeOptions.url;
  if (!url || (url !== SCOPED && !url.startsWith(`${SCOPED}/`))) return;
  const auth = (request.routeOptions.config as RouteAuthConfig | undefined)?.auth ?? 'installation';
  if (auth !== 'installation') return;
  const token = bearerToken(request);
  if (!token) throw new ConnectorError('unauthorized', 'Missing bearer token', { field: 'authorization' });
  const installation = await request.server.deps.service.authenticate(token);
  if (!installation) throw new ConnectorError('unauthorized', 'Invalid token', { field: 'authorization' });
  if (installation.id !== (request.params as { id?: string }).id) {
    throw new ConnectorError('forbidden', 'This token belongs to another installation', { field: 'authorization' });
  }
  (request as GuardedRequest)[AUTHENTICATED] = installation;
}

/** The installation the guard authenticated for this request (installation-scoped routes only). */
export function installationOf(request: FastifyRequest): Installation {
  const installation = (request as GuardedRequest)[AUTHENTICATED];
  if (!installation) throw new ConnectorError('internal', `route ${request.routeOptions.url} is not behind the installation guard`);
  return installation;
}
