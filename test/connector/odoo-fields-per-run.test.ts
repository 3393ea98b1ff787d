/**
 * The Odoo adapter asks for field descriptions per model when a run first reads that model, and each
 * run (its own adapter) asks again: nothing of them is kept across runs. Against the sandbox host behind
 * a proxy that can answer `fields_get` as a host without the l10n_pl_edi module (its fields left out),
 * then as one with it installed: the next adapter sees the KSeF fields, and the invoice KSeF still holds
 * waits, where the adapter of the run before (without the module) saw no KSeF at all.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startSandboxHost, type SandboxHost } from '../../sandbox/index.ts';
import { OdooAdapter } from '../../src/connector/odoo/index.ts';
import type { HostConnection } from '../../src/connector/port.ts';
import { ruleKsef } from '../../src/jobs/rules/selection.ts';
import { waitsForKsef } from '../support/sandbox-installation.ts';

interface Seen {
  model: string;
  method: string;
  fields: unknown;
}

let sandbox: SandboxHost;
let server: http.Server;
let url: string;
/** While true the proxy answers like a host without l10n_pl_edi: its fields are not in `fields_get`. */
let withoutKsefModule = true;
const seen: Seen[] = [];

beforeAll(async () => {
  sandbox = await startSandboxHost({ port: 0, smtp: { host: '127.0.0.1', port: 2525 } });
  const target = new URL(sandbox.url);
  server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks);
      const up = http.request({ host: target.hostname, port: target.port, method: req.method, path: req.url, headers: req.headers }, (r) => {
        const out: Buffer[] = [];
        r.on('data', (c: Buffer) => out.push(c));
        r.on('end', () => {
          let answer = Buffer.concat(out);
          const call = JSON.parse(body.toString('utf8') || '{}') as { params?: { method?: string; args?: unknown[] } };
          const a = call.params?.args ?? [];
          if (call.params?.method === 'execute_kw') {
            seen.push({ model: String(a[3]), method: String(a[4]), fields: (a[6] as { fields?: unknown } | undefined)?.fields });
            if (a[4] === 'fields_get' && withoutKsefModule) {
              const parsed = JSON.parse(answer.toString('utf8')) as { result?: Record<string, unknown> };
              if (parsed.result) for (const k of Object.keys(parsed.result)) if (k.startsWith('l10n_pl_edi')) delete parsed.result[k];
              answer = Buffer.from(JSON.stringify(parsed));
            }
          }
          const headers = { ...r.headers };
          delete headers['content-length'];
          res.writeHead(r.statusCode ?? 502, headers);
          res.end(answer);
        });
      });
      up.end(body);
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterAll(async () => {
  await new Promise<void>((r) => server?.close(() => r()));
  await sandbox?.stop();
});

const connection = (): HostConnection => ({
  kind: 'odoo',
  baseUrl: url,
  database: sandbox.database,
  companyId: null,
  integration: { login: 'admin', secret: 'admin' },
  operator: { login: 'ksiegowa', secret: 'ksiegowa' },
});

describe('field descriptions: per model on first use, afresh in every run', () => {
  it('a listing that finds nothing asks only for account.move fields and reads no company record', async () => {
    const adapter = new OdooAdapter(connection());
    const from = seen.length;
    try {
      await adapter.checkOperator();
      const pages = [];
      for await (const page of adapter.listDueInvoices({
        documents: 'confirmed_only',
        dateBasis: 'issue_date',
        fromDate: '2999-01-01',
        pageSize: 200,
        excludeHostMarkedSent: true,
      }))
        pages.push(page);
      expect(pages).toEqual([]);
      const calls = seen.slice(from);
      expect(calls.filter((c) => c.method === 'fields_get').map((c) => c.model)).toEqual(['account.move']);
      expect(calls.some((c) => c.model === 'res.company')).toBe(false);
    } finally {
      adapter.close();
    }
  });

  it('an l10n_pl_edi module installed between two runs is seen by the next run: the invoice KSeF holds then waits', async () => {
    const held = sandbox.records('account.move').find((m) => waitsForKsef(m) && m['state'] === 'posted')!;
    expect(held).toBeDefined();

    withoutKsefModule = true;
    seen.length = 0;
    const before = new OdooAdapter(connection());
    try {
      const [inv] = await before.getInvoices([String(held['id'])]);
      expect(inv!.ksef).toBeNull();
      expect(ruleKsef(inv!)).toBeNull();
      // Within one run the descriptions are asked once per model, whatever is read after.
      await before.getInvoices([String(held['id'])]);
    } finally {
      before.close();
    }
    const firstRun = seen.splice(0);
    expect(firstRun.filter((c) => c.method === 'fields_get' && c.model === 'account.move')).toHaveLength(1);
    expect(firstRun.find((c) => c.model === 'account.move' && c.method === 'search_read')!.fields).not.toContain('l10n_pl_edi_status');

    withoutKsefModule = false; // the module is installed on the host
    const after = new OdooAdapter(connection());
    try {
      const [inv] = await after.getInvoices([String(held['id'])]);
      expect(inv!.ksef?.status).toBe(held['l10n_pl_edi_status']);
      expect(ruleKsef(inv!)?.reason).toBe('waiting_for_ksef');
    } finally {
      after.close();
    }
    const secondRun = seen.splice(0);
    expect(secondRun.find((c) => c.model === 'account.move' && c.method === 'search_read')!.fields).toContain('l10n_pl_edi_status');
    expect(secondRun.some((c) => c.model === 'res.company' && c.method === 'fields_get')).toBe(true);
  });
});
