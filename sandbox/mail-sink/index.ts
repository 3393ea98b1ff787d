/**
 * The local SMTP sink for the demo (`npm start`): accepts every message on a loopback port, saves it
 * once under its Message-ID as `<dir>/<message-id>.eml` (the raw message with X-Sink-* headers
 * recording the envelope), and serves a page listing the messages newest first, each with its HTML,
 * its plain text, a link to open each attachment (the invoice PDF) and the .eml download.
 *
 * - no AUTH required (any AUTH is accepted, so demo accounts with credentials work), no STARTTLS,
 *   no reverse DNS lookup, no greeting pause, a size limit (default 25 MB, 552 above it);
 * - every message is written to a temporary file whose name is unique to that message (a random
 *   UUID, never a shared counter), then hard-linked to its final name and the temporary name removed:
 *   the final name appears complete or not at all, and a link never overwrites an existing message;
 * - the final name is the Message-ID (brackets dropped, characters outside `[A-Za-z0-9._@+-]` written
 *   as `%XX`). A second message with a Message-ID already stored is kept too, as `<message-id>~2.eml`,
 *   `~3` …: the demo shows a duplicate delivery as a duplicate instead of hiding it. A message without
 *   a Message-ID is stored as `no-message-id-<ms>-<uuid>.eml`;
 * - web page: `GET /` (HTML), `GET /api/messages` (JSON), `GET /messages/<file>` (the .eml),
 *   `GET /messages/<file>/html` (the message's HTML body, sandboxed), `GET /messages/<file>/attachments/<n>`
 *   (attachment n, shown inline: the PDF opens in the browser).
 */
import { randomUUID } from 'node:crypto';
import { mkdir, readdir, readFile, open, link, unlink, writeFile } from 'node:fs/promises';
import http from 'node:http';
import path from 'node:path';
import { simpleParser, type AddressObject, type ParsedMail } from 'mailparser';
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

/** Stored message names: never a dot file (the temporary names start with a dot), no path separators. */
const FILE_RE = /^[A-Za-z0-9%_@+~-][A-Za-z0-9%._@+~-]*\.eml$/;
const HEADER_SCAN = 64 * 1024;
/** Longest file-name stem taken from a Message-ID (file systems allow 255 bytes per name). */
const MAX_STEM = 200;

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

/** The Message-ID header of a raw message (first occurrence, unfolded), or null. */
export function rawMessageId(raw: Buffer): string | null {
  const end = raw.indexOf('\r\n\r\n');
  const head = raw
    .subarray(0, end >= 0 ? end : Math.min(raw.length, HEADER_SCAN))
    .toString('latin1')
    .replace(/\r?\n[ \t]+/g, ' ');
  const m = /^message-id:[ \t]*(.*?)[ \t]*$/im.exec(head);
  const value = m?.[1]?.trim() ?? '';
  return value === '' ? null : value;
}

/** The file-name stem for a Message-ID: brackets dropped, unsafe bytes as %XX, long ones shortened. */
export function fileStemFor(messageId: string): string {
  const bare = messageId.replace(/^<|>$/g, '');
  let out = '';
  for (const byte of Buffer.from(bare, 'utf8')) {
    const ch = String.fromCharCode(byte);
    out += /[A-Za-z0-9._@+-]/.test(ch) ? ch : `%${byte.toString(16).toUpperCase().padStart(2, '0')}`;
  }
  // A leading dot would hide the file (and look like a temporary name).
  if (out.startsWith('.')) out = `%2E${out.slice(1)}`;
  return out.length > MAX_STEM ? out.slice(0, MAX_STEM) : out;
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
    envelopeTo: str('x-sink-envelope-to')
      .split(',')
      .map((s) => s.trim())
      .filter(Boolean),
    messageId: parsed.messageId ?? null,
    subject: parsed.subject ?? null,
  };
}

export async function startSmtpSink(options: SmtpSinkOptions): Promise<SmtpSink> {
  const dir = path.resolve(options.dir);
  await mkdir(dir, { recursive: true });
  const maxSize = options.maxSize ?? 25 * 1024 * 1024;
  const pageSize = options.pageSize ?? 200;

  async function store(raw: Buffer, from: string, to: string[]): Promise<string> {
    const receivedAt = new Date();
    const prefix = Buffer.from(
      `X-Sink-Received-At: ${receivedAt.toISOString()}\r\nX-Sink-Envelope-From: ${headerValue(from)}\r\nX-Sink-Envelope-To: ${headerValue(to.join(', '))}\r\n`,
      'utf8',
    );
    // Unique per message: two messages in the same millisecond never share a temporary file.
    const unique = randomUUID();
    const tmp = path.join(dir, `.incoming-${process.pid}-${unique}.tmp`);
    const messageId = rawMessageId(raw);
    const stem = messageId ? fileStemFor(messageId) : `no-message-id-${receivedAt.getTime()}-${unique}`;
    await writeFile(tmp, Buffer.concat([prefix, raw]), { flag: 'wx' });
    try {
      for (let copy = 1; ; copy++) {
        const name = copy === 1 ? `${stem}.eml` : `${stem}~${copy}.eml`;
        try {
          // link(2) fails with EEXIST instead of replacing: a stored message is never overwritten.
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
    const files = (await readdir(dir)).filter((f) => FILE_RE.test(f));
    const out: SinkMessage[] = [];
    for (const f of files) {
      try {
        out.push(await describe(dir, f));
      } catch {
        // a file removed meanwhile
      }
    }
    // Newest first; the same instant in file-name order, so the order is stable.
    return out.sort((a, b) => (a.receivedAt === b.receivedAt ? (a.file < b.file ? 1 : -1) : a.receivedAt < b.receivedAt ? 1 : -1));
  }

  async function parse(file: string): Promise<ParsedMail> {
    return simpleParser(await readFile(path.join(dir, file)), { skipTextToHtml: true, skipImageLinks: true });
  }

  async function page(): Promise<string> {
    const messages = (await list()).slice(0, pageSize);
    const rows: string[] = [];
    for (const m of messages) {
      const href = `/messages/${encodeURIComponent(m.file)}`;
      let attachments: string[] = [];
      let from = m.envelopeFrom;
      let to = m.envelopeTo.join(', ');
      let date = m.receivedAt;
      let text = '';
      let hasHtml = false;
      try {
        const parsed = await parse(m.file);
        attachments = parsed.attachments.map(
          (a, i) => `<a href="${href}/attachments/${i}" target="_blank" rel="noopener">${escapeHtml(a.filename ?? `attachment ${i + 1}`)}</a>`,
        );
        from = addressText(parsed.from) || from;
        to = [addressText(parsed.to), addressText(parsed.cc)].filter(Boolean).join(', ') || to;
        // The Date header as the sender wrote it (its own zone, e.g. "+0100"): what the customer's mail
        // program shows, not the same instant turned into UTC.
        const dateLine = parsed.headerLines.find((h) => h.key === 'date')?.line;
        date = dateLine ? dateLine.replace(/^date:\s*/i, '').trim() : parsed.date ? parsed.date.toISOString() : date;
        text = parsed.text ?? '';
        hasHtml = typeof parsed.html === 'string' && parsed.html !== '';
      } catch {
        // show what the headers gave
      }
      rows.push(
        `<tr><td>${escapeHtml(date)}</td><td>${escapeHtml(from)}</td><td>${escapeHtml(to)}</td><td>${escapeHtml(m.subject ?? '')}</td>` +
          `<td>${attachments.join('<br>')}</td><td><a href="${href}" download>.eml</a></td></tr>\n` +
          `<tr class="body"><td colspan="6"><details><summary>Show the message (HTML and text) · ${escapeHtml(m.messageId ?? m.file)}</summary>` +
          (hasHtml ? `<h3>HTML</h3><iframe sandbox="" loading="lazy" title="HTML of ${escapeHtml(m.file)}" src="${href}/html"></iframe>` : '') +
          `<h3>Text</h3><pre>${escapeHtml(text)}</pre></details></td></tr>`,
      );
    }
    return `<!doctype html><html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1"><title>Invoice Courier — demo mailbox</title>
<style>body{font-family:system-ui,sans-serif;margin:2rem}table{border-collapse:collapse;width:100%}td,th{border-bottom:1px solid #ddd;padding:.4rem;text-align:left;vertical-align:top}td,summary{overflow-wrap:anywhere}th{white-space:nowrap}@media (max-width:700px){body{margin:.75rem}td,th{padding:.25rem;font-size:.85rem}}th{background:#f4f4f4}tr.body td{border-bottom:2px solid #bbb}iframe{width:100%;height:18rem;border:1px solid #ccc;background:#fff}pre{white-space:pre-wrap;background:#f8f8f8;padding:.5rem}</style></head>
<body><h1>Demo mailbox</h1><p>${messages.length} message(s), newest first. Everything sent to the SMTP sink on port ${smtpPort} lands here, one file per message, named by its Message-ID.</p>
<table><thead><tr><th>Date</th><th>From</th><th>To</th><th>Subject</th><th>Attachments</th><th>Raw</th></tr></thead><tbody>
${rows.join('\n')}
</tbody></table></body></html>`;
  }

  const web = http.createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://sink');
    const send = (status: number, type: string, body: string | Buffer, extra: Record<string, string> = {}) => {
      res.writeHead(status, { 'content-type': type, 'cache-control': 'no-store', 'x-content-type-options': 'nosniff', ...extra });
      res.end(body);
    };
    const unreadable = () => send(500, 'text/plain; charset=utf-8', 'Could not read the mailbox');
    const missing = () => send(404, 'text/plain; charset=utf-8', 'No such message');
    if (req.method !== 'GET' && req.method !== 'HEAD') return send(405, 'text/plain; charset=utf-8', 'Method not allowed');
    if (url.pathname === '/') {
      page().then((html) => send(200, 'text/html; charset=utf-8', html), unreadable);
      return;
    }
    if (url.pathname === '/api/messages') {
      list().then((l) => send(200, 'application/json; charset=utf-8', JSON.stringify(l)), unreadable);
      return;
    }
    const m = /^\/messages\/([^/]+)(?:\/(html|attachments\/(\d{1,4})))?$/.exec(url.pathname);
    let file = '';
    try {
      file = m ? decodeURIComponent(m[1]!) : '';
    } catch {
      file = '';
    }
    if (!m || !FILE_RE.test(file)) return send(404, 'text/plain; charset=utf-8', 'Not found');
    if (!m[2]) {
      readFile(path.join(dir, file)).then((body) => send(200, 'message/rfc822', body, { 'content-disposition': `attachment; filename="${file}"` }), missing);
      return;
    }
    parse(file).then((parsed) => {
      if (m[2] === 'html') {
        // The message's own HTML, with no script, no network and no same-origin access.
        const html = typeof parsed.html === 'string' ? parsed.html : '';
        send(200, 'text/html; charset=utf-8', html, {
          'content-security-policy': "sandbox; default-src 'none'; img-src data: cid:; style-src 'unsafe-inline'",
        });
        return;
      }
      const a = parsed.attachments[Number(m[3])];
      if (!a) return missing();
      const name = (a.filename ?? 'attachment').replace(/["\\\r\n]/g, '_');
      // A PDF opens in the browser's viewer; anything else is only offered as a download.
      const pdf = a.contentType === 'application/pdf';
      send(200, pdf ? 'application/pdf' : 'application/octet-stream', a.content, {
        'content-disposition': `${pdf ? 'inline' : 'attachment'}; filename="${name.replace(/[^\x20-\x7e]/g, '_')}"; filename*=UTF-8''${encodeURIComponent(name)}`,
      });
    }, missing);
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
