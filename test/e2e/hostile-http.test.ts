/**
 * Hostile HTTP against the real `wrangler dev`, over raw keep-alive sockets, where fetch
 * would hide what the connection does: a chunked upload past `MAX_BODY_BYTES` must get its
 * 413 and must not stall the next request a client sends on that connection.
 */
import { connect, type Socket } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mintToken, startWrangler, type WranglerDev } from './wrangler.js';

const MAX_BODY_BYTES = 1024 * 1024; // wrangler.toml
const ANSWER_MS = 10_000;

interface Answer {
  status: number;
  headers: Record<string, string>;
  body: string;
}

/**
 * A client on one TCP connection that reads HTTP/1.1 responses as they arrive, or learns
 * that the server closed the connection.
 */
class Connection {
  private buf = Buffer.alloc(0);
  private closed = false;
  private wake: (() => void) | undefined;

  private constructor(private readonly socket: Socket) {
    socket.on('data', (d: Buffer) => {
      this.buf = Buffer.concat([this.buf, d]);
      this.wake?.();
    });
    const end = (): void => {
      this.closed = true;
      this.wake?.();
    };
    socket.on('end', end);
    socket.on('close', end);
    // A server that closes while we still write resets the connection: what counts is what we read.
    socket.on('error', end);
  }

  static open(port: number): Promise<Connection> {
    return new Promise((resolve, reject) => {
      const s = connect({ host: '127.0.0.1', port }, () => resolve(new Connection(s)));
      s.once('error', reject);
    });
  }

  get isClosed(): boolean {
    return this.closed;
  }

  /** Writes, resolving once the bytes are handed to the kernel (or the connection is gone). */
  write(data: string | Buffer): Promise<void> {
    if (this.closed || this.socket.destroyed) return Promise.resolve();
    return new Promise((resolve) => this.socket.write(data, () => resolve()));
  }

  /** Resolves when `ready()` holds or the deadline passes (then `ready()` is checked once more). */
  private async waitFor(ready: () => boolean, ms: number): Promise<boolean> {
    const deadline = Date.now() + ms;
    while (!ready() && !this.closed && Date.now() < deadline) {
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, Math.max(1, deadline - Date.now()));
        this.wake = () => {
          clearTimeout(timer);
          resolve();
        };
      });
      this.wake = undefined;
    }
    return ready();
  }

  /**
   * The next response (a `Content-Length` or chunked body), within `ms`; undefined when the
   * connection closed before a whole response arrived or the time ran out.
   */
  async read(ms = ANSWER_MS): Promise<Answer | undefined> {
    let parsed: { answer: Answer; length: number } | undefined;
    const ready = (): boolean => (parsed = parseResponse(this.buf)) !== undefined;
    if (!(await this.waitFor(ready, ms)) || !parsed) return undefined;
    const { answer, length } = parsed;
    this.buf = this.buf.subarray(length);
    return answer;
  }

  destroy(): void {
    this.socket.destroy();
  }
}

/** One complete response at the start of `buf`, with how many bytes it took. */
function parseResponse(buf: Buffer): { answer: Answer; length: number } | undefined {
  const headEnd = buf.indexOf('\r\n\r\n');
  if (headEnd < 0) return undefined;
  const [statusLine, ...lines] = buf.subarray(0, headEnd).toString('latin1').split('\r\n');
  const status = Number(/^HTTP\/1\.[01] (\d{3})/.exec(statusLine!)?.[1]);
  const headers: Record<string, string> = {};
  for (const line of lines) {
    const i = line.indexOf(':');
    headers[line.slice(0, i).trim().toLowerCase()] = line.slice(i + 1).trim();
  }
  let at = headEnd + 4;
  if (headers['transfer-encoding']?.toLowerCase().includes('chunked')) {
    const parts: Buffer[] = [];
    for (;;) {
      const lineEnd = buf.indexOf('\r\n', at);
      if (lineEnd < 0) return undefined;
      const size = parseInt(buf.subarray(at, lineEnd).toString('latin1'), 16);
      if (buf.length < lineEnd + 2 + size + 2) return undefined;
      parts.push(buf.subarray(lineEnd + 2, lineEnd + 2 + size));
      at = lineEnd + 2 + size + 2;
      if (size === 0) break;
    }
    return { answer: { status, headers, body: Buffer.concat(parts).toString('utf8') }, length: at };
  }
  const length = Number(headers['content-length'] ?? 0);
  if (buf.length < at + length) return undefined;
  return { answer: { status, headers, body: buf.subarray(at, at + length).toString('utf8') }, length: at + length };
}

describe('hostile HTTP on wrangler dev', () => {
  let dev: WranglerDev;
  let token: string;
  const open: Connection[] = [];

  beforeAll(async () => {
    [dev, token] = await Promise.all([startWrangler(), mintToken('--ns', 'demo*', '--scope', 'write')]);
  });
  afterAll(async () => {
    for (const c of open) c.destroy();
    await dev?.stop();
  });

  const connection = async (): Promise<Connection> => {
    const c = await Connection.open(dev.port);
    open.push(c);
    return c;
  };

  const request = (method: string, path: string, headers: Record<string, string> = {}): string =>
    [`${method} ${path} HTTP/1.1`, `Host: 127.0.0.1:${dev.port}`, ...Object.entries(headers).map(([k, v]) => `${k}: ${v}`), '', ''].join('\r\n');

  /** A chunked JSON upload of about `bytes` bytes, in 64 KiB chunks. */
  async function sendChunked(c: Connection, path: string, bytes: number): Promise<void> {
    await c.write(request('PUT', path, { Authorization: `Bearer ${token}`, 'Content-Type': 'application/json', 'Transfer-Encoding': 'chunked' }));
    const chunk = Buffer.alloc(64 * 1024, 'x');
    await c.write(`${(1 + 8).toString(16)}\r\n{"big":"x\r\n`);
    for (let sent = 0; sent < bytes; sent += chunk.length) await c.write(Buffer.concat([Buffer.from(`${chunk.length.toString(16)}\r\n`), chunk, Buffer.from('\r\n')]));
    await c.write('2\r\n"}\r\n0\r\n\r\n');
  }

  it('answers a chunked upload under the limit, then the next request on the connection', async () => {
    const c = await connection();
    await sendChunked(c, '/v1/demo/docs/chunked-small', 128 * 1024);
    const put = await c.read();
    expect(put?.status, put?.body).toBe(201);
    await c.write(request('GET', '/healthz'));
    expect((await c.read())?.status).toBe(200);
  });

  it('answers a chunked upload over MAX_BODY_BYTES with 413 and does not stall the next request on the connection', async () => {
    const c = await connection();
    // Not awaited: the server may answer (and stop reading) before the upload ends.
    const sending = sendChunked(c, '/v1/demo/docs/chunked-big', MAX_BODY_BYTES + 256 * 1024);
    const refused = await c.read();
    expect(refused?.status, refused?.body).toBe(413);
    expect(JSON.parse(refused!.body)).toMatchObject({ type: 'https://concord.dev/problems/payload-too-large' });
    await sending;
    await c.write(request('GET', '/healthz'));
    const next = await c.read();
    expect(next?.status, c.isClosed ? 'the connection closed without answering' : 'no answer in time').toBe(200);
    // Nothing was stored.
    const get = await fetch(`${dev.url}/v1/demo/docs/chunked-big`, { headers: { Authorization: `Bearer ${token}` } });
    expect(get.status).toBe(404);
  });

  it('answers an upload declared too large by Content-Length with 413, then the next request on the connection', async () => {
    const c = await connection();
    const size = MAX_BODY_BYTES + 1;
    const head = request('PUT', '/v1/demo/docs/declared-big', { Authorization: `Bearer ${token}`, 'Content-Type': 'application/json', 'Content-Length': String(size) });
    const sending = c.write(Buffer.concat([Buffer.from(head), Buffer.alloc(size, 'x')]));
    expect((await c.read())?.status).toBe(413);
    await sending;
    await c.write(request('GET', '/healthz'));
    expect((await c.read())?.status).toBe(200);
  });

  it('keeps serving other connections after an oversized upload', async () => {
    const c = await connection();
    void sendChunked(c, '/v1/demo/docs/chunked-big-2', 4 * MAX_BODY_BYTES);
    expect((await c.read())?.status).toBe(413);
    const res = await fetch(`${dev.url}/healthz`, { signal: AbortSignal.timeout(ANSWER_MS) });
    expect(res.status).toBe(200);
  });
});
