/**
 * The schedule preview of an installation: when the next run starts and, for business-day schedules,
 * which days off come before it (weekends, Polish public holidays), with a sentence in pl and en.
 */
import type { FastifyInstance } from 'fastify';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { Type, type Static } from 'typebox';
import { ConnectorError } from '../../errors.ts';
import { describeNextRun, previewNextRun } from '../../jobs/rules/schedule.ts';
import type { Settings } from '../../settings/schema.ts';
import { installationOf } from '../plugins/auth.ts';
import { errorResponses, InstallationParams } from '../schemas/common.ts';
import { onSurface, type SurfaceOptions } from './surface.ts';

export const ScheduleResponse = Type.Object({
  enabled: Type.Boolean(),
  days: Type.Union([Type.Literal('every_day'), Type.Literal('business_days')]),
  nextRunAt: Type.String({ format: 'date-time' }),
  local: Type.Object({ date: Type.String(), time: Type.String(), timezone: Type.String() }),
  daysOff: Type.Array(
    Type.Object({ date: Type.String(), why: Type.Union([Type.Literal('weekend'), Type.Literal('holiday')]), name: Type.Optional(Type.String()) }),
  ),
  message: Type.Object({ pl: Type.String(), en: Type.String() }),
});

export async function scheduleRoutes(appBase: FastifyInstance, { surface }: SurfaceOptions): Promise<void> {
  const app = appBase.withTypeProvider<TypeBoxTypeProvider>();
  app.get(
    '/installations/:id/schedule',
    {
      schema: onSurface(surface, {
        tags: ['runs'],
        summary: 'When the next scheduled run starts, and which days off (weekends, public holidays) come before it',
        params: InstallationParams,
        response: { 200: ScheduleResponse, ...errorResponses },
      }),
    },
    async (request) => schedulePreviewView(installationOf(request).settings, app.installations.now()),
  );
}

/** The schedule preview of these settings: 400 when the schedule has no run time. */
export function schedulePreviewView(settings: Settings, now: Date): Static<typeof ScheduleResponse> {
  let preview;
  try {
    preview = previewNextRun(settings, now);
  } catch (e) {
    throw new ConnectorError('validation', `The schedule has no run time: ${(e as Error).message}`, { field: 'schedule' });
  }
  return {
    enabled: settings.enabled,
    days: settings.schedule.days ?? 'every_day',
    nextRunAt: preview.at.toISOString(),
    local: { date: preview.localDate, time: preview.localTime, timezone: settings.timezone },
    daysOff: preview.daysOff.map((d) => ({ date: d.date, why: d.kind.why, ...(d.kind.why === 'holiday' ? { name: d.kind.name } : {}) })),
    message: { pl: describeNextRun(preview, 'pl'), en: describeNextRun(preview, 'en') },
  };
}
