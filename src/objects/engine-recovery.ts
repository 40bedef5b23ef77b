/**
 * The way back when Automerge's wasm module itself is broken (a trap left it unusable for
 * every document of this isolate): load a second, independent instance of the module and
 * point Automerge at it.
 *
 * @remarks The package initialises the workerd glue at import; its `web` glue is a separate
 * module with its own instance, which `initializeWasm` starts from the compiled module and
 * installs with `use()`. That is one spare instance per isolate: a second breakage leaves
 * {@link recoverEngines} answering false, and the object resets itself so that the runtime
 * may give it a fresh isolate.
 */
import * as A from '@automerge/automerge';
import automergeWasm from '@automerge/automerge/automerge.wasm';
import { enginesHealthy } from '../core/engines/health.js';

let spareUsed = false;

/** True when the engines work (again); tries the spare wasm instance once per isolate. */
export async function recoverEngines(): Promise<boolean> {
  if (enginesHealthy()) return true;
  if (spareUsed) return false;
  spareUsed = true;
  try {
    // The glue instantiates a compiled module as well as bytes; the declared type omits it.
    await A.initializeWasm(automergeWasm as unknown as Uint8Array);
  } catch (err) {
    console.error('ReplicaObject:recoverEngines could not start the spare wasm instance', err);
    return false;
  }
  return enginesHealthy();
}

/**
 * Test environment only: makes every Automerge call fail the way a trapped wasm module
 * does, so that tests can prove the way back. Installs a dead API through `use()`.
 */
export function breakAutomergeWasm(): void {
  const trap = (): never => {
    throw new WebAssembly.RuntimeError('unreachable (injected: the wasm module is broken)');
  };
  const dead: Record<string, () => never> = {};
  for (const k of API_FUNCTIONS) dead[k] = trap;
  A.use(dead as unknown as Parameters<typeof A.use>[0]);
}

/** The functions Automerge's `use()` takes from a wasm instance. */
const API_FUNCTIONS = [
  'create', 'load', 'encodeChange', 'decodeChange', 'initSyncState', 'encodeSyncMessage', 'decodeSyncMessage',
  'encodeSyncState', 'decodeSyncState', 'exportSyncState', 'importSyncState', 'readBundle', 'wasmReleaseInfo',
];
