/**
 * The browser project's set-up: Chromium must be there before any test starts. `npm test`
 * already ran `scripts/ensure-chromium.mjs` as its `pretest` step; this runs it again (a
 * no-op once installed) for `npx vitest run --project browser`, and stops the project with
 * the script's own message where it cannot install the browser.
 */
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { ROOT } from '../e2e/wrangler.js';

export default function setup(): void {
  const r = spawnSync(process.execPath, [join(ROOT, 'scripts', 'ensure-chromium.mjs')], { cwd: ROOT, encoding: 'utf8', stdio: ['ignore', 'inherit', 'pipe'] });
  if (r.status !== 0) throw new Error(`Chromium is not available for the browser tests:\n${r.stderr}`);
}
