/**
 * Runs the real `wrangler dev` for the end-to-end tests and the edge benchmark: the same
 * command the README's quickstart uses (`npm start` = `wrangler dev --ip 127.0.0.1`), on
 * free ports, with state in a directory of its own so that runs never share documents.
 *
 * - Ports: a node `net` server bound to port 0 picks each one; should wrangler still lose a
 *   race for it, the start is retried on other ports (a bounded number of times).
 * - Ready: `GET /healthz` answers 200 (polled, bounded by `readyTimeoutMs`); on failure the
 *   error carries wrangler's output.
 * - Quiet and offline: no metrics, no banner (whose update check would ask the npm
 *   registry), no `Request.cf` download (miniflare's placeholder is used). The only
 *   traffic is to 127.0.0.1.
 * - Stop: SIGTERM to the process group (wrangler and its workerd children), wait until the
 *   group is gone, SIGKILL if it lingers, then remove the state directory unless the caller
 *   supplied it (the benchmark restarts on the same directory).
 */
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The repository root (where wrangler.toml and node_modules are). */
export const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');

export type LogLevel = 'debug' | 'info' | 'log' | 'warn' | 'error' | 'none';

export interface StartOptions {
  /** `--env` of wrangler.toml (`test` adds the fault routes). Default: the top-level config. */
  env?: string;
  /** State directory to use and keep; default: a fresh temporary directory, removed by `stop()`. */
  persistTo?: string;
  /** How long to wait for `GET /healthz` to answer 200. Default 90 s. */
  readyTimeoutMs?: number;
  /** wrangler's `--log-level`; `warn` drops the per-request lines (the benchmark uses it). Default `info`. */
  logLevel?: LogLevel;
  /** Another wrangler config than the root's (relative to the root): the benchmark's floor. */
  config?: string;
  /** `--var` overrides of the config's `[vars]`. */
  vars?: Record<string, string>;
}

export interface WranglerDev {
  /** `http://127.0.0.1:<port>` */
  readonly url: string;
  readonly port: number;
  readonly persistTo: string;
  readonly pid: number;
  /** The DevTools inspector of the Worker's isolate (`--inspector-port`): the benchmark profiles through it. */
  readonly inspectorPort: number;
  /** The last part of wrangler's stdout and stderr, for diagnosing failures. */
  output(): string;
  /** Stops wrangler and its children (idempotent) and removes an owned state directory. */
  stop(): Promise<void>;
}

const OUTPUT_LIMIT = 64 * 1024;
const START_ATTEMPTS = 3;
const POLL_MS = 100;
const STOP_GRACE_MS = 10_000;

const delay = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** A TCP port free on 127.0.0.1 right now (the kernel's choice for port 0). */
export function freePort(): Promise<number> {
  return new Promise((resolvePort, reject) => {
    const srv = createServer();
    srv.unref();
    srv.once('error', reject);
    srv.listen({ host: '127.0.0.1', port: 0, exclusive: true }, () => {
      const addr = srv.address();
      const port = typeof addr === 'object' && addr ? addr.port : 0;
      srv.close(() => (port > 0 ? resolvePort(port) : reject(new Error('no port assigned'))));
    });
  });
}

/** Whether any process of group `pgid` is still alive. */
export function groupAlive(pgid: number): boolean {
  try {
    process.kill(-pgid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Sends `signal` to every process of group `pgid`; a group already gone is not an error. */
export function signalGroup(pgid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(-pgid, signal);
  } catch {
    // already gone
  }
}

/** Polls `cond` every `POLL_MS` until it holds or `ms` have passed; returns whether it held. */
async function until(cond: () => boolean, ms: number): Promise<boolean> {
  const deadline = Date.now() + ms;
  while (!cond()) {
    if (Date.now() >= deadline) return false;
    await delay(POLL_MS);
  }
  return true;
}

// Groups started by this process, killed if it exits without stopping them (a crashed run
// must not leave workerd behind).
const live = new Set<number>();
process.once('exit', () => {
  for (const pgid of live) signalGroup(pgid, 'SIGKILL');
});

class Started implements WranglerDev {
  private buf = '';
  private exited: { code: number | null; signal: NodeJS.Signals | null } | undefined;
  private stopping: Promise<void> | undefined;

  constructor(
    private readonly child: ChildProcess,
    readonly port: number,
    readonly persistTo: string,
    private readonly ownsDir: boolean,
    readonly inspectorPort: number,
  ) {
    const keep = (chunk: Buffer): void => {
      this.buf = (this.buf + chunk.toString('utf8')).slice(-OUTPUT_LIMIT);
    };
    child.stdout?.on('data', keep);
    child.stderr?.on('data', keep);
    child.once('exit', (code, signal) => {
      this.exited = { code, signal };
    });
    live.add(child.pid!);
  }

  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  get pid(): number {
    return this.child.pid!;
  }

  get hasExited(): boolean {
    return this.exited !== undefined;
  }

  output(): string {
    return this.buf;
  }

  describeExit(): string {
    return this.exited ? `wrangler exited (code ${this.exited.code}, signal ${this.exited.signal})` : 'wrangler is running';
  }

  /** Polls `GET /healthz` until 200; throws with wrangler's output if it exits or time runs out. */
  async ready(timeoutMs: number): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    let last = 'no answer yet';
    while (Date.now() < deadline) {
      if (this.exited) throw new Error(`${this.describeExit()} before it was ready`);
      try {
        const res = await fetch(`${this.url}/healthz`, { signal: AbortSignal.timeout(Math.min(5000, Math.max(1, deadline - Date.now()))) });
        await res.arrayBuffer();
        if (res.status === 200) return;
        last = `GET /healthz answered ${res.status}`;
      } catch (e) {
        last = (e as Error).message;
      }
      await delay(POLL_MS);
    }
    throw new Error(`wrangler dev was not ready within ${timeoutMs} ms (${last})`);
  }

  async stop(): Promise<void> {
    await this.kill();
    if (this.ownsDir) rmSync(this.persistTo, { recursive: true, force: true, maxRetries: 5, retryDelay: 100 });
  }

  /** Ends the process group and waits for it; keeps the state directory. */
  kill(): Promise<void> {
    this.stopping ??= this.doKill();
    return this.stopping;
  }

  private async doKill(): Promise<void> {
    const pgid = this.child.pid!;
    signalGroup(pgid, 'SIGTERM');
    if (!(await until(() => !groupAlive(pgid), STOP_GRACE_MS))) {
      signalGroup(pgid, 'SIGKILL');
      await until(() => !groupAlive(pgid), STOP_GRACE_MS);
    }
    await until(() => this.exited !== undefined, STOP_GRACE_MS);
    live.delete(pgid);
  }
}

function spawnWrangler(port: number, inspectorPort: number, persistTo: string, opts: StartOptions): ChildProcess {
  const args = ['dev', '--ip', '127.0.0.1', '--port', String(port), '--inspector-port', String(inspectorPort), '--persist-to', persistTo];
  if (opts.config) args.push('--config', opts.config);
  if (opts.env) args.push('--env', opts.env);
  for (const [k, v] of Object.entries(opts.vars ?? {})) args.push('--var', `${k}:${v}`);
  args.push('--log-level', opts.logLevel ?? 'info');
  return spawn(join(ROOT, 'node_modules', '.bin', 'wrangler'), args, {
    cwd: ROOT,
    detached: true, // its own process group, so stop() reaches workerd too
    stdio: ['ignore', 'pipe', 'pipe'],
    env: {
      ...process.env,
      CI: '1',
      WRANGLER_SEND_METRICS: 'false',
      WRANGLER_HIDE_BANNER: 'true',
      CLOUDFLARE_CF_FETCH_ENABLED: 'false',
      NO_COLOR: '1',
      FORCE_COLOR: '0',
    },
  });
}

const portClash = (out: string): boolean => /EADDRINUSE|address already in use/i.test(out);

/** Starts `wrangler dev` and resolves once `GET /healthz` answers 200. */
export async function startWrangler(opts: StartOptions = {}): Promise<WranglerDev> {
  const ownsDir = opts.persistTo === undefined;
  const persistTo = opts.persistTo ?? mkdtempSync(join(tmpdir(), 'concord-e2e-'));
  const timeout = opts.readyTimeoutMs ?? 90_000;
  let lastError: Error | undefined;
  for (let attempt = 1; attempt <= START_ATTEMPTS; attempt++) {
    const port = await freePort();
    let inspectorPort = await freePort();
    while (inspectorPort === port) inspectorPort = await freePort();
    const dev = new Started(spawnWrangler(port, inspectorPort, persistTo, opts), port, persistTo, ownsDir, inspectorPort);
    try {
      await dev.ready(timeout);
      return dev;
    } catch (e) {
      const out = dev.output();
      await dev.kill();
      lastError = new Error(`${(e as Error).message}\n--- wrangler output (last ${OUTPUT_LIMIT / 1024} KiB) ---\n${out}`);
      if (!(dev.hasExited && portClash(out))) break;
    }
  }
  if (ownsDir) rmSync(persistTo, { recursive: true, force: true });
  throw lastError ?? new Error('wrangler dev did not start');
}

/**
 * A bearer token minted exactly as the README says: `npm run -s token -- <args>`, e.g.
 * `mintToken('--ns', 'demo*', '--scope', 'write')`.
 */
export function mintToken(...args: string[]): Promise<string> {
  return new Promise((resolveToken, reject) => {
    execFile('npm', ['run', '-s', 'token', '--', ...args], { cwd: ROOT, timeout: 60_000 }, (err, stdout, stderr) => {
      if (err) reject(new Error(`npm run -s token -- ${args.join(' ')} failed: ${err.message}\n${stderr}`));
      else resolveToken(stdout.trim());
    });
  });
}
