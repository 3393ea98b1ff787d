/**
 * SMTP delivery through pooled nodemailer transports, one pool per e-mail account and settings.
 *
 * - Pool key: account id + a hash of its SMTP settings (password included), so changed settings get a
 *   new pool and the old one is closed.
 * - `maxRequeues: 0`: nodemailer would otherwise re-send a message whose connection closed mid-send,
 *   which can e-mail an invoice twice. We retry once ourselves, and only when we know the message
 *   body never fully left (see below).
 * - The SMTP phase of every failure (`detail.phase`, see `SmtpPhase` in ./port.ts) is recorded by a
 *   'stream' plugin that watches the message stream nodemailer hands to the pooled connection:
 *   created (the connection is up, MAIL FROM/RCPT TO/DATA follow) -> `envelope`; piped into the
 *   connection's DATA stream (the server answered DATA with 354) -> `data`; that DATA stream ended (the
 *   whole body and the terminating "." were written to the socket) -> `awaiting_reply`. Before the
 *   stream exists the failure is
 *   in `connect` (connect, greeting, EHLO, STARTTLS, AUTH). A connection lost in `awaiting_reply` is
 *   `mail_temporary` with `detail.unknownOutcome = true` (the server may have accepted it); before that
 *   point the server cannot have accepted the message, whatever the phase.
 */
import { createHash } from 'node:crypto';
import { Transform } from 'node:stream';
import nodemailer from 'nodemailer';
import type { EmailAccount, RecipientResult } from '../domain.ts';
import { ConnectorError } from '../errors.ts';
import type { Envelope } from './compose.ts';
import type { DeliveryResult, SmtpPhase } from './port.ts';

export interface SmtpTlsOptions {
  /** Extra CA (tests: the self-signed certificate of the test server). */
  ca?: string | Buffer;
  rejectUnauthorized?: boolean;
}

export interface SmtpSenderOptions {
  /** Connections per account pool. */
  poolSize: number;
  /** Messages per second per account; null/undefined = unlimited. */
  rateLimitPerSecond?: number | null;
  /** Connection and greeting timeout; the socket inactivity timeout is twice this. Default 30 s. */
  timeoutMs?: number;
  /** Messages one pooled connection sends before it is replaced. Default 1000. */
  maxMessagesPerConnection?: number;
  tls?: SmtpTlsOptions;
}

export interface SmtpSender {
  /**
   * Sends the raw message; resolves when at least one recipient was accepted, else throws ConnectorError.
   * `beforeHandover` is awaited before the final "." (see `DeliverOptions` in ./port.ts).
   */
  send(account: EmailAccount, raw: Buffer, envelope: Envelope, messageId: string, beforeHandover?: () => Promise<void>): Promise<DeliveryResult>;
  /** Closes every pool. */
  close(): Promise<void>;
}

type Transporter = ReturnType<typeof nodemailer.createTransport>;

interface SendTracker {
  /** How far the transaction of this message got (see the module comment). */
  phase: Exclude<SmtpPhase, 'final_reply' | 'unknown'>;
  beforeHandover: (() => Promise<void>) | undefined;
  /** `beforeHandover` rejected: the "." was never sent. */
  refused: unknown;
}

interface SmtpErrorLike {
  code?: string;
  originalCode?: string;
  responseCode?: number;
  response?: string;
  command?: string;
  message?: string;
  rejected?: string[];
  rejectedErrors?: SmtpErrorLike[];
  recipient?: string;
}

interface SentInfo {
  accepted?: (string | { address: string })[];
  rejected?: (string | { address: string })[];
  rejectedErrors?: SmtpErrorLike[];
  response?: string;
}

export function smtpSettingsHash(account: EmailAccount): string {
  const s = account.smtp;
  const d = account.dkim ?? null;
  return createHash('sha256')
    .update(JSON.stringify([s.host, s.port, s.tls, s.user, s.password, d?.domain, d?.selector, d?.privateKey]))
    .digest('hex')
    .slice(0, 16);
}

/** Resolves once a stream's readable buffer has been taken by its destination (checked each tick, bounded). */
function drained(stream: Transform): Promise<void> {
  return new Promise((resolve) => {
    let ticks = 0;
    const check = () => {
      if (stream.readableLength === 0 || ticks++ > 10_000) return resolve();
      setImmediate(check);
    };
    check();
  });
}

export function createSmtpSender(options: SmtpSenderOptions): SmtpSender {
  const timeoutMs = options.timeoutMs ?? 30_000;
  const pools = new Map<string, { hash: string; transporter: Transporter }>();
  const trackers = new WeakMap<object, SendTracker>();
  let closed = false;

  function transporterFor(account: EmailAccount): Transporter {
    const hash = smtpSettingsHash(account);
    const existing = pools.get(account.id);
    if (existing && existing.hash === hash) return existing.transporter;
    if (existing) existing.transporter.close();
    const s = account.smtp;
    const rate = options.rateLimitPerSecond;
    const transporter = nodemailer.createTransport({
      pool: true,
      host: s.host,
      port: s.port,
      secure: s.tls === 'tls',
      ignoreTLS: s.tls === 'none',
      requireTLS: s.tls === 'starttls',
      auth: s.user ? { user: s.user, pass: s.password ?? '' } : undefined,
      maxConnections: options.poolSize,
      maxMessages: options.maxMessagesPerConnection ?? 1000,
      maxRequeues: 0,
      ...(rate ? { rateLimit: rate, rateDelta: 1000 } : {}),
      // DKIM: nodemailer signs every message of this transport (raw ones too) with the account's key.
      ...(account.dkim ? { dkim: { domainName: account.dkim.domain, keySelector: account.dkim.selector, privateKey: account.dkim.privateKey } } : {}),
      connectionTimeout: timeoutMs,
      greetingTimeout: timeoutMs,
      socketTimeout: timeoutMs * 2,
      dnsTimeout: timeoutMs,
      tls: {
        ...(options.tls?.ca !== undefined ? { ca: options.tls.ca } : {}),
        ...(options.tls?.rejectUnauthorized !== undefined ? { rejectUnauthorized: options.tls.rejectUnauthorized } : {}),
      },
      logger: false,
      debug: false,
    });
    // Watch the final message stream: its end means body + terminator were handed to the socket.
    transporter.use('stream', (mail, done) => {
      const tracker = trackers.get(mail.data.raw as object);
      if (tracker) {
        // Called when the pooled connection (connected, authenticated) takes the message.
        mail.message.processFunc((input) => {
          tracker.phase = 'envelope';
          // The message passes unchanged; its end (after which the DATA stream writes the final ".") waits
          // for `beforeHandover`. A rejection fails the stream instead: the "." is never written.
          // Resolved once the server answered DATA with 354 and the connection piped us into its DATA stream.
          let piped!: () => void;
          const dataStarted = new Promise<void>((resolve) => (piped = resolve));
          const output = new Transform({
            transform(chunk: Buffer, _encoding, callback) {
              callback(null, chunk);
            },
            flush(callback) {
              const hook = tracker.beforeHandover;
              if (!hook) return callback();
              // A small message is read in full long before the server takes it (at RCPT TO, say): the
              // hand-over is only near once DATA has started and every body byte went on to the DATA stream.
              dataStarted
                .then(() => drained(output))
                .then(hook)
                .then(
                  () => callback(),
                  (e: unknown) => {
                    tracker.refused = e ?? new Error('refused');
                    callback(e instanceof Error ? e : new Error(String(e)));
                  },
                );
            },
          });
          // Not stream.pipeline: on Node 20 it aborts an AbortController at every finish, building a
          // DOMException with its stack trace per message (about 1 % of a run's main thread, issue 12).
          // The same wiring by hand: an error on either side destroys the other, none is thrown.
          input.once('error', (e: Error) => output.destroy(e));
          output.once('error', () => input.destroy());
          input.pipe(output);
          // The connection pipes the message into its DATA stream once the server answered DATA with
          // 354. That stream adds the terminating "." and ends when its last bytes, the "." included,
          // were written to the socket: from then on the server may have the whole message.
          const pipe = output.pipe.bind(output);
          output.pipe = <T extends NodeJS.WritableStream>(destination: T, opts?: { end?: boolean }): T => {
            tracker.phase = 'data';
            (destination as unknown as NodeJS.EventEmitter).once('end', () => {
              tracker.phase = 'awaiting_reply';
            });
            const piping = pipe(destination, opts);
            piped();
            return piping;
          };
          return output;
        });
      }
      done();
    });
    pools.set(account.id, { hash, transporter });
    return transporter;
  }

  async function attempt(
    account: EmailAccount,
    raw: Buffer,
    envelope: Envelope,
    messageId: string,
    beforeHandover: (() => Promise<void>) | undefined,
  ): Promise<{ info: SentInfo } | { error: SmtpErrorLike; phase: SendTracker['phase']; refused: unknown }> {
    // A fresh Buffer view per attempt: the tracker is keyed by object identity.
    const body = Buffer.from(raw.buffer, raw.byteOffset, raw.byteLength);
    const tracker: SendTracker = { phase: 'connect', beforeHandover, refused: undefined };
    trackers.set(body, tracker);
    try {
      const info = (await transporterFor(account).sendMail({ raw: body, envelope: { from: envelope.from, to: envelope.to }, messageId })) as SentInfo;
      return { info };
    } catch (e) {
      return { error: e as SmtpErrorLike, phase: tracker.phase, refused: tracker.refused };
    }
  }

  return {
    async send(account, raw, envelope, messageId, beforeHandover) {
      if (closed) throw new ConnectorError('mail_temporary', 'Mail delivery is shutting down', { detail: { phase: 'connect' } });
      if (!account.smtp.host) throw new ConnectorError('mail_config', `E-mail account ${account.id} has no SMTP server`, { detail: { phase: 'connect' } });
      if (envelope.to.length === 0)
        throw new ConnectorError('mail_permanent', 'The message has no recipients', { detail: { reason: 'no_recipients', phase: 'connect' } });
      let result = await attempt(account, raw, envelope, messageId, beforeHandover);
      // One retry when a connection was lost and the message certainly did not leave (e.g. a pooled
      // connection the server had just closed as idle).
      if ('error' in result && result.refused === undefined && result.phase !== 'awaiting_reply' && isConnectionLoss(result.error)) {
        result = await attempt(account, raw, envelope, messageId, beforeHandover);
      }
      if ('error' in result && result.refused !== undefined) {
        const why = result.refused instanceof Error ? result.refused.message : String(result.refused);
        throw new ConnectorError('mail_temporary', `The delivery was stopped before the message was handed over: ${why}`, {
          cause: result.refused,
          detail: { phase: 'data', handover: 'refused' },
          retryable: true,
        });
      }
      if ('error' in result) throw classifySmtpError(result.error, result.phase);
      return toDeliveryResult(envelope, result.info);
    },
    async close() {
      closed = true;
      for (const { transporter } of pools.values()) transporter.close();
      pools.clear();
    },
  };
}

function addressOf(v: string | { address: string }): string {
  return typeof v === 'string' ? v : v.address;
}

function toDeliveryResult(envelope: Envelope, info: SentInfo): DeliveryResult {
  const accepted = new Set((info.accepted ?? []).map((a) => addressOf(a).toLowerCase()));
  const replies = new Map<string, string>();
  for (const err of info.rejectedErrors ?? []) {
    if (err.recipient) replies.set(err.recipient.toLowerCase(), err.response ?? err.message ?? 'rejected');
  }
  const recipients: RecipientResult[] = envelope.to.map((address) => {
    const key = address.toLowerCase();
    const ok = accepted.has(key);
    return { address, accepted: ok, reply: ok ? null : (replies.get(key) ?? 'rejected') };
  });
  return { mode: 'send_now', recipients, response: info.response ?? '' };
}

const CONNECTION_CODES = new Set([
  'ECONNECTION',
  'ETIMEDOUT',
  'ESOCKET',
  'EDNS',
  'EPROXY',
  'ECONNREFUSED',
  'ECONNRESET',
  'EPIPE',
  'EHOSTUNREACH',
  'ENETUNREACH',
]);

const CERT_PROBLEM = /certificate|self.signed|CERT_|UNABLE_TO_VERIFY|altnames|hostname\/IP/i;

/** The server's TLS certificate was not accepted (expired, self-signed, wrong name): a settings problem. */
function isCertificateProblem(err: SmtpErrorLike): boolean {
  return (err.code === 'ETLS' || err.code === 'ESOCKET') && CERT_PROBLEM.test(`${err.message ?? ''} ${err.originalCode ?? ''}`);
}

function isConnectionLoss(err: SmtpErrorLike): boolean {
  return !err.responseCode && CONNECTION_CODES.has(err.code ?? '') && !isCertificateProblem(err);
}

function recipientsOf(err: SmtpErrorLike): { address: string; reply: string }[] {
  return (err.rejectedErrors ?? []).map((r) => ({ address: r.recipient ?? '', reply: r.response ?? r.message ?? '' }));
}

/**
 * Maps a nodemailer error to the connector's error codes, with the phase it happened in (`detail.phase`).
 * `reached` is how far the transaction got; a reply from the server after the message is `final_reply`.
 * Exported for tests of the mapping table.
 */
export function classifySmtpError(err: SmtpErrorLike, reached: SendTracker['phase']): ConnectorError {
  const reply = err.response ?? null;
  const rcode = err.responseCode;
  const phase: SmtpPhase = reached === 'awaiting_reply' && rcode !== undefined ? 'final_reply' : reached;
  const dataSent = phase === 'awaiting_reply';
  const detail: Record<string, unknown> = { smtpCode: err.code ?? null, command: err.command ?? null, reply, responseCode: rcode ?? null, phase };
  if (err.rejectedErrors?.length) detail['recipients'] = recipientsOf(err);
  const text = reply ?? err.message ?? 'unknown error';
  const rc = err.responseCode;

  if (err.code === 'EAUTH' || rc === 535 || rc === 534) {
    return new ConnectorError('mail_auth', `SMTP server refused the credentials: ${text}`, { cause: err, detail, retryable: false });
  }
  if (err.code === 'ENOAUTH') {
    return new ConnectorError('mail_config', 'SMTP account has no credentials but the server requires them', { cause: err, detail });
  }
  if (err.command === 'STARTTLS' && rc !== undefined && rc >= 500) {
    return new ConnectorError('mail_config', `The SMTP server does not offer STARTTLS: ${text}`, { cause: err, detail, retryable: false });
  }
  if (rc !== undefined && rc >= 400 && rc < 500) {
    return new ConnectorError('mail_temporary', `SMTP server deferred the message (${err.command ?? 'SMTP'}): ${text}`, {
      cause: err,
      detail,
      retryable: true,
    });
  }
  if (rc !== undefined && rc >= 500) {
    return new ConnectorError('mail_permanent', `SMTP server refused the message (${err.command ?? 'SMTP'}): ${text}`, {
      cause: err,
      detail,
      retryable: false,
    });
  }
  if (dataSent) {
    // Body and terminator went out and no reply came back: the server may have accepted it.
    return new ConnectorError(
      'mail_temporary',
      `Connection to the SMTP server was lost after the message was sent, before the server replied: the message may have been accepted (${err.message ?? ''})`,
      {
        cause: err,
        detail: { ...detail, unknownOutcome: true },
        retryable: true,
      },
    );
  }
  if (isCertificateProblem(err)) {
    return new ConnectorError('mail_config', `The SMTP server's TLS certificate was not accepted: ${err.message ?? ''}`, {
      cause: err,
      detail,
      retryable: false,
    });
  }
  if (err.code === 'ETLS') {
    return new ConnectorError('mail_temporary', `TLS with the SMTP server failed: ${err.message ?? ''}`, { cause: err, detail, retryable: true });
  }
  if (err.code === 'EREQUIRETLS' || err.code === 'ECONFIG') {
    return new ConnectorError('mail_config', `SMTP settings do not work with this server: ${err.message ?? ''}`, { cause: err, detail, retryable: false });
  }
  if (err.code === 'EENVELOPE' || err.code === 'EMESSAGE') {
    return new ConnectorError('mail_permanent', `The message cannot be sent: ${err.message ?? ''}`, { cause: err, detail, retryable: false });
  }
  return new ConnectorError('mail_temporary', `SMTP delivery failed: ${err.message ?? String(err)}`, { cause: err, detail, retryable: true });
}
