/** What every entry of the SDK exports besides its `ConcordClient` (engine-free). */
export { ConcordClientBase, type ConcordClientOptions, type DocOptions, type Status } from './client.js';
export { DocHandle, type ChangeEvent, type SyncState } from './handle.js';
export type { Consistency, WebSocketCtor } from './core.js';
export { AuthError, ConcordHttpError, EngineMismatchError, EngineUnavailableError, OfflineError } from './errors.js';
export { backoffCeiling, backoffDelay, type BackoffOptions, DEFAULT_BACKOFF } from './backoff.js';
export type { ClientEngine, Origin } from './replicas.js';
export type { EngineName } from './store.js';
