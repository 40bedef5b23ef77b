/**
 * The request body bound (`MAX_BODY_BYTES`, default 1 MiB), enforced while the body streams
 * in, so an oversized upload is refused before it is buffered whole.
 *
 * @remarks A body whose length is declared (`Content-Length`) and too large is refused
 * unread: the runtime knows where it ends and skips it itself. A chunked body is different:
 * once the Worker has read part of it, what it leaves unread is left on the connection, and
 * the next request on that connection stalls (reproduced on `wrangler dev`, whose proxy
 * waits for the rest forever) or the connection is reset under a client still sending, which
 * can lose the 413. So the rest of an oversized chunked body is read and discarded before
 * the 413 is answered, up to a bound: past it the body is cancelled, as a client streaming
 * without end must not hold the Worker.
 */
import type { MiddlewareHandler } from 'hono';
import type { AppEnv } from './context.js';
import { ApiProblem } from './problems.js';

/** How much of an oversized chunked body is discarded so that its connection stays usable. */
export const DRAIN_BYTES_PER_LIMIT = 16;
/** How long discarding may take; a client that stops sending mid-body is not waited for. */
export const DRAIN_MS = 5_000;

const tooLarge = (max: number): ApiProblem => new ApiProblem('payload-too-large', `the request body exceeds ${max} bytes`);

/** Reads and discards the rest of a body, within `bytes` and `ms`; cancels whatever remains. */
async function drain(reader: ReadableStreamDefaultReader<Uint8Array>, bytes: number, ms: number): Promise<void> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<'timeout'>((resolve) => {
    timer = setTimeout(() => resolve('timeout'), ms);
  });
  try {
    for (let left = bytes; left > 0; ) {
      const r = await Promise.race([reader.read(), timeout]);
      if (r === 'timeout') break;
      if (r.done) return;
      left -= r.value.byteLength;
    }
    await reader.cancel('request body too large');
  } catch {
    // A body that fails while being discarded is gone either way; the 413 still stands.
  } finally {
    clearTimeout(timer);
  }
}

/** Middleware: 413 `payload-too-large` past `config.maxBodyBytes`. Place after auth, before the body is read. */
export const limitBody: MiddlewareHandler<AppEnv> = async (c, next) => {
  const max = c.get('config').maxBodyBytes;
  const body = c.req.raw.body;
  if (!body) return next();
  const declared = c.req.header('Content-Length');
  if (declared !== undefined && c.req.header('Transfer-Encoding') === undefined) {
    if (Number(declared) > max) throw tooLarge(max);
    return next();
  }
  const reader = body.getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    size += value.byteLength;
    if (size > max) {
      await drain(reader, DRAIN_BYTES_PER_LIMIT * max, DRAIN_MS);
      throw tooLarge(max);
    }
    chunks.push(value);
  }
  const all = new Uint8Array(size);
  let at = 0;
  for (const chunk of chunks) {
    all.set(chunk, at);
    at += chunk.byteLength;
  }
  // Handlers read the body from `c.req`, as if it had never been streamed.
  c.req.raw = new Request(c.req.raw, { body: all });
  await next();
};
