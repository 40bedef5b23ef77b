/**
 * `npm run bench:peers`: Concord's real-time sync against the Yjs servers people run, in one
 * run, with the same clients (bench/PEERS.md explains the figures).
 *
 * Servers, each started here on 127.0.0.1 on a free port and stopped here (its process group
 * killed), also when a part fails:
 *  - `y-websocket-server`: @y/websocket-server's own `src/server.js` (Node), documents in memory.
 *  - `hocuspocus`: @hocuspocus/server with its defaults (Node, bench/peers/hocuspocus-server.mjs).
 *  - `y-partyserver`: y-partyserver's YServer as a Durable Object on `wrangler dev`
 *    (bench/peers/worker.ts, its own wrangler.toml, the repository's wrangler).
 *  - `concord`: Concord on `wrangler dev` (default env), a write token from `npm run token`.
 *
 * Clients: stock `y-websocket` `WebsocketProvider`s with `ws`, in this process. Hocuspocus
 * speaks its own framing (every message prefixed with the document's name, an auth message
 * first), which a stock y-websocket client does not send, so its clients are
 * `@hocuspocus/provider` over `ws`; the documents, edits and measurements are the same.
 *
 * Parts, per server:
 *  - fan-out: K clients on one document, each making `EDITS` one-character inserts into one
 *    Y.Text, `RATE` edits/s in total. Latency: from the insert to its arrival at every other
 *    client (the receiving Y.Doc's `update` event; edits are found by their Yjs ids).
 *    Convergence: from the last insert until every client has every edit (texts compared).
 *    Server CPU: user + system CPU of the server's process group (/proc) from the first insert
 *    to 1 s after convergence, per edit.
 *  - many documents: `DOCS` documents, a client each (bounded parallelism) making one edit,
 *    then a fresh client per document that must find it. Server RSS (process group) before
 *    and after, per open document. On wrangler servers, wrangler is then restarted on the
 *    same state (every object evicted) and fresh clients look for every edit again.
 *  - cold load: a document of `COLD` edits; fresh clients each timed from connect to
 *    `synced` with the whole text (median of 5).
 *  - Concord only: cross-region latency, edits by a client of `wnam` arriving at one of `weur`.
 *
 * Env: BENCH_PEERS_K (2,16,64), BENCH_PEERS_EDITS (200 per client), BENCH_PEERS_RATE (200
 * edits/s in total), BENCH_PEERS_DOCS (1000), BENCH_PEERS_PAR (50 clients opening at once),
 * BENCH_PEERS_COLD (10000), BENCH_PEERS_ONLY (comma-separated server names),
 * BENCH_PEERS_COMMIT (the commit to print, for a clean copy without .git), BENCH_PEERS_PROFILE (a directory: one more Concord fan-out run at the middle K under the
 * CPU profiler, as `bench:profile` does; needs NODE_OPTIONS=--experimental-websocket).
 */
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { HocuspocusProvider } from '@hocuspocus/provider';
import WebSocket from 'ws';
import { WebsocketProvider } from 'y-websocket';
import * as Y from 'yjs';
import { freePort, groupAlive, mintToken, ROOT, signalGroup, startWrangler, type WranglerDev } from '../test/e2e/wrangler.js';
import { groupUsage } from './process-group.js';
import { busyMs, CpuProfiler } from './profiler.js';

// ---- configuration ----

function envInt(name: string, fallback: number): number {
  const v = Number(process.env[name] ?? fallback);
  if (!Number.isFinite(v) || v < 0) throw new Error(`${name} must be a non-negative number`);
  return Math.floor(v);
}

const KS = (process.env['BENCH_PEERS_K'] ?? '2,16,64')
  .split(',')
  .map((s) => Number(s.trim()))
  .filter((k) => Number.isInteger(k) && k >= 2);
const EDITS = envInt('BENCH_PEERS_EDITS', 200);
const RATE = envInt('BENCH_PEERS_RATE', 200);
const DOCS = envInt('BENCH_PEERS_DOCS', 1000);
const PAR = Math.max(1, envInt('BENCH_PEERS_PAR', 50));
const COLD = envInt('BENCH_PEERS_COLD', 10_000);
const COLD_CLIENTS = 5;
const PROFILE = process.env['BENCH_PEERS_PROFILE'];
const SERVER_NAMES = ['y-websocket-server', 'hocuspocus', 'y-partyserver', 'concord'] as const;
type ServerName = (typeof SERVER_NAMES)[number];
const ONLY = new Set((process.env['BENCH_PEERS_ONLY'] ?? SERVER_NAMES.join(',')).split(',').map((s) => s.trim()).filter(Boolean));
for (const n of ONLY) if (!(SERVER_NAMES as readonly string[]).includes(n)) throw new Error(`BENCH_PEERS_ONLY: unknown server ${n} (known: ${SERVER_NAMES.join(', ')})`);

const SYNC_TIMEOUT_MS = 60_000;
/** After the last insert; a run that has not converged by then is reported as such. */
const CONVERGE_TIMEOUT_MS = 60_000;
const SETTLE_MS = 1000;
const NS = 'peers';

const log = (msg: string): void => console.error(`[peers ${new Date().toISOString().slice(11, 19)}] ${msg}`);
const delay = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
const now = (): number => performance.now();

/** Polls `cond` every `every` ms until it holds; throws after `ms`. */
async function waitFor(what: string, ms: number, cond: () => boolean, every = 2): Promise<void> {
  const deadline = now() + ms;
  while (!cond()) {
    if (now() > deadline) throw new Error(`${what}: not within ${ms} ms`);
    await delay(every);
  }
}

async function inParallel<T>(items: readonly T[], limit: number, f: (item: T, i: number) => Promise<void>): Promise<void> {
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < items.length) {
      const i = next++;
      await f(items[i]!, i);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
}

function percentile(sorted: ArrayLike<number>, p: number): number {
  if (sorted.length === 0) return NaN;
  const i = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[i]!;
}

// ---- /proc ----

/** Waits (bounded) until the group used under 20 ms of CPU in 500 ms: work set off earlier is done. */
async function quiesce(pgid: number, maxMs = 30_000): Promise<void> {
  const deadline = now() + maxMs;
  let last = groupUsage(pgid).cpuMs;
  while (now() < deadline) {
    await delay(500);
    const c = groupUsage(pgid).cpuMs;
    if (c - last < 20) return;
    last = c;
  }
  log(`  (server still busy after ${maxMs} ms; measuring anyway)`);
}

// ---- servers ----

type Kind = 'y-websocket' | 'hocuspocus';

interface Server {
  name: ServerName;
  /** Package and version, for the table. */
  label: string;
  client: Kind;
  pgid(): number;
  /** The WebSocket URL a client of `room` connects to (without the room for y-websocket). */
  base: string;
  params: (region: string) => Record<string, string>;
  /** Restarts the server on its state (every object evicted); wrangler servers only. */
  restart?: () => Promise<void>;
  /** The DevTools inspector port of the Worker's isolate; wrangler servers only. */
  inspectorPort?: () => number;
  stop(): Promise<void>;
}

const groups = new Set<number>();
// Every y-websocket provider adds an `exit` listener of its own; hundreds are expected here.
process.setMaxListeners(0);
process.once('exit', () => {
  for (const g of groups) signalGroup(g, 'SIGKILL');
});
for (const sig of ['SIGINT', 'SIGTERM'] as const) {
  process.once(sig, () => {
    for (const g of groups) signalGroup(g, 'SIGKILL');
    process.exit(130);
  });
}

function version(pkg: string): string {
  return (JSON.parse(readFileSync(join(ROOT, 'node_modules', pkg, 'package.json'), 'utf8')) as { version: string }).version;
}

/** A Node server in its own process group; ready once its port answers HTTP. */
async function startNode(script: string, port: number): Promise<{ child: ChildProcess; output: () => string; stop: () => Promise<void> }> {
  const child = spawn(process.execPath, [script], {
    cwd: ROOT,
    detached: true,
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, HOST: '127.0.0.1', PORT: String(port), NODE_OPTIONS: '' },
  });
  const pgid = child.pid!;
  groups.add(pgid);
  let out = '';
  const keep = (b: Buffer): void => {
    out = (out + b.toString('utf8')).slice(-16_384);
  };
  child.stdout!.on('data', keep);
  child.stderr!.on('data', keep);
  let exited = false;
  child.once('exit', () => {
    exited = true;
  });
  const stop = async (): Promise<void> => {
    signalGroup(pgid, 'SIGTERM');
    await waitFor('server group ends', 10_000, () => !groupAlive(pgid), 50).catch(() => signalGroup(pgid, 'SIGKILL'));
    await waitFor('server group ends after SIGKILL', 10_000, () => !groupAlive(pgid), 50).catch(() => undefined);
    groups.delete(pgid);
  };
  const deadline = now() + 30_000;
  for (;;) {
    if (exited) {
      await stop();
      throw new Error(`${script} exited before it was ready:\n${out}`);
    }
    try {
      const res = await fetch(`http://127.0.0.1:${port}/`, { signal: AbortSignal.timeout(2000) });
      await res.arrayBuffer();
      break; // any HTTP answer: listening
    } catch {
      if (now() > deadline) {
        await stop();
        throw new Error(`${script} did not answer on port ${port} within 30 s:\n${out}`);
      }
      await delay(50);
    }
  }
  return { child, output: () => out, stop };
}

/** A wrangler dev server on a state directory of ours, so that it can be restarted on it. */
async function startWranglerServer(config?: string): Promise<{ dev: () => WranglerDev; restart: () => Promise<void>; stop: () => Promise<void> }> {
  const persistTo = mkdtempSync(join(os.tmpdir(), 'concord-peers-'));
  const opts = { logLevel: 'warn' as const, persistTo, ...(config !== undefined && { config }) };
  let dev: WranglerDev;
  try {
    dev = await startWrangler(opts);
  } catch (e) {
    rmSync(persistTo, { recursive: true, force: true });
    throw e;
  }
  groups.add(dev.pid);
  return {
    dev: () => dev,
    restart: async () => {
      groups.delete(dev.pid);
      await dev.stop();
      dev = await startWrangler(opts);
      groups.add(dev.pid);
    },
    stop: async () => {
      groups.delete(dev.pid);
      await dev.stop();
      rmSync(persistTo, { recursive: true, force: true, maxRetries: 5, retryDelay: 100 });
    },
  };
}

/** A Node server running `script` on a free port, its documents in memory. */
async function nodeServer(name: ServerName, script: string, label: string, client: Server['client']): Promise<Server> {
  const port = await freePort();
  const s = await startNode(script, port);
  return { name, label, client, pgid: () => s.child.pid!, base: `ws://127.0.0.1:${port}`, params: () => ({}), stop: s.stop };
}

async function startServer(name: ServerName): Promise<Server> {
  switch (name) {
    case 'y-websocket-server':
      return nodeServer(name, join(ROOT, 'node_modules', '@y', 'websocket-server', 'src', 'server.js'), `@y/websocket-server ${version('@y/websocket-server')}`, 'y-websocket');
    case 'hocuspocus':
      return nodeServer(name, join(ROOT, 'bench', 'peers', 'hocuspocus-server.mjs'), `@hocuspocus/server ${version('@hocuspocus/server')}`, 'hocuspocus');
    case 'y-partyserver': {
      const w = await startWranglerServer('bench/peers/wrangler.toml');
      return {
        name,
        label: `y-partyserver ${version('y-partyserver')} (partyserver ${version('partyserver')}) on wrangler ${version('wrangler')}`,
        client: 'y-websocket',
        pgid: () => w.dev().pid,
        get base() {
          return `ws://127.0.0.1:${w.dev().port}/parties/y-doc-server`;
        },
        params: () => ({}),
        restart: w.restart,
        stop: w.stop,
      };
    }
    case 'concord': {
      const [w, token] = await Promise.all([startWranglerServer(), mintToken('--ns', `${NS}*`, '--scope', 'write')]);
      return {
        name,
        label: `Concord (this checkout) on wrangler ${version('wrangler')}`,
        client: 'y-websocket',
        pgid: () => w.dev().pid,
        get base() {
          return `ws://127.0.0.1:${w.dev().port}/v1/${NS}/ws`;
        },
        params: (region) => ({ token, region }),
        restart: w.restart,
        inspectorPort: () => w.dev().inspectorPort,
        stop: w.stop,
      };
    }
  }
}

// ---- clients ----

/** The provider's WebSocket constructor type (the DOM's); `ws` is one at run time. */
type Polyfill = NonNullable<NonNullable<ConstructorParameters<typeof WebsocketProvider>[3]>['WebSocketPolyfill']>;

/**
 * `ws` offers permessage-deflate unless told not to, and `ws`'s inflate runs on zlib's thread
 * pool behind a queue of 10 per process; where a server accepts the offer, that queue adds
 * to every latency on the client's side. The clients offer it only with BENCH_PEERS_DEFLATE=1.
 */
const DEFLATE = process.env['BENCH_PEERS_DEFLATE'] === '1';
class ClientSocket extends WebSocket {
  constructor(address: string, protocols?: string | string[]) {
    super(address, protocols, { perMessageDeflate: DEFLATE });
  }
}
/** What each server's sockets negotiated (`extensions`), as seen by the clients. */
const negotiated = new Map<string, string>();

interface Client {
  doc: Y.Doc;
  text: Y.Text;
  synced(): boolean;
  destroy(): void;
}

function connect(s: Server, room: string, region = 'wnam'): Client {
  const doc = new Y.Doc();
  const text = doc.getText('text');
  if (s.client === 'hocuspocus') {
    // The provider hands its whole configuration to the socket it makes, which takes the polyfill.
    const config = { url: s.base, name: room, document: doc, WebSocketPolyfill: ClientSocket };
    const p = new HocuspocusProvider(config as ConstructorParameters<typeof HocuspocusProvider>[0]);
    return { doc, text, synced: () => p.synced, destroy: () => p.destroy() };
  }
  const p = new WebsocketProvider(s.base, room, doc, { params: s.params(region), WebSocketPolyfill: ClientSocket as unknown as Polyfill, disableBc: true });
  if (!negotiated.has(s.name)) {
    const seen = ({ status }: { status: string }): void => {
      const ws = p.ws as unknown as WebSocket | null;
      if (status !== 'connected' || !ws) return;
      negotiated.set(s.name, ws.extensions || 'none');
      p.off('status', seen);
    };
    p.on('status', seen);
  }
  return {
    doc,
    text,
    synced: () => p.synced,
    destroy: () => p.destroy(),
  };
}

async function openSynced(s: Server, room: string, region?: string): Promise<Client> {
  const c = connect(s, room, region);
  try {
    await waitFor(`client of ${room} synced`, SYNC_TIMEOUT_MS, () => c.synced(), 1);
  } catch (e) {
    c.destroy();
    throw e;
  }
  return c;
}

// ---- fan-out ----

interface FanOut {
  k: number;
  edits: number;
  editsPerS: number;
  p50: number;
  p95: number;
  p99: number;
  convergeMs: number;
  cpuUsPerEdit: number;
  /** CPU of the bench process (all the clients) from the first insert to convergence, as % of one core. */
  clientCpuPct: number;
  /** Share of the (edit, receiver) deliveries that arrived; below 1 when the run did not converge within CONVERGE_TIMEOUT_MS (its latencies then leave out the slowest). */
  delivered: number;
}

let runId = 0;
const room = (what: string): string => `${what}-${process.pid}-${++runId}`;

/**
 * K clients on one new document; the clients `senders` picks make `edits` inserts each, in
 * turn, `rate` per second in total. Latencies from each insert to its arrival at every other
 * client.
 */
async function fanOut(s: Server, k: number, opts: { regions?: (i: number) => string; senders?: (i: number) => boolean; profile?: string } = {}): Promise<FanOut> {
  const name = room(`fan${k}`);
  const clients: Client[] = [];
  try {
    await inParallel(
      Array.from({ length: k }, (_, i) => i),
      16,
      async (i) => {
        clients[i] = await openSynced(s, name, opts.regions?.(i));
      },
    );
    const senders = clients.filter((_, i) => opts.senders?.(i) ?? true);
    const total = senders.length * EDITS;
    // Per sending Yjs client: its first clock and the send time of each edit.
    const sent = new Map<number, { base: number; at: Float64Array }>();
    for (const c of senders) sent.set(c.doc.clientID, { base: Y.getState(c.doc.store, c.doc.clientID), at: new Float64Array(EDITS) });
    const lat = new Float64Array(total * (k - 1));
    let nLat = 0;
    const got = new Map<Y.Doc, number>();
    let lastArrival = 0;
    for (const c of clients) {
      got.set(c.doc, 0);
      c.doc.on('update', (update: Uint8Array, origin: unknown) => {
        if (origin === null || origin === undefined) return; // its own insert
        const t = now();
        const meta = Y.parseUpdateMeta(update);
        let n = 0;
        for (const [client, to] of meta.to) {
          const e = sent.get(client);
          if (!e || client === c.doc.clientID) continue;
          for (let clock = meta.from.get(client) ?? 0; clock < to; clock++) {
            const i = clock - e.base;
            const at = e.at[i];
            if (at === undefined || at === 0 || nLat >= lat.length) continue;
            lat[nLat++] = t - at;
            n++;
          }
        }
        if (n > 0) {
          got.set(c.doc, got.get(c.doc)! + n);
          lastArrival = t;
        }
      });
    }
    const expected = (c: Client): number => total - (sent.has(c.doc.clientID) ? EDITS : 0);
    const profiler = opts.profile !== undefined && s.inspectorPort ? await CpuProfiler.connect(s.inspectorPort()) : undefined;
    if (profiler) await profiler.start();
    await quiesce(s.pgid(), 20_000); // a backlog of an earlier run does not count here
    const cpu0 = groupUsage(s.pgid()).cpuMs;
    const own0 = process.cpuUsage();
    const interval = 1000 / RATE;
    const t0 = now();
    let i = 0;
    let lastSend = t0;
    while (i < total) {
      const due = Math.min(total, Math.floor((now() - t0) / interval) + 1);
      for (; i < due; i++) {
        const c = senders[i % senders.length]!;
        const e = sent.get(c.doc.clientID)!;
        const n = Math.floor(i / senders.length);
        lastSend = now();
        e.at[n] = lastSend;
        c.text.insert(c.text.length, String.fromCharCode(97 + (n % 26)));
      }
      const wait = t0 + i * interval - now();
      if (wait > 0) await delay(wait);
    }
    let converged = true;
    try {
      await waitFor(`fan-out of ${k}: every client has every edit`, CONVERGE_TIMEOUT_MS, () => clients.every((c) => got.get(c.doc)! >= expected(c)), 1);
    } catch {
      converged = false;
    }
    const deliveries = clients.reduce((n, c) => n + expected(c), 0);
    const delivered = clients.reduce((n, c) => n + Math.min(got.get(c.doc)!, expected(c)), 0) / deliveries;
    const convergeMs = converged ? Math.max(0, lastArrival - lastSend) : NaN;
    const own = process.cpuUsage(own0);
    const clientCpuPct = ((own.user + own.system) / 1000 / Math.max(now() - t0, 1)) * 100;
    const first = clients[0]!.text.toString();
    if (converged && (first.length !== total || !clients.every((c) => c.text.toString() === first))) throw new Error(`fan-out of ${k}: texts differ after every edit arrived`);
    await delay(SETTLE_MS); // work an edit sets off after its delivery (storage, replication) counts
    const cpuMs = groupUsage(s.pgid()).cpuMs - cpu0;
    if (profiler) {
      mkdirSync(opts.profile!, { recursive: true });
      const file = join(opts.profile!, `${s.name}-fanout-${k}.cpuprofile`);
      const p = await profiler.save(file);
      log(`  profile: ${file}, isolate busy ${busyMs(p).toFixed(0)} ms for ${total} edits`);
      profiler.close();
    }
    const sorted = lat.subarray(0, nLat).sort();
    return {
      k,
      edits: total,
      editsPerS: total / (Math.max(lastSend - t0, 1) / 1000),
      p50: percentile(sorted, 50),
      p95: percentile(sorted, 95),
      p99: percentile(sorted, 99),
      convergeMs,
      cpuUsPerEdit: (cpuMs * 1000) / total,
      clientCpuPct,
      delivered,
    };
  } finally {
    for (const c of clients) c?.destroy();
  }
}

// ---- many documents ----

interface Many {
  docs: number;
  writeDocsPerS: number;
  verifyDocsPerS: number;
  found: number;
  rssBeforeMiB: number;
  rssAfterMiB: number;
  kibPerDoc: number;
  evicted?: { found: number; docsPerS: number };
}

async function verify(s: Server, names: readonly string[]): Promise<{ found: number; ms: number }> {
  let found = 0;
  const t0 = now();
  await inParallel(names, PAR, async (n, i) => {
    const want = `edit ${i};`;
    const c = connect(s, n);
    try {
      await waitFor(`${n} has its edit`, 10_000, () => c.synced() && c.text.toString() === want, 2);
      found++;
    } catch {
      // counted as missing
    } finally {
      c.destroy();
    }
  });
  return { found, ms: now() - t0 };
}

async function manyDocs(s: Server): Promise<Many> {
  const prefix = room('many');
  const names = Array.from({ length: DOCS }, (_, i) => `${prefix}-${i}`);
  const writers: Client[] = [];
  try {
    await quiesce(s.pgid());
    const before = groupUsage(s.pgid()).rss;
    const t0 = now();
    await inParallel(names, PAR, async (n, i) => {
      const c = await openSynced(s, n);
      writers.push(c);
      c.text.insert(0, `edit ${i};`);
    });
    const writeMs = now() - t0;
    const v = await verify(s, names);
    await quiesce(s.pgid());
    const after = groupUsage(s.pgid()).rss;
    const out: Many = {
      docs: DOCS,
      writeDocsPerS: DOCS / (writeMs / 1000),
      verifyDocsPerS: DOCS / (v.ms / 1000),
      found: v.found,
      rssBeforeMiB: before / 2 ** 20,
      rssAfterMiB: after / 2 ** 20,
      kibPerDoc: (after - before) / 1024 / DOCS,
    };
    for (const c of writers.splice(0)) c.destroy();
    if (s.restart) {
      await quiesce(s.pgid());
      log(`  restarting ${s.name} on its state (every object evicted)`);
      await s.restart();
      const e = await verify(s, names);
      out.evicted = { found: e.found, docsPerS: DOCS / (e.ms / 1000) };
    }
    return out;
  } finally {
    for (const c of writers) c.destroy();
  }
}

// ---- cold load ----

interface Cold {
  edits: number;
  fillS: number;
  medianMs: number;
  each: number[];
}

async function coldLoad(s: Server): Promise<Cold> {
  const name = room('cold');
  const writer = await openSynced(s, name);
  let observer: Client | undefined;
  try {
    observer = await openSynced(s, name);
    const obs = observer;
    const t0 = now();
    for (let i = 0; i < COLD; i++) {
      writer.text.insert(writer.text.length, String.fromCharCode(97 + (i % 26)));
      if (i % 500 === 499) await delay(0); // let the socket drain between bursts
    }
    await waitFor(`cold: the document has ${COLD} edits at an observer`, 300_000, () => obs.text.length === COLD, 5);
    const fillS = (now() - t0) / 1000;
    await quiesce(s.pgid());
    const want = writer.text.toString();
    const each: number[] = [];
    for (let r = 0; r < COLD_CLIENTS; r++) {
      const t = now();
      const c = connect(s, name);
      try {
        await waitFor('cold client synced with the whole text', 60_000, () => c.synced() && c.text.length === COLD, 0);
        each.push(now() - t);
        if (c.text.toString() !== want) throw new Error('cold client: text differs');
      } finally {
        c.destroy();
      }
    }
    return { edits: COLD, fillS, medianMs: percentile([...each].sort((a, b) => a - b), 50), each };
  } finally {
    writer.destroy();
    observer?.destroy();
  }
}

// ---- report ----

interface Result {
  server: ServerName;
  label: string;
  error?: string;
  fan: FanOut[];
  many?: Many;
  cold?: Cold;
  cross?: FanOut;
}

function loadavg(): string {
  return os
    .loadavg()
    .map((x) => x.toFixed(2))
    .join(' ');
}

function machine(): string {
  const cpus = os.cpus();
  return `${cpus[0]?.model.trim() ?? 'cpu'}, ${cpus.length} cores, ${Math.round(os.totalmem() / 2 ** 30)} GiB RAM, ${os.type()} ${os.release()}, Node ${process.version}, wrangler ${version('wrangler')}`;
}

const fmt = (x: number | undefined, digits = 1): string => {
  if (x === undefined || !Number.isFinite(x)) return '–';
  if (Math.abs(x) >= 100) return Math.round(x).toLocaleString('en');
  return x.toFixed(digits);
};

interface Row {
  label: string;
  better: 'low' | 'high';
  value: (r: Result) => number | undefined;
  digits?: number;
}

function table(results: Result[]): string[] {
  const rows: Row[] = [];
  for (const k of KS) {
    const f = (r: Result): FanOut | undefined => r.fan.find((x) => x.k === k);
    rows.push(
      { label: `K=${k}: edits/s achieved`, better: 'high', value: (r) => f(r)?.editsPerS, digits: 0 },
      { label: `K=${k}: latency p50 (ms)`, better: 'low', value: (r) => f(r)?.p50, digits: 2 },
      { label: `K=${k}: latency p95 (ms)`, better: 'low', value: (r) => f(r)?.p95, digits: 2 },
      { label: `K=${k}: latency p99 (ms)`, better: 'low', value: (r) => f(r)?.p99, digits: 2 },
      { label: `K=${k}: converge after last edit (ms)`, better: 'low', value: (r) => f(r)?.convergeMs, digits: 1 },
      { label: `K=${k}: server CPU per edit (µs)`, better: 'low', value: (r) => f(r)?.cpuUsPerEdit, digits: 0 },
      { label: `K=${k}: bench process (the clients) CPU, % of one core`, better: 'low', value: (r) => f(r)?.clientCpuPct, digits: 0 },
      { label: `K=${k}: deliveries arrived within ${CONVERGE_TIMEOUT_MS / 1000} s of the last edit, %`, better: 'high', value: (r) => (f(r) ? f(r)!.delivered * 100 : undefined), digits: 1 },
    );
  }
  rows.push(
    { label: `${DOCS} docs: open + edit, docs/s`, better: 'high', value: (r) => r.many?.writeDocsPerS, digits: 0 },
    { label: `${DOCS} docs: verify (fresh clients), docs/s`, better: 'high', value: (r) => r.many?.verifyDocsPerS, digits: 0 },
    { label: `${DOCS} docs: edits found`, better: 'high', value: (r) => r.many?.found, digits: 0 },
    { label: `${DOCS} docs: server RSS per open doc (KiB)`, better: 'low', value: (r) => r.many?.kibPerDoc, digits: 1 },
    { label: `${DOCS} docs: edits found after restart (evicted)`, better: 'high', value: (r) => r.many?.evicted?.found, digits: 0 },
    { label: `${DOCS} docs: verify after restart, docs/s`, better: 'high', value: (r) => r.many?.evicted?.docsPerS, digits: 0 },
    { label: `cold load of ${COLD} edits, median (ms)`, better: 'low', value: (r) => r.cold?.medianMs, digits: 1 },
  );
  const head = ['figure', ...results.map((r) => r.server)];
  const out = [`| ${head.join(' | ')} |`, `| ${head.map(() => '---').join(' | ')} |`];
  for (const row of rows) {
    const vals = results.map((r) => row.value(r));
    const peers = results.map((r, i) => (r.server === 'concord' ? undefined : vals[i])).filter((v): v is number => v !== undefined && Number.isFinite(v) && v > 0);
    const best = peers.length === 0 ? undefined : row.better === 'low' ? Math.min(...peers) : Math.max(...peers);
    const cells = vals.map((v) => {
      if (v === undefined || !Number.isFinite(v)) return '–';
      const ratio = best !== undefined ? ` (${(v / best).toFixed(2)}×)` : '';
      return `${fmt(v, row.digits)}${ratio}`;
    });
    out.push(`| ${row.label} (${row.better === 'low' ? 'lower' : 'higher'} is better) | ${cells.join(' | ')} |`);
  }
  return out;
}

function details(results: Result[]): string[] {
  const out: string[] = [];
  for (const r of results) {
    out.push(`- ${r.server}: ${r.label}; WebSocket extensions negotiated: ${negotiated.get(r.server) ?? 'not seen'}${r.error ? ` — **failed: ${r.error}**` : ''}`);
    if (r.many) out.push(`  - ${r.many.docs} docs: server RSS ${r.many.rssBeforeMiB.toFixed(1)} → ${r.many.rssAfterMiB.toFixed(1)} MiB`);
    if (r.cold) out.push(`  - cold load: filled in ${r.cold.fillS.toFixed(1)} s; each client ${r.cold.each.map((x) => x.toFixed(1)).join(', ')} ms`);
    if (r.cross) out.push(`  - cross-region wnam → weur (${r.cross.edits} edits at ${fmt(r.cross.editsPerS, 0)}/s): p50 ${fmt(r.cross.p50, 2)}, p95 ${fmt(r.cross.p95, 2)}, p99 ${fmt(r.cross.p99, 2)} ms`);
  }
  return out;
}

// ---- main ----

async function benchServer(name: ServerName): Promise<Result> {
  log(`${name}: starting`);
  let s: Server;
  try {
    s = await startServer(name);
  } catch (e) {
    log(`${name}: could not start: ${(e as Error).message}`);
    return { server: name, label: name, error: `could not start: ${(e as Error).message}`, fan: [] };
  }
  const res: Result = { server: name, label: s.label, fan: [] };
  // A part that fails is reported and the next part still runs.
  const part = async (what: string, f: () => Promise<void>): Promise<void> => {
    try {
      await f();
    } catch (e) {
      const msg = `${what}: ${(e as Error).message}`;
      res.error = res.error ? `${res.error}; ${msg}` : msg;
      log(`${name}: failed: ${(e as Error).stack ?? String(e)}`);
    }
  };
  try {
    for (const k of KS) {
      await part(`fan-out K=${k}`, async () => {
        log(`${name}: fan-out K=${k}, ${EDITS} edits each at ${RATE}/s`);
        const f = await fanOut(s, k);
        log(`  ${fmt(f.editsPerS, 0)} edits/s, p50 ${fmt(f.p50, 2)} p95 ${fmt(f.p95, 2)} p99 ${fmt(f.p99, 2)} ms, converge ${fmt(f.convergeMs)} ms, CPU ${fmt(f.cpuUsPerEdit, 0)} µs/edit, clients ${fmt(f.clientCpuPct, 0)} % of a core, delivered ${(f.delivered * 100).toFixed(1)} %`);
        res.fan.push(f);
      });
    }
    if (name === 'concord') {
      await part('cross-region', async () => {
        log(`${name}: cross-region wnam → weur, ${EDITS} edits at ${RATE}/s`);
        const c = await fanOut(s, 2, { regions: (i) => (i === 0 ? 'wnam' : 'weur'), senders: (i) => i === 0 });
        res.cross = c;
        log(`  p50 ${fmt(c.p50, 2)} p95 ${fmt(c.p95, 2)} p99 ${fmt(c.p99, 2)} ms, delivered ${(c.delivered * 100).toFixed(1)} %`);
      });
      if (PROFILE !== undefined) {
        await part('profile', async () => {
          const k = KS[Math.floor(KS.length / 2)] ?? 16;
          log(`${name}: one more fan-out K=${k} under the CPU profiler (not measured)`);
          await fanOut(s, k, { profile: PROFILE });
        });
      }
    }
    if (DOCS > 0) {
      await part(`${DOCS} documents`, async () => {
        log(`${name}: ${DOCS} documents, ${PAR} clients opening at once`);
        const m = await manyDocs(s);
        res.many = m;
        log(`  open+edit ${fmt(m.writeDocsPerS, 0)} docs/s, verify ${fmt(m.verifyDocsPerS, 0)} docs/s, found ${m.found}, RSS ${m.rssBeforeMiB.toFixed(1)} → ${m.rssAfterMiB.toFixed(1)} MiB (${fmt(m.kibPerDoc)} KiB/doc)${m.evicted ? `, after restart found ${m.evicted.found} at ${fmt(m.evicted.docsPerS, 0)} docs/s` : ''}`);
      });
    }
    if (COLD > 0) {
      await part('cold load', async () => {
        log(`${name}: cold load of ${COLD} edits`);
        const c = await coldLoad(s);
        res.cold = c;
        log(`  filled in ${c.fillS.toFixed(1)} s; cold clients ${c.each.map((x) => x.toFixed(1)).join(', ')} ms`);
      });
    }
  } finally {
    await s.stop();
    log(`${name}: stopped`);
  }
  return res;
}

async function main(): Promise<void> {
  const startedAt = new Date();
  const loadStart = loadavg();
  // BENCH_PEERS_COMMIT names the commit of a clean copy (`git archive`), which has no .git.
  let commit = process.env['BENCH_PEERS_COMMIT'] ?? 'unknown';
  if (commit === 'unknown') {
    try {
      commit = execFileSync('git', ['rev-parse', '--short', 'HEAD'], { cwd: ROOT, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
    } catch {
      // not a checkout
    }
  }
  log(`machine: ${machine()}; load average ${loadStart}`);
  log(`K=${KS.join(',')}, ${EDITS} edits per client at ${RATE}/s, ${DOCS} documents, cold ${COLD}, servers: ${[...ONLY].join(', ')}`);
  const results: Result[] = [];
  for (const name of SERVER_NAMES) {
    if (!ONLY.has(name)) continue;
    results.push(await benchServer(name));
  }
  const lines = [
    `## bench:peers, ${startedAt.toISOString().slice(0, 16).replace('T', ' ')} UTC at ${commit}`,
    '',
    `Machine: ${machine()}. Load average (1/5/15 min) at start ${loadStart}, at end ${loadavg()}.`,
    `Clients offer permessage-deflate: ${DEFLATE ? 'yes (BENCH_PEERS_DEFLATE=1)' : 'no'}.`,
    `Fan-out: K = ${KS.join(', ')} clients, ${EDITS} edits each, ${RATE} edits/s in total. Many documents: ${DOCS}, ${PAR} clients opening at once. Cold load: ${COLD} edits.`,
    'Ratios: to the best non-Concord server of the row.',
    '',
    ...table(results),
    '',
    ...details(results),
    '',
  ];
  console.log(lines.join('\n'));
  if (results.some((r) => r.error)) process.exitCode = 1;
}

try {
  await main();
} catch (e) {
  console.error(e);
  process.exitCode = 1;
} finally {
  // Every server is stopped by now; a destroyed provider may still hold a timer, and the
  // figures are written (stdout to a file or pipe is synchronous on Linux).
  process.exit(process.exitCode ?? 0);
}
