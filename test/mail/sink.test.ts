import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { simpleParser } from 'mailparser';
import nodemailer from 'nodemailer';
import { afterEach, describe, expect, it } from 'vitest';
import type { EmailAccount } from '../../src/domain.ts';
import { createMailDelivery } from '../../src/mail/delivery.ts';
import type { OutgoingMessage } from '../../src/mail/port.ts';
import { startSmtpSink, type SmtpSink } from '../../sandbox/index.ts';

function message(n: number): OutgoingMessage {
  return {
    messageId: `<ic.demo.inv${n}@invoice-courier>`,
    from: { name: 'Sprzedawca', address: 'faktury@sprzedawca.test' },
    replyTo: null,
    to: ['klient@nabywca.test'],
    cc: [],
    bcc: ['archiwum@sprzedawca.test'],
    subject: `Faktura <FV/${n}> & "Żółć"`,
    html: '<p>Faktura</p>',
    text: 'Faktura',
    attachments: [{ filename: `FV_${n}<x>.pdf`, contentType: 'application/pdf', content: new TextEncoder().encode('%PDF-1.4\n%%EOF\n') }],
    headers: {},
  };
}

let sink: SmtpSink | null = null;
let dir = '';
afterEach(async () => {
  await sink?.stop();
  sink = null;
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe('demo SMTP sink', () => {
  it('stores each accepted message once, named by its Message-ID, with its envelope, and lists them newest first on its page', async () => {
    dir = mkdtempSync(path.join(tmpdir(), 'ic-sink-'));
    sink = await startSmtpSink({ host: '127.0.0.1', port: 0, webPort: 0, dir });
    const account: EmailAccount = {
      id: 'demo',
      name: 'Demo',
      active: true,
      fromAddress: null,
      fromFilter: null,
      smtp: { host: '127.0.0.1', port: sink.port, tls: 'none', user: 'demo', password: 'demo' },
      imap: null,
    };
    const delivery = createMailDelivery({ poolSize: 2 });
    try {
      await delivery.deliver(account, message(1), 'send_now');
      await delivery.deliver(account, message(2), 'send_now');
    } finally {
      await delivery.close();
    }

    const files = readdirSync(dir);
    expect(files.filter((f) => f.endsWith('.eml'))).toHaveLength(2);
    expect(files.filter((f) => f.endsWith('.eml')).sort()).toEqual(['ic.demo.inv1@invoice-courier.eml', 'ic.demo.inv2@invoice-courier.eml']);
    expect(files.filter((f) => f.startsWith('.'))).toEqual([]);

    const list = await sink.list();
    expect(list.map((m) => m.messageId)).toEqual(['<ic.demo.inv2@invoice-courier>', '<ic.demo.inv1@invoice-courier>']);
    expect(list[0]!.envelopeFrom).toBe('faktury@sprzedawca.test');
    expect(list[0]!.envelopeTo).toEqual(['klient@nabywca.test', 'archiwum@sprzedawca.test']);
    expect(list[0]!.subject).toBe('Faktura <FV/2> & "Żółć"');
    expect(Number.isNaN(Date.parse(list[0]!.receivedAt))).toBe(false);

    const stored = await simpleParser(readFileSync(path.join(dir, list[1]!.file)));
    expect(stored.messageId).toBe('<ic.demo.inv1@invoice-courier>');
    expect(stored.attachments[0]!.filename).toBe('FV_1<x>.pdf');

    const base = `http://127.0.0.1:${sink.webPort}`;
    const page = await (await fetch(`${base}/`)).text();
    expect(page).toContain('Faktura &lt;FV/2&gt; &amp; &quot;Żółć&quot;');
    expect(page).not.toContain('<FV/2>');
    expect(page).toContain('FV_1&lt;x&gt;.pdf');
    expect(page).toContain(`src="/messages/${encodeURIComponent(list[0]!.file)}/html"`);
    expect(page.indexOf('FV/2')).toBeLessThan(page.indexOf('FV/1'));
    expect(page).toContain(`href="/messages/${encodeURIComponent(list[0]!.file)}"`);

    const download = await fetch(`${base}/messages/${encodeURIComponent(list[0]!.file)}`);
    expect(download.status).toBe(200);
    expect(download.headers.get('content-type')).toBe('message/rfc822');
    expect((await simpleParser(Buffer.from(await download.arrayBuffer()))).messageId).toBe('<ic.demo.inv2@invoice-courier>');
    expect((await fetch(`${base}/messages/..%2F..%2Fetc%2Fpasswd`)).status).toBe(404);

    const api = (await (await fetch(`${base}/api/messages`)).json()) as { file: string }[];
    expect(api.map((m) => m.file)).toEqual(list.map((m) => m.file));
  });

  it("shows each message's HTML and text on its page and opens its PDF attachment in the browser", async () => {
    dir = mkdtempSync(path.join(tmpdir(), 'ic-sink-'));
    sink = await startSmtpSink({ host: '127.0.0.1', port: 0, webPort: 0, dir });
    const pdfBytes = new TextEncoder().encode('%PDF-1.4\n1 0 obj<<>>endobj\n%%EOF\n');
    const delivery = createMailDelivery({ poolSize: 1 });
    try {
      const account: EmailAccount = {
        id: 'd',
        name: 'd',
        active: true,
        fromAddress: null,
        fromFilter: null,
        smtp: { host: '127.0.0.1', port: sink.port, tls: 'none', user: null, password: null },
        imap: null,
      };
      await delivery.deliver(
        account,
        {
          ...message(7),
          html: '<p>Dzień dobry, <strong>faktura FV/7</strong></p><script>alert(1)</script>',
          text: 'Dzień dobry, faktura FV/7',
          attachments: [{ filename: 'FV_7.pdf', contentType: 'application/pdf', content: pdfBytes }],
        },
        'send_now',
      );
    } finally {
      await delivery.close();
    }
    const [m] = await sink.list();
    const base = `http://127.0.0.1:${sink.webPort}/messages/${encodeURIComponent(m!.file)}`;
    const page = await (await fetch(`http://127.0.0.1:${sink.webPort}/`)).text();
    expect(page).toContain('<pre>Dzień dobry, faktura FV/7</pre>');
    expect(page).toContain(`src="/messages/${encodeURIComponent(m!.file)}/html"`);
    expect(page).toContain(`href="/messages/${encodeURIComponent(m!.file)}/attachments/0"`);
    expect(page).toContain('>FV_7.pdf</a>');

    const html = await fetch(`${base}/html`);
    expect(html.status).toBe(200);
    expect(html.headers.get('content-type')).toBe('text/html; charset=utf-8');
    // The message's HTML is shown as sent, but in a sandbox: no script runs, nothing is fetched.
    expect(html.headers.get('content-security-policy')).toMatch(/^sandbox;.*default-src 'none'/);
    expect(await html.text()).toContain('<strong>faktura FV/7</strong>');

    const pdf = await fetch(`${base}/attachments/0`);
    expect(pdf.status).toBe(200);
    expect(pdf.headers.get('content-type')).toBe('application/pdf');
    expect(pdf.headers.get('content-disposition')).toMatch(/^inline; filename="FV_7\.pdf"/);
    expect(Buffer.from(await pdf.arrayBuffer()).equals(Buffer.from(pdfBytes))).toBe(true);
    expect((await fetch(`${base}/attachments/1`)).status).toBe(404);
  });

  it("shows each message's Date as the sender wrote it (its zone kept, not turned into UTC) and fits a narrow window", async () => {
    dir = mkdtempSync(path.join(tmpdir(), 'ic-sink-'));
    sink = await startSmtpSink({ host: '127.0.0.1', port: 0, webPort: 0, dir });
    const transport = nodemailer.createTransport({ host: '127.0.0.1', port: sink.port, secure: false, ignoreTLS: true });
    try {
      const raw = [
        'From: a@spike.example',
        'To: b@customer.example',
        'Subject: FV/9',
        'Date: Wed, 02 Dec 2026 01:59:53 +0100',
        'Message-ID: <ic.demo.inv9@spike.example>',
        '',
        'Dzień dobry',
        '',
      ].join('\r\n');
      await transport.sendMail({ envelope: { from: 'a@spike.example', to: ['b@customer.example'] }, raw });
    } finally {
      transport.close();
    }
    const page = await (await fetch(`http://127.0.0.1:${sink.webPort}/`)).text();
    expect(page).toContain('<td>Wed, 02 Dec 2026 01:59:53 +0100</td>');
    expect(page).not.toContain('2026-12-02T00:59:53');
    // A phone-width window: the page says it is laid out for the device, long addresses and ids may break.
    expect(page).toContain('<meta name="viewport" content="width=device-width, initial-scale=1">');
    expect(page).toMatch(/td,summary\{overflow-wrap:anywhere\}/);
  });

  it('keeps a second message with a Message-ID already stored as a visible copy (~2), never overwriting the first', async () => {
    dir = mkdtempSync(path.join(tmpdir(), 'ic-sink-'));
    sink = await startSmtpSink({ host: '127.0.0.1', port: 0, webPort: 0, dir });
    const delivery = createMailDelivery({ poolSize: 1 });
    try {
      const account: EmailAccount = {
        id: 'd',
        name: 'd',
        active: true,
        fromAddress: null,
        fromFilter: null,
        smtp: { host: '127.0.0.1', port: sink.port, tls: 'none', user: null, password: null },
        imap: null,
      };
      await delivery.deliver(account, { ...message(5), subject: 'first' }, 'send_now');
      await delivery.deliver(account, { ...message(5), subject: 'second' }, 'send_now');
    } finally {
      await delivery.close();
    }
    expect(readdirSync(dir).sort()).toEqual(['ic.demo.inv5@invoice-courier.eml', 'ic.demo.inv5@invoice-courier~2.eml']);
    expect((await simpleParser(readFileSync(path.join(dir, 'ic.demo.inv5@invoice-courier.eml')))).subject).toBe('first');
    expect((await simpleParser(readFileSync(path.join(dir, 'ic.demo.inv5@invoice-courier~2.eml')))).subject).toBe('second');
  });

  it('stores 500 messages sent over 20 parallel SMTP connections as 500 distinct, complete files', async () => {
    dir = mkdtempSync(path.join(tmpdir(), 'ic-sink-'));
    sink = await startSmtpSink({ host: '127.0.0.1', port: 0, webPort: 0, dir });
    const CONNECTIONS = 20;
    const PER_CONNECTION = 25;
    // Each message carries a different PDF-sized attachment, so a file holding another message's bytes is caught.
    const body = (n: number) => Buffer.from(`%PDF-1.4\n% invoice ${n}\n${'x'.repeat(20_000 + n)}\n%%EOF\n`);
    const digest = (b: Buffer) => createHash('sha256').update(b).digest('hex');
    const port = sink.port;
    await Promise.all(
      Array.from({ length: CONNECTIONS }, async (_, c) => {
        // One connection each (no pool): every message of this worker goes over the same SMTP session.
        const transport = nodemailer.createTransport({ host: '127.0.0.1', port, secure: false, ignoreTLS: true, pool: true, maxConnections: 1 });
        try {
          for (let i = 0; i < PER_CONNECTION; i++) {
            const n = c * PER_CONNECTION + i;
            await transport.sendMail({
              messageId: `<ic-load-${n}@sprzedawca.test>`,
              from: 'faktury@sprzedawca.test',
              to: 'klient@nabywca.test',
              subject: `FV/${n}`,
              text: `Faktura ${n}`,
              attachments: [{ filename: `FV_${n}.pdf`, contentType: 'application/pdf', content: body(n) }],
            });
          }
        } finally {
          transport.close();
        }
      }),
    );
    const files = readdirSync(dir);
    expect(files.filter((f) => f.startsWith('.'))).toEqual([]);
    expect(files).toHaveLength(CONNECTIONS * PER_CONNECTION);
    const seen = new Set<number>();
    for (const f of files) {
      const parsed = await simpleParser(readFileSync(path.join(dir, f)));
      const n = Number(/^<ic-load-(\d+)@sprzedawca\.test>$/.exec(parsed.messageId ?? '')?.[1]);
      expect(f).toBe(`ic-load-${n}@sprzedawca.test.eml`);
      expect(parsed.subject).toBe(`FV/${n}`);
      expect(parsed.attachments).toHaveLength(1);
      expect(digest(parsed.attachments[0]!.content)).toBe(digest(body(n)));
      seen.add(n);
    }
    expect(seen.size).toBe(CONNECTIONS * PER_CONNECTION);
    expect((await sink.list()).map((m) => m.file).sort()).toEqual([...files].sort());
  }, 60_000);

  it('refuses a message over the size limit (mail_permanent) and stores nothing', async () => {
    dir = mkdtempSync(path.join(tmpdir(), 'ic-sink-'));
    sink = await startSmtpSink({ host: '127.0.0.1', port: 0, webPort: 0, dir, maxSize: 10_000 });
    const delivery = createMailDelivery({ poolSize: 1 });
    const big = { ...message(3), attachments: [{ filename: 'big.pdf', contentType: 'application/pdf', content: new Uint8Array(50_000) }] };
    try {
      const account: EmailAccount = {
        id: 'd',
        name: 'd',
        active: true,
        fromAddress: null,
        fromFilter: null,
        smtp: { host: '127.0.0.1', port: sink.port, tls: 'none', user: null, password: null },
        imap: null,
      };
      await expect(delivery.deliver(account, big, 'send_now')).rejects.toMatchObject({ code: 'mail_permanent' });
    } finally {
      await delivery.close();
    }
    expect(await sink.list()).toEqual([]);
  });
});
