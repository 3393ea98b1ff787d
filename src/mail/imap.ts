/**
 * IMAP access through imapflow: APPEND to Drafts (with \Draft) or Sent, and SEARCH Sent + Drafts by
 * Message-ID (evidence for an interrupted delivery).
 *
 * One client per account and settings, reused and closed after a short idle time; operations on one
 * account run one after another (an IMAP connection has one selected mailbox at a time). A client
 * whose connection broke is dropped and the next operation reconnects.
 *
 * Folders are found by special-use (\Drafts, \Sent; imapflow also recognises the usual names when a
 * server advertises none). A missing Drafts/Sent folder is created in the personal namespace.
 */
import { createHash } from 'node:crypto';
import type { ImapFlow } from 'imapflow';
import type { EmailAccount, ImapSettings } from '../domain.ts';
import { ConnectorError } from '../errors.ts';

export interface ImapAccessOptions {
  /** Connect/greeting timeout; socket inactivity timeout is twice this. Default 30 s. */
  timeoutMs?: number;
  /** Close a client after this long without work. Default 30 s. */
  idleCloseMs?: number;
  /** Extra CA / verification switch (tests). */
  tls?: { ca?: string | Buffer; rejectUnauthorized?: boolean };
}

export interface AppendResult {
  /** Mailbox path the message was stored in. */
  mailbox: string;
  /** UID of the new message, when the server reports it (UIDPLUS). */
  uid: number | null;
}

export interface ImapAccess {
  /** APPEND to the account's Drafts folder (created when missing) with \Draft and \Seen. */
  appendDraft(account: EmailAccount, raw: Buffer): Promise<AppendResult>;
  /** APPEND to the account's Sent folder (created when missing) with \Seen. */
  appendSent(account: EmailAccount, raw: Buffer): Promise<AppendResult>;
  /** Searches Sent and Drafts for a message with this Message-ID header. */
  searchMessageId(account: EmailAccount, messageId: string): Promise<'found' | 'not_found'>;
  /**
   * Delivery reports (bounces) that arrived in the account's INBOX since the given UID (exclusive),
   * oldest first, at most `limit`: multipart/report messages, as raw bytes with their UID, and the
   * mailbox's UIDVALIDITY (a changed one means the UIDs started over).
   */
  listDeliveryReports(account: EmailAccount, afterUid: number, limit: number): Promise<{ uidValidity: string; reports: { uid: number; raw: Buffer }[] }>;
  close(): Promise<void>;
}

type SpecialUse = '\\Drafts' | '\\Sent';

interface Slot {
  hash: string;
  client: ImapFlow | null;
  folders: Map<SpecialUse, string | null> | null;
  queue: Promise<unknown>;
  idleTimer: NodeJS.Timeout | null;
}

interface ImapErrorLike {
  code?: string;
  message?: string;
  authenticationFailed?: boolean;
  tlsFailed?: boolean;
  responseStatus?: string;
  responseText?: string;
  serverResponseCode?: string;
}

function imapSettingsOf(account: EmailAccount): ImapSettings {
  if (!account.imap)
    throw new ConnectorError('mail_config', `E-mail account "${account.name}" has no IMAP server configured (needed for drafts and copies)`, {
      detail: { accountId: account.id },
    });
  return account.imap;
}

function settingsHash(s: ImapSettings): string {
  return createHash('sha256')
    .update(JSON.stringify([s.host, s.port, s.tls, s.user, s.password]))
    .digest('hex')
    .slice(0, 16);
}

/** '<id@host>' whether or not the caller gave the brackets. */
export function bracketMessageId(messageId: string): string {
  const bare = messageId.trim().replace(/^<|>$/g, '');
  return `<${bare}>`;
}

export function createImapAccess(options: ImapAccessOptions = {}): ImapAccess {
  const timeoutMs = options.timeoutMs ?? 30_000;
  const idleCloseMs = options.idleCloseMs ?? 30_000;
  const slots = new Map<string, Slot>();
  let closed = false;

  function slotFor(account: EmailAccount, settings: ImapSettings): Slot {
    const hash = settingsHash(settings);
    let slot = slots.get(account.id);
    if (slot && slot.hash !== hash) {
      const old = slot;
      // let queued work on the old settings finish, then drop that client
      void old.queue.finally(() => dropClient(old));
      slot = undefined;
    }
    if (!slot) {
      slot = { hash, client: null, folders: null, queue: Promise.resolve(), idleTimer: null };
      slots.set(account.id, slot);
    }
    return slot;
  }

  function dropClient(slot: Slot): void {
    if (slot.idleTimer) clearTimeout(slot.idleTimer);
    slot.idleTimer = null;
    const client = slot.client;
    slot.client = null;
    slot.folders = null;
    if (client) {
      if (client.usable) {
        client.logout().catch(() => client.close());
      } else {
        client.close();
      }
    }
  }

  async function connect(settings: ImapSettings): Promise<ImapFlow> {
    // loaded on the first IMAP connection, not at start: most installations never use IMAP (issue 12)
    const { ImapFlow } = await import('imapflow');
    const client = new ImapFlow({
      host: settings.host,
      port: settings.port,
      secure: settings.tls === 'tls',
      doSTARTTLS: settings.tls === 'starttls' ? true : settings.tls === 'none' ? false : undefined,
      auth: { user: settings.user, pass: settings.password },
      logger: false,
      disableAutoIdle: true,
      connectionTimeout: timeoutMs,
      greetingTimeout: timeoutMs,
      socketTimeout: timeoutMs * 2,
      tls: {
        ...(options.tls?.ca !== undefined ? { ca: options.tls.ca } : {}),
        ...(options.tls?.rejectUnauthorized !== undefined ? { rejectUnauthorized: options.tls.rejectUnauthorized } : {}),
      },
    });
    // a broken connection must not become an unhandled 'error' event
    client.on('error', () => {});
    await client.connect();
    return client;
  }

  async function run<T>(account: EmailAccount, work: (client: ImapFlow, slot: Slot) => Promise<T>): Promise<T> {
    if (closed) throw new ConnectorError('mail_temporary', 'Mail delivery is shutting down');
    const settings = imapSettingsOf(account);
    const slot = slotFor(account, settings);
    const task = slot.queue.then(async () => {
      if (slot.idleTimer) clearTimeout(slot.idleTimer);
      slot.idleTimer = null;
      try {
        if (!slot.client || !slot.client.usable) {
          if (slot.client) dropClient(slot);
          slot.client = await connect(settings);
        }
        return await work(slot.client, slot);
      } catch (e) {
        const err = e as ImapErrorLike;
        if (!slot.client?.usable || err.responseStatus === undefined) dropClient(slot);
        throw classifyImapError(err, account);
      } finally {
        if (slot.client && !closed) {
          slot.idleTimer = setTimeout(() => dropClient(slot), idleCloseMs);
          slot.idleTimer.unref();
        }
      }
    });
    slot.queue = task.catch(() => {});
    return task;
  }

  async function folder(client: ImapFlow, slot: Slot, use: SpecialUse, create: boolean): Promise<string | null> {
    if (!slot.folders) {
      slot.folders = new Map();
      const list = await client.list();
      for (const use2 of ['\\Drafts', '\\Sent'] as const) {
        const hit = list.find((m) => m.specialUse === use2 && m.specialUseSource !== 'name') ?? list.find((m) => m.specialUse === use2);
        slot.folders.set(use2, hit ? hit.path : null);
      }
    }
    const known = slot.folders.get(use) ?? null;
    if (known || !create) return known;
    const name = use === '\\Drafts' ? 'Drafts' : 'Sent';
    const prefix = client.namespace?.prefix ?? '';
    const created = await client.mailboxCreate(`${prefix}${name}`);
    slot.folders.set(use, created.path);
    return created.path;
  }

  async function append(account: EmailAccount, raw: Buffer, use: SpecialUse, flags: string[]): Promise<AppendResult> {
    return run(account, async (client, slot) => {
      const path = await folder(client, slot, use, true);
      if (!path) throw new ConnectorError('mail_config', `No ${use} folder`);
      const res = await client.append(path, raw, flags, new Date());
      if (!res) throw new ConnectorError('mail_temporary', `The IMAP server did not store the message in ${path}`);
      return { mailbox: res.destination || path, uid: res.uid ?? null };
    });
  }

  return {
    appendDraft: (account, raw) => append(account, raw, '\\Drafts', ['\\Draft', '\\Seen']),
    appendSent: (account, raw) => append(account, raw, '\\Sent', ['\\Seen']),
    async searchMessageId(account, messageId) {
      const wanted = bracketMessageId(messageId);
      return run(account, async (client, slot) => {
        for (const use of ['\\Sent', '\\Drafts'] as const) {
          const path = await folder(client, slot, use, false);
          if (!path) continue;
          const lock = await client.getMailboxLock(path, { readOnly: true });
          try {
            // The mailbox may have been selected earlier on this pooled connection: NOOP makes the server
            // show messages another client (or the provider) stored since, before we search.
            await client.noop();
            const uids = await client.search({ header: { 'message-id': wanted } }, { uid: true });
            if (Array.isArray(uids) && uids.length > 0) return 'found';
          } finally {
            lock.release();
          }
        }
        return 'not_found';
      });
    },
    async listDeliveryReports(account, afterUid, limit) {
      return run(account, async (client) => {
        const lock = await client.getMailboxLock('INBOX', { readOnly: true });
        try {
          await client.noop();
          const uidValidity = String((client.mailbox && typeof client.mailbox === 'object' ? client.mailbox.uidValidity : '') ?? '');
          // Reports are multipart/report (RFC 6522); the header search keeps auto-replies and mail out.
          const found = await client.search({ uid: `${afterUid + 1}:*`, header: { 'content-type': 'report' } }, { uid: true });
          const uids = (Array.isArray(found) ? found : [])
            .filter((u) => u > afterUid)
            .sort((a, b) => a - b)
            .slice(0, limit);
          const reports: { uid: number; raw: Buffer }[] = [];
          if (uids.length === 0) return { uidValidity, reports };
          for await (const m of client.fetch(uids.join(','), { uid: true, source: true }, { uid: true })) {
            if (m.source) reports.push({ uid: m.uid, raw: m.source });
          }
          reports.sort((a, b) => a.uid - b.uid);
          return { uidValidity, reports };
        } finally {
          lock.release();
        }
      });
    },
    async close() {
      closed = true;
      const pending = [...slots.values()].map((slot) => slot.queue);
      await Promise.allSettled(pending);
      for (const slot of slots.values()) dropClient(slot);
      slots.clear();
    },
  };
}

const CONNECTION_CODES = new Set([
  'NoConnection',
  'ETIMEOUT',
  'CONNECT_TIMEOUT',
  'GREETING_TIMEOUT',
  'ECONNREFUSED',
  'ECONNRESET',
  'EPIPE',
  'ENOTFOUND',
  'EAI_AGAIN',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'ClosedAfterConnectTLS',
  'ClosedAfterConnectText',
]);

export function classifyImapError(err: ImapErrorLike, account: EmailAccount): ConnectorError {
  if (err instanceof ConnectorError) return err;
  const detail: Record<string, unknown> = {
    accountId: account.id,
    imapCode: err.code ?? null,
    response: err.responseText ?? null,
    serverCode: err.serverResponseCode ?? null,
  };
  const text = err.responseText || err.message || 'unknown error';
  if (err.authenticationFailed || err.serverResponseCode === 'AUTHENTICATIONFAILED') {
    return new ConnectorError('mail_auth', `IMAP server refused the credentials: ${text}`, { cause: err, detail, retryable: false });
  }
  if (err.tlsFailed) {
    const certProblem = /certificate|self.signed|CERT_|UNABLE_TO_VERIFY|altnames|hostname/i.test(`${err.message ?? ''} ${err.code ?? ''}`);
    return new ConnectorError(certProblem ? 'mail_config' : 'mail_temporary', `TLS with the IMAP server failed: ${err.message ?? ''}`, { cause: err, detail });
  }
  if (err.responseStatus === 'NO' || err.responseStatus === 'BAD') {
    const permanent = ['TOOBIG', 'LIMIT', 'NOPERM', 'CANNOT'].includes(err.serverResponseCode ?? '');
    return new ConnectorError(permanent ? 'mail_permanent' : 'mail_temporary', `IMAP server refused the command: ${text}`, {
      cause: err,
      detail,
      retryable: !permanent,
    });
  }
  if (CONNECTION_CODES.has(err.code ?? '')) {
    return new ConnectorError('mail_temporary', `IMAP connection failed: ${err.message ?? ''}`, { cause: err, detail, retryable: true });
  }
  return new ConnectorError('mail_temporary', `IMAP operation failed: ${err.message ?? String(err)}`, { cause: err, detail, retryable: true });
}
