/**
 * Authentication of installation callers, in one place: before anything else happens on a route under
 * `/api/installations/:id` or `/ui/api/installations/:id` (body parsing and validation included), this
 * plugin sets `request.installation` or answers 401/403, so no route - also one added later - can
 * tell another installation's caller more than "not yours". Which credential depends only on the
 * prefix the route plugin was registered under:
 *  - `/api/...`: the installation's API token (`Authorization: Bearer <token>`);
 *  - `/ui/api/...`: a page session (the bearer token the embeddable pages got with the page), which
 *    also sets the language of the request's messages to the page's.
 * So one route plugin serves both with the same handlers; handlers read `installationOf(request)` and
 * never check credentials themselves.
 *
 * Routes authenticated otherwise say so in their config: `{ auth: 'signature' }` (incoming webhooks,
 * signed with the installation's webhook secret) or `{ auth: 'admin' }` (the operators' ADMIN_TOKEN).
 */
import fp from 'fastify-plugin';
import type { FastifyRequest } from 'fastify';
import { ConnectorError } from '../../errors.ts';
import { setRequestLang } from '../../messages/http.ts';
import type { Installation } from '../../store/port.ts';
import { peekPageToken } from '../pages/links.ts';
import { SERVICE } from './services.ts';

export interface RouteAuthConfig {
  auth?: 'installation' | 'page' | 'signature' | 'admin';
}

declare module 'fastify' {
  interface FastifyRequest {
    /** The installation whose credential this request carried (installation-scoped routes), else null. */
    installation: Installation | null;
  }
}

/** The two prefixes installation-scoped route plugins are registered under, and the credential each takes. */
export const SURFACES = { api: '/api', page: '/ui/api' } as const;
export type Surface = keyof typeof SURFACES;
const SCOPED = '/installations/:id';

/** The `Authorization: Bearer <token>` value, or '' when absent. */
export function bearerToken(request: { headers: FastifyRequest['headers'] }): string {
  const m = /^Bearer\s+(\S+)$/i.exec(request.headers.authorization ?? '');
  return m ? m[1]! : '';
}

/** Which surface an installation-scoped route belongs to, or null for any other route. */
export function surfaceOf(url: string | undefined): Surface | null {
  if (!url) return null;
  for (const surface of ['api', 'page'] as const) {
    const scoped = `${SURFACES[surface]}${SCOPED}`;
    if (url === scoped || url.startsWith(`${scoped}/`)) return surface;
  }
  return null;
}

async function authenticate(request: FastifyRequest): Promise<void> {
  const surface = surfaceOf(request.routeOptions.url);
  if (!surface) return;
  const auth = (request.routeOptions.config as RouteAuthConfig | undefined)?.auth ?? (surface === 'api' ? 'installation' : 'page');
  if (auth === 'signature' || auth === 'admin') return;
  const id = (request.params as { id?: string }).id ?? '';
  const token = bearerToken(request);
  if (surface === 'page') {
    // Messages in the page's language, also for a refusal (verified just below).
    const lang = peekPageToken(token)?.lang;
    if (lang) setRequestLang(request, lang);
    if (!token) throw new ConnectorError('unauthorized', 'Missing page session', { field: 'authorization' });
    const session = await request.server.pageSessions.verify(id, token, 'session');
    if (!session) throw new ConnectorError('unauthorized', 'The page session is not valid or has expired', { field: 'authorization' });
    setRequestLang(request, session.claims.lang);
    request.installation = session.installation;
    return;
  }
  if (!token) throw new ConnectorError('unauthorized', 'Missing bearer token', { field: 'authorization' });
  const installation = await request.server.installations.authenticate(token);
  if (!installation) throw new ConnectorError('unauthorized', 'Invalid token', { field: 'authorization' });
  if (installation.id !== id) throw new ConnectorError('forbidden', 'This token belongs to another installation', { field: 'authorization' });
  request.installation = installation;
}

export const authPlugin = fp(
  async (app) => {
    app.decorateRequest('installation', null);
    app.addHook('onRequest', authenticate);
  },
  { name: 'ic-auth', dependencies: [SERVICE.installations, SERVICE.pageSessions] },
);

/** The installation the auth plugin authenticated for this request (installation-scoped routes only). */
export function installationOf(request: FastifyRequest): Installation {
  const installation = request.installation;
  if (!installation) throw new ConnectorError('internal', `route ${request.routeOptions.url} is not behind the installation auth`);
  return installation;
}
