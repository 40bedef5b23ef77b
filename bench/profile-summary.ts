/**
 * `npm run -s bench:profile-summary -- <file.cpuprofile>… [--top=N] [--writes=N]`: where the
 * CPU time of a profile taken by `BENCH_PROFILE` (bench/profiler.ts) goes, as Markdown;
 * `--writes` (the run's writes, which the bench prints) adds milliseconds per write.
 *
 * Three views, because none alone answers "what would make writes cheaper":
 * - By activity: each sample goes to the first rule of {@link ACTIVITIES} that matches any
 *   frame of its stack, so the order of the rules is their precedence. Operations come first
 *   (everything under `scanLog` is a log scan, even the native SQLite call and the JSON
 *   parse inside it), then libraries (Automerge, Yjs, Hono), then the rest of the code.
 * - By entry point: the outermost frame of Concord's that the sample runs under (a client
 *   request, a message from a peer, a gossip round, an eager push).
 * - The functions with the most self time, and Concord's functions with the most total time.
 *
 * Native and builtin work (SQLite, RPC serialisation, `JSON.stringify`) has no frame of its
 * own when V8 inlines it, and then counts as self time of the JS function that called it.
 * `(program)` is time in the runtime outside any JS frame (workerd's I/O, RPC, HTTP).
 */
import { readFileSync } from 'node:fs';
import type { CpuProfile } from './profiler.js';

type Node = CpuProfile['nodes'][number];
type Frame = Node['callFrame'];

interface Rule {
  name: string;
  match: (f: Frame) => boolean;
}

const file = (f: Frame): string => f.url.replace(/^.*node_modules\//, 'node_modules/');
const inFile = (re: RegExp, fns?: RegExp) => (f: Frame): boolean => re.test(file(f)) && (!fns || fns.test(f.functionName));
const native = (fns: RegExp) => (f: Frame): boolean => f.url === '' && fns.test(f.functionName);
const any = (...ms: ((f: Frame) => boolean)[]) => (f: Frame): boolean => ms.some((m) => m(f));

const SQLITE = /^src\/objects\/sqlite-storage\.ts$/;

const ACTIVITIES: readonly Rule[] = [
  { name: 'JSON view of the document after a write (engine `toJSON`)', match: inFile(/^src\/core\/engines\//, /^(toJSON|render\w*)$/) },
  { name: 'log scans (`scanLog`, `logSize`)', match: inFile(SQLITE, /^(scanLog|logSize)$/) },
  { name: 'log truncation (compaction in the commit)', match: inFile(SQLITE, /^truncate$/) },
  { name: 'SQLite commit (`transactionSync`: meta, log entry, doc rows, state)', match: any(inFile(SQLITE, /^(commit|appendEntry|insertState|deleteStates|writeParts)$/), native(/^transactionSync$/)) },
  { name: 'SQLite reads (state, entries) and other native SQL calls', match: any(inFile(SQLITE), native(/^(exec|one|toArray|next|raw)$/)) },
  { name: 'Automerge (wasm and its bindings, engine code)', match: any(inFile(/@automerge\/|automerge_wasm/), (f) => f.url.startsWith('wasm://'), inFile(/^src\/core\/engines\/automerge/)) },
  { name: 'Yjs (library and engine code)', match: inFile(/node_modules\/(yjs|lib0)\/|^src\/core\/engines\/yjs/) },
  { name: 'wire codec (encode, decode member messages)', match: inFile(/^src\/core\/wire\//) },
  { name: 'authentication (JWT)', match: any(inFile(/node_modules\/jose\/|node_modules\/hono\/dist\/utils\/jwt\//), inFile(/^src\/api\/auth\.ts$/), native(/^(verify|importKey|digest|sign)$/)) },
  { name: 'Hono (routing, middleware, context)', match: inFile(/node_modules\/hono\//) },
  {
    name: 'RPC, timers and alarms (stubs, timeouts, `setAlarm`, `waitUntil`)',
    match: any(inFile(/^src\/objects\/peers\.ts$/), inFile(/^src\/api\/(members|target)\.ts$/, /^(send|memberStub|withTimeout)$/), native(/^(setTimeout|clearTimeout|setAlarm|waitUntil|set scheduledTime|get|idFromName)$/)),
  },
  { name: 'shard routing (FNV-1a over BigInt, jump hash)', match: inFile(/^src\/core\/routing\.ts$/) },
  { name: 'eager push queues', match: inFile(/^src\/core\/eager-push\.ts$/) },
  { name: 'anti-entropy and replica logic (vectors, doc store, compaction plan)', match: inFile(/^src\/core\//) },
  { name: 'edge code (`src/api`: validation, headers, responses)', match: inFile(/^src\/api\//) },
  { name: 'member code (`src/objects`)', match: inFile(/^src\/objects\//) },
  { name: 'the floor (`bench/floor/worker.ts`)', match: inFile(/^bench\/floor\//) },
  { name: 'wrangler / miniflare wrappers', match: inFile(/node_modules\/(wrangler|miniflare)\/|^\.\.\/bundle-|middleware-loader|^index\.js$/) },
  { name: 'runtime: native frames without a name (RPC delivery, promise jobs)', match: native(/^$/) },
  { name: 'garbage collector', match: native(/^\(garbage collector\)$/) },
  { name: 'runtime outside JS (`(program)`: I/O, RPC, HTTP)', match: native(/^\(program\)$/) },
  { name: 'idle', match: native(/^\(idle\)$/) },
];

interface Entry extends Rule {
  /** Column heading of the activity × entry point table. */
  short: string;
}

const ENTRIES: readonly Entry[] = [
  { short: 'edge', name: 'edge Worker: HTTP request (Hono, auth, RPC to the member, response)', match: inFile(/^src\/api\/|node_modules\/hono\//) },
  { short: 'client write', name: 'member: client request (`handle`, `lead`)', match: inFile(/^src\/objects\/replica-object\.ts$/, /^(handle|lead)$/) },
  { short: 'peer message', name: 'member: message from a peer (`sync`, `replicate`: its eager push or gossip)', match: inFile(/^src\/objects\/replica-object\.ts$/, /^(sync|replicate)$/) },
  { short: 'own gossip', name: 'member: own gossip round (`alarm`, and the replies it receives)', match: any(inFile(/^src\/objects\/replica-object\.ts$/, /^alarm$/), inFile(/^src\/core\/anti-entropy\.ts$/, /^gossipRound$/)) },
  { short: 'eager push', name: 'member: eager push to peers (after the answer)', match: inFile(/^src\/core\/eager-push\.ts$/) },
  { short: 'start', name: 'member: start (rebuild from SQLite)', match: inFile(/^src\/objects\/replica-object\.ts$/, /^init$/) },
];
const NO_ENTRY = 'no entry frame on the stack (async continuations, runtime, GC)';

interface Loaded {
  name: string;
  byId: Map<number, Node>;
  parent: Map<number, number>;
  /** [leaf node id, µs] per sample. */
  samples: [number, number][];
  totalUs: number;
}

function load(path: string): Loaded {
  const p = JSON.parse(readFileSync(path, 'utf8')) as CpuProfile;
  const byId = new Map(p.nodes.map((n) => [n.id, n]));
  const parent = new Map<number, number>();
  for (const n of p.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
  const ids = p.samples ?? [];
  const deltas = p.timeDeltas ?? [];
  // A sample lasts until the next one; the last one is given the median interval.
  const typical = [...deltas].sort((a, b) => a - b)[Math.floor(deltas.length / 2)] ?? 0;
  const samples: [number, number][] = ids.map((id, i) => [id, Math.max(0, deltas[i + 1] ?? typical)]);
  return { name: path, byId, parent, samples, totalUs: samples.reduce((n, [, us]) => n + us, 0) };
}

function stack(l: Loaded, leaf: number): Frame[] {
  const out: Frame[] = [];
  for (let id: number | undefined = leaf; id !== undefined; id = l.parent.get(id)) out.push(l.byId.get(id)!.callFrame);
  return out;
}

const key = (f: Frame): string => `${f.functionName || '(anonymous)'} — ${file(f) || '(native)'}${f.lineNumber >= 0 && f.url ? `:${f.lineNumber + 1}` : ''}`;
const pct = (us: number, of: number): string => `${((100 * us) / of).toFixed(1)} %`;
const msOf = (us: number): string => (us / 1000).toFixed(0);

function summarise(l: Loaded, top: number, writes: number | undefined): string[] {
  const perWrite = (us: number): string => (writes ? ` ${(us / 1000 / writes).toFixed(2)} |` : '');
  const perWriteHead = writes ? ' ms / write |' : '';
  const perWriteRule = writes ? ' --- |' : '';
  const activity = new Map<string, number>();
  const entry = new Map<string, number>();
  /** activity → entry → µs */
  const cross = new Map<string, Map<string, number>>();
  const self = new Map<string, number>();
  const total = new Map<string, number>();
  const lines = new Map<string, number>();
  let idle = 0;
  for (const [leaf, us] of l.samples) {
    const frames = stack(l, leaf);
    const leafFrame = frames[0]!;
    if (leafFrame.functionName === '(idle)') idle += us;
    let best = ACTIVITIES.length;
    for (const f of frames) {
      const i = ACTIVITIES.findIndex((r) => r.match(f));
      if (i >= 0 && i < best) best = i;
    }
    const a = best < ACTIVITIES.length ? ACTIVITIES[best]!.name : 'other';
    activity.set(a, (activity.get(a) ?? 0) + us);
    // The outermost match, except that a gossip round's `receive` of a reply is the round's
    // own work though it resumes from the runtime (an async continuation) rather than `alarm`.
    let outer = NO_ENTRY;
    for (let i = frames.length - 1; i >= 0; i--) {
      const r = ENTRIES.find((e) => e.match(frames[i]!));
      if (r) {
        outer = r.name;
        break;
      }
    }
    entry.set(outer, (entry.get(outer) ?? 0) + us);
    const row = cross.get(a) ?? new Map<string, number>();
    row.set(outer, (row.get(outer) ?? 0) + us);
    cross.set(a, row);
    self.set(key(leafFrame), (self.get(key(leafFrame)) ?? 0) + us);
    const seen = new Set<string>();
    for (const f of frames) {
      const k = key(f);
      if (seen.has(k)) continue;
      seen.add(k);
      total.set(k, (total.get(k) ?? 0) + us);
    }
  }
  // Hot lines of Concord's own code, from the ticks V8 records per line of a function.
  for (const n of l.byId.values()) {
    if (!/^src\//.test(file(n.callFrame))) continue;
    for (const t of n.positionTicks ?? []) {
      const k = `${file(n.callFrame)}:${t.line} (in ${n.callFrame.functionName || '(anonymous)'})`;
      lines.set(k, (lines.get(k) ?? 0) + t.ticks);
    }
  }
  const busy = l.totalUs - idle;
  const sorted = (m: Map<string, number>): [string, number][] => [...m].sort((a, b) => b[1] - a[1]);
  const out: string[] = [];
  out.push(`### ${l.name}`);
  out.push('');
  out.push(
    `${msOf(l.totalUs)} ms sampled, of which ${msOf(busy)} ms busy (${pct(busy, l.totalUs)})` +
      `${writes ? `, ${(busy / 1000 / writes).toFixed(1)} ms per write over ${writes} writes` : ''}; shares below are of busy time.`,
  );
  out.push('');
  out.push(`| activity (first matching rule along the stack) | ms | share of busy |${perWriteHead}`);
  out.push(`| --- | --- | --- |${perWriteRule}`);
  for (const [name, us] of sorted(activity)) if (name !== 'idle') out.push(`| ${name} | ${msOf(us)} | ${pct(us, busy)} |${perWrite(us)}`);
  out.push('');
  out.push(`| entry point (outermost Concord frame) | ms | share of busy |${perWriteHead}`);
  out.push(`| --- | --- | --- |${perWriteRule}`);
  entry.set(NO_ENTRY, (entry.get(NO_ENTRY) ?? 0) - idle);
  for (const [name, us] of sorted(entry)) out.push(`| ${name} | ${msOf(us)} | ${pct(us, busy)} |${perWrite(us)}`);
  out.push('');
  const cols = [...ENTRIES.filter((e) => entry.has(e.name)).map((e) => [e.name, e.short] as const), [NO_ENTRY, 'none'] as const];
  out.push(`| activity × entry point, % of busy | ${cols.map(([, short]) => short).join(' | ')} |`);
  out.push(`| --- | ${cols.map(() => '---').join(' | ')} |`);
  for (const [name] of sorted(activity)) {
    if (name === 'idle') continue;
    const row = cross.get(name)!;
    out.push(`| ${name} | ${cols.map(([col]) => ((row.get(col) ?? 0) / busy >= 0.0005 ? ((100 * (row.get(col) ?? 0)) / busy).toFixed(1) : '')).join(' | ')} |`);
  }
  out.push('');
  out.push(`| top ${top} by self time | ms | share of busy |`);
  out.push('| --- | --- | --- |');
  for (const [name, us] of sorted(self).filter(([k]) => !k.startsWith('(idle)')).slice(0, top)) out.push(`| ${name} | ${msOf(us)} | ${pct(us, busy)} |`);
  out.push('');
  out.push(`| top ${top} of Concord's functions by total time (self + callees) | ms | share of busy |`);
  out.push('| --- | --- | --- |');
  for (const [name, us] of sorted(total).filter(([k]) => / — src\//.test(k)).slice(0, top)) out.push(`| ${name} | ${msOf(us)} | ${pct(us, busy)} |`);
  if (lines.size > 0) {
    const ticks = [...lines.values()].reduce((a, b) => a + b, 0);
    out.push('');
    out.push(`| hottest lines of \`src/\` (self samples per line) | samples | share of src self samples |`);
    out.push('| --- | --- | --- |');
    for (const [name, n] of sorted(lines).slice(0, top)) out.push(`| ${name} | ${n} | ${((100 * n) / ticks).toFixed(1)} % |`);
  }
  return out;
}

const files = process.argv.slice(2).filter((a) => !a.startsWith('--'));
const option = (name: string): number | undefined => {
  const arg = process.argv.find((a) => a.startsWith(`--${name}=`));
  return arg ? Number(arg.slice(name.length + 3)) : undefined;
};
const top = option('top') ?? 20;
/** The writes of the profiled run (the bench prints them), for a column of milliseconds per write. */
const writes = option('writes');
if (files.length === 0) {
  process.stderr.write('usage: npm run -s bench:profile-summary -- <file.cpuprofile>… [--top=N] [--writes=N]\n');
  process.exit(2);
}
const out: string[] = [];
for (const f of files) out.push(...summarise(load(f), top, writes), '');
process.stdout.write(out.join('\n'));
