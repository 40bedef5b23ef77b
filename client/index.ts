/**
 * Concord's offline-first client SDK (`concord/client`), both engines. See client/README.md.
 * An application that uses one engine imports `concord/client/yjs` or
 * `concord/client/automerge` instead, and bundles that engine alone.
 */
import { ConcordClientBase, type ConcordClientOptions } from './client.js';
import { automergeEngine } from './engine-automerge.js';
import { yjsEngine } from './engine-yjs.js';
import type { EngineName } from './store.js';

export * from './common.js';

/** A client that opens Automerge and Yjs documents. */
export class ConcordClient extends ConcordClientBase<EngineName> {
  constructor(opts: ConcordClientOptions) {
    super(opts, [automergeEngine, yjsEngine]);
  }
}
