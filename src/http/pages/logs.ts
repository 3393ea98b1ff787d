/** The logs page: filters, run summaries (with progress of a running run) and the automation's entries. */
import { LOG_ONCE_REASONS } from '../../jobs/rules.ts';
import { esc } from './html.ts';
import { t } from './i18n.ts';
import type { PageLang } from './links.ts';

/** Where an invoice opens in the host, or null when the host has no such page. */
export function invoiceLinkBase(hostKind: string, hostUrl: string): string | null {
  // Odoo-like hosts (the sandbox follows Odoo 17+ URLs): the customer-invoice action.
  if (hostKind === 'odoo' || hostKind === 'sandbox') return `${hostUrl.replace(/\/+$/, '')}/odoo/action-account.action_move_out_invoice_type/`;
  return null;
}

export function logsBody(lang: PageLang): string {
  const s = (k: Parameters<typeof t>[1]) => esc(t(lang, k));
  return `<main class="logs">
<h1>${s('logsTitle')}</h1>
<section>
<h2>${s('runs')}</h2>
<table id="runs"><thead><tr><th>${s('started')}</th><th>${s('trigger')}</th><th>${s('status')}</th><th>${s('progress')}</th><th>${s('counts')}</th><th>${s('duration')}</th></tr></thead><tbody></tbody></table>
</section>
<section>
<h2>${s('logs')}</h2>
<form id="filters" novalidate>
  <label>${s('dateFrom')} <input type="date" name="from" id="filter-from"></label>
  <label>${s('dateTo')} <input type="date" name="to" id="filter-to"></label>
  <label>${s('level')} <select name="level" id="filter-level">
    <option value="">${s('any')}</option>
    <option value="level:info">info</option><option value="level:warning">warning</option><option value="level:error">error</option>
    <option value="event:invoice.sent">invoice.sent</option><option value="event:invoice.drafted">invoice.drafted</option>
    ${[...LOG_ONCE_REASONS].map((r) => `<option value="event:invoice.skipped.${esc(r)}">invoice.skipped.${esc(r)}</option>`).join('')}<option value="event:invoice.failed">invoice.failed</option>
    <option value="event:invoice.retry">invoice.retry</option><option value="event:invoice.uncertain">invoice.uncertain</option>
    <option value="event:run.completed">run.completed</option>
  </select></label>
  <label>${s('invoiceNumber')} <input type="text" name="invoiceNumber" id="filter-invoice" size="14"></label>
  <button type="submit">${s('apply')}</button>
  <p class="field-error" id="filter-error" role="alert" hidden></p>
</form>
<table id="entries"><thead><tr><th>${s('time')}</th><th>${s('level')}</th><th>${s('event')}</th><th>${s('invoice')}</th><th>${s('message')}</th></tr></thead><tbody></tbody></table>
<button type="button" id="more" hidden>${s('more')}</button>
</section>
</main>`;
}
