// The cluster dashboard: polls GET /v1/cluster with an admin token and renders it as
// tables, and drives /v1/_test/faults where the test configuration serves it.
// Plain ES module, no build step; every value from the server goes in through textContent.

const TOKEN_KEY = 'concord.adminToken';
const POLL_MS = 1500;
const REQUEST_TIMEOUT_MS = 8000;
const MAX_ERRORS = 50;

const $ = (id) => document.getElementById(id);
const el = (tag, props = {}, ...children) => {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(props)) {
    if (k === 'class') node.className = v;
    else if (k === 'data') for (const [dk, dv] of Object.entries(v)) node.dataset[dk] = dv;
    else node.setAttribute(k, v);
  }
  for (const c of children) node.append(c instanceof Node ? c : document.createTextNode(String(c)));
  return node;
};

let token = sessionStorage.getItem(TOKEN_KEY) ?? '';
let timer;
let generation = 0; // bumps when the token changes, so a poll of an old token is ignored
let regionOrder = [];
const errors = new Map(); // key → { first, last, where, what, count }

// ----- token -----

$('token').value = token;
$('token-form').addEventListener('submit', (e) => {
  e.preventDefault();
  token = $('token').value.trim();
  if (token) sessionStorage.setItem(TOKEN_KEY, token);
  else sessionStorage.removeItem(TOKEN_KEY);
  restart();
});
$('forget').addEventListener('click', () => {
  token = '';
  $('token').value = '';
  sessionStorage.removeItem(TOKEN_KEY);
  restart();
});

function restart() {
  generation++;
  clearTimeout(timer);
  errors.clear();
  renderErrors();
  showError('');
  $('faults').hidden = true;
  if (!token) {
    setRefresh('offline', 'no token');
    return;
  }
  setRefresh('connecting', 'connecting…');
  void probeFaults(generation);
  void poll(generation);
}

// ----- polling -----

const authHeaders = () => ({ Authorization: `Bearer ${token}` });

async function poll(gen) {
  if (gen !== generation) return;
  try {
    const res = await fetch('/v1/cluster', { headers: authHeaders(), signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS) });
    if (gen !== generation) return;
    if (!res.ok) {
      const detail = await problemDetail(res);
      if (res.status === 401 || res.status === 403) {
        // A token that is refused stays refused: stop until another one is given.
        showError(`The token was refused (${res.status}): ${detail}`);
        setRefresh('error', `refused (${res.status})`);
        return;
      }
      throw new Error(`GET /v1/cluster answered ${res.status}: ${detail}`);
    }
    const report = await res.json();
    showError('');
    render(report);
    setRefresh('synced', `live · ${new Date().toLocaleTimeString()}`);
  } catch (e) {
    if (gen !== generation) return;
    const what = e instanceof Error ? e.message : String(e);
    noteError('dashboard', `refresh failed: ${what}`);
    renderErrors();
    setRefresh('error', 'refresh failed; retrying');
  }
  timer = setTimeout(() => poll(gen), POLL_MS);
}

async function problemDetail(res) {
  const text = await res.text();
  try {
    const p = JSON.parse(text);
    return p.detail ?? p.title ?? text;
  } catch {
    return text.slice(0, 200) || res.statusText;
  }
}

function setRefresh(state, text) {
  const badge = $('refresh');
  badge.dataset.state = state;
  badge.textContent = text;
}

function showError(text) {
  const banner = $('error');
  banner.textContent = text;
  banner.hidden = !text;
}

// ----- rendering -----

const fmtBytes = (n) => (n < 1024 ? `${n} B` : n < 1024 * 1024 ? `${(n / 1024).toFixed(1)} KiB` : `${(n / 1024 / 1024).toFixed(2)} MiB`);
const fmtAge = (ms) => (ms === null || ms === undefined ? '–' : ms < 1000 ? `${Math.round(ms)} ms` : ms < 120_000 ? `${(ms / 1000).toFixed(1)} s` : `${Math.round(ms / 60_000)} min`);

function fmtVector(vv) {
  const entries = Object.entries(vv ?? {});
  if (entries.length === 0) return '∅';
  const rank = (r) => (regionOrder.includes(r) ? regionOrder.indexOf(r) : regionOrder.length);
  entries.sort(([a], [b]) => rank(a) - rank(b) || a.localeCompare(b));
  return entries.map(([m, n]) => `${m} ${n}`).join(' · ');
}

function render(report) {
  regionOrder = report.regions ?? [];
  $('regions').textContent = regionOrder.join(', ');
  $('primary').textContent = report.primary ?? '–';
  $('shards').textContent = String(report.shards ?? '–');
  const members = [...(report.members ?? [])].sort((a, b) => a.shard - b.shard || regionOrder.indexOf(a.region) - regionOrder.indexOf(b.region));
  const up = members.filter((m) => !('error' in m));
  $('member-count').textContent = `${up.length} answering of ${members.length}`;
  // Every member holds the documents of its shard: count one region's worth.
  const docsPerShard = new Map();
  for (const m of up) docsPerShard.set(m.shard, Math.max(docsPerShard.get(m.shard) ?? 0, m.docs ?? 0));
  $('doc-count').textContent = String([...docsPerShard.values()].reduce((a, b) => a + b, 0));
  $('socket-count').textContent = String(up.reduce((a, m) => a + (m.sockets ?? 0), 0));
  $('updated').textContent = new Date().toLocaleTimeString();
  renderLeaders(report.leaders ?? [], members);
  renderMembers(members);
  collectErrors(members);
  renderErrors();
  maybeRenderPickers();
}

function renderLeaders(leaders, members) {
  const body = $('leaders').tBodies[0];
  body.replaceChildren(
    ...leaders.map((l) => {
      const claims = members.filter((m) => m.shard === l.shard && m.leader);
      const handover = claims.length > 1 ? claims.map((m) => `${m.region}@${m.epoch}`).join(', ') : '';
      return el('tr', { data: { shard: String(l.shard) } }, el('td', {}, l.shard), el('td', {}, l.region), el('td', { class: 'num' }, l.epoch), el('td', {}, handover || '–'));
    }),
  );
  if (leaders.length === 0) body.append(el('tr', {}, el('td', { colspan: '4', class: 'muted' }, 'no member claims the leader role')));
}

function renderMembers(members) {
  const body = $('members').tBodies[0];
  let lastShard;
  body.replaceChildren(
    ...members.map((m) => {
      const first = m.shard !== lastShard;
      lastShard = m.shard;
      const row = el('tr', { class: first ? 'shard-start' : '', data: { member: m.member, region: m.region, shard: String(m.shard) } });
      if ('error' in m) {
        row.append(el('td', {}, m.shard), el('td', {}, m.region), el('td', { colspan: '11', class: 'muted' }, '–'), el('td', {}, el('span', { class: 'tag bad' }, 'unreachable'), ' ', m.error));
        return row;
      }
      const health = [];
      if (m.engineFaults > 0) health.push(el('span', { class: 'tag bad', title: m.lastEngineFault ?? '' }, `${m.engineFaults} engine fault${m.engineFaults > 1 ? 's' : ''}`));
      if (m.quarantined?.length) health.push(el('span', { class: 'tag bad' }, `${m.quarantined.length} quarantined`));
      if (m.transfer) health.push(el('span', { class: 'tag warn' }, `state transfer from ${m.transfer.from} (${m.transfer.docs} docs)`));
      if (m.behind > 0) health.push(el('span', { class: 'tag warn' }, 'catching up'));
      if (health.length === 0) health.push(el('span', { class: 'tag ok' }, 'ok'));
      const spaced = health.flatMap((h, i) => (i ? [' ', h] : [h]));
      row.append(
        el('td', {}, m.shard),
        el('td', {}, m.region),
        el('td', {}, m.leader ? el('span', { class: 'tag leader' }, 'leader') : 'follower'),
        el('td', { class: 'num' }, m.epoch),
        el('td', { class: 'mono' }, fmtVector(m.vv)),
        el('td', { class: 'num' }, m.behind),
        el('td', { class: 'num' }, fmtAge(m.lastAppliedAgeMs)),
        el('td', { class: 'num' }, m.logEntries),
        el('td', { class: 'num' }, fmtBytes(m.logBytes)),
        el('td', { class: 'num' }, m.docs),
        el('td', { class: 'num' }, m.pending),
        el('td', { class: 'num' }, m.sockets),
        el('td', { class: 'num' }, m.strongQueue ? `${m.strongQueue.running} + ${m.strongQueue.waiting}` : '–'),
        el('td', {}, ...spaced),
      );
      return row;
    }),
  );
}

function noteError(where, what) {
  const key = `${where}\u0000${what}`;
  const now = Date.now();
  const seen = errors.get(key);
  if (seen) {
    seen.last = now;
    seen.count++;
  } else {
    errors.set(key, { first: now, last: now, where, what, count: 1 });
  }
  if (errors.size > MAX_ERRORS) {
    const oldest = [...errors.entries()].sort((a, b) => a[1].last - b[1].last)[0];
    errors.delete(oldest[0]);
  }
}

function collectErrors(members) {
  for (const m of members) {
    if ('error' in m) noteError(m.member, `did not answer: ${m.error}`);
    if (m.lastEngineFault) noteError(m.member, `engine fault (${m.engineFaults} in all): ${m.lastEngineFault}`);
    for (const q of m.quarantined ?? []) {
      noteError(m.member, `entry ${q.origin}:${q.seq} set aside after ${q.failures} failures: ${q.reason ?? ''}`);
    }
  }
}

function renderErrors() {
  const rows = [...errors.values()].sort((a, b) => b.last - a.last);
  $('errors').tBodies[0].replaceChildren(
    ...rows.map((e) =>
      el('tr', {}, el('td', {}, new Date(e.last).toLocaleTimeString() + (e.count > 1 ? ` (×${e.count})` : '')), el('td', { class: 'mono' }, e.where), el('td', {}, e.what)),
    ),
  );
  $('no-errors').hidden = rows.length > 0;
}

// ----- fault injection (test configuration only) -----

// The fault route exists only under the test configuration. An unknown field is refused
// with 400 before anything changes, so that request tells whether it exists without
// touching the faults in force; elsewhere it is a 404 like any unknown route.
async function probeFaults(gen) {
  try {
    const res = await fetch('/v1/_test/faults', {
      method: 'POST',
      headers: { ...authHeaders(), 'Content-Type': 'application/json' },
      body: JSON.stringify({ probe: true }),
      signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS),
    });
    await res.arrayBuffer();
    if (gen !== generation) return;
    $('faults').hidden = res.status !== 400;
    maybeRenderPickers();
  } catch {
    // the next token change probes again
  }
}

function renderPartitionPickers() {
  const box = $('partition-groups');
  box.replaceChildren(
    ...regionOrder.map((r) => {
      const select = el('select', { id: `group-${r}`, 'aria-label': `partition group of ${r}` }, el('option', { value: '' }, 'everyone'), el('option', { value: 'A' }, 'group A'), el('option', { value: 'B' }, 'group B'));
      return el('label', { class: 'row' }, r, select);
    }),
  );
}

let pickersFor = '';
/** (Re)builds the region pickers once the fault controls show and the regions are known. */
function maybeRenderPickers() {
  if ($('faults').hidden || regionOrder.length === 0 || pickersFor === regionOrder.join(',')) return;
  pickersFor = regionOrder.join(',');
  renderPartitionPickers();
}

async function sendFaults(method, body) {
  const res = await fetch('/v1/_test/faults', {
    method,
    headers: { ...authHeaders(), ...(body && { 'Content-Type': 'application/json' }) },
    ...(body && { body: JSON.stringify(body) }),
    signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS),
  });
  if (!res.ok) throw new Error(`${method} /v1/_test/faults answered ${res.status}: ${await problemDetail(res)}`);
}

$('fault-form').addEventListener('submit', async (e) => {
  e.preventDefault();
  const groups = { A: [], B: [] };
  for (const r of regionOrder) {
    const g = $(`group-${r}`)?.value;
    if (g) groups[g].push(r);
  }
  const partitions = [groups.A, groups.B].filter((g) => g.length > 0);
  const body = { partitions, dropRate: Number($('drop-rate').value) || 0, delayMs: Math.round(Number($('delay-ms').value) || 0) };
  try {
    await sendFaults('POST', body);
    const parts = partitions.length ? partitions.map((g) => `[${g.join(', ')}]`).join(' | ') : 'no partition';
    $('fault-state').textContent = `in force: ${parts}, drop ${body.dropRate}, delay ${body.delayMs} ms`;
    $('fault-state').dataset.state = 'faulty';
  } catch (err) {
    $('fault-state').textContent = err.message;
  }
});

$('heal').addEventListener('click', async () => {
  try {
    await sendFaults('DELETE');
    $('fault-state').textContent = 'healed: no faults';
    $('fault-state').dataset.state = 'healed';
    for (const r of regionOrder) if ($(`group-${r}`)) $(`group-${r}`).value = '';
  } catch (err) {
    $('fault-state').textContent = err.message;
  }
});

restart();
