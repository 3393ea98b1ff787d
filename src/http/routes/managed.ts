/**
 * Connector-managed e-mail accounts and templates of an installation (docs/design.md §6). They appear in
 * the settings' option lists next to the host's own (Tryton: instead of them). Listing the accounts is on
 * both surfaces (the settings page shows a DKIM account's DNS record); changing them is for hosts (`/api`).
 *   GET/POST   /installations/:id/managed/email-accounts        PUT/DELETE .../email-accounts/:accountId
 *   GET/POST   /installations/:id/managed/templates             PUT/DELETE .../templates/:templateId
 *   GET        /installations/:id/managed/placeholders          what templates may use
 */
import type { FastifyInstance } from 'fastify';
import { installationOf } from '../plugins/auth.ts';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import { PLACEHOLDERS } from '../../render/template.ts';
import { errorResponses, InstallationParams } from '../schemas/common.ts';
import { AccountBody, AccountParams, AccountView, Placeholders, TemplateBody, TemplateParams, TemplateView } from '../schemas/managed.ts';
import { onSurface, type SurfaceOptions } from './surface.ts';

const tags = ['settings'];

export async function managedRoutes(appBase: FastifyInstance, { surface }: SurfaceOptions): Promise<void> {
  const app = appBase.withTypeProvider<TypeBoxTypeProvider>();
  const { managed } = app;
  const security = onSurface(surface, {}).security;

  const base = '/installations/:id/managed';

  app.get(
    `${base}/email-accounts`,
    {
      schema: onSurface(surface, {
        tags,
        summary: 'Connector-managed e-mail accounts (passwords never returned)',
        params: InstallationParams,
        response: { 200: Type.Object({ accounts: Type.Array(AccountView) }), ...errorResponses },
      }),
    },
    async (request) => ({ accounts: await managed.listAccounts(installationOf(request).id) }),
  );

  if (surface !== 'api') return;

  app.post(
    `${base}/email-accounts`,
    {
      schema: {
        tags,
        summary: 'Add a connector-managed e-mail account (SMTP, optional IMAP)',
        params: InstallationParams,
        body: AccountBody,
        security,
        response: { 201: AccountView, ...errorResponses },
      },
    },
    async (request, reply) => reply.status(201).send(await managed.createAccount(installationOf(request).id, request.body)),
  );

  app.get(
    `${base}/email-accounts/:accountId`,
    { schema: { tags, params: AccountParams, security, response: { 200: AccountView, ...errorResponses } } },
    async (request) => managed.getAccount(installationOf(request).id, request.params.accountId),
  );

  app.put(
    `${base}/email-accounts/:accountId`,
    {
      schema: {
        tags,
        summary: 'Change an account (merged over the stored one; a password left out is kept)',
        params: AccountParams,
        body: AccountBody,
        security,
        response: { 200: AccountView, ...errorResponses },
      },
    },
    async (request) => managed.updateAccount(installationOf(request).id, request.params.accountId, request.body),
  );

  app.delete(
    `${base}/email-accounts/:accountId`,
    {
      schema: {
        tags,
        summary: 'Remove an account (refused while the settings use it)',
        params: AccountParams,
        security,
        response: { 204: Type.Null(), ...errorResponses },
      },
    },
    async (request, reply) => {
      await managed.deleteAccount(installationOf(request).id, request.params.accountId);
      return reply.status(204).send(null);
    },
  );

  app.get(
    `${base}/templates`,
    {
      schema: {
        tags,
        summary: 'Connector-managed e-mail templates',
        params: InstallationParams,
        security,
        response: { 200: Type.Object({ templates: Type.Array(TemplateView) }), ...errorResponses },
      },
    },
    async (request) => ({ templates: await managed.listTemplates(installationOf(request).id) }),
  );

  app.post(
    `${base}/templates`,
    {
      schema: {
        tags,
        summary: 'Add a template (subject and HTML in Polish, optionally English; placeholders checked)',
        params: InstallationParams,
        body: TemplateBody,
        security,
        response: { 201: TemplateView, ...errorResponses },
      },
    },
    async (request, reply) => reply.status(201).send(await managed.createTemplate(installationOf(request).id, request.body)),
  );

  app.get(
    `${base}/templates/:templateId`,
    { schema: { tags, params: TemplateParams, security, response: { 200: TemplateView, ...errorResponses } } },
    async (request) => managed.getTemplate(installationOf(request).id, request.params.templateId),
  );

  app.put(
    `${base}/templates/:templateId`,
    {
      schema: {
        tags,
        summary: 'Change a template (merged over the stored one)',
        params: TemplateParams,
        body: TemplateBody,
        security,
        response: { 200: TemplateView, ...errorResponses },
      },
    },
    async (request) => managed.updateTemplate(installationOf(request).id, request.params.templateId, request.body),
  );

  app.delete(
    `${base}/templates/:templateId`,
    {
      schema: {
        tags,
        summary: 'Remove a template (refused while the settings use it)',
        params: TemplateParams,
        security,
        response: { 204: Type.Null(), ...errorResponses },
      },
    },
    async (request, reply) => {
      await managed.deleteTemplate(installationOf(request).id, request.params.templateId);
      return reply.status(204).send(null);
    },
  );

  app.get(
    `${base}/placeholders`,
    {
      schema: {
        tags,
        summary: 'Placeholders a template may use, e.g. {{ invoice.number }}',
        params: InstallationParams,
        security,
        response: { 200: Placeholders, ...errorResponses },
      },
    },
    async (request) => {
      installationOf(request); // the auth plugin authenticated the caller
      return { placeholders: Object.entries(PLACEHOLDERS).map(([name, p]) => ({ name, help: p.help })) };
    },
  );
}
