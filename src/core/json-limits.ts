/**
 * Limits on JSON values that enter the system, checked without recursion so that hostile
 * input can never exhaust the stack: nesting depth (`MAX_DEPTH`) and numbers JSON cannot hold.
 *
 * @remarks Every recursive walk further in (Automerge's diff and materialisation, the JSON
 * renderers) runs on values that passed here, so their depth is bounded by the limit.
 */
import { DepthLimitError, InvalidDocumentError } from './errors.js';

/** The default nesting bound: deep enough for any real document, far from any stack limit. */
export const DEFAULT_MAX_DEPTH = 64;

/**
 * The nesting depth of `value`: 0 for a primitive, 1 for `{}` or `[]`, one more per level.
 * Stops counting at `stopAt` (a value deeper than the limit need not be walked to the end).
 */
export function jsonDepth(value: unknown, stopAt = Infinity): number {
  let max = 0;
  const stack: [unknown, number][] = [[value, 0]];
  while (stack.length > 0) {
    const [v, d] = stack.pop()!;
    if (typeof v !== 'object' || v === null) continue;
    const depth = d + 1;
    if (depth > max) max = depth;
    if (max > stopAt) return max;
    for (const child of Array.isArray(v) ? v : Object.values(v)) {
      if (typeof child === 'object' && child !== null) stack.push([child, depth]);
    }
  }
  return max;
}

/**
 * Checks a parsed JSON value: nesting at most `maxDepth`, every number finite.
 * `what` names the value in the error (`the request body`, `operation 3's value`).
 * @throws DepthLimitError, InvalidDocumentError (a number JSON cannot hold, e.g. `1e999`)
 */
export function checkJsonValue(value: unknown, maxDepth: number, what: string): void {
  const stack: [unknown, number][] = [[value, 0]];
  while (stack.length > 0) {
    const [v, d] = stack.pop()!;
    if (typeof v === 'number' && !Number.isFinite(v)) {
      throw new InvalidDocumentError(`${what} holds a number JSON cannot represent as a finite value`);
    }
    if (typeof v !== 'object' || v === null) continue;
    const depth = d + 1;
    if (depth > maxDepth) throw new DepthLimitError(what, maxDepth);
    for (const child of Array.isArray(v) ? v : Object.values(v)) stack.push([child, depth]);
  }
}

/**
 * The nesting depth of JSON text, read from its brackets without parsing, so that a body
 * nested 100,000 deep is refused before `JSON.parse` or anything else walks it.
 * @returns the depth, or a number past `stopAt` as soon as the text goes deeper.
 */
export function jsonTextDepth(text: string, stopAt = Infinity): number {
  let depth = 0;
  let max = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (inString) {
      if (c === 0x5c) i++; // backslash: skip the escaped character
      else if (c === 0x22) inString = false;
    } else if (c === 0x22) inString = true;
    else if (c === 0x7b || c === 0x5b) {
      if (++depth > max) {
        max = depth;
        if (max > stopAt) return max;
      }
    } else if (c === 0x7d || c === 0x5d) depth--;
  }
  return max;
}
