import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { simpleParser } from 'mailparser';
import { afterEach, describe, expect, it } from 'vitest';
import type { EmailAccount } from '../../src/domain.ts';
import { createMailDelivery } from '../../src/mail/delivery.ts';
import type { OutgoingMessage } from '../../src/mail/port.ts';
import { startSmtpSink, type SmtpSink } from '../../src/mail/sink/index.ts';

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
  it('stores each accepted message as an .eml file with its envelope and lists them newest first on its page', async () => {
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
    expect(files.every((f) => /^\d{13}-\d{6}\.eml$/.test(f))).toBe(true);

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
    expect(page.indexOf('FV/2')).toBeLessThan(page.indexOf('FV/1'));
    expect(page).toContain(`href="/messages/${list[0]!.file}"`);

    const download = await fetch(`${base}/messages/${list[0]!.file}`);
    expect(download.status).toBe(200);
    expect(download.headers.get('content-type')).toBe('message/rfc822');
    expect((await simpleParser(Buffer.from(await download.arrayBuffer()))).messageId).toBe('<ic.demo.inv2@invoice-courier>');
    expect((await fetch(`${base}/messages/..%2F..%2Fetc%2Fpasswd`)).status).toBe(404);

    const api = (await (await fetch(`${base}/api/messages`)).json()) as { file: string }[];
    expect(api.map((m) => m.file)).toEqual(list.map((m) => m.file));
  });

  it('refuses a message over the size limit (mail_permanent) and stores nothing', async () => {
    dir = mkdtempSync(path.join(tmpdir(), 'ic-sink-'));
    sink = await startSmtpSink({ host: '127.0.0.1', port: 0, webPort: 0, dir, maxSize: 10_000 });
    const delivery = createMailDelivery({ poolSize: 1 });
    const big = { ...message(3), attachments: [{ filename: 'big.pdf', contentType: 'application/pdf', content: new Uint8Array(50_000) }] };
    try {
      const account: EmailAccount = { id: 'd', name: 'd', active: true, fromAddress: null, fromFilter: null, smtp: { host: '127.0.0.1', port: sink.port, tls: 'none', user: null, password: null }, imap: null };
      await expect(delivery.deliver(account, big, 'send_now')).rejects.toMatchObject({ code: 'mail_permanent' });
    } finally {
      await delivery.close();
    }
    expect(await sink.list()).toEqual([]);
  });
});
