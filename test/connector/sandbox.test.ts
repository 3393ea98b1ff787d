/**
 * The sandbox host over real HTTP (127.0.0.1, port 0): Odoo 18's JSON-RPC shapes and error payloads,
 * the send wizard, the session-guarded invoice print, the seed's promises (counts, checksums, amounts
 * to the grosz, determinism) and the state file.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import fc from 'fast-check';
import { DateTime } from 'luxon';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildSandboxOrm, SANDBOX_USERS, startSandboxHost, warsawToday } from '../../sandbox/index.ts';
import type { SandboxHost } from '../../sandbox/index.ts';

type Rec = Record<string, unknown>;
interface RpcAnswer {
  status: number;
  body: {
    jsonrpc: string;
    id: unknown;
    result?: unknown;
    error?: { code: number; message: string; data: { name: string; message: string; arguments: unknown[]; context: Rec; debug: string } };
  };
}

const SMTP = { host: '127.0.0.1', port: 2525, user: null, password: null, encryption: 'none' as const };

async function post(url: string, body: string | Rec, headers: Record<string, string> = {}): Promise<RpcAnswer & { headers: Headers }> {
  const res = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: typeof body === 'string' ? body : JSON.stringify(body),
    signal: AbortSignal.timeout(20_000),
  });
  return { status: res.status, headers: res.headers, body: (await res.json()) as RpcAnswer['body'] };
}

function client(sb: SandboxHost) {
  let id = 0;
  const call = async (service: string, method: string, args: unknown[]): Promise<RpcAnswer> =>
    post(`${sb.url}/jsonrpc`, { jsonrpc: '2.0', method: 'call', id: ++id, params: { service, method, args } });
  const uids = new Map<string, number>();
  const as =
    (login: string, password = login) =>
    async (model: string, method: string, args: unknown[] = [], kwargs: Rec = {}): Promise<RpcAnswer> => {
      let uid = uids.get(login);
      if (uid === undefined) {
        uid = (await call('common', 'login', [sb.database, login, password])).body.result as number;
        uids.set(login, uid);
      }
      return call('object', 'execute_kw', [sb.database, uid, password, model, method, args, kwargs]);
    };
  // JSON answers are checked by the assertions themselves; `any` keeps the test code short.

  const ok = async (p: Promise<RpcAnswer>): Promise<any> => {
    const a = await p;
    if (a.body.error) throw new Error(`${a.body.error.data.name}: ${a.body.error.data.message}`);
    return a.body.result;
  };
  return { call, as, ok };
}

const idOf = (v: unknown): number => (Array.isArray(v) ? (v[0] as number) : (v as number));
/** Exact minor units of a JSON amount, through its shortest decimal text. */
function minor(v: unknown): bigint {
  const s = String(v);
  expect(s).toMatch(/^-?\d+(\.\d{1,2})?$/);
  const [i, f = ''] = s.replace('-', '').split('.');
  const m = BigInt(i as string) * 100n + BigInt((f + '00').slice(0, 2));
  return s.startsWith('-') ? -m : m;
}
function scaled(v: unknown, scale: number): bigint {
  const s = String(v);
  const neg = s.startsWith('-');
  const [i, f = ''] = s.replace('-', '').split('.');
  const r = BigInt(i as string) * 10n ** BigInt(scale) + BigInt((f + '0'.repeat(scale)).slice(0, scale) || '0');
  return neg ? -r : r;
}
function roundDiv(n: bigint, d: bigint): bigint {
  const neg = n < 0n;
  const a = neg ? -n : n;
  const q = (2n * a + d) / (2n * d);
  return neg ? -q : q;
}
function nipValid(nip: string): boolean {
  if (!/^\d{10}$/.test(nip)) return false;
  const w = [6, 5, 7, 2, 3, 4, 5, 6, 7];
  const s = w.reduce((acc, x, i) => acc + x * Number(nip[i]), 0) % 11;
  return s !== 10 && s === Number(nip[9]);
}
function crc8(text: string): number {
  let c = 0;
  for (const b of Buffer.from(text)) {
    c ^= b;
    for (let i = 0; i < 8; i++) c = c & 0x80 ? ((c << 1) ^ 0x07) & 0xff : (c << 1) & 0xff;
  }
  return c;
}

describe('sandbox host: JSON-RPC protocol', () => {
  let sb: SandboxHost;
  let rpc: ReturnType<typeof client>;
  const today = warsawToday();

  beforeAll(async () => {
    sb = await startSandboxHost({ smtp: SMTP, stateFile: null });
    rpc = client(sb);
  });
  afterAll(async () => {
    await sb?.stop();
  });

  it('binds 127.0.0.1 on a free port and presents itself as Odoo 18.0', async () => {
    expect(sb.url).toBe(`http://127.0.0.1:${sb.port}`);
    expect(sb.port).toBeGreaterThan(0);
    const v = await rpc.call('common', 'version', []);
    expect(v.status).toBe(200);
    expect(v.body.result).toEqual({ server_version: '18.0', server_version_info: [18, 0, 0, 'final', 0, ''], server_serie: '18.0', protocol_version: 1 });
    // real 18.0 has no /web/version route (19 has it)
    const web = await fetch(`${sb.url}/web/version`);
    expect(web.status).toBe(404);
    expect(sb.profile).toMatchObject({ version: '18.0', defaultLang: 'en_US', apiKeys: true, json2: false, modules: { l10nPlEdi: true, customFields: true } });
  });

  it('login and authenticate give the uid for good credentials and false for bad ones', async () => {
    expect((await rpc.call('common', 'login', ['sandbox', 'admin', 'admin'])).body.result).toBe(2);
    expect((await rpc.call('common', 'authenticate', ['sandbox', 'ksiegowa', 'ksiegowa', {}])).body.result).toBe(6);
    expect((await rpc.call('common', 'login', ['sandbox', 'ksiegowa', 'wrong'])).body.result).toBe(false);
    expect((await rpc.call('common', 'authenticate', ['sandbox', 'nobody', 'x', {}])).body.result).toBe(false);
    expect((await rpc.call('common', 'login', ['sandbox', 'admin', ''])).body.result).toBe(false);
    const wrongDb = await rpc.call('common', 'login', ['no_such_db', 'admin', 'admin']);
    expect(wrongDb.status).toBe(200);
    expect(wrongDb.body.error?.data.name).toBe('psycopg2.OperationalError');
    expect(wrongDb.body.error?.data.message).toContain('database "no_such_db" does not exist');
  });

  it('search_read answers in Odoo shapes: false for empty, [id, name] for many2one, id lists, ISO dates, UTC datetimes', async () => {
    const k = rpc.as('ksiegowa');
    const partners = await rpc.ok(
      k(
        'res.partner',
        'search_read',
        [
          [
            ['customer_rank', '>', 0],
            ['email', '=', false],
          ],
        ],
        { fields: ['name', 'email', 'parent_id', 'country_id', 'child_ids', 'vat'] },
      ),
    );
    expect(partners.length).toBeGreaterThan(0);
    for (const p of partners) {
      expect(p.email).toBe(false);
      expect(p.parent_id).toBe(false);
      expect(p.country_id).toEqual([expect.any(Number), expect.any(String)]);
      expect(Array.isArray(p.child_ids)).toBe(true);
      expect(Object.keys(p).sort()).toEqual(['child_ids', 'country_id', 'email', 'id', 'name', 'parent_id', 'vat']);
    }
    const [move] = await rpc.ok(
      k(
        'account.move',
        'search_read',
        [
          [
            ['state', '=', 'posted'],
            ['move_type', '=', 'out_invoice'],
          ],
        ],
        {
          fields: ['name', 'partner_id', 'invoice_date', 'write_date', 'invoice_line_ids', 'amount_total', 'is_move_sent', 'narration'],
          limit: 1,
          order: 'id',
        },
      ),
    );
    expect(move.partner_id).toEqual([expect.any(Number), expect.any(String)]);
    expect(move.invoice_date).toMatch(/^\d{4}-\d{2}-\d{2}$/);
    expect(move.write_date).toMatch(/^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}$/);
    expect(move.invoice_line_ids.every((x: unknown) => typeof x === 'number')).toBe(true);
    expect(typeof move.amount_total).toBe('number');
    expect(typeof move.is_move_sent).toBe('boolean');
    const drafts = await rpc.ok(k('account.move', 'search_read', [[['state', '=', 'draft']]], { fields: ['name', 'payment_reference', 'invoice_date'] }));
    expect(drafts.every((d: Rec) => d.name === '/' && d.payment_reference === false)).toBe(true);
    expect(drafts.some((d: Rec) => d.invoice_date === false)).toBe(true);
    const fields = await rpc.ok(k('account.move', 'fields_get', [], { attributes: ['type', 'string', 'selection', 'relation'] }));
    expect(fields.state).toEqual({
      type: 'selection',
      string: 'Status',
      selection: [
        ['draft', 'Draft'],
        ['posted', 'Posted'],
        ['cancel', 'Cancelled'],
      ],
    });
    expect(fields.partner_id).toEqual({ type: 'many2one', string: 'Partner', relation: 'res.partner' });
    expect(fields.sending_data.type).toBe('json');
    expect(fields.x_split_payment.type).toBe('boolean');
    expect(fields.l10n_pl_edi_number.type).toBe('char');
  });

  it('keyset paging on id visits every invoice once, in id order, and agrees with search_count', async () => {
    const k = rpc.as('ksiegowa');
    const domain = [['move_type', 'in', ['out_invoice', 'out_refund']]];
    const seen: number[] = [];
    let last = 0;
    for (;;) {
      const page = await rpc.ok(k('account.move', 'search_read', [[...domain, ['id', '>', last]]], { fields: ['id'], order: 'id', limit: 37 }));
      if (page.length === 0) break;
      seen.push(...page.map((r: Rec) => r.id as number));
      last = page[page.length - 1].id;
    }
    const count = await rpc.ok(k('account.move', 'search_count', [domain]));
    expect(seen.length).toBe(count);
    expect(new Set(seen).size).toBe(count);
    expect([...seen].sort((a, b) => a - b)).toEqual(seen);
    const offsetPage = await rpc.ok(k('account.move', 'search', [domain], { offset: 37, limit: 5, order: 'id' }));
    expect(offsetPage).toEqual(seen.slice(37, 42));
  });

  it('evaluates prefix domains, negative operators with empty values, like patterns, dotted paths and multi-key order', async () => {
    const k = rpc.as('ksiegowa');
    const partners = sb.records('res.partner');
    const byName = (q: unknown[]) => rpc.ok(k('res.partner', 'search', [q], { order: 'id' }));
    const ids = (f: (p: Rec) => boolean) => partners.filter((p) => p.active === true && f(p)).map((p) => p.id);
    expect(await byName([['email', '!=', false]])).toEqual(ids((p) => p.email !== false));
    expect(await byName(['|', ['city', '=', 'Kraków'], ['city', '=', 'Poznań']])).toEqual(ids((p) => p.city === 'Kraków' || p.city === 'Poznań'));
    expect(await byName(['!', ['city', '=', 'Kraków']])).toEqual(ids((p) => p.city !== 'Kraków'));
    expect(await byName([['name', 'ilike', 'sp. z o.o']])).toEqual(ids((p) => typeof p.name === 'string' && p.name.toLowerCase().includes('sp. z o.o')));
    expect(await byName([['email', '=like', '%@kodex.example']])).toEqual(ids((p) => typeof p.email === 'string' && p.email.endsWith('@kodex.example')));
    expect(
      await byName([
        ['type', '=', 'invoice'],
        ['parent_id.vat', 'like', 'DE'],
      ]),
    ).toEqual(ids((p) => p.type === 'invoice' && partners.some((q) => q.id === idOf(p.parent_id) && String(q.vat).includes('DE'))));
    expect(await byName([['city', 'not in', ['Kraków', false]]])).toEqual(ids((p) => p.city !== 'Kraków' && p.city !== false));
    const archived = await rpc.ok(
      k('res.partner', 'search', [
        [
          ['active', '=', false],
          ['type', '=', 'invoice'],
        ],
      ]),
    );
    expect(archived.length).toBe(1);
    const ordered = await rpc.ok(
      k(
        'account.move',
        'search_read',
        [
          [
            ['move_type', '=', 'out_invoice'],
            ['invoice_date', '!=', false],
          ],
        ],
        { fields: ['invoice_date'], order: 'invoice_date desc, id' },
      ),
    );
    for (let i = 1; i < ordered.length; i++) {
      const a = ordered[i - 1];
      const b = ordered[i];
      expect(a.invoice_date > b.invoice_date || (a.invoice_date === b.invoice_date && a.id < b.id)).toBe(true);
    }
    const viaEmail = await rpc.ok(k('account.move', 'search_count', [[['partner_id.email', '=', false]]]));
    expect(viaEmail).toBeGreaterThan(0);
  });

  it('answers errors with HTTP 200 and Odoo exception classes', async () => {
    const cases: [Promise<RpcAnswer>, string, RegExp][] = [
      // messages in the user's language when the call has no context lang (ksiegowa is pl_PL, admin en_US)
      [
        rpc.as('ksiegowa')('ir.mail_server', 'search_read', [[]], { fields: ['name'] }),
        'odoo.exceptions.AccessError',
        /Nie masz dostępu do rekordów 'Serwer poczty' \(ir\.mail_server\).*Administracja\/Ustawienia/s,
      ],
      [rpc.as('ksiegowa')('fetchmail.server', 'search', [[]]), 'odoo.exceptions.AccessError', /fetchmail\.server/],
      [rpc.call('object', 'execute_kw', ['sandbox', 6, 'wrong-password', 'account.move', 'search', [[]], {}]), 'odoo.exceptions.AccessDenied', /Access Denied/],
      [rpc.as('admin')('no.such.model', 'search', [[]]), 'odoo.exceptions.UserError', /^Object no\.such\.model doesn't exist$/],
      [rpc.as('admin')('account.move', 'search_read', [[['no_such_field', '=', 1]]]), 'builtins.ValueError', /Invalid field account\.move\.no_such_field/],
      [
        rpc.as('admin')('account.move', 'read', [[1], ['name', 'no_such_field']]),
        'builtins.ValueError',
        /Invalid field 'no_such_field' on model 'account\.move'/,
      ],
      [
        rpc.as('admin')('account.move', 'write', [[999999], { ref: 'x' }]),
        'odoo.exceptions.MissingError',
        /Record does not exist or has been deleted\.\n\(Record: account\.move\(999999,\), User: 2\)/,
      ],
      [rpc.as('ksiegowa')('account.move', 'write', [[999999], { ref: 'x' }]), 'odoo.exceptions.MissingError', /Rekord nie istnieje lub został usunięty/],
      [
        rpc.as('admin')('account.move', 'action_do_magic', [[1]]),
        'builtins.AttributeError',
        /The method 'action_do_magic' does not exist on the model 'account\.move'/,
      ],
      [rpc.as('admin')('account.move', 'write', [[1], { state: 'bogus' }]), 'builtins.ValueError', /Wrong value for account\.move\.state/],
      [
        rpc.as('admin')('account.move', 'write', [[1], { invoice_line_ids: [[6, 0, 'x']] }]),
        'builtins.ValueError',
        /Wrong value for account\.move\.invoice_line_ids/,
      ],
      [rpc.as('admin')('res.partner', 'write', [[1], { parent_id: 1 }]), 'odoo.exceptions.ValidationError', /recursive/],
    ];
    const linesBefore = sb.records('account.move.line').filter((l) => idOf(l.move_id) === 1).length;
    for (const [p, name, message] of cases) {
      const a = await p;
      expect(a.status).toBe(200);
      expect(a.body.result).toBeUndefined();
      expect(a.body.error).toMatchObject({ code: 200, message: 'Odoo Server Error', data: { name, context: {} } });
      expect(a.body.error?.data.message).toMatch(message);
      expect(a.body.error?.data.arguments).toEqual(expect.any(Array));
      expect(a.body.error?.data.debug).toContain('Traceback');
    }
    // a refused write changed nothing
    expect(sb.records('account.move.line').filter((l) => idOf(l.move_id) === 1).length).toBe(linesBefore);
    // read of a missing id is not an error in real Odoo: {id} when only id is asked, left out otherwise
    expect(await rpc.ok(rpc.as('admin')('account.move', 'read', [[999999], ['id']]))).toEqual([{ id: 999999 }]);
    expect(await rpc.ok(rpc.as('admin')('account.move', 'read', [[999999, 1], ['name']]))).toEqual([expect.objectContaining({ id: 1 })]);
  });

  it('lets only administrators read mail servers: the sink, a from_filter one and an inactive one', async () => {
    const servers = await rpc.ok(
      rpc.as('admin')('ir.mail_server', 'search_read', [[]], {
        fields: ['name', 'smtp_host', 'smtp_port', 'from_filter', 'smtp_encryption', 'active'],
        context: { active_test: false },
      }),
    );
    expect(servers).toContainEqual(
      expect.objectContaining({ name: 'Sandbox SMTP', smtp_host: '127.0.0.1', smtp_port: 2525, from_filter: false, smtp_encryption: 'none', active: true }),
    );
    expect(servers).toContainEqual(expect.objectContaining({ from_filter: 'inny-dostawca.example', active: true }));
    expect(servers.filter((s: Rec) => s.active === false)).toHaveLength(1);
    const active = await rpc.ok(rpc.as('admin')('ir.mail_server', 'search_count', [[]]));
    expect(active).toBe(servers.length - 1);
    const users = await rpc.ok(
      rpc.as('ksiegowa')('res.users', 'search_read', [[['login', 'in', ['ksiegowa', 'handlowiec']]]], { fields: ['login', 'email', 'groups_id'] }),
    );
    expect(users.find((u: Rec) => u.login === 'ksiegowa').email).toBe('anna.nowak@spike.example');
    expect(users.find((u: Rec) => u.login === 'handlowiec').email).toMatch(/@inny-dostawca\.example$/);
  });

  it('message_post adds a note that mail.message shows, authored by the calling user', async () => {
    const k = rpc.as('ksiegowa');
    const [inv] = await rpc.ok(k('account.move', 'search', [[['state', '=', 'posted']]], { limit: 1, order: 'id' }));
    const msgId = await rpc.ok(
      k('account.move', 'message_post', [[inv]], {
        body: '<p>Wysłano fakturę &amp; log</p>',
        message_type: 'comment',
        subtype_xmlid: 'mail.mt_note',
        body_is_html: true,
        context: { no_new_invoice: true },
      }),
    );
    expect(typeof msgId).toBe('number');
    const [msg] = await rpc.ok(k('mail.message', 'read', [[msgId], ['model', 'res_id', 'body', 'message_type', 'subtype_id', 'author_id', 'date']]));
    expect(msg).toMatchObject({
      model: 'account.move',
      res_id: inv,
      body: '<p>Wysłano fakturę &amp; log</p>',
      message_type: 'comment',
      subtype_id: [expect.any(Number), 'Note'],
      author_id: [8, 'Anna Nowak'],
    });
    expect(msg.date).toMatch(/^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}$/);
    const plain = await rpc.ok(k('account.move', 'message_post', [[inv]], { body: 'a < b', message_type: 'comment', subtype_xmlid: 'mail.mt_note' }));
    const [p] = await rpc.ok(k('mail.message', 'read', [[plain], ['body']]));
    expect(p.body).toBe('<p>a &lt; b</p>');
  });

  it('write bumps write_date; posting a created draft numbers it and computes its totals', async () => {
    const k = rpc.as('ksiegowa');
    const partner = sb.records('res.partner').find((p) => p.is_company === true && p.customer_rank === 1) as Rec;
    const tax23 = sb.records('account.tax').find((t) => t.name === '23%') as Rec;
    const id = await rpc.ok(
      k('account.move', 'create', [
        {
          move_type: 'out_invoice',
          partner_id: partner.id,
          invoice_date: today,
          invoice_line_ids: [
            [0, 0, { name: 'Usługa testowa', quantity: 3, price_unit: 33.33, discount: 10, tax_ids: [[6, 0, [tax23.id]]] }],
            [0, 0, { display_type: 'line_section', name: 'Sekcja' }],
          ],
        },
      ]),
    );
    const [draft] = await rpc.ok(
      k('account.move', 'read', [
        [id],
        ['name', 'state', 'amount_untaxed', 'amount_tax', 'amount_total', 'write_date', 'invoice_line_ids', 'commercial_partner_id'],
      ]),
    );
    // 3 × 33.33 × 0.9 = 89.991 -> 89.99; VAT 23% = 20.6977 -> 20.70
    expect(draft).toMatchObject({
      name: '/',
      state: 'draft',
      amount_untaxed: 89.99,
      amount_tax: 20.7,
      amount_total: 110.69,
      commercial_partner_id: [partner.id, partner.name],
    });
    expect(draft.invoice_line_ids).toHaveLength(2);
    sb.write('account.move', id, { write_date: '2000-01-01 00:00:00' });
    expect((sb.records('account.move').find((m) => m.id === id) as Rec).write_date).toBe('2000-01-01 00:00:00');
    await rpc.ok(k('account.move', 'write', [[id], { state: 'posted' }]));
    const [posted] = await rpc.ok(k('account.move', 'read', [[id], ['name', 'state', 'write_date', 'payment_reference']]));
    expect(posted.name).toMatch(new RegExp(`^FV/${today.slice(0, 4)}/\\d{5}$`));
    expect(posted.payment_reference).toBe(posted.name);
    expect(posted.write_date > '2000-01-01 00:00:00').toBe(true);
    const names = sb
      .records('account.move')
      .filter((m) => m.name !== '/')
      .map((m) => m.name);
    expect(new Set(names).size).toBe(names.length);
    await rpc.ok(k('account.move', 'unlink', [[id]]));
    expect(await rpc.ok(k('account.move', 'search_count', [[['id', '=', id]]]))).toBe(0);
    expect(sb.records('account.move.line').some((l) => idOf(l.move_id) === id)).toBe(false);
  });

  it('renders the 18 send wizard (move_id, mail_template_id, mail_subject/body/lang) in the customer language, escaped, one per create', async () => {
    const k = rpc.as('ksiegowa');
    const moves = sb.records('account.move');
    const partners = new Map(sb.records('res.partner').map((p) => [p.id, p]));
    const langOf = (m: Rec) => (partners.get(idOf(m.partner_id)) as Rec).lang;
    const pl = moves.find((m) => m.state === 'posted' && m.move_type === 'out_invoice' && langOf(m) === 'pl_PL') as Rec;
    const en = moves.find((m) => m.state === 'posted' && m.move_type === 'out_invoice' && langOf(m) === 'en_US') as Rec;
    const credit = moves.find((m) => m.state === 'posted' && m.move_type === 'out_refund' && langOf(m) === 'pl_PL') as Rec;
    const tmpl = (name: string) => (sb.records('ir.model.data').find((x) => x.model === 'mail.template' && x.name === name) as Rec).res_id;
    const ctx = (m: Rec) => ({ context: { lang: 'pl_PL', active_model: 'account.move', active_ids: [m.id], active_id: m.id } });
    const render = async (m: Rec, templateId?: unknown) => {
      const vals: Rec = { move_id: m.id };
      if (templateId !== undefined) vals.mail_template_id = templateId;
      const [wid] = await rpc.ok(k('account.move.send.wizard', 'create', [[vals]], ctx(m)));
      const [w] = await rpc.ok(
        k('account.move.send.wizard', 'read', [
          [wid],
          ['mail_subject', 'mail_body', 'mail_lang', 'mail_template_id', 'mail_partner_ids', 'sending_methods', 'pdf_report_id', 'move_id'],
        ]),
      );
      expect(await rpc.ok(k('account.move.send.wizard', 'unlink', [[wid]]))).toBe(true);
      return w;
    };
    const wPl = await render(pl, tmpl('email_template_edi_invoice'));
    expect(wPl).toMatchObject({
      mail_lang: 'pl_PL',
      mail_subject: `Spike Sp. z o.o. Faktura (nr ${String(pl.name)})`,
      sending_methods: ['email'],
      pdf_report_id: [222, 'Invoices'],
      move_id: [pl.id, pl.name],
    });
    expect(wPl.mail_body).toContain(`fakturę <strong>${String(pl.name)}</strong>`);
    // amounts as pl_PL prints them: U+00A0 between thousands, decimal comma
    expect(wPl.mail_body).toContain(
      `${Number(pl.amount_total)
        .toFixed(2)
        .replace('.', ',')
        .replace(/\B(?=(\d{3})+,)/g, '\u00a0')} PLN`,
    );
    const wEn = await render(en, tmpl('email_template_edi_invoice'));
    expect(wEn.mail_lang).toBe('en_US');
    expect(wEn.mail_subject).toBe(`Spike Sp. z o.o. Invoice (Ref ${String(en.name)})`);
    // no template given: Odoo picks its credit-note template for a refund
    const wCredit = await render(credit);
    expect(wCredit.mail_template_id).toEqual([tmpl('email_template_edi_credit_note'), 'Faktura korygująca dla klienta']);
    expect(wCredit.mail_subject).toContain('Faktura korygująca');
    expect(wCredit.mail_body).toContain(String((moves.find((m) => m.id === idOf(credit.reversed_entry_id)) as Rec).name));
    // values are escaped in the body, not in the subject
    const pid = idOf(pl.partner_id);
    const before = (partners.get(pid) as Rec).name;
    sb.write('res.partner', pid, { name: 'Zakład <b>Kowalski</b> & "Syn"' });
    try {
      const escaped = await render(pl, tmpl('email_template_edi_invoice'));
      expect(escaped.mail_body).toContain('Zakład &lt;b&gt;Kowalski&lt;/b&gt; &amp; &quot;Syn&quot;');
      expect(escaped.mail_body).not.toContain('<b>Kowalski');
    } finally {
      sb.write('res.partner', pid, { name: before });
    }
    const err = async (p: Promise<RpcAnswer>) => (await p).body.error?.data;
    // the 17 names and the adapter's old names are Odoo 18's ValueErrors
    expect(await err(k('account.move.send.wizard', 'create', [[{ move_id: pl.id, template_id: tmpl('email_template_edi_invoice') }]]))).toMatchObject({
      name: 'builtins.ValueError',
      message: "Invalid field 'template_id' on model 'account.move.send.wizard'",
    });
    expect(await err(k('account.move.send.wizard', 'create', [[{ mail_template_id: tmpl('email_template_edi_invoice') }]]))).toMatchObject({
      name: 'odoo.exceptions.ValidationError',
    });
    expect((await err(k('account.move.send.wizard', 'create', [[{ move_id: pl.id, mail_template_id: tmpl('email_template_edi_sale') }]])))?.name).toBe(
      'odoo.exceptions.UserError',
    );
    // one wizard per create; many read and unlinked in one call
    expect(await err(k('account.move.send.wizard', 'create', [[{ move_id: pl.id }, { move_id: en.id }]]))).toMatchObject({
      name: 'builtins.ValueError',
      message: expect.stringMatching(/^Expected singleton: account\.move\.send\.wizard\(/),
    });
    const [a] = await rpc.ok(k('account.move.send.wizard', 'create', [[{ move_id: pl.id }]]));
    const [b] = await rpc.ok(k('account.move.send.wizard', 'create', [[{ move_id: en.id }]]));
    expect((await rpc.ok(k('account.move.send.wizard', 'read', [[a, b], ['mail_lang']]))).map((w: Rec) => w.mail_lang)).toEqual(['pl_PL', 'en_US']);
    expect(await rpc.ok(k('account.move.send.wizard', 'unlink', [[a, b]]))).toBe(true);
    // 17's model is abstract on 18: nothing to see, nobody may create it; a viewer may not create the wizard
    expect(await rpc.ok(k('account.move.send', 'fields_get', []))).toEqual({});
    expect(await err(k('account.move.send', 'create', [[{ move_ids: [[6, 0, [pl.id]]] }]], { context: { lang: 'pl_PL' } }))).toMatchObject({
      name: 'odoo.exceptions.AccessError',
      message: expect.stringContaining('Obecnie żadna grupa nie zezwala na tę operację'),
    });
    expect(await err(rpc.as('handlowiec')('account.move.send.wizard', 'create', [[{ move_id: pl.id }]]))).toMatchObject({
      name: 'odoo.exceptions.AccessError',
      message: expect.stringContaining('(account.move.send.wizard)'),
    });
  });

  it('prints an invoice as PDF only for a web session, with the invoice number as text', async () => {
    const moves = sb.records('account.move');
    const inv = moves.find((m) => m.state === 'posted' && Array.isArray(m.invoice_line_ids) && m.invoice_line_ids.length === 200) as Rec;
    expect(inv).toBeDefined();
    const noCookie = await fetch(`${sb.url}/report/pdf/account.report_invoice/${String(inv.id)}`, { redirect: 'manual' });
    expect(noCookie.status).toBe(303);
    expect(noCookie.headers.get('location')).toMatch(/^\/web\/login/);
    const bad = await post(`${sb.url}/web/session/authenticate`, {
      jsonrpc: '2.0',
      method: 'call',
      id: 1,
      params: { db: 'sandbox', login: 'ksiegowa', password: 'nope' },
    });
    expect(bad.body.error?.data.name).toBe('odoo.exceptions.AccessDenied');
    const auth = await post(`${sb.url}/web/session/authenticate`, {
      jsonrpc: '2.0',
      method: 'call',
      id: 1,
      params: { db: 'sandbox', login: 'ksiegowa', password: 'ksiegowa' },
    });
    expect((auth.body.result as Rec).uid).toBe(6);
    const cookie = (auth.headers.get('set-cookie') ?? '').split(';')[0] as string;
    expect(cookie).toMatch(/^session_id=.+/);
    const res = await fetch(`${sb.url}/report/pdf/account.report_invoice/${String(inv.id)}`, { headers: { cookie } });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('application/pdf');
    const pdf = Buffer.from(await res.arrayBuffer());
    expect(pdf.subarray(0, 5).toString()).toBe('%PDF-');
    const dir = mkdtempSync(path.join(tmpdir(), 'sandbox-pdf-'));
    try {
      const file = path.join(dir, 'invoice.pdf');
      writeFileSync(file, pdf);
      const text = execFileSync('pdftotext', ['-layout', file, '-'], { encoding: 'utf8', timeout: 20_000 });
      expect(text).toContain(String(inv.name));
      expect(text).toContain(Number(inv.amount_total).toFixed(2));
      const info = execFileSync('pdfinfo', [file], { encoding: 'utf8', timeout: 20_000 });
      expect(Number(/Pages:\s+(\d+)/.exec(info)?.[1])).toBeGreaterThan(1);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
    const missing = await fetch(`${sb.url}/report/pdf/account.report_invoice/999999`, { headers: { cookie } });
    expect(missing.status).toBe(400);
  });

  it('answers malformed JSON with a JSON-RPC error and an oversized body with 413, and keeps serving', async () => {
    const garbage = await post(`${sb.url}/jsonrpc`, '{"jsonrpc": "2.0", "params": ');
    expect(garbage.status).toBe(200);
    expect(garbage.body.error?.data.name).toBe('werkzeug.exceptions.BadRequest');
    const notObject = await post(`${sb.url}/jsonrpc`, '[1,2]');
    expect(notObject.body.error?.data.name).toBe('werkzeug.exceptions.BadRequest');
    const big = await fetch(`${sb.url}/jsonrpc`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: 'x'.repeat(9 * 1024 * 1024) });
    expect(big.status).toBe(413);
    const unknownService = await rpc.call('nope', 'x', []);
    expect(unknownService.body.error?.data.name).toBe('builtins.KeyError');
    expect((await rpc.call('common', 'version', [])).body.result).toBeDefined();
    expect((await fetch(`${sb.url}/jsonrpc`)).status).toBe(405);
    expect((await fetch(`${sb.url}/nope`)).status).toBe(404);
  });
});

describe('sandbox host: robustness', () => {
  let sb: SandboxHost;
  beforeAll(async () => {
    sb = await startSandboxHost({ smtp: SMTP, stateFile: null, invoiceCount: 20 });
  });
  afterAll(async () => {
    await sb?.stop();
  });

  it('answers any execute_kw arguments with a result or an Odoo error payload, never a crash', async () => {
    const json = fc.jsonValue({ maxDepth: 3 });
    const methods = ['search_read', 'search', 'read', 'search_count', 'write', 'create', 'unlink', 'fields_get', 'message_post', 'name_search', 'nope'];
    const models = ['account.move', 'res.partner', 'account.move.line', 'mail.message', 'account.move.send.wizard', 'nope.model'];
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom(...models),
        fc.constantFrom(...methods),
        fc.array(json, { maxLength: 4 }),
        fc.dictionary(fc.constantFrom('fields', 'limit', 'offset', 'order', 'context', 'domain', 'vals'), json),
        async (model, method, args, kwargs) => {
          const a = await post(`${sb.url}/jsonrpc`, {
            jsonrpc: '2.0',
            method: 'call',
            id: 7,
            params: { service: 'object', method: 'execute_kw', args: ['sandbox', 2, 'admin', model, method, args, kwargs] },
          });
          expect(a.status).toBe(200);
          expect(a.body.id).toBe(7);
          // builtins.Exception would be an internal fault of the sandbox (a JavaScript error), not Odoo's answer
          if (a.body.error)
            expect(a.body.error.data.name, a.body.error.data.message).toMatch(
              /^(odoo\.exceptions\.\w+|builtins\.(KeyError|ValueError|TypeError|AttributeError)|psycopg2\.errors\.\w+)$/,
            );
          else expect('result' in a.body).toBe(true);
        },
      ),
      { numRuns: 150 },
    );
    expect(
      (await post(`${sb.url}/jsonrpc`, { jsonrpc: '2.0', method: 'call', id: 1, params: { service: 'common', method: 'version', args: [] } })).body.result,
    ).toBeDefined();
  });
});

describe('sandbox host: seed', () => {
  let sb: SandboxHost;
  const TODAY = '2026-11-27';
  let moves: Rec[];
  let lines: Rec[];
  let partners: Rec[];

  beforeAll(async () => {
    sb = await startSandboxHost({
      smtp: SMTP,
      today: TODAY,
      stateFile: null,
      imap: { host: '127.0.0.1', port: 1143, user: 'faktury@spike.example', password: 'imap-secret', ssl: false },
    });
    moves = sb.records('account.move');
    lines = sb.records('account.move.line');
    partners = sb.records('res.partner');
  });
  afterAll(async () => {
    await sb?.stop();
  });

  const daysAgo = (n: number): string => DateTime.fromISO(TODAY).minus({ days: n }).toISODate() as string;

  it('has a Polish seller with a valid NIP and a valid PLN IBAN', () => {
    const [company] = sb.records('res.company');
    expect(company).toMatchObject({ name: 'Spike Sp. z o.o.', currency_id: [expect.any(Number), 'PLN'], country_id: [expect.any(Number), 'Poland'] });
    expect(String(company?.vat)).toMatch(/^PL\d{10}$/);
    expect(nipValid(String(company?.vat).slice(2))).toBe(true);
    const banks = sb.records('res.partner.bank').filter((b) => idOf(b.partner_id) === idOf(company?.partner_id));
    const plnBank = banks.find((b) => Array.isArray(b.currency_id) && b.currency_id[1] === 'PLN') as Rec;
    const iban = String(plnBank.acc_number).replaceAll(' ', '');
    expect(iban).toMatch(/^PL\d{26}$/);
    const numeric = (iban.slice(4) + iban.slice(0, 4)).replace(/[A-Z]/g, (c) => String(c.charCodeAt(0) - 55));
    expect(BigInt(numeric) % 97n).toBe(1n);
  });

  it('has at least 30 customers with valid tax ids and every e-mail situation', () => {
    const customers = partners.filter((p) => p.is_company === true && Number(p.customer_rank) > 0);
    expect(customers.length).toBeGreaterThanOrEqual(30);
    const polish = customers.filter((p) => Array.isArray(p.country_id) && p.country_id[1] === 'Poland');
    expect(polish.length).toBeGreaterThanOrEqual(28);
    for (const p of polish) expect(nipValid(String(p.vat))).toBe(true);
    expect(new Set(polish.map((p) => p.vat)).size).toBe(polish.length);
    const foreign = customers.filter((p) => !polish.includes(p));
    expect(new Set(foreign.map((p) => (p.country_id as [number, string])[1]))).toEqual(new Set(['Germany', 'Czech Republic', 'France']));
    for (const p of foreign) {
      expect(p.lang).toBe('en_US');
      expect(String(p.vat)).toMatch(/^(DE\d{9}|CZ\d{8}|FR[0-9A-Z]{2}\d{9})$/);
    }
    expect(customers.filter((p) => p.email === false).length).toBeGreaterThanOrEqual(3);
    expect(customers.filter((p) => typeof p.email === 'string' && /,/.test(p.email)).length).toBeGreaterThanOrEqual(2);
    expect(customers.filter((p) => typeof p.email === 'string' && !p.email.includes('@')).length).toBe(1);
    expect(customers.filter((p) => p.invoice_sending_method === 'manual').length).toBeGreaterThanOrEqual(1);
    const invoiceContacts = partners.filter((p) => p.type === 'invoice' && p.active === true && typeof p.email === 'string');
    expect(invoiceContacts.length).toBeGreaterThanOrEqual(4);
    for (const c of invoiceContacts) expect(idOf(c.commercial_partner_id)).toBe(idOf(c.parent_id));
  });

  it('has at least 200 invoices over 60 days in PLN and EUR, in every state, with credit notes', () => {
    const invoices = moves.filter((m) => m.move_type === 'out_invoice');
    const refunds = moves.filter((m) => m.move_type === 'out_refund');
    expect(invoices.length).toBeGreaterThanOrEqual(200);
    expect(new Set(invoices.map((m) => m.state))).toEqual(new Set(['draft', 'posted', 'cancel']));
    expect(new Set(moves.map((m) => (m.currency_id as [number, string])[1]))).toEqual(new Set(['PLN', 'EUR']));
    const dates = moves.map((m) => m.invoice_date).filter((d): d is string => typeof d === 'string');
    expect(dates.every((d) => d >= daysAgo(60) && d <= TODAY)).toBe(true);
    expect(refunds.length).toBeGreaterThanOrEqual(3);
    for (const r of refunds) {
      const original = moves.find((m) => m.id === idOf(r.reversed_entry_id));
      expect(original).toMatchObject({ move_type: 'out_invoice', state: 'posted' });
      expect(String(r.invoice_date) >= String(original?.invoice_date)).toBe(true);
    }
    const posted = moves.filter((m) => m.state === 'posted');
    expect(posted.filter((m) => m.invoice_date === daysAgo(30)).length).toBeGreaterThanOrEqual(2);
    expect(posted.filter((m) => m.invoice_date === daysAgo(31)).length).toBeGreaterThanOrEqual(2);
    for (const m of posted) expect(String(m.name)).toMatch(/^R?FV\/\d{4}\/\d{5}$/);
    expect(moves.filter((m) => m.state === 'draft').every((m) => m.name === '/')).toBe(true);
    const eurForeign = moves.filter((m) => (m.currency_id as [number, string])[1] === 'EUR');
    expect(eurForeign.length).toBeGreaterThan(10);
  });

  it('has 1 to 40 lines per invoice plus one of 200, every VAT rate, discounts, sections and notes', () => {
    const productLines = new Map<number, Rec[]>();
    for (const l of lines) {
      if (l.display_type !== 'product') continue;
      const k = idOf(l.move_id);
      productLines.set(k, [...(productLines.get(k) ?? []), l]);
    }
    const counts = moves.filter((m) => m.move_type === 'out_invoice').map((m) => productLines.get(m.id as number)?.length ?? 0);
    expect(Math.min(...counts)).toBe(1);
    expect(counts.filter((c) => c === 200)).toHaveLength(1);
    expect(Math.max(...counts.filter((c) => c !== 200))).toBe(40);
    const taxes = new Map(sb.records('account.tax').map((t) => [t.id, t]));
    const labels = new Set(lines.filter((l) => l.display_type === 'product').flatMap((l) => (l.tax_ids as number[]).map((t) => taxes.get(t)?.invoice_label)));
    for (const label of ['23%', '8%', '5%', '0%', 'zw', 'np']) expect(labels).toContain(label);
    expect(lines.some((l) => l.display_type === 'product' && Number(l.discount) > 0)).toBe(true);
    expect(lines.some((l) => l.display_type === 'line_section')).toBe(true);
    expect(lines.some((l) => l.display_type === 'line_note')).toBe(true);
    expect(lines.some((l) => l.display_type === 'tax')).toBe(true);
  });

  it('carries the Polish invoice flags, sending states and KSeF numbers', () => {
    const company = sb.records('res.company')[0] as Rec;
    const nip = String(company.vat).slice(2);
    expect(moves.some((m) => typeof m.delivery_date === 'string' && m.delivery_date !== m.invoice_date)).toBe(true);
    expect(moves.some((m) => m.x_split_payment === true)).toBe(true);
    expect(moves.some((m) => m.x_reverse_charge === true && (m.currency_id as [number, string])[1] === 'EUR')).toBe(true);
    expect(moves.some((m) => typeof m.x_exemption_basis === 'string' && m.x_exemption_basis.startsWith('art. 43'))).toBe(true);
    const sent = moves.filter((m) => m.is_move_sent === true);
    expect(sent.length).toBeGreaterThan(10);
    const attachments = new Map(sb.records('ir.attachment').map((a) => [a.id, a]));
    for (const m of sent) {
      const att = attachments.get(idOf(m.invoice_pdf_report_id)) as Rec;
      expect(att).toMatchObject({ res_model: 'account.move', res_id: m.id, mimetype: 'application/pdf' });
      expect(Buffer.from(String(att.datas), 'base64').subarray(0, 5).toString()).toBe('%PDF-');
    }
    expect(moves.filter((m) => m.sending_data !== false).length).toBeGreaterThanOrEqual(1);
    const ksef = moves.filter((m) => m.l10n_pl_edi_status === 'accepted');
    expect(ksef.length).toBeGreaterThanOrEqual(3);
    for (const m of ksef) {
      const n = String(m.l10n_pl_edi_number);
      expect(n).toHaveLength(35);
      expect(n).toMatch(new RegExp(`^${nip}-\\d{8}-[0-9A-F]{12}-[0-9A-F]{2}$`));
      expect(crc8(n.slice(0, 32)).toString(16).toUpperCase().padStart(2, '0')).toBe(n.slice(33));
      const xml = attachments.get(idOf(m.l10n_pl_edi_attachment_id)) as Rec;
      expect(Buffer.from(String(xml.datas), 'base64').toString('utf8')).toContain(`<P_2>${String(m.name)}</P_2>`);
    }
    expect(moves.some((m) => m.l10n_pl_edi_status === 'sent' && m.l10n_pl_edi_number === false)).toBe(true);
  });

  it('adds up to the grosz: lines, totals and PLN amounts from the currency rate', () => {
    const rates = sb.records('res.currency.rate');
    const byMove = new Map<number, Rec[]>();
    for (const l of lines) byMove.set(idOf(l.move_id), [...(byMove.get(idOf(l.move_id)) ?? []), l]);
    const taxes = new Map(sb.records('account.tax').map((t) => [t.id, t]));
    for (const m of moves) {
      const product = (byMove.get(m.id as number) ?? []).filter((l) => l.display_type === 'product');
      let untaxed = 0n;
      let total = 0n;
      for (const l of product) {
        const sub = roundDiv(scaled(l.quantity, 6) * scaled(l.price_unit, 6) * (1_000_000n - scaled(l.discount, 4)) * 100n, 10n ** 18n);
        expect(minor(l.price_subtotal)).toBe(sub);
        const tax = (l.tax_ids as number[]).reduce((s, t) => s + roundDiv(sub * scaled(taxes.get(t)?.amount, 4), 1_000_000n), 0n);
        expect(minor(l.price_total)).toBe(sub + tax);
        untaxed += sub;
        total += sub + tax;
      }
      expect(minor(m.amount_untaxed)).toBe(untaxed);
      expect(minor(m.amount_total)).toBe(total);
      expect(minor(m.amount_tax)).toBe(total - untaxed);
      const sign = m.move_type === 'out_refund' ? -1n : 1n;
      if ((m.currency_id as [number, string])[1] === 'PLN') {
        expect(minor(m.amount_total_signed)).toBe(sign * total);
        expect(m.invoice_currency_rate).toBe(1);
      } else {
        const date = String(m.invoice_date || m.date);
        const rate = rates
          .filter((r) => idOf(r.currency_id) === idOf(m.currency_id) && String(r.name) <= date)
          .sort((a, b) => String(b.name).localeCompare(String(a.name)))[0] as Rec;
        const inv = scaled(rate.inverse_company_rate, 6);
        // As Odoo computes them: the sums of the lines' balances, each line converted and rounded on its own
        // (so the VAT per rate, the tax lines, adds up to the booked VAT, and the move balances to the grosz).
        const all = byMove.get(m.id as number) ?? [];
        const balances = (kind: string) => all.filter((l) => l.display_type === kind).reduce((a, l) => a + minor(l.balance), 0n);
        for (const l of product) expect(minor(l.balance)).toBe(-sign * roundDiv(minor(l.price_subtotal) * inv, 1_000_000n));
        expect(minor(m.amount_untaxed_signed)).toBe(-balances('product'));
        expect(minor(m.amount_tax_signed)).toBe(-balances('tax'));
        expect(minor(m.amount_total_signed)).toBe(minor(m.amount_untaxed_signed) + minor(m.amount_tax_signed));
        expect(balances('product') + balances('tax') + balances('payment_term')).toBe(0n);
      }
    }
  });

  it('offers templates, the invoice report and, with an imap option, a fetchmail server paired by user', () => {
    const templates = sb.records('mail.template');
    expect(templates.map((t) => t.name)).toEqual(expect.arrayContaining(['Faktura dla klienta', 'Faktura korygująca dla klienta', 'Potwierdzenie zamówienia']));
    expect(sb.records('ir.actions.report')).toContainEqual(
      expect.objectContaining({ report_name: 'account.report_invoice', model: 'account.move', report_type: 'qweb-pdf' }),
    );
    const [fetchmail] = sb.records('fetchmail.server');
    expect(fetchmail).toMatchObject({
      server: '127.0.0.1',
      port: 1143,
      server_type: 'imap',
      is_ssl: false,
      user: 'faktury@spike.example',
      password: 'imap-secret',
    });
    expect(sb.records('ir.mail_server').some((s) => s.smtp_user === fetchmail?.user && s.active === true)).toBe(true);
  });

  it('is deterministic: the same today gives the same data, another today moves the dates', () => {
    const opts = { smtp: SMTP, today: TODAY, invoiceCount: 220 };
    const a = JSON.stringify(buildSandboxOrm(opts).exportState());
    const b = JSON.stringify(buildSandboxOrm(opts).exportState());
    expect(a).toBe(b);
    const other = buildSandboxOrm({ ...opts, today: '2027-03-15' }).exportState();
    const dates = other.tables['account.move']!.map((m) => m.invoice_date).filter((d): d is string => typeof d === 'string');
    expect(dates.some((d) => d === '2027-03-15' || d === '2027-03-14')).toBe(true);
    expect(dates.every((d) => d >= '2027-01-14' && d <= '2027-03-15')).toBe(true);
  });
});

describe('sandbox host: state file', () => {
  it('saves every change atomically and loads it on the next start, pointing the SMTP server at the new sink', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'sandbox-state-'));
    const file = path.join(dir, 'state.json');
    try {
      const first = await startSandboxHost({ smtp: SMTP, stateFile: file, invoiceCount: 30 });
      expect(existsSync(file)).toBe(true);
      const rpc = client(first);
      const k = rpc.as('ksiegowa');
      const [inv] = await rpc.ok(
        k(
          'account.move',
          'search',
          [
            [
              ['state', '=', 'posted'],
              ['is_move_sent', '=', false],
            ],
          ],
          { limit: 1 },
        ),
      );
      await rpc.ok(k('account.move', 'write', [[inv], { is_move_sent: true }]));
      const note = await rpc.ok(
        k('account.move', 'message_post', [[inv]], { body: '<p>zapisane</p>', body_is_html: true, message_type: 'comment', subtype_xmlid: 'mail.mt_note' }),
      );
      await rpc.ok(
        rpc.as('admin')('ir.model.fields', 'create', [
          { name: 'x_courier_status', model: 'account.move', ttype: 'char', field_description: 'Courier status', state: 'manual' },
        ]),
      );
      await rpc.ok(rpc.as('admin')('account.move', 'write', [[inv], { x_courier_status: 'sent' }]));
      const newPartner = first.create('res.partner', { name: 'Nowy Klient Sp. z o.o.', is_company: true, email: 'nowy@klient.example' });
      const saved = JSON.parse(readFileSync(file, 'utf8'));
      expect(saved.version).toBe(1);
      await first.stop();
      expect(readdirNoTmp(dir)).toEqual(['state.json']);

      const second = await startSandboxHost({ smtp: { ...SMTP, port: 3535 }, stateFile: file });
      try {
        const move = second.records('account.move').find((m) => m.id === inv) as Rec;
        expect(move.is_move_sent).toBe(true);
        expect(move.x_courier_status).toBe('sent');
        expect(second.records('mail.message').find((m) => m.id === note)).toMatchObject({ body: '<p>zapisane</p>', res_id: inv });
        expect(second.records('res.partner').find((p) => p.id === newPartner)).toMatchObject({ name: 'Nowy Klient Sp. z o.o.' });
        expect(second.records('ir.mail_server').find((s) => s.name === 'Sandbox SMTP')).toMatchObject({ smtp_port: 3535 });
        const rpc2 = client(second);
        expect(await rpc2.ok(rpc2.as('admin')('account.move', 'search_count', [[['x_courier_status', '=', 'sent']]]))).toBe(1);
      } finally {
        await second.stop();
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

function readdirNoTmp(dir: string): string[] {
  return readdirSync(dir).sort();
}

describe('the sandbox answers like real Odoo: rights per group, API keys, language redirect, versions and modules', () => {
  let sb18: SandboxHost;
  let sb17: SandboxHost;
  let sb19: SandboxHost;
  let bare: SandboxHost;
  const U = SANDBOX_USERS;
  const PL = { context: { lang: 'pl_PL', tz: 'Europe/Warsaw' } };

  beforeAll(async () => {
    [sb18, sb17, sb19, bare] = await Promise.all([
      startSandboxHost({ smtp: SMTP, invoiceCount: 30 }),
      startSandboxHost({ smtp: SMTP, invoiceCount: 30, version: '17.0' }),
      startSandboxHost({ smtp: SMTP, invoiceCount: 30, version: '19.0' }),
      startSandboxHost({ smtp: SMTP, invoiceCount: 30, modules: { l10nPlEdi: false, customFields: false } }),
    ]);
  });
  afterAll(async () => {
    await Promise.all([sb18, sb17, sb19, bare].map((s) => s?.stop()));
  });

  const exec = (sb: SandboxHost, uid: number, secret: string, model: string, method: string, args: unknown[], kwargs: Rec = {}) =>
    post(`${sb.url}/jsonrpc`, {
      jsonrpc: '2.0',
      method: 'call',
      id: 1,
      params: { service: 'object', method: 'execute_kw', args: [sb.database, uid, secret, model, method, args, kwargs] },
    });
  const errorOf = async (p: Promise<RpcAnswer>) => (await p).body.error?.data;
  const webLogin = async (sb: SandboxHost, login: string, password: string) => {
    const a = await post(`${sb.url}/web/session/authenticate`, { jsonrpc: '2.0', method: 'call', id: 1, params: { db: sb.database, login, password } });
    return { answer: a, cookie: (a.headers.get('set-cookie') ?? '').split(';')[0] as string };
  };

  it('upgrades a state file saved by an older sandbox: admin gets Access Rights, users their API keys, the Invoicing menu', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'sandbox-upgrade-'));
    try {
      const file = path.join(dir, 'state.json');
      await (await startSandboxHost({ smtp: SMTP, invoiceCount: 5, stateFile: file })).stop();
      const state = JSON.parse(readFileSync(file, 'utf8')) as { tables: Record<string, Rec[]>; apiKeys?: unknown };
      const rights = state.tables['ir.model.data']!.find((r) => r.module === 'base' && r.name === 'group_erp_manager')!;
      state.tables['ir.model.data'] = state.tables['ir.model.data']!.filter((r) => r !== rights && !(r.module === 'account' && r.name === 'menu_finance'));
      state.tables['res.groups'] = state.tables['res.groups']!.filter((g) => g.id !== rights.res_id);
      state.tables['ir.ui.menu'] = [];
      delete state.apiKeys;
      writeFileSync(file, JSON.stringify(state));
      const old = await startSandboxHost({ smtp: SMTP, stateFile: file });
      try {
        expect(await rpc18ok(exec(old, 2, 'admin', 'ir.model.data', 'search_count', [[]]))).toBeGreaterThan(0);
        expect(await rpc18ok(exec(old, 6, U.ksiegowa.apiKey, 'res.users', 'read', [[6], ['login']]))).toEqual([{ id: 6, login: 'ksiegowa' }]);
        expect(old.records('ir.ui.menu').map((m) => m.id)).toContain(119);
      } finally {
        await old.stop();
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('seeds users like a real company: admin integration user, ksiegowa a pl_PL billing user, handlowiec without invoicing rights', async () => {
    const users = await rpc18ok(
      exec(sb18, U.admin.id, U.admin.password, 'res.users', 'read', [
        [U.admin.id, U.ksiegowa.id, U.handlowiec.id],
        ['login', 'lang'],
      ]),
    );
    expect(users).toEqual([
      { id: 2, login: 'admin', lang: 'en_US' },
      { id: 6, login: 'ksiegowa', lang: 'pl_PL' },
      { id: 7, login: 'handlowiec', lang: 'en_US' },
    ]);
    const info = (await webLogin(sb18, 'ksiegowa', 'ksiegowa')).answer.body.result as Rec;
    expect(info).toMatchObject({ uid: 6, is_system: false, is_admin: false, user_context: { lang: 'pl_PL' } });
    expect((await webLogin(sb18, 'admin', 'admin')).answer.body.result).toMatchObject({ uid: 2, is_system: true });
  });

  it("refuses a billing user the admin-only models with Odoo's AccessError, in Polish under context lang pl_PL", async () => {
    const k = (model: string, method: string, args: unknown[], kw: Rec = PL) =>
      errorOf(exec(sb18, U.ksiegowa.id, U.ksiegowa.password, model, method, args, kw));
    expect(await k('ir.model.data', 'search_read', [[]], { ...PL, fields: ['name'] })).toMatchObject({
      name: 'odoo.exceptions.AccessError',
      message: expect.stringMatching(/^Nie masz dostępu do rekordów 'Dane modelu' \(ir\.model\.data\)\.[\s\S]*\t- Administracja\/Prawa dostępu/),
    });
    expect(await k('ir.logging', 'create', [[{ name: 'x', type: 'server', level: 'INFO', message: 'm', path: 'p', func: 'f', line: '1' }]])).toMatchObject({
      name: 'odoo.exceptions.AccessError',
      message: expect.stringContaining("Nie możesz tworzyć rekordów 'Logowanie' (ir.logging)"),
    });
    expect(await k('ir.config_parameter', 'get_param', ['web.base.url'])).toMatchObject({
      name: 'odoo.exceptions.AccessError',
      message: expect.stringContaining('Administracja/Ustawienia'),
    });
    expect(await k('ir.actions.act_url', 'search_read', [[]], { ...PL, fields: ['name'] })).toMatchObject({ name: 'odoo.exceptions.AccessError' });
    expect(await k('ir.ui.menu', 'create', [[{ name: 'x' }]])).toMatchObject({
      name: 'odoo.exceptions.AccessError',
      message: expect.stringContaining("Nie możesz tworzyć rekordów 'Menu' (ir.ui.menu)"),
    });
    const template = sb18.records('mail.template')[0] as Rec;
    expect(await k('mail.template', 'write', [[template.id], { name: 'x' }])).toMatchObject({
      name: 'odoo.exceptions.AccessError',
      message: expect.stringMatching(/^Oho!.*Anna Nowak \(id=6\) nie ma\(ją\) dostępu 'pisz'/s),
    });
    // field-level: billing sees ir.mail_server only without credentials (and fields_get hides them)
    expect(await k('ir.mail_server', 'search_read', [[]], { ...PL, fields: ['name', 'smtp_user', 'smtp_pass'] })).toMatchObject({
      name: 'odoo.exceptions.AccessError',
      message: expect.stringContaining('Nie masz wystarczających uprawnień, aby uzyskać dostęp do pól "smtp_user,smtp_pass"'),
    });
    const visible = await rpc18ok(exec(sb18, U.ksiegowa.id, U.ksiegowa.password, 'ir.mail_server', 'fields_get', [], { attributes: ['type'] }));
    const all = await rpc18ok(exec(sb18, U.admin.id, U.admin.password, 'ir.mail_server', 'fields_get', [], { attributes: ['type'] }));
    expect(Object.keys(all)).toEqual(expect.arrayContaining(['smtp_user', 'smtp_pass']));
    expect(Object.keys(visible)).not.toContain('smtp_pass');
    // the admin may do all of it; English for an en_US admin without a context lang
    expect(await rpc18ok(exec(sb18, U.admin.id, U.admin.password, 'ir.config_parameter', 'get_param', ['web.base.url']))).toBe('http://127.0.0.1:8069');
    expect(
      await errorOf(exec(sb18, U.handlowiec.id, U.handlowiec.password, 'account.move', 'search_read', [[]], { fields: ['name'], limit: 1 })),
    ).toMatchObject({
      name: 'odoo.exceptions.AccessError',
      message: expect.stringMatching(/^You are not allowed to access 'Journal Entry' \(account\.move\) records\.[\s\S]*Accounting\/Invoicing/),
    });
  });

  it('writes float fields as floats (1.0), as Python does, in read and search_read', async () => {
    const inv = sb18.records('account.move').find((m) => m.state === 'posted' && Array.isArray(m.currency_id) && m.currency_id[1] === 'PLN') as Rec;
    const res = await fetch(`${sb18.url}/jsonrpc`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({
        jsonrpc: '2.0',
        method: 'call',
        id: 1,
        params: {
          service: 'object',
          method: 'execute_kw',
          args: [
            sb18.database,
            2,
            'admin',
            'account.move',
            'search_read',
            [[['id', '=', inv.id]]],
            { fields: ['invoice_currency_rate', 'amount_total', 'name'] },
          ],
        },
      }),
    });
    const text = await res.text();
    expect(text).toContain('"invoice_currency_rate":1.0');
    expect(text).toMatch(/"amount_total":-?\d+\.\d+/);
    expect((JSON.parse(text) as { result: Rec[] }).result[0]).toMatchObject({ invoice_currency_rate: 1, name: inv.name });
  });

  it('labels, selections and the note subtype follow the context language', async () => {
    const en = await rpc18ok(
      exec(sb18, U.admin.id, U.admin.password, 'account.move', 'fields_get', [['is_move_sent', 'payment_state']], {
        attributes: ['string', 'selection'],
        context: { lang: 'en_US' },
      }),
    );
    const pl = await rpc18ok(
      exec(sb18, U.admin.id, U.admin.password, 'account.move', 'fields_get', [['is_move_sent', 'payment_state']], {
        attributes: ['string', 'selection'],
        ...PL,
      }),
    );
    expect(en.is_move_sent.string).toBe('Is Move Sent');
    expect(pl.is_move_sent.string).not.toBe(en.is_move_sent.string);
    expect(pl.payment_state.selection.map((x: string[]) => x[0])).toContain('blocked');
    const note = sb18.records('ir.model.data').find((x) => x.module === 'mail' && x.name === 'mt_note')!.res_id as number;
    expect(await rpc18ok(exec(sb18, U.admin.id, U.admin.password, 'mail.message.subtype', 'read', [[note], ['name']], PL))).toEqual([
      { id: note, name: 'Notatka' },
    ]);
  });

  it('takes API keys in place of passwords over RPC on 18 (not on 17) and refuses them at the web login', async () => {
    const auth = async (sb: SandboxHost, login: string, secret: string) =>
      (
        await post(`${sb.url}/jsonrpc`, {
          jsonrpc: '2.0',
          method: 'call',
          id: 1,
          params: { service: 'common', method: 'authenticate', args: [sb.database, login, secret, {}] },
        })
      ).body.result;
    expect(await auth(sb18, 'ksiegowa', U.ksiegowa.apiKey)).toBe(6);
    expect(await rpc18ok(exec(sb18, 6, U.ksiegowa.apiKey, 'res.users', 'read', [[6], ['login']]))).toEqual([{ id: 6, login: 'ksiegowa' }]);
    expect((await webLogin(sb18, 'ksiegowa', U.ksiegowa.apiKey)).answer.body.error?.data.name).toBe('odoo.exceptions.AccessDenied');
    expect(await auth(sb17, 'ksiegowa', U.ksiegowa.apiKey)).toBe(false);
    expect((await errorOf(exec(sb17, 6, U.ksiegowa.apiKey, 'res.users', 'read', [[6], ['login']])))?.name).toBe('odoo.exceptions.AccessDenied');
  });

  it('redirects /report/pdf to /<lang>/report/pdf when the user language is not the database default, and serves it there', async () => {
    const inv = sb18.records('account.move').find((m) => m.state === 'posted' && m.move_type === 'out_invoice') as Rec;
    const get = (sb: SandboxHost, p: string, cookie: string) => fetch(`${sb.url}${p}`, { headers: { cookie }, redirect: 'manual' });
    const ksiegowa = (await webLogin(sb18, 'ksiegowa', 'ksiegowa')).cookie;
    const r = await get(sb18, `/report/pdf/account.report_invoice_with_payments/${String(inv.id)}`, ksiegowa);
    expect(r.status).toBe(303);
    expect(r.headers.get('location')).toBe(`/pl/report/pdf/account.report_invoice_with_payments/${String(inv.id)}`);
    const pdf = await get(sb18, r.headers.get('location') as string, ksiegowa);
    expect(pdf.status).toBe(200);
    expect(pdf.headers.get('content-type')).toBe('application/pdf');
    expect(
      (await get(sb18, `/report/pdf/account.report_invoice_with_payments/${String(inv.id)}`, (await webLogin(sb18, 'admin', 'admin')).cookie)).status,
    ).toBe(200);
    expect(
      (await get(sb18, `/pl/report/pdf/account.report_invoice_with_payments/${String(inv.id)}`, (await webLogin(sb18, 'handlowiec', 'handlowiec')).cookie))
        .status,
    ).toBe(403);
    expect((await get(sb18, `/report/pdf/no.such_report/${String(inv.id)}`, (await webLogin(sb18, 'admin', 'admin')).cookie)).status).toBe(500);
    // 17: the database default is pl_PL, so the en_US admin is the one redirected (to /en/)
    const inv17 = sb17.records('account.move').find((m) => m.state === 'posted' && m.move_type === 'out_invoice') as Rec;
    const admin17 = await get(sb17, `/report/pdf/account.report_invoice/${String(inv17.id)}`, (await webLogin(sb17, 'admin', 'admin')).cookie);
    expect([admin17.status, admin17.headers.get('location')]).toEqual([303, `/en/report/pdf/account.report_invoice/${String(inv17.id)}`]);
    expect((await get(sb17, `/report/pdf/account.report_invoice/${String(inv17.id)}`, (await webLogin(sb17, 'ksiegowa', 'ksiegowa')).cookie)).status).toBe(200);
  });

  it('has the Invoicing root menu, URL actions and ir.logging as real Odoo (reference action, complete_name, integer create_uid)', async () => {
    const a = (model: string, method: string, args: unknown[], kw: Rec = PL) => rpc18ok(exec(sb18, U.admin.id, U.admin.password, model, method, args, kw));
    const [root] = await a(
      'ir.ui.menu',
      'search_read',
      [
        [
          ['parent_id', '=', false],
          ['name', 'in', ['Invoicing', 'Fakturowanie']],
        ],
      ],
      { fields: ['id', 'name'], limit: 1, context: { lang: 'en_US' } },
    );
    expect(root).toEqual({ id: 119, name: 'Invoicing' });
    const [act] = await a('ir.actions.act_url', 'create', [[{ name: 'Invoice Courier', url: 'http://127.0.0.1:3000/ui/x/settings', target: 'new' }]]);
    const [menu] = await a('ir.ui.menu', 'create', [
      [{ name: 'Invoice Courier', parent_id: root.id, action: `ir.actions.act_url,${String(act)}`, sequence: 90 }],
    ]);
    expect(await a('ir.ui.menu', 'read', [[menu], ['name', 'parent_id', 'action', 'complete_name', 'groups_id']])).toEqual([
      {
        id: menu,
        name: 'Invoice Courier',
        parent_id: [119, 'Fakturowanie'],
        action: `ir.actions.act_url,${String(act)}`,
        complete_name: 'Fakturowanie/Invoice Courier',
        groups_id: [],
      },
    ]);
    expect(await errorOf(exec(sb18, 2, 'admin', 'ir.ui.menu', 'create', [[{ name: 'x', action: 'not a reference' }]]))).toMatchObject({
      name: 'builtins.ValueError',
    });
    expect(await a('ir.ui.menu', 'unlink', [[menu]])).toBe(true);
    expect(await a('ir.actions.act_url', 'unlink', [[act]])).toBe(true);
    // the Invoicing menu is invisible to a user without invoicing rights
    const viewerRoots = await rpc18ok(exec(sb18, 7, 'handlowiec', 'ir.ui.menu', 'search_read', [[['parent_id', '=', false]]], { fields: ['id'] }));
    expect(viewerRoots.map((m: Rec) => m.id)).not.toContain(119);
    const [log] = await a('ir.logging', 'create', [
      [{ name: 'invoice-courier', type: 'server', level: 'INFO', message: 'sent 3', path: 'run', func: 'run', line: '0' }],
    ]);
    const [row] = await a('ir.logging', 'read', [[log], ['create_uid', 'level']]);
    expect(row).toEqual({ id: log, create_uid: 2, level: 'INFO' });
    const fields = await a('ir.logging', 'fields_get', [['create_uid']], { attributes: ['type'] });
    expect(fields).toEqual({ create_uid: { type: 'integer' } });
  });

  it('lets a billing user create notes in one batched mail.message create; a viewer neither writes nor sees them', async () => {
    const inv = sb18
      .records('account.move')
      .filter((m) => m.state === 'posted')
      .slice(0, 2) as Rec[];
    const note = sb18.records('ir.model.data').find((x) => x.module === 'mail' && x.name === 'mt_note')!.res_id as number;
    const vals = inv.map((m) => ({
      model: 'account.move',
      res_id: m.id,
      message_type: 'comment',
      subtype_id: note,
      body: `<p>Invoice Courier ${String(m.id)}</p>`,
    }));
    const ids = await rpc18ok(exec(sb18, 6, 'ksiegowa', 'mail.message', 'create', [vals], PL));
    expect(ids).toHaveLength(2);
    const read = await rpc18ok(exec(sb18, 6, 'ksiegowa', 'mail.message', 'read', [ids, ['model', 'res_id', 'subtype_id', 'body', 'author_id']], PL));
    expect(read[0]).toMatchObject({
      model: 'account.move',
      res_id: inv[0]!.id,
      subtype_id: [note, 'Notatka'],
      body: `<p>Invoice Courier ${String(inv[0]!.id)}</p>`,
      author_id: [8, 'Anna Nowak'],
    });
    expect(await errorOf(exec(sb18, 7, 'handlowiec', 'mail.message', 'create', [vals])))?.toMatchObject({ name: 'odoo.exceptions.AccessError' });
    expect(await rpc18ok(exec(sb18, 7, 'handlowiec', 'mail.message', 'search_read', [[['id', 'in', ids]]], { fields: ['id'] }))).toEqual([]);
  });

  it('has the KSeF and custom fields only when the modules option installs them (default: installed)', async () => {
    const withKsef = await rpc18ok(exec(sb18, 2, 'admin', 'account.move', 'fields_get', [], { attributes: ['type'] }));
    expect(Object.keys(withKsef)).toEqual(
      expect.arrayContaining(['l10n_pl_edi_number', 'l10n_pl_edi_status', 'x_split_payment', 'tax_totals', 'invoice_currency_rate', 'sending_data']),
    );
    expect(sb18.records('account.move').some((m) => typeof m.l10n_pl_edi_number === 'string')).toBe(true);
    const plain = await rpc18ok(exec(bare, 2, 'admin', 'account.move', 'fields_get', [], { attributes: ['type'] }));
    for (const f of ['l10n_pl_edi_number', 'l10n_pl_edi_status', 'l10n_pl_edi_attachment_id', 'x_split_payment', 'x_reverse_charge', 'x_exemption_basis'])
      expect(plain).not.toHaveProperty(f);
    expect(plain.tax_totals).toEqual({ type: 'binary' });
    expect(await errorOf(exec(bare, 2, 'admin', 'account.move', 'search_read', [[]], { fields: ['l10n_pl_edi_number'], limit: 1 }))).toMatchObject({
      name: 'builtins.ValueError',
      message: "Invalid field 'l10n_pl_edi_number' on model 'account.move'",
    });
  });

  it('answers as 17.0: account.move.send with move_ids and rendered mail_* fields, no 18 wizard, 17 fields and tax_totals shape', async () => {
    const v = await post(`${sb17.url}/jsonrpc`, { jsonrpc: '2.0', method: 'call', id: 1, params: { service: 'common', method: 'version', args: [] } });
    expect(v.body.result).toMatchObject({ server_version: '17.0', server_version_info: [17, 0, 0, 'final', 0, ''] });
    expect(sb17.profile.defaultLang).toBe('pl_PL');
    // A PLN invoice (the seed is drawn from the day: the first posted one may be in EUR)
    const inv = sb17
      .records('account.move')
      .find((m) => m.state === 'posted' && m.move_type === 'out_invoice' && Array.isArray(m.currency_id) && m.currency_id[1] === 'PLN') as Rec;
    const tmpl = sb17.records('ir.model.data').find((x) => x.module === 'account' && x.name === 'email_template_edi_invoice')!.res_id as number;
    const k = (model: string, method: string, args: unknown[], kw: Rec = PL) => exec(sb17, 6, 'ksiegowa', model, method, args, kw);
    expect(await errorOf(k('account.move.send.wizard', 'create', [[{ move_id: inv.id }]]))).toMatchObject({
      name: 'odoo.exceptions.UserError',
      message: 'Obiekt account.move.send.wizard nie istnieje',
    });
    expect(await errorOf(k('account.move.send', 'create', [[{ move_id: inv.id }]]))).toMatchObject({
      name: 'builtins.ValueError',
      message: "Invalid field 'move_id' on model 'account.move.send'",
    });
    const [wid] = await rpc18ok(k('account.move.send', 'create', [[{ move_ids: [[6, 0, [inv.id]]], mail_template_id: tmpl }]]));
    const [w] = await rpc18ok(
      k('account.move.send', 'read', [[wid], ['mail_subject', 'mail_lang', 'mail_template_id', 'move_ids', 'mode', 'checkbox_send_mail']]),
    );
    expect(w).toMatchObject({
      mail_lang: expect.any(String),
      move_ids: [inv.id],
      mode: 'invoice_single',
      checkbox_send_mail: true,
      mail_subject: expect.stringContaining(String(inv.name)),
    });
    const [bare17] = await rpc18ok(k('account.move.send', 'create', [[{ move_ids: [[6, 0, [inv.id]]] }]]));
    expect(await rpc18ok(k('account.move.send', 'read', [[bare17], ['mail_subject', 'mail_body', 'mail_template_id']]))).toEqual([
      { id: bare17, mail_subject: false, mail_body: false, mail_template_id: false },
    ]);
    const [m] = await rpc18ok(k('account.move', 'read', [[inv.id], ['send_and_print_values', 'tax_totals']]));
    expect(m.tax_totals).toMatchObject({
      groups_by_subtotal: expect.any(Object),
      subtotals_order: ['Kwota bez podatku'],
      formatted_amount_total: expect.stringMatching(/zł$/),
    });
    expect(await errorOf(k('account.move', 'read', [[inv.id], ['sending_data']]))).toMatchObject({ name: 'builtins.ValueError' });
    expect(await errorOf(k('account.move', 'read', [[inv.id], ['invoice_currency_rate']]))).toMatchObject({ name: 'builtins.ValueError' });
    // billing users of 17 may edit templates (18 refuses it)
    expect(await rpc18ok(k('mail.template', 'write', [[tmpl], { description: 'x' }]))).toBe(true);
  });

  it('speaks JSON-2 as 19.0 (bearer API key, named arguments, HTTP status errors) and keeps JSON-RPC; 18 has no JSON-2', async () => {
    const j2 = (sb: SandboxHost, p: string, body: unknown, key: string | null = U.ksiegowa.apiKey, db = sb.database) =>
      fetch(`${sb.url}/json/2/${p}`, {
        method: 'POST',
        redirect: 'manual',
        headers: { 'content-type': 'application/json', 'x-odoo-database': db, ...(key ? { authorization: `bearer ${key}` } : {}) },
        body: JSON.stringify(body),
      });
    const ok = await j2(sb19, 'account.move/search_read', {
      domain: [
        ['move_type', '=', 'out_invoice'],
        ['state', '=', 'posted'],
      ],
      fields: ['name', 'amount_total'],
      limit: 2,
      context: { lang: 'pl_PL' },
    });
    expect(ok.status).toBe(200);
    const rows = (await ok.json()) as Rec[];
    expect(rows).toHaveLength(2);
    expect(rows[0]).toEqual({ id: expect.any(Number), name: expect.any(String), amount_total: expect.any(Number) });
    const groups = await j2(sb19, 'res.users/read', { ids: [6], fields: ['group_ids'] });
    expect(((await groups.json()) as Rec[])[0]!.group_ids).toEqual(expect.arrayContaining([expect.any(Number)]));
    expect((await j2(sb19, 'res.users/read', { ids: [6], fields: ['groups_id'] })).status).toBe(500);
    const me = await j2(sb19, 'res.users/context_get', {});
    expect(await me.json()).toMatchObject({ uid: 6, lang: 'pl_PL' });
    const read = await j2(sb19, 'account.move/read', { ids: [rows[0]!.id], fields: ['name'] });
    expect(await read.json()).toEqual([{ id: rows[0]!.id, name: rows[0]!.name }]);
    const denied = await j2(sb19, 'ir.model.data/search_read', { domain: [], fields: ['name'] });
    expect(denied.status).toBe(403);
    expect(await denied.json()).toMatchObject({
      name: 'odoo.exceptions.AccessError',
      message: expect.any(String),
      arguments: expect.any(Array),
      context: expect.any(Object),
      debug: expect.any(String),
    });
    expect((await j2(sb19, 'account.move/write', { ids: [999999], vals: { ref: 'x' } })).status).toBe(404);
    expect((await j2(sb19, 'no.such.model/search_read', {})).status).toBe(422);
    expect((await j2(sb19, 'account.move/search_read', { ids: [1] })).status).toBe(422);
    const badKey = await j2(sb19, 'account.move/search_read', {}, 'not-a-key');
    expect([badKey.status, await badKey.json()]).toEqual([
      401,
      expect.objectContaining({ name: 'werkzeug.exceptions.Unauthorized', message: 'Invalid apikey' }),
    ]);
    expect((await j2(sb19, 'account.move/search_read', {}, U.ksiegowa.apiKey, 'other_db')).status).toBe(404);
    const rpc19 = await exec(sb19, 6, 'ksiegowa', 'account.move', 'search_count', [[]]);
    expect(rpc19.body.result).toEqual(expect.any(Number));
    expect(await (await fetch(`${sb19.url}/web/version`)).json()).toEqual({ version_info: [19, 0, 0, 'final', 0, ''], version: '19.0' });
    const on18 = await j2(sb18, 'account.move/search_read', {});
    expect([on18.status, on18.headers.get('location')]).toEqual([303, '/web/login?redirect=%2Fjson%2F2%2Faccount.move%2Fsearch_read%3F']);
  });
});

async function rpc18ok(p: Promise<RpcAnswer>): Promise<any> {
  const a = await p;
  if (a.body.error) throw new Error(`${a.body.error.data.name}: ${a.body.error.data.message}`);
  return a.body.result;
}
