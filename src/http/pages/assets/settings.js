/* global document, fetch, URL, CSS, setTimeout, clearTimeout, navigator */
// The settings page's script: loads the settings and the live option lists, checks times and dates as
// they are typed, saves, shows every problem of the API's answer at its field (sentences from the
// message catalogue, in the page's language), runs now, previews an invoice picked by its number, says
// when the next run starts (and which days off come first), and shows a managed DKIM account's DNS record.
// Plain browser JavaScript, no build step; it talks only to /ui/api with the page session.
(() => {
  'use strict';
  const data = JSON.parse(document.getElementById('page-data').textContent);
  const S = data.strings;
  const M = data.messages;
  const form = document.getElementById('settings-form');
  const status = document.getElementById('form-status');
  const saveStatus = document.getElementById('save-status');
  const fields = Array.from(form.querySelectorAll('[name]'));
  const byPath = new Map(fields.map((el) => [el.name, el]));

  /** A catalogue sentence with its {params} filled. */
  function say(code, params) {
    const text = M[code] || code;
    return text.replace(/\{([a-zA-Z0-9_]+)\}/g, (_m, k) => {
      const v = params ? params[k] : undefined;
      return v == null ? '' : Array.isArray(v) ? v.join(', ') : String(v);
    });
  }

  /** The sentence of an error body (the first field's, else the catalogue's word for the code). */
  function errorText(body, code) {
    const err = (body && body.error) || {};
    if (err.fields && err.fields.length) return err.fields.map((f) => f.message).join(' ');
    if (code === 401) return S.sessionExpired;
    if (err.code === 'host_unavailable') return say('error.host_unavailable');
    if (err.code === 'internal' || code >= 500) return say('error.internal');
    return say('error.other', { detail: err.message || String(code) });
  }

  async function api(method, path, body) {
    const headers = { authorization: 'Bearer ' + data.session };
    if (body !== undefined) headers['content-type'] = 'application/json';
    const res = await fetch(data.apiBase + path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
    const type = res.headers.get('content-type') || '';
    const parsed = type.includes('application/json') ? await res.json() : null;
    if (res.status === 401) setStatus(S.sessionExpired, true);
    return { status: res.status, body: parsed, res };
  }

  function setStatusOf(el, text, kind) {
    el.textContent = text;
    el.className = 'form-status' + (kind ? ' ' + kind : '');
  }
  const setStatus = (text, isError) => setStatusOf(status, text, isError ? 'error' : text ? 'ok' : '');

  const getPath = (obj, path) => path.split('.').reduce((o, k) => (o == null ? undefined : o[k]), obj);
  function setPath(obj, path, value) {
    const keys = path.split('.');
    let o = obj;
    for (const k of keys.slice(0, -1)) o = o[k] = o[k] || {};
    o[keys[keys.length - 1]] = value;
  }

  function ensureOption(select, value, label) {
    if (value === undefined || value === null) return;
    if (!Array.from(select.options).some((o) => o.value === String(value))) {
      const opt = document.createElement('option');
      opt.value = String(value);
      opt.textContent = label || String(value);
      select.appendChild(opt);
    }
  }

  let current = null;
  function fill(settings) {
    current = settings;
    for (const el of fields) {
      const value = getPath(settings, el.name);
      if (el.dataset.writeOnly) {
        el.value = '';
        el.placeholder = value && value.set ? S.passwordSet : S.passwordUnset;
        el.dataset.set = value && value.set ? 'true' : 'false';
      } else if (el.type === 'checkbox') el.checked = value === true;
      else if (el.tagName === 'SELECT') {
        ensureOption(el, value);
        el.value = value == null ? '' : String(value);
      } else el.value = value == null ? '' : String(value);
    }
    checkFromDate();
  }

  async function loadOptions(select) {
    let path = select.dataset.options;
    if (path === 'options/email-accounts') {
      const op = byPath.get('operator');
      if (op && op.value) path += '?operator=' + encodeURIComponent(op.value);
    }
    const keep = select.value || (current ? String(getPath(current, select.name) ?? '') : '');
    select.setAttribute('aria-busy', 'true');
    const { status: code, body } = await api('GET', '/' + path);
    select.textContent = '';
    if (code === 200) {
      if (!body.options.some((o) => o.value === '') && select.name !== 'operator') {
        const none = document.createElement('option');
        none.value = '';
        none.textContent = S.noneOption;
        select.appendChild(none);
      }
      // A person reads names, not the host's ids ("standard:invoice", "user:223", "1"): the id is added only
      // to tell apart two options of the same name; the operator keeps the login people know them by.
      const seen = new Map();
      for (const o of body.options) seen.set(o.label, (seen.get(o.label) || 0) + 1);
      for (const o of body.options) {
        const opt = document.createElement('option');
        opt.value = o.value;
        const label = o.value === 'none' && select.name.startsWith('attachments.') ? S.noAttachment : o.label;
        const showId = o.label !== o.value && (select.name === 'operator' || seen.get(o.label) > 1);
        opt.textContent = label + (o.from ? ' <' + o.from + '>' : '') + (showId ? ' (' + o.value + ')' : '');
        opt.title = opt.textContent;
        select.appendChild(opt);
      }
      showError(select.name, '');
    } else {
      showError(select.name, S.loadFailed + ': ' + errorText(body, code));
    }
    ensureOption(select, keep);
    select.value = keep;
    select.removeAttribute('aria-busy');
    select.dataset.loaded = String(code === 200);
  }

  function showError(path, message) {
    const p = form.querySelector('[data-error-for="' + CSS.escape(path) + '"]');
    const el = byPath.get(path);
    if (el) el.setAttribute('aria-invalid', message ? 'true' : 'false');
    if (!p) return false;
    p.textContent = message;
    p.hidden = !message;
    return true;
  }
  function showWarning(path, message) {
    const p = form.querySelector('[data-warning-for="' + CSS.escape(path) + '"]');
    if (!p) return false;
    p.textContent = message;
    p.hidden = !message;
    return true;
  }

  function clearErrors() {
    for (const p of form.querySelectorAll('[data-error-for]')) { p.textContent = ''; p.hidden = true; }
    for (const el of fields) el.removeAttribute('aria-invalid');
  }

  // ---- checks as typed (the server checks the same and answers every problem at once) ----
  const TIME = /^([01][0-9]|2[0-3]):[0-5][0-9]$/;
  const DATE = /^([0-9]{4})-([0-9]{2})-([0-9]{2})$/;
  const PL_DATE = /^([0-9]{1,2})\.([0-9]{1,2})\.([0-9]{4})$/;
  /** `YYYY-MM-DD` from what was typed (also DD.MM.YYYY), or the text itself when it is neither. */
  function isoOf(text) {
    const v = text.trim();
    const m = PL_DATE.exec(v);
    return m ? m[3] + '-' + m[2].padStart(2, '0') + '-' + m[1].padStart(2, '0') : v;
  }
  function isCalendarDay(iso) {
    const m = DATE.exec(iso);
    if (!m) return false;
    const [y, mo, d] = [Number(m[1]), Number(m[2]), Number(m[3])];
    const day = new Date(Date.UTC(y, mo - 1, d));
    return day.getUTCFullYear() === y && day.getUTCMonth() === mo - 1 && day.getUTCDate() === d;
  }
  function checkTime(el) {
    const v = el.value.trim();
    showError(el.name, v === '' || TIME.test(v) ? '' : say('settings.time_format'));
  }
  function todayInZone() {
    const tz = (byPath.get('timezone') || {}).value || 'Europe/Warsaw';
    try {
      return new Intl.DateTimeFormat('en-CA', { timeZone: tz, year: 'numeric', month: '2-digit', day: '2-digit' }).format(new Date());
    } catch {
      return new Intl.DateTimeFormat('en-CA', { year: 'numeric', month: '2-digit', day: '2-digit' }).format(new Date());
    }
  }
  function checkDate(el) {
    const v = el.value.trim();
    if (v === '') return showError(el.name, '');
    const iso = isoOf(v);
    showError(el.name, !DATE.test(iso) ? say('settings.date_format') : !isCalendarDay(iso) ? say('settings.date_invalid', { value: iso }) : '');
  }
  function checkFromDate() {
    const el = byPath.get('fromDate');
    if (!el) return;
    const iso = isoOf(el.value);
    showWarning('fromDate', isCalendarDay(iso) && iso > todayInZone() ? say('settings.from_date_future', { date: iso }) : '');
  }
  for (const el of fields) {
    if (el.dataset.kind === 'time') el.addEventListener('input', () => checkTime(el));
    if (el.dataset.kind === 'date') {
      el.addEventListener('input', () => { checkDate(el); checkFromDate(); });
      el.addEventListener('blur', () => { if (PL_DATE.test(el.value.trim())) el.value = isoOf(el.value); });
    }
  }

  // The time zone: a searchable list of the IANA zones the browser knows.
  const zones = document.getElementById('timezones');
  if (zones) {
    let list = [];
    try { list = Intl.supportedValuesOf('timeZone'); } catch { list = []; }
    if (!list.includes('UTC')) list = [...list, 'UTC'];
    for (const z of list) { const o = document.createElement('option'); o.value = z; zones.appendChild(o); }
    const tz = byPath.get('timezone');
    tz.addEventListener('input', () => {
      showError('timezone', tz.value === '' || list.includes(tz.value) ? '' : say('settings.timezone_unknown', { value: tz.value }));
      checkFromDate();
    });
  }

  function collect() {
    const body = {};
    for (const el of fields) {
      if (el.dataset.writeOnly) { if (el.value !== '') setPath(body, el.name, el.value); continue; }
      if (el.type === 'checkbox') setPath(body, el.name, el.checked);
      else if (el.dataset.kind === 'date') setPath(body, el.name, el.value.trim() === '' && el.dataset.nullable ? null : isoOf(el.value));
      else if (el.dataset.kind === 'time' || el.dataset.kind === 'timezone') setPath(body, el.name, el.value.trim());
      else setPath(body, el.name, el.value);
    }
    return body;
  }

  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    clearErrors();
    // Every problem comes back at once from the server (rules and the host), shown at its field.
    setStatusOf(saveStatus, S.saving, 'busy');
    const { status: code, body } = await api('PUT', '/settings', collect());
    if (code === 200) {
      fill(body);
      const warnings = body.warnings || [];
      for (const w of warnings) showWarning(w.field, w.message);
      setStatusOf(saveStatus, warnings.length ? S.savedWithWarning : S.saved, 'ok');
      saveStatus.dataset.state = 'saved';
      updateRunNow();
      void loadSchedulePreview();
      void showDkim();
      return;
    }
    saveStatus.dataset.state = 'error';
    if (code === 401) return setStatusOf(saveStatus, S.sessionExpired, 'error');
    const err = (body && body.error) || {};
    const list = err.fields && err.fields.length ? err.fields : [];
    const unplaced = [];
    for (const f of list) if (!showError(f.field, f.message)) unplaced.push(f.message);
    setStatusOf(saveStatus, S.fixErrors + (unplaced.length ? ' ' + unplaced.join(' ') : list.length ? '' : ' ' + errorText(body, code)), 'error');
    form.dataset.errors = String(list.length);
    const first = list.map((f) => byPath.get(f.field)).find(Boolean);
    if (first) first.focus({ preventScroll: true });
  });

  // ---- the schedule preview: when the next run starts, from the saved settings ----
  const schedulePreview = document.getElementById('schedule-preview');
  async function loadSchedulePreview() {
    if (!schedulePreview) return;
    const { status: code, body } = await api('GET', '/schedule');
    schedulePreview.textContent = code === 200 ? body.message[data.lang] || body.message.pl : '';
    schedulePreview.hidden = code !== 200;
    schedulePreview.dataset.nextRunAt = code === 200 ? body.nextRunAt : '';
    schedulePreview.dataset.days = code === 200 ? body.days : '';
  }

  // ---- a connector-managed account that signs with DKIM: the TXT record to publish ----
  const dkimBox = document.getElementById('dkim-record');
  let managedAccounts = null; // null: not loaded; [] when the connector has none
  async function showDkim() {
    const select = byPath.get('emailAccount');
    if (!dkimBox || !select) return;
    const chosen = select.value;
    if (!chosen.startsWith('managed:')) { dkimBox.hidden = true; dkimBox.dataset.account = ''; return; }
    if (managedAccounts === null) {
      const { status: code, body } = await api('GET', '/managed/email-accounts');
      managedAccounts = code === 200 ? body.accounts : [];
    }
    const account = managedAccounts.find((a) => a.id === chosen);
    const record = account && account.dkim ? account.dkim.dnsRecord : null;
    dkimBox.hidden = !record;
    dkimBox.dataset.account = record ? chosen : '';
    if (!record) return;
    document.getElementById('dkim-name').value = record.name;
    document.getElementById('dkim-type').textContent = record.type;
    document.getElementById('dkim-value').value = record.value;
  }
  if (dkimBox) {
    for (const button of dkimBox.querySelectorAll('button[data-copy]')) {
      button.addEventListener('click', async () => {
        const input = document.getElementById(button.dataset.copy);
        input.focus();
        input.select();
        let ok;
        try { await navigator.clipboard.writeText(input.value); ok = true; } catch { ok = Boolean(document.execCommand && document.execCommand('copy')); }
        setStatusOf(document.getElementById('dkim-copied'), ok ? S.copied : '', ok ? 'ok' : '');
      });
    }
  }
  const accountSelect = byPath.get('emailAccount');
  if (accountSelect) accountSelect.addEventListener('change', () => { managedAccounts = null; void showDkim(); });

  const operator = byPath.get('operator');
  if (operator) operator.addEventListener('change', () => {
    const accounts = form.querySelector('select[data-options="options/email-accounts"]');
    if (accounts) void loadOptions(accounts);
  });

  const runNow = document.getElementById('run-now');
  const runStatus = document.getElementById('run-status');
  function updateRunNow() {
    // "Run now" works whether sending is on or off; say so when it is off.
    if (!current) return;
    if (runStatus.dataset.state !== 'queued') setStatusOf(runStatus, current.enabled ? '' : S.runNowDisabled, '');
  }
  runNow.addEventListener('click', async () => {
    setStatusOf(runStatus, S.loading, 'busy');
    const { status: code, body } = await api('POST', '/runs');
    setStatusOf(runStatus, code === 202 ? S.runQueued : errorText(body, code), code === 202 ? 'ok' : 'error');
    runStatus.dataset.state = code === 202 ? 'queued' : 'error';
  });

  // ---- preview: pick an invoice by its number (search as you type) ----
  const previewForm = document.getElementById('preview-form');
  const previewInput = document.getElementById('preview-invoice');
  const matches = document.getElementById('preview-matches');
  const previewError = document.getElementById('preview-error');
  const previewResult = document.getElementById('preview-result');
  const previewFrame = document.getElementById('preview-frame');
  function previewFail(message) { previewError.textContent = message; previewError.hidden = !message; }
  let chosen = null; // { id, number }
  let found = [];
  let searchTimer = null;
  let searchSeq = 0;

  /** A day as the page's reader writes it: 18.11.2026 in Polish, 18/11/2026 in English (as the logs page). */
  function localDay(iso) {
    const m = /^(\d{4})-(\d{2})-(\d{2})$/.exec(iso);
    if (!m) return iso;
    return data.lang === 'en' ? m[3] + '/' + m[2] + '/' + m[1] : m[3] + '.' + m[2] + '.' + m[1];
  }

  function showMatches(list) {
    found = list;
    matches.textContent = '';
    for (const m of list) {
      const li = document.createElement('li');
      li.setAttribute('role', 'option');
      li.dataset.invoiceId = m.id;
      li.tabIndex = -1;
      const num = document.createElement('strong');
      num.textContent = m.number || '#' + m.id;
      const rest = document.createElement('span');
      rest.textContent = [m.customer, m.date && localDay(m.date)].filter(Boolean).join(' · ');
      li.append(num, rest);
      li.addEventListener('mousedown', (e) => { e.preventDefault(); choose(m); });
      matches.appendChild(li);
    }
    matches.hidden = list.length === 0;
    previewInput.setAttribute('aria-expanded', String(list.length > 0));
  }
  function choose(m) {
    chosen = m;
    previewInput.value = m.number || m.id;
    showMatches([]);
    previewFail('');
  }
  async function search(q) {
    const seq = ++searchSeq;
    const { status: code, body } = await api('GET', '/invoices/search?q=' + encodeURIComponent(q));
    if (seq !== searchSeq) return [];
    if (code !== 200) { previewFail(errorText(body, code)); return []; }
    showMatches(body.invoices);
    if (body.invoices.length === 0) previewFail(S.noMatches);
    else previewFail('');
    return body.invoices;
  }
  previewInput.addEventListener('input', () => {
    chosen = null;
    clearTimeout(searchTimer);
    const q = previewInput.value.trim();
    if (q.length < 2) { showMatches([]); return; }
    searchTimer = setTimeout(() => void search(q), 250);
  });
  previewInput.addEventListener('blur', () => setTimeout(() => showMatches([]), 150));

  /** The invoice to preview: the one picked, else the single or exact match of what was typed. */
  async function invoiceId() {
    if (chosen) return chosen.id;
    const q = previewInput.value.trim();
    if (!q) { previewFail(S.chooseInvoice); return null; }
    const list = found.length ? found : await search(q);
    const exact = list.find((m) => (m.number || '').toLowerCase() === q.toLowerCase()) || (list.length === 1 ? list[0] : null);
    if (exact) { choose(exact); return exact.id; }
    previewFail(list.length ? S.chooseInvoice : S.noMatches);
    return null;
  }
  if (!data.previews) previewFail(S.previewUnavailable);
  previewForm.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    previewFail('');
    const id = await invoiceId();
    if (!id) return;
    const { status: code, body } = await api('GET', '/invoices/' + encodeURIComponent(id) + '/preview');
    previewResult.textContent = '';
    if (code !== 200) return previewFail(errorText(body, code));
    const dl = document.createElement('dl');
    const row = (k, v) => { const dt = document.createElement('dt'); dt.textContent = k; const dd = document.createElement('dd'); dd.textContent = v; dl.append(dt, dd); return dd; };
    row(S.invoice, previewInput.value);
    const decision = row(S.status, body.decision.text);
    decision.dataset.code = body.decision.code;
    row(S.from, (body.message.from.name ? body.message.from.name + ' ' : '') + '<' + body.message.from.address + '>');
    row(S.to, body.message.to.join(', '));
    row(S.subject, body.message.subject);
    if (body.attachment) row('PDF', body.attachment.filename + ' (' + body.attachment.size + ' B)');
    const pre = document.createElement('pre');
    pre.className = 'preview-text';
    pre.textContent = body.message.text;
    previewResult.append(dl, pre);
  });
  document.getElementById('preview-pdf').addEventListener('click', async () => {
    previewFail('');
    const id = await invoiceId();
    if (!id) return;
    const { status: code, body, res } = await api('GET', '/invoices/' + encodeURIComponent(id) + '/preview.pdf');
    if (code !== 200) return previewFail(errorText(body, code));
    const blob = await res.blob();
    if (previewFrame.src) URL.revokeObjectURL(previewFrame.src);
    previewFrame.src = URL.createObjectURL(blob);
    previewFrame.hidden = false;
    previewFrame.dataset.bytes = String(blob.size);
  });

  (async () => {
    setStatus(S.loading, false);
    const { status: code, body } = await api('GET', '/settings');
    if (code !== 200) return setStatus(S.loadFailed + ': ' + errorText(body, code), true);
    fill(body);
    setStatus('', false);
    updateRunNow();
    const selects = Array.from(form.querySelectorAll('select[data-options]'));
    // Operators first: the e-mail accounts depend on the chosen operator.
    const ops = selects.filter((s) => s.name === 'operator');
    await Promise.all(ops.map(loadOptions));
    await Promise.all(selects.filter((s) => s.name !== 'operator').map(loadOptions));
    await Promise.all([loadSchedulePreview(), showDkim()]);
    form.dataset.ready = 'true';
  })();
})();
