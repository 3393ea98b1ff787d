/**
 * The pages the host embeds (settings, logs) and how they are reached:
 *  - `POST /api/installations/:id/page-links` (installation token): short-lived signed links;
 *  - `GET /ui/installations/:id/{settings,logs}?t=<link>`: the pages (401 page for an expired or forged
 *    link), framed only by the installation's host (`frame-ancestors`), scripts only from /ui/assets.
 * A page gets a page session with it; its own API calls go to `/ui/api/installations/:id/...`, which
 * are the installation routes themselves registered a second time (src/http/app.ts), authenticated by
 * the session instead of the API token (src/http/plugins/auth.ts). Nothing here answers them.
 */
import { readFile } from 'node:fs/promises';
import type { FastifyInstance, FastifyReply } from 'fastify';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import { ConnectorError } from '../../errors.ts';
import { CATALOGUE, type Lang } from '../../messages/catalogue.ts';
import { installationOf, SURFACES } from '../plugins/auth.ts';
import { errorResponses, InstallationParams } from '../schemas/common.ts';
import { esc, newNonce, originOf, pageHeaders, pageShell } from '../pages/html.ts';
import { strings, t } from '../pages/i18n.ts';
import { peekPageToken, type PageLang } from '../pages/links.ts';
import { invoiceLinkBase, logsBody } from '../pages/logs.ts';
import { settingsBody } from '../pages/settings.ts';

function catalogueIn(lang: Lang): Record<string, string> {
  return Object.fromEntries(Object.entries(CATALOGUE).map(([code, t]) => [code, t[lang]]));
}

const ASSETS: Record<string, string> = {
  'pages.css': 'text/css; charset=utf-8',
  'settings.js': 'text/javascript; charset=utf-8',
  'logs.js': 'text/javascript; charset=utf-8',
};

const Lang = Type.Union([Type.Literal('pl'), Type.Literal('en')]);

export async function pageRoutes(appBase: FastifyInstance): Promise<void> {
  const app = appBase.withTypeProvider<TypeBoxTypeProvider>();
  const sessions = app.pageSessions;
  const assets = new Map<string, Buffer>();
  for (const name of Object.keys(ASSETS)) assets.set(name, await readFile(new URL(`../pages/assets/${name}`, import.meta.url)));

  // ---- links (the host asks with its installation token, checked by the auth plugin) ----
  app.post(
    '/api/installations/:id/page-links',
    {
      schema: {
        tags: ['installations'],
        summary: 'Short-lived signed links to the embeddable settings and logs pages',
        params: InstallationParams,
        body: Type.Optional(Type.Object({ lang: Type.Optional(Lang) }, { additionalProperties: false })),
        security: [{ installationToken: [] }],
        response: { 200: Type.Object({ settingsUrl: Type.String(), logsUrl: Type.String(), expiresAt: Type.String() }), ...errorResponses },
      },
    },
    async (request) => {
      const installation = installationOf(request);
      const k = await sessions.keyOf(installation.id);
      if (!k) throw new ConnectorError('conflict', 'This installation has no signing secret; reinstall it');
      const lang: PageLang = request.body?.lang ?? 'pl';
      const link = sessions.sign(k.key, installation.id, lang, 'link');
      const base = `${app.site.publicUrl}/ui/installations/${installation.id}`;
      const q = `?t=${encodeURIComponent(link.token)}`;
      return { settingsUrl: `${base}/settings${q}`, logsUrl: `${base}/logs${q}`, expiresAt: new Date(link.exp * 1000).toISOString() };
    },
  );

  // ---- pages ----
  const PageQuery = Type.Object({ t: Type.Optional(Type.String({ maxLength: 2048 })), lang: Type.Optional(Lang) });

  async function servePage(page: 'settings' | 'logs', request: { params: { id: string }; query: { t?: string; lang?: PageLang } }, reply: FastifyReply) {
    const nonce = newNonce();
    const { id } = request.params;
    const token = request.query.t ?? '';
    const k = await sessions.keyOf(id);
    const verified = k ? await sessions.verify(id, token, 'link') : null;
    const frameAncestors = k ? originOf(k.installation.hostUrl) : "'none'";
    if (!k || !verified) {
      const lang = request.query.lang ?? peekPageToken(token)?.lang ?? 'pl';
      const body = `<main class="denied"><h1>${esc(t(lang, 'expiredTitle'))}</h1><p>${esc(t(lang, 'expiredText'))}</p></main>`;
      return reply
        .status(401)
        .headers(pageHeaders({ nonce, frameAncestors }))
        .send(pageShell({ lang, title: t(lang, 'expiredTitle'), nonce, body }));
    }
    const lang = request.query.lang ?? verified.claims.lang;
    const session = sessions.sign(k.key, id, lang, 'session').token;
    const { installation } = k;
    const data = {
      installationId: id,
      lang,
      session,
      apiBase: `${SURFACES.page}/installations/${id}`,
      invoiceLinkBase: invoiceLinkBase(installation.hostKind, installation.hostUrl),
      previews: true,
      strings: strings(lang),
      // The catalogue's sentences in the page's language: the page checks fields as they are typed.
      messages: catalogueIn(lang),
    };
    const title = t(lang, page === 'settings' ? 'settingsTitle' : 'logsTitle');
    const body = page === 'settings' ? settingsBody(lang) : logsBody(lang);
    return reply
      .status(200)
      .headers(pageHeaders({ nonce, frameAncestors }))
      .send(pageShell({ lang, title, nonce, body, data, script: `${page}.js` }));
  }

  app.get('/ui/installations/:id/settings', { schema: { hide: true, params: InstallationParams, querystring: PageQuery } }, (request, reply) =>
    servePage('settings', request, reply),
  );
  app.get('/ui/installations/:id/logs', { schema: { hide: true, params: InstallationParams, querystring: PageQuery } }, (request, reply) =>
    servePage('logs', request, reply),
  );

  // Browsers ask for it beside every page: an empty answer instead of a 404 in the log.
  app.get('/favicon.ico', { schema: { hide: true } }, async (_request, reply) => reply.status(204).header('cache-control', 'public, max-age=86400').send());
  app.get('/ui/assets/:name', { schema: { hide: true, params: Type.Object({ name: Type.String({ maxLength: 40 }) }) } }, async (request, reply) => {
    const content = assets.get(request.params.name);
    const type = ASSETS[request.params.name];
    if (!content || !type) throw new ConnectorError('not_found', 'No such asset');
    return reply.type(type).header('cache-control', 'no-cache').header('x-content-type-options', 'nosniff').send(content);
  });
}
