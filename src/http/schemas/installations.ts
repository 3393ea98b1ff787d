/** Install handshake and installation-level schemas. */
import { Type } from 'typebox';
import { HOSTS } from '../../connector/registry.ts';
import { ConnectorError } from '../../errors.ts';
import { SettingsInputSchema, SettingsViewSchema } from '../../settings/schema.ts';

/** The install handshake: the kind (one of the registry's), that kind's connection fields (its descriptor's), callback and settings. */
export const InstallBody = Type.Object(
  {
    hostKind: Type.Union(HOSTS.map((h) => Type.Literal(h.kind))),
    // Every registered kind uses the same connection fields today (STANDARD_CONNECTION; test/connector/registry.test.ts holds them to it).
    ...HOSTS[0].connection.properties,
    callbackUrl: Type.Optional(Type.Union([Type.String({ pattern: '^https?://[^\\s]+$', maxLength: 500 }), Type.Null()])),
    settings: Type.Optional(SettingsInputSchema),
  },
  { additionalProperties: false },
);

export const InstallResponse = Type.Object({
  id: Type.String(),
  apiToken: Type.String({ description: 'shown once' }),
  webhookSecret: Type.String({ description: 'shown once' }),
});

export const RunSchema = Type.Object({
  id: Type.String(),
  trigger: Type.String(),
  status: Type.String(),
  startedAt: Type.String(),
  finishedAt: Type.Union([Type.String(), Type.Null()]),
  counts: Type.Record(Type.String(), Type.Integer()),
  processed: Type.Integer(),
  total: Type.Integer(),
  error: Type.Union([Type.String(), Type.Null()]),
  statusCode: Type.String({ description: 'message code of the status (src/messages/catalogue.ts)' }),
  statusText: Type.String({ description: "the status as a sentence, in the caller's language (Accept-Language, or the page's)" }),
  triggerCode: Type.String({ description: 'message code of the trigger' }),
  triggerText: Type.String({ description: "the trigger as a sentence, in the caller's language" }),
  countsText: Type.String({ description: 'the counts as a sentence' }),
  progressText: Type.String({ description: 'processed of total as a sentence (or "counting" while the total is not known)' }),
  elapsedMs: Type.Integer({ description: 'since the start; the whole run once finished' }),
  remainingMs: Type.Union([Type.Integer(), Type.Null()], { description: 'an estimate while the run goes, from its pace so far; else null' }),
});

export const RunsQuery = Type.Object({ limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 500, default: 50 })) }, { additionalProperties: false });
export const RunsResponse = Type.Object({ runs: Type.Array(RunSchema) });
export const CurrentRunResponse = Type.Object({ run: Type.Union([RunSchema, Type.Null()], { description: 'the newest run, or null before the first' }) });

export const LogEntrySchema = Type.Object({
  id: Type.String(),
  runId: Type.Union([Type.String(), Type.Null()]),
  at: Type.String(),
  level: Type.String(),
  event: Type.String(),
  invoiceId: Type.Union([Type.String(), Type.Null()]),
  invoiceNumber: Type.Union([Type.String(), Type.Null()]),
  message: Type.String(),
  data: Type.Union([Type.Record(Type.String(), Type.Unknown()), Type.Null()]),
  code: Type.Optional(Type.String({ description: 'message code of the entry (src/messages/catalogue.ts), made from event and data' })),
  params: Type.Optional(Type.Record(Type.String(), Type.Unknown())),
  text: Type.Optional(Type.String({ description: "the entry as a sentence, in the language of Accept-Language (pl or en; default en), or the page's" })),
  levelText: Type.Optional(Type.String({ description: 'the level as a word, in the same language' })),
});

export const LogQuerySchema = Type.Object(
  {
    from: Type.Optional(Type.String({ format: 'date-time' })),
    to: Type.Optional(Type.String({ format: 'date-time' })),
    level: Type.Optional(Type.Union([Type.Literal('info'), Type.Literal('warning'), Type.Literal('error')])),
    event: Type.Optional(Type.String({ maxLength: 100 })),
    invoiceNumber: Type.Optional(Type.String({ maxLength: 100 })),
    runId: Type.Optional(Type.String({ maxLength: 64 })),
    limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 1000, default: 100 })),
    before: Type.Optional(Type.String({ maxLength: 32 })),
    fromDate: Type.Optional(Type.String({ format: 'date', description: "from the start of this day in the installation's time zone (instead of from)" })),
    toDate: Type.Optional(Type.String({ format: 'date', description: "to the end of this day in the installation's time zone (instead of to)" })),
  },
  { additionalProperties: false },
);

export const LogsResponse = Type.Object({ entries: Type.Array(LogEntrySchema), next: Type.Union([Type.String(), Type.Null()]) });

export const OptionsParams = Type.Object({
  id: Type.String({ format: 'uuid' }),
  list: Type.Union([Type.Literal('operators'), Type.Literal('email-accounts'), Type.Literal('templates'), Type.Literal('prints')]),
});
export const OptionsQuery = Type.Object(
  { operator: Type.Optional(Type.String({ maxLength: 200, description: 'email-accounts: of this operator instead of the stored one' })) },
  { additionalProperties: false },
);
export const OptionsResponse = Type.Object({
  options: Type.Array(
    Type.Object({
      value: Type.String(),
      label: Type.String(),
      email: Type.Optional(Type.Union([Type.String(), Type.Null()], { description: "operators: the user's e-mail" })),
      from: Type.Optional(Type.Union([Type.String(), Type.Null()], { description: "email-accounts: the account's From address" })),
      imap: Type.Optional(Type.Boolean({ description: 'email-accounts: has IMAP (drafts, Sent copies, bounces)' })),
    }),
  ),
});

/** A saved change: the settings as stored, with what a person should know (nothing blocks the save). */
export const SettingsSaved = Type.Object({
  ...SettingsViewSchema.properties,
  warnings: Type.Array(
    Type.Object({
      field: Type.String(),
      code: Type.String({ description: 'message code, e.g. settings.from_date_future' }),
      params: Type.Optional(Type.Record(Type.String(), Type.Unknown())),
      message: Type.String({ description: "the sentence, in the caller's language" }),
    }),
  ),
});

export const LedgerQuerySchema = Type.Object(
  {
    state: Type.Optional(
      Type.Union((['claimed', 'sending', 'sent', 'drafted', 'skipped', 'retry', 'failed', 'uncertain'] as const).map((s) => Type.Literal(s))),
    ),
    limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 5000, default: 500 })),
    /** Cursor: the `next` of the previous page (an invoice id). */
    after: Type.Optional(Type.String({ minLength: 1, maxLength: 200 })),
  },
  { additionalProperties: false },
);

export const LedgerEntrySchema = Type.Object({
  invoiceId: Type.String(),
  invoiceNumber: Type.Union([Type.String(), Type.Null()]),
  state: Type.String(),
  attempts: Type.Integer(),
  messageId: Type.String(),
  reason: Type.Union([Type.String(), Type.Null()]),
  detail: Type.Union([Type.String(), Type.Null()]),
  recipients: Type.Array(
    Type.Object({
      address: Type.String(),
      accepted: Type.Boolean(),
      reply: Type.Union([Type.String(), Type.Null()]),
      bounce: Type.Optional(
        Type.Object(
          {
            status: Type.Union([Type.String(), Type.Null()], { description: 'enhanced status code, e.g. 5.1.1' }),
            diagnostic: Type.Union([Type.String(), Type.Null()]),
            at: Type.String({ format: 'date-time' }),
          },
          { description: 'a delivery report came back for this recipient after the server accepted the message (the entry stays sent)' },
        ),
      ),
    }),
  ),
  writeBackPending: Type.Boolean(),
  updatedAt: Type.String(),
  /** 1 for the first delivery; 2 when a draft e-mailed under "all documents" was e-mailed again as the posted invoice. */
  version: Type.Integer({ minimum: 1 }),
});

/**
 * A log query's time range as UTC instants: the format check lets through what no store can hold
 * (year 0, a leap second) and strings with different offsets do not compare as instants.
 * Throws `validation` naming the field.
 */
export function logTimeRange(
  range: { from?: string | undefined; to?: string | undefined },
  fields: { from: string; to: string } = { from: 'from', to: 'to' },
): { from?: string; to?: string } {
  const instant = (value: string, field: string): string => {
    const ms = Date.parse(value);
    const year = new Date(ms).getUTCFullYear();
    if (Number.isNaN(ms) || year < 1 || year > 9999)
      throw new ConnectorError('validation', `${field}: not an instant between the years 1 and 9999`, { field, say: { code: 'validation.date_range' } });
    return new Date(ms).toISOString();
  };
  const from = range.from === undefined ? undefined : instant(range.from, fields.from);
  const to = range.to === undefined ? undefined : instant(range.to, fields.to);
  if (from !== undefined && to !== undefined && from > to)
    throw new ConnectorError('validation', `"${fields.from}" is after "${fields.to}"`, { field: fields.from, say: { code: 'validation.range_reversed' } });
  return { ...(from !== undefined ? { from } : {}), ...(to !== undefined ? { to } : {}) };
}
