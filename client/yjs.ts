/**
 * `concord/client/yjs`: the SDK with the Yjs engine only. Its bundle holds no Automerge
 * (test/client/bundles.test.ts checks); `doc()` of an Automerge document throws
 * `EngineUnavailableError`. See client/README.md.
 */
import { ConcordClientBase, type ConcordClientOptions } from './client.js';
import { yjsEngine } from './engine-yjs.js';

export * from './common.js';

/** A client that opens Yjs documents. */
export class ConcordClient extends ConcordClientBase<'yjs'> {
  constructor(opts: ConcordClientOptions) {
    super(opts, [yjsEngine]);
  }
}
