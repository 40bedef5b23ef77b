/**
 * Concord's offline-first client SDK (`concord/client`). See client/README.md.
 */
export { ConcordClient, type ConcordClientOptions, type DocOptions, type Status } from './client.js';
export { DocHandle, type ChangeEvent, type SyncState } from './handle.js';
export type { Consistency, WebSocketCtor } from './core.js';
export { AuthError, ConcordHttpError, EngineMismatchError, OfflineError } from './errors.js';
export { backoffCeiling, backoffDelay, type BackoffOptions, DEFAULT_BACKOFF } from './backoff.js';
export type { Origin } from './replicas.js';
export type { EngineName } from './store.js';

