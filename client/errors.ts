/** Errors the SDK surfaces: each says what happened and what the caller can do. */

/** A request that needs the server (a `strong` or `quorum` read) was made while offline. */
export class OfflineError extends Error {
  override readonly name = 'OfflineError';
  constructor(message = 'offline: this read needs the network, and the server cannot be reached') {
    super(message);
  }
}

/**
 * The server refused the token: 401 (missing, invalid or expired, after one `tokenRefresh`)
 * or 403 (namespace or scope not granted; also a write over a read-only token, WebSocket
 * close 1008). Syncing stops; local edits are kept, in IndexedDB too, and go out once
 * `client.setToken()` supplies a token that works.
 */
export class AuthError extends Error {
  override readonly name = 'AuthError';
  constructor(
    readonly status: 401 | 403,
    detail: string,
  ) {
    super(`${status === 401 ? 'unauthorized' : 'forbidden'}: ${detail}`);
  }
}

/** Any other error answer of the HTTP API (an RFC 9457 problem). */
export class ConcordHttpError extends Error {
  override readonly name = 'ConcordHttpError';
  constructor(
    readonly status: number,
    readonly code: string,
    detail: string,
  ) {
    super(`${status} ${code}: ${detail}`);
  }
}

/** The document exists with another engine than the handle asked for (HTTP 409, close 4409). */
export class EngineMismatchError extends Error {
  override readonly name = 'EngineMismatchError';
}

/**
 * `client.doc()` / `client.open()` asked for an engine this entry of the SDK was not built
 * with: `concord/client/yjs` opens Yjs documents only, `concord/client/automerge` Automerge
 * only, `concord/client` both. Thrown before anything is stored or sent.
 */
export class EngineUnavailableError extends Error {
  override readonly name = 'EngineUnavailableError';
  constructor(
    /** The engine asked for. */
    readonly engine: string,
    /** The engines this client can open. */
    readonly available: readonly string[],
  ) {
    super(
      `this ConcordClient cannot open ${JSON.stringify(engine)} documents: it was built with ${available.map((e) => JSON.stringify(e)).join(' and ') || 'no engine'}` +
        ` (import ConcordClient from 'concord/client' for both engines, or from 'concord/client/${engine === 'yjs' ? 'yjs' : 'automerge'}')`,
    );
  }
}
