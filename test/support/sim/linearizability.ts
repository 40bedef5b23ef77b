/**
 * A small linearizability checker (Wing & Gong's search with Lowe's memoisation, as in
 * Knossos and Porcupine) for one object's history. An operation has an invocation time, a
 * completion time (`undefined`: the client never heard, so it may take effect at any point
 * after its invocation, or never) and a step function of the object's state that says whether
 * the operation, with the result its client saw, fits that state and what the state becomes.
 */
export interface HistoryOp<S> {
  readonly name: string;
  readonly invoke: number;
  readonly complete: number | undefined;
  /** The next state if this operation, with its observed result, can happen in `state`; else undefined. */
  readonly step: (state: S) => S | undefined;
}

export type LinearizabilityResult = { readonly ok: true } | { readonly ok: false; readonly reason: string };

/** Explores linearizations depth first; `budget` bounds the states visited. */
export function checkLinearizable<S>(init: S, ops: readonly HistoryOp<S>[], key: (s: S) => string, budget = 200_000): LinearizabilityResult {
  const n = ops.length;
  const done = new Uint8Array(n);
  const seen = new Set<string>();
  let visited = 0;
  let deepest = 0;
  const order = [...ops.keys()].sort((a, b) => ops[a]!.invoke - ops[b]!.invoke);
  const search = (state: S, count: number): boolean => {
    if (++visited > budget) throw new Error(`linearizability search over ${n} operations passed its budget of ${budget} states`);
    deepest = Math.max(deepest, count);
    // The earliest completion among operations not yet placed: only operations invoked before it may go next.
    let horizon = Infinity;
    let remainingDefinite = 0;
    for (let i = 0; i < n; i++) {
      if (done[i] || ops[i]!.complete === undefined) continue;
      remainingDefinite++;
      horizon = Math.min(horizon, ops[i]!.complete!);
    }
    if (remainingDefinite === 0) return true;
    const memo = `${done.join('')}|${key(state)}`;
    if (seen.has(memo)) return false;
    seen.add(memo);
    for (const i of order) {
      const op = ops[i]!;
      if (op.invoke > horizon) break;
      if (done[i]) continue;
      const next = op.step(state);
      if (next === undefined) continue;
      done[i] = 1;
      const ok = search(next, count + 1);
      done[i] = 0;
      if (ok) return true;
    }
    return false;
  };
  if (search(init, 0)) return { ok: true };
  return { ok: false, reason: `no linearization of ${n} operations (at most ${deepest} placed): ${describe(ops)}` };
}

function describe<S>(ops: readonly HistoryOp<S>[]): string {
  return [...ops]
    .sort((a, b) => a.invoke - b.invoke)
    .map((o) => `${o.name}@[${o.invoke},${o.complete ?? '?'}]`)
    .join(' ');
}
