/**
 * A CPU profile of the Worker's isolate under `wrangler dev`, through the DevTools protocol
 * on wrangler's `--inspector-port` (what Chrome's DevTools would connect to). In workerd one
 * isolate runs the Worker and every Durable Object of the script, so one profile covers the
 * edge, the members and their RPC.
 *
 * The protocol is spoken over the WebSocket global, which Node 20 has only with
 * `--experimental-websocket` (`NODE_OPTIONS=--experimental-websocket`; Node 22 has it by
 * default): no extra dependency, and nothing leaves 127.0.0.1.
 *
 * The saved profile's call frames are rewritten to the TypeScript sources with wrangler's
 * source map of its bundle, read while wrangler still runs (the bundle lives in a temporary
 * directory that goes away with it).
 */
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { SourceMap } from 'node:module';
import { dirname, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ROOT } from '../test/e2e/wrangler.js';

/** The parts of a `Profiler.Profile` this module reads and writes. */
export interface CpuProfile {
  nodes: {
    id: number;
    callFrame: { functionName: string; scriptId: string; url: string; lineNumber: number; columnNumber: number };
    hitCount?: number;
    children?: number[];
    /** Samples per line of the function (1-based lines). */
    positionTicks?: { line: number; ticks: number }[];
  }[];
  startTime: number;
  endTime: number;
  samples?: number[];
  timeDeltas?: number[];
}

interface Reply {
  id?: number;
  method?: string;
  params?: Record<string, unknown>;
  result?: Record<string, unknown>;
  error?: { message: string };
}

const CONNECT_TIMEOUT_MS = 10_000;
const CALL_TIMEOUT_MS = 60_000;

export class CpuProfiler {
  private nextId = 1;
  private readonly waiting = new Map<number, { resolve: (r: Record<string, unknown>) => void; reject: (e: Error) => void }>();
  /** Source map URLs of the scripts the isolate has parsed, by script id. */
  private readonly maps = new Map<string, { url: string; sourceMapURL: string }>();

  private constructor(private readonly ws: WebSocket) {
    ws.addEventListener('message', (ev) => {
      const msg = JSON.parse(String(ev.data)) as Reply;
      if (msg.method === 'Debugger.scriptParsed') {
        const p = msg.params as { scriptId: string; url: string; sourceMapURL?: string };
        if (p.sourceMapURL) this.maps.set(p.scriptId, { url: p.url, sourceMapURL: p.sourceMapURL });
      }
      if (msg.id === undefined) return;
      const w = this.waiting.get(msg.id);
      if (!w) return;
      this.waiting.delete(msg.id);
      if (msg.error) w.reject(new Error(msg.error.message));
      else w.resolve(msg.result ?? {});
    });
    ws.addEventListener('close', () => {
      for (const w of this.waiting.values()) w.reject(new Error('the inspector closed the connection'));
      this.waiting.clear();
    });
  }

  /** Connects to the first target wrangler's inspector lists. */
  static async connect(inspectorPort: number): Promise<CpuProfiler> {
    if (typeof WebSocket === 'undefined') {
      throw new Error('profiling needs a WebSocket global: run with NODE_OPTIONS=--experimental-websocket on Node 20');
    }
    const targets = (await (await fetch(`http://127.0.0.1:${inspectorPort}/json`)).json()) as { webSocketDebuggerUrl?: string }[];
    const url = targets.find((t) => t.webSocketDebuggerUrl)?.webSocketDebuggerUrl;
    if (!url) throw new Error(`wrangler's inspector on port ${inspectorPort} lists no target`);
    // wrangler's proxy refuses a connection without an Origin from a local host (it guards
    // against sites in a browser); Node's WebSocket takes headers as an undici extension.
    const ws = new WebSocket(url, { headers: { Origin: 'http://127.0.0.1' } } as unknown as string[]);
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no connection to ${url} within ${CONNECT_TIMEOUT_MS} ms`)), CONNECT_TIMEOUT_MS);
      ws.addEventListener('open', () => (clearTimeout(timer), resolve()), { once: true });
      ws.addEventListener('error', () => (clearTimeout(timer), reject(new Error(`cannot connect to ${url}`))), { once: true });
    });
    return new CpuProfiler(ws);
  }

  private send(method: string, params: Record<string, unknown> = {}): Promise<Record<string, unknown>> {
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiting.delete(id);
        reject(new Error(`${method}: no answer within ${CALL_TIMEOUT_MS} ms`));
      }, CALL_TIMEOUT_MS);
      this.waiting.set(id, {
        resolve: (r) => (clearTimeout(timer), resolve(r)),
        reject: (e) => (clearTimeout(timer), reject(e)),
      });
      this.ws.send(JSON.stringify({ id, method, params }));
    });
  }

  /**
   * Starts sampling every `intervalUs` µs. The debugger is enabled for a moment first, only
   * to learn the scripts' source maps (it replays `scriptParsed` for every loaded script),
   * and disabled again so it costs the measured code nothing.
   */
  async start(intervalUs = 200): Promise<void> {
    await this.send('Debugger.enable');
    await this.send('Debugger.disable');
    await this.send('Profiler.enable');
    await this.send('Profiler.setSamplingInterval', { interval: intervalUs });
    await this.send('Profiler.start');
  }

  async stop(): Promise<CpuProfile> {
    const result = (await this.send('Profiler.stop')) as { profile?: CpuProfile };
    await this.send('Profiler.disable');
    if (!result.profile) throw new Error(`Profiler.stop answered without a profile: ${JSON.stringify(result).slice(0, 200)}`);
    return result.profile;
  }

  /** Stops, maps the call frames to sources, and writes the profile (Chrome's `.cpuprofile` format). */
  async save(file: string): Promise<CpuProfile> {
    const profile = this.toSources(await this.stop());
    writeFileSync(file, JSON.stringify(profile));
    return profile;
  }

  close(): void {
    this.ws.close();
  }

  /**
   * Rewrites call frames of bundled scripts to their original file, line and column (those
   * of the function's start), so a profile stays readable after wrangler's bundle is gone.
   */
  private toSources(profile: CpuProfile): CpuProfile {
    type Found = { map: SourceMap; dir: string; lines: string[] };
    const decoded = new Map<string, Found | undefined>();
    const mapOf = (scriptId: string): Found | undefined => {
      if (decoded.has(scriptId)) return decoded.get(scriptId);
      let found: Found | undefined;
      const m = this.maps.get(scriptId);
      if (m) {
        try {
          const { text, dir } = readMap(m.url, m.sourceMapURL);
          const script = m.url.startsWith('file:') ? readFileSync(fileURLToPath(m.url), 'utf8') : '';
          found = { map: new SourceMap(JSON.parse(text) as ConstructorParameters<typeof SourceMap>[0]), dir, lines: script.split('\n') };
        } catch {
          found = undefined;
        }
      }
      decoded.set(scriptId, found);
      return found;
    };
    type Entry = { originalSource?: string; originalLine?: number; originalColumn?: number };
    for (const node of profile.nodes) {
      const f = node.callFrame;
      const found = mapOf(f.scriptId);
      if (!found || f.lineNumber < 0) continue;
      const e = found.map.findEntry(f.lineNumber, f.columnNumber) as Entry;
      if (!e.originalSource) continue;
      // Sources are relative to the map, in a temporary directory: relative to the repository, they stay meaningful.
      f.url = relative(ROOT, resolve(found.dir, e.originalSource.replace(/^file:\/\//, '')));
      f.lineNumber = e.originalLine ?? f.lineNumber;
      f.columnNumber = e.originalColumn ?? f.columnNumber;
      // A tick names a line of the bundle; its first code column finds the source line.
      node.positionTicks = node.positionTicks?.map(({ line, ticks }) => {
        const col = Math.max(0, (found.lines[line - 1] ?? '').search(/\S/));
        const t = found.map.findEntry(line - 1, col) as Entry;
        return { line: t.originalLine !== undefined ? t.originalLine + 1 : line, ticks };
      });
    }
    return profile;
  }
}

/** Milliseconds the isolate was not idle: a sample lasts until the next one. */
export function busyMs(p: CpuProfile): number {
  const idle = new Set(p.nodes.filter((n) => n.callFrame.functionName === '(idle)').map((n) => n.id));
  const ids = p.samples ?? [];
  const deltas = p.timeDeltas ?? [];
  let us = 0;
  for (let i = 0; i + 1 < ids.length; i++) if (!idle.has(ids[i]!)) us += deltas[i + 1] ?? 0;
  return us / 1000;
}

/** A source map's text (inline as `data:`, or a file beside the script) and the directory its sources are relative to. */
function readMap(scriptUrl: string, sourceMapURL: string): { text: string; dir: string } {
  const scriptDir = scriptUrl.startsWith('file:') ? dirname(fileURLToPath(scriptUrl)) : ROOT;
  const inline = /^data:application\/json(?:;charset=[^;,]+)?(;base64)?,(.*)$/s.exec(sourceMapURL);
  if (inline) {
    const text = inline[1] ? Buffer.from(inline[2]!, 'base64').toString('utf8') : decodeURIComponent(inline[2]!);
    return { text, dir: scriptDir };
  }
  const url = new URL(sourceMapURL, scriptUrl);
  if (url.protocol !== 'file:') throw new Error(`source map ${sourceMapURL} is not a file`);
  const path = fileURLToPath(url);
  if (!existsSync(path)) throw new Error(`no source map at ${path}`);
  return { text: readFileSync(path, 'utf8'), dir: dirname(path) };
}
