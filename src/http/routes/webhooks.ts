/**
 * Webhook routes. Incoming (`POST /installations/:id/webhooks`) is authenticated by its signature, made
 * with the installation's webhook secret over the raw body (no bearer token: the host signs instead).
 * The outgoing delivery log and redelivery need the installation's token like every installation route.
 */
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { installationOf } from '../plugins/auth.ts';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { ConnectorError } from '../../errors.ts';
import type { Installation, WebhookDelivery } from '../../store/port.ts';
import { WebhookSignatureRefused } from '../../webhooks/incoming.ts';
import { SIGNATURE_HEADER } from '../../webhooks/signature.ts';
import { errorResponses, InstallationParams } from '../schemas/common.ts';
import { DeliveryList, DeliveryListQuery, DeliveryParams, DeliverySchema, IncomingEventBody, IncomingEventResponse } from '../schemas/webhooks.ts';

const security = [{ installationToken: [] }];

export async function webhookRoutes(appBase: FastifyInstance): Promise<void> {
  const app = appBase.withTypeProvider<TypeBoxTypeProvider>();
  const { dispatcher, incoming } = app.webhooks;

  // The signature covers the body byte for byte: keep the raw text next to the parsed JSON (this plugin only).
  const rawBodies = new WeakMap<FastifyRequest, string>();
  const verified = new WeakMap<FastifyRequest, Installation>();
  app.removeContentTypeParser('application/json');
  app.addContentTypeParser('application/json', { parseAs: 'string' }, (request, body, done) => {
    rawBodies.set(request, body as string);
    try {
      done(null, JSON.parse(body as string));
    } catch {
      done(Object.assign(new Error('the body is not valid JSON'), { statusCode: 400, code: 'validation' }), undefined);
    }
  });

  app.post(
    '/installations/:id/webhooks',
    {
      schema: {
        tags: ['webhooks'],
        summary: 'Webhook from the host: settings.changed, extension.disabled, extension.enabled, invoice.posted ("send soon" hint)',
        description:
          `Signed like outgoing webhooks: header \`${SIGNATURE_HEADER}: t=<unix seconds>,v1=<hex HMAC-SHA256(webhook secret, "<t>.<raw body>")>\`, ` +
          'timestamp within 300 s. Refusals are 401 with code signature_missing, signature_malformed, signature_expired, signature_mismatch or webhook_secret_missing.',
        params: InstallationParams,
        body: IncomingEventBody,
        response: { 200: IncomingEventResponse, ...errorResponses },
      },
      config: { auth: 'signature' },
      // Before the body is validated: an unsigned request learns nothing, not even the schema.
      preValidation: async (request, reply) => {
        try {
          const installation = await incoming.verify(
            (request.params as { id: string }).id,
            request.headers[SIGNATURE_HEADER.toLowerCase()],
            rawBodies.get(request) ?? '',
          );
          verified.set(request, installation);
        } catch (e) {
          if (!(e instanceof WebhookSignatureRefused)) throw e;
          return reply.status(401).send({ error: { code: e.code, message: e.message, field: SIGNATURE_HEADER } });
        }
      },
    },
    async (request) => {
      const installation = verified.get(request);
      if (!installation) throw new ConnectorError('internal', 'webhook handler reached without a verified signature');
      const action = await incoming.handle(installation, request.body, request.headers[SIGNATURE_HEADER.toLowerCase()]);
      return { received: true, type: request.body.type, action };
    },
  );

  app.get(
    '/installations/:id/webhooks/deliveries',
    {
      schema: {
        tags: ['webhooks'],
        summary: 'Outgoing webhook deliveries, newest first, each with every attempt',
        params: InstallationParams,
        querystring: DeliveryListQuery,
        security,
        response: { 200: DeliveryList, ...errorResponses },
      },
    },
    async (request) => {
      installationOf(request); // the auth plugin authenticated the caller
      const deliveries = await app.store.listWebhookDeliveries(request.params.id, {
        ...(request.query.status ? { status: request.query.status } : {}),
        limit: request.query.limit ?? 50,
      });
      return { deliveries: deliveries.map(deliveryView) };
    },
  );

  app.get(
    '/installations/:id/webhooks/deliveries/:deliveryId',
    {
      schema: {
        tags: ['webhooks'],
        summary: 'One outgoing webhook delivery',
        params: DeliveryParams,
        security,
        response: { 200: DeliverySchema, ...errorResponses },
      },
    },
    async (request) => {
      installationOf(request); // the auth plugin authenticated the caller
      const delivery = await app.store.getWebhookDelivery(request.params.id, request.params.deliveryId);
      if (!delivery) throw new ConnectorError('not_found', `Webhook delivery ${request.params.deliveryId} not found`, { field: 'deliveryId' });
      return deliveryView(delivery);
    },
  );

  app.post(
    '/installations/:id/webhooks/deliveries/:deliveryId/redeliver',
    {
      schema: {
        tags: ['webhooks'],
        summary: "Redeliver now: one immediate attempt (recorded), whatever the delivery's status; the same event id",
        params: DeliveryParams,
        security,
        response: { 200: DeliverySchema, ...errorResponses },
      },
    },
    async (request) => {
      installationOf(request); // the auth plugin authenticated the caller
      return deliveryView(await dispatcher.redeliver(request.params.id, request.params.deliveryId));
    },
  );
}

function deliveryView(d: WebhookDelivery) {
  return {
    id: d.id,
    type: d.eventType,
    url: d.url,
    status: d.status,
    createdAt: d.createdAt,
    nextAttemptAt: d.nextAttemptAt,
    expiresAt: d.expiresAt,
    attempts: d.attempts.map((a) => ({ ...a })),
    event: JSON.parse(d.payload) as Record<string, unknown>,
  };
}
