/* global document, fetch, URLSearchParams, FormData, Node, setInterval */
// The logs page's script: run summaries (polled; a running run shows n of N), the automation's
// entries with filters, each invoice linking to the invoice in the host. Plain browser JavaScript.
(() => {
  'use strict';
  const data = JSON.parse(document.getElementById('page-data').textContent);
  const S = data.strings;
  const locale = data.lang === 'pl' ? 'pl-PL' : 'en-GB';
  const fmt = (iso) => (iso ? new Date(iso).toLocaleString(locale) : '');

  async function api(path) {
    const res = await fetch(data.apiBase + path, { headers: { authorization: 'Bearer ' + data.session } });
    const body = (res.headers.get('content-type') || '').includes('application/json') ? await res.json() : null;
    return { status: res.status, body };
  }

  function cell(tr, text, className) {
    const td = document.createElement('td');
    if (text instanceof Node) td.appendChild(text);
    else td.textContent = text;
    if (className) td.className = className;
    tr.appendChild(td);
    return td;
  }

  // ---- runs ----
  const runsBody = document.querySelector('#runs tbody');
  let lastRunsKey = '';
  let lastStatus = new Map();
  function duration(run) {
    if (!run.finishedAt) return '';
    const s = (Date.parse(run.finishedAt) - Date.parse(run.startedAt)) / 1000;
    return s < 60 ? s.toFixed(1) + ' s' : Math.floor(s / 60) + ' min ' + Math.round(s % 60) + ' s';
  }
  function countsText(c) {
    return Object.entries(c).filter(([, n]) => n > 0).map(([k, n]) => k + ': ' + n).join(', ') || '0';
  }
  async function loadRuns() {
    const { status, body } = await api('/runs?limit=10');
    if (status !== 200) return;
    const key = JSON.stringify(body.runs.map((r) => [r.id, r.status, r.processed]));
    if (key === lastRunsKey) return;
    // A run that finished (or appeared) since the last poll: its entries are new.
    const changed = lastRunsKey !== '' && body.runs.some((r) => lastStatus.get(r.id) !== r.status);
    lastStatus = new Map(body.runs.map((r) => [r.id, r.status]));
    lastRunsKey = key;
    runsBody.textContent = '';
    for (const run of body.runs) {
      const tr = document.createElement('tr');
      tr.dataset.runId = run.id;
      tr.dataset.status = run.status;
      cell(tr, fmt(run.startedAt));
      cell(tr, run.trigger);
      cell(tr, run.status + (run.error ? ': ' + run.error : ''), 'status-' + run.status);
      const progress = document.createElement('span');
      if (run.status === 'running') {
        const bar = document.createElement('progress');
        bar.max = Math.max(run.total, 1);
        bar.value = run.processed;
        // Until the due invoices are counted the total is 0: show the bar alone.
        progress.append(bar, run.total > 0 ? ' ' + run.processed + ' ' + S.of + ' ' + run.total : ' ' + S.loading);
      } else progress.textContent = run.processed + ' ' + S.of + ' ' + run.total;
      cell(tr, progress, 'progress');
      cell(tr, countsText(run.counts), 'counts');
      cell(tr, duration(run));
      runsBody.appendChild(tr);
    }
    if (changed || body.runs.some((r) => r.status === 'running')) void loadEntries(false);
  }

  // ---- entries ----
  const filters = document.getElementById('filters');
  const entriesBody = document.querySelector('#entries tbody');
  const more = document.getElementById('more');
  const filterError = document.getElementById('filter-error');
  let next = null;

  function query(before) {
    const p = new URLSearchParams();
    const f = new FormData(filters);
    if (f.get('from')) p.set('fromDate', f.get('from'));
    if (f.get('to')) p.set('toDate', f.get('to'));
    const lv = String(f.get('level') || '');
    if (lv.startsWith('level:')) p.set('level', lv.slice(6));
    if (lv.startsWith('event:')) p.set('event', lv.slice(6));
    if (f.get('invoiceNumber')) p.set('invoiceNumber', f.get('invoiceNumber'));
    p.set('limit', '200');
    if (before) p.set('before', before);
    return '/logs?' + p.toString();
  }

  function invoiceCell(e) {
    if (!e.invoiceId) return document.createTextNode('');
    const text = e.invoiceNumber || '#' + e.invoiceId;
    if (!data.invoiceLinkBase) return document.createTextNode(text);
    const a = document.createElement('a');
    a.href = data.invoiceLinkBase + encodeURIComponent(e.invoiceId);
    a.target = '_blank';
    a.rel = 'noopener';
    a.textContent = text;
    return a;
  }

  async function loadEntries(append) {
    filterError.hidden = true;
    const { status, body } = await api(query(append ? next : null));
    if (status !== 200) {
      filterError.textContent = (body && body.error && body.error.message) || String(status);
      filterError.hidden = false;
      return;
    }
    if (!append) entriesBody.textContent = '';
    for (const e of body.entries) {
      const tr = document.createElement('tr');
      tr.dataset.event = e.event;
      tr.className = 'level-' + e.level;
      cell(tr, fmt(e.at));
      cell(tr, e.level);
      cell(tr, e.event);
      cell(tr, invoiceCell(e), 'invoice');
      cell(tr, e.message);
      entriesBody.appendChild(tr);
    }
    if (!append && body.entries.length === 0) {
      const tr = document.createElement('tr');
      cell(tr, S.noEntries).colSpan = 5;
      entriesBody.appendChild(tr);
    }
    next = body.next;
    more.hidden = !next;
    document.body.dataset.entries = String(entriesBody.querySelectorAll('tr[data-event]').length);
  }

  filters.addEventListener('submit', (ev) => { ev.preventDefault(); void loadEntries(false); });
  more.addEventListener('click', () => void loadEntries(true));

  void loadEntries(false);
  void loadRuns();
  setInterval(() => void loadRuns(), 2000);
})();
