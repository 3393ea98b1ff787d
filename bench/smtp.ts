/**
 * SMTP throughput to a local smtp-server (loopback, no greeting pause, message bodies discarded):
 * one connection per message vs the pooled delivery adapter, in one run. Messages are ~57 KB (an
 * invoice-sized PDF attachment), built by the adapter's own composer each time.
 *   npx tsx bench/smtp.ts [--quick]
 */
import { randomBytes } from 'node:crypto';
import nodemailer from 'nodemailer';
import { SMTPServer } from 'smtp-server';
import type { EmailAccount } from '../src/domain.ts';
import { composeMime, envelopeOf } from '../src/mail/compose.ts';
import { createMailDelivery } from '../src/mail/delivery.ts';
import type { OutgoingMessage } from '../src/mail/port.ts';
import { withoutGreetingPause } from '../sandbox/index.ts';
import { selfSignedCert } from '../test/support/smtp.ts';

const quick = process.argv.includes('--quick');
const N = quick ? 200 : 1000;
const POOL = 5;
const IN_FLIGHT = 32;
const PDF = randomBytes(42 * 1024); // base64 -> ~57 KB message

function message(i: number): OutgoingMessage {
  return {
    messageId: `<ic.bench.inv${i}@invoice-courier>`,
    from: { name: 'Sprzedawca', address: 'faktury@sprzedawca.test' },
    replyTo: null,
    to: ['klient@nabywca.test'],
    cc: [],
    bcc: [],
    subject: `Faktura FV/2026/${i}`,
    html: '<p>Dzień dobry, w załączeniu faktura.</p>',
    text: 'Dzień dobry, w załączeniu faktura.',
    attachments: [{ filename: `FV_${i}.pdf`, contentType: 'application/pdf', content: PDF }],
    headers: { 'X-Invoice-Courier-Invoice': String(i) },
  };
}

async function startServer(opts: {
  starttls: boolean;
}): Promise<{ port: number; received: () => number; connections: () => number; stop: () => Promise<void> }> {
  let received = 0;
  let connections = 0;
  const cert = opts.starttls ? selfSignedCert() : null;
  const server = new SMTPServer({
    hideSTARTTLS: !opts.starttls,
    ...(cert ? { key: cert.key, cert: cert.cert } : {}),
    authOptional: !opts.starttls,
    authMethods: ['PLAIN', 'LOGIN'],
    disableReverseLookup: true,
    logger: false,
    onConnect(_s, cb) {
      connections++;
      cb();
    },
    onAuth(auth, _s, cb) {
      cb(null, { user: auth.username });
    },
    onData(stream, _s, cb) {
      stream.on('data', () => {});
      stream.on('end', () => {
        received++;
        cb(null, 'OK');
      });
    },
  });
  withoutGreetingPause(server);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  return {
    port: (server.server.address() as { port: number }).port,
    received: () => received,
    connections: () => connections,
    stop: () => new Promise<void>((r) => server.close(() => r())),
  };
}

async function runConcurrent(n: number, concurrency: number, work: (i: number) => Promise<unknown>): Promise<number> {
  let next = 0;
  const started = performance.now();
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < n) await work(next++);
    }),
  );
  return (performance.now() - started) / 1000;
}

interface Row {
  setup: string;
  seconds: number;
  connections: number;
}

async function unpooled(concurrency: number): Promise<Row> {
  const server = await startServer({ starttls: false });
  const transport = nodemailer.createTransport({ host: '127.0.0.1', port: server.port, secure: false, ignoreTLS: true, connectionTimeout: 10_000 });
  const seconds = await runConcurrent(N, concurrency, async (i) => {
    const m = message(i);
    const raw = await composeMime(m);
    const { from, to } = envelopeOf(m);
    await transport.sendMail({ raw, envelope: { from, to } });
  });
  transport.close();
  const row = {
    setup: `one connection per message, ${concurrency === 1 ? 'sequential' : `${concurrency} at a time`}`,
    seconds,
    connections: server.connections(),
  };
  if (server.received() !== N) throw new Error(`server received ${server.received()} of ${N}`);
  await server.stop();
  return row;
}

async function pooled(starttls: boolean): Promise<Row> {
  const server = await startServer({ starttls });
  const delivery = createMailDelivery({ poolSize: POOL, ...(starttls ? { tls: { ca: selfSignedCert().cert } } : {}) });
  const account: EmailAccount = {
    id: 'bench',
    name: 'Bench',
    active: true,
    fromAddress: null,
    fromFilter: null,
    smtp: { host: '127.0.0.1', port: server.port, tls: starttls ? 'starttls' : 'none', user: starttls ? 'bench' : null, password: starttls ? 'bench' : null },
    imap: null,
  };
  const seconds = await runConcurrent(N, IN_FLIGHT, (i) => delivery.deliver(account, message(i), 'send_now'));
  await delivery.close();
  const row = {
    setup: `pooled adapter, ${POOL} connections, ${IN_FLIGHT} in flight${starttls ? ', STARTTLS + AUTH' : ''}`,
    seconds,
    connections: server.connections(),
  };
  if (server.received() !== N) throw new Error(`server received ${server.received()} of ${N}`);
  await server.stop();
  return row;
}

async function main(): Promise<void> {
  const raw = await composeMime(message(0));
  console.log(`SMTP to a local smtp-server, ${N} messages of ${(raw.length / 1024).toFixed(1)} KB${quick ? ' (--quick)' : ''}`);
  const rows = [await unpooled(1), await unpooled(POOL), await pooled(false), await pooled(true)];
  const width = Math.max(...rows.map((r) => r.setup.length));
  console.log(`${'setup'.padEnd(width)} | messages/s | connections`);
  console.log(`${'-'.repeat(width)}-|------------|------------`);
  for (const r of rows) console.log(`${r.setup.padEnd(width)} | ${(N / r.seconds).toFixed(0).padStart(10)} | ${String(r.connections).padStart(11)}`);
}

main().catch((e) => {
  console.error(e);
  process.exitCode = 1;
});
