/**
 * A fault-injecting SMTP server on the real `smtp-server` package (127.0.0.1, port 0, plain, no AUTH
 * required). It is the place where "exactly once" is counted: every transaction is logged with the
 * Message-ID from the message's own header, what the server answered and when.
 *
 * Faults are chosen per command by `rule(ctx)` (replaceable at any moment through `server.rule`):
 *   - `{ code, message }` at MAIL, RCPT or DATA: that reply instead of 250 (DATA: after the whole message
 *     was read, the message is not accepted);
 *   - `'drop'` at MAIL/RCPT: the connection is destroyed instead of a reply;
 *   - `'drop'` at DATA: the whole message is read (the dot arrived), then the connection is destroyed
 *     before any reply: the sender cannot know whether it was accepted. Logged as `dropped_after_data`
 *     and counted as possibly delivered (a real server may have queued it).
 *
 *   const smtp = await startFaultSmtp();
 *   smtp.rule = (c) => (c.phase === 'data' && c.attempt === 1 ? { code: 451, message: 'Try later' } : null);
 *   smtp.delivered('<id@x>')   // accepted + dropped_after_data for that Message-ID
 */
import { SMTPServer, type SMTPServerSession } from 'smtp-server';
import { withoutGreetingPause } from '../../../sandbox/mail-sink/no-greeting-pause.ts';

export type SmtpPhase = 'mail' | 'rcpt' | 'data';
export type SmtpFault = { code: number; message: string } | 'drop' | null;

export interface SmtpFaultContext {
  phase: SmtpPhase;
  /** 1-based count of this phase's commands so far (over all sessions). */
  n: number;
  sessionId: string;
  /** RCPT: the recipient address (lower-case). */
  address: string | null;
  /** DATA: the message's Message-ID header (with angle brackets), null when it has none. */
  messageId: string | null;
  /** DATA: how many times this Message-ID's data arrived so far, this one included. */
  attempt: number;
}

export type SmtpOutcome = 'accepted' | 'refused' | 'dropped_after_data' | 'aborted_during_data';

export interface SmtpTransaction {
  at: number;
  sessionId: string;
  messageId: string | null;
  recipients: string[];
  outcome: SmtpOutcome;
  /** The reply code sent (null: none). */
  code: number | null;
  /** Phase of a refusal (mail/rcpt refusals have no Message-ID). */
  phase: SmtpPhase;
}

export interface FaultSmtp {
  host: string;
  port: number;
  rule: (ctx: SmtpFaultContext) => SmtpFault;
  /** Every transaction that reached a reply decision, in order. */
  readonly log: SmtpTransaction[];
  /** Accepted transactions (250 after DATA) in order. */
  readonly accepted: SmtpTransaction[];
  /** How many times this Message-ID was possibly delivered (accepted or dropped after the dot). */
  delivered(messageId: string): number;
  /** Message-IDs possibly delivered more than once, with their timestamps. */
  duplicates(): { messageId: string; at: string[] }[];
  /** Message-IDs whose complete data arrived and got no reply (dropped after the dot). */
  droppedAfterData(): Set<string>;
  /** Message-IDs whose complete data arrived at all (whatever the answer). */
  dataArrived(): Set<string>;
  /** Message-IDs whose DATA phase started at the server (complete or cut short). */
  dataStarted(): Set<string>;
  /** Resolves once `count` messages were accepted (rejects after timeoutMs). */
  waitForAccepted(count: number, timeoutMs?: number): Promise<void>;
  stop(): Promise<void>;
}

const MESSAGE_ID = /^message-id:\s*(<[^>\s]+>)/im; // the header may be folded (long ids)

export async function startFaultSmtp(): Promise<FaultSmtp> {
  const log: SmtpTransaction[] = [];
  const accepted: SmtpTransaction[] = [];
  const counters = { mail: 0, rcpt: 0, data: 0 };
  const attempts = new Map<string, number>();
  const waiters: (() => void)[] = [];
  const inData = new Map<string, { messageId: string | null; recipients: string[] }>();

  const server: SMTPServer = new SMTPServer({
    authOptional: true,
    disabledCommands: ['STARTTLS', 'AUTH'],
    disableReverseLookup: true,
    size: 25 * 1024 * 1024,
    logger: false,
    onMailFrom(_address, session, callback) {
      const fault = api.rule({ phase: 'mail', n: ++counters.mail, sessionId: session.id, address: null, messageId: null, attempt: 0 });
      if (fault === 'drop') return drop(server, session);
      if (fault) {
        log.push({ at: Date.now(), sessionId: session.id, messageId: null, recipients: [], outcome: 'refused', code: fault.code, phase: 'mail' });
        return callback(replyError(fault));
      }
      callback();
    },
    onRcptTo(address, session, callback) {
      const addr = address.address.toLowerCase();
      const fault = api.rule({ phase: 'rcpt', n: ++counters.rcpt, sessionId: session.id, address: addr, messageId: null, attempt: 0 });
      if (fault === 'drop') return drop(server, session);
      if (fault) {
        log.push({ at: Date.now(), sessionId: session.id, messageId: null, recipients: [addr], outcome: 'refused', code: fault.code, phase: 'rcpt' });
        return callback(replyError(fault));
      }
      callback();
    },
    onData(stream, session, callback) {
      const recipients = session.envelope.rcptTo.map((r) => r.address.toLowerCase());
      const state = { messageId: null as string | null, recipients };
      inData.set(session.id, state);
      let head = '';
      stream.on('data', (c: Buffer) => {
        if (state.messageId === null && head.length < 64 * 1024) {
          head += c.toString('latin1');
          const end = head.indexOf('\r\n\r\n');
          const m = MESSAGE_ID.exec(end >= 0 ? head.slice(0, end) : head);
          if (m) state.messageId = m[1]!;
        }
      });
      stream.on('end', () => {
        inData.delete(session.id);
        const messageId = state.messageId;
        const attempt = messageId ? (attempts.get(messageId) ?? 0) + 1 : 1;
        if (messageId) attempts.set(messageId, attempt);
        const fault = api.rule({ phase: 'data', n: ++counters.data, sessionId: session.id, address: null, messageId, attempt });
        const base = { at: Date.now(), sessionId: session.id, messageId, recipients, phase: 'data' as const };
        if (fault === 'drop') {
          log.push({ ...base, outcome: 'dropped_after_data', code: null });
          drop(server, session);
          return;
        }
        if (fault) {
          log.push({ ...base, outcome: 'refused', code: fault.code });
          callback(replyError(fault));
          return;
        }
        const t: SmtpTransaction = { ...base, outcome: 'accepted', code: 250 };
        log.push(t);
        accepted.push(t);
        for (const w of waiters.splice(0)) w();
        callback(null, `OK: queued as ${accepted.length}`);
      });
    },
    onClose(session) {
      const state = inData.get(session.id);
      if (state) {
        inData.delete(session.id);
        log.push({
          at: Date.now(),
          sessionId: session.id,
          messageId: state.messageId,
          recipients: state.recipients,
          outcome: 'aborted_during_data',
          code: null,
          phase: 'data',
        });
      }
    },
  });
  withoutGreetingPause(server);
  server.on('error', () => undefined);
  await new Promise<void>((resolve, reject) => {
    server.server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const port = (server.server.address() as { port: number }).port;

  const deliveredTimes = (messageId: string) =>
    log.filter((t) => t.messageId === messageId && (t.outcome === 'accepted' || t.outcome === 'dropped_after_data')).map((t) => new Date(t.at).toISOString());

  const api: FaultSmtp = {
    host: '127.0.0.1',
    port,
    rule: () => null,
    log,
    accepted,
    delivered: (messageId) => deliveredTimes(messageId).length,
    duplicates() {
      const ids = new Set(log.filter((t) => t.messageId && (t.outcome === 'accepted' || t.outcome === 'dropped_after_data')).map((t) => t.messageId!));
      return [...ids].map((messageId) => ({ messageId, at: deliveredTimes(messageId) })).filter((d) => d.at.length > 1);
    },
    droppedAfterData: () => new Set(log.filter((t) => t.outcome === 'dropped_after_data' && t.messageId).map((t) => t.messageId!)),
    dataArrived: () => new Set(log.filter((t) => t.phase === 'data' && t.outcome !== 'aborted_during_data' && t.messageId).map((t) => t.messageId!)),
    dataStarted: () => new Set(log.filter((t) => t.phase === 'data' && t.messageId).map((t) => t.messageId!)),
    async waitForAccepted(count, timeoutMs = 60_000) {
      const deadline = Date.now() + timeoutMs;
      while (accepted.length < count) {
        const left = deadline - Date.now();
        if (left <= 0) throw new Error(`expected ${count} accepted messages, got ${accepted.length}`);
        await new Promise<void>((resolve) => {
          const t = setTimeout(resolve, Math.min(left, 1000));
          waiters.push(() => {
            clearTimeout(t);
            resolve();
          });
        });
      }
    },
    async stop() {
      await new Promise<void>((resolve) => {
        for (const c of (server as unknown as { connections: Set<{ _socket?: { destroy(): void } }> }).connections) c._socket?.destroy();
        server.close(() => resolve());
      });
    },
  };
  return api;
}

function replyError(reply: { code: number; message: string }): Error {
  return Object.assign(new Error(reply.message), { responseCode: reply.code });
}

function drop(server: SMTPServer, session: SMTPServerSession): void {
  const connections = (server as unknown as { connections: Set<{ id: string; _socket?: { destroy(): void } }> }).connections;
  for (const c of connections) if (c.id === session.id) c._socket?.destroy();
}
