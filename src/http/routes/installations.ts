/**
 * Installation-scoped API. Every route but the install handshake needs that installation's token
 * (`Authorization: Bearer <token>`); a token of one installation never reaches another's data.
 */
import type { FastifyInstance } from 'fastify';
import { bearerToken, installationOf } from '../guard.ts';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import { SettingsInputSchema, SettingsViewSchema } from '../../settings/schema.ts';
import type { LedgerEntry, LogEntry, Run } from '../../store/port.ts';
import { errorResponses, InstallationParams, InvoiceParams } from '../schemas/common.ts';
import { settingsInputOf } from '../pages/settings-input.ts';
import { render, type Lang } from '../../messages/catalogue.ts';
import { requestLang } from '../../messages/http.ts';
import { logMessage, statusCode, triggerCode } from '../../messages/logs.ts';
import { InstallBody, InstallResponse, LedgerEntrySchema, LedgerQuerySchema, LogEntrySchema, LogQuerySchema, RunSchema, logTimeRange } from '../schemas/installations.ts';

const security = [{ installationToken: [] }];

export async function installationRoutes(appBase: FastifyInstance): Promise<void> {
  const app = appBase.withTypeProvider<TypeBoxTypeProvider>();
  const { service, store } = app.deps;

  app.post(
    '/installations',
    { schema: { tags: ['installations'], summary: 'Install handshake: register a host company', body: InstallBody, response: { 201: InstallResponse, ...errorResponses } } },
    async (request, reply) => {
      const result = await service.install(request.body);
      return reply.status(201).send({ id: result.installation.id, apiToken: result.apiToken, webhookSecret: result.webhookSecret });
    },
  );

  app.delete(
    '/installations/:id',
    { schema: { tags: ['installations'], summary: 'Uninstall: remove the schedule and secrets, keep ledger and logs', params: InstallationParams, security, response: { 204: Type.Null(), ...errorResponses } } },
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
        description: 'Needs `Authorization: Bearer <ADMIN_TOKEN>` (the connector operators\' token, not an installation token). An installed one answers 409: uninstall first.',
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

  app.get(
    '/installations/:id/settings',
    { schema: { tags: ['settings'], params: InstallationParams, security, response: { 200: SettingsViewSchema, ...errorResponses } } },
    async (request) => service.view(installationOf(request)),
  );

  app.put(
    '/installations/:id/settings',
    {
      schema: {
        tags: ['settings'],
        summary: 'Change settings (merged over the stored ones; validated against the host; nothing saved when anything fails)',
        params: InstallationParams,
        body: SettingsInputSchema,
        security,
        response: { 200: SettingsViewSchema, ...errorResponses },
      },
      // Schema errors are answered together with every other problem of the change (one 400/422).
      attachValidation: true,
    },
    async (request) => {
      installationOf(request);
      const { input, shapeProblems } = settingsInputOf(request);
      return service.updateSettings(request.params.id, input, { shapeProblems });
    },
  );

  app.get(
    '/installations/:id/options/:list',
    {
      schema: {
        tags: ['settings'],
        summary: 'Live option lists for the settings form',
        params: Type.Object({ id: Type.String({ format: 'uuid' }), list: Type.Union([Type.Literal('operators'), Type.Literal('email-accounts'), Type.Literal('templates'), Type.Literal('prints')]) }),
        querystring: Type.Object({ operator: Type.Optional(Type.String({ maxLength: 200 })) }, { additionalProperties: false }),
        security,
      },
    },
    async (request) => {
      installationOf(request);
      return { options: await service.options(request.params.id, request.params.list, request.query.operator) };
    },
  );

  app.post(
    '/installations/:id/runs',
    { schema: { tags: ['runs'], summary: 'Run now (outside the window; logged as manual)', params: InstallationParams, security, response: { 202: Type.Object({ queued: Type.Boolean() }), ...errorResponses } } },
    async (request, reply) => {
      installationOf(request);
      await service.runNow(request.params.id);
      return reply.status(202).send({ queued: true });
    },
  );

  app.get(
    '/installations/:id/runs',
    {
      schema: {
        tags: ['runs'],
        params: InstallationParams,
        querystring: Type.Object({ limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 500, default: 50 })) }, { additionalProperties: false }),
        security,
        response: { 200: Type.Object({ runs: Type.Array(RunSchema) }), ...errorResponses },
      },
    },
    async (request) => {
      installationOf(request);
      const runs = await store.listRuns(request.params.id, request.query.limit ?? 50);
      const lang = requestLang(request);
      return { runs: runs.map((r) => runView(r, lang)) };
    },
  );

  app.get(
    '/installations/:id/logs',
    {
      schema: {
        tags: ['runs'],
        summary: 'The automation\'s log, newest first',
        params: InstallationParams,
        querystring: LogQuerySchema,
        security,
        response: { 200: Type.Object({ entries: Type.Array(LogEntrySchema), next: Type.Union([Type.String(), Type.Null()]) }), ...errorResponses },
      },
    },
    async (request) => {
      installationOf(request);
      const q = request.query;
      const limit = q.limit ?? 100;
      const { from: _from, to: _to, ...rest } = q;
      const entries = await store.listLogs({ installationId: request.params.id, ...rest, ...logTimeRange(q), limit });
      const lang = requestLang(request);
      return { entries: entries.map((e) => logView(e, lang)), next: entries.length === limit ? (entries[entries.length - 1]?.id ?? null) : null };
    },
  );

  app.get(
    '/installations/:id/ledger',
    {
      schema: {
        tags: ['runs'],
        summary: 'Per-invoice delivery record, in invoice-id order, paged by cursor',
        description: 'Pass `next` of an answer as `after` to read on; `next` is null on the last page.',
        params: InstallationParams,
        querystring: LedgerQuerySchema,
        security,
        response: { 200: Type.Object({ entries: Type.Array(LedgerEntrySchema), next: Type.Union([Type.String(), Type.Null()]) }), ...errorResponses },
      },
    },
    async (request) => {
      installationOf(request);
      const q = request.query;
      const limit = q.limit ?? 500;
      const entries = await store.listLedger(request.params.id, {
        ...(q.state ? { states: [q.state as LedgerEntry['state']] } : {}),
        ...(q.after !== undefined ? { after: q.after } : {}),
        limit,
      });
      return { entries: entries.map(ledgerView), next: entries.length === limit ? (entries[entries.length - 1]?.invoiceId ?? null) : null };
    },
  );

  app.post(
    '/installations/:id/invoices/:invoiceId/resend',
    { schema: { tags: ['runs'], summary: 'A person allows an uncertain or failed invoice to be sent again', params: InvoiceParams, security, response: { 202: Type.Object({ allowed: Type.Boolean() }), ...errorResponses } } },
    async (request, reply) => {
      installationOf(request);
      await service.allowResend(request.params.id, request.params.invoiceId);
      return reply.status(202).send({ allowed: true });
    },
  );
}

function runView(r: Run, lang: Lang) {
  return {
    id: r.id, trigger: r.trigger, status: r.status, startedAt: r.startedAt, finishedAt: r.finishedAt, counts: { ...r.counts }, processed: r.processed, total: r.total, error: r.error,
    statusText: render(lang, statusCode(r.status)),
    triggerText: render(lang, triggerCode(r.trigger)),
  };
}

function logView(e: LogEntry, lang: Lang) {
  const m = logMessage(lang, e);
  return { id: e.id, runId: e.runId, at: e.at, level: e.level, event: e.event, invoiceId: e.invoiceId, invoiceNumber: e.invoiceNumber, message: e.message, data: e.data, code: m.code, params: m.params, text: m.text };
}

function ledgerView(e: LedgerEntry) {
  // Recipients as the schema has them whatever an older version stored (a refusal without `accepted`).
  const recipients = e.recipients.map((r) => ({ address: String(r.address), accepted: r.accepted === true, reply: typeof r.reply === 'string' ? r.reply : null, ...(r.bounce ? { bounce: r.bounce } : {}) }));
  return { invoiceId: e.invoiceId, invoiceNumber: e.invoiceNumber, state: e.state, attempts: e.attempts, messageId: e.messageId, reason: e.reason, detail: e.detail, recipients, writeBackPending: e.writeBackPending, updatedAt: e.updatedAt, version: e.version ?? 1 };
}
