/**
 * A real SMTP server (smtp-server) on 127.0.0.1, port 0, for tests. Everything it accepts is kept in
 * `messages` (raw bytes + mailparser result + envelope). Faults can be switched on and off between
 * sends through the mutable `faults` object.
 *
 *   const smtp = await startTestSmtpServer({ tls: 'starttls', auth: { user: 'u', password: 'p' } });
 *   const account = smtp.account();            // an EmailAccount pointing at this server
 *   const tls = { ca: smtp.ca };               // pass to createMailDelivery({ ..., tls })
 *   smtp.faults.rcpt['bad@example.com'] = { code: 450, message: 'Mailbox busy' };
 *   await smtp.waitForMessages(1);
 *   await smtp.stop();
 *
 * `tls: 'starttls' | 'tls'` uses a self-signed certificate for localhost/127.0.0.1 generated with
 * openssl once per process; its PEM is `ca`.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { simpleParser, type ParsedMail } from 'mailparser';
import { SMTPServer, type SMTPServerSession } from 'smtp-server';
import type { EmailAccount, TlsMode } from '../../src/domain.ts';
import { withoutGreetingPause } from '../../sandbox/index.ts';

export interface SmtpReply {
  code: number;
  message: string;
}

export interface TestSmtpFaults {
  /** Reply to RCPT TO for these addresses (lower-case) instead of accepting them. */
  rcpt: Record<string, SmtpReply>;
  /** Reply to MAIL FROM (any sender). */
  mailFrom: SmtpReply | null;
  /** Reply after the message data instead of 250 (message not stored). */
  data: SmtpReply | null;
  /** Read the whole message, store it, then drop the connection without any reply. */
  dropAfterData: boolean;
  /** Refuse every AUTH with 535. */
  rejectAuth: boolean;
  /**
   * Drop the connection without a reply at this point of the transaction: on connect (before the
   * greeting), at AUTH, MAIL FROM, RCPT TO, the DATA command (before 354), or during the message data
   * (after its first chunk, before the final "."). Nothing is stored. `dropAfterData` is the phase after.
   */
  dropAt: 'connect' | 'auth' | 'mail_from' | 'rcpt_to' | 'data_start' | 'data' | null;
  /** Wait this long before answering 250 to a message (a slow server: runs that last long enough to watch). */
  replyDelayMs: number;
}

export interface TestSmtpOptions {
  /** 'none' (default): plain; 'starttls': STARTTLS offered; 'tls': implicit TLS. */
  tls?: TlsMode;
  /** Require AUTH (PLAIN/LOGIN) with these credentials. Without it AUTH is not required. */
  auth?: { user: string; password: string };
  /** Initial faults (see TestSmtpFaults). */
  faults?: Partial<TestSmtpFaults>;
  /** Maximum message size in bytes (default 25 MB). */
  size?: number;
  /** Keep smtp-server's stock 100 ms pause before the greeting (default: no pause). */
  greetingPause?: boolean;
}

export interface ReceivedMessage {
  raw: Buffer;
  parsed: ParsedMail;
  envelope: { from: string; to: string[] };
  /** smtp-server session id: equal ids = same connection. */
  sessionId: string;
  /** Authenticated user, or null. */
  user: string | null;
  /** The session was encrypted when the message arrived. */
  secure: boolean;
}

export interface TestSmtpServer {
  host: string;
  port: number;
  /** PEM of the self-signed certificate (tls 'starttls'/'tls'), else null. */
  ca: string | null;
  messages: ReceivedMessage[];
  /** Number of TCP connections accepted so far. */
  readonly connectionCount: number;
  faults: TestSmtpFaults;
  /** Resolves once at least `count` messages were stored (rejects after timeoutMs, default 10 s). */
  waitForMessages(count: number, timeoutMs?: number): Promise<void>;
  /** An EmailAccount that sends through this server (overrides merged in). */
  account(overrides?: Partial<EmailAccount>): EmailAccount;
  stop(): Promise<void>;
}

let certCache: { key: string; cert: string } | null = null;

/** A self-signed certificate for localhost and 127.0.0.1 (generated once per process with openssl). */
export function selfSignedCert(): { key: string; cert: string } {
  if (certCache) return certCache;
  const dir = mkdtempSync(path.join(tmpdir(), 'ic-cert-'));
  try {
    execFileSync(
      'openssl',
      [
        'req',
        '-x509',
        '-newkey',
        'ec',
        '-pkeyopt',
        'ec_paramgen_curve:prime256v1',
        '-nodes',
        '-days',
        '2',
        '-subj',
        '/CN=localhost',
        '-addext',
        'subjectAltName=DNS:localhost,IP:127.0.0.1',
        '-keyout',
        path.join(dir, 'key.pem'),
        '-out',
        path.join(dir, 'cert.pem'),
      ],
      { stdio: 'ignore', timeout: 30_000 },
    );
    certCache = { key: readFileSync(path.join(dir, 'key.pem'), 'utf8'), cert: readFileSync(path.join(dir, 'cert.pem'), 'utf8') };
    return certCache;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

function replyError(reply: SmtpReply): Error {
  return Object.assign(new Error(reply.message), { responseCode: reply.code });
}

export async function startTestSmtpServer(options: TestSmtpOptions = {}): Promise<TestSmtpServer> {
  const tlsMode = options.tls ?? 'none';
  const cert = tlsMode === 'none' ? null : selfSignedCert();
  const faults: TestSmtpFaults = {
    rcpt: {},
    mailFrom: null,
    data: null,
    dropAfterData: false,
    rejectAuth: false,
    dropAt: null,
    replyDelayMs: 0,
    ...options.faults,
  };
  const messages: ReceivedMessage[] = [];
  const waiters: (() => void)[] = [];
  let connectionCount = 0;

  const server: SMTPServer = new SMTPServer({
    secure: tlsMode === 'tls',
    hideSTARTTLS: tlsMode !== 'starttls',
    ...(cert ? { key: cert.key, cert: cert.cert } : {}),
    authMethods: ['PLAIN', 'LOGIN'],
    authOptional: !options.auth,
    allowInsecureAuth: true,
    disableReverseLookup: true,
    size: options.size ?? 25 * 1024 * 1024,
    logger: false,
    onConnect(session, callback) {
      connectionCount += 1;
      if (faults.dropAt === 'connect') {
        dropConnection(server, session);
        return;
      }
      callback();
    },
    onAuth(auth, session, callback) {
      if (faults.dropAt === 'auth') {
        dropConnection(server, session);
        return;
      }
      if (faults.rejectAuth || !options.auth || auth.username !== options.auth.user || auth.password !== options.auth.password) {
        callback(Object.assign(new Error('Authentication credentials invalid'), { responseCode: 535 }));
        return;
      }
      callback(null, { user: auth.username });
    },
    onMailFrom(_address, session, callback) {
      if (faults.dropAt === 'mail_from') {
        dropConnection(server, session);
        return;
      }
      callback(faults.mailFrom ? replyError(faults.mailFrom) : undefined);
    },
    onRcptTo(address, session, callback) {
      if (faults.dropAt === 'rcpt_to') {
        dropConnection(server, session);
        return;
      }
      const fault = faults.rcpt[address.address.toLowerCase()];
      callback(fault ? replyError(fault) : undefined);
    },
    onData(stream, session, callback) {
      if (faults.dropAt === 'data_start') {
        // onData runs before smtp-server answers DATA with 354: the client never starts the message.
        dropConnection(server, session);
        return;
      }
      if (faults.dropAt === 'data') {
        stream.once('data', () => dropConnection(server, session));
        stream.resume();
        return;
      }
      const chunks: Buffer[] = [];
      stream.on('data', (c: Buffer) => chunks.push(c));
      stream.on('end', () => {
        const raw = Buffer.concat(chunks);
        if (faults.data) {
          callback(replyError(faults.data));
          return;
        }
        const envelope = {
          from: session.envelope.mailFrom ? session.envelope.mailFrom.address : '',
          to: session.envelope.rcptTo.map((r) => r.address),
        };
        const sessionId = session.id;
        const user = typeof session.user === 'string' ? session.user : null;
        const secure = Boolean(session.secure);
        void simpleParser(raw).then((parsed) => {
          messages.push({ raw, parsed, envelope, sessionId, user, secure });
          for (const w of waiters.splice(0)) w();
          if (faults.dropAfterData) {
            dropConnection(server, session);
            return;
          }
          const queued = `OK: queued as ${messages.length}`;
          if (faults.replyDelayMs > 0) setTimeout(() => callback(null, queued), faults.replyDelayMs);
          else callback(null, queued);
        });
      });
    },
  });
  if (!options.greetingPause) withoutGreetingPause(server);
  server.on('error', () => {});
  await new Promise<void>((resolve, reject) => {
    server.server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const port = (server.server.address() as { port: number }).port;

  return {
    host: '127.0.0.1',
    port,
    ca: cert ? cert.cert : null,
    messages,
    get connectionCount() {
      return connectionCount;
    },
    faults,
    async waitForMessages(count, timeoutMs = 10_000) {
      const deadline = Date.now() + timeoutMs;
      while (messages.length < count) {
        const left = deadline - Date.now();
        if (left <= 0) throw new Error(`expected ${count} messages, got ${messages.length}`);
        await new Promise<void>((resolve) => {
          const t = setTimeout(resolve, left);
          waiters.push(() => {
            clearTimeout(t);
            resolve();
          });
        });
      }
    },
    account(overrides = {}) {
      return {
        id: 'test-smtp',
        name: 'Test SMTP',
        active: true,
        fromAddress: 'faktury@sprzedawca.test',
        fromFilter: null,
        smtp: { host: '127.0.0.1', port, tls: tlsMode, user: options.auth?.user ?? null, password: options.auth?.password ?? null },
        imap: null,
        ...overrides,
      };
    },
    async stop() {
      await new Promise<void>((resolve) => {
        // destroy what is still open instead of waiting smtp-server's 30 s close timeout
        for (const c of (server as unknown as { connections: Set<{ _socket?: { destroy(): void } }> }).connections) c._socket?.destroy();
        server.close(() => resolve());
      });
    },
  };
}

function dropConnection(server: SMTPServer, session: SMTPServerSession): void {
  const connections = (server as unknown as { connections: Set<{ id: string; _socket?: { destroy(): void } }> }).connections;
  for (const c of connections) {
    if (c.id === session.id) c._socket?.destroy();
  }
}
