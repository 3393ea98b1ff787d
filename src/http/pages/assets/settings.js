/* global document, fetch, URL, CSS */
// The settings page's script: loads the settings and the live option lists, saves them, shows the
// API's field-level validation messages next to their fields, runs now, previews an invoice.
// Plain browser JavaScript, no build step; it talks only to /ui/api with the page session.
(() => {
  'use strict';
  const data = JSON.parse(document.getElementById('page-data').textContent);
  const S = data.strings;
  const form = document.getElementById('settings-form');
  const status = document.getElementById('form-status');
  const fields = Array.from(form.querySelectorAll('[name]'));
  const byPath = new Map(fields.map((el) => [el.name, el]));

  async function api(method, path, body) {
    const headers = { authorization: 'Bearer ' + data.session };
    if (body !== undefined) headers['content-type'] = 'application/json';
    const res = await fetch(data.apiBase + path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
    const type = res.headers.get('content-type') || '';
    const parsed = type.includes('application/json') ? await res.json() : null;
    if (res.status === 401) setStatus(S.sessionExpired, true);
    return { status: res.status, body: parsed, res };
  }

  function setStatus(text, isError) {
    status.textContent = text;
    status.className = 'form-status' + (isError ? ' error' : text ? ' ok' : '');
  }

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
      for (const o of body.options) {
        const opt = document.createElement('option');
        opt.value = o.value;
        opt.textContent = o.label + (o.from ? ' <' + o.from + '>' : '') + (o.label === o.value ? '' : ' (' + o.value + ')');
        select.appendChild(opt);
      }
      showError(select.name, '');
    } else {
      showError(select.name, S.loadFailed + ': ' + ((body && body.error && body.error.message) || code));
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

  function clearErrors() {
    for (const p of form.querySelectorAll('[data-error-for]')) { p.textContent = ''; p.hidden = true; }
    for (const el of fields) el.removeAttribute('aria-invalid');
  }

  function collect() {
    const body = {};
    for (const el of fields) {
      if (el.dataset.writeOnly) { if (el.value !== '') setPath(body, el.name, el.value); continue; }
      if (el.type === 'checkbox') setPath(body, el.name, el.checked);
      else if (el.type === 'date') setPath(body, el.name, el.value === '' && el.dataset.nullable ? null : el.value);
      else setPath(body, el.name, el.value);
    }
    return body;
  }

  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    clearErrors();
    setStatus(S.saving, false);
    const { status: code, body } = await api('PUT', '/settings', collect());
    if (code === 200) {
      fill(body);
      setStatus(S.saved, false);
      return;
    }
    if (code === 401) return;
    const err = (body && body.error) || {};
    const list = err.fields && err.fields.length ? err.fields : err.field ? [{ field: err.field, message: err.message }] : [];
    const unplaced = [];
    for (const f of list) if (!showError(f.field, f.message)) unplaced.push(f.field + ': ' + f.message);
    setStatus(S.fixErrors + (unplaced.length ? ' ' + unplaced.join('; ') : list.length ? '' : ' ' + (err.message || code)), true);
    const first = list.map((f) => byPath.get(f.field)).find(Boolean);
    if (first) first.focus();
  });

  const operator = byPath.get('operator');
  if (operator) operator.addEventListener('change', () => {
    const accounts = form.querySelector('select[data-options="options/email-accounts"]');
    if (accounts) void loadOptions(accounts);
  });

  document.getElementById('run-now').addEventListener('click', async () => {
    const out = document.getElementById('run-status');
    out.textContent = S.loading;
    const { status: code, body } = await api('POST', '/runs');
    out.textContent = code === 202 ? S.runQueued : (body && body.error && body.error.message) || String(code);
    out.dataset.state = code === 202 ? 'queued' : 'error';
  });

  const previewForm = document.getElementById('preview-form');
  const previewError = document.getElementById('preview-error');
  const previewResult = document.getElementById('preview-result');
  const previewFrame = document.getElementById('preview-frame');
  function previewFail(message) { previewError.textContent = message; previewError.hidden = !message; }
  function invoiceId() {
    const v = document.getElementById('preview-invoice').value.trim();
    if (!v) previewFail(S.invoiceId + '?');
    return v;
  }
  if (!data.previews) previewFail(S.previewUnavailable);
  previewForm.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    previewFail('');
    const id = invoiceId();
    if (!id) return;
    const { status: code, body } = await api('GET', '/invoices/' + encodeURIComponent(id) + '/preview');
    previewResult.textContent = '';
    if (code !== 200) return previewFail((body && body.error && body.error.message) || String(code));
    const dl = document.createElement('dl');
    const row = (k, v) => { const dt = document.createElement('dt'); dt.textContent = k; const dd = document.createElement('dd'); dd.textContent = v; dl.append(dt, dd); };
    row(S.status, body.decision.send ? S.wouldSend : S.wouldSkip + (body.decision.reason ? ' (' + body.decision.reason + (body.decision.detail ? ': ' + body.decision.detail : '') + ')' : ''));
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
    const id = invoiceId();
    if (!id) return;
    const { status: code, body, res } = await api('GET', '/invoices/' + encodeURIComponent(id) + '/preview.pdf');
    if (code !== 200) return previewFail((body && body.error && body.error.message) || String(code));
    const blob = await res.blob();
    if (previewFrame.src) URL.revokeObjectURL(previewFrame.src);
    previewFrame.src = URL.createObjectURL(blob);
    previewFrame.hidden = false;
    previewFrame.dataset.bytes = String(blob.size);
  });

  (async () => {
    setStatus(S.loading, false);
    const { status: code, body } = await api('GET', '/settings');
    if (code !== 200) return setStatus(S.loadFailed + ': ' + ((body && body.error && body.error.message) || code), true);
    fill(body);
    setStatus('', false);
    const selects = Array.from(form.querySelectorAll('select[data-options]'));
    // Operators first: the e-mail accounts depend on the chosen operator.
    const ops = selects.filter((s) => s.name === 'operator');
    await Promise.all(ops.map(loadOptions));
    await Promise.all(selects.filter((s) => s.name !== 'operator').map(loadOptions));
    form.dataset.ready = 'true';
  })();
})();
