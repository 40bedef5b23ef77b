/**
 * Mints a bearer token for the API (DESIGN.md, Security), signed HS256 with the Worker's
 * secret, so that the README's curl examples work as written:
 *
 *   TOKEN=$(npm run -s token -- --ns 'demo*' --scope write)
 *   curl -H "Authorization: Bearer $TOKEN" http://127.0.0.1:8787/v1/demo/docs/hello
 *
 * Options: `--ns <glob>` (repeat for several), `--scope read|write|admin` (default read),
 * `--ttl <seconds>` (default 86400; every token expires, the Worker refuses one without
 * `exp`), `--iss <issuer>` and `--aud <audience>` (default `$JWT_ISSUER`, `$JWT_AUDIENCE`:
 * needed when the Worker sets them), `--secret <s>`. The secret defaults to `$JWT_SECRET`,
 * then to `JWT_SECRET` in `.dev.vars` (the local development secret).
 */
import { readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { SignJWT } from 'jose';
import { SCOPES, type Scope } from '../src/api/auth.js';

const USAGE = "usage: npm run -s token -- --ns 'demo*' [--ns other] [--scope read|write|admin] [--ttl 86400] [--iss I] [--aud A] [--secret S]";

function fail(message: string): never {
  process.stderr.write(`${message}\n${USAGE}\n`);
  process.exit(2);
}

/** `JWT_SECRET` from a dotenv-style file, as wrangler reads `.dev.vars`. */
function secretFromDevVars(path: string): string | undefined {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch {
    return undefined;
  }
  for (const line of text.split(/\r?\n/)) {
    const m = /^\s*JWT_SECRET\s*=\s*(.*?)\s*$/.exec(line);
    if (m) return m[1]!.replace(/^(["'])(.*)\1$/, '$2');
  }
  return undefined;
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      ns: { type: 'string', multiple: true },
      scope: { type: 'string', default: 'read' },
      ttl: { type: 'string', default: '86400' },
      iss: { type: 'string' },
      aud: { type: 'string' },
      secret: { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help) {
    process.stdout.write(`${USAGE}\n`);
    return;
  }
  const scope = values.scope as Scope;
  if (!SCOPES.includes(scope)) fail(`--scope must be one of ${SCOPES.join(', ')}`);
  const ttl = Number(values.ttl);
  if (!Number.isSafeInteger(ttl) || ttl <= 0) fail('--ttl must be a positive number of seconds');
  const ns = values.ns ?? [];
  if (ns.length === 0 && scope !== 'admin') fail('--ns is required (a namespace glob such as demo*)');
  const devVars = resolve(dirname(fileURLToPath(import.meta.url)), '..', '.dev.vars');
  const secret = values.secret ?? process.env['JWT_SECRET'] ?? secretFromDevVars(devVars);
  if (!secret) fail(`no secret: pass --secret, set JWT_SECRET, or put JWT_SECRET=... in ${devVars}`);
  const iss = values.iss ?? process.env['JWT_ISSUER'];
  const aud = values.aud ?? process.env['JWT_AUDIENCE'];
  const now = Math.floor(Date.now() / 1000);
  const token = await new SignJWT({ ns: ns.length === 1 ? ns[0]! : ns, scope, iat: now, exp: now + ttl, ...(iss && { iss }), ...(aud && { aud }) })
    .setProtectedHeader({ alg: 'HS256', typ: 'JWT' })
    .sign(new TextEncoder().encode(secret));
  process.stdout.write(`${token}\n`);
}

await main();
