/**
 * A real HTTP server on 127.0.0.1:0 that receives the connector's webhooks the way a host would:
 * it keeps every request (raw body, headers, arrival time), checks each signature with the host's
 * copy of the webhook secret, and fails on purpose when told to:
 *
 *   const rx = await startWebhookReceiver();
 *   rx.secret = install.webhookSecret;        // what the host got at install
 *   rx.failNext = 3;                          // next 3 requests answer 500
 *   rx.hangNext = 1;                          // next request never answers (connector times out)
 *   await rx.waitFor((r) => r.event.type === 'run.completed');
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { SIGNATURE_HEADER, verifySignature, type VerifyResult } from '../../src/webhooks/signature.ts';

export interface ReceivedWebhook {
  receivedAt: number;
  headers: http.IncomingHttpHeaders;
  body: string;
  event: any;
  /** Signature check with `secret` at arrival. */
  verified: VerifyResult;
  /** What the receiver answered (0 = nothing). */
  answered: number;
}

export interface WebhookReceiver {
  url: string;
  requests: ReceivedWebhook[];
  secret: string;
  failNext: number;
  hangNext: number;
  failStatus: number;
  waitFor(pred: (r: ReceivedWebhook) => boolean, opts?: { count?: number; timeoutMs?: number }): Promise<ReceivedWebhook[]>;
  stop(): Promise<void>;
}

export async function startWebhookReceiver(): Promise<WebhookReceiver> {
  const hanging = new Set<http.ServerResponse>();
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks).toString('utf8');
      let event: any;
      try {
        event = JSON.parse(body);
      } catch {
        event = null;
      }
      const entry: ReceivedWebhook = {
        receivedAt: Date.now(),
        headers: req.headers,
        body,
        event,
        verified: verifySignature({ header: req.headers[SIGNATURE_HEADER.toLowerCase()], body, secrets: [rx.secret], now: Math.floor(Date.now() / 1000) }),
        answered: 0,
      };
      rx.requests.push(entry);
      if (rx.hangNext > 0) {
        rx.hangNext--;
        hanging.add(res);
        return;
      }
      if (rx.failNext > 0) {
        rx.failNext--;
        entry.answered = rx.failStatus;
        res.writeHead(rx.failStatus, { 'content-type': 'text/plain' }).end('receiver is down on purpose');
        return;
      }
      entry.answered = 200;
      res.writeHead(200, { 'content-type': 'application/json' }).end('{"ok":true}');
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  const rx: WebhookReceiver = {
    url: `http://127.0.0.1:${port}/hooks/invoice-courier`,
    requests: [],
    secret: '',
    failNext: 0,
    hangNext: 0,
    failStatus: 500,
    async waitFor(pred, opts = {}) {
      const count = opts.count ?? 1;
      const deadline = Date.now() + (opts.timeoutMs ?? 60_000);
      for (;;) {
        const found = rx.requests.filter(pred);
        if (found.length >= count) return found;
        if (Date.now() > deadline) {
          throw new Error(
            `receiver: ${found.length} of ${count} matching requests within the timeout; got ${rx.requests.map((r) => r.event?.type).join(', ')}`,
          );
        }
        await new Promise((r) => setTimeout(r, 50));
      }
    },
    async stop() {
      for (const res of hanging) res.destroy();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
  return rx;
}
