/**
 * `concord/client/automerge`: the SDK with the Automerge engine only. Its bundle holds no
 * Yjs (test/client/bundles.test.ts checks): presence uses y-protocols' `Awareness` and lib0
 * without a Y.Doc (see engine-automerge.ts). `doc()` of a Yjs document throws
 * `EngineUnavailableError`. See client/README.md.
 */
import { ConcordClientBase, type ConcordClientOptions } from './client.js';
import { automergeEngine } from './engine-automerge.js';

export * from './common.js';

/** A client that opens Automerge documents. */
export class ConcordClient extends ConcordClientBase<'automerge'> {
  constructor(opts: ConcordClientOptions) {
    super(opts, [automergeEngine]);
  }
}
