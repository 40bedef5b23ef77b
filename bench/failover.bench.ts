/**
 * `npm run bench:failover` (also the second half of `npm run bench:edge`): leader failover
 * figures (issue 9) on the real `wrangler dev`, measured over HTTP from this process on
 * 127.0.0.1. Prints Markdown with the machine it ran on and writes the same to
 * bench/FAILOVER.md; never a pass/fail test, but a try that does not recover within six
 * leases stops the bench with a message saying where.
 *
 * Runs on `--env test` (the only environment with `POST/DELETE /v1/_test/faults`, the
 * member-to-member partition), with `LEASE_MS` and `MAX_CLOCK_DRIFT_MS` overridden by the
 * values of wrangler.toml's top-level `[vars]` (the production defaults), and once more with
 * the test environment's own short lease. Per try, on one probe key:
 *
 * 1. Waits (polling `GET /v1/cluster`, bounded) until `PRIMARY_REGION` leads every shard.
 * 2. "before": `BENCH_FAILOVER_WRITES` sequential strong writes at the first other region.
 * 3. Cuts `PRIMARY_REGION` off (`{"partitions":[["wnam"],["weur","apac"]]}`); from the 204
 *    of that request, strong writes at the same region in a loop (a new value each;
 *    `BENCH_FAILOVER_PAUSE_MS` after each failed one) until one answers 2xx: the failover
 *    time. Then `BENCH_FAILOVER_WRITES` more successful ones: "during".
 * 4. Heals, waits until `PRIMARY_REGION` leads the probe's shard again at a later epoch (the
 *    handback time), then `BENCH_FAILOVER_WRITES` strong writes: "after".
 *
 * Then the restart of the whole deployment (production lease only): one strong write to
 * each of `BENCH_RESTART_SHARDS` keys on different shards, all leaders back at
 * `PRIMARY_REGION`, `wrangler dev` stopped and started again on the same state; from the
 * moment it is ready (`GET /healthz` 200), the same strong writes, concurrently, each sent
 * again after a failure until one answers 2xx; the time to that answer, per shard.
 * `BENCH_RESTARTS` times.
 *
 * Sizes (environment variables): BENCH_FAILOVER_TRIES (10), BENCH_FAILOVER_SHORT_TRIES
 * (tries at the test environment's lease; 10, 0 skips them), BENCH_FAILOVER_WRITES (20),
 * BENCH_FAILOVER_PAUSE_MS (25), BENCH_RESTARTS (3; 0 skips), BENCH_RESTART_SHARDS (4),
 * BENCH_WRANGLER_LOG (warn), BENCH_FAILOVER_OUT (bench/FAILOVER.md; empty: print only).
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { join, resolve } from 'node:path';
import { shard } from '../src/core/routing.js';
import { type LogLevel, mintToken, ROOT, startWrangler, type WranglerDev } from '../test/e2e/wrangler.js';

const num = (name: string, fallback: number): number => {
  const v = Number(process.env[name] ?? fallback);
  if (!Number.isFinite(v) || v < 0) throw new Error(`${name} must be a non-negative number`);
  return Math.floor(v);
};

const TRIES = Math.max(1, num('BENCH_FAILOVER_TRIES', 10));
const SHORT_TRIES = num('BENCH_FAILOVER_SHORT_TRIES', 10);
const WRITES = Math.max(1, num('BENCH_FAILOVER_WRITES', 20));
/** Pause after a failed write while waiting for a leader: the resolution of the failover time, and what keeps the loop from saturating the cores. */
const PAUSE_MS = num('BENCH_FAILOVER_PAUSE_MS', 25);
const RESTARTS = num('BENCH_RESTARTS', 3);
const RESTART_SHARDS = Math.max(1, num('BENCH_RESTART_SHARDS', 4));
const WRANGLER_LOG = (process.env['BENCH_WRANGLER_LOG'] ?? 'warn') as LogLevel;
const OUT = process.env['BENCH_FAILOVER_OUT'] ?? 'bench/FAILOVER.md';
/** Every wait for an outcome is bounded by this many leases. */
const BOUND_LEASES = 6;
const CLUSTER_POLL_MS = 200;
const NS = 'failover-bench';

const log = (msg: string): void => {
  process.stderr.write(`[bench:failover] ${msg}\n`);
};
const delay = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

// ---- figures ----

function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return NaN;
  const rank = Math.ceil((p / 100) * sorted.length);
  return sorted[Math.min(sorted.length - 1, Math.max(0, rank - 1))]!;
}
const sortedOf = (xs: readonly number[]): number[] => [...xs].sort((a, b) => a - b);
const median = (xs: readonly number[]): number => percentile(sortedOf(xs), 50);
const max = (xs: readonly number[]): number => (xs.length ? Math.max(...xs) : NaN);
const ms = (v: number): string => (Number.isFinite(v) ? (v >= 100 ? v.toFixed(0) : v.toFixed(1)) : 'n/a');

/** wrangler.toml's top-level `[vars]` value of `name` (the production defaults). */
function tomlVar(name: string): string | undefined {
  const toml = readFileSync(join(ROOT, 'wrangler.toml'), 'utf8');
  const top = toml.split(/^\[env\./m)[0]!;
  return new RegExp(`^${name}\\s*=\\s*"([^"]*)"`, 'm').exec(top)?.[1];
}

/** Same as the `[env.test.vars]` value of `name`. */
function tomlTestVar(name: string): string | undefined {
  const toml = readFileSync(join(ROOT, 'wrangler.toml'), 'utf8');
  const test = toml.split(/^\[env\.test\.vars\]/m)[1]?.split(/^\[/m)[0] ?? '';
  return new RegExp(`^${name}\\s*=\\s*"([^"]*)"`, 'm').exec(test)?.[1];
}

function machine(): string {
  const cpus = os.cpus();
  const wrangler = (JSON.parse(readFileSync(join(ROOT, 'node_modules', 'wrangler', 'package.json'), 'utf8')) as { version: string }).version;
  return `${cpus[0]?.model.trim() ?? 'cpu'} × ${cpus.length}, ${Math.round(os.totalmem() / 2 ** 30)} GiB, ${os.type()} ${os.release()}, Node ${process.version}, wrangler ${wrangler}`;
}

/** The commit the server ran, and whether src/ or wrangler.toml differed from it. */
function build(): string {
  try {
    const head = execFileSync('git', ['rev-parse', '--short', 'HEAD'], { cwd: ROOT, encoding: 'utf8' }).trim();
    const dirty = execFileSync('git', ['status', '--porcelain', '--', 'src', 'wrangler.toml'], { cwd: ROOT, encoding: 'utf8' })
      .split('\n')
      .filter(Boolean)
      .map((l) => l.slice(3));
    return dirty.length ? `commit ${head} with uncommitted changes in ${dirty.join(', ')}` : `commit ${head}`;
  } catch {
    return 'unknown commit';
  }
}

/**
 * The newest modification time under src/ and of wrangler.toml: `wrangler dev` rebuilds and
 * restarts the Worker when they change, so a run during which it moved mixed two builds.
 */
function sourcesMtime(): number {
  let newest = statSync(join(ROOT, 'wrangler.toml')).mtimeMs;
  for (const f of readdirSync(join(ROOT, 'src'), { recursive: true, encoding: 'utf8' })) {
    newest = Math.max(newest, statSync(join(ROOT, 'src', f)).mtimeMs);
  }
  return newest;
}

// ---- HTTP ----

interface Answer {
  /** 0 when the request itself failed (no HTTP answer). */
  status: number;
  ms: number;
  body: string;
}

const ok = (a: Answer): boolean => a.status >= 200 && a.status < 300;
/** `503 unavailable`, or the request's error. */
const label = (a: Answer): string => (a.status === 0 ? `no answer (${a.body})` : `${a.status} ${/problems\/([a-z-]+)/.exec(a.body)?.[1] ?? ''}`.trim());

interface Call {
  method?: string;
  region?: string;
  strong?: boolean;
  json?: unknown;
  token: string;
  timeoutMs: number;
}

/** One request, timed until its body is read; a failed request is an answer with status 0. */
async function call(base: string, path: string, c: Call): Promise<Answer> {
  const headers: Record<string, string> = { Authorization: `Bearer ${c.token}` };
  if (c.region) headers['Concord-Region'] = c.region;
  if (c.strong) headers['Consistency'] = 'strong';
  if (c.json !== undefined) headers['Content-Type'] = 'application/json';
  const t = performance.now();
  try {
    const res = await fetch(`${base}${path}`, {
      method: c.method ?? 'GET',
      headers,
      ...(c.json !== undefined && { body: JSON.stringify(c.json) }),
      signal: AbortSignal.timeout(c.timeoutMs),
    });
    const body = await res.text();
    return { status: res.status, ms: performance.now() - t, body };
  } catch (e) {
    return { status: 0, ms: performance.now() - t, body: (e as Error).message };
  }
}

const docPath = (key: string): string => `/v1/${NS}/docs/${encodeURIComponent(key)}`;

interface LeaderRow {
  shard: number;
  region: string;
  epoch: number;
  leaseExpiresAt: number | null;
}

interface ClusterView {
  regions: string[];
  primary: string;
  shards: number;
  leaders: LeaderRow[];
}

/** A `wrangler dev --env test` with a given lease, and what the bench needs to talk to it. */
class Deployment {
  dev: WranglerDev | undefined;
  regions: string[] = [];
  primary = '';
  shards = 0;

  constructor(
    readonly leaseMs: number,
    readonly driftMs: number,
    readonly persistTo: string,
    readonly writeToken: string,
    readonly adminToken: string,
  ) {}

  get bound(): number {
    return BOUND_LEASES * this.leaseMs;
  }

  /** Per request: a strong operation may wait twice the lease for a leader; some slack beyond. */
  get requestTimeout(): number {
    return Math.max(30_000, 3 * this.leaseMs);
  }

  /** The region the bench writes at: the first one that is not the leader's, on the majority side of the cut. */
  get writeRegion(): string {
    return this.regions.find((r) => r !== this.primary)!;
  }

  /** Starts wrangler dev on the state directory; resolves when `GET /healthz` answers 200. */
  async start(): Promise<number> {
    const t = performance.now();
    this.dev = await startWrangler({
      env: 'test',
      persistTo: this.persistTo,
      logLevel: WRANGLER_LOG,
      vars: { LEASE_MS: String(this.leaseMs), MAX_CLOCK_DRIFT_MS: String(this.driftMs), FAILOVER: 'on' },
    });
    return performance.now() - t;
  }

  async stop(): Promise<void> {
    await this.dev?.stop();
    this.dev = undefined;
  }

  get url(): string {
    if (!this.dev) throw new Error('wrangler dev is not running');
    return this.dev.url;
  }

  write(key: string, value: unknown): Promise<Answer> {
    return call(this.url, docPath(key), { method: 'PUT', region: this.writeRegion, strong: true, json: value, token: this.writeToken, timeoutMs: this.requestTimeout });
  }

  async faults(cfg: unknown | null): Promise<Answer> {
    const a = await call(this.url, '/v1/_test/faults', {
      method: cfg === null ? 'DELETE' : 'POST',
      ...(cfg !== null && { json: cfg }),
      token: this.adminToken,
      timeoutMs: 30_000,
    });
    if (a.status !== 204) throw new Error(`${cfg === null ? 'DELETE' : 'POST'} /v1/_test/faults answered ${label(a)}: ${a.body}`);
    return a;
  }

  async cluster(): Promise<ClusterView> {
    const a = await call(this.url, '/v1/cluster', { token: this.adminToken, timeoutMs: 30_000 });
    if (a.status !== 200) throw new Error(`GET /v1/cluster answered ${label(a)}: ${a.body}`);
    return JSON.parse(a.body) as ClusterView;
  }

  /** Polls `/v1/cluster` until `cond` holds (bounded by six leases); the time it took and the view that satisfied it. */
  async waitLeaders(what: string, cond: (leaders: LeaderRow[]) => boolean): Promise<{ ms: number; view: ClusterView }> {
    const t0 = performance.now();
    let last = 'no answer yet';
    while (performance.now() - t0 < this.bound) {
      try {
        const view = await this.cluster();
        if (cond(view.leaders)) return { ms: performance.now() - t0, view };
        last = JSON.stringify(view.leaders.map((l) => `${l.shard}:${l.region}@${l.epoch}`));
      } catch (e) {
        last = (e as Error).message;
      }
      await delay(CLUSTER_POLL_MS);
    }
    throw new Error(`${what}: not within ${BOUND_LEASES} leases (${this.bound} ms); last leaders (shard:region@epoch): ${last}`);
  }

  allAtPrimary = (leaders: LeaderRow[]): boolean =>
    leaders.length === this.shards && leaders.every((l) => l.region === this.primary);

  /** `count` keys of `prefix`, one per shard from 0 on. */
  keysOnShards(prefix: string, count: number): string[] {
    const out: string[] = [];
    for (let s = 0; s < Math.min(count, this.shards); s++) {
      for (let i = 0; ; i++) {
        const key = `${prefix}${i}`;
        if (shard(NS, key, this.shards) === s) {
          out.push(key);
          break;
        }
      }
    }
    return out;
  }
}

/** `n` successful sequential strong writes; failures are counted and sent again, all within six leases. */
async function serial(d: Deployment, what: string, key: string, n: number, value: (i: number) => unknown): Promise<{ ms: number[]; failed: string[] }> {
  const out: number[] = [];
  const failed: string[] = [];
  const t0 = performance.now();
  for (let i = 0; out.length < n; i++) {
    if (performance.now() - t0 > d.bound) {
      throw new Error(`${what}: ${out.length} of ${n} strong writes succeeded within ${BOUND_LEASES} leases (${d.bound} ms); failures: ${failed.join(', ')}`);
    }
    const a = await d.write(key, value(i));
    if (ok(a)) out.push(a.ms);
    else {
      failed.push(label(a));
      await delay(PAUSE_MS);
    }
  }
  return { ms: out, failed };
}

const tally = (labels: readonly string[]): string => {
  const m = new Map<string, number>();
  for (const l of labels) m.set(l, (m.get(l) ?? 0) + 1);
  return [...m].map(([l, n]) => `${n}× ${l}`).join(', ');
};

// ---- failover tries ----

interface Try {
  before: number[];
  during: number[];
  after: number[];
  /** From the cut's 204 to the first 2xx strong write at the majority side. */
  failoverMs: number;
  /** Answers before that first 2xx. */
  refused: string[];
  /** How long the successful request itself took (a write that waited for the election shows here). */
  firstLatency: number;
  /** Failed writes after the first success (during), and before and after. */
  failedDuring: string[];
  failedBefore: string[];
  failedAfter: string[];
  /** The probe shard's leader during the cut, and how many epochs the election took. */
  duringLeader: string;
  rounds: number;
  /** From the heal's 204 until `/v1/cluster` shows PRIMARY_REGION leading the probe shard at a later epoch. */
  handbackMs: number;
  cutMs: number;
}

async function failoverTry(d: Deployment, t: number, key: string): Promise<Try> {
  const s = shard(NS, key, d.shards);
  const others = d.regions.filter((r) => r !== d.primary);
  const ready = await d.waitLeaders(`try ${t}: ${d.primary} leading every shard before the cut`, d.allAtPrimary);
  const beforeEpoch = ready.view.leaders.find((l) => l.shard === s)!.epoch;
  const before = await serial(d, `try ${t} before the cut`, key, WRITES, (i) => ({ t, phase: 'before', i }));

  const cut = await d.faults({ partitions: [[d.primary], others] });
  const t0 = performance.now();
  let healed = false;
  try {
    const refused: string[] = [];
    let first: Answer | undefined;
    for (let i = 0; !first; i++) {
      const a = await d.write(key, { t, phase: 'cut', i });
      if (ok(a)) first = a;
      else {
        refused.push(label(a));
        if (performance.now() - t0 > d.bound) {
          throw new Error(
            `try ${t}: no strong write at ${d.writeRegion} succeeded within ${BOUND_LEASES} leases (${d.bound} ms) of cutting ${d.primary} off; answers: ${tally(refused)}`,
          );
        }
        await delay(PAUSE_MS);
      }
    }
    const failoverMs = performance.now() - t0;
    const during = await serial(d, `try ${t} during the cut`, key, WRITES, (i) => ({ t, phase: 'during', i }));
    const view = await d.cluster();
    const row = view.leaders.find((l) => l.shard === s);
    if (!row || row.region === d.primary) throw new Error(`try ${t}: strong writes succeed during the cut, but /v1/cluster shows shard ${s} led by ${row?.region ?? 'nobody'}`);

    await d.faults(null);
    healed = true;
    const back = await d.waitLeaders(`try ${t}: leadership of shard ${s} back at ${d.primary} after the heal`, (ls) =>
      ls.some((l) => l.shard === s && l.region === d.primary && l.epoch > row.epoch),
    );
    const after = await serial(d, `try ${t} after the heal`, key, WRITES, (i) => ({ t, phase: 'after', i }));
    const r: Try = {
      before: before.ms,
      during: during.ms,
      after: after.ms,
      failoverMs,
      refused,
      firstLatency: first.ms,
      failedBefore: before.failed,
      failedDuring: during.failed,
      failedAfter: after.failed,
      duringLeader: `${row.region}@${row.epoch}`,
      rounds: row.epoch - beforeEpoch,
      handbackMs: back.ms,
      cutMs: cut.ms,
    };
    log(
      `try ${t}: first strong write ${ms(failoverMs)} ms after the cut (${refused.length} refused: ${tally(refused) || 'none'}; ` +
        `that write took ${ms(first.ms)} ms), leader ${r.duringLeader} (+${r.rounds} epochs), handback ${ms(back.ms)} ms; ` +
        `failed before/during/after: ${before.failed.length}/${during.failed.length}/${after.failed.length}`,
    );
    return r;
  } finally {
    if (!healed) await d.faults(null).catch((e: Error) => log(`heal failed: ${e.message}`));
  }
}

async function failoverRun(d: Deployment, tries: number): Promise<Try[]> {
  const key = 'probe';
  // The document exists and every shard has a leader (/v1/cluster starts every member).
  const setup = await serial(d, 'setup', key, 1, () => ({ setup: true }));
  if (setup.failed.length) log(`setup: ${tally(setup.failed)}`);
  await d.waitLeaders(`${d.primary} leading every shard at the start`, d.allAtPrimary);
  await checkLease(d);
  const out: Try[] = [];
  for (let t = 1; t <= tries; t++) out.push(await failoverTry(d, t, key));
  return out;
}

/**
 * The `--var` overrides took: a leader's lease runs `LEASE_MS - MAX_CLOCK_DRIFT_MS` from a
 * heartbeat round sent every quarter lease, so what remains of it lies in that window.
 */
async function checkLease(d: Deployment): Promise<void> {
  const view = await d.cluster();
  const now = Date.now();
  const left = max(view.leaders.map((l) => (l.leaseExpiresAt ?? now) - now));
  const hi = d.leaseMs - d.driftMs + 100;
  const lo = 0.5 * d.leaseMs - d.driftMs;
  if (!(left > lo && left <= hi)) {
    throw new Error(`the leaders' leases have ${ms(left)} ms left, outside (${ms(lo)}, ${ms(hi)}] for LEASE_MS ${d.leaseMs}: did the --var overrides take?`);
  }
  log(`lease check: ${ms(left)} ms left of the longest lease (LEASE_MS ${d.leaseMs}, MAX_CLOCK_DRIFT_MS ${d.driftMs})`);
}

// ---- restart of the whole deployment ----

interface Restart {
  readyMs: number;
  /** Per key (shard order): ready → first 2xx strong write. */
  firstMs: number[];
  /** Per key: failed attempts before it, and the successful request's own latency. */
  refused: string[][];
  lastLatency: number[];
  leaders: string;
  handbackMs: number;
}

async function restarts(d: Deployment): Promise<{ keys: string[]; runs: Restart[] }> {
  const keys = d.keysOnShards('restart-', RESTART_SHARDS);
  for (const key of keys) await serial(d, `restart setup ${key}`, key, 1, () => ({ setup: true }));
  const runs: Restart[] = [];
  for (let r = 1; r <= RESTARTS; r++) {
    await d.waitLeaders(`restart ${r}: ${d.primary} leading every shard before the stop`, d.allAtPrimary);
    await d.stop();
    const readyMs = await d.start();
    const tReady = performance.now();
    const per = await Promise.all(
      keys.map(async (key, k) => {
        const refused: string[] = [];
        for (let i = 0; ; i++) {
          const a = await d.write(key, { restart: r, i });
          if (ok(a)) return { firstMs: performance.now() - tReady, refused, latency: a.ms };
          refused.push(label(a));
          if (performance.now() - tReady > d.bound) {
            throw new Error(`restart ${r}: no strong write to ${key} (shard ${k}) succeeded within ${BOUND_LEASES} leases (${d.bound} ms) of the server being ready; answers: ${tally(refused)}`);
          }
          await delay(PAUSE_MS);
        }
      }),
    );
    const view = await d.cluster();
    const leaders = view.leaders.map((l) => `${l.shard}:${l.region}@${l.epoch}`).join(' ');
    const back = await d.waitLeaders(`restart ${r}: ${d.primary} leading every shard again`, d.allAtPrimary);
    const run: Restart = {
      readyMs,
      firstMs: per.map((p) => p.firstMs),
      refused: per.map((p) => p.refused),
      lastLatency: per.map((p) => p.latency),
      leaders,
      handbackMs: back.ms,
    };
    log(
      `restart ${r}: ready in ${ms(readyMs)} ms; first strong write per shard ${run.firstMs.map(ms).join(', ')} ms ` +
        `(refused before: ${run.refused.map((x) => x.length).join(', ')}); leaders then ${leaders}; all at ${d.primary} ${ms(back.ms)} ms later`,
    );
    runs.push(run);
  }
  return { keys, runs };
}

// ---- output ----

function failoverTables(d: Deployment, tries: Try[]): string[] {
  const out: string[] = [];
  const all = (f: (t: Try) => number[]): number[] => tries.flatMap(f);
  const failed = (f: (t: Try) => string[]): string => {
    const xs = tries.flatMap(f);
    return xs.length ? `${xs.length} (${tally(xs)})` : '0';
  };
  const row = (name: string, xs: number[], fails: string): string => {
    const s = sortedOf(xs);
    return `| ${name} | ${s.length} | ${ms(percentile(s, 50))} | ${ms(percentile(s, 99))} | ${ms(s[s.length - 1] ?? NaN)} | ${fails} |`;
  };
  out.push(`| strong write at ${d.writeRegion} (ms, ${tries.length} tries × ${WRITES}) | writes | p50 | p99 | max | failed |`);
  out.push('| --- | --- | --- | --- | --- | --- |');
  out.push(row(`before: ${d.primary} leads`, all((t) => t.before), failed((t) => t.failedBefore)));
  out.push(row(`during: ${d.primary} cut off, a leader on the majority side`, all((t) => t.during), failed((t) => t.failedDuring)));
  out.push(row(`after: healed, ${d.primary} leads again`, all((t) => t.after), failed((t) => t.failedAfter)));
  out.push('');
  const fo = tries.map((t) => t.failoverMs);
  const hb = tries.map((t) => t.handbackMs);
  const L = d.leaseMs;
  out.push(`| figure (ms; L = ${L}) | median | max | each try |`);
  out.push('| --- | --- | --- | --- |');
  out.push(
    `| cut → first successful strong write at ${d.writeRegion} | ${ms(median(fo))} (${(median(fo) / L).toFixed(2)} L) | ${ms(max(fo))} (${(max(fo) / L).toFixed(2)} L) | ${fo.map(ms).join(', ')} |`,
  );
  out.push(
    `| heal → leadership back at ${d.primary} (\`/v1/cluster\`, polled every ${CLUSTER_POLL_MS} ms) | ${ms(median(hb))} (${(median(hb) / L).toFixed(2)} L) | ${ms(max(hb))} (${(max(hb) / L).toFixed(2)} L) | ${hb.map(ms).join(', ')} |`,
  );
  out.push('');
  out.push('| try | cut → first 2xx | refused before it | that write took | leader during (region@epoch, epochs added) | heal → back at ' + d.primary + ' |');
  out.push('| --- | --- | --- | --- | --- | --- |');
  tries.forEach((t, i) => {
    out.push(
      `| ${i + 1} | ${ms(t.failoverMs)} | ${t.refused.length ? tally(t.refused) : 'none'} | ${ms(t.firstLatency)} | ${t.duringLeader}, +${t.rounds} | ${ms(t.handbackMs)} |`,
    );
  });
  return out;
}

function restartTables(d: Deployment, keys: string[], runs: Restart[]): string[] {
  const out: string[] = [];
  const shards = keys.map((k) => shard(NS, k, d.shards));
  out.push(`| restart | \`wrangler dev\` start → ready | ${shards.map((s) => `shard ${s}`).join(' | ')} | refused before the 2xx | leaders after (shard:region@epoch) | → all at ${d.primary} again |`);
  out.push(`| --- | --- | ${shards.map(() => '---').join(' | ')} | --- | --- | --- |`);
  runs.forEach((r, i) => {
    const refused = r.refused.flat();
    out.push(
      `| ${i + 1} | ${ms(r.readyMs)} | ${r.firstMs.map((v, k) => `${ms(v)} (request ${ms(r.lastLatency[k]!)})`).join(' | ')} | ${refused.length ? tally(refused) : 'none'} | ${r.leaders} | ${ms(r.handbackMs)} |`,
    );
  });
  const first = runs.flatMap((r) => r.firstMs);
  out.push('');
  out.push(`| figure (ms; L = ${d.leaseMs}) | median | max | values |`);
  out.push('| --- | --- | --- | --- |');
  out.push(
    `| ready → first 2xx strong write, per shard (${keys.length} shards × ${runs.length} restarts) | ${ms(median(first))} (${(median(first) / d.leaseMs).toFixed(2)} L) | ${ms(max(first))} (${(max(first) / d.leaseMs).toFixed(2)} L) | ${first.map(ms).join(', ')} |`,
  );
  return out;
}

// ---- main ----

async function main(): Promise<void> {
  const started = performance.now();
  const loadBefore = os.loadavg();
  const leaseMs = Number(tomlVar('LEASE_MS') ?? 10_000);
  const driftMs = Number(tomlVar('MAX_CLOCK_DRIFT_MS') ?? 1000);
  const shortLease = Number(tomlTestVar('LEASE_MS') ?? 1500);
  const shortDrift = Number(tomlTestVar('MAX_CLOCK_DRIFT_MS') ?? 150);
  const built = build();
  const mtime0 = sourcesMtime();
  const [writeToken, adminToken] = await Promise.all([mintToken('--ns', `${NS}*`, '--scope', 'write'), mintToken('--scope', 'admin', '--ns', '*')]);
  const dirs: string[] = [];
  const deployments: Deployment[] = [];
  const open = async (lease: number, drift: number): Promise<Deployment> => {
    const dir = mkdtempSync(join(os.tmpdir(), 'concord-failover-'));
    dirs.push(dir);
    const d = new Deployment(lease, drift, dir, writeToken, adminToken);
    deployments.push(d);
    log(`starting wrangler dev --env test with LEASE_MS ${lease}, MAX_CLOCK_DRIFT_MS ${drift}`);
    await d.start();
    const view = await d.cluster();
    Object.assign(d, { regions: view.regions, primary: view.primary, shards: view.shards });
    if (d.regions.length < 3) throw new Error(`failover needs at least 3 regions, the server has ${d.regions.join(', ')}`);
    log(`${d.regions.length} regions (${d.regions.join(', ')}), ${d.shards} shards, primary ${d.primary}; writes at ${d.writeRegion}`);
    return d;
  };
  try {
    let short: { d: Deployment; tries: Try[] } | undefined;
    if (SHORT_TRIES > 0) {
      const d = await open(shortLease, shortDrift);
      short = { d, tries: await failoverRun(d, SHORT_TRIES) };
      await d.stop();
    }
    const d = await open(leaseMs, driftMs);
    const tries = await failoverRun(d, TRIES);
    const rs = RESTARTS > 0 ? await restarts(d) : undefined;
    await d.stop();

    const total = (performance.now() - started) / 1000;
    const loadAfter = os.loadavg();
    const cutMs = sortedOf([...tries, ...(short?.tries ?? [])].map((t) => t.cutMs));
    const out: string[] = [];
    out.push('# Leader failover (`npm run bench:failover`, the second half of `npm run bench:edge`)');
    out.push('');
    out.push(
      `What issue 9 asks for, measured on the real \`wrangler dev --env test\` (the only environment with the fault routes: ` +
        `${d.regions.length} regions, ${d.shards} shards, one \`wrangler dev\` on 127.0.0.1, the bench's client in the same machine) with ` +
        `\`LEASE_MS\` and \`MAX_CLOCK_DRIFT_MS\` set to the production defaults of \`wrangler.toml\` (${leaseMs} ms and ${driftMs} ms, by \`--var\`), ` +
        `and once more at the test environment's own ${shortLease} ms and ${shortDrift} ms. ` +
        `Each try: wait (polling \`GET /v1/cluster\`) until ${d.primary} leads every shard; ${WRITES} sequential strong \`PUT\`s of one document at ${d.writeRegion} ("before"); ` +
        `cut ${d.primary} off from the others (\`POST /v1/_test/faults\` \`{"partitions":[["${d.primary}"],${JSON.stringify(d.regions.filter((r) => r !== d.primary))}]}\`, ` +
        `which cuts every member-to-member message between the groups, on every shard); from its 204, strong \`PUT\`s at ${d.writeRegion} in a loop, ` +
        `a new value each, ${PAUSE_MS} ms after each refused one, until one answers 2xx (the failover time), then ${WRITES} more successful ones ("during"); ` +
        `heal (\`DELETE /v1/_test/faults\`), poll \`/v1/cluster\` until ${d.primary} leads the document's shard again at a later epoch (the handback time), ` +
        `and ${WRITES} strong \`PUT\`s ("after"). The first successful write of the cut is in the failover time, not in "during". ` +
        `Then the restart of the whole deployment, at the production lease: one strong write to each of ${rs?.keys.length ?? 0} documents on different shards, ` +
        `${d.primary} leading every shard, \`wrangler dev\` stopped and started again on the same state directory; from the moment it answers ` +
        `\`GET /healthz\` 200, the same strong writes at ${d.writeRegion}, concurrently, each sent again after a refusal until it answers 2xx; ` +
        `the time to that answer per shard, and ${RESTARTS} restarts. Every wait is bounded by ${BOUND_LEASES} leases. Latencies in ms, measured by the client.`,
    );
    out.push('');
    const changed = sourcesMtime() !== mtime0;
    if (changed) log('src/ or wrangler.toml changed during the run: wrangler dev rebuilt the Worker meanwhile, so the figures mix builds');
    out.push(
      `Machine: ${machine()}. Server: ${built}` +
        (changed ? '; **src/ or wrangler.toml changed during the run, so `wrangler dev` reloaded the Worker meanwhile: the figures mix builds**.' : ', unchanged during the run.'),
    );
    out.push('');
    out.push(
      `Load average (1 min) at the start ${loadBefore[0]!.toFixed(2)}, at the end ${loadAfter[0]!.toFixed(2)}, on ${os.cpus().length} cores; run took ${total.toFixed(0)} s. ` +
        `The cut and heal requests themselves took p50 ${ms(percentile(cutMs, 50))} ms (the failover time runs from the cut's answer).`,
    );
    out.push('');
    out.push(`## Production lease: \`LEASE_MS\` ${leaseMs}, \`MAX_CLOCK_DRIFT_MS\` ${driftMs}, ${tries.length} tries`);
    out.push('');
    out.push(...failoverTables(d, tries));
    if (rs) {
      out.push('');
      out.push(`## First strong write after a restart of the whole deployment (\`LEASE_MS\` ${leaseMs})`);
      out.push('');
      out.push(
        `Per shard: from \`wrangler dev\` being ready to the 2xx of the first strong write (the 2xx request's own time in brackets: ` +
          `a write that finds no leader waits for the election rather than failing).`,
      );
      out.push('');
      out.push(...restartTables(d, rs.keys, rs.runs));
    }
    if (short) {
      out.push('');
      out.push(`## Test environment's lease: \`LEASE_MS\` ${shortLease}, \`MAX_CLOCK_DRIFT_MS\` ${shortDrift}, ${short.tries.length} tries`);
      out.push('');
      out.push(...failoverTables(short.d, short.tries));
    }
    const text = `${out.join('\n')}\n`;
    process.stdout.write(text);
    if (OUT) {
      writeFileSync(resolve(ROOT, OUT), text);
      log(`written to ${OUT}`);
    }
  } finally {
    for (const d of deployments) await d.stop();
    for (const dir of dirs) rmSync(dir, { recursive: true, force: true, maxRetries: 5, retryDelay: 100 });
  }
}

await main();
