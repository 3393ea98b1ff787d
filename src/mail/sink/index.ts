/**
 * The local SMTP sink for the demo (`npm start`): accepts every message on a loopback port, saves it
 * as `<dir>/<timestamp>-<seq>.eml` (the raw message with X-Sink-* headers recording the envelope), and
 * serves a small page listing the messages newest first, with a download link for each .eml.
 *
 * - no AUTH required (any AUTH is accepted, so demo accounts with credentials work), no STARTTLS,
 *   no reverse DNS lookup, no greeting pause, a size limit (default 25 MB, 552 above it);
 * - files are written atomically (temporary name, then a hard link to the final name, which never
 *   overwrites an existing message);
 * - web page: `GET /` (HTML), `GET /api/messages` (JSON), `GET /messages/<file>` (the .eml).
 */
import { randomUUID } from 'node:crypto';
import { mkdir, readdir, readFile, open, link, unlink, writeFile } from 'node:fs/promises';
import http from 'node:http';
import path from 'node:path';
import { simpleParser, type AddressObject } from 'mailparser';
import { SMTPServer } from 'smtp-server';
import { withoutGreetingPause } from './no-greeting-pause.ts';

export interface SinkMessage {
  /** File name inside the sink directory. */
  file: string;
  /** ISO instant the sink accepted the message. */
  receivedAt: string;
  envelopeFrom: string;
  envelopeTo: string[];
  messageId: string | null;
  subject: string | null;
}

export interface SmtpSinkOptions {
  host: string;
  /** SMTP port; 0 picks a free one. */
  port: number;
  /** Web page port; 0 picks a free one. */
  webPort: number;
  /** Directory for the .eml files (created when missing). */
  dir: string;
  /** Maximum message size in bytes (default 25 MB). */
  maxSize?: number;
  /** Messages shown on the web page (newest first, default 200). */
  pageSize?: number;
}

export interface SmtpSink {
  port: number;
  webPort: number;
  /** Every stored message, newest first. */
  list(): Promise<SinkMessage[]>;
  stop(): Promise<void>;
}

const FILE_RE = /^\d{13}-\d{6}\.eml$/;
const HEADER_SCAN = 64 * 1024;

function headerValue(v: string): string {
  return v.replace(/[\r\n]+/g, ' ');
}

function escapeHtml(s: string): string {
  return s.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);
}

function addressText(a: AddressObject | AddressObject[] | undefined): string {
  if (!a) return '';
  return (Array.isArray(a) ? a : [a]).map((x) => x.text).join(', ');
}

/** Reads only the header block of a stored message. */
async function readHead(file: string): Promise<Buffer> {
  const fh = await open(file, 'r');
  try {
    const buf = Buffer.alloc(HEADER_SCAN);
    const { bytesRead } = await fh.read(buf, 0, HEADER_SCAN, 0);
    const head = buf.subarray(0, bytesRead);
    const end = head.indexOf('\r\n\r\n');
    return end >= 0 ? head.subarray(0, end + 4) : head;
  } finally {
    await fh.close();
  }
}

async function describe(dir: string, file: string): Promise<SinkMessage> {
  const parsed = await simpleParser(await readHead(path.join(dir, file)), { skipHtmlToText: true, skipTextToHtml: true, skipImageLinks: true });
  const h = parsed.headers;
  const str = (name: string): string => {
    const v = h.get(name);
    return typeof v === 'string' ? v : '';
  };
  return {
    file,
    receivedAt: str('x-sink-received-at'),
    envelopeFrom: str('x-sink-envelope-from'),
    envelopeTo: str('x-sink-envelope-to').split(',').map((s) => s.trim()).filter(Boolean),
    messageId: parsed.messageId ?? null,
    subject: parsed.subject ?? null,
  };
}

export async function startSmtpSink(options: SmtpSinkOptions): Promise<SmtpSink> {
  const dir = path.resolve(options.dir);
  await mkdir(dir, { recursive: true });
  const maxSize = options.maxSize ?? 25 * 1024 * 1024;
  const pageSize = options.pageSize ?? 200;
  let seq = 0;

  async function store(raw: Buffer, from: string, to: string[]): Promise<string> {
    const receivedAt = new Date();
    const prefix = Buffer.from(
      `X-Sink-Received-At: ${receivedAt.toISOString()}\r\nX-Sink-Envelope-From: ${headerValue(from)}\r\nX-Sink-Envelope-To: ${headerValue(to.join(', '))}\r\n`,
      'utf8',
    );
    // Unique per message: two messages in the same millisecond must not share (and overwrite) one temp file.
    const tmp = path.join(dir, `.incoming-${process.pid}-${receivedAt.getTime()}-${randomUUID()}.tmp`);
    await writeFile(tmp, Buffer.concat([prefix, raw]));
    try {
      for (;;) {
        seq = (seq + 1) % 1_000_000;
        const name = `${receivedAt.getTime()}-${String(seq).padStart(6, '0')}.eml`;
        try {
          await link(tmp, path.join(dir, name));
          return name;
        } catch (e) {
          if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
        }
      }
    } finally {
      await unlink(tmp).catch(() => {});
    }
  }

  const smtp = new SMTPServer({
    authOptional: true,
    allowInsecureAuth: true,
    hideSTARTTLS: true,
    disableReverseLookup: true,
    size: maxSize,
    logger: false,
    banner: 'Invoice Courier demo SMTP sink',
    onAuth(auth, _session, callback) {
      callback(null, { user: auth.username });
    },
    onData(stream, session, callback) {
      const chunks: Buffer[] = [];
      stream.on('data', (c: Buffer) => chunks.push(c));
      stream.on('end', () => {
        if (stream.sizeExceeded) {
          callback(Object.assign(new Error(`Message exceeds the size limit of ${maxSize} bytes`), { responseCode: 552 }));
          return;
        }
        const from = session.envelope.mailFrom ? session.envelope.mailFrom.address : '';
        const to = session.envelope.rcptTo.map((r) => r.address);
        store(Buffer.concat(chunks), from, to).then(
          (name) => callback(null, `OK: stored as ${name}`),
          () => callback(Object.assign(new Error('Could not store the message, try again'), { responseCode: 451 })),
        );
      });
    },
  });
  withoutGreetingPause(smtp);
  smtp.on('error', () => {});

  async function list(): Promise<SinkMessage[]> {
    const files = (await readdir(dir)).filter((f) => FILE_RE.test(f)).sort().reverse();
    const out: SinkMessage[] = [];
    for (const f of files) {
      try {
        out.push(await describe(dir, f));
      } catch {
        // a file removed meanwhile
      }
    }
    return out;
  }

  async function page(): Promise<string> {
    const messages = (await list()).slice(0, pageSize);
    const rows: string[] = [];
    for (const m of messages) {
      let attachments: string[] = [];
      let from = m.envelopeFrom;
      let to = m.envelopeTo.join(', ');
      let date = m.receivedAt;
      try {
        const parsed = await simpleParser(await readFile(path.join(dir, m.file)), { skipHtmlToText: true, skipTextToHtml: true });
        attachments = parsed.attachments.map((a) => a.filename ?? '(unnamed)');
        from = addressText(parsed.from) || from;
        to = [addressText(parsed.to), addressText(parsed.cc)].filter(Boolean).join(', ') || to;
        date = parsed.date ? parsed.date.toISOString() : date;
      } catch {
        // show what the headers gave
      }
      rows.push(
        `<tr><td>${escapeHtml(date)}</td><td>${escapeHtml(from)}</td><td>${escapeHtml(to)}</td><td>${escapeHtml(m.subject ?? '')}</td>` +
          `<td>${attachments.map(escapeHtml).join('<br>')}</td><td><a href="/messages/${encodeURIComponent(m.file)}" download>${escapeHtml(m.file)}</a></td></tr>`,
      );
    }
    return `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Invoice Courier — demo mailbox</title>
<style>body{font-family:system-ui,sans-serif;margin:2rem}table{border-collapse:collapse;width:100%}td,th{border-bottom:1px solid #ddd;padding:.4rem;text-align:left;vertical-align:top}th{background:#f4f4f4}</style></head>
<body><h1>Demo mailbox</h1><p>${messages.length} message(s), newest first. Everything sent to the SMTP sink on port ${smtpPort} lands here.</p>
<table><thead><tr><th>Date</th><th>From</th><th>To</th><th>Subject</th><th>Attachments</th><th>.eml</th></tr></thead><tbody>
${rows.join('\n')}
</tbody></table></body></html>`;
  }

  const web = http.createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://sink');
    const send = (status: number, type: string, body: string | Buffer, extra: Record<string, string> = {}) => {
      res.writeHead(status, { 'content-type': type, 'cache-control': 'no-store', ...extra });
      res.end(body);
    };
    if (req.method !== 'GET') return send(405, 'text/plain; charset=utf-8', 'Method not allowed');
    if (url.pathname === '/') {
      page().then((html) => send(200, 'text/html; charset=utf-8', html), () => send(500, 'text/plain; charset=utf-8', 'Could not read the mailbox'));
      return;
    }
    if (url.pathname === '/api/messages') {
      list().then((l) => send(200, 'application/json; charset=utf-8', JSON.stringify(l)), () => send(500, 'text/plain; charset=utf-8', 'Could not read the mailbox'));
      return;
    }
    const m = /^\/messages\/([^/]+)$/.exec(url.pathname);
    const file = m ? decodeURIComponent(m[1]!) : '';
    if (m && FILE_RE.test(file)) {
      readFile(path.join(dir, file)).then(
        (body) => send(200, 'message/rfc822', body, { 'content-disposition': `attachment; filename="${file}"` }),
        () => send(404, 'text/plain; charset=utf-8', 'No such message'),
      );
      return;
    }
    send(404, 'text/plain; charset=utf-8', 'Not found');
  });

  const listen = (server: { listen(port: number, host: string, cb: () => void): unknown; once(ev: 'error', cb: (e: Error) => void): unknown }, port: number) =>
    new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, options.host, () => resolve());
    });
  await listen(smtp.server, options.port);
  const smtpPort = (smtp.server.address() as { port: number }).port;
  try {
    await listen(web, options.webPort);
  } catch (e) {
    await new Promise<void>((r) => smtp.close(() => r()));
    throw e;
  }
  const webPort = (web.address() as { port: number }).port;

  return {
    port: smtpPort,
    webPort,
    list,
    async stop() {
      web.closeAllConnections();
      await Promise.all([
        new Promise<void>((r) => web.close(() => r())),
        new Promise<void>((r) => {
          for (const c of (smtp as unknown as { connections?: Set<{ _socket?: { destroy(): void } }> }).connections ?? []) c._socket?.destroy();
          smtp.close(() => r());
        }),
      ]);
    },
  };
}
