/**
 * The sandbox host's "Extensions" screen (`/extensions`): what a host's extension registry does with a
 * connector, using only the connector's public surface.
 *  - reads the connector's manifest (`GET <connector>/manifest`) and lists it;
 *  - "enable": calls the manifest's install endpoint with this sandbox's URL, database and admin
 *    credential (and a webhook callback here), and keeps the returned id and tokens in the sandbox's
 *    state; enabling again after "disable" sets `enabled: true` in the settings;
 *  - "disable": sets `enabled: false` in the settings;
 *  - embeds the connector's settings and logs pages in iframes, through short-lived page links it
 *    asks for with its token (`POST /api/installations/{id}/page-links`).
 * It also receives the connector's webhooks (kept in memory, listed on the screen) and serves a tiny
 * invoice page at Odoo's invoice URL, so the logs page's invoice links lead somewhere.
 *
 * Plain HTML forms (post / redirect / get), no script. Every call to the connector has a timeout.
 */
import type { IncomingMessage } from 'node:http';
import type { Orm } from './orm.ts';
import type { RouteContext, SandboxHttp } from './server.ts';
import { escapeHtml as esc } from './util.ts';

export interface ExtensionsOptions {
  /** Base URL of the connector (its manifest is at `<connectorUrl>/manifest`). */
  connectorUrl: string;
  /** The credential the sandbox gives the connector at install (default: the admin user). */
  integration?: { login: string; secret: string };
  /** Timeout of each call to the connector, ms (default 15 s). */
  timeoutMs?: number;
}

export interface InstalledExtension {
  id: string;
  apiToken: string;
  webhookSecret: string | null;
}

export interface ExtensionsScreen {
  /** The installed connector, if any. */
  installed(): InstalledExtension | null;
  /** Adopts an installation made elsewhere (the demo registers itself and hands its token over). */
  adopt(installation: InstalledExtension): void;
  /** Webhooks received from the connector, newest first. */
  webhooks(): { at: string; headers: Record<string, string>; body: unknown }[];
}

interface Manifest {
  id: string;
  name: { pl: string; en: string };
  description: { pl: string; en: string };
  version: string;
  baseUrl?: string;
  endpoints: { install: { path: string } };
}

type Lang = 'pl' | 'en';

export function registerExtensions(
  http: SandboxHttp,
  orm: Orm,
  sandbox: { url: () => string; database: string },
  options: ExtensionsOptions,
): ExtensionsScreen {
  const connectorUrl = options.connectorUrl.replace(/\/+$/, '');
  const integration = options.integration ?? { login: 'admin', secret: 'admin' };
  const timeoutMs = options.timeoutMs ?? 15_000;
  let installed: InstalledExtension | null = null;
  const received: { at: string; headers: Record<string, string>; body: unknown }[] = [];
  let flash: { kind: 'ok' | 'error'; text: string } | null = null;

  // The connector's JSON answers, read loosely (this is a demo screen, not an adapter).
  type Answer = { status: number; body: Record<string, any> }; // eslint-disable-line @typescript-eslint/no-explicit-any
  async function call(method: string, path: string, body?: unknown, token?: string): Promise<Answer> {
    const res = await fetch(`${connectorUrl}${path}`, {
      method,
      headers: { ...(body !== undefined ? { 'content-type': 'application/json' } : {}), ...(token ? { authorization: `Bearer ${token}` } : {}) },
      ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
      signal: AbortSignal.timeout(timeoutMs),
    });
    const text = await res.text();
    try {
      return { status: res.status, body: text ? (JSON.parse(text) as Answer['body']) : {} };
    } catch {
      return { status: res.status, body: { error: { message: text.slice(0, 200) } } };
    }
  }

  const errorText = (r: Answer) => {
    const e = r.body?.error;
    if (!e) return `HTTP ${r.status}`;
    const fields =
      Array.isArray(e.fields) && e.fields.length ? e.fields.map((f: { field: string; message: string }) => `${f.field}: ${f.message}`).join('; ') : e.message;
    return `${e.code ?? r.status}: ${fields}`;
  };

  async function manifest(): Promise<Manifest> {
    const r = await call('GET', '/manifest');
    if (r.status !== 200) throw new Error(`manifest: ${errorText(r)}`);
    return r.body as Manifest;
  }

  function redirect(ctx: RouteContext, lang: Lang): void {
    ctx.res.writeHead(303, { Location: `/extensions${lang === 'en' ? '?lang=en' : ''}` });
    ctx.res.end();
  }

  async function enable(): Promise<void> {
    if (installed) {
      const r = await call('PUT', `/api/installations/${installed.id}/settings`, { enabled: true }, installed.apiToken);
      if (r.status !== 200) throw new Error(errorText(r));
      return;
    }
    const m = await manifest();
    const r = await call('POST', m.endpoints.install.path, {
      hostKind: 'odoo',
      hostUrl: sandbox.url(),
      database: sandbox.database,
      integration,
      callbackUrl: `${sandbox.url()}/extensions/${encodeURIComponent(m.id)}/webhooks`,
    });
    if (r.status !== 201) throw new Error(errorText(r));
    installed = { id: r.body.id, apiToken: r.body.apiToken, webhookSecret: r.body.webhookSecret ?? null };
  }

  async function disable(): Promise<void> {
    if (!installed) return;
    const r = await call('PUT', `/api/installations/${installed.id}/settings`, { enabled: false }, installed.apiToken);
    if (r.status !== 200) throw new Error(errorText(r));
  }

  async function action(ctx: RouteContext, what: () => Promise<void>, done: { pl: string; en: string }): Promise<void> {
    await ctx.readBody();
    const lang = langOf(ctx);
    try {
      await what();
      flash = { kind: 'ok', text: done[lang] };
    } catch (e) {
      flash = { kind: 'error', text: e instanceof Error ? e.message : String(e) };
    }
    redirect(ctx, lang);
  }

  http.route('POST', '/extensions/:ext/enable', (ctx) => action(ctx, enable, { pl: 'Rozszerzenie włączone.', en: 'Extension enabled.' }));
  http.route('POST', '/extensions/:ext/disable', (ctx) => action(ctx, disable, { pl: 'Automatyczna wysyłka wyłączona.', en: 'Automatic sending disabled.' }));

  http.route('POST', '/extensions/:ext/webhooks', async (ctx) => {
    const raw = await ctx.readBody();
    let body: unknown;
    try {
      body = JSON.parse(raw.toString('utf8'));
    } catch {
      body = raw.toString('utf8').slice(0, 500);
    }
    received.unshift({ at: new Date().toISOString(), headers: pickHeaders(ctx.req), body });
    received.length = Math.min(received.length, 50);
    ctx.res.writeHead(204);
    ctx.res.end();
  });

  http.route('GET', '/extensions', async (ctx) => {
    const lang = langOf(ctx);
    const L = (pl: string, en: string) => (lang === 'pl' ? pl : en);
    let card: string;
    try {
      const m = await manifest();
      let state = L('niezainstalowane', 'not installed');
      let frames = '';
      let sendingOn = false;
      if (installed) {
        const s = await call('GET', `/api/installations/${installed.id}/settings`, undefined, installed.apiToken);
        sendingOn = s.status === 200 && s.body.enabled === true;
        state =
          s.status === 200
            ? s.body.enabled
              ? L('zainstalowane, wysyłka włączona', 'installed, sending on')
              : L('zainstalowane, wysyłka wyłączona', 'installed, sending off')
            : `${L('błąd', 'error')}: ${errorText(s)}`;
        const links = await call('POST', `/api/installations/${installed.id}/page-links`, { lang }, installed.apiToken);
        if (links.status === 200) {
          frames = `<section class="ext-frames">
<h3>${L('Ustawienia', 'Settings')}</h3>
<iframe id="settings-frame" name="settings" title="${L('Ustawienia', 'Settings')}" src="${esc(links.body.settingsUrl)}"></iframe>
<h3>${L('Logi', 'Logs')}</h3>
<iframe id="logs-frame" name="logs" title="${L('Logi', 'Logs')}" src="${esc(links.body.logsUrl)}"></iframe>
</section>`;
        } else frames = `<p class="error">${esc(errorText(links))}</p>`;
      }
      const id = encodeURIComponent(m.id);
      card = `<article class="ext" data-extension="${esc(m.id)}" data-state="${installed ? 'installed' : 'available'}">
<h2>${esc(m.name[lang])} <small>${esc(m.version)}</small></h2>
<p>${esc(m.description[lang])}</p>
<p>${L('Stan', 'State')}: <strong id="ext-state">${esc(state)}</strong></p>
${!sendingOn ? `<form method="post" action="/extensions/${id}/enable${lang === 'en' ? '?lang=en' : ''}"><button id="ext-enable" type="submit">${L('Włącz', 'Enable')}</button></form>` : ''}
${sendingOn ? `<form method="post" action="/extensions/${id}/disable${lang === 'en' ? '?lang=en' : ''}"><button id="ext-disable" type="submit">${L('Wyłącz', 'Disable')}</button></form>` : ''}
${frames}
</article>`;
    } catch (e) {
      card = `<p class="error">${L('Łącznik nie odpowiada', 'The connector does not answer')} (${esc(connectorUrl)}): ${esc(e instanceof Error ? e.message : String(e))}</p>`;
    }
    const message = flash ? `<p class="flash ${flash.kind}" id="flash">${esc(flash.text)}</p>` : '';
    flash = null;
    const hooks = received.length
      ? `<details><summary>Webhooks (${received.length})</summary><ul>${received
          .slice(0, 20)
          .map((w) => `<li><code>${esc(w.at)}</code> ${esc(String((w.body as { type?: string } | null)?.type ?? ''))}</li>`)
          .join('')}</ul></details>`
      : '';
    sendHtml(
      ctx,
      `<!doctype html><html lang="${lang}"><head><meta charset="utf-8"><title>${L('Rozszerzenia', 'Extensions')} | Sandbox</title>
<style>body{font:14px/1.4 system-ui,sans-serif;margin:1rem 2rem}iframe{width:100%;height:640px;border:1px solid #ccc;border-radius:6px}.flash.ok{color:#1a7f37}.flash.error,.error{color:#b42318}form{display:inline-block;margin-right:.5rem}</style></head>
<body><header><h1>${L('Rozszerzenia', 'Extensions')}</h1><nav><a href="/extensions?lang=pl">PL</a> · <a href="/extensions?lang=en">EN</a></nav></header>
${message}${card}${hooks}</body></html>`,
    );
  });

  // The invoice as the host shows it, at Odoo 17+'s URL for customer invoices (the logs page links here).
  http.route('GET', '/odoo/action-account.action_move_out_invoice_type/:id', (ctx) => {
    const move = orm.get('account.move', Number(ctx.params.id));
    if (!move || !Number.isInteger(Number(ctx.params.id))) {
      ctx.res.writeHead(404, { 'Content-Type': 'text/plain; charset=utf-8' });
      ctx.res.end('Record does not exist or has been deleted.');
      return;
    }
    const partner = typeof move.partner_id === 'number' ? orm.get('res.partner', move.partner_id) : undefined;
    const row = (k: string, v: unknown) => `<tr><th>${esc(k)}</th><td>${esc(String(v ?? ''))}</td></tr>`;
    sendHtml(
      ctx,
      `<!doctype html><html lang="pl"><head><meta charset="utf-8"><title>${esc(String(move.name))} | Sandbox</title></head><body>
<h1 id="invoice-name">${esc(String(move.name))}</h1><table>
${row('Klient', partner?.name)}${row('Data wystawienia', move.invoice_date)}${row('Stan', move.state)}${row('Wysłana', move.is_move_sent ? 'tak' : 'nie')}${row('Kwota', move.amount_total)}
</table></body></html>`,
    );
  });

  return {
    installed: () => installed,
    adopt(i) {
      installed = { ...i };
    },
    webhooks: () => received.map((w) => ({ ...w })),
  };
}

function langOf(ctx: RouteContext): Lang {
  return ctx.url.searchParams.get('lang') === 'en' ? 'en' : 'pl';
}

function pickHeaders(req: IncomingMessage): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(req.headers)) if (typeof v === 'string' && (k.startsWith('x-') || k === 'content-type')) out[k] = v;
  return out;
}

function sendHtml(ctx: RouteContext, html: string): void {
  ctx.res.writeHead(200, { 'Content-Type': 'text/html; charset=utf-8', 'Content-Length': String(Buffer.byteLength(html)), 'Cache-Control': 'no-store' });
  ctx.res.end(html);
}
