// The Owner's console for authd: API access, IP addresses, audit log, keys.
//
// Plain DOM code with no dependencies, served by authd under a strict
// Content-Security-Policy: no inline script or style, so this file never
// writes a style attribute and never builds HTML from strings; every value
// from the server goes into the page as text.
//
// Security notes:
// - The one-time sign-in code arrives in the URL fragment (never sent to a
//   server log); it is removed from the address bar before anything else
//   happens and exchanged for an HttpOnly session cookie.
// - Every change sends the session's CSRF token in X-CSRF-Token; the browser
//   adds Origin, which authd checks too.
// - A new client secret lives only in the DOM of the result panel, until
//   "Done" or a reload. Nothing is ever written to web storage, cookies
//   or the URL.

// Before anything else: take the sign-in code out of the address bar.
const initialCode = takeCodeFromFragment();

const PAGES = {
  'api-access': { title: 'API access', load: loadCredentialsPage },
  'ip-addresses': { title: 'IP addresses', load: loadAllowlistPage },
  'audit-log': { title: 'Audit log', load: loadAuditPage },
  keys: { title: 'Keys', load: loadKeysPage },
};
const DEFAULT_PAGE = 'api-access';
const DAY_MS = 24 * 60 * 60 * 1000;
const DEFAULT_LIFETIME_DAYS = 90;
const MAX_LIFETIME_DAYS = 365;
const AUDIT_PAGE_SIZE = 50;

const state = {
  session: null,
  page: null,
  roles: [],
  credentials: [],
  allowlist: [],
  audit: { entries: [], before: 0, filters: { action: '', actor: '' }, actors: new Set(), generation: 0 },
};

const $ = (id) => document.getElementById(id);

// ---------------------------------------------------------------------------
// DOM helpers

function el(tag, props = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(props)) {
    if (value === undefined || value === null || value === false) continue;
    if (key === 'class') node.className = value;
    else if (key === 'text') node.textContent = value;
    else if (key === 'dataset') Object.assign(node.dataset, value);
    else if (key.startsWith('on')) node.addEventListener(key.slice(2), value);
    else if (key in node && typeof value !== 'string') node[key] = value;
    else node.setAttribute(key, value === true ? '' : value);
  }
  for (const child of children.flat()) {
    if (child === null || child === undefined || child === false) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

const SVG_NS = 'http://www.w3.org/2000/svg';
const ICONS = {
  plus: ['M12 5v14', 'M5 12h14'],
  trash: ['M4 7h16', 'M9 7V4.5h6V7', 'M6.5 7l.9 12.1A2 2 0 0 0 9.4 21h5.2a2 2 0 0 0 2-1.9L17.5 7',
    'M10 11v6', 'M14 11v6'],
  warning: ['M10.3 4.1 2.6 17.5A2 2 0 0 0 4.3 20.5h15.4a2 2 0 0 0 1.7-3L13.7 4.1a2 2 0 0 0-3.4 0z',
    'M12 9.5v4', 'M12 17h.01'],
  copy: ['M10 9h8a2 2 0 0 1 2 2v8a2 2 0 0 1-2 2h-8a2 2 0 0 1-2-2v-8a2 2 0 0 1 2-2z',
    'M5 15H4.5A1.5 1.5 0 0 1 3 13.5V5a2 2 0 0 1 2-2h8.5A1.5 1.5 0 0 1 15 4.5V5'],
  check: ['M5 12.5l4.5 4.5L19 7.5'],
  checkCircle: ['M12 3a9 9 0 1 0 0 18 9 9 0 0 0 0-18z', 'M8 12.5l2.7 2.7L16 9.8'],
  download: ['M12 4v11', 'M7 10.5l5 5 5-5', 'M5 20h14'],
  info: ['M12 3a9 9 0 1 0 0 18 9 9 0 0 0 0-18z', 'M12 11v5', 'M12 8h.01'],
  here: ['M12 21s-6.5-5.6-6.5-11a6.5 6.5 0 0 1 13 0c0 5.4-6.5 11-6.5 11z',
    'M12 7.5a2.5 2.5 0 1 0 0 5 2.5 2.5 0 0 0 0-5z'],
};

// An icon: decorative (aria-hidden) unless `label` gives it a text alternative.
function icon(name, label) {
  const svg = document.createElementNS(SVG_NS, 'svg');
  svg.setAttribute('viewBox', '0 0 24 24');
  svg.setAttribute('class', `icon icon-${name}`);
  svg.setAttribute('focusable', 'false');
  if (label) {
    svg.setAttribute('role', 'img');
    svg.setAttribute('aria-label', label);
    const title = document.createElementNS(SVG_NS, 'title');
    title.textContent = label;
    svg.append(title);
  } else {
    svg.setAttribute('aria-hidden', 'true');
  }
  for (const d of ICONS[name]) {
    const path = document.createElementNS(SVG_NS, 'path');
    path.setAttribute('d', d);
    svg.append(path);
  }
  return svg;
}

function announce(text) {
  const live = $('live');
  live.textContent = '';
  // A fresh text node after a tick makes screen readers announce repeats.
  setTimeout(() => { live.textContent = text; }, 50);
}

// ---------------------------------------------------------------------------
// Dates: the browser's locale for reading, UTC on hover.

const DATE_TIME = new Intl.DateTimeFormat(undefined, { dateStyle: 'medium', timeStyle: 'short' });
const DATE_TIME_SECONDS = new Intl.DateTimeFormat(undefined, { dateStyle: 'medium', timeStyle: 'medium' });
const DATE_ONLY = new Intl.DateTimeFormat(undefined, { dateStyle: 'medium' });

function parseTime(iso) {
  // Audit times carry microseconds; Date understands milliseconds.
  return new Date(iso.replace(/(\.\d{3})\d+/, '$1'));
}

function timeEl(iso, { seconds = false, dateOnly = false } = {}) {
  if (!iso) return el('span', { class: 'muted', text: '—' });
  const date = parseTime(iso);
  if (Number.isNaN(date.getTime())) return el('span', { text: iso });
  const utc = iso.replace('T', ' ').replace(/Z$/, ' UTC');
  return el('time', {
    datetime: iso,
    // A date alone hides the time of day: the hover gives it, local and UTC.
    title: dateOnly ? `${DATE_TIME.format(date)} your time · ${utc}` : utc,
    text: (dateOnly ? DATE_ONLY : seconds ? DATE_TIME_SECONDS : DATE_TIME).format(date),
  });
}

function isoDate(date) {
  const pad = (n) => String(n).padStart(2, '0');
  return `${date.getFullYear()}-${pad(date.getMonth() + 1)}-${pad(date.getDate())}`;
}

function addDays(date, days) {
  const d = new Date(date.getFullYear(), date.getMonth(), date.getDate());
  d.setDate(d.getDate() + days);
  return d;
}

// ---------------------------------------------------------------------------
// The console API

class ApiError extends Error {
  constructor(status, code, message) {
    super(message);
    this.status = status;
    this.code = code;
  }
}

async function api(method, path, body) {
  const headers = { Accept: 'application/json' };
  if (method !== 'GET' && state.session) headers['X-CSRF-Token'] = state.session.csrf_token;
  const init = { method, headers, credentials: 'same-origin', cache: 'no-store', redirect: 'error' };
  if (body !== undefined) {
    headers['Content-Type'] = 'application/json';
    init.body = JSON.stringify(body);
  }
  let response;
  try {
    response = await fetch(`api/${path}`, init);
  } catch {
    throw new ApiError(0, 'network',
      'authd did not answer. Check the network connection, or whether this address is still on the allowlist.');
  }
  if (state.session) watchIdle();
  const type = response.headers.get('Content-Type') || '';
  const data = response.status === 204 ? null
    : type.startsWith('application/json') ? await response.json().catch(() => null)
      : await response.text();
  if (response.ok) return data;
  const error = new ApiError(response.status,
    (data && data.error) || `http_${response.status}`,
    (data && (data.message || data.error_description)) || `authd answered ${response.status}.`);
  if (error.code === 'no_session' && state.session) {
    showSignedOut('Your session has ended: it was idle for 30 minutes, reached its 8-hour limit, ' +
      'or authd restarted.');
    error.handled = true;
  }
  throw error;
}

const quote = (s) => encodeURIComponent(s);

// authd ends a session after idle_timeout_seconds without a request, and at
// expires_at. The page follows on its own, so that a forgotten tab does not
// keep showing data (or a new secret) after its session is gone.
let idleTimer = null;

function watchIdle() {
  clearTimeout(idleTimer);
  const session = state.session;
  const idle = session.idle_timeout_seconds * 1000;
  const absolute = Date.parse(session.expires_at) - Date.now();
  const after = Math.max(1000, Math.min(idle, Number.isNaN(absolute) ? idle : absolute));
  idleTimer = setTimeout(() => {
    if (state.session === session) {
      showSignedOut('Your session has ended: it was idle for ' +
        `${Math.round(session.idle_timeout_seconds / 60)} minutes or reached its time limit.`);
    }
  }, after);
}

// Shows an error that no form field owns, unless signing out already did.
function showBanner(error) {
  if (error && error.handled) return;
  $('banner-text').textContent = error instanceof Error ? error.message : String(error);
  $('banner').hidden = false;
}

// ---------------------------------------------------------------------------
// Sign-in, sign-out and the pages shown without a session

function takeCodeFromFragment() {
  const hash = location.hash.slice(1);
  if (!hash.startsWith('code=') && !hash.includes('&code=')) return null;
  const code = new URLSearchParams(hash).get('code');
  // Remove the code from the address bar and the history entry at once.
  history.replaceState(null, '', location.pathname + location.search);
  return code || '';
}

function showGate({ title, message, howto = true, retry = false }) {
  clearSecrets();
  $('app').hidden = true;
  $('splash').hidden = true;
  $('gate').hidden = false;
  $('gate-title').textContent = title;
  $('gate-message').textContent = message;
  $('gate-howto').hidden = !howto;
  $('gate-retry').hidden = !retry;
  document.title = `${title} · authd console`;
  $('gate-title').focus();
}

function showSignedOut(message) {
  state.session = null;
  clearTimeout(idleTimer);
  showGate({ title: 'You are signed out', message });
  document.body.dataset.view = 'signed-out';
}

function showLinkRefused(message) {
  state.session = null;
  showGate({
    title: 'This sign-in link cannot be used',
    message: message || 'This sign-in link has already been used or has expired.',
  });
  document.body.dataset.view = 'link-refused';
}

function showUnreachable(error) {
  showGate({ title: 'authd did not answer', message: error.message, howto: false, retry: true });
  document.body.dataset.view = 'unreachable';
}

async function signIn(code) {
  try {
    enterApp(await api('POST', 'session', { code }));
  } catch (error) {
    if (error.status === 401 || error.status === 400) showLinkRefused(error.message);
    else showUnreachable(error);
  }
}

async function resumeSession() {
  try {
    enterApp(await api('GET', 'session'));
  } catch (error) {
    if (error.status === 401) {
      showSignedOut('This browser has no console session. The console has no passwords: ' +
        'you sign in with a one-time link made on the appliance.');
    } else {
      showUnreachable(error);
    }
  }
}

function enterApp(session) {
  state.session = session;
  watchIdle();
  $('appliance-name').textContent = session.appliance;
  $('appliance-instance').textContent = session.instance;
  $('actor').textContent = session.actor;
  const note = $('session-note');
  note.replaceChildren('Signed in as ', el('strong', { text: session.actor }),
    '. The session ends after ', String(Math.round(session.idle_timeout_seconds / 60)),
    ' minutes without activity, and at ', timeEl(session.expires_at), ' at the latest.');
  $('gate').hidden = true;
  $('splash').hidden = true;
  $('app').hidden = false;
  document.body.dataset.view = 'app';
  route({ focus: false });
}

async function signOut() {
  const button = $('sign-out');
  button.disabled = true;
  try {
    await api('DELETE', 'session');
    showSignedOut('You signed out. The session has ended on the appliance too.');
  } catch (error) {
    showBanner(error);
  } finally {
    button.disabled = false;
  }
}

// ---------------------------------------------------------------------------
// Navigation between the four pages (the fragment names the page)

function currentPage() {
  const name = location.hash.slice(1);
  return Object.hasOwn(PAGES, name) ? name : DEFAULT_PAGE;
}

function route({ focus = true } = {}) {
  if (!state.session) return;
  const page = currentPage();
  state.page = page;
  for (const link of document.querySelectorAll('.tabs a')) {
    if (link.dataset.page === page) link.setAttribute('aria-current', 'page');
    else link.removeAttribute('aria-current');
  }
  for (const name of Object.keys(PAGES)) $(`page-${name}`).hidden = name !== page;
  document.title = `${PAGES[page].title} · ${state.session.appliance}`;
  $('banner').hidden = true;
  if (focus) $(`h-${page}`).focus();
  PAGES[page].load();
}

function onHashChange() {
  // A new sign-in link pasted into this tab changes only the fragment.
  const code = takeCodeFromFragment();
  if (code !== null) {
    clearSecrets();
    signIn(code);
    return;
  }
  route();
}

// ---------------------------------------------------------------------------
// Form field errors

function setFieldError(id, message) {
  const box = $(`${id}-error`);
  const input = $(id);
  box.replaceChildren();
  if (message) {
    box.append(icon('warning'), el('span', { text: message }));
    box.hidden = false;
    if (input) input.setAttribute('aria-invalid', 'true');
  } else {
    box.hidden = true;
    if (input) input.removeAttribute('aria-invalid');
  }
  return box;
}

function setFormError(id, message) {
  const box = $(id);
  box.textContent = message || '';
  box.hidden = !message;
}

function busy(button, label) {
  const original = button.textContent;
  button.disabled = true;
  button.dataset.busy = 'true';
  button.textContent = label;
  return () => {
    button.disabled = false;
    delete button.dataset.busy;
    button.textContent = original;
  };
}

// ---------------------------------------------------------------------------
// Confirmation dialog

let confirmAction = null;

// Opens the dialog; `action` runs when the Owner confirms. The dialog stays
// open with the server's message if the action fails.
function confirmDialog({ title, body, confirmLabel, action }) {
  const dialog = $('confirm');
  $('confirm-title').textContent = title;
  $('confirm-body').replaceChildren(...body);
  $('confirm-ok').textContent = confirmLabel;
  $('confirm-ok').disabled = false;
  setFormError('confirm-error', '');
  confirmAction = action;
  dialog.showModal();
  $('confirm-cancel').focus();
}

async function onConfirm() {
  const button = $('confirm-ok');
  const done = busy(button, 'Working…');
  try {
    await confirmAction();
    $('confirm').close('done');
  } catch (error) {
    if (error.handled) $('confirm').close('signed-out');
    else setFormError('confirm-error', error.message);
  } finally {
    done();
  }
}

// ---------------------------------------------------------------------------
// Tables that become stacked cards on a narrow screen

function table({ columns, rows, caption, empty }) {
  if (rows.length === 0) return el('p', { class: 'empty', text: empty });
  const head = el('tr', {}, columns.map((c) => el('th', { scope: 'col', class: c.class },
    c.hidden ? el('span', { class: 'visually-hidden', text: c.label }) : c.label)));
  const body = rows.map((row) => el('tr', { class: row.class },
    columns.map((c, i) => el('td', { class: c.class, dataset: c.hidden ? {} : { label: c.label } },
      row.cells[i]))));
  return el('div', { class: 'table-wrap' },
    el('table', { class: 'table' },
      el('caption', { class: 'visually-hidden', text: caption }),
      el('thead', {}, head),
      el('tbody', {}, body)));
}

function code(text, cls = '') {
  return el('code', { class: `mono ${cls}`.trim(), text });
}

function loading(container) {
  if (!container.firstChild) container.append(el('p', { class: 'empty', text: 'Loading…' }));
}

// ---------------------------------------------------------------------------
// API access: credentials

async function loadCredentialsPage() {
  loading($('cred-list'));
  try {
    const [roles, credentials] = await Promise.all([api('GET', 'roles'), api('GET', 'credentials')]);
    state.roles = roles;
    state.credentials = credentials;
    renderRoleOptions();
    renderCredentials();
  } catch (error) {
    showBanner(error);
  }
}

async function refreshCredentials() {
  try {
    state.credentials = await api('GET', 'credentials');
    renderCredentials();
  } catch (error) {
    showBanner(error);
  }
}

function renderCredentials() {
  const list = state.credentials;
  const expired = list.filter((c) => c.expired);
  $('cred-count').textContent = list.length === 1 ? '1 credential' : `${list.length} credentials`;
  const note = $('cred-expired-note');
  note.hidden = expired.length === 0;
  note.replaceChildren(icon('warning'), el('span', {
    text: expired.length === 1
      ? '1 credential has expired. Its tokens are refused; delete it once nothing needs the record.'
      : `${expired.length} credentials have expired. Their tokens are refused; delete them once nothing needs the record.`,
  }));
  note.className = 'card-note card-note-warning';
  const rows = list.map((c) => ({
    class: c.expired ? 'is-expired' : '',
    cells: [
      el('span', { class: 'cell-strong cell-name', text: c.name }),
      code(c.client_id, 'nowrap'),
      el('span', { class: 'badge', text: c.role }),
      timeEl(c.created_at, { dateOnly: true }),
      c.expired
        ? el('span', { class: 'expired' }, icon('warning', 'Expired'), timeEl(c.expires_at, { dateOnly: true }))
        : timeEl(c.expires_at, { dateOnly: true }),
      code(c.created_by, 'nowrap'),
      el('button', {
        type: 'button',
        class: 'btn btn-quiet btn-small btn-danger-text',
        'aria-label': `Delete ${c.name}`,
        onclick: () => confirmDeleteCredential(c),
      }, icon('trash'), 'Delete'),
    ],
  }));
  $('cred-list').replaceChildren(table({
    caption: 'Client credentials',
    empty: 'No client credentials yet. Add one to let a service get access tokens.',
    columns: [
      { label: 'Name' }, { label: 'Client ID' }, { label: 'Role' }, { label: 'Created' },
      { label: 'Expires' }, { label: 'Created by' }, { label: 'Actions', hidden: true, class: 'col-actions' },
    ],
    rows,
  }));
}

function renderRoleOptions() {
  const box = $('role-options');
  const checked = box.querySelector('input:checked');
  const selected = checked ? checked.value : '';
  box.replaceChildren(...state.roles.map((role, i) => {
    const id = `role-${i}`;
    return el('label', { class: 'role-option', for: id },
      el('input', {
        type: 'radio', name: 'role', id, value: role.name, checked: role.name === selected,
        'aria-describedby': `${id}-desc ${id}-scopes`,
      }),
      el('span', { class: 'role-text' },
        el('span', { class: 'role-name', text: role.name }),
        el('span', { class: 'role-desc', id: `${id}-desc`, text: role.description }),
        el('span', { class: 'role-scopes', id: `${id}-scopes` },
          el('span', { class: 'visually-hidden', text: 'Scopes: ' }),
          role.scopes.map((s) => el('code', { class: 'scope', text: s })))));
  }));
}

function openCredentialForm() {
  const form = $('credential-form');
  form.reset();
  for (const f of ['cred-name', 'cred-role', 'cred-expires', 'cred-reason']) setFieldError(f, '');
  setFormError('cred-form-error', '');
  const today = new Date();
  const expires = $('cred-expires');
  expires.min = isoDate(addDays(today, 1));
  expires.max = isoDate(addDays(today, MAX_LIFETIME_DAYS));
  expires.value = isoDate(addDays(today, DEFAULT_LIFETIME_DAYS));
  form.hidden = false;
  $('add-credential').setAttribute('aria-expanded', 'true');
  $('add-credential').hidden = true;
  $('cred-name').focus();
}

function closeCredentialForm() {
  $('credential-form').hidden = true;
  $('add-credential').setAttribute('aria-expanded', 'false');
  $('add-credential').hidden = false;
}

// The chosen day at 00:00 local time, as RFC 3339 UTC.
function expiryFromDate(value) {
  const m = /^(\d{4})-(\d{2})-(\d{2})$/.exec(value);
  if (!m) return null;
  const date = new Date(Number(m[1]), Number(m[2]) - 1, Number(m[3]));
  return date.toISOString().replace(/\.\d{3}Z$/, 'Z');
}

function validateCredentialForm() {
  const problems = {};
  const name = $('cred-name').value.trim();
  if (!name) problems['cred-name'] = 'Enter a name.';
  if (!$('role-options').querySelector('input:checked')) problems['cred-role'] = 'Choose a role.';
  const expiresAt = expiryFromDate($('cred-expires').value);
  if (!expiresAt) problems['cred-expires'] = 'Choose an expiration date.';
  else if (Date.parse(expiresAt) <= Date.now()) problems['cred-expires'] = 'Choose a date after today.';
  return { problems, name, expiresAt };
}

// Where the server's message belongs: its messages start with the field name.
const CREDENTIAL_FIELDS = { name: 'cred-name', role: 'cred-role', expires_at: 'cred-expires', reason: 'cred-reason' };

const CREDENTIAL_LABELS = { name: 'Name', role: 'Role', expires_at: 'Expiration date', reason: 'Reason' };

function credentialErrorField(message) {
  const m = /^([a-z_]+)\b/.exec(message);
  return m && Object.hasOwn(CREDENTIAL_FIELDS, m[1]) ? m[1] : null;
}

async function submitCredential(event) {
  event.preventDefault();
  for (const f of Object.values(CREDENTIAL_FIELDS)) setFieldError(f, '');
  setFormError('cred-form-error', '');
  const { problems, name, expiresAt } = validateCredentialForm();
  const first = Object.keys(problems)[0];
  if (first) {
    for (const [field, message] of Object.entries(problems)) setFieldError(field, message);
    focusField(first);
    return;
  }
  const body = { name, role: $('role-options').querySelector('input:checked').value, expires_at: expiresAt };
  const reason = $('cred-reason').value.trim();
  if (reason) body.reason = reason;
  const done = busy($('cred-submit'), 'Generating…');
  try {
    const created = await api('POST', 'credentials', body);
    closeCredentialForm();
    showSecret(created);
    refreshCredentials();
  } catch (error) {
    if (error.handled) return;
    const key = error.status === 400 ? credentialErrorField(error.message) : null;
    if (key) {
      // The server's words, naming the field by its label rather than its JSON key.
      setFieldError(CREDENTIAL_FIELDS[key], CREDENTIAL_LABELS[key] + error.message.slice(key.length));
      focusField(CREDENTIAL_FIELDS[key]);
    } else {
      setFormError('cred-form-error', error.message);
    }
  } finally {
    done();
  }
}

function focusField(id) {
  const target = id === 'cred-role' ? $('role-options').querySelector('input') : $(id);
  if (target) target.focus();
}

function copyButton(text, what) {
  const label = el('span', { text: 'Copy' });
  const button = el('button', {
    type: 'button', class: 'btn btn-secondary btn-small copy', 'aria-label': `Copy ${what}`,
  }, icon('copy'), label);
  button.addEventListener('click', async () => {
    try {
      await navigator.clipboard.writeText(text);
      label.textContent = 'Copied';
      button.classList.add('is-copied');
      announce(`${what} copied to the clipboard.`);
      setTimeout(() => {
        label.textContent = 'Copy';
        button.classList.remove('is-copied');
      }, 2000);
    } catch {
      // No clipboard access: select the text so that Ctrl+C copies it.
      const target = button.parentElement.querySelector('code');
      window.getSelection().selectAllChildren(target);
      announce(`Clipboard not available: the ${what} is selected, press Ctrl+C to copy it.`);
    }
  });
  return button;
}

// The created credential's secret is shown here once and lives nowhere else.
function showSecret(created) {
  const panel = $('secret-panel');
  const row = (label, value, what, id) => el('div', { class: 'secret-row' },
    el('dt', { text: label }),
    el('dd', {}, el('code', { class: 'mono break secret-value', id, text: value }), copyButton(value, what)));
  panel.replaceChildren(
    el('div', { class: 'panel-title' }, icon('checkCircle'),
      el('h2', { id: 'secret-title', tabindex: '-1', text: `Credential “${created.name}” created` })),
    el('p', { class: 'callout callout-warning' }, icon('warning'),
      el('span', {},
        el('strong', { text: 'Copy the client secret now. ' }),
        'It cannot be shown again: authd keeps only a keyed hash of it. If it is lost, delete this credential and create a new one.')),
    el('dl', { class: 'secret-list' },
      row('Client ID', created.client_id, 'client ID', 'new-client-id'),
      row('Client secret', created.client_secret, 'client secret', 'new-client-secret')),
    el('p', { class: 'secret-meta' }, 'Role ', el('strong', { text: created.role }),
      ' · expires ', timeEl(created.expires_at)),
    el('div', { class: 'form-actions' },
      el('button', { type: 'button', class: 'btn btn-primary', id: 'secret-done', onclick: dismissSecret },
        'Done, I have stored the secret')));
  panel.hidden = false;
  $('secret-title').focus();
}

function dismissSecret() {
  clearSecrets();
  $('add-credential').focus();
}

function clearSecrets() {
  const panel = $('secret-panel');
  panel.replaceChildren();
  panel.hidden = true;
}

function confirmDeleteCredential(c) {
  confirmDialog({
    title: `Delete credential “${c.name}”?`,
    body: [
      el('p', {},
        'Tokens already issued to this credential stop working at once, and it cannot get new ones. ',
        'Services that use it lose access immediately. This cannot be undone.'),
      el('dl', { class: 'facts facts-compact' },
        el('dt', { text: 'Client ID' }), el('dd', {}, code(c.client_id, 'break')),
        el('dt', { text: 'Role' }), el('dd', { text: c.role })),
    ],
    confirmLabel: 'Delete',
    action: async () => {
      await api('DELETE', `credentials/${quote(c.client_id)}`);
      announce(`Credential ${c.name} deleted.`);
      await refreshCredentials();
      $('add-credential').focus();
    },
  });
}

// ---------------------------------------------------------------------------
// IP addresses: parsing just enough to know which entry holds this browser

function parseIPv4(text) {
  const parts = text.split('.');
  if (parts.length !== 4) return null;
  let bits = 0n;
  for (const p of parts) {
    if (!/^\d{1,3}$/.test(p) || Number(p) > 255) return null;
    bits = (bits << 8n) | BigInt(p);
  }
  return bits;
}

function parseIPv6(text) {
  let tail = [];
  let head = text;
  const v4 = /^(.*:)(\d+\.\d+\.\d+\.\d+)$/.exec(text);
  if (v4) {
    const bits = parseIPv4(v4[2]);
    if (bits === null) return null;
    head = v4[1].endsWith('::') ? v4[1] : v4[1].slice(0, -1);
    tail = [Number(bits >> 16n), Number(bits & 0xffffn)];
  }
  const halves = head.split('::');
  if (halves.length > 2) return null;
  const group = (s) => (s === '' ? [] : s.split(':'));
  const left = group(halves[0]);
  const right = halves.length === 2 ? group(halves[1]) : [];
  const words = [...left, ...right].map((w) => (/^[0-9a-f]{1,4}$/i.test(w) ? parseInt(w, 16) : NaN));
  if (words.some(Number.isNaN)) return null;
  const missing = 8 - words.length - tail.length;
  if (halves.length === 1 ? missing !== 0 : missing < 1) return null;
  const all = [...words.slice(0, left.length), ...Array(halves.length === 2 ? missing : 0).fill(0),
    ...words.slice(left.length), ...tail];
  return all.reduce((acc, w) => (acc << 16n) | BigInt(w), 0n);
}

// {v4, bits} for an address; IPv4-mapped IPv6 counts as IPv4, as in authd.
function parseAddress(text) {
  if (!text) return null;
  const v4 = parseIPv4(text);
  if (v4 !== null) return { v4: true, bits: v4 };
  const v6 = parseIPv6(text.replace(/^\[|\]$/g, ''));
  if (v6 === null) return null;
  if (v6 >> 32n === 0xffffn) return { v4: true, bits: v6 & 0xffffffffn };
  return { v4: false, bits: v6 };
}

function rangeContains(cidr, address) {
  const [base, len] = cidr.split('/');
  const net = parseAddress(base);
  if (!net || !address || net.v4 !== address.v4) return false;
  const width = net.v4 ? 32n : 128n;
  const prefix = len === undefined ? width : BigInt(len);
  const shift = width - prefix;
  return (net.bits >> shift) === (address.bits >> shift);
}

async function loadAllowlistPage() {
  loading($('allow-list'));
  try {
    state.allowlist = await api('GET', 'allowlist');
    renderAllowlist();
  } catch (error) {
    showBanner(error);
  }
}

function browsingAddress() {
  return parseAddress(state.session.address);
}

function renderAllowlist() {
  const me = browsingAddress();
  const list = state.allowlist;
  $('allow-count').textContent = list.length === 1 ? '1 entry' : `${list.length} entries`;
  $('allow-browsing').replaceChildren(icon('here'),
    el('span', {}, 'You are browsing from ', code(state.session.address || 'an unknown address'), '.'));
  $('allow-browsing').className = 'card-note';
  const rows = list.map((e) => {
    const mine = rangeContains(e.cidr, me);
    return {
      class: mine ? 'is-mine' : '',
      cells: [
        el('span', { class: 'cidr-cell' }, code(e.cidr, 'cell-strong'),
          mine ? el('span', { class: 'badge badge-accent', text: 'Your address' }) : null),
        timeEl(e.created_at),
        code(e.created_by, 'nowrap'),
        el('button', {
          type: 'button',
          class: 'btn btn-quiet btn-small btn-danger-text',
          'aria-label': `Remove ${e.cidr}`,
          onclick: () => confirmRemoveRange(e),
        }, icon('trash'), 'Remove'),
      ],
    };
  });
  $('allow-list').replaceChildren(table({
    caption: 'Allowed addresses and ranges',
    empty: 'The allowlist is empty: every client is refused over the network.',
    columns: [{ label: 'Address or range' }, { label: 'Added' }, { label: 'Added by' },
      { label: 'Actions', hidden: true, class: 'col-actions' }],
    rows,
  }));
}

// The server's message with a one-click fix when it suggests a range.
function showAllowError(message) {
  const box = setFieldError('allow-cidr', message);
  const suggestion = /did you mean ([0-9A-Fa-f:.]+\/\d+)\?/.exec(message);
  if (suggestion) {
    box.append(el('div', { class: 'suggestion-row' }, el('button', {
      type: 'button', class: 'btn btn-secondary btn-small', id: 'allow-suggestion',
      onclick: () => {
        $('allow-cidr').value = suggestion[1];
        setFieldError('allow-cidr', '');
        $('allow-cidr').focus();
      },
    }, `Use ${suggestion[1]}`)));
  }
}

async function submitAllow(event) {
  event.preventDefault();
  const input = $('allow-cidr');
  const cidr = input.value.trim();
  setFieldError('allow-cidr', '');
  if (!cidr) {
    setFieldError('allow-cidr', 'Enter an IP address or a CIDR range.');
    input.focus();
    return;
  }
  const done = busy($('allow-submit'), 'Adding…');
  try {
    const entry = await api('POST', 'allowlist', { cidr });
    input.value = '';
    announce(`${entry.cidr} added to the allowlist.`);
    await loadAllowlistPage();
  } catch (error) {
    if (error.handled) return;
    if (error.status === 400 || error.status === 409) {
      showAllowError(error.message);
      input.focus();
    } else {
      showBanner(error);
    }
  } finally {
    done();
  }
}

function confirmRemoveRange(entry) {
  const me = browsingAddress();
  const mine = rangeContains(entry.cidr, me);
  const others = state.allowlist.filter((e) => e.cidr !== entry.cidr && rangeContains(e.cidr, me));
  const lockout = mine && others.length === 0;
  const body = [el('p', {}, 'Clients from ', code(entry.cidr), ' are refused from their next request. ',
    'Their credentials are not changed.')];
  if (lockout) {
    body.push(el('div', { class: 'callout callout-danger', id: 'lockout-warning' }, icon('warning'),
      el('div', {},
        el('p', {}, el('strong', { text: 'This removes your own access. ' }),
          'You are browsing from ', code(state.session.address), ', and no other entry allows it: ',
          'the console will stop answering this browser as soon as the range is removed.'),
        el('p', {}, 'To get back in, run ', code(`authctl allowlist add ${state.session.address}`),
          ' on the appliance.'))));
  } else if (mine) {
    body.push(el('p', { class: 'callout callout-info' }, icon('info'),
      el('span', {}, 'It includes your address, ', code(state.session.address),
        ', which stays allowed through ', code(others[0].cidr), '.')));
  }
  confirmDialog({
    title: lockout ? `Remove ${entry.cidr} and your own access?` : `Remove ${entry.cidr}?`,
    body,
    confirmLabel: 'Remove',
    action: async () => {
      await api('DELETE', `allowlist/${quote(entry.cidr)}`);
      if (lockout) {
        showGate({
          title: 'This browser is no longer allowed',
          message: `${entry.cidr} is off the allowlist, so authd now refuses ${state.session.address}. ` +
            `Run "authctl allowlist add ${state.session.address}" on the appliance to use the console again.`,
          howto: false,
        });
        state.session = null;
        return;
      }
      announce(`${entry.cidr} removed from the allowlist.`);
      await loadAllowlistPage();
      $('allow-cidr').focus();
    },
  });
}

// ---------------------------------------------------------------------------
// Audit log: authd lists entries oldest first and pages with after_seq; the
// page walks back from the end in windows to show the newest first.

async function loadAuditPage() {
  renderCheckpoint(null);
  loadCheckpoint();
  await loadAuditEntries({ reset: true });
}

async function loadCheckpoint() {
  try {
    const [text, keys] = await Promise.all([api('GET', 'audit/checkpoint'), api('GET', 'keys')]);
    renderCheckpoint(parseCheckpoint(text), keys.find((k) => k.use === 'audit'));
  } catch (error) {
    if (error.status === 404) renderCheckpoint({ empty: true });
    else showBanner(error);
  }
}

// A C2SP signed note: origin, size and root hash, a blank line, then
// "— <name> <base64(key ID ‖ signature)>" lines.
function parseCheckpoint(text) {
  if (typeof text !== 'string') return null;
  const split = text.lastIndexOf('\n\n');
  if (split < 0) return null;
  const [origin, size, root] = text.slice(0, split).split('\n');
  const signature = text.slice(split + 2).split('\n').find((line) => line.startsWith('\u2014 '));
  let keyId = null;
  if (signature) {
    try {
      const raw = atob(signature.split(' ')[2] || '');
      keyId = [...raw.slice(0, 4)].map((ch) => ch.charCodeAt(0).toString(16).padStart(2, '0')).join('');
    } catch {
      keyId = null;
    }
  }
  return { origin, size, root, keyId };
}

function fact(term, ...value) {
  return [el('dt', { text: term }), el('dd', {}, ...value)];
}

function renderCheckpoint(cp, auditKey) {
  const box = $('checkpoint');
  if (!cp) {
    box.replaceChildren(el('p', { class: 'empty', text: 'Loading…' }));
  } else if (cp.empty) {
    box.replaceChildren(el('p', { class: 'empty', text: 'No checkpoint yet: the log is empty.' }));
  } else {
    box.replaceChildren(
      ...fact('Tree size', el('span', { id: 'checkpoint-size', class: 'cell-strong', text: cp.size }),
        ' entries'),
      ...fact('Root hash', code(cp.root, 'break')),
      ...fact('Signing key ID', code(cp.keyId || 'unknown'),
        auditKey && auditKey.kid ? el('span', { class: 'muted' }, ' · audit key ', code(auditKey.kid, 'break')) : null),
      ...fact('Origin', code(cp.origin, 'break')));
  }
}

function auditQuery(start, before) {
  const params = new URLSearchParams({ limit: String(before - start) });
  if (start > 0) params.set('after_seq', String(start - 1));
  const { action, actor } = state.audit.filters;
  if (action) params.set('action', action);
  if (actor) params.set('actor', actor);
  return `audit?${params}`;
}

// A newer load (another filter, a reload) makes an older one stop quietly.
async function loadAuditEntries({ reset }) {
  const audit = state.audit;
  const generation = ++audit.generation;
  const stale = () => generation !== audit.generation;
  setFormError('audit-error', '');
  if (reset) loading($('audit-list'));
  const more = $('audit-more');
  more.disabled = true;
  try {
    let before = audit.before;
    if (reset) before = (await api('GET', 'audit?limit=1')).tree_size;
    const filtered = Boolean(audit.filters.action || audit.filters.actor);
    const window = filtered ? 1000 : AUDIT_PAGE_SIZE;
    const found = [];
    while (found.length < AUDIT_PAGE_SIZE && before > 0 && !stale()) {
      const start = Math.max(0, before - window);
      const page = await api('GET', auditQuery(start, before));
      found.push(...page.entries.filter((e) => e.seq < before).reverse());
      before = start;
    }
    if (stale()) return;
    if (reset) audit.entries = [];
    audit.entries.push(...found);
    audit.before = before;
    renderAudit();
  } catch (error) {
    if (error.handled) return;
    if (error.status === 400) setFormError('audit-error', error.message);
    else showBanner(error);
  } finally {
    more.disabled = false;
  }
}

function auditDetails(e) {
  const parts = Object.entries(e.values || {}).map(([k, v]) =>
    el('span', { class: 'kv' }, el('span', { class: 'kv-key', text: k }), ' ', el('span', { text: v })));
  if (e.reason) parts.push(el('span', { class: 'kv' }, el('span', { class: 'kv-key', text: 'reason' }), ' ', e.reason));
  return parts.length ? el('span', { class: 'details' }, parts) : el('span', { class: 'muted', text: '—' });
}

function renderAudit() {
  const audit = state.audit;
  for (const e of audit.entries) audit.actors.add(e.actor);
  $('audit-actors').replaceChildren(...[...audit.actors].sort().map((a) => el('option', { value: a })));
  const filtered = audit.filters.action || audit.filters.actor;
  const n = audit.entries.length;
  $('audit-count').textContent = `${n} ${n === 1 ? 'entry' : 'entries'} shown${filtered ? ' (filtered)' : ''}`;
  $('audit-list').replaceChildren(table({
    caption: 'Audit log entries, newest first',
    empty: filtered ? 'No entry matches these filters.' : 'The audit log is empty.',
    columns: [{ label: 'Seq', class: 'col-num' }, { label: 'Time' }, { label: 'Action' }, { label: 'Actor' },
      { label: 'Source' }, { label: 'Target' }, { label: 'Details' }],
    rows: audit.entries.map((e) => ({
      cells: [
        el('span', { class: 'num', text: String(e.seq) }),
        timeEl(e.time, { seconds: true }),
        code(e.action, 'action'),
        code(e.actor, 'break'),
        code(e.source, 'break'),
        code(e.target, 'break'),
        auditDetails(e),
      ],
    })),
  }));
  $('audit-more-row').hidden = audit.before <= 0;
}

function applyAuditFilter(event) {
  event.preventDefault();
  state.audit.filters = { action: $('audit-action').value, actor: $('audit-actor').value.trim() };
  loadAuditEntries({ reset: true });
}

function clearAuditFilter() {
  $('audit-filter').reset();
  state.audit.filters = { action: '', actor: '' };
  loadAuditEntries({ reset: true });
}

// ---------------------------------------------------------------------------
// Keys (read-only)

async function loadKeysPage() {
  loading($('token-keys'));
  try {
    renderKeys(await api('GET', 'keys'));
  } catch (error) {
    showBanner(error);
  }
}

function renderKeys(keys) {
  const tokenKeys = keys.filter((k) => k.use === 'token');
  $('token-keys').replaceChildren(table({
    caption: 'Token signing keys',
    empty: 'No token signing key.',
    columns: [{ label: 'Key ID (kid)' }, { label: 'Algorithm' }, { label: 'State' },
      { label: 'Created' }, { label: 'Retired' }],
    rows: tokenKeys.map((k) => ({
      class: k.state === 'active' ? '' : 'is-muted',
      cells: [code(k.kid, 'break'), k.algorithm,
        el('span', { class: `badge badge-${k.state}`, text: k.state }),
        timeEl(k.created_at), timeEl(k.retired_at)],
    })),
  }));
  const auditKey = keys.find((k) => k.use === 'audit');
  $('audit-key').replaceChildren(...(auditKey ? [
    ...fact('Key ID', code(auditKey.kid || '—', 'break')),
    ...fact('Algorithm', auditKey.algorithm),
    ...fact('State', el('span', { class: `badge badge-${auditKey.state}`, text: auditKey.state })),
    ...fact('Created', timeEl(auditKey.created_at)),
    ...fact('HSM label', code(auditKey.label)),
  ] : [el('p', { class: 'empty', text: 'No audit key.' })]));
}

// ---------------------------------------------------------------------------
// Start

function decorateIcons() {
  for (const node of document.querySelectorAll('[data-icon]')) node.prepend(icon(node.dataset.icon));
}

function wire() {
  decorateIcons();
  window.addEventListener('hashchange', onHashChange);
  $('sign-out').addEventListener('click', signOut);
  $('banner-close').addEventListener('click', () => { $('banner').hidden = true; });
  $('gate-retry-button').addEventListener('click', () => location.reload());
  $('add-credential').addEventListener('click', openCredentialForm);
  $('cred-cancel').addEventListener('click', () => {
    closeCredentialForm();
    $('add-credential').focus();
  });
  $('credential-form').addEventListener('submit', submitCredential);
  $('allow-form').addEventListener('submit', submitAllow);
  $('audit-filter').addEventListener('submit', applyAuditFilter);
  $('audit-clear').addEventListener('click', clearAuditFilter);
  $('audit-more').addEventListener('click', () => loadAuditEntries({ reset: false }));
  $('confirm-cancel').addEventListener('click', () => $('confirm').close('cancel'));
  $('confirm-ok').addEventListener('click', onConfirm);
  // Escape closes the dialog (the browser's 'cancel'), unless a change is under way.
  $('confirm').addEventListener('cancel', (event) => {
    if ($('confirm-ok').dataset.busy) event.preventDefault();
  });
}

wire();
if (initialCode !== null) signIn(initialCode);
else resumeSession();
