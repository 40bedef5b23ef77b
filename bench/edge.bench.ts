/**
 * `npm run bench:edge`: figures for the whole stack on the real `wrangler dev` (workerd,
 * Durable Objects on SQLite), measured over HTTP from this process on 127.0.0.1. Prints a
 * Markdown table with the machine it ran on; never a pass/fail test.
 *
 * a. Writes/s and write latency p50/p99 per consistency level, from a concurrent load
 *    generator (PATCH and ops, spread over many keys and all regions); then reads/s and read
 *    latency per level; then one client alone (a write, then a read in another region), the
 *    latency without queueing. The ratio of strong to eventual is printed beside each.
 * b. Replication lag: an eventual write acknowledged in one region until a GET in each of the
 *    other regions sees it (polled back to back, so the resolution is one local GET).
 * c. Loading a shard: one shard filled with N small documents, wrangler dev restarted on the
 *    same state, then the time of the first request a member of that shard serves vs the
 *    first request to a member of an empty shard (a cold object with nothing to load).
 *
 * Sizes (environment variables): BENCH_CLIENTS (16), BENCH_REQUESTS (per client, per level
 * and kind; 40), BENCH_KEYS (per level; 64), BENCH_SERIAL (writes and reads of the single
 * client per level; 100), BENCH_LAG_WRITES (100), BENCH_SHARD_DOCS
 * (10000), BENCH_FILL_CONCURRENCY (32), BENCH_RESTARTS (3), BENCH_PHASE_LIMIT_S (time bound
 * of each load phase; 120). `BENCH_SHARD_DOCS=0` skips part c.
 *
 * The measured server shares this machine's cores with the load generator; figures are
 * for comparing levels and builds with each other, not for predicting Cloudflare's network.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import { join } from 'node:path';
import { shard } from '../src/core/routing.js';
import { mintToken, ROOT, startWrangler, type WranglerDev } from '../test/e2e/wrangler.js';

const num = (name: string, fallback: number): number => {
  const v = Number(process.env[name] ?? fallback);
  if (!Number.isFinite(v) || v < 0) throw new Error(`${name} must be a non-negative number`);
  return Math.floor(v);
};

const CLIENTS = Math.max(1, num('BENCH_CLIENTS', 16));
const REQUESTS = Math.max(1, num('BENCH_REQUESTS', 40));
const KEYS = Math.max(1, num('BENCH_KEYS', 64));
const LAG_WRITES = num('BENCH_LAG_WRITES', 100);
const SHARD_DOCS = num('BENCH_SHARD_DOCS', 10_000);
const FILL_CONCURRENCY = Math.max(1, num('BENCH_FILL_CONCURRENCY', 32));
const RESTARTS = Math.max(1, num('BENCH_RESTARTS', 3));
const SERIAL = Math.max(1, num('BENCH_SERIAL', 100));
const PHASE_LIMIT_MS = Math.max(1, num('BENCH_PHASE_LIMIT_S', 120)) * 1000;
const REQUEST_TIMEOUT_MS = 30_000;
const LAG_TIMEOUT_MS = 10_000;

const NS = 'bench';
const LEVELS = ['eventual', 'session', 'quorum', 'strong'] as const;
type Level = (typeof LEVELS)[number];

// ---- small helpers ----

const log = (msg: string): void => {
  process.stderr.write(`[bench:edge] ${msg}\n`);
};

function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return NaN;
  const rank = Math.ceil((p / 100) * sorted.length);
  return sorted[Math.min(sorted.length - 1, Math.max(0, rank - 1))]!;
}

interface Stats {
  n: number;
  errors: number;
  seconds: number;
  p50: number;
  p99: number;
  max: number;
}

function stats(latencies: number[], errors: number, seconds: number): Stats {
  const s = [...latencies].sort((a, b) => a - b);
  return { n: s.length, errors, seconds, p50: percentile(s, 50), p99: percentile(s, 99), max: s[s.length - 1] ?? NaN };
}

const ms = (v: number): string => (Number.isFinite(v) ? (v >= 100 ? v.toFixed(0) : v.toFixed(1)) : 'n/a');
const perSec = (st: Stats): string => (st.seconds > 0 ? Math.round(st.n / st.seconds).toLocaleString('en-US') : 'n/a');
const ratio = (a: number, b: number): string => (Number.isFinite(a / b) ? `${(a / b).toFixed(1)}×` : 'n/a');

/** `wrangler.toml`'s top-level `[vars]` value of `name` (the default environment the bench runs). */
function tomlVar(name: string): string | undefined {
  const toml = readFileSync(join(ROOT, 'wrangler.toml'), 'utf8');
  const top = toml.split(/^\[env\./m)[0]!;
  return new RegExp(`^${name}\\s*=\\s*"([^"]*)"`, 'm').exec(top)?.[1];
}

// ---- HTTP ----

let server: WranglerDev;
let writeToken = '';
let adminToken = '';

interface Call {
  method?: string;
  region?: string;
  level?: Level;
  session?: string;
  json?: unknown;
  contentType?: string;
  token?: string;
}

async function call(path: string, c: Call = {}): Promise<Response> {
  const headers: Record<string, string> = { Authorization: `Bearer ${c.token ?? writeToken}` };
  if (c.region) headers['Concord-Region'] = c.region;
  if (c.level) headers['Consistency'] = c.level;
  if (c.session) headers['Concord-Token'] = c.session;
  if (c.json !== undefined) headers['Content-Type'] = c.contentType ?? 'application/json';
  return fetch(`${server.url}${path}`, {
    method: c.method ?? 'GET',
    headers,
    ...(c.json !== undefined && { body: JSON.stringify(c.json) }),
    signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS),
  });
}

const docPath = (key: string): string => `/v1/${NS}/docs/${encodeURIComponent(key)}`;

/** Times one request; the body is read before the clock stops. */
async function timed(path: string, c: Call): Promise<{ res: Response; ms: number; body: string }> {
  const t = performance.now();
  const res = await call(path, c);
  const body = await res.text();
  return { res, ms: performance.now() - t, body };
}

// ---- keys and shards ----

let SHARDS = 16;
let REGIONS: string[] = ['wnam', 'weur', 'apac'];
/** Shards kept empty for part c: `empty` is the baseline, `warm` takes the first object start after a restart. */
let reserved = { full: -1, empty: -1, warm: -1 };

/** `count` keys `${prefix}<i>` whose shard is in `want` (or, without it, not reserved for part c). */
function keysFor(prefix: string, count: number, want?: number): string[] {
  const out: string[] = [];
  const avoid = new Set([reserved.full, reserved.empty, reserved.warm]);
  for (let i = 0; out.length < count; i++) {
    const key = `${prefix}${i}`;
    const s = shard(NS, key, SHARDS);
    if (want === undefined ? !avoid.has(s) : s === want) out.push(key);
  }
  return out;
}

// ---- load generator ----

/** `CLIENTS` concurrent clients, each issuing up to `REQUESTS` requests in sequence until the phase's deadline. */
async function load(
  what: string,
  request: (client: number, i: number) => Promise<{ ok: boolean; ms: number; error?: string }>,
): Promise<Stats> {
  const latencies: number[] = [];
  let errors = 0;
  let firstError: string | undefined;
  const deadline = Date.now() + PHASE_LIMIT_MS;
  const t0 = performance.now();
  await Promise.all(
    Array.from({ length: CLIENTS }, async (_, client) => {
      for (let i = 0; i < REQUESTS && Date.now() < deadline; i++) {
        try {
          const r = await request(client, i);
          if (r.ok) latencies.push(r.ms);
          else {
            errors++;
            firstError ??= r.error;
          }
        } catch (e) {
          errors++;
          firstError ??= String(e);
        }
      }
    }),
  );
  const st = stats(latencies, errors, (performance.now() - t0) / 1000);
  log(`${what}: ${st.n} ok, ${errors} errors in ${st.seconds.toFixed(1)} s${firstError ? `; first error: ${firstError}` : ''}`);
  return st;
}

interface LevelFigures {
  level: Level;
  writes: Stats;
  reads: Stats;
  serialWrites: Stats;
  serialReads: Stats;
}

/** A write as the load generator sends it: a merge PATCH on even `i`, an ops POST (increment + set) on odd. */
function write(key: string, region: string, level: Level, session: string | undefined, tag: string, i: number): ReturnType<typeof timed> {
  return i % 2 === 0
    ? timed(docPath(key), { method: 'PATCH', region, level, session, json: { [tag]: i }, contentType: 'application/merge-patch+json' })
    : timed(`${docPath(key)}/ops`, {
        method: 'POST',
        region,
        level,
        session,
        json: { ops: [{ op: 'increment', path: ['n'], by: 1 }, { op: 'set', path: ['last'], value: `${tag}:${i}` }] },
      });
}

async function perLevel(level: Level, prefix = `load-${level}-`): Promise<LevelFigures> {
  const keys = keysFor(prefix, KEYS);
  // Create every document first (not measured), so that writes update and reads find them.
  await inBatches(keys, FILL_CONCURRENCY, async (key, j) => {
    const res = await call(docPath(key), { method: 'PUT', region: REGIONS[j % REGIONS.length], json: { by: 'setup' } });
    await res.arrayBuffer();
    if (!res.ok) throw new Error(`setup PUT ${key}: ${res.status}`);
  });
  const sessions: string[] = Array.from({ length: CLIENTS }, () => '');
  const at = (client: number, i: number): { key: string; region: string } => ({
    key: keys[(client * REQUESTS + i) % keys.length]!,
    region: REGIONS[(client + i) % REGIONS.length]!,
  });
  const writes = await load(`${level} writes`, async (client, i) => {
    const { key, region } = at(client, i);
    const session = level === 'session' ? sessions[client] : undefined;
    const { res, ms: t, body } = await write(key, region, level, session, `c${client}`, i);
    if (res.ok) sessions[client] = res.headers.get('Concord-Token') ?? sessions[client]!;
    return { ok: res.ok, ms: t, error: `${res.status} ${body}` };
  });
  const reads = await load(`${level} reads`, async (client, i) => {
    // Another region than the write of the same index: session reads must catch up first.
    const { key } = at(client, i);
    const region = REGIONS[(client + i + 1) % REGIONS.length]!;
    const session = level === 'session' ? sessions[client] : undefined;
    const { res, ms: t, body } = await timed(docPath(key), { region, level, session });
    return { ok: res.ok, ms: t, error: `${res.status} ${body}` };
  });
  // One client alone, a write then a read in another region: latency without queueing.
  const sw: number[] = [];
  const sr: number[] = [];
  let errors = 0;
  let session: string | undefined;
  const deadline = Date.now() + PHASE_LIMIT_MS;
  const t0 = performance.now();
  for (let i = 0; i < SERIAL && Date.now() < deadline; i++) {
    const key = keys[i % keys.length]!;
    const w = await write(key, REGIONS[i % REGIONS.length]!, level, level === 'session' ? session : undefined, 'solo', i);
    if (w.res.ok) {
      sw.push(w.ms);
      session = w.res.headers.get('Concord-Token') ?? session;
    } else errors++;
    const r = await timed(docPath(key), { region: REGIONS[(i + 1) % REGIONS.length], level, ...(level === 'session' && { session }) });
    if (r.res.ok) sr.push(r.ms);
    else errors++;
  }
  const seconds = (performance.now() - t0) / 1000;
  log(`${level} single client: ${sw.length} writes, ${sr.length} reads, ${errors} errors`);
  return { level, writes, reads, serialWrites: stats(sw, errors, seconds), serialReads: stats(sr, 0, seconds) };
}

async function inBatches<T>(items: readonly T[], concurrency: number, f: (item: T, index: number) => Promise<void>): Promise<void> {
  let next = 0;
  const deadline = Date.now() + PHASE_LIMIT_MS * 5;
  await Promise.all(
    Array.from({ length: Math.min(concurrency, items.length) }, async () => {
      while (next < items.length) {
        if (Date.now() > deadline) throw new Error('batch phase over its time bound');
        const j = next++;
        await f(items[j]!, j);
      }
    }),
  );
}

// ---- b. replication lag ----

interface LagFigures {
  all: Stats;
  timeouts: number;
  pollGet: Stats;
  /** Writes that the first GET in each other region already saw. */
  firstPoll: number;
}

async function replicationLag(): Promise<LagFigures> {
  const keys = keysFor('lag-', LAG_WRITES);
  const lags: number[] = [];
  const polls: number[] = [];
  let timeouts = 0;
  let firstPoll = 0;
  const t0 = performance.now();
  for (let i = 0; i < keys.length; i++) {
    const origin = REGIONS[i % REGIONS.length]!;
    const res = await call(docPath(keys[i]!), { method: 'PUT', region: origin, json: { i } });
    await res.arrayBuffer();
    if (!res.ok) {
      timeouts++;
      continue;
    }
    const acked = performance.now();
    const seen = await Promise.all(
      REGIONS.filter((r) => r !== origin).map(async (region) => {
        const until = Date.now() + LAG_TIMEOUT_MS;
        for (let poll = 0; poll < 5000 && Date.now() < until; poll++) {
          const { res: got, ms: t } = await timed(docPath(keys[i]!), { region });
          polls.push(t);
          if (got.status === 200) return { at: performance.now(), polls: poll + 1 };
        }
        return undefined;
      }),
    );
    if (seen.some((t) => t === undefined)) timeouts++;
    else {
      const all = seen as { at: number; polls: number }[];
      lags.push(Math.max(...all.map((x) => x.at)) - acked);
      if (all.every((x) => x.polls === 1)) firstPoll++;
    }
  }
  const st = stats(lags, timeouts, (performance.now() - t0) / 1000);
  log(`replication lag: ${st.n} writes, ${timeouts} not seen within ${LAG_TIMEOUT_MS} ms`);
  return { all: st, timeouts, pollGet: stats(polls, 0, 0), firstPoll };
}

// ---- c. loading a shard after a restart ----

interface MemberReport {
  member: string;
  shard: number;
  region: string;
  vv?: Record<string, number>;
  docs?: number;
  logEntries?: number;
  pending?: number;
  error?: string;
}

async function shardMembers(s: number): Promise<MemberReport[]> {
  const res = await call('/v1/cluster', { token: adminToken });
  if (!res.ok) throw new Error(`GET /v1/cluster: ${res.status} ${await res.text()}`);
  const body = (await res.json()) as { members: MemberReport[] };
  return body.members.filter((m) => m.shard === s);
}

/**
 * Waits until the members of shard `s` hold `docs` documents, agree on their vector, have
 * compacted their logs, and have stayed so for a few gossip intervals: then no gossip alarm
 * is pending that would wake (and load) a member on its own after the restart.
 */
async function quiesce(s: number, docs: number, gossipMs: number): Promise<number> {
  const t0 = Date.now();
  const deadline = t0 + PHASE_LIMIT_MS * 2;
  let stableSince: number | undefined;
  let last = '';
  while (Date.now() < deadline) {
    const ms = await shardMembers(s);
    const sig = JSON.stringify(ms.map((m) => [m.vv, m.docs, m.logEntries, m.pending]));
    const settled =
      ms.length === REGIONS.length &&
      ms.every((m) => !m.error && m.docs === docs && m.logEntries === 0 && m.pending === 0 && JSON.stringify(m.vv) === JSON.stringify(ms[0]!.vv));
    if (settled && sig === last) {
      stableSince ??= Date.now();
      if (Date.now() - stableSince >= 3 * gossipMs) return Date.now() - t0;
    } else {
      stableSince = undefined;
    }
    last = sig;
    await new Promise((r) => setTimeout(r, Math.min(500, gossipMs)));
  }
  throw new Error(`shard ${s} did not settle: ${last}`);
}

interface LoadFigures {
  docs: number;
  fillSeconds: number;
  fillErrors: number;
  settleMs: number;
  full: number[];
  empty: number[];
  warmup: number[];
  again: number[];
  restart: number[];
}

async function shardLoad(persistTo: string): Promise<LoadFigures> {
  const region = REGIONS[REGIONS.length - 1]!;
  const keys = keysFor('fill-', SHARD_DOCS, reserved.full);
  const emptyKey = keysFor('empty-', 1, reserved.empty)[0]!;
  const warmKey = keysFor('warm-', 1, reserved.warm)[0]!;
  log(`part c: filling shard ${reserved.full} with ${keys.length} documents through ${region}`);
  let fillErrors = 0;
  const t0 = performance.now();
  await inBatches(keys, FILL_CONCURRENCY, async (key, j) => {
    for (let attempt = 0; attempt < 3; attempt++) {
      const res = await call(docPath(key), { method: 'PUT', region, json: { j, name: `doc ${j}`, tags: ['bench'] } });
      await res.arrayBuffer();
      if (res.ok) return;
      fillErrors++;
    }
    throw new Error(`PUT ${key} failed 3 times`);
  });
  const fillSeconds = (performance.now() - t0) / 1000;
  log(`part c: filled in ${fillSeconds.toFixed(1)} s; waiting for the shard to settle`);
  const gossipMs = Number(tomlVar('GOSSIP_INTERVAL_MS') ?? 1000);
  // Touch the baseline member once, so that it exists with (almost) nothing in storage.
  await (await call(docPath(emptyKey), { region })).arrayBuffer();
  const settleMs = await quiesce(reserved.full, keys.length, gossipMs);
  log(`part c: settled (same vectors, compacted logs, stable for 3 gossip intervals) after ${ms(settleMs)} ms`);

  const fig: LoadFigures = { docs: keys.length, fillSeconds, fillErrors, settleMs, full: [], empty: [], warmup: [], again: [], restart: [] };
  const probe = keys[Math.floor(keys.length / 2)]!;
  for (let r = 0; r < RESTARTS; r++) {
    await server.stop();
    const t = performance.now();
    server = await startWrangler({ persistTo, logLevel: 'warn' });
    fig.restart.push(performance.now() - t);
    // The first object start of the process pays for things no later one does; a third shard absorbs it.
    const warm = await timed(docPath(warmKey), { region });
    const empty = await timed(docPath(emptyKey), { region });
    const full = await timed(docPath(probe), { region });
    const again = await timed(docPath(keys[0]!), { region });
    const member = full.res.headers.get('Concord-Member');
    if (full.res.status !== 200 || member !== `replica:${reserved.full}:${region}`) {
      throw new Error(`after restart ${r + 1}: GET ${probe} answered ${full.res.status} from ${member}: ${full.body}`);
    }
    if (empty.res.status !== 404) throw new Error(`the baseline shard is not empty: ${empty.res.status} ${empty.body}`);
    fig.warmup.push(warm.ms);
    fig.empty.push(empty.ms);
    fig.full.push(full.ms);
    fig.again.push(again.ms);
    log(`restart ${r + 1}: warm-up ${ms(warm.ms)} ms, empty shard ${ms(empty.ms)} ms, ${keys.length}-doc shard ${ms(full.ms)} ms, then ${ms(again.ms)} ms`);
  }
  return fig;
}

const median = (xs: readonly number[]): number => percentile([...xs].sort((a, b) => a - b), 50);

// ---- main ----

function machine(): string {
  const cpus = os.cpus();
  const wrangler = (JSON.parse(readFileSync(join(ROOT, 'node_modules', 'wrangler', 'package.json'), 'utf8')) as { version: string }).version;
  return `${cpus[0]?.model.trim() ?? 'cpu'} × ${cpus.length}, ${Math.round(os.totalmem() / 2 ** 30)} GiB, ${os.type()} ${os.release()}, Node ${process.version}, wrangler ${wrangler}`;
}

async function main(): Promise<void> {
  const started = performance.now();
  const persistTo = mkdtempSync(join(os.tmpdir(), 'concord-bench-'));
  try {
    log('starting wrangler dev');
    [server, writeToken, adminToken] = await Promise.all([
      startWrangler({ persistTo, logLevel: 'warn' }),
      mintToken('--ns', `${NS}*`, '--scope', 'write'),
      mintToken('--scope', 'admin', '--ns', '*'),
    ]);
    const cluster = (await (await call('/v1/cluster', { token: adminToken })).json()) as { shards: number; regions: string[]; primary: string };
    SHARDS = cluster.shards;
    REGIONS = cluster.regions;
    if (SHARD_DOCS > 0) {
      if (SHARDS < 3) throw new Error(`part c needs at least 3 shards, the server has ${SHARDS}`);
      reserved = { full: 0, empty: 1, warm: 2 };
    }
    log(`${REGIONS.length} regions (${REGIONS.join(', ')}), ${SHARDS} shards, leader region ${cluster.primary}`);

    // Unmeasured: JIT and connections warm, every member of the load shards started.
    log('warm-up (not measured)');
    await perLevel('eventual', 'warmup-');
    const levels: LevelFigures[] = [];
    for (const level of LEVELS) levels.push(await perLevel(level));
    const lag = LAG_WRITES > 0 ? await replicationLag() : undefined;
    const shardFig = SHARD_DOCS > 0 ? await shardLoad(persistTo) : undefined;

    const total = (performance.now() - started) / 1000;
    const byLevel = new Map(levels.map((l) => [l.level, l]));
    const ev = byLevel.get('eventual')!;
    const st = byLevel.get('strong')!;
    const out: string[] = [];
    out.push(`Concord edge bench (\`npm run bench:edge\`) — ${machine()}`);
    out.push('');
    out.push(
      `\`wrangler dev\` on 127.0.0.1, default config (${REGIONS.length} regions, ${SHARDS} shards, SQLite state on disk); ` +
        `${CLIENTS} concurrent clients × ${REQUESTS} requests per level and kind over ${KEYS} keys per level, regions in rotation ` +
        `(load generator and server share the machine's cores), then 1 client × ${SERIAL} writes and reads per level; ` +
        `writes alternate a merge PATCH and an ops POST (increment + set), reads go to another region than the write; ` +
        `latencies in ms, measured by the client; run took ${total.toFixed(0)} s.`,
    );
    out.push('');
    out.push('| figure | eventual | session | quorum | strong | strong ÷ eventual |');
    out.push('| --- | --- | --- | --- | --- | --- |');
    const rowOf = (name: string, f: (l: LevelFigures) => string, r = ''): void => {
      out.push(`| ${name} | ${LEVELS.map((l) => f(byLevel.get(l)!)).join(' | ')} | ${r} |`);
    };
    const tput = (x: Stats): number => x.n / x.seconds;
    rowOf(`writes/s, ${CLIENTS} clients`, (l) => perSec(l.writes), `${ratio(tput(st.writes), tput(ev.writes))} (throughput)`);
    rowOf(`write p50, ${CLIENTS} clients`, (l) => ms(l.writes.p50), ratio(st.writes.p50, ev.writes.p50));
    rowOf(`write p99, ${CLIENTS} clients`, (l) => ms(l.writes.p99), ratio(st.writes.p99, ev.writes.p99));
    rowOf(`reads/s, ${CLIENTS} clients`, (l) => perSec(l.reads), `${ratio(tput(st.reads), tput(ev.reads))} (throughput)`);
    rowOf(`read p50, ${CLIENTS} clients`, (l) => ms(l.reads.p50), ratio(st.reads.p50, ev.reads.p50));
    rowOf(`read p99, ${CLIENTS} clients`, (l) => ms(l.reads.p99), ratio(st.reads.p99, ev.reads.p99));
    rowOf('write p50, 1 client', (l) => ms(l.serialWrites.p50), ratio(st.serialWrites.p50, ev.serialWrites.p50));
    rowOf('write p99, 1 client', (l) => ms(l.serialWrites.p99), ratio(st.serialWrites.p99, ev.serialWrites.p99));
    rowOf('read p50, 1 client', (l) => ms(l.serialReads.p50), ratio(st.serialReads.p50, ev.serialReads.p50));
    rowOf('read p99, 1 client', (l) => ms(l.serialReads.p99), ratio(st.serialReads.p99, ev.serialReads.p99));
    rowOf('failed requests', (l) => `${l.writes.errors + l.reads.errors + l.serialWrites.errors}`);
    out.push('');
    out.push('| figure | value | baseline |');
    out.push('| --- | --- | --- |');
    if (lag) {
      out.push(
        `| replication lag, eventual write acknowledged in one region → visible in both others (${lag.all.n} writes${lag.timeouts ? `, ${lag.timeouts} not seen in ${LAG_TIMEOUT_MS / 1000} s` : ''}) | p50 ${ms(lag.all.p50)} ms, p99 ${ms(lag.all.p99)} ms, max ${ms(lag.all.max)} ms; ${lag.firstPoll} of ${lag.all.n} visible at the first poll | one polling GET: p50 ${ms(lag.pollGet.p50)} ms, p99 ${ms(lag.pollGet.p99)} ms |`,
      );
    }
    if (shardFig) {
      const full = median(shardFig.full);
      const empty = median(shardFig.empty);
      out.push(
        `| first request to a member after a restart: shard of ${shardFig.docs.toLocaleString('en-US')} documents (median of ${shardFig.full.length} restarts; each: ${shardFig.full.map(ms).join(', ')}) | ${ms(full)} ms | empty shard: ${ms(empty)} ms (each: ${shardFig.empty.map(ms).join(', ')}) |`,
      );
      out.push(
        `| cost of loading the shard (difference) | ${ms(full - empty)} ms, ${(((full - empty) / shardFig.docs) * 1000).toFixed(1)} µs per document | next request to the loaded member: ${ms(median(shardFig.again))} ms |`,
      );
      out.push(
        `| filling that shard (${FILL_CONCURRENCY} concurrent PUTs to one member, eventual) | ${Math.round(shardFig.docs / shardFig.fillSeconds).toLocaleString('en-US')} writes/s, ${shardFig.fillSeconds.toFixed(1)} s${shardFig.fillErrors ? `, ${shardFig.fillErrors} retried` : ''} | wrangler dev restart to healthy: ${ms(median(shardFig.restart))} ms |`,
      );
    }
    process.stdout.write(`${out.join('\n')}\n`);
  } finally {
    await server?.stop();
    rmSync(persistTo, { recursive: true, force: true, maxRetries: 5, retryDelay: 100 });
  }
}

await main();
