/**
 * Runs, the automation's log and the per-invoice ledger of an installation. Run now, the runs (with
 * progress and an estimate while one goes), the newest run (the cheap endpoint the logs page polls) and
 * the log are on both surfaces; the ledger and allowing a resend are for hosts only (`/api`).
 * Sentences are in the caller's language: Accept-Language on the API, the page's on the page API.
 */
import type { FastifyInstance } from 'fastify';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import { DateTime } from 'luxon';
import type { LedgerEntry, LogEntry, Run } from '../../store/port.ts';
import { render, type Lang } from '../../messages/catalogue.ts';
import { requestLang } from '../../messages/http.ts';
import { logMessage, statusCode, triggerCode } from '../../messages/logs.ts';
import { installationOf } from '../plugins/auth.ts';
import { errorResponses, InstallationParams, InvoiceParams } from '../schemas/common.ts';
import {
  CurrentRunResponse,
  LedgerEntrySchema,
  LedgerQuerySchema,
  LogQuerySchema,
  LogsResponse,
  RunsQuery,
  RunsResponse,
  logTimeRange,
} from '../schemas/installations.ts';
import { onSurface, type SurfaceOptions } from './surface.ts';

export async function runRoutes(appBase: FastifyInstance, { surface }: SurfaceOptions): Promise<void> {
  const app = appBase.withTypeProvider<TypeBoxTypeProvider>();
  const { store } = app;
  const service = app.installations;

  app.post(
    '/installations/:id/runs',
    {
      schema: onSurface(surface, {
        tags: ['runs'],
        summary: 'Run now (outside the window; logged as manual)',
        params: InstallationParams,
        response: { 202: Type.Object({ queued: Type.Boolean() }), ...errorResponses },
      }),
    },
    async (request, reply) => {
      installationOf(request);
      await service.runNow(request.params.id);
      return reply.status(202).send({ queued: true });
    },
  );

  app.get(
    '/installations/:id/runs',
    {
      schema: onSurface(surface, {
        tags: ['runs'],
        summary: 'Recent runs, newest first, with counts and progress',
        params: InstallationParams,
        querystring: RunsQuery,
        response: { 200: RunsResponse, ...errorResponses },
      }),
    },
    async (request) => {
      installationOf(request);
      const runs = await store.listRuns(request.params.id, request.query.limit ?? 50);
      const lang = requestLang(request);
      const now = service.now();
      return { runs: runs.map((r) => runView(r, lang, now)) };
    },
  );

  // The cheap endpoint the logs page polls while a run goes: the newest run only (one indexed read).
  app.get(
    '/installations/:id/runs/current',
    {
      schema: onSurface(surface, {
        tags: ['runs'],
        summary: 'The newest run (what a progress bar polls)',
        params: InstallationParams,
        response: { 200: CurrentRunResponse, ...errorResponses },
      }),
    },
    async (request) => {
      installationOf(request);
      const [run] = await store.listRuns(request.params.id, 1);
      return { run: run ? runView(run, requestLang(request), service.now()) : null };
    },
  );

  app.get(
    '/installations/:id/logs',
    {
      schema: onSurface(surface, {
        tags: ['runs'],
        summary: "The automation's log, newest first",
        description:
          "`from`/`to` are instants; `fromDate`/`toDate` whole days of the installation's time zone. Pass `next` of an answer as `before` to read on.",
        params: InstallationParams,
        querystring: LogQuerySchema,
        response: { 200: LogsResponse, ...errorResponses },
      }),
    },
    async (request) => {
      const installation = installationOf(request);
      const { fromDate, toDate, from, to, limit: asked, ...filters } = request.query;
      const zone = installation.settings.timezone;
      const range = logTimeRange(
        {
          from: fromDate ? DateTime.fromISO(fromDate, { zone }).startOf('day').toUTC().toISO()! : from,
          to: toDate ? DateTime.fromISO(toDate, { zone }).endOf('day').toUTC().toISO()! : to,
        },
        { from: fromDate ? 'fromDate' : 'from', to: toDate ? 'toDate' : 'to' },
      );
      const limit = asked ?? 100;
      const entries = await store.listLogs({ ...filters, installationId: installation.id, ...range, limit });
      const lang = requestLang(request);
      return { entries: entries.map((e) => logView(e, lang)), next: entries.length === limit ? (entries[entries.length - 1]?.id ?? null) : null };
    },
  );

  if (surface !== 'api') return;

  app.get(
    '/installations/:id/ledger',
    {
      schema: onSurface(surface, {
        tags: ['runs'],
        summary: 'Per-invoice delivery record, in invoice-id order, paged by cursor',
        description: 'Pass `next` of an answer as `after` to read on; `next` is null on the last page.',
        params: InstallationParams,
        querystring: LedgerQuerySchema,
        response: { 200: Type.Object({ entries: Type.Array(LedgerEntrySchema), next: Type.Union([Type.String(), Type.Null()]) }), ...errorResponses },
      }),
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
    {
      schema: onSurface(surface, {
        tags: ['runs'],
        summary: 'A person allows an uncertain or failed invoice to be sent again',
        params: InvoiceParams,
        response: { 202: Type.Object({ allowed: Type.Boolean() }), ...errorResponses },
      }),
    },
    async (request, reply) => {
      installationOf(request);
      await service.allowResend(request.params.id, request.params.invoiceId);
      return reply.status(202).send({ allowed: true });
    },
  );
}

/** A run with its sentences and, while it goes, an estimate of the time left. */
function runView(r: Run, lang: Lang, now: Date) {
  const elapsed = (r.finishedAt ? Date.parse(r.finishedAt) : now.getTime()) - Date.parse(r.startedAt);
  const remainingMs = r.status === 'running' && r.processed > 0 && r.total > r.processed ? Math.round((elapsed / r.processed) * (r.total - r.processed)) : null;
  return {
    id: r.id,
    trigger: r.trigger,
    status: r.status,
    startedAt: r.startedAt,
    finishedAt: r.finishedAt,
    counts: { ...r.counts },
    processed: r.processed,
    total: r.total,
    error: r.error,
    statusCode: statusCode(r.status),
    statusText: render(lang, statusCode(r.status)),
    triggerCode: triggerCode(r.trigger),
    triggerText: render(lang, triggerCode(r.trigger)),
    countsText: render(lang, 'run.counts', { ...r.counts }),
    progressText:
      r.status === 'running' && r.total === 0 ? render(lang, 'run.counting') : render(lang, 'run.progress', { processed: r.processed, total: r.total }),
    elapsedMs: elapsed,
    remainingMs,
  };
}

function logView(e: LogEntry, lang: Lang) {
  const m = logMessage(lang, e);
  return {
    id: e.id,
    runId: e.runId,
    at: e.at,
    level: e.level,
    event: e.event,
    invoiceId: e.invoiceId,
    invoiceNumber: e.invoiceNumber,
    message: e.message,
    data: e.data,
    code: m.code,
    params: m.params,
    text: m.text,
    levelText: render(lang, e.level === 'error' ? 'level.error' : e.level === 'warning' ? 'level.warning' : 'level.info'),
  };
}

function ledgerView(e: LedgerEntry) {
  // Recipients as the schema has them whatever an older version stored (a refusal without `accepted`).
  const recipients = e.recipients.map((r) => ({
    address: String(r.address),
    accepted: r.accepted === true,
    reply: typeof r.reply === 'string' ? r.reply : null,
    ...(r.bounce ? { bounce: r.bounce } : {}),
  }));
  return {
    invoiceId: e.invoiceId,
    invoiceNumber: e.invoiceNumber,
    state: e.state,
    attempts: e.attempts,
    messageId: e.messageId,
    reason: e.reason,
    detail: e.detail,
    recipients,
    writeBackPending: e.writeBackPending,
    updatedAt: e.updatedAt,
    version: e.version ?? 1,
  };
}
