// The demo page: a to-do list on Automerge and shared notes on Yjs, on Concord's SDK
// (/assets/concord.js, built from client/ by scripts/build-client.mjs).
//
// URL parameters: `region` (the member that serves this page), `room` (a suffix of the
// document keys, so that separate demos do not share documents). A token can be given as
// `#token=<JWT>`; otherwise the page asks the development route GET /v1/dev/token for one.
// Every value shown goes in through textContent.

const NS = 'demo';
const TOKEN_KEY = 'concord.demo.devToken';
const REGIONS_KEY = 'concord.demo.regions';
const NAME_KEY = 'concord.demo.name';
const TOKEN_MARGIN_S = 120; // a cached token this close to its expiry is not reused

const $ = (id) => document.getElementById(id);
const params = new URLSearchParams(location.search);
const room = params.get('room') || 'main';
const keys = { todos: `todos-${room}`, notes: `notes-${room}` };
$('keys').textContent = `${keys.todos}, ${keys.notes}`;

function showError(text) {
  $('error').textContent = text;
  $('error').hidden = !text;
}
function showInfo(text) {
  $('info').textContent = text;
  $('info').hidden = !text;
}

// ----- token -----

/** A token from the development route; cached in localStorage so that the page also starts offline. */
async function devToken() {
  const res = await fetch('/v1/dev/token', { cache: 'no-store' });
  if (res.status === 404) throw new Error('this server hands out no development token (GET /v1/dev/token is off outside development)');
  if (!res.ok) throw new Error(`GET /v1/dev/token answered ${res.status}`);
  const body = await res.json();
  localStorage.setItem(TOKEN_KEY, JSON.stringify({ token: body.token, expiresAt: body.expiresAt }));
  if (Array.isArray(body.regions)) localStorage.setItem(REGIONS_KEY, JSON.stringify({ regions: body.regions, primary: body.primary }));
  return body.token;
}

function cachedToken() {
  try {
    const t = JSON.parse(localStorage.getItem(TOKEN_KEY) ?? 'null');
    if (t && typeof t.token === 'string' && t.expiresAt - TOKEN_MARGIN_S > Date.now() / 1000) return t.token;
  } catch {
    // not JSON: ignore
  }
  return undefined;
}

const explicitToken = new URLSearchParams(location.hash.slice(1)).get('token') ?? undefined;

async function initialToken() {
  if (explicitToken) return explicitToken;
  const cached = cachedToken();
  if (cached) return cached;
  try {
    return await devToken();
  } catch (e) {
    if (!navigator.onLine) return ''; // offline with no token: edit locally; tokenRefresh gets one later
    showInfo(`${e.message}. Give the page a token as /#token=<JWT> (npm run -s token -- --ns demo --scope write).`);
    return '';
  }
}

// ----- regions -----

function knownRegions() {
  try {
    const r = JSON.parse(localStorage.getItem(REGIONS_KEY) ?? 'null');
    if (r && Array.isArray(r.regions) && r.regions.length > 0) return r;
  } catch {
    // ignore
  }
  return { regions: ['wnam', 'weur', 'apac'], primary: 'wnam' };
}

function fillRegionPicker(current) {
  const { regions } = knownRegions();
  const select = $('region');
  select.replaceChildren(
    ...regions.map((r) => {
      const o = document.createElement('option');
      o.value = r;
      o.textContent = r;
      return o;
    }),
  );
  select.value = current;
  select.onchange = () => {
    // A client serves one region: switching is a new page, and IndexedDB carries the documents over.
    const next = new URLSearchParams(location.search);
    next.set('region', select.value);
    location.search = next.toString();
  };
}

// ----- presence -----

const palette = ['#e8590c', '#1c7ed6', '#2f9e44', '#ae3ec9', '#f08c00', '#0c8599', '#d6336c'];
const me = {
  id: crypto.randomUUID(),
  name: localStorage.getItem(NAME_KEY) || `Guest ${Math.floor(100 + Math.random() * 900)}`,
  color: palette[Math.floor(Math.random() * palette.length)],
};
$('name').value = me.name;

// ----- the app -----

async function main() {
  let sdk;
  try {
    sdk = await import('/assets/concord.js');
  } catch (e) {
    // scripts/build-client.mjs leaves its error here when client/ does not compile.
    const why = await fetch('/assets/build-error.txt', { cache: 'no-store' })
      .then((r) => (r.ok ? r.text() : ''))
      .catch(() => '');
    showError(
      why
        ? `The SDK bundle did not build: ${why}`
        : `The SDK bundle /assets/concord.js did not load (${e.message}). It is built from client/ by scripts/build-client.mjs, which wrangler runs before it serves; run npm run build:client and reload.`,
    );
    $('error').style.whiteSpace = 'pre-wrap';
    setStatus({ state: 'offline', pending: 0, error: new Error('no SDK') });
    return;
  }
  const token = await initialToken();
  const region = params.get('region') || knownRegions().primary;
  fillRegionPicker(region);

  const client = new sdk.ConcordClient({
    url: location.origin,
    token,
    region,
    // A development token expires after an hour: on a 401 ask the route for a fresh one.
    ...(explicitToken ? {} : { tokenRefresh: devToken }),
  });
  const todos = client.doc(NS, keys.todos, { engine: 'automerge' });
  const notes = client.doc(NS, keys.notes, { engine: 'yjs' });
  window.concord = { client, todos, notes, sdk }; // for the console (and the browser tests)

  client.onStatus(setStatus);
  setStatus(client.status);
  bindTodos(todos);
  bindNotes(notes);
  bindPresence([todos, notes], region);
  await Promise.all([todos.ready, notes.ready]);
  renderTodos(todos);
  renderNotes(notes);
  document.body.dataset.ready = 'true';
}

function setStatus(s) {
  const badge = $('status');
  const state = s.error ? 'error' : s.state;
  badge.dataset.state = state;
  badge.dataset.pending = String(s.pending ?? 0);
  const pending = s.pending ? ` · ${s.pending} pending` : '';
  badge.textContent = s.error ? `stopped${pending}` : `${s.state}${pending}`;
  if (s.error) {
    showError(`Sync stopped: ${s.error.message}. Your edits are kept on this device and will be sent once a valid token is given.`);
  } else if ($('error').dataset.kind !== 'fixed') {
    showError('');
  }
}

// To-dos: each item is a key of the document's root map, written once by the page that
// adds it, so two pages adding items at once never overwrite each other's (a shared list
// created on both sides would keep only one of them).
function bindTodos(todos) {
  $('todo-form').addEventListener('submit', (e) => {
    e.preventDefault();
    const text = $('todo-input').value.trim();
    if (!text) return;
    const id = `${Date.now().toString(36)}-${crypto.randomUUID().slice(0, 8)}`;
    todos.change((d) => {
      d[id] = { text, done: false, at: Date.now(), by: me.name };
    });
    $('todo-input').value = '';
  });
  todos.subscribe(() => renderTodos(todos));
}

function todoItems(todos) {
  const v = todos.value();
  return Object.entries(v)
    .filter(([, item]) => item && typeof item === 'object' && typeof item.text === 'string')
    .sort(([a, x], [b, y]) => (x.at ?? 0) - (y.at ?? 0) || a.localeCompare(b));
}

function renderTodos(todos) {
  const items = todoItems(todos);
  $('todos').replaceChildren(
    ...items.map(([id, item]) => {
      const li = document.createElement('li');
      li.dataset.id = id;
      li.className = item.done ? 'done' : '';
      const box = document.createElement('input');
      box.type = 'checkbox';
      box.checked = Boolean(item.done);
      box.setAttribute('aria-label', `done: ${item.text}`);
      box.onchange = () =>
        todos.change((d) => {
          if (d[id]) d[id].done = box.checked;
        });
      const text = document.createElement('span');
      text.className = 'text';
      text.textContent = item.text;
      const del = document.createElement('button');
      del.className = 'quiet';
      del.textContent = '✕';
      del.title = 'delete';
      del.setAttribute('aria-label', `delete: ${item.text}`);
      del.onclick = () =>
        todos.change((d) => {
          delete d[id];
        });
      li.append(box, text, del);
      return li;
    }),
  );
  $('todos-empty').hidden = items.length > 0;
}

// Notes: the textarea edits the Y.Text `text`. Each input becomes the smallest splice
// (common prefix and suffix kept), so concurrent typing in two windows merges by
// character; a remote change keeps the caret where it was relative to the text around it.
function bindNotes(notes) {
  const ta = $('notes');
  const ytext = () => notes.ydoc.getText('text');
  ta.addEventListener('input', () => {
    const before = ytext().toString();
    const after = ta.value;
    const { start, removed, inserted } = splice(before, after);
    if (removed === 0 && inserted === '') return;
    notes.ydoc.transact(() => {
      if (removed > 0) ytext().delete(start, removed);
      if (inserted) ytext().insert(start, inserted);
    }, 'textarea');
  });
  notes.subscribe(() => renderNotes(notes));
}

function splice(before, after) {
  let start = 0;
  const max = Math.min(before.length, after.length);
  while (start < max && before[start] === after[start]) start++;
  let end = 0;
  while (end < max - start && before[before.length - 1 - end] === after[after.length - 1 - end]) end++;
  return { start, removed: before.length - start - end, inserted: after.slice(start, after.length - end) };
}

function renderNotes(notes) {
  const ta = $('notes');
  const text = notes.ydoc.getText('text').toString();
  if (ta.value === text) return;
  const { start, removed, inserted } = splice(ta.value, text);
  const shift = (pos) => (pos <= start ? pos : pos >= start + removed ? pos - removed + inserted.length : start + inserted.length);
  const [s, e] = [ta.selectionStart, ta.selectionEnd];
  ta.value = text;
  if (document.activeElement === ta) ta.setSelectionRange(shift(s), shift(e));
}

function bindPresence(handles, region) {
  const publish = () => {
    for (const h of handles) h.presence.setLocalStateField('user', { id: me.id, name: me.name, color: me.color, region });
  };
  publish();
  $('name').addEventListener('change', () => {
    me.name = $('name').value.trim() || me.name;
    localStorage.setItem(NAME_KEY, me.name);
    publish();
  });
  const render = () => {
    const people = new Map();
    for (const h of handles) {
      for (const state of h.presence.getStates().values()) {
        const u = state?.user;
        if (u && typeof u.id === 'string' && typeof u.name === 'string') people.set(u.id, u);
      }
    }
    const list = [...people.values()].sort((a, b) => (a.id === me.id ? -1 : b.id === me.id ? 1 : a.name.localeCompare(b.name)));
    $('people').replaceChildren(
      ...list.map((u) => {
        const li = document.createElement('li');
        li.dataset.id = u.id;
        if (u.id === me.id) li.className = 'me';
        li.style.borderLeft = `4px solid ${typeof u.color === 'string' ? u.color : '#888'}`;
        li.textContent = `${u.name}${typeof u.region === 'string' ? ` · ${u.region}` : ''}${u.id === me.id ? ' (you)' : ''}`;
        return li;
      }),
    );
  };
  for (const h of handles) h.presence.on('change', render);
  render();
}

if ('serviceWorker' in navigator) {
  navigator.serviceWorker.register('/sw.js').catch((e) => console.warn('concord demo: no offline reload:', e));
}

main().catch((e) => {
  showError(`The demo failed to start: ${e instanceof Error ? e.message : String(e)}`);
  $('error').dataset.kind = 'fixed';
  console.error(e);
});
