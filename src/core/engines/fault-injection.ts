/**
 * Engine faults on demand, for the simulator and the test environment: a loader whose
 * engines throw a plain `Error` (not a typed validation error) from a chosen method, the
 * way a broken wasm module or an exhausted stack would. Never used in production paths
 * unless a test arms it.
 */
import { restoreEngine } from './index.js';
import type { Engine, EngineName, EngineOptions } from './engine.js';

/** Loads a document's engine from stored chunks; `doc` names the document, for fault injection. */
export type EngineLoader = (name: EngineName, chunks: readonly Uint8Array[], opts: EngineOptions, doc?: string) => Engine;

type Method = Exclude<keyof Engine, 'name'>;
const METHODS: readonly Method[] = [
  'applyUpdate', 'merge', 'free', 'toJSON', 'save', 'version', 'deltaSince', 'clear', 'replace', 'mergePatch', 'applyOps',
];

const ENGINE_EXTRAS = ['syncReceive', 'syncGenerate'] as const;

export class EngineFaults {
  private armed = new Map<Method | 'any', { skip: number; left: number; doc: string | undefined }>();
  /** Faults raised so far. */
  raised = 0;

  /**
   * After `skip` more calls of `method` on the engines of `doc` (of any document when
   * undefined), the next `times` throw.
   */
  failNext(method: Method | 'any', times = 1, skip = 0, doc?: string): void {
    this.armed.set(method, { skip, left: times, doc });
  }

  clear(): void {
    this.armed.clear();
  }

  /** Wraps `load` (the trusted restore by default) so that its engines raise armed faults. */
  loader(load: EngineLoader = restoreEngine): EngineLoader {
    return (name, chunks, opts, doc) => this.wrap(load(name, chunks, opts, doc), doc);
  }

  private trip(method: Method, doc: string | undefined): void {
    if (method === 'free') return;
    for (const key of [method, 'any'] as const) {
      const a = this.armed.get(key);
      if (!a || a.left === 0 || (a.doc !== undefined && a.doc !== doc)) continue;
      if (a.skip > 0) {
        a.skip--;
        continue;
      }
      a.left--;
      this.raised++;
      throw new Error(`injected engine fault in ${method}`);
    }
  }

  private wrap(engine: Engine, doc: string | undefined): Engine {
    const out: Record<string, unknown> = { name: engine.name };
    // An engine's own methods beyond the interface (Automerge's sync protocol) pass through too.
    const own = ENGINE_EXTRAS.filter((m) => typeof (engine as unknown as Record<string, unknown>)[m] === 'function');
    for (const m of [...METHODS, ...own] as Method[]) {
      const f = (engine[m] as (...a: unknown[]) => unknown).bind(engine);
      out[m] = (...args: unknown[]) => {
        this.trip(m, doc);
        return f(...args);
      };
    }
    return out as unknown as Engine;
  }
}
