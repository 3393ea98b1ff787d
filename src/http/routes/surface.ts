/**
 * Installation-scoped route plugins are registered twice, once per surface (src/http/app.ts): under
 * `/api` for hosts (installation API token) and under `/ui/api` for the embeddable pages (page
 * session). The handlers are the same; the auth plugin picks the credential by prefix. A route only
 * hosts may call (uninstall, the ledger, managed-record changes, webhooks) is registered on `api` only.
 */
import type { FastifySchema } from 'fastify';
import type { Surface } from '../plugins/auth.ts';

export type { Surface };

export interface SurfaceOptions {
  surface: Surface;
}

const SECURITY: Record<Surface, Record<string, string[]>[]> = { api: [{ installationToken: [] }], page: [{ pageSession: [] }] };

/** A route's schema on this surface: its credential in OpenAPI, and on the page surface the `pages` tag. */
export function onSurface<S extends FastifySchema & { tags?: string[] }>(
  surface: Surface,
  schema: S,
): S & { security: Record<string, string[]>[]; tags: string[] } {
  return { ...schema, security: SECURITY[surface], tags: surface === 'page' ? ['pages'] : (schema.tags ?? []) };
}
