/**
 * The fault tools themselves do what the scenarios rely on: the TCP proxy passes, stalls (holds and
 * then releases bytes in order), refuses, drops, and answers 502; the fault SMTP server refuses at each
 * phase, drops after the dot, and counts by the (possibly folded) Message-ID header.
 */
import net from 'node:net';
import nodemailer from 'nodemailer';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startFaultSmtp, type FaultSmtp } from '../support/faults/fault-smtp.ts';
import { startTcpProxy, type TcpProxy } from '../support/faults/tcp-proxy.ts';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('TCP fault proxy', () => {
  let echo: net.Server;
  let proxy: TcpProxy;
  beforeAll(async () => {
    echo = net.createServer((s) => s.pipe(s));
    await new Promise<void>((r) => echo.listen(0, '127.0.0.1', () => r()));
    proxy = await startTcpProxy({ host: '127.0.0.1', port: (echo.address() as net.AddressInfo).port });
  });
  afterAll(async () => {
    await proxy.close();
    await new Promise((r) => echo.close(r));
  });

  const connect = () =>
    new Promise<{ socket: net.Socket; received: () => string; closed: Promise<string> }>((resolve, reject) => {
      const socket = net.connect(proxy.port, proxy.host);
      let data = '';
      socket.on('data', (b) => (data += b.toString()));
      const closed = new Promise<string>((r) => {
        socket.on('error', (e: NodeJS.ErrnoException) => r(e.code ?? 'error'));
        socket.on('close', () => r('closed'));
      });
      socket.once('connect', () => resolve({ socket, received: () => data, closed }));
      socket.once('error', reject);
    });

  it('passes bytes, holds them while stalled and releases them in order afterwards', async () => {
    const c = await connect();
    c.socket.write('a');
    await sleep(100);
    expect(c.received()).toBe('a');
    await proxy.set('stall');
    c.socket.write('b');
    c.socket.write('c');
    await sleep(300);
    expect(c.received()).toBe('a');
    await proxy.set('pass');
    await sleep(200);
    expect(c.received()).toBe('abc');
    c.socket.destroy();
  });

  it('refuses new connections in refuse mode and drops open ones on dropAll', async () => {
    const c = await connect();
    await proxy.set('refuse');
    const refused = await connect().then(
      () => 'connected',
      (e: NodeJS.ErrnoException) => e.code,
    );
    expect(refused).toBe('ECONNREFUSED');
    expect(proxy.dropAll()).toBeGreaterThanOrEqual(1);
    expect(await c.closed).toMatch(/closed|ECONNRESET/);
    await proxy.set('pass');
    const again = await connect();
    again.socket.write('x');
    await sleep(100);
    expect(again.received()).toBe('x');
    again.socket.destroy();
  });

  it('answers 502 to HTTP requests in http502 mode', async () => {
    await proxy.set('http502');
    const c = await connect();
    c.socket.write('POST /jsonrpc HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n');
    await c.closed;
    expect(c.received()).toMatch(/^HTTP\/1\.1 502 Bad Gateway/);
    await proxy.set('pass');
  });
});

describe('fault SMTP server', () => {
  let smtp: FaultSmtp;
  beforeAll(async () => {
    smtp = await startFaultSmtp();
  });
  afterAll(async () => {
    await smtp.stop();
  });
  const transport = () => nodemailer.createTransport({ host: smtp.host, port: smtp.port, ignoreTLS: true });
  // A long id, as the connector's are: nodemailer folds the header, the server still reads it.
  const mid = (n: number) => `<ic-50ecc4a0=2D87e4=2D4899=2D9ce3=2D63d79869da9a-${n}@invoice-courier.local>`;
  const send = (n: number) => transport().sendMail({ from: 'a@b.test', to: 'c@d.test', subject: 's', text: 'hello', messageId: mid(n) });

  it('refuses at MAIL, RCPT and DATA as the rule says, and counts accepted messages by Message-ID', async () => {
    smtp.rule = (c) =>
      c.phase === 'mail' && c.n === 1
        ? { code: 451, message: 'later' }
        : c.phase === 'rcpt' && c.n === 1
          ? { code: 550, message: 'no' }
          : c.phase === 'data' && c.attempt === 1
            ? { code: 452, message: 'full' }
            : null;
    await expect(send(1)).rejects.toMatchObject({ responseCode: 451 });
    await expect(send(1)).rejects.toMatchObject({ responseCode: 550 });
    await expect(send(1)).rejects.toMatchObject({ responseCode: 452 });
    await send(1);
    expect(smtp.delivered(mid(1))).toBe(1);
    expect(smtp.log.filter((t) => t.outcome === 'refused').map((t) => `${t.phase} ${t.code}`)).toEqual(['mail 451', 'rcpt 550', 'data 452']);
  });

  it('drops the connection right after the dot without a reply, and counts that as possibly delivered', async () => {
    smtp.rule = (c) => (c.phase === 'data' ? 'drop' : null);
    await expect(send(2)).rejects.toBeTruthy();
    smtp.rule = () => null;
    await send(2);
    expect(smtp.droppedAfterData().has(mid(2))).toBe(true);
    expect(smtp.duplicates()).toEqual([{ messageId: mid(2), at: expect.any(Array) }]);
  });
});
