/**
 * A TCP fault proxy (node:net, 127.0.0.1, port 0) for putting between the connector and a real server
 * (the embedded PostgreSQL, the sandbox host). Modes, switchable at any moment:
 *
 *   pass      bytes flow both ways (held bytes are released first)
 *   stall     the proxy keeps every connection and accepts new ones, but holds all bytes both ways,
 *             like a server process that is frozen (`kill -STOP`): the peers see silence, not errors
 *   refuse    the listening socket is closed: new connections get ECONNREFUSED (existing ones pass)
 *   http502   (for HTTP upstreams) every new request is answered `502 Bad Gateway` by the proxy and
 *             closed; existing connections are dropped when this mode starts, so keep-alive clients
 *             meet it on their next request
 *
 * and `dropAll()`: destroys every open connection now (both sides), like a failover or a restarted
 * server; new connections pass again.
 *
 *   const proxy = await startTcpProxy({ host: '127.0.0.1', port: 5432 });
 *   proxy.set('stall'); await sleep(30_000); proxy.set('pass');
 *   await proxy.stallFor(30_000);
 *   proxy.dropAll();
 *   await proxy.close();
 */
import net from 'node:net';

export type ProxyMode = 'pass' | 'stall' | 'refuse' | 'http502';

export interface TcpProxy {
  host: string;
  port: number;
  /** Current mode. */
  readonly mode: ProxyMode;
  /** Connections accepted so far, and open now. */
  readonly accepted: number;
  readonly open: number;
  /** What happened, with timestamps (for failure messages). */
  readonly journal: string[];
  set(mode: ProxyMode): Promise<void>;
  /** stall, wait `ms`, pass. */
  stallFor(ms: number): Promise<void>;
  /** Destroys every open connection (client and upstream side). Returns how many. */
  dropAll(): number;
  close(): Promise<void>;
}

interface Pair {
  client: net.Socket;
  upstream: net.Socket | null;
  /** Bytes held while stalled, by direction. */
  toUpstream: Buffer[];
  toClient: Buffer[];
}

export async function startTcpProxy(target: { host: string; port: number }): Promise<TcpProxy> {
  let mode: ProxyMode = 'pass';
  let accepted = 0;
  const pairs = new Set<Pair>();
  const journal: string[] = [];
  const note = (s: string) => {
    journal.push(`${new Date().toISOString()} ${s}`);
    if (journal.length > 500) journal.shift();
  };

  const flush = (p: Pair) => {
    if (p.upstream && p.toUpstream.length) for (const b of p.toUpstream.splice(0)) p.upstream.write(b);
    if (p.toClient.length) for (const b of p.toClient.splice(0)) p.client.write(b);
  };

  const destroy = (p: Pair) => {
    pairs.delete(p);
    p.client.destroy();
    p.upstream?.destroy();
  };

  const onConnection = (client: net.Socket) => {
    accepted += 1;
    client.on('error', () => undefined);
    if (mode === 'http502') {
      answer502(client);
      return;
    }
    const p: Pair = { client, upstream: null, toUpstream: [], toClient: [] };
    pairs.add(p);
    const upstream = net.connect(target.port, target.host);
    p.upstream = upstream;
    upstream.setNoDelay(true);
    client.setNoDelay(true);
    upstream.on('error', () => destroy(p));
    client.on('close', () => destroy(p));
    upstream.on('close', () => destroy(p));
    client.on('data', (b: Buffer) => {
      if (mode === 'stall' || upstream.connecting) p.toUpstream.push(b);
      else upstream.write(b);
    });
    upstream.on('connect', () => {
      if (mode !== 'stall') flush(p);
    });
    upstream.on('data', (b: Buffer) => {
      if (mode === 'stall') p.toClient.push(b);
      else client.write(b);
    });
  };

  let server = net.createServer(onConnection);
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const port = (server.address() as net.AddressInfo).port;
  let listening = true;

  const listen = async () => {
    if (listening) return;
    server = net.createServer(onConnection);
    // The port was ours a moment ago; retry briefly in case the kernel still holds it.
    for (let i = 0; ; i++) {
      try {
        await new Promise<void>((resolve, reject) => {
          server.once('error', reject);
          server.listen(port, '127.0.0.1', () => resolve());
        });
        break;
      } catch (e) {
        if (i >= 50) throw e;
        await new Promise((r) => setTimeout(r, 100));
      }
    }
    listening = true;
  };
  const unlisten = async () => {
    if (!listening) return;
    listening = false;
    // The listening socket closes now; close()'s callback would wait for every open connection too.
    server.close();
    await new Promise((r) => setImmediate(r));
  };

  const proxy: TcpProxy = {
    host: '127.0.0.1',
    port,
    get mode() {
      return mode;
    },
    get accepted() {
      return accepted;
    },
    get open() {
      return pairs.size;
    },
    journal,
    async set(next) {
      note(`mode ${mode} -> ${next} (${pairs.size} open)`);
      const previous = mode;
      mode = next;
      // Held bytes go out before anything newer (synchronously, before any other data event).
      if (previous === 'stall' && next !== 'stall') for (const p of pairs) if (p.upstream && !p.upstream.connecting) flush(p);
      if (next === 'http502') proxy.dropAll();
      if (next === 'refuse') await unlisten();
      else await listen();
    },
    async stallFor(ms) {
      await proxy.set('stall');
      await new Promise((r) => setTimeout(r, ms));
      await proxy.set('pass');
    },
    dropAll() {
      const n = pairs.size;
      note(`drop ${n} connections`);
      for (const p of [...pairs]) destroy(p);
      return n;
    },
    async close() {
      for (const p of [...pairs]) destroy(p);
      mode = 'refuse';
      await unlisten();
    },
  };
  return proxy;
}

/** Reads one HTTP request head (enough to answer it) and answers 502, closing the connection. */
function answer502(client: net.Socket): void {
  let head = '';
  const onData = (b: Buffer) => {
    head += b.toString('latin1');
    if (head.includes('\r\n\r\n') || head.length > 64 * 1024) {
      client.off('data', onData);
      const body = '<html><body><h1>502 Bad Gateway</h1></body></html>';
      client.end(`HTTP/1.1 502 Bad Gateway\r\nContent-Type: text/html\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`);
    }
  };
  client.on('data', onData);
  client.setTimeout(10_000, () => client.destroy());
}
