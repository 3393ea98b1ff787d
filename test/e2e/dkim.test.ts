/**
 * DKIM for connector-managed e-mail accounts, through the HTTP API with the sandbox host and a real
 * SMTP server: the key is write-only and validated, the account shows the DNS TXT record to publish,
 * and every message a run sends carries a signature that a DKIM verifier (mailauth) accepts against
 * exactly that record.
 */
import { generateKeyPairSync } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { dkimVerify } from 'mailauth/lib/dkim/verify.js';
import { DateTime } from 'luxon';
import { startSandboxHost, type SandboxHost } from '../../sandbox/index.ts';
import { startTestSmtpServer, type TestSmtpServer } from '../support/smtp.ts';
import { startTestConnector, type TestConnector } from '../support/connector.ts';
import { installSandbox } from '../support/sandbox-installation.ts';

let smtp: TestSmtpServer;
let sandbox: SandboxHost;
let connector: TestConnector;

beforeAll(async () => {
  smtp = await startTestSmtpServer();
  sandbox = await startSandboxHost({ port: 0, smtp: { host: '127.0.0.1', port: smtp.port } });
  connector = await startTestConnector();
});

afterAll(async () => {
  await connector?.close();
  await sandbox?.stop();
  await smtp?.stop();
});

const pem = (type: 'rsa' | 'ed25519') =>
  (type === 'rsa' ? generateKeyPairSync('rsa', { modulusLength: 2048 }) : generateKeyPairSync('ed25519')).privateKey
    .export({ type: 'pkcs8', format: 'pem' })
    .toString();

async function managedAccount(id: string, token: string, dkim: Record<string, unknown> | null) {
  return connector.api('POST', `/api/installations/${id}/managed/email-accounts`, {
    token,
    body: {
      name: 'Faktury (DKIM)',
      fromAddress: 'faktury@spike.example',
      smtp: { host: '127.0.0.1', port: smtp.port, tls: 'none', user: null, password: null },
      dkim,
    },
  });
}

describe('DKIM signing of a connector-managed account', () => {
  it('signs every message of a run so that the published record verifies it', async () => {
    const type = 'rsa';
    const { id, token } = await installSandbox(connector.api, sandbox, { attachments: { pln: 'none', foreign: 'none' } });
    const key = pem(type);
    const created = await managedAccount(id, token, { domain: 'spike.example', selector: `courier-${type}`, privateKey: key });
    expect(created.status, JSON.stringify(created.body)).toBe(201);
    const record = created.body.dkim.dnsRecord;
    expect(record).toMatchObject({ name: `courier-${type}._domainkey.spike.example`, type: 'TXT' });
    expect(record.value).toMatch(new RegExp(`^v=DKIM1; k=${type}; p=[A-Za-z0-9+/=]+$`));
    // Write-only: no view ever carries the key.
    const listed = await connector.api('GET', `/api/installations/${id}/managed/email-accounts`, { token });
    expect(JSON.stringify(listed.body)).not.toContain('PRIVATE KEY');
    expect(listed.body.accounts[0].dkim.privateKey).toEqual({ set: true });

    const fromDate = DateTime.now().setZone('Europe/Warsaw').minus({ days: 3 }).toISODate();
    const saved = await connector.api('PUT', `/api/installations/${id}/settings`, { token, body: { emailAccount: created.body.id, fromDate } });
    expect(saved.status, JSON.stringify(saved.body)).toBe(200);
    const since = Date.now();
    const before = smtp.messages.length;
    expect((await connector.api('POST', `/api/installations/${id}/runs`, { token })).status).toBe(202);
    const run = await connector.waitForRun(id, token, { trigger: 'manual', since });
    const received = smtp.messages.slice(before);
    expect(run.counts.sent).toBeGreaterThan(0);
    expect(received).toHaveLength(run.counts.sent);

    const resolver = async (name: string, rrtype: string) => {
      if (rrtype === 'TXT' && name === record.name) return [[record.value]];
      throw Object.assign(new Error(`no ${rrtype} record for ${name}`), { code: 'ENOTFOUND' });
    };
    for (const m of received) {
      const { results } = await dkimVerify(m.raw, { resolver });
      expect(results, m.parsed.subject).toHaveLength(1);
      expect(results[0]!.status.result, JSON.stringify(results[0]!.status)).toBe('pass');
      expect(results[0]!.signingDomain).toBe('spike.example');
      expect(results[0]!.selector).toBe(`courier-${type}`);
    }

    // The same bytes with one changed body character no longer verify: the check can fail.
    const raw = received[0]!.raw;
    const body = raw.indexOf('\r\n\r\n') + 4;
    const at = raw.subarray(body).findIndex((b) => (b >= 0x41 && b <= 0x5a) || (b >= 0x61 && b <= 0x7a)) + body;
    expect(at).toBeGreaterThanOrEqual(body);
    const tampered = Buffer.from(raw);
    tampered[at] = tampered[at]! ^ 0x20; // one letter of the body in the other case
    const { results: bad } = await dkimVerify(tampered, { resolver });
    expect(bad[0]!.status.result).not.toBe('pass');
  });

  it('refuses a key that is not a private key, a short RSA key, an Ed25519 key, a domain the sender is not in and a bad selector, naming each field', async () => {
    const { id, token } = await installSandbox(connector.api, sandbox);
    const short = generateKeyPairSync('rsa', { modulusLength: 512 }).privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
    for (const [dkim, field, message] of [
      [{ domain: 'spike.example', selector: 's1', privateKey: 'not a key' }, 'dkim.privateKey', /PEM/],
      [{ domain: 'spike.example', selector: 's1', privateKey: short }, 'dkim.privateKey', /512 bits/],
      // nodemailer would send Ed25519-"signed" mail unsigned without an error: refused at the door.
      [{ domain: 'spike.example', selector: 's1', privateKey: pem('ed25519') }, 'dkim.privateKey', /RSA keys/],
      [{ domain: 'other.example', selector: 's1', privateKey: pem('rsa') }, 'dkim.domain', /not in other\.example/],
      [{ domain: 'spike.example', selector: 'bad selector', privateKey: pem('rsa') }, 'dkim.selector', /DNS label/],
    ] as const) {
      const res = await managedAccount(id, token, dkim);
      expect(res.status, JSON.stringify(res.body)).toBe(400);
      expect(res.body.error.code).toBe('validation');
      const problems = res.body.error.fields ?? [{ field: res.body.error.field, message: res.body.error.message }];
      expect(problems).toEqual(expect.arrayContaining([expect.objectContaining({ field, message: expect.stringMatching(message) })]));
    }
  });

  it('keeps the stored key when an update leaves it out, and removes signing with null', async () => {
    const { id, token } = await installSandbox(connector.api, sandbox);
    const created = await managedAccount(id, token, { domain: 'spike.example', selector: 's1', privateKey: pem('rsa') });
    expect(created.status).toBe(201);
    const renamed = await connector.api('PUT', `/api/installations/${id}/managed/email-accounts/${created.body.id}`, {
      token,
      body: { dkim: { selector: 's2' } },
    });
    expect(renamed.status, JSON.stringify(renamed.body)).toBe(200);
    expect(renamed.body.dkim).toMatchObject({ selector: 's2', privateKey: { set: true } });
    expect(renamed.body.dkim.dnsRecord.value).toBe(created.body.dkim.dnsRecord.value);
    const removed = await connector.api('PUT', `/api/installations/${id}/managed/email-accounts/${created.body.id}`, { token, body: { dkim: null } });
    expect(removed.body.dkim).toBeNull();
  });
});
