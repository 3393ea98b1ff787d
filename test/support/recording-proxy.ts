/**
 * A pass-through JSON-RPC proxy in front of the sandbox host that keeps every call with its answer
 * (`common.*` and `object.execute_kw`), for tests that check what a run asks the host.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';

type Rec = Record<string, unknown>;

export interface RecordedCall {
  service: string;
  method: string;
  /** The model of an `object.execute_kw`, else null. */
  model: string | null;
  /** `common.authenticate`: the login; `execute_kw`: the uid. */
  who: unknown;
  args: unknown[];
  kwargs: Record<string, unknown>;
  result: unknown;
}

/** A pass-through JSON-RPC proxy that keeps every call (`common.*` and `object.execute_kw`) with its answer. */
export async function recordingProxy(target: string): Promise<{ url: string; calls: RecordedCall[]; close(): Promise<void> }> {
  const calls: RecordedCall[] = [];
  const t = new URL(target);
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks);
      const up = http.request({ host: t.hostname, port: t.port, method: req.method, path: req.url, headers: req.headers }, (r) => {
        const out: Buffer[] = [];
        r.on('data', (c: Buffer) => out.push(c));
        r.on('end', () => {
          const answer = Buffer.concat(out);
          try {
            const call = JSON.parse(body.toString('utf8'));
            const p = call?.params;
            const a: unknown[] = Array.isArray(p?.args) ? p.args : [];
            const result = JSON.parse(answer.toString('utf8')).result;
            if (p?.method === 'execute_kw') {
              calls.push({
                service: p.service,
                method: String(a[4]),
                model: String(a[3]),
                who: a[1],
                args: (a[5] as unknown[]) ?? [],
                kwargs: (a[6] as Rec) ?? {},
                result,
              });
            } else if (typeof p?.service === 'string') {
              calls.push({
                service: p.service,
                method: String(p.method),
                model: null,
                who: p.method === 'authenticate' ? a[1] : null,
                args: a,
                kwargs: {},
                result,
              });
            }
          } catch {
            // not JSON-RPC (a report, a web route): not recorded
          }
          res.writeHead(r.statusCode ?? 502, r.headers);
          res.end(answer);
        });
      });
      up.on('error', () => {
        res.writeHead(502);
        res.end();
      });
      up.end(body);
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    calls,
    close: () => new Promise<void>((r) => server.close(() => r())),
  };
}
