#!/usr/bin/env node
/**
 * Makes sure Debian's `chromium` is installed for the real-browser tests (`test/browser/`),
 * which drive it with `playwright-core` (`npx playwright install` downloads browsers from a
 * CDN, which a machine with only the npm registry and Debian's mirrors cannot reach).
 *
 * - `/usr/bin/chromium` (or `$CHROMIUM_PATH`) present and runnable: nothing to do.
 * - Missing, on a system with `apt-get`: `apt-get update` (only when the package is
 *   unknown to apt's lists) and `apt-get install -y --no-install-recommends chromium`, as
 *   root or through `sudo -n` (never a password prompt: a test run must not hang on one).
 * - Otherwise it exits 1 with a message saying what to install and how.
 *
 * Runs as `npm test`'s `pretest` step, so `.ci/run` (`npm ci && npm test`) prepares a fresh
 * machine by itself. Concurrent runs are serialised by apt's own lock (`-o
 * DPkg::Lock::Timeout`), and the second one finds the browser installed.
 *
 * Usage: `node scripts/ensure-chromium.mjs` (`--check` only reports, installs nothing).
 */
import { spawnSync } from 'node:child_process';
import { accessSync, constants } from 'node:fs';

const CHROMIUM = process.env.CHROMIUM_PATH || '/usr/bin/chromium';
const checkOnly = process.argv.includes('--check');

const say = (msg) => process.stderr.write(`ensure-chromium: ${msg}\n`);

function runnable(path) {
  try {
    accessSync(path, constants.X_OK);
  } catch {
    return undefined;
  }
  const r = spawnSync(path, ['--version'], { encoding: 'utf8', timeout: 60_000 });
  return r.status === 0 ? r.stdout.trim() : undefined;
}

function has(cmd) {
  return spawnSync('sh', ['-c', `command -v ${cmd}`], { stdio: 'ignore' }).status === 0;
}

function advice() {
  return [
    `the real-browser tests need Chromium at ${CHROMIUM}.`,
    'Install it, then run the tests again:',
    '  Debian/Ubuntu:  sudo apt-get install -y chromium   (Ubuntu: chromium-browser or the snap)',
    '  elsewhere:      install Chromium or Chrome and set CHROMIUM_PATH=/path/to/chromium',
  ].join('\n');
}

const found = runnable(CHROMIUM);
if (found) {
  say(`${found} at ${CHROMIUM}`);
  process.exit(0);
}
if (checkOnly) {
  say(advice());
  process.exit(1);
}
if (process.env.CHROMIUM_PATH) {
  say(`CHROMIUM_PATH=${CHROMIUM} is not a runnable browser.\n${advice()}`);
  process.exit(1);
}
if (process.platform !== 'linux' || !has('apt-get')) {
  say(`no apt-get here, so it cannot install Chromium by itself.\n${advice()}`);
  process.exit(1);
}

const root = typeof process.getuid === 'function' && process.getuid() === 0;
if (!root && !has('sudo')) {
  say(`not root and no sudo, so it cannot run apt-get.\n${advice()}`);
  process.exit(1);
}
const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
function apt(args) {
  const argv = ['-o', 'DPkg::Lock::Timeout=600', ...args];
  const [cmd, full] = root ? ['apt-get', argv] : ['sudo', ['-n', 'apt-get', ...argv]];
  say(`running: ${cmd} ${full.join(' ')}`);
  const r = spawnSync(cmd, full, { stdio: ['ignore', 'inherit', 'inherit'], env });
  return r.status === 0;
}
function known() {
  const r = spawnSync('apt-cache', ['policy', 'chromium'], { encoding: 'utf8' });
  return r.status === 0 && /Candidate:\s*(?!\(none\))\S+/.test(r.stdout);
}

say(`${CHROMIUM} is missing: installing Debian's chromium (once per machine; a few minutes)`);
if (!known() && !apt(['update'])) {
  say(`apt-get update failed${root ? '' : ' (sudo -n may need a password: run it yourself)'}.\n${advice()}`);
  process.exit(1);
}
if (!apt(['install', '-y', '--no-install-recommends', 'chromium'])) {
  say(`apt-get install chromium failed${root ? '' : ' (sudo -n may need a password: run it yourself)'}.\n${advice()}`);
  process.exit(1);
}
const installed = runnable(CHROMIUM);
if (!installed) {
  say(`apt-get installed chromium but ${CHROMIUM} does not run.\n${advice()}`);
  process.exit(1);
}
say(`installed ${installed} at ${CHROMIUM}`);
