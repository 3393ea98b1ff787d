/**
 * Settings of an installation and their live option lists, on both surfaces (the installation API and
 * the settings page). A change is merged over the stored settings and validated against the live host;
 * its answer carries what a person should know (`warnings`: a from date in the future).
 */
import type { FastifyInstance } from 'fastify';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { SettingsInputSchema, SettingsViewSchema } from '../../settings/schema.ts';
import { settingsWarnings, todayIn } from '../../settings/check.ts';
import { render } from '../../messages/catalogue.ts';
import { requestLang } from '../../messages/http.ts';
import { installationOf } from '../plugins/auth.ts';
import { errorResponses, InstallationParams } from '../schemas/common.ts';
import { OptionsParams, OptionsQuery, OptionsResponse, SettingsSaved } from '../schemas/installations.ts';
import { settingsInputOf } from '../pages/settings-input.ts';
import { onSurface, type SurfaceOptions } from './surface.ts';

export async function settingsRoutes(appBase: FastifyInstance, { surface }: SurfaceOptions): Promise<void> {
  const app = appBase.withTypeProvider<TypeBoxTypeProvider>();
  const service = app.installations;

  app.get(
    '/installations/:id/settings',
    {
      schema: onSurface(surface, {
        tags: ['settings'],
        summary: 'The settings (the operator password only as `{ set }`)',
        params: InstallationParams,
        response: { 200: SettingsViewSchema, ...errorResponses },
      }),
    },
    async (request) => service.view(installationOf(request)),
  );

  app.put(
    '/installations/:id/settings',
    {
      schema: onSurface(surface, {
        tags: ['settings'],
        summary: 'Change settings (merged over the stored ones; validated against the host; nothing saved when anything fails)',
        params: InstallationParams,
        body: SettingsInputSchema,
        response: { 200: SettingsSaved, ...errorResponses },
      }),
      // Schema errors are answered together with every other problem of the change (one 400/422).
      attachValidation: true,
    },
    async (request) => {
      installationOf(request);
      const { input, shapeProblems } = settingsInputOf(request);
      const saved = await service.updateSettings(request.params.id, input, { shapeProblems });
      const { operatorPassword: _p, ...settings } = saved;
      const lang = requestLang(request);
      const warnings = settingsWarnings(settings, todayIn(settings, service.now())).map((w) => ({
        field: w.field,
        code: w.code,
        params: w.params,
        message: render(lang, w.code, w.params),
      }));
      return { ...saved, warnings };
    },
  );

  app.get(
    '/installations/:id/options/:list',
    {
      schema: onSurface(surface, {
        tags: ['settings'],
        summary: 'Live option lists for the settings form',
        params: OptionsParams,
        querystring: OptionsQuery,
        response: { 200: OptionsResponse, ...errorResponses },
      }),
    },
    async (request) => {
      installationOf(request);
      return { options: await service.options(request.params.id, request.params.list, request.query.operator || undefined) };
    },
  );
}
