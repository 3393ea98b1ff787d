/**
 * The pages the host embeds (settings, logs) and what they need:
 *  - `POST /api/installations/:id/page-links` (installation token): short-lived signed links;
 *  - `GET /ui/installations/:id/{settings,logs}?t=<link>`: the pages (401 page for an expired or forged
 *    link), framed only by the installation's host (`frame-ancestors`), scripts only from /ui/assets;
 *  - `/ui/api/installations/:id/...` (page session token as bearer): the page's own API calls, which go
 *    through the same service, store and previews as the installation API, so validation and error
 *    bodies (`error.fields`) are the same (the schedule preview and the managed accounts included).
 */
import { readFile } from 'node:fs/promises';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { bearerToken } from '../guard.ts';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import { DateTime } from 'luxon';
import { ConnectorError } from '../../errors.ts';
import type { SecretBox } from '../../secrets.ts';
import { SettingsInputSchema } from '../../settings/schema.ts';
import type { Installation } from '../../store/port.ts';
import { errorResponses, InstallationParams, InvoiceParams } from '../schemas/common.ts';
import { LogQuerySchema, logTimeRange } from '../schemas/installations.ts';
import { esc, newNonce, originOf, pageHeaders, pageShell } from '../pages/html.ts';
import { strings, t } from '../pages/i18n.ts';
import { LINK_TTL_SECONDS, SESSION_TTL_SECONDS, pageKey, peekPageToken, signPageToken, verifyPageToken, type PageLang } from '../pages/links.ts';
import { invoiceLinkBase, logsBody } from '../pages/logs.ts';
import { settingsBody } from '../pages/settings.ts';
import { settingsInputOf } from '../pages/settings-input.ts';
import { schedulePreviewView } from './schedule.ts';
import { CATALOGUE, render, type Lang } from '../../messages/catalogue.ts';
import { setRequestLang } from '../../messages/http.ts';
import { decisionMessage, logMessage, statusCode, triggerCode } from '../../messages/logs.ts';
import { settingsWarnings, todayIn } from '../../settings/check.ts';
import type { Run } from '../../store/port.ts';

function catalogueIn(lang: Lang): Record<string, string> {
  return Object.fromEntries(Object.entries(CATALOGUE).map(([code, t]) => [code, t[lang]]));
}

export interface PageDeps {
  secrets: SecretBox;
  clock: () => Date;
}

/** What the pages need from the previews (src/installations/previews.ts), structurally. */
interface PreviewSource {
  searchInvoices(installationId: string, text: string, limit?: number): Promise<{ id: string; number: string | null; customer: string | null; date: string | null }[]>;
  previewInvoice(installationId: string, invoiceId: string): Promise<{
    decision: { send: boolean; reason?: string; detail?: string };
    print: string;
    message: { from: { name: string | null; address: string }; to: string[]; subject: string; html: string; text: string };
    attachment: { filename: string; pdf: Uint8Array; warnings: string[] } | null;
  }>;
  previewAttachment(installationId: string, invoiceId: string): Promise<{ filename: string; pdf: Uint8Array }>;
}

const ASSETS: Record<string, string> = {
  'pages.css': 'text/css; charset=utf-8',
  'settings.js': 'text/javascript; charset=utf-8',
  'logs.js': 'text/javascript; charset=utf-8',
};

const Lang = Type.Union([Type.Literal('pl'), Type.Literal('en')]);
const security = [{ installationToken: [] }];

export function pageRoutes(deps: PageDeps) {
  return async function pages(appBase: FastifyInstance): Promise<void> {
    const app = appBase.withTypeProvider<TypeBoxTypeProvider>();
    const { service, store } = app.deps;
    const previews = (app.deps as { previews?: PreviewSource }).previews;
    const assets = new Map<string, Buffer>();
    for (const name of Object.keys(ASSETS)) assets.set(name, await readFile(new URL(`../pages/assets/${name}`, import.meta.url)));

    /** The installation's page-signing key, or null when it has none (uninstalled). */
    async function keyOf(installationId: string): Promise<{ installation: Installation; key: Buffer } | null> {
      const installation = await store.getInstallation(installationId);
      if (!installation || installation.status !== 'active' || !installation.webhookSecret) return null;
      return { installation, key: pageKey(deps.secrets.decrypt(installation.webhookSecret)) };
    }

    // ---- links (the host asks with its installation token) ----
    app.post(
      '/api/installations/:id/page-links',
      {
        schema: {
          tags: ['installations'],
          summary: 'Short-lived signed links to the embeddable settings and logs pages',
          params: InstallationParams,
          body: Type.Optional(Type.Object({ lang: Type.Optional(Lang) }, { additionalProperties: false })),
          security,
          response: { 200: Type.Object({ settingsUrl: Type.String(), logsUrl: Type.String(), expiresAt: Type.String() }), ...errorResponses },
        },
      },
      async (request) => {
        const token = bearerToken(request);
        if (!token) throw new ConnectorError('unauthorized', 'Missing bearer token', { field: 'authorization' });
        const installation = await service.authenticate(token);
        if (!installation) throw new ConnectorError('unauthorized', 'Invalid token', { field: 'authorization' });
        if (installation.id !== request.params.id) throw new ConnectorError('forbidden', 'This token belongs to another installation', { field: 'authorization' });
        const k = await keyOf(installation.id);
        if (!k) throw new ConnectorError('conflict', 'This installation has no signing secret; reinstall it');
        const lang: PageLang = request.body?.lang ?? 'pl';
        const exp = Math.floor(deps.clock().getTime() / 1000) + LINK_TTL_SECONDS;
        const link = signPageToken(k.key, { i: installation.id, lang, kind: 'link', exp });
        const base = `${app.deps.publicUrl}/ui/installations/${installation.id}`;
        const q = `?t=${encodeURIComponent(link)}`;
        return { settingsUrl: `${base}/settings${q}`, logsUrl: `${base}/logs${q}`, expiresAt: new Date(exp * 1000).toISOString() };
      },
    );

    // ---- pages ----
    const PageQuery = Type.Object({ t: Type.Optional(Type.String({ maxLength: 2048 })), lang: Type.Optional(Lang) });

    async function servePage(page: 'settings' | 'logs', request: { params: { id: string }; query: { t?: string; lang?: PageLang } }, reply: FastifyReply) {
      const nonce = newNonce();
      const { id } = request.params;
      const token = request.query.t ?? '';
      const k = await keyOf(id);
      const verified = k ? verifyPageToken(k.key, token, { installationId: id, kind: 'link', now: deps.clock() }) : null;
      const frameAncestors = k ? originOf(k.installation.hostUrl) : "'none'";
      if (!k || !verified || !verified.ok) {
        const lang = request.query.lang ?? peekPageToken(token)?.lang ?? 'pl';
        const body = `<main class="denied"><h1>${esc(t(lang, 'expiredTitle'))}</h1><p>${esc(t(lang, 'expiredText'))}</p></main>`;
        return reply.status(401).headers(pageHeaders({ nonce, frameAncestors })).send(pageShell({ lang, title: t(lang, 'expiredTitle'), nonce, body }));
      }
      const lang = request.query.lang ?? verified.claims.lang;
      const exp = Math.floor(deps.clock().getTime() / 1000) + SESSION_TTL_SECONDS;
      const session = signPageToken(k.key, { i: id, lang, kind: 'session', exp });
      const { installation } = k;
      const data = {
        installationId: id,
        lang,
        session,
        apiBase: `/ui/api/installations/${id}`,
        invoiceLinkBase: invoiceLinkBase(installation.hostKind, installation.hostUrl),
        previews: previews !== undefined,
        strings: strings(lang),
        // The catalogue's sentences in the page's language: the page checks fields as they are typed.
        messages: catalogueIn(lang),
      };
      const title = t(lang, page === 'settings' ? 'settingsTitle' : 'logsTitle');
      const body = page === 'settings' ? settingsBody(lang) : logsBody(lang);
      return reply.status(200).headers(pageHeaders({ nonce, frameAncestors })).send(pageShell({ lang, title, nonce, body, data, script: `${page}.js` }));
    }

    app.get('/ui/installations/:id/settings', { schema: { hide: true, params: InstallationParams, querystring: PageQuery } }, (request, reply) => servePage('settings', request, reply));
    app.get('/ui/installations/:id/logs', { schema: { hide: true, params: InstallationParams, querystring: PageQuery } }, (request, reply) => servePage('logs', request, reply));

    app.get('/ui/assets/:name', { schema: { hide: true, params: Type.Object({ name: Type.String({ maxLength: 40 }) }) } }, async (request, reply) => {
      const content = assets.get(request.params.name);
      const type = ASSETS[request.params.name];
      if (!content || !type) throw new ConnectorError('not_found', 'No such asset');
      return reply.type(type).header('cache-control', 'no-cache').header('x-content-type-options', 'nosniff').send(content);
    });

    // ---- the pages' API (page session token) ----
    // Messages in the page's language, also for requests refused before their handler (schema errors):
    // the language is read from the session token before validation (verified in the handler).
    app.addHook('onRequest', async (request) => {
      if (!request.url.startsWith('/ui/api/')) return;
      const lang = peekPageToken(bearerToken(request))?.lang;
      if (lang) setRequestLang(request, lang);
    });

    async function session(request: { headers: FastifyRequest['headers']; params: { id: string } }): Promise<Installation> {
      const token = bearerToken(request);
      if (!token) throw new ConnectorError('unauthorized', 'Missing page session', { field: 'authorization' });
      const k = await keyOf(request.params.id);
      const v = k ? verifyPageToken(k.key, token, { installationId: request.params.id, kind: 'session', now: deps.clock() }) : null;
      if (!k || !v || !v.ok) throw new ConnectorError('unauthorized', 'The page session is not valid or has expired', { field: 'authorization' });
      setRequestLang(request, v.claims.lang);
      sessionLang.set(request, v.claims.lang);
      return k.installation;
    }
    const sessionLang = new WeakMap<object, Lang>();
    const langOfSession = (request: object): Lang => sessionLang.get(request) ?? 'pl';

    /** A run as the pages show it: the record plus its sentences and, while it goes, an estimate. */
    function runPageView(run: Run, lang: Lang) {
      const { installationId: _i, ...r } = run;
      const now = deps.clock().getTime();
      const elapsed = (run.finishedAt ? Date.parse(run.finishedAt) : now) - Date.parse(run.startedAt);
      const remainingMs = run.status === 'running' && run.processed > 0 && run.total > run.processed ? Math.round((elapsed / run.processed) * (run.total - run.processed)) : null;
      return {
        ...r,
        statusCode: statusCode(run.status),
        statusText: render(lang, statusCode(run.status)),
        triggerCode: triggerCode(run.trigger),
        triggerText: render(lang, triggerCode(run.trigger)),
        countsText: render(lang, 'run.counts', { ...run.counts }),
        progressText: run.status === 'running' && run.total === 0 ? render(lang, 'run.counting') : render(lang, 'run.progress', { processed: run.processed, total: run.total }),
        elapsedMs: elapsed,
        remainingMs,
      };
    }

    const ui = '/ui/api/installations/:id';
    const hide = true;

    app.get(`${ui}/settings`, { schema: { hide, params: InstallationParams } }, async (request) => service.view(await session(request)));

    app.put(`${ui}/settings`, { schema: { hide, params: InstallationParams, body: SettingsInputSchema }, attachValidation: true }, async (request) => {
      await session(request);
      const lang = langOfSession(request);
      const { input, shapeProblems } = settingsInputOf(request);
      const saved = await service.updateSettings(request.params.id, input, { shapeProblems });
      // Saved, with what a person should know (a from date in the future).
      const { operatorPassword: _p, ...settings } = saved;
      const warnings = settingsWarnings(settings, todayIn(settings, deps.clock())).map((w) => ({ field: w.field, code: w.code, params: w.params, message: render(lang, w.code, w.params) }));
      return { ...saved, warnings };
    });

    // The schedule preview under the schedule fields: the installation API's answer (src/http/routes/schedule.ts).
    app.get(`${ui}/schedule`, { schema: { hide, params: InstallationParams } }, async (request) => schedulePreviewView((await session(request)).settings, service.now()));

    // Connector-managed e-mail accounts (passwords never returned): the page shows a DKIM account's DNS record.
    app.get(`${ui}/managed/email-accounts`, { schema: { hide, params: InstallationParams } }, async (request) => {
      const installation = await session(request);
      const managed = app.deps.managed;
      if (!managed) throw new ConnectorError('not_found', 'This connector has no connector-managed e-mail accounts', { field: 'url' });
      return { accounts: await managed.listAccounts(installation.id) };
    });

    app.get(
      `${ui}/options/:list`,
      {
        schema: {
          hide,
          params: Type.Object({ id: Type.String({ format: 'uuid' }), list: Type.Union([Type.Literal('operators'), Type.Literal('email-accounts'), Type.Literal('templates'), Type.Literal('prints')]) }),
          querystring: Type.Object({ operator: Type.Optional(Type.String({ maxLength: 200 })) }, { additionalProperties: false }),
        },
      },
      async (request) => {
        await session(request);
        return { options: await service.options(request.params.id, request.params.list, request.query.operator || undefined) };
      },
    );

    app.post(`${ui}/runs`, { schema: { hide, params: InstallationParams } }, async (request, reply) => {
      await session(request);
      await service.runNow(request.params.id);
      return reply.status(202).send({ queued: true });
    });

    app.get(
      `${ui}/runs`,
      { schema: { hide, params: InstallationParams, querystring: Type.Object({ limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 100, default: 10 })) }, { additionalProperties: false }) } },
      async (request) => {
        await session(request);
        const runs = await store.listRuns(request.params.id, request.query.limit ?? 10);
        const lang = langOfSession(request);
        return { runs: runs.map((run) => runPageView(run, lang)) };
      },
    );

    // The cheap endpoint the logs page polls while a run goes: the newest run only (one indexed read).
    app.get(`${ui}/runs/current`, { schema: { hide, params: InstallationParams }, logLevel: 'warn' }, async (request) => {
      await session(request);
      const [run] = await store.listRuns(request.params.id, 1);
      return { run: run ? runPageView(run, langOfSession(request)) : null };
    });

    const PageLogQuery = Type.Object(
      {
        ...LogQuerySchema.properties,
        fromDate: Type.Optional(Type.String({ format: 'date' })),
        toDate: Type.Optional(Type.String({ format: 'date' })),
      },
      { additionalProperties: false },
    );
    app.get(`${ui}/logs`, { schema: { hide, params: InstallationParams, querystring: PageLogQuery } }, async (request) => {
      const installation = await session(request);
      const { fromDate, toDate, ...q } = request.query;
      const zone = installation.settings.timezone;
      // Days are days of the installation's time zone.
      const range = logTimeRange(
        {
          from: fromDate ? DateTime.fromISO(fromDate, { zone }).startOf('day').toUTC().toISO()! : q.from,
          to: toDate ? DateTime.fromISO(toDate, { zone }).endOf('day').toUTC().toISO()! : q.to,
        },
        { from: fromDate ? 'fromDate' : 'from', to: toDate ? 'toDate' : 'to' },
      );
      const limit = q.limit ?? 100;
      const { from: _from, to: _to, ...rest } = q;
      const entries = await store.listLogs({ ...rest, installationId: installation.id, ...range, limit });
      const lang = langOfSession(request);
      return {
        entries: entries.map(({ installationId: _i, ...e }) => {
          const m = logMessage(lang, e);
          return { ...e, code: m.code, params: m.params, text: m.text, levelText: render(lang, e.level === 'error' ? 'level.error' : e.level === 'warning' ? 'level.warning' : 'level.info') };
        }),
        next: entries.length === limit ? (entries[entries.length - 1]?.id ?? null) : null,
      };
    });

    function previewsOrFail(): PreviewSource {
      if (!previews) throw new ConnectorError('not_found', 'Previews are not available in this process');
      return previews;
    }

    app.get(
      `${ui}/invoices/search`,
      { schema: { hide, params: InstallationParams, querystring: Type.Object({ q: Type.Optional(Type.String({ maxLength: 64 })), limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 50, default: 10 })) }, { additionalProperties: false }) } },
      async (request) => {
        await session(request);
        // `q` is optional so that a caller without a session hears 401, not about its query.
        return { invoices: await previewsOrFail().searchInvoices(request.params.id, request.query.q ?? '', request.query.limit ?? 10) };
      },
    );

    app.get(`${ui}/invoices/:invoiceId/preview`, { schema: { hide, params: InvoiceParams } }, async (request) => {
      await session(request);
      const p = await previewsOrFail().previewInvoice(request.params.id, request.params.invoiceId);
      const m = p.message;
      const said = decisionMessage(langOfSession(request), p.decision);
      return {
        decision: { ...p.decision, code: said.code, params: said.params, text: said.text },
        print: p.print,
        message: { from: m.from, to: m.to, subject: m.subject, html: m.html, text: m.text },
        attachment: p.attachment ? { filename: p.attachment.filename, size: p.attachment.pdf.byteLength, warnings: p.attachment.warnings } : null,
      };
    });

    app.get(`${ui}/invoices/:invoiceId/preview.pdf`, { schema: { hide, params: InvoiceParams } }, async (request, reply) => {
      await session(request);
      const a = await previewsOrFail().previewAttachment(request.params.id, request.params.invoiceId);
      return reply.type('application/pdf').header('content-disposition', `inline; filename="${a.filename.replace(/["\\\r\n]/g, '_')}"`).send(Buffer.from(a.pdf.buffer, a.pdf.byteOffset, a.pdf.byteLength));
    });
  };
}
