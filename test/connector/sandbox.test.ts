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
import { buildSandboxOrm, startSandboxHost, warsawToday } from '../../src/connector/sandbox/index.ts';
import type { SandboxHost } from '../../src/connector/sandbox/index.ts';

type Rec = Record<string, unknown>;
interface RpcAnswer { status: number; body: { jsonrpc: string; id: unknown; result?: unknown; error?: { code: number; message: string; data: { name: string; message: string; arguments: unknown[]; context: Rec; debug: string } } } }

const SMTP = { host: '127.0.0.1', port: 2525, user: null, password: null, encryption: 'none' as const };

async function post(url: string, body: string | Rec, headers: Record<string, string> = {}): Promise<RpcAnswer & { headers: Headers }> {
  const res = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: typeof body === 'string' ? body : JSON.stringify(body), signal: AbortSignal.timeout(20_000) });
  return { status: res.status, headers: res.headers, body: (await res.json()) as RpcAnswer['body'] };
}

function client(sb: SandboxHost) {
  let id = 0;
  const call = async (service: string, method: string, args: unknown[]): Promise<RpcAnswer> =>
    post(`${sb.url}/jsonrpc`, { jsonrpc: '2.0', method: 'call', id: ++id, params: { service, method, args } });
  const uids = new Map<string, number>();
  const as = (login: string, password = login) => async (model: string, method: string, args: unknown[] = [], kwargs: Rec = {}): Promise<RpcAnswer> => {
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
  afterAll(async () => { await sb?.stop(); });

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
    const partners = await rpc.ok(k('res.partner', 'search_read', [[['customer_rank', '>', 0], ['email', '=', false]]], { fields: ['name', 'email', 'parent_id', 'country_id', 'child_ids', 'vat'] }));
    expect(partners.length).toBeGreaterThan(0);
    for (const p of partners) {
      expect(p.email).toBe(false);
      expect(p.parent_id).toBe(false);
      expect(p.country_id).toEqual([expect.any(Number), expect.any(String)]);
      expect(Array.isArray(p.child_ids)).toBe(true);
      expect(Object.keys(p).sort()).toEqual(['child_ids', 'country_id', 'email', 'id', 'name', 'parent_id', 'vat']);
    }
    const [move] = await rpc.ok(k('account.move', 'search_read', [[['state', '=', 'posted'], ['move_type', '=', 'out_invoice']]], { fields: ['name', 'partner_id', 'invoice_date', 'write_date', 'invoice_line_ids', 'amount_total', 'is_move_sent', 'narration'], limit: 1, order: 'id' }));
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
    expect(fields.state).toEqual({ type: 'selection', string: 'Status', selection: [['draft', 'Draft'], ['posted', 'Posted'], ['cancel', 'Cancelled']] });
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
    expect(await byName([['type', '=', 'invoice'], ['parent_id.vat', 'like', 'DE']])).toEqual(ids((p) => p.type === 'invoice' && partners.some((q) => q.id === idOf(p.parent_id) && String(q.vat).includes('DE'))));
    expect(await byName([['city', 'not in', ['Kraków', false]]])).toEqual(ids((p) => p.city !== 'Kraków' && p.city !== false));
    const archived = await rpc.ok(k('res.partner', 'search', [[['active', '=', false], ['type', '=', 'invoice']]]));
    expect(archived.length).toBe(1);
    const ordered = await rpc.ok(k('account.move', 'search_read', [[['move_type', '=', 'out_invoice'], ['invoice_date', '!=', false]]], { fields: ['invoice_date'], order: 'invoice_date desc, id' }));
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
      [rpc.as('ksiegowa')('ir.mail_server', 'search_read', [[]], { fields: ['name'] }), 'odoo.exceptions.AccessError', /Nie masz dostępu do rekordów 'Serwer poczty' \(ir\.mail_server\).*Administracja\/Ustawienia/s],
      [rpc.as('ksiegowa')('fetchmail.server', 'search', [[]]), 'odoo.exceptions.AccessError', /fetchmail\.server/],
      [rpc.call('object', 'execute_kw', ['sandbox', 6, 'wrong-password', 'account.move', 'search', [[]], {}]), 'odoo.exceptions.AccessDenied', /Access Denied/],
      [rpc.as('admin')('no.such.model', 'search', [[]]), 'odoo.exceptions.UserError', /^Object no\.such\.model doesn't exist$/],
      [rpc.as('admin')('account.move', 'search_read', [[['no_such_field', '=', 1]]]), 'builtins.ValueError', /Invalid field account\.move\.no_such_field/],
      [rpc.as('admin')('account.move', 'read', [[1], ['name', 'no_such_field']]), 'builtins.ValueError', /Invalid field 'no_such_field' on model 'account\.move'/],
      [rpc.as('admin')('account.move', 'write', [[999999], { ref: 'x' }]), 'odoo.exceptions.MissingError', /Record does not exist or has been deleted\.\n\(Record: account\.move\(999999,\), User: 2\)/],
      [rpc.as('ksiegowa')('account.move', 'write', [[999999], { ref: 'x' }]), 'odoo.exceptions.MissingError', /Rekord nie istnieje lub został usunięty/],
      [rpc.as('admin')('account.move', 'action_do_magic', [[1]]), 'builtins.AttributeError', /The method 'action_do_magic' does not exist on the model 'account\.move'/],
      [rpc.as('admin')('account.move', 'write', [[1], { state: 'bogus' }]), 'builtins.ValueError', /Wrong value for account\.move\.state/],
      [rpc.as('admin')('account.move', 'write', [[1], { invoice_line_ids: [[6, 0, 'x']] }]), 'builtins.ValueError', /Wrong value for account\.move\.invoice_line_ids/],
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
    const servers = await rpc.ok(rpc.as('admin')('ir.mail_server', 'search_read', [[]], { fields: ['name', 'smtp_host', 'smtp_port', 'from_filter', 'smtp_encryption', 'active'], context: { active_test: false } }));
    expect(servers).toContainEqual(expect.objectContaining({ name: 'Sandbox SMTP', smtp_host: '127.0.0.1', smtp_port: 2525, from_filter: false, smtp_encryption: 'none', active: true }));
    expect(servers).toContainEqual(expect.objectContaining({ from_filter: 'inny-dostawca.example', active: true }));
    expect(servers.filter((s: Rec) => s.active === false)).toHaveLength(1);
    const active = await rpc.ok(rpc.as('admin')('ir.mail_server', 'search_count', [[]]));
    expect(active).toBe(servers.length - 1);
    const users = await rpc.ok(rpc.as('ksiegowa')('res.users', 'search_read', [[['login', 'in', ['ksiegowa', 'handlowiec']]]], { fields: ['login', 'email', 'groups_id'] }));
    expect(users.find((u: Rec) => u.login === 'ksiegowa').email).toBe('anna.nowak@spike.example');
    expect(users.find((u: Rec) => u.login === 'handlowiec').email).toMatch(/@inny-dostawca\.example$/);
  });

  it('message_post adds a note that mail.message shows, authored by the calling user', async () => {
    const k = rpc.as('ksiegowa');
    const [inv] = await rpc.ok(k('account.move', 'search', [[['state', '=', 'posted']]], { limit: 1, order: 'id' }));
    const msgId = await rpc.ok(k('account.move', 'message_post', [[inv]], { body: '<p>Wysłano fakturę &amp; log</p>', message_type: 'comment', subtype_xmlid: 'mail.mt_note', body_is_html: true, context: { no_new_invoice: true } }));
    expect(typeof msgId).toBe('number');
    const [msg] = await rpc.ok(k('mail.message', 'read', [[msgId], ['model', 'res_id', 'body', 'message_type', 'subtype_id', 'author_id', 'date']]));
    expect(msg).toMatchObject({ model: 'account.move', res_id: inv, body: '<p>Wysłano fakturę &amp; log</p>', message_type: 'comment', subtype_id: [expect.any(Number), 'Note'], author_id: [8, 'Anna Nowak'] });
    expect(msg.date).toMatch(/^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}$/);
    const plain = await rpc.ok(k('account.move', 'message_post', [[inv]], { body: 'a < b', message_type: 'comment', subtype_xmlid: 'mail.mt_note' }));
    const [p] = await rpc.ok(k('mail.message', 'read', [[plain], ['body']]));
    expect(p.body).toBe('<p>a &lt; b</p>');
  });

  it('write bumps write_date; posting a created draft numbers it and computes its totals', async () => {
    const k = rpc.as('ksiegowa');
    const partner = sb.records('res.partner').find((p) => p.is_company === true && p.customer_rank === 1) as Rec;
    const tax23 = sb.records('account.tax').find((t) => t.name === '23%') as Rec;
    const id = await rpc.ok(k('account.move', 'create', [{
      move_type: 'out_invoice', partner_id: partner.id, invoice_date: today,
      invoice_line_ids: [[0, 0, { name: 'Usługa testowa', quantity: 3, price_unit: 33.33, discount: 10, tax_ids: [[6, 0, [tax23.id]]] }], [0, 0, { display_type: 'line_section', name: 'Sekcja' }]],
    }]));
    const [draft] = await rpc.ok(k('account.move', 'read', [[id], ['name', 'state', 'amount_untaxed', 'amount_tax', 'amount_total', 'write_date', 'invoice_line_ids', 'commercial_partner_id']]));
    // 3 × 33.33 × 0.9 = 89.991 -> 89.99; VAT 23% = 20.6977 -> 20.70
    expect(draft).toMatchObject({ name: '/', state: 'draft', amount_untaxed: 89.99, amount_tax: 20.7, amount_total: 110.69, commercial_partner_id: [partner.id, partner.name] });
    expect(draft.invoice_line_ids).toHaveLength(2);
    sb.write('account.move', id, { write_date: '2000-01-01 00:00:00' });
    expect((sb.records('account.move').find((m) => m.id === id) as Rec).write_date).toBe('2000-01-01 00:00:00');
    await rpc.ok(k('account.move', 'write', [[id], { state: 'posted' }]));
    const [posted] = await rpc.ok(k('account.move', 'read', [[id], ['name', 'state', 'write_date', 'payment_reference']]));
    expect(posted.name).toMatch(new RegExp(`^FV/${today.slice(0, 4)}/\\d{5}$`));
    expect(posted.payment_reference).toBe(posted.name);
    expect(posted.write_date > '2000-01-01 00:00:00').toBe(true);
    const names = sb.records('account.move').filter((m) => m.name !== '/').map((m) => m.name);
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
      const [w] = await rpc.ok(k('account.move.send.wizard', 'read', [[wid], ['mail_subject', 'mail_body', 'mail_lang', 'mail_template_id', 'mail_partner_ids', 'sending_methods', 'pdf_report_id', 'move_id']]));
      expect(await rpc.ok(k('account.move.send.wizard', 'unlink', [[wid]]))).toBe(true);
      return w;
    };
    const wPl = await render(pl, tmpl('email_template_edi_invoice'));
    expect(wPl).toMatchObject({ mail_lang: 'pl_PL', mail_subject: `Spike Sp. z o.o. Faktura (nr ${String(pl.name)})`, sending_methods: ['email'], pdf_report_id: [222, 'Invoices'], move_id: [pl.id, pl.name] });
    expect(wPl.mail_body).toContain(`fakturę <strong>${String(pl.name)}</strong>`);
    expect(wPl.mail_body).toContain(`${Number(pl.amount_total).toFixed(2)} PLN`);
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
    expect(await err(k('account.move.send.wizard', 'create', [[{ move_id: pl.id, template_id: tmpl('email_template_edi_invoice') }]]))).toMatchObject({ name: 'builtins.ValueError', message: "Invalid field 'template_id' on model 'account.move.send.wizard'" });
    expect(await err(k('account.move.send.wizard', 'create', [[{ mail_template_id: tmpl('email_template_edi_invoice') }]]))).toMatchObject({ name: 'odoo.exceptions.ValidationError' });
    expect((await err(k('account.move.send.wizard', 'create', [[{ move_id: pl.id, mail_template_id: tmpl('email_template_edi_sale') }]])))?.name).toBe('odoo.exceptions.UserError');
    // one wizard per create; many read and unlinked in one call
    expect(await err(k('account.move.send.wizard', 'create', [[{ move_id: pl.id }, { move_id: en.id }]]))).toMatchObject({ name: 'builtins.ValueError', message: expect.stringMatching(/^Expected singleton: account\.move\.send\.wizard\(/) });
    const [a] = await rpc.ok(k('account.move.send.wizard', 'create', [[{ move_id: pl.id }]]));
    const [b] = await rpc.ok(k('account.move.send.wizard', 'create', [[{ move_id: en.id }]]));
    expect((await rpc.ok(k('account.move.send.wizard', 'read', [[a, b], ['mail_lang']]))).map((w: Rec) => w.mail_lang)).toEqual(['pl_PL', 'en_US']);
    expect(await rpc.ok(k('account.move.send.wizard', 'unlink', [[a, b]]))).toBe(true);
    // 17's model is abstract on 18: nothing to see, nobody may create it; a viewer may not create the wizard
    expect(await rpc.ok(k('account.move.send', 'fields_get', []))).toEqual({});
    expect(await err(k('account.move.send', 'create', [[{ move_ids: [[6, 0, [pl.id]]] }]], { context: { lang: 'pl_PL' } }))).toMatchObject({ name: 'odoo.exceptions.AccessError', message: expect.stringContaining('Obecnie żadna grupa nie zezwala na tę operację') });
    expect(await err(rpc.as('handlowiec')('account.move.send.wizard', 'create', [[{ move_id: pl.id }]]))).toMatchObject({ name: 'odoo.exceptions.AccessError', message: expect.stringContaining('(account.move.send.wizard)') });
  });

  it('prints an invoice as PDF only for a web session, with the invoice number as text', async () => {
    const moves = sb.records('account.move');
    const inv = moves.find((m) => m.state === 'posted' && Array.isArray(m.invoice_line_ids) && m.invoice_line_ids.length === 200) as Rec;
    expect(inv).toBeDefined();
    const noCookie = await fetch(`${sb.url}/report/pdf/account.report_invoice/${String(inv.id)}`, { redirect: 'manual' });
    expect(noCookie.status).toBe(303);
    expect(noCookie.headers.get('location')).toMatch(/^\/web\/login/);
    const bad = await post(`${sb.url}/web/session/authenticate`, { jsonrpc: '2.0', method: 'call', id: 1, params: { db: 'sandbox', login: 'ksiegowa', password: 'nope' } });
    expect(bad.body.error?.data.name).toBe('odoo.exceptions.AccessDenied');
    const auth = await post(`${sb.url}/web/session/authenticate`, { jsonrpc: '2.0', method: 'call', id: 1, params: { db: 'sandbox', login: 'ksiegowa', password: 'ksiegowa' } });
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
  beforeAll(async () => { sb = await startSandboxHost({ smtp: SMTP, stateFile: null, invoiceCount: 20 }); });
  afterAll(async () => { await sb?.stop(); });

  it('answers any execute_kw arguments with a result or an Odoo error payload, never a crash', async () => {
    const json = fc.jsonValue({ maxDepth: 3 });
    const methods = ['search_read', 'search', 'read', 'search_count', 'write', 'create', 'unlink', 'fields_get', 'message_post', 'name_search', 'nope'];
    const models = ['account.move', 'res.partner', 'account.move.line', 'mail.message', 'account.move.send.wizard', 'nope.model'];
    await fc.assert(
      fc.asyncProperty(fc.constantFrom(...models), fc.constantFrom(...methods), fc.array(json, { maxLength: 4 }), fc.dictionary(fc.constantFrom('fields', 'limit', 'offset', 'order', 'context', 'domain', 'vals'), json), async (model, method, args, kwargs) => {
        const a = await post(`${sb.url}/jsonrpc`, { jsonrpc: '2.0', method: 'call', id: 7, params: { service: 'object', method: 'execute_kw', args: ['sandbox', 2, 'admin', model, method, args, kwargs] } });
        expect(a.status).toBe(200);
        expect(a.body.id).toBe(7);
        // builtins.Exception would be an internal fault of the sandbox (a JavaScript error), not Odoo's answer
        if (a.body.error) expect(a.body.error.data.name, a.body.error.data.message).toMatch(/^(odoo\.exceptions\.\w+|builtins\.(KeyError|ValueError|TypeError|AttributeError)|psycopg2\.errors\.\w+)$/);
        else expect('result' in a.body).toBe(true);
      }),
      { numRuns: 150 },
    );
    expect((await post(`${sb.url}/jsonrpc`, { jsonrpc: '2.0', method: 'call', id: 1, params: { service: 'common', method: 'version', args: [] } })).body.result).toBeDefined();
  });
});

describe('sandbox host: seed', () => {
  let sb: SandboxHost;
  const TODAY = '2026-11-27';
  let moves: Rec[];
  let lines: Rec[];
  let partners: Rec[];

  beforeAll(async () => {
    sb = await startSandboxHost({ smtp: SMTP, today: TODAY, stateFile: null, imap: { host: '127.0.0.1', port: 1143, user: 'faktury@spike.example', password: 'imap-secret', ssl: false } });
    moves = sb.records('account.move');
    lines = sb.records('account.move.line');
    partners = sb.records('res.partner');
  });
  afterAll(async () => { await sb?.stop(); });

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
        const rate = rates.filter((r) => idOf(r.currency_id) === idOf(m.currency_id) && String(r.name) <= date).sort((a, b) => String(b.name).localeCompare(String(a.name)))[0] as Rec;
        const inv = scaled(rate.inverse_company_rate, 6);
        expect(minor(m.amount_untaxed_signed)).toBe(sign * roundDiv(untaxed * inv, 1_000_000n));
        expect(minor(m.amount_tax_signed)).toBe(sign * roundDiv((total - untaxed) * inv, 1_000_000n));
        expect(minor(m.amount_total_signed)).toBe(minor(m.amount_untaxed_signed) + minor(m.amount_tax_signed));
      }
    }
  });

  it('offers templates, the invoice report and, with an imap option, a fetchmail server paired by user', () => {
    const templates = sb.records('mail.template');
    expect(templates.map((t) => t.name)).toEqual(expect.arrayContaining(['Faktura dla klienta', 'Faktura korygująca dla klienta', 'Potwierdzenie zamówienia']));
    expect(sb.records('ir.actions.report')).toContainEqual(expect.objectContaining({ report_name: 'account.report_invoice', model: 'account.move', report_type: 'qweb-pdf' }));
    const [fetchmail] = sb.records('fetchmail.server');
    expect(fetchmail).toMatchObject({ server: '127.0.0.1', port: 1143, server_type: 'imap', is_ssl: false, user: 'faktury@spike.example', password: 'imap-secret' });
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
      const [inv] = await rpc.ok(k('account.move', 'search', [[['state', '=', 'posted'], ['is_move_sent', '=', false]]], { limit: 1 }));
      await rpc.ok(k('account.move', 'write', [[inv], { is_move_sent: true }]));
      const note = await rpc.ok(k('account.move', 'message_post', [[inv]], { body: '<p>zapisane</p>', body_is_html: true, message_type: 'comment', subtype_xmlid: 'mail.mt_note' }));
      await rpc.ok(rpc.as('admin')('ir.model.fields', 'create', [{ name: 'x_courier_status', model: 'account.move', ttype: 'char', field_description: 'Courier status', state: 'manual' }]));
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
