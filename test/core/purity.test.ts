import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';

const CORE = join(import.meta.dirname, '../../src/core');

function files(dir: string): string[] {
  return readdirSync(dir).flatMap((f) => {
    const p = join(dir, f);
    return statSync(p).isDirectory() ? files(p) : p.endsWith('.ts') ? [p] : [];
  });
}

describe('src/core is pure', () => {
  const sources = files(CORE).map((p) => ({ p, text: readFileSync(p, 'utf8') }));

  it('imports only yjs, Automerge and other core modules', () => {
    for (const { p, text } of sources) {
      const statements = /^\s*(?:import|export)\s[\w*{}\s,]*?from\s*['"]([^'"]+)['"]|^\s*import\s*['"]([^'"]+)['"]|\bimport\s*\(\s*['"]([^'"]+)['"]/gm;
      for (const [, fromSpec, bareSpec, dynamicSpec] of text.matchAll(statements)) {
        const spec = fromSpec ?? bareSpec ?? dynamicSpec;
        const ok = spec!.startsWith('./') || spec!.startsWith('../') || spec === 'yjs' || spec === '@automerge/automerge';
        expect(ok, `${p} imports ${spec}`).toBe(true);
        if (spec!.startsWith('../')) {
          const resolved = join(p, '..', spec!);
          expect(resolved.startsWith(CORE), `${p} reaches outside src/core: ${spec}`).toBe(true);
        }
      }
    }
  });

  it('reads no clock, randomness or timers of its own', () => {
    for (const { p, text } of sources) {
      const code = text.replace(/\/\*[\s\S]*?\*\//g, '').replace(/\/\/.*$/gm, '');
      expect(code, p).not.toMatch(/Date\.now\(|new Date\(|Math\.random\(|setTimeout\(|setInterval\(|performance\.now\(/);
    }
  });
});
