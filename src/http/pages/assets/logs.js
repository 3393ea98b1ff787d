/* global document, fetch, URLSearchParams, FormData, Node, setTimeout */
// The logs page's script: the current run's progress (a bar with counts and an estimate, polled every
// second while a run goes), run summaries, the automation's entries as sentences in the page's
// language, filters, each invoice linking to the invoice in the host. Plain browser JavaScript.
(() => {
  'use strict';
  const data = JSON.parse(document.getElementById('page-data').textContent);
  const S = data.strings;
  const M = data.messages;
  const locale = data.lang === 'pl' ? 'pl-PL' : 'en-GB';
  const fmt = (iso) => (iso ? new Date(iso).toLocaleString(locale, { dateStyle: 'short', timeStyle: 'medium' }) : '');
  const say = (code, params) => (M[code] || code).replace(/\{([a-zA-Z0-9_]+)\}/g, (_m, k) => (params && params[k] != null ? String(params[k]) : ''));

  async function api(path) {
    const res = await fetch(data.apiBase + path, { headers: { authorization: 'Bearer ' + data.session } });
    const body = (res.headers.get('content-type') || '').includes('application/json') ? await res.json() : null;
    return { status: res.status, body };
  }
  function errorText(body, code) {
    const err = (body && body.error) || {};
    if (err.fields && err.fields.length) return err.fields.map((f) => f.message).join(' ');
    if (code === 401) return S.sessionExpired;
    return say('error.other', { detail: err.message || String(code) });
  }

  function cell(tr, text, className) {
    const td = document.createElement('td');
    if (text instanceof Node) td.appendChild(text);
    else td.textContent = text;
    if (className) td.className = className;
    tr.appendChild(td);
    return td;
  }

  function seconds(ms) {
    const s = Math.max(0, Math.round(ms / 1000));
    return s < 60 ? s + ' s' : Math.floor(s / 60) + ' min ' + (s % 60) + ' s';
  }
  function duration(run) {
    return run.finishedAt ? seconds(Date.parse(run.finishedAt) - Date.parse(run.startedAt)) : '';
  }

  // ---- the current run: a progress bar polled through the cheap endpoint ----
  const box = document.getElementById('current-run');
  const bar = document.getElementById('run-progress');
  const barText = document.getElementById('run-progress-text');
  const barDetail = document.getElementById('run-progress-detail');
  let updates = 0;
  let lastKey = '';
  function showCurrent(run) {
    if (!run) {
      box.dataset.state = 'none';
      barText.textContent = S.noRun;
      bar.hidden = true;
      return;
    }
    bar.hidden = false;
    box.dataset.state = run.status;
    box.dataset.runId = run.id;
    document.getElementById('current-run-title').textContent = run.status === 'running' ? S.currentRun : S.lastRun;
    bar.max = Math.max(run.total, 1);
    bar.value = run.status === 'running' ? run.processed : Math.max(run.total, 1);
    if (run.status === 'running' && run.total === 0) bar.removeAttribute('value'); // indeterminate while counting
    const parts = [run.progressText];
    if (run.status === 'running' && run.remainingMs != null) parts.push(say('run.estimate', { time: seconds(run.remainingMs) }));
    if (run.status !== 'running') parts.push(run.statusText);
    barText.textContent = parts.join(' · ');
    barDetail.textContent = run.triggerText + ' · ' + fmt(run.startedAt) + ' · ' + run.countsText;
    const key = [run.id, run.status, run.processed, run.total].join('/');
    if (key !== lastKey) {
      if (run.status === 'running') updates += 1;
      box.dataset.updates = String(updates);
      box.dataset.processed = String(run.processed);
      box.dataset.total = String(run.total);
    }
  }

  async function pollCurrent() {
    let running = false;
    try {
      const { status, body } = await api('/runs/current');
      if (status === 200) {
        showCurrent(body.run);
        running = !!body.run && body.run.status === 'running';
        const key = body.run ? [body.run.id, body.run.status, body.run.processed, body.run.total].join('/') : '';
        if (key !== lastKey) {
          const finished = lastKey !== '' && body.run && body.run.status !== 'running';
          lastKey = key;
          void loadRuns();
          // New entries: at the end of a run, and every few seconds while it goes.
          if (finished || !running || Date.now() - lastEntriesAt > 5000) void loadEntries(false);
        }
      }
    } finally {
      // Every second while a run goes, every few seconds otherwise.
      setTimeout(() => void pollCurrent(), running ? 1000 : 3000);
    }
  }

  // ---- runs ----
  const runsBody = document.querySelector('#runs tbody');
  async function loadRuns() {
    const { status, body } = await api('/runs?limit=10');
    if (status !== 200) return;
    runsBody.textContent = '';
    for (const run of body.runs) {
      const tr = document.createElement('tr');
      tr.dataset.runId = run.id;
      tr.dataset.status = run.status;
      cell(tr, fmt(run.startedAt), 'time');
      cell(tr, run.triggerText).dataset.code = run.triggerCode;
      cell(tr, run.statusText + (run.error ? ': „' + run.error + '”' : ''), 'status-' + run.status).dataset.code = run.statusCode;
      const progress = document.createElement('span');
      if (run.status === 'running') {
        const p = document.createElement('progress');
        p.max = Math.max(run.total, 1);
        p.value = run.processed;
        progress.append(p, ' ' + run.progressText);
      } else progress.textContent = run.progressText;
      cell(tr, progress, 'progress');
      cell(tr, run.countsText, 'counts');
      cell(tr, duration(run), 'time');
      runsBody.appendChild(tr);
    }
  }

  // ---- entries ----
  const filters = document.getElementById('filters');
  const entriesBody = document.querySelector('#entries tbody');
  const more = document.getElementById('more');
  const filterError = document.getElementById('filter-error');
  let next = null;
  let seq = 0;
  let lastEntriesAt = 0;

  function query(before) {
    const p = new URLSearchParams();
    const f = new FormData(filters);
    if (f.get('from')) p.set('fromDate', f.get('from'));
    if (f.get('to')) p.set('toDate', f.get('to'));
    const lv = String(f.get('level') || '');
    if (lv.startsWith('level:')) p.set('level', lv.slice(6));
    if (lv.startsWith('event:')) p.set('event', lv.slice(6));
    if (f.get('invoiceNumber')) p.set('invoiceNumber', String(f.get('invoiceNumber')).trim());
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
    const mine = ++seq;
    lastEntriesAt = Date.now();
    const { status, body } = await api(query(append ? next : null));
    if (mine !== seq) return; // a newer request answers
    if (status !== 200) {
      // A refused filter shows why and no longer shows the results of an earlier one.
      entriesBody.textContent = '';
      next = null;
      more.hidden = true;
      filterError.textContent = errorText(body, status);
      filterError.hidden = false;
      document.body.dataset.entries = '0';
      return;
    }
    filterError.hidden = true;
    filterError.textContent = '';
    if (!append) entriesBody.textContent = '';
    for (const e of body.entries) {
      const tr = document.createElement('tr');
      tr.dataset.event = e.event;
      tr.dataset.code = e.code;
      tr.className = 'level-' + e.level;
      cell(tr, fmt(e.at), 'time');
      cell(tr, e.levelText, 'level');
      cell(tr, invoiceCell(e), 'invoice');
      cell(tr, e.text, 'message');
      entriesBody.appendChild(tr);
    }
    if (!append && body.entries.length === 0) {
      const tr = document.createElement('tr');
      cell(tr, S.noEntries).colSpan = 4;
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
  void pollCurrent();
})();
