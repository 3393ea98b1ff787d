/**
 * The services the HTTP app needs, each decorated on the Fastify instance by its own `fastify-plugin`
 * plugin with a `name` (so a plugin that needs it says so in its `dependencies` and Fastify refuses to
 * start without it) instead of one bag of optional members. The composition root (src/compose.ts) and
 * the HTTP tests (test/http/build.ts) register them with real instances; routes read them from the
 * instance (`app.installations`, `app.store`, ...), never by importing an adapter.
 */
import fp from 'fastify-plugin';
import type { InstallationService } from '../../installations/service.ts';
import type { InvoicePreviews } from '../../installations/previews.ts';
import type { ManagedService } from '../../connector-managed/index.ts';
import type { SecretBox } from '../../secrets/secret-box.ts';
import type { Store } from '../../store/port.ts';
import type { WebhookDispatcher } from '../../webhooks/dispatcher.ts';
import type { IncomingWebhooks } from '../../webhooks/incoming.ts';
import { PageSessions } from '../pages/sessions.ts';

/** What the app says about itself: its version and the base URL of the links it hands out (set to the real port after listen). */
export interface Site {
  version: string;
  publicUrl: string;
}

export interface Webhooks {
  dispatcher: WebhookDispatcher;
  incoming: IncomingWebhooks;
}

declare module 'fastify' {
  interface FastifyInstance {
    site: Site;
    store: Store;
    installations: InstallationService;
    previews: InvoicePreviews;
    managed: ManagedService;
    webhooks: Webhooks;
    pageSessions: PageSessions;
  }
}

/** Plugin names, for `dependencies`. */
export const SERVICE = {
  site: 'ic-site',
  store: 'ic-store',
  installations: 'ic-installations',
  previews: 'ic-previews',
  managed: 'ic-managed',
  webhooks: 'ic-webhooks',
  pageSessions: 'ic-page-sessions',
} as const;

export const sitePlugin = fp<Site>(
  async (app, opts) => {
    app.decorate('site', { version: opts.version, publicUrl: opts.publicUrl });
  },
  { name: SERVICE.site },
);

export const storePlugin = fp<{ store: Store }>(
  async (app, opts) => {
    app.decorate('store', opts.store);
  },
  { name: SERVICE.store },
);

export const installationsPlugin = fp<{ service: InstallationService }>(
  async (app, opts) => {
    app.decorate('installations', opts.service);
  },
  { name: SERVICE.installations, dependencies: [SERVICE.store] },
);

export const previewsPlugin = fp<{ previews: InvoicePreviews }>(
  async (app, opts) => {
    app.decorate('previews', opts.previews);
  },
  { name: SERVICE.previews, dependencies: [SERVICE.store] },
);

export const managedPlugin = fp<{ managed: ManagedService }>(
  async (app, opts) => {
    app.decorate('managed', opts.managed);
  },
  { name: SERVICE.managed, dependencies: [SERVICE.store] },
);

export const webhooksPlugin = fp<Webhooks>(
  async (app, opts) => {
    app.decorate('webhooks', { dispatcher: opts.dispatcher, incoming: opts.incoming });
  },
  { name: SERVICE.webhooks, dependencies: [SERVICE.store, SERVICE.installations] },
);

/** Signing and checking the embeddable pages' links and sessions (keys derived from each installation's webhook secret). */
export const pageSessionsPlugin = fp<{ secrets: SecretBox; clock: () => Date }>(
  async (app, opts) => {
    app.decorate('pageSessions', new PageSessions(app.store, opts.secrets, opts.clock));
  },
  { name: SERVICE.pageSessions, dependencies: [SERVICE.store] },
);
