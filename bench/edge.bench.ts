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
 * d. The floor: what the platform costs for the same writes. `bench/floor/` (its own
 *    `wrangler dev`, started here) commits each write in one SQLite transaction and pushes it
 *    to the other regions, nothing more. Automerge `PATCH` and Yjs updates posted to `/crdt`,
 *    at eventual, floor and Concord alternated `BENCH_FLOOR_ROUNDS` times, with the ratios
 *    Concord ÷ floor. Runs before c, on the same Concord as a and b.
 *
 * Sizes (environment variables): BENCH_CLIENTS (16), BENCH_REQUESTS (per client, per level
 * and kind; 40), BENCH_KEYS (per level; 64), BENCH_SERIAL (writes and reads of the single
 * client per level; 100), BENCH_LAG_WRITES (100), BENCH_SHARD_DOCS
 * (10000), BENCH_FILL_CONCURRENCY (32), BENCH_RESTARTS (3), BENCH_PHASE_LIMIT_S (time bound
 * of each load phase; 120). `BENCH_SHARD_DOCS=0` skips part c. BENCH_FLOOR_ROUNDS (2; 0 skips
 * part d), BENCH_SETTLE_MS (pause after each run of part d; 2500), BENCH_WRANGLER_LOG (the
 * servers' `--log-level`; warn).
 *
 * `BENCH_ONLY=floor` (`npm run bench:floor`) runs part d alone, with the same sizes (its runs
 * use BENCH_CLIENTS, BENCH_REQUESTS, BENCH_KEYS and BENCH_SERIAL).
 * `BENCH_PROFILE=<path prefix>` adds, per write kind, one more run of the floor and of Concord
 * under the CPU profiler (DevTools protocol on wrangler's inspector port; not in the latency
 * table), writes `<prefix>{floor,concord}-<kind>.cpuprofile` and prints the isolate's busy
 * time per write of each; with `BENCH_FLOOR_ROUNDS=0` only those runs happen. Node 20 needs
 * `NODE_OPTIONS=--experimental-websocket` for it; `npm run bench:profile` sets both. See
 * bench/PROFILE.md.
 *
 * The measured server shares this machine's cores with the load generator; figures are
 * for comparing levels and builds with each other, not for predicting Cloudflare's network.
 */
import { mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import { dirname, join, resolve } from 'node:path';
import * as Y from 'yjs';
import { shard } from '../src/core/routing.js';
import { type LogLevel, mintToken, ROOT, startWrangler, type WranglerDev } from '../test/e2e/wrangler.js';
import { groupUsage } from './process-group.js';
import { busyMs, CpuProfiler } from './profiler.js';

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
const ONLY = process.env['BENCH_ONLY'] ?? '';
if (ONLY !== '' && ONLY !== 'floor') throw new Error(`BENCH_ONLY must be empty or "floor", not ${JSON.stringify(ONLY)}`);
/** Part d alone: the comparison with the floor, without the long parts a–c. */
const ONLY_FLOOR = ONLY === 'floor';
/** Path prefix of part d's CPU profiles (`<prefix>{floor,concord}-<kind>.cpuprofile`); empty: none. */
const PROFILE = process.env['BENCH_PROFILE'] ?? '';
const FLOOR_CONFIG = 'bench/floor/wrangler.toml';
/** wrangler's `--log-level` for the servers (BENCH_WRANGLER_LOG); `info` logs every request, to diagnose a run with failures. */
const WRANGLER_LOG = (process.env['BENCH_WRANGLER_LOG'] ?? 'warn') as LogLevel;
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
  /** A binary body (sent as is, with `contentType`); instead of `json`. */
  bytes?: Uint8Array;
  /** `Prefer` header (RFC 7240). */
  prefer?: string;
  /** Another server than Concord's: the floor of part d. */
  base?: string;
}

async function call(path: string, c: Call = {}): Promise<Response> {
  const headers: Record<string, string> = { Authorization: `Bearer ${c.token ?? writeToken}` };
  if (c.region) headers['Concord-Region'] = c.region;
  if (c.level) headers['Consistency'] = c.level;
  if (c.session) headers['Concord-Token'] = c.session;
  if (c.prefer) headers['Prefer'] = c.prefer;
  if (c.json !== undefined || c.bytes) headers['Content-Type'] = c.contentType ?? 'application/json';
  return fetch(`${c.base ?? server.url}${path}`, {
    method: c.method ?? 'GET',
    headers,
    ...(c.json !== undefined && { body: JSON.stringify(c.json) }),
    ...(c.bytes && { body: c.bytes }),
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

/** `CLIENTS` concurrent clients, each issuing up to `requests` requests in sequence until the phase's deadline. */
async function load(
  what: string,
  request: (client: number, i: number) => Promise<{ ok: boolean; ms: number; error?: string }>,
  requests = REQUESTS,
): Promise<Stats> {
  const latencies: number[] = [];
  let errors = 0;
  let firstError: string | undefined;
  const deadline = Date.now() + PHASE_LIMIT_MS;
  const t0 = performance.now();
  await Promise.all(
    Array.from({ length: CLIENTS }, async (_, client) => {
      for (let i = 0; i < requests && Date.now() < deadline; i++) {
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
    server = await startWrangler({ persistTo, logLevel: WRANGLER_LOG });
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

// ---- d. Concord against the floor ----

/**
 * What the platform costs, measured beside Concord: `bench/floor/` is a Worker and Durable
 * Object with the same routes, names and regions that only commits the write in one SQLite
 * transaction, answers, and pushes it to the other two regions. Same clients, same keys'
 * shape, same load generator; floor and Concord alternate so that a drift of the machine
 * (other load, thermal) shows as a spread between rounds rather than as a bias of one side.
 */
const FLOOR_ROUNDS = num('BENCH_FLOOR_ROUNDS', 2);
/** Pause after each run: Concord's pushes and gossip of the last run must not overlap the next one. */
const SETTLE_MS = num('BENCH_SETTLE_MS', 2500);
const WARMUP_REQUESTS = Math.min(REQUESTS, 10);
const MINIMAL = 'return=minimal';
const YJS_TYPE = 'application/vnd.concord.yjs';

type WriteKind = 'automerge-patch' | 'yjs-crdt';
const WRITE_KINDS: readonly WriteKind[] = ['automerge-patch', 'yjs-crdt'];
const KIND_LABEL: Record<WriteKind, string> = {
  'automerge-patch': 'Automerge `PATCH` (merge patch)',
  'yjs-crdt': 'Yjs update, `POST …/crdt`',
};

interface Side {
  readonly name: 'floor' | 'concord';
  readonly url: () => string;
  readonly inspectorPort: () => number;
  /** Its wrangler's process group (wrangler, and the workerd processes that run the Worker and its proxy). */
  readonly pgid: () => number;
  /** The end of its wrangler's output, shown when a run had failures. */
  readonly output: () => string;
}

interface WriteRun {
  loaded: Stats;
  single: Stats;
  /** Every write of the run that succeeded: setup, loaded, single client. */
  writes: number;
}

interface FloorRound {
  floor: Measured;
  concord: Measured;
}

/** A run and the CPU its server spent on it. */
interface Measured extends WriteRun {
  /** CPU of the server's process group from the run's start to the end of the settle pause after it, per write of the run; NaN where /proc is missing. */
  cpuMsPerWrite: number;
}

/**
 * User + system CPU time (ms) of every process in group `pgid`, from /proc (Linux). Unlike
 * latency and throughput, it hardly depends on what else the machine runs, so it compares
 * floor and Concord even on a busy machine; the settle pause after a run counts too, as
 * replication that a write sets off (pushes, gossip) is part of its cost.
 */
function groupCpuMs(pgid: number): number {
  return groupUsage(pgid).cpuMs;
}

async function measuredRun(side: Side, kind: WriteKind, prefix: string): Promise<Measured> {
  const before = groupCpuMs(side.pgid());
  const run = await writeRun(side, kind, prefix);
  await settle();
  return { ...run, cpuMsPerWrite: (groupCpuMs(side.pgid()) - before) / run.writes };
}

/**
 * Yjs updates as editors make them: per client and document one `Y.Doc` whose text grows by
 * a few characters per write, the update being what that edit emitted. `out[client][i]`.
 * Made before the run, so generating them costs the measured window nothing.
 */
function yjsUpdates(keyOf: (client: number, i: number) => string, clients: number, requests: number): Uint8Array[][] {
  const docs = new Map<string, { doc: Y.Doc; last: Uint8Array }>();
  const out = Array.from({ length: clients }, (_, client) =>
    Array.from({ length: requests }, (_, i) => {
      const id = `${client}\u0000${keyOf(client, i)}`;
      let d = docs.get(id);
      if (!d) {
        const doc = new Y.Doc();
        const entry: { doc: Y.Doc; last: Uint8Array } = { doc, last: new Uint8Array(0) };
        doc.on('update', (u: Uint8Array) => {
          entry.last = u;
        });
        docs.set(id, (d = entry));
      }
      const text = d.doc.getText('text');
      text.insert(text.length, `c${client}:${i} `);
      return d.last;
    }),
  );
  for (const d of docs.values()) d.doc.destroy();
  return out;
}

function yjsSetupUpdate(): Uint8Array {
  const doc = new Y.Doc();
  doc.getMap('meta').set('by', 'setup');
  const u = Y.encodeStateAsUpdate(doc);
  doc.destroy();
  return u;
}

/**
 * One run of `kind` against `side`: documents created first (not measured), then `CLIENTS`
 * concurrent clients × `requests` eventual writes over the regions in rotation, then one
 * client alone × `SERIAL` writes. Writes ask for `Prefer: return=minimal`, as writers that do
 * not read the answer will: both sides then skip the body (a build of Concord without it
 * ignores the header and renders the document).
 */
async function writeRun(side: Side, kind: WriteKind, prefix: string, requests = REQUESTS): Promise<WriteRun> {
  const base = side.url();
  const keys = keysFor(prefix, KEYS);
  const at = (client: number, i: number): { key: string; region: string } => ({
    key: keys[(client * requests + i) % keys.length]!,
    region: REGIONS[(client + i) % REGIONS.length]!,
  });
  const setup = yjsSetupUpdate();
  await inBatches(keys, FILL_CONCURRENCY, async (key, j) => {
    const region = REGIONS[j % REGIONS.length]!;
    for (let attempt = 1; ; attempt++) {
      const res =
        kind === 'automerge-patch'
          ? await call(docPath(key), { base, method: 'PUT', region, json: { by: 'setup' } })
          : await call(`${docPath(key)}/crdt`, { base, method: 'POST', region, bytes: setup, contentType: YJS_TYPE });
      const body = await res.text();
      if (res.ok) return;
      // Setup writes are idempotent (the same document, the same Yjs update), so sending one again is safe.
      if (devProxyFailed(res.status, body) && attempt < 5) {
        log(`${side.name}: wrangler dev's proxy failed a setup write (503); ${key} sent again`);
        await new Promise((r) => setTimeout(r, 500));
        continue;
      }
      throw new Error(`${side.name}: setup of ${key} (${kind}) answered ${res.status} ${body}\n--- end of its wrangler output ---\n${side.output().slice(-3000)}`);
    }
  });
  const loadedUpdates = kind === 'yjs-crdt' ? yjsUpdates((c, i) => at(c, i).key, CLIENTS, requests) : [];
  const soloUpdates = kind === 'yjs-crdt' ? yjsUpdates((_, i) => keys[i % keys.length]!, 1, SERIAL)[0]! : [];
  const send = (key: string, region: string, tag: string, i: number, update: Uint8Array | undefined): ReturnType<typeof timed> =>
    kind === 'automerge-patch'
      ? timed(docPath(key), { base, method: 'PATCH', region, level: 'eventual', prefer: MINIMAL, json: { [tag]: i }, contentType: 'application/merge-patch+json' })
      : timed(`${docPath(key)}/crdt`, { base, method: 'POST', region, level: 'eventual', prefer: MINIMAL, bytes: update, contentType: YJS_TYPE });

  const loaded = await load(
    `${side.name} ${kind}`,
    async (client, i) => {
      const { key, region } = at(client, i);
      const { res, ms: t, body } = await send(key, region, `c${client}`, i, loadedUpdates[client]?.[i]);
      return { ok: res.ok, ms: t, error: `${res.status} ${body}` };
    },
    requests,
  );
  const solo: number[] = [];
  let errors = 0;
  const deadline = Date.now() + PHASE_LIMIT_MS;
  const t0 = performance.now();
  for (let i = 0; i < SERIAL && Date.now() < deadline; i++) {
    const { res, ms: t } = await send(keys[i % keys.length]!, REGIONS[i % REGIONS.length]!, 'solo', i, soloUpdates[i]);
    if (res.ok) solo.push(t);
    else errors++;
  }
  if (loaded.errors + errors > 0) log(`${side.name}: ${loaded.errors + errors} failed writes; end of its wrangler output:\n${side.output().slice(-2000)}`);
  return { loaded, single: stats(solo, errors, (performance.now() - t0) / 1000), writes: keys.length + loaded.n + solo.length };
}

/**
 * wrangler dev's proxy answers this 503 to a non-GET request whenever its own request to the
 * Worker fails (it compares a URL with a path to one without, so the "restarted" branch is
 * taken even when nothing restarted; wrangler 4.86, ProxyWorker.js). Seen only under heavy
 * load on a shared machine: the request may or may not have reached the Worker.
 */
const devProxyFailed = (status: number, body: string): boolean => status === 503 && body.startsWith('Your worker restarted mid-request');

const settle = (): Promise<void> => new Promise((r) => setTimeout(r, SETTLE_MS));

interface FloorFigures {
  kind: WriteKind;
  rounds: FloorRound[];
  /** One more run of each side under the CPU profiler (BENCH_PROFILE). */
  profiles: Profiled[];
}

interface Profiled {
  side: Side['name'];
  file: string;
  /** Time the isolate was not idle during the run, from the profile's samples. */
  busyMs: number;
  writes: number;
}

/** One more run of `kind` against `side` under the CPU profiler; not measured for latency. */
async function profiledRun(side: Side, kind: WriteKind): Promise<Profiled> {
  const file = `${PROFILE}${side.name}-${kind}.cpuprofile`;
  mkdirSync(dirname(resolve(file)), { recursive: true });
  log(`part d: profiling one more ${side.name} ${kind} run into ${file}`);
  const profiler = await CpuProfiler.connect(side.inspectorPort());
  try {
    await profiler.start();
    const run = await writeRun(side, kind, `dp-${side.name}-${kind}-`);
    const profile = await profiler.save(file);
    return { side: side.name, file, busyMs: busyMs(profile), writes: run.writes };
  } finally {
    profiler.close();
    await settle();
  }
}

/** With `BENCH_FLOOR_ROUNDS=0`, only the profiled runs (a missing floor skips its side). */
async function floorComparison(floor: Side | undefined, concord: Side): Promise<FloorFigures[]> {
  log(`part d: warm-up of floor and Concord (not measured, ${WARMUP_REQUESTS} requests per client)`);
  for (const kind of WRITE_KINDS) {
    for (const side of floor ? [floor, concord] : [concord]) await writeRun(side, kind, `dw-${side.name}-${kind}-`, WARMUP_REQUESTS);
  }
  await settle();
  const out: FloorFigures[] = [];
  for (const kind of WRITE_KINDS) {
    const rounds: FloorRound[] = [];
    for (let r = 1; floor && r <= FLOOR_ROUNDS; r++) {
      const f = await measuredRun(floor, kind, `d${r}-floor-${kind}-`);
      const c = await measuredRun(concord, kind, `d${r}-concord-${kind}-`);
      rounds.push({ floor: f, concord: c });
      const tput = (w: WriteRun): number => w.loaded.n / w.loaded.seconds;
      log(
        `part d: ${kind} round ${r}: floor ${Math.round(tput(f))}/s p50 ${ms(f.loaded.p50)} p99 ${ms(f.loaded.p99)} CPU ${ms(f.cpuMsPerWrite)} ms/write; ` +
          `Concord ${Math.round(tput(c))}/s p50 ${ms(c.loaded.p50)} p99 ${ms(c.loaded.p99)} CPU ${ms(c.cpuMsPerWrite)} ms/write`,
      );
    }
    const fig: FloorFigures = { kind, rounds, profiles: [] };
    if (PROFILE) {
      for (const side of floor ? [floor, concord] : [concord]) fig.profiles.push(await profiledRun(side, kind));
    }
    out.push(fig);
  }
  return out;
}

function profileTable(figs: readonly FloorFigures[]): string[] {
  const out: string[] = [];
  out.push(
    `One more run per side and write kind under the CPU profiler (same load; the profiler slows both): the Worker isolate's busy time ` +
      `(every sample but idle; the isolate runs the Worker and all Durable Objects of its \`wrangler dev\`; on a loaded machine it includes ` +
      `time the thread waited for a core) per successful write, setup writes included. ` +
      `Summarise a profile with \`npm run -s bench:profile-summary -- <file>\`.`,
  );
  out.push('');
  out.push('| write | floor busy ms / write | Concord busy ms / write | Concord ÷ floor | profiles (writes) |');
  out.push('| --- | --- | --- | --- | --- |');
  for (const fig of figs) {
    const per = (side: Side['name']): number => {
      const p = fig.profiles.find((x) => x.side === side);
      return p ? p.busyMs / p.writes : NaN;
    };
    out.push(
      `| ${KIND_LABEL[fig.kind]} | ${ms(per('floor'))} | ${ms(per('concord'))} | ${ratio2(per('concord'), per('floor'))} | ` +
        `${fig.profiles.map((p) => `\`${p.file}\` (${p.writes})`).join(', ')} |`,
    );
  }
  return out;
}

const ratio2 = (a: number, b: number): string => (Number.isFinite(a / b) ? `${(a / b).toFixed(2)}×` : 'n/a');
const span = (xs: number[], f: (v: number) => string): string => {
  const lo = Math.min(...xs);
  const hi = Math.max(...xs);
  return lo === hi ? f(lo) : `${f(lo)}–${f(hi)}`;
};

function floorTables(figs: readonly FloorFigures[]): string[] {
  const out: string[] = [];
  const tput = (s: Stats): number => (s.seconds > 0 ? s.n / s.seconds : NaN);
  const int = (v: number): string => (Number.isFinite(v) ? Math.round(v).toLocaleString('en-US') : 'n/a');
  const x2 = (v: number): string => (Number.isFinite(v) ? `${v.toFixed(2)}×` : 'n/a');
  out.push(
    `| ${CLIENTS} clients, eventual | run | floor writes/s | Concord writes/s | Concord ÷ floor (goal ≥ 0.8×) | floor p50 | Concord p50 | ÷ | floor p99 | Concord p99 | ÷ (goal ≤ 1.5×) | failed (floor, Concord) |`,
  );
  out.push('| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |');
  for (const fig of figs) {
    fig.rounds.forEach(({ floor: f, concord: c }, i) => {
      out.push(
        `| ${KIND_LABEL[fig.kind]} | ${i + 1} | ${int(tput(f.loaded))} | ${int(tput(c.loaded))} | ${ratio2(tput(c.loaded), tput(f.loaded))} | ` +
          `${ms(f.loaded.p50)} | ${ms(c.loaded.p50)} | ${ratio2(c.loaded.p50, f.loaded.p50)} | ` +
          `${ms(f.loaded.p99)} | ${ms(c.loaded.p99)} | ${ratio2(c.loaded.p99, f.loaded.p99)} | ${f.loaded.errors}, ${c.loaded.errors} |`,
      );
    });
    const R = fig.rounds;
    out.push(
      `| ${KIND_LABEL[fig.kind]} | range | ${span(R.map((r) => tput(r.floor.loaded)), int)} | ${span(R.map((r) => tput(r.concord.loaded)), int)} | ` +
        `${span(R.map((r) => tput(r.concord.loaded) / tput(r.floor.loaded)), x2)} | ` +
        `${span(R.map((r) => r.floor.loaded.p50), ms)} | ${span(R.map((r) => r.concord.loaded.p50), ms)} | ${span(R.map((r) => r.concord.loaded.p50 / r.floor.loaded.p50), x2)} | ` +
        `${span(R.map((r) => r.floor.loaded.p99), ms)} | ${span(R.map((r) => r.concord.loaded.p99), ms)} | ${span(R.map((r) => r.concord.loaded.p99 / r.floor.loaded.p99), x2)} | |`,
    );
  }
  out.push('');
  out.push('| 1 client, eventual | run | floor p50 | Concord p50 | ÷ | floor p99 | Concord p99 | ÷ |');
  out.push('| --- | --- | --- | --- | --- | --- | --- | --- |');
  for (const fig of figs) {
    fig.rounds.forEach(({ floor: f, concord: c }, i) => {
      out.push(
        `| ${KIND_LABEL[fig.kind]} | ${i + 1} | ${ms(f.single.p50)} | ${ms(c.single.p50)} | ${ratio2(c.single.p50, f.single.p50)} | ` +
          `${ms(f.single.p99)} | ${ms(c.single.p99)} | ${ratio2(c.single.p99, f.single.p99)} |`,
      );
    });
  }
  out.push('');
  out.push('| CPU of the server per write | run | floor ms | Concord ms | Concord ÷ floor |');
  out.push('| --- | --- | --- | --- | --- |');
  for (const fig of figs) {
    fig.rounds.forEach(({ floor: f, concord: c }, i) => {
      out.push(`| ${KIND_LABEL[fig.kind]} | ${i + 1} | ${ms(f.cpuMsPerWrite)} | ${ms(c.cpuMsPerWrite)} | ${ratio2(c.cpuMsPerWrite, f.cpuMsPerWrite)} |`);
    });
    const R = fig.rounds;
    out.push(
      `| ${KIND_LABEL[fig.kind]} | range | ${span(R.map((r) => r.floor.cpuMsPerWrite), ms)} | ${span(R.map((r) => r.concord.cpuMsPerWrite), ms)} | ` +
        `${span(R.map((r) => r.concord.cpuMsPerWrite / r.floor.cpuMsPerWrite), x2)} |`,
    );
  }
  return out;
}

const median = (xs: readonly number[]): number => percentile([...xs].sort((a, b) => a - b), 50);

// ---- main ----

function machine(): string {
  const cpus = os.cpus();
  const wrangler = (JSON.parse(readFileSync(join(ROOT, 'node_modules', 'wrangler', 'package.json'), 'utf8')) as { version: string }).version;
  return `${cpus[0]?.model.trim() ?? 'cpu'} × ${cpus.length}, ${Math.round(os.totalmem() / 2 ** 30)} GiB, ${os.type()} ${os.release()}, Node ${process.version}, wrangler ${wrangler}`;
}

/** Part a–c's tables (levels, replication lag, shard load). */
function levelTables(levels: LevelFigures[], lag: LagFigures | undefined, shardFig: LoadFigures | undefined): string[] {
  const byLevel = new Map(levels.map((l) => [l.level, l]));
  const ev = byLevel.get('eventual')!;
  const st = byLevel.get('strong')!;
  const out: string[] = [];
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
  return out;
}

/** The floor's topology from Concord's `wrangler.toml`, so both spread the keys over the same objects. */
function floorVars(): Record<string, string> {
  const vars: Record<string, string> = {};
  for (const name of ['REGIONS', 'PRIMARY_REGION', 'SHARDS']) {
    const v = tomlVar(name);
    if (v !== undefined) vars[name] = v;
  }
  return vars;
}

async function main(): Promise<void> {
  const started = performance.now();
  const loadBefore = os.loadavg();
  const persistTo = mkdtempSync(join(os.tmpdir(), 'concord-bench-'));
  let floor: WranglerDev | undefined;
  try {
    const withFloor = FLOOR_ROUNDS > 0 || PROFILE !== '';
    log(`starting wrangler dev${withFloor ? ' (Concord, and the floor from bench/floor/wrangler.toml)' : ''}`);
    [server, writeToken, adminToken, floor] = await Promise.all([
      startWrangler({ persistTo, logLevel: WRANGLER_LOG }),
      mintToken('--ns', `${NS}*`, '--scope', 'write'),
      mintToken('--scope', 'admin', '--ns', '*'),
      withFloor ? startWrangler({ config: FLOOR_CONFIG, vars: floorVars(), logLevel: WRANGLER_LOG }) : undefined,
    ]);
    const cluster = (await (await call('/v1/cluster', { token: adminToken })).json()) as { shards: number; regions: string[]; primary: string };
    SHARDS = cluster.shards;
    REGIONS = cluster.regions;
    if (floor) {
      const f = (await (await fetch(`${floor.url}/healthz`)).json()) as { shards: number; regions: string[] };
      if (f.shards !== SHARDS || f.regions.join() !== REGIONS.join()) {
        throw new Error(`the floor has ${f.shards} shards over ${f.regions.join()}, Concord ${SHARDS} over ${REGIONS.join()}`);
      }
    }
    if (SHARD_DOCS > 0 && !ONLY_FLOOR) {
      if (SHARDS < 3) throw new Error(`part c needs at least 3 shards, the server has ${SHARDS}`);
      reserved = { full: 0, empty: 1, warm: 2 };
    }
    log(`${REGIONS.length} regions (${REGIONS.join(', ')}), ${SHARDS} shards, leader region ${cluster.primary}`);

    const levels: LevelFigures[] = [];
    let lag: LagFigures | undefined;
    if (!ONLY_FLOOR) {
      // Unmeasured: JIT and connections warm, every member of the load shards started.
      log('warm-up (not measured)');
      await perLevel('eventual', 'warmup-');
      for (const level of LEVELS) levels.push(await perLevel(level));
      lag = LAG_WRITES > 0 ? await replicationLag() : undefined;
    }
    // Before part c, which restarts Concord on a shard of many documents.
    const floorFigs =
      floor || PROFILE
        ? await floorComparison(
            floor && { name: 'floor', url: () => floor!.url, inspectorPort: () => floor!.inspectorPort, pgid: () => floor!.pid, output: () => floor!.output() },
            { name: 'concord', url: () => server.url, inspectorPort: () => server.inspectorPort, pgid: () => server.pid, output: () => server.output() },
          )
        : undefined;
    const shardFig = SHARD_DOCS > 0 && !ONLY_FLOOR ? await shardLoad(persistTo) : undefined;

    const total = (performance.now() - started) / 1000;
    const loadAfter = os.loadavg();
    const out: string[] = [];
    out.push(`Concord edge bench (\`npm run bench:edge\`${ONLY_FLOOR ? ', `BENCH_ONLY=floor`' : ''}) — ${machine()}`);
    out.push('');
    out.push(
      `Load average (1 min) at the start ${loadBefore[0]!.toFixed(2)}, at the end ${loadAfter[0]!.toFixed(2)}, on ${os.cpus().length} cores; run took ${total.toFixed(0)} s.`,
    );
    if (!ONLY_FLOOR) {
      out.push('');
      out.push(
        `\`wrangler dev\` on 127.0.0.1, default config (${REGIONS.length} regions, ${SHARDS} shards, SQLite state on disk); ` +
          `${CLIENTS} concurrent clients × ${REQUESTS} requests per level and kind over ${KEYS} keys per level, regions in rotation ` +
          `(load generator and server share the machine's cores), then 1 client × ${SERIAL} writes and reads per level; ` +
          `writes alternate a merge PATCH and an ops POST (increment + set), reads go to another region than the write; ` +
          `latencies in ms, measured by the client.`,
      );
      out.push('');
      out.push(...levelTables(levels, lag, shardFig));
    }
    if (floorFigs?.some((f) => f.rounds.length > 0)) {
      out.push('');
      out.push(
        `Concord against the floor (\`bench/floor/\`: a Durable Object per shard and region that commits the write in one SQLite ` +
          `transaction, answers and pushes it to the other regions, no CRDT, auth or log), both in their own \`wrangler dev\` on this machine, ` +
          `alternated floor, Concord × ${FLOOR_ROUNDS}; each run: ${CLIENTS} concurrent clients × ${REQUESTS} eventual writes over ${KEYS} new documents, ` +
          `regions in rotation, \`Prefer: return=minimal\`, then 1 client × ${SERIAL} writes. Latencies in ms, measured by the client. ` +
          `CPU: user + system time of the server's whole process group (wrangler, workerd) from the start of a run to the end of the ` +
          `${SETTLE_MS} ms pause after it (so replication the writes set off counts), per write of the run (setup writes included); ` +
          `it depends far less on other load than latency does.`,
      );
      out.push('');
      out.push(...floorTables(floorFigs));
    }
    if (floorFigs?.some((f) => f.profiles.length > 0)) {
      out.push('');
      out.push(...profileTable(floorFigs));
    }
    process.stdout.write(`${out.join('\n')}\n`);
  } finally {
    await Promise.all([server?.stop(), floor?.stop()]);
    rmSync(persistTo, { recursive: true, force: true, maxRetries: 5, retryDelay: 100 });
  }
}

await main();
