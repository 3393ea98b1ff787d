import http from 'node:http';
import type { AddressInfo } from 'node:net';

/**
 * A JSON-RPC proxy in front of the sandbox host, faithful to the protocol: it can refuse `message_post`
 * (as a host whose chatter is down does) and delay reads of `mail.message` (the look-up a host adapter
 * makes before posting a note), which widens the window in which two flushers could both post; or be
 * down altogether (502).
 */
export interface RpcProxy {
  url: string;
  /** Answer every request 502, as a host behind a proxy that is down. */
  down: boolean;
  refuseNotes: boolean;
  /** Delay (ms) of `mail.message` `search_read`. */
  slowNoteLookup: number;
  /** Answer `res.currency.rate` `search_read` with an Odoo server error (a host whose rate table cannot be read). */
  failRates: boolean;
  close(): Promise<void>;
}

export async function rpcProxy(target: string): Promise<RpcProxy> {
  const state = { down: false, refuseNotes: false, slowNoteLookup: 0, failRates: false };
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks);
      void (async () => {
        if (state.down) {
          res.writeHead(502, { 'content-type': 'text/html' });
          res.end('<html><body>502 Bad Gateway</body></html>');
          return;
        }
        let call: any = null;
        try {
          call = JSON.parse(body.toString('utf8'));
        } catch {
          // not JSON-RPC: pass through
        }
        const args: unknown[] = call?.params?.args ?? [];
        const model = args[3];
        const method = args[4];
        // Notes arrive batched (mail.message create) or one by one (message_post, the fallback): both refused.
        if (state.refuseNotes && (method === 'message_post' || (model === 'mail.message' && method === 'create'))) {
          res.writeHead(200, { 'content-type': 'application/json' });
          res.end(
            JSON.stringify({
              jsonrpc: '2.0',
              id: call.id,
              error: { code: 200, message: 'Odoo Server Error', data: { name: 'odoo.exceptions.UserError', message: 'The chatter is unavailable' } },
            }),
          );
          return;
        }
        if (state.failRates && model === 'res.currency.rate' && method === 'search_read') {
          res.writeHead(200, { 'content-type': 'application/json' });
          res.end(
            JSON.stringify({
              jsonrpc: '2.0',
              id: call.id,
              error: {
                code: 200,
                message: 'Odoo Server Error',
                data: { name: 'psycopg2.OperationalError', message: 'canceling statement due to statement timeout' },
              },
            }),
          );
          return;
        }
        if (state.slowNoteLookup && model === 'mail.message' && method === 'search_read') await new Promise((r) => setTimeout(r, state.slowNoteLookup));
        const upstream = await fetch(`${target}${req.url}`, {
          method: req.method ?? 'POST',
          headers: { 'content-type': req.headers['content-type'] ?? 'application/json' },
          ...(req.method === 'GET' ? {} : { body }),
        });
        res.writeHead(upstream.status, { 'content-type': upstream.headers.get('content-type') ?? 'application/json' });
        res.end(Buffer.from(await upstream.arrayBuffer()));
      })().catch(() => {
        res.writeHead(502);
        res.end();
      });
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as AddressInfo;
  return Object.assign(state, {
    url: `http://127.0.0.1:${port}`,
    close: () => new Promise<void>((r) => server.close(() => r())),
  });
}
