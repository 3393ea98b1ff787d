/** Webhook schemas: incoming events (host -> connector) and the outgoing delivery log. */
import { Type } from 'typebox';
import { INCOMING_EVENT_TYPES, type IncomingEventType } from '../../webhooks/incoming.ts';

export const DeliveryParams = Type.Object({ id: Type.String({ format: 'uuid' }), deliveryId: Type.String({ format: 'uuid' }) });

export const IncomingEventBody = Type.Object(
  {
    id: Type.Optional(
      Type.String({
        minLength: 1,
        maxLength: 100,
        description: "the host's event id (logged; an event id seen in the last 11 minutes is a replay, answered `duplicate`)",
      }),
    ),
    type: Type.Unsafe<IncomingEventType>({ type: 'string', enum: [...INCOMING_EVENT_TYPES], description: 'what happened on the host' }),
    createdAt: Type.Optional(Type.String({ maxLength: 40 })),
    installationId: Type.Optional(Type.String({ maxLength: 64 })),
    data: Type.Optional(Type.Record(Type.String(), Type.Unknown())),
  },
  { additionalProperties: false },
);

export const IncomingEventResponse = Type.Object({
  received: Type.Boolean(),
  type: Type.String(),
  action: Type.String({
    description: 'schedule_synced | enabled | disabled | unchanged | run_queued | coalesced | ignored_disabled | duplicate (a replay: nothing done)',
  }),
});

const AttemptSchema = Type.Object({
  at: Type.String(),
  durationMs: Type.Integer(),
  statusCode: Type.Union([Type.Integer(), Type.Null()]),
  error: Type.Union([Type.String(), Type.Null()]),
  manual: Type.Boolean(),
});

export const DeliverySchema = Type.Object({
  id: Type.String({ description: 'also the event id in the body' }),
  type: Type.String(),
  url: Type.String(),
  status: Type.String({ description: 'pending | delivered | failed (given up after 24 h)' }),
  createdAt: Type.String(),
  nextAttemptAt: Type.Union([Type.String(), Type.Null()]),
  expiresAt: Type.String(),
  attempts: Type.Array(AttemptSchema),
  event: Type.Record(Type.String(), Type.Unknown(), { description: 'the body as POSTed' }),
});

export const DeliveryListQuery = Type.Object(
  {
    status: Type.Optional(Type.Union([Type.Literal('pending'), Type.Literal('delivered'), Type.Literal('failed')])),
    limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 500, default: 50 })),
  },
  { additionalProperties: false },
);

export const DeliveryList = Type.Object({ deliveries: Type.Array(DeliverySchema) });
