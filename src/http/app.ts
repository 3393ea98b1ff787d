/**
 * The HTTP surface as Fastify plugins. `httpApp` is the app itself (OpenAPI, one error mapping, the
 * auth plugin, every route); it declares the service plugins it needs (src/http/plugins/services.ts)
 * as `dependencies`, so Fastify refuses to start when one is missing. Installation-scoped route
 * plugins are registered twice, under `/api` (installation API token) and `/ui/api` (the embeddable
 * pages' session): the same handlers and schemas, the credential chosen by the auth plugin.
 * `buildHttpServer(services)` is the one way to get a ready app: the composition root listens on it,
 * the HTTP tests call `inject` on it. One error handler maps `ConnectorError` codes to HTTP statuses
 * and JSON bodies naming the offending field; 5xx details are hidden.
 */
import Fastify, { LogController, type FastifyError, type FastifyInstance, type FastifyReply, type FastifyServerOptions } from 'fastify';
import fp from 'fastify-plugin';
import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { ConnectorError, ValidationFailure, isConnectorError } from '../errors.ts';
import type { InstallationService } from '../installations/service.ts';
import type { InvoicePreviews } from '../installations/previews.ts';
import type { ManagedService } from '../connector-managed/index.ts';
import type { SecretBox } from '../secrets/secret-box.ts';
import type { Store } from '../store/port.ts';
import { redactUrl, type Logger } from '../observability/logger.ts';
import { requestLang } from '../messages/http.ts';
import { fieldErrorView, joinedMessage } from '../messages/fields.ts';
import { schemaProblems } from '../messages/validation.ts';
import { authPlugin, SURFACES, type Surface } from './plugins/auth.ts';
import {
  installationsPlugin,
  managedPlugin,
  pageSessionsPlugin,
  previewsPlugin,
  SERVICE,
  sitePlugin,
  storePlugin,
  webhooksPlugin,
  type Webhooks,
} from './plugins/services.ts';
import { installationRoutes } from './routes/installations.ts';
import { systemRoutes } from './routes/system.ts';
import { webhookRoutes } from './routes/webhooks.ts';
import { previewRoutes } from './routes/previews.ts';
import { managedRoutes } from './routes/managed.ts';
import { scheduleRoutes } from './routes/schedule.ts';
import { settingsRoutes } from './routes/settings.ts';
import { runRoutes } from './routes/runs.ts';
import { pageRoutes } from './routes/pages.ts';
import { operatorRoutes, type OperatorDeps } from './routes/operator.ts';

const UI_KEYWORDS = ['x-label', 'x-help', 'x-order', 'x-group', 'x-options'];

/** The Fastify server's own options: the logger, the body limit, Ajv with the schema's UI keywords, and 4xx bodies for URLs Fastify refuses. */
export function httpServerOptions(logger: Logger): FastifyServerOptions {
  return {
    loggerInstance: logger as never,
    // One access line per request (the onResponse hook below) instead of Fastify's two.
    logController: new LogController({ disableRequestLogging: true }),
    bodyLimit: 1024 * 1024,
    ajv: { customOptions: { removeAdditional: false, keywords: UI_KEYWORDS, allErrors: true } },
    // Errors Fastify answers before any route (a URL it cannot decode, a path parameter too long) get
    // the same body as every other 4xx.
    frameworkErrors: (error, _request, reply) => {
      const tooLong = error.code === 'FST_ERR_MAX_PARAM_LENGTH';
      void (reply as unknown as FastifyReply).status(tooLong ? 414 : 400).send({
        error: {
          code: tooLong ? 'uri_too_long' : 'bad_url',
          message: tooLong ? 'A part of the URL is too long' : 'The URL is not valid (it cannot be decoded)',
          field: 'url',
        },
      });
    },
  };
}

/** Every route an installation can reach, on one surface (registered once per surface, under its prefix). */
async function installationScoped(app: FastifyInstance, { surface }: { surface: Surface }): Promise<void> {
  for (const routes of [settingsRoutes, runRoutes, scheduleRoutes, previewRoutes, managedRoutes]) await app.register(routes, { surface });
}

async function http(appBase: FastifyInstance): Promise<void> {
  const app = appBase.withTypeProvider<TypeBoxTypeProvider>();
  // Endpoints polled every few seconds (the logs page, monitors, scrapers) write no access log at info.
  app.addHook('onRoute', (route) => {
    if (!route.logLevel && isPolledRoute(route.method, route.url)) route.logLevel = 'warn';
  });
  app.addHook('onResponse', async (request, reply) => {
    request.log.info({ req: request, res: { statusCode: reply.statusCode }, responseTime: Math.round(reply.elapsedTime) }, 'request completed');
  });

  await app.register(swagger, {
    openapi: {
      info: { title: 'Invoice Courier', version: app.site.version, description: "E-mails the host ERP's sales invoices automatically, exactly once each." },
      servers: [{ url: app.site.publicUrl }],
      components: {
        securitySchemes: {
          installationToken: { type: 'http', scheme: 'bearer', description: 'the API token install handed out' },
          pageSession: { type: 'http', scheme: 'bearer', description: 'the session an embeddable page got with it (routes under /ui/api)' },
          adminToken: { type: 'http', scheme: 'bearer', description: 'ADMIN_TOKEN' },
        },
      },
      tags: [
        { name: 'installations', description: 'Install handshake and uninstall' },
        { name: 'settings', description: 'Settings and their option lists' },
        { name: 'runs', description: 'Runs, logs and the per-invoice ledger' },
        { name: 'webhooks', description: 'Signed webhooks from the host, and the log of outgoing ones' },
        { name: 'system', description: 'Health and the extension manifest' },
        { name: 'pages', description: 'What the embeddable pages call with their page session: the same routes as under /api' },
      ],
    },
  });
  await app.register(swaggerUi, { routePrefix: '/docs' });

  app.setErrorHandler((error: FastifyError | ConnectorError | Error, request, reply) => {
    // Field errors carry a message code and parameters (src/messages) and the sentence in the caller's language.
    const lang = requestLang(request);
    // Only a change of the settings names its fields by the settings' labels: elsewhere a field named like
    // a setting (the log filter's `fromDate`) is something else.
    const settingsChange = request.method === 'PUT' && /\/settings$/.test(request.routeOptions.url ?? '');
    if ((error as FastifyError).validation) {
      const fe = error as FastifyError;
      const context = fe.validationContext || 'body';
      const source = context === 'querystring' ? request.query : context === 'params' ? request.params : context === 'body' ? request.body : undefined;
      const valueAt = (field: string): unknown =>
        field.split('.').reduce<unknown>((v, k) => (v && typeof v === 'object' ? (v as Record<string, unknown>)[k] : undefined), source);
      const fields = schemaProblems(fe.validation ?? [], context, valueAt).map((f) => fieldErrorView(f, lang));
      return reply.status(400).send({ error: { code: 'validation', message: joinedMessage(fields, lang, settingsChange), field: fields[0]?.field, fields } });
    }
    if (error instanceof ValidationFailure) {
      const fields = error.fields.map((f) => fieldErrorView(f, lang));
      return reply.status(error.status).send({ error: { code: error.code, message: joinedMessage(fields, lang, settingsChange), field: error.field, fields } });
    }
    if (isConnectorError(error)) {
      const status = error.status;
      if (status >= 500 && error.code !== 'host_unavailable' && !error.code.startsWith('mail_')) {
        request.log.error({ err: error }, 'request failed');
        return reply.status(status).send({ error: { code: error.code, message: 'Internal error' } });
      }
      if (error.field && error.say) {
        const f = fieldErrorView(
          { field: error.field, message: error.message, code: error.say.code, ...(error.say.params ? { params: error.say.params } : {}) },
          lang,
        );
        return reply.status(status).send({ error: { code: error.code, message: f.message, field: error.field, fields: [f] } });
      }
      return reply.status(status).send({ error: { code: error.code, message: error.message, ...(error.field ? { field: error.field } : {}) } });
    }
    const fe = error as FastifyError;
    if (fe.statusCode && fe.statusCode < 500) {
      // Fastify's body errors (malformed or empty JSON, too large, unsupported media type) keep their status; the code is ours.
      const code = fe.code?.startsWith('FST_ERR_CTP_') ? 'validation' : fe.code ? fe.code.toLowerCase() : 'bad_request';
      const field = fe.code === 'FST_ERR_CTP_INVALID_MEDIA_TYPE' ? 'content-type' : 'body';
      return reply.status(fe.statusCode).send({ error: { code, message: fe.message, field } });
    }
    request.log.error({ err: error }, 'unhandled error');
    return reply.status(500).send({ error: { code: 'internal', message: 'Internal error' } });
  });
  app.setNotFoundHandler((request, reply) =>
    reply.status(404).send({ error: { code: 'not_found', message: `No route ${request.method} ${redactUrl(request.url)}`, field: 'url' } }),
  );

  // Before any route: a caller without that installation's credential gets 401/403 on every installation route.
  await app.register(authPlugin);
  // After validation (and after a webhook's signature check): PostgreSQL text cannot hold NUL, so no input may carry one.
  app.addHook('preHandler', async (request) => {
    for (const [part, value] of [
      ['params', request.params],
      ['query', request.query],
      ['body', request.body],
    ] as const) {
      const field = fieldWithNul(value);
      if (field !== null)
        throw new ConnectorError('validation', `${field || part}: must not contain a NUL character`, { field: field || part, say: { code: 'validation.nul' } });
    }
  });
  await app.register(systemRoutes);
  await app.register(installationRoutes, { prefix: SURFACES.api });
  await app.register(webhookRoutes, { prefix: SURFACES.api });
  await app.register(installationScoped, { prefix: SURFACES.api, surface: 'api' });
  await app.register(installationScoped, { prefix: SURFACES.page, surface: 'page' });
  await app.register(pageRoutes);
}

/** The app: not encapsulated (its error and not-found handlers are the server's), needing every service plugin. */
export const httpApp = fp(http, { name: 'ic-http', dependencies: Object.values(SERVICE) });

/** What the HTTP surface needs, real instances (the composition root's, or a test's). */
export interface HttpServices {
  logger: Logger;
  version: string;
  publicUrl: string;
  store: Store;
  service: InstallationService;
  previews: InvoicePreviews;
  managed: ManagedService;
  webhooks: Webhooks;
  secrets: SecretBox;
  clock: () => Date;
  /** The operators' surface (Agendash, /metrics); absent or without a token = it does not exist. */
  operator?: OperatorDeps;
}

/** A ready (not listening) server: the service plugins, then the app and the operators' surface. */
export async function buildHttpServer(s: HttpServices): Promise<FastifyInstance> {
  const app = Fastify(httpServerOptions(s.logger));
  await app.register(sitePlugin, { version: s.version, publicUrl: s.publicUrl });
  await app.register(storePlugin, { store: s.store });
  await app.register(installationsPlugin, { service: s.service });
  await app.register(previewsPlugin, { previews: s.previews });
  await app.register(managedPlugin, { managed: s.managed });
  await app.register(webhooksPlugin, s.webhooks);
  await app.register(pageSessionsPlugin, { secrets: s.secrets, clock: s.clock });
  await app.register(httpApp);
  if (s.operator) await app.register(operatorRoutes(s.operator));
  await app.ready();
  return app;
}

/**
 * GET routes that pages and monitors poll or load with every page: run lists and progress, the log page's
 * entries, health, metrics, the pages' own assets and the browser's favicon request.
 */
const POLLED_ROUTE =
  /^(?:\/health|\/metrics|\/favicon\.ico|\/ui\/assets\/:name|\/(?:ui\/)?api\/installations\/:id\/(?:runs(?:\/[^/]+)*|logs|progress|events))$/;

export function isPolledRoute(method: string | string[], url: string): boolean {
  const methods = Array.isArray(method) ? method : [method];
  return methods.every((m) => m === 'GET' || m === 'HEAD') && POLLED_ROUTE.test(url);
}

/**
 * The path ("a.b.0.c"; '' for the value itself) of the first string or key holding a NUL character, or
 * null. Iterative, so a deeply nested body cannot overflow the stack.
 */
export function fieldWithNul(value: unknown): string | null {
  const stack: [unknown, string][] = [[value, '']];
  while (stack.length) {
    const [v, path] = stack.pop()!;
    if (typeof v === 'string') {
      if (v.includes('\u0000')) return path;
    } else if (v !== null && typeof v === 'object' && !Buffer.isBuffer(v)) {
      for (const [k, child] of Object.entries(v)) {
        const p = path ? `${path}.${k}` : k;
        if (k.includes('\u0000')) return p;
        stack.push([child, p]);
      }
    }
  }
  return null;
}
