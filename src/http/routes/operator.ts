/**
 * The connector operators' surface, behind ADMIN_TOKEN: Agenda's own dashboard (Agendash) at
 * `/operator/agenda` and Prometheus metrics at `/metrics`. Without ADMIN_TOKEN both are off (404).
 *
 * Authentication: `Authorization: Bearer <ADMIN_TOKEN>` (Prometheus' `bearer_token`, scripts) or HTTP
 * Basic with the token as password (any user name), which is what a browser can do for the dashboard.
 * The token is compared in constant time.
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { Scheduler } from '../../jobs/scheduler/port.ts';
import { safeEqual } from '../../secrets/secret-box.ts';
import type { Metrics } from '../../observability/metrics.ts';

export interface OperatorDeps {
  adminToken: string | null;
  /** The scheduler's dashboard (Agendash), mounted at `/operator/agenda`; null: none. */
  dashboard: Scheduler['dashboard'] | null;
  metrics: Metrics | null;
}

function presented(request: FastifyRequest): string | null {
  const h = request.headers.authorization ?? '';
  const bearer = /^Bearer\s+(\S+)$/i.exec(h);
  if (bearer) return bearer[1]!;
  const basic = /^Basic\s+([A-Za-z0-9+/=]+)$/i.exec(h);
  if (basic) {
    const decoded = Buffer.from(basic[1]!, 'base64').toString('utf8');
    const colon = decoded.indexOf(':');
    return colon >= 0 ? decoded.slice(colon + 1) : null;
  }
  return null;
}

export function operatorRoutes(deps: OperatorDeps) {
  return async function operator(app: FastifyInstance): Promise<void> {
    const token = deps.adminToken;
    if (!token) return; // off: the not-found handler answers

    const guard = async (request: FastifyRequest, reply: FastifyReply) => {
      const given = presented(request);
      if (given !== null && safeEqual(given, token)) return;
      await reply
        .status(401)
        .header('www-authenticate', 'Basic realm="Invoice Courier operators", charset="UTF-8"')
        .send({
          error: { code: 'unauthorized', message: 'Operator token required (ADMIN_TOKEN), as bearer or as the Basic password', field: 'authorization' },
        });
      return reply;
    };

    if (deps.metrics) {
      const metrics = deps.metrics;
      app.get('/metrics', { onRequest: guard, schema: { tags: ['system'], summary: 'Prometheus metrics (ADMIN_TOKEN)' } }, async (_request, reply) => {
        const { contentType, body } = await metrics.render();
        return reply.type(contentType).send(body);
      });
    }

    if (deps.dashboard) {
      const dashboard = deps.dashboard;
      await app.register(
        async (scope) => {
          // Agendash loads "./assets/…" relative to its index: "/operator/agenda" must end in a slash.
          scope.addHook('onRequest', async (request, reply) => {
            if (request.url === '/operator/agenda') return reply.redirect('/operator/agenda/');
          });
          scope.addHook('onRequest', guard);
          // Agendash (and express under it) is loaded only when the dashboard is served (ADMIN_TOKEN set).
          await scope.register(await dashboard());
        },
        { prefix: '/operator/agenda' },
      );
    }
  };
}
