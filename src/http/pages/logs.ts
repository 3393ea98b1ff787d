/** The logs page: filters, run summaries (with progress of a running run) and the automation's entries. */
import { invoiceUrlBase } from '../../connector/registry.ts';
import { LOG_ONCE_REASONS } from '../../jobs/rules/selection.ts';
import { render, skipReasonText } from '../../messages/catalogue.ts';
import { esc } from './html.ts';
import { t } from './i18n.ts';
import type { PageLang } from './links.ts';

/** Where an invoice opens in the host (the host descriptor's `invoiceUrlBase`), or null when the host has no such page. */
export function invoiceLinkBase(hostKind: string, hostUrl: string): string | null {
  return invoiceUrlBase(hostKind, hostUrl);
}

export function logsBody(lang: PageLang): string {
  const s = (k: Parameters<typeof t>[1]) => esc(t(lang, k));
  const opt = (value: string, label: string) => `<option value="${esc(value)}">${esc(label)}</option>`;
  const events = [
    ...(['invoice.sent', 'invoice.drafted', 'invoice.failed', 'invoice.retry', 'invoice.uncertain', 'invoice.bounced'] as const).map((e) =>
      opt(`event:${e}`, render(lang, `filter.event.${e}`)),
    ),
    ...[...LOG_ONCE_REASONS].map((r) => opt(`event:invoice.skipped.${r}`, render(lang, 'filter.skipped', { reason: skipReasonText(lang, r) }))),
    opt('event:run.completed', render(lang, 'filter.event.run.completed')),
  ].join('');
  return `<main class="logs">
<h1>${s('logsTitle')}</h1>
<section id="current-run" class="current-run" data-state="none" aria-live="polite">
<h2 id="current-run-title">${s('currentRun')}</h2>
<div class="run-progress-row"><progress id="run-progress" max="1" value="0"></progress><span id="run-progress-text"></span></div>
<p id="run-progress-detail" class="help"></p>
</section>
<section>
<h2>${s('runs')}</h2>
<table id="runs"><thead><tr><th class="time">${s('started')}</th><th>${s('trigger')}</th><th>${s('status')}</th><th>${s('progress')}</th><th>${s('counts')}</th><th>${s('duration')}</th></tr></thead><tbody></tbody></table>
</section>
<section>
<h2>${s('logs')}</h2>
<form id="filters" novalidate>
  <label>${s('dateFrom')} <input type="date" name="from" id="filter-from"></label>
  <label>${s('dateTo')} <input type="date" name="to" id="filter-to"></label>
  <label>${s('level')} <select name="level" id="filter-level">
    <option value="">${s('any')}</option>
    ${opt('level:info', render(lang, 'level.info'))}${opt('level:warning', render(lang, 'level.warning'))}${opt('level:error', render(lang, 'level.error'))}
    ${events}
  </select></label>
  <label>${s('invoiceNumber')} <input type="text" name="invoiceNumber" id="filter-invoice" size="16"></label>
  <button type="submit">${s('apply')}</button>
  <p class="field-error" id="filter-error" role="alert" hidden></p>
</form>
<table id="entries"><thead><tr><th class="time">${s('time')}</th><th>${s('levelOnly')}</th><th>${s('invoice')}</th><th>${s('message')}</th></tr></thead><tbody></tbody></table>
<button type="button" id="more" hidden>${s('more')}</button>
</section>
</main>`;
}
