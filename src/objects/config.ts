/**
 * The Worker's bindings and settings (wrangler.toml `[vars]`, secrets), parsed once per
 * isolate with defaults, so that a missing or malformed value fails loudly at the edge.
 */
import type { MemberId } from '../core/ids.js';
import { memberId } from '../core/ids.js';
import { DEFAULT_MAX_DEPTH } from '../core/json-limits.js';
import type { ReplicaObject } from './replica-object.js';

export interface Env {
  readonly REPLICA: DurableObjectNamespace<ReplicaObject>;
  readonly REGIONS?: string;
  readonly PRIMARY_REGION?: string;
  readonly SHARDS?: string;
  readonly GOSSIP_INTERVAL_MS?: string;
  readonly FANOUT?: string;
  readonly SESSION_WAIT_MS?: string;
  readonly QUORUM_TIMEOUT_MS?: string;
  /** How long a majority's acknowledgement lets the leader answer reads alone (ms; default 10 s). */
  readonly LEASE_MS?: string;
  /** The most two members' clocks may disagree over one lease (ms; default 1 s, below LEASE_MS). */
  readonly MAX_CLOCK_DRIFT_MS?: string;
  /**
   * `on` (the default): any member may stand when the leader is lost (failover). `off`: no
   * election runs; PRIMARY_REGION's member leads, and members hibernate when idle (README, Failover).
   */
  readonly FAILOVER?: string;
  /** A shard with no strong operation or quorum read for this long stops its heartbeats (ms; default three leases; 0: never). */
  readonly QUIESCE_MS?: string;
  /** How long an `Idempotency-Key`'s outcome is kept (ms; default 24 h). */
  readonly IDEMPOTENCY_TTL_MS?: string;
  readonly MAX_BODY_BYTES?: string;
  /** The largest WebSocket message a client may send (bytes; default MAX_BODY_BYTES). */
  readonly MAX_WS_MESSAGE_BYTES?: string;
  /** WebSockets one member holds at most, over all its documents (default 1,000). */
  readonly MAX_SOCKETS?: string;
  readonly MAX_OPS?: string;
  readonly MAX_LIST_LIMIT?: string;
  readonly MAX_DEPTH?: string;
  readonly LOG_MAX_BYTES?: string;
  /** How long a peer's entry that the engines keep failing on is set aside before a retry (ms; doubles per failure up to 1 h). */
  readonly QUARANTINE_RETRY_MS?: string;
  readonly JWT_SECRET?: string;
  /** When set, a token's `iss` must equal it. */
  readonly JWT_ISSUER?: string;
  /** When set, a token's `aud` must be or contain it. */
  readonly JWT_AUDIENCE?: string;
  /** A JSON Web Key Set (JSON text) whose public keys verify ES256, RS256 and EdDSA tokens. */
  readonly JWT_JWKS?: string;
  /** An https URL serving the JWKS instead of `JWT_JWKS`; fetched and cached per isolate. */
  readonly JWT_JWKS_URL?: string;
  /** Keys the Concord-Token MAC; falls back to `JWT_SECRET`. Required when only a JWKS verifies bearer tokens. */
  readonly TOKEN_SECRET?: string;
  /** `on` only in the test environment: enables the fault transport and `/v1/_test/faults`. */
  readonly TEST_FAULTS?: string;
  /**
   * `on` only where wrangler.toml or `.dev.vars` says so (local development, the test
   * environment): `GET /v1/dev/token` hands out short-lived write tokens for the demo
   * namespace. A deployed Worker never gets it from `[vars]` (see src/api/routes-dev.ts).
   */
  readonly DEV_TOKENS?: string;
}

export interface Config {
  readonly regions: readonly MemberId[];
  readonly primary: MemberId;
  readonly shards: number;
  readonly gossipIntervalMs: number;
  readonly fanout: number;
  readonly sessionWaitMs: number;
  readonly quorumTimeoutMs: number;
  readonly leaseMs: number;
  readonly maxClockDriftMs: number;
  /** Members other than PRIMARY_REGION's stand in elections (FAILOVER=on). */
  readonly failover: boolean;
  readonly quiesceMs: number;
  readonly idempotencyTtlMs: number;
  readonly maxBodyBytes: number;
  readonly maxWsMessageBytes: number;
  readonly maxSockets: number;
  readonly maxOps: number;
  readonly maxListLimit: number;
  /** Nesting bound of every JSON value that enters (bodies, op values, patches). */
  readonly maxDepth: number;
  readonly logMaxBytes: number;
  readonly quarantineRetryMs: number;
  readonly testFaults: boolean;
  /** `GET /v1/dev/token` answers (DEV_TOKENS=on); otherwise it does not exist. */
  readonly devTokens: boolean;
}

/**
 * How the edge verifies bearer tokens (src/api/auth.ts). Kept out of {@link Config} because
 * members read that in their constructor: a typo in a key set must stop the edge from
 * answering, not stop replication of writes already acknowledged.
 */
export interface AuthConfig {
  readonly secret: string | undefined;
  readonly issuer: string | undefined;
  readonly audience: string | undefined;
  /** `JWT_JWKS` parsed: public keys only. */
  readonly jwks: { readonly keys: readonly Readonly<Record<string, unknown>>[] } | undefined;
  readonly jwksUrl: URL | undefined;
}

function int(v: string | undefined, fallback: number, name: string): number {
  if (v === undefined || v === '') return fallback;
  const n = Number(v);
  if (!Number.isInteger(n) || n < 0) throw new Error(`configuration ${name} must be a non-negative integer, got ${JSON.stringify(v)}`);
  return n;
}

const setting = (v: string | undefined): string | undefined => (v?.trim() ? v.trim() : undefined);

function readJwks(text: string | undefined): AuthConfig['jwks'] {
  if (!setting(text)) return undefined;
  let set: unknown;
  try {
    set = JSON.parse(text!);
  } catch {
    throw new Error('configuration JWT_JWKS is not JSON');
  }
  const keys = (set as { keys?: unknown } | null)?.keys;
  if (!Array.isArray(keys) || keys.length === 0) throw new Error('configuration JWT_JWKS must be a JSON Web Key Set: {"keys": [...]} with at least one key');
  for (const k of keys as unknown[]) {
    if (typeof k !== 'object' || k === null || typeof (k as { kty?: unknown }).kty !== 'string') throw new Error('configuration JWT_JWKS has a key without "kty"');
    // A private key in a var is a leaked key, and a symmetric one would let whoever reads
    // the set mint tokens: both are configuration mistakes, not keys to verify with.
    if ('d' in k || (k as { kty: string }).kty === 'oct') throw new Error('configuration JWT_JWKS must hold public keys only (no "d", no "oct" keys)');
  }
  return { keys: keys as Record<string, unknown>[] };
}

function readJwksUrl(text: string | undefined): URL | undefined {
  const v = setting(text);
  if (!v) return undefined;
  let url: URL;
  try {
    url = new URL(v);
  } catch {
    throw new Error(`configuration JWT_JWKS_URL is not a URL: ${JSON.stringify(v)}`);
  }
  // Plain http would let anyone on the path substitute the keys; allowed only for a local IdP.
  const local = ['localhost', '127.0.0.1', '[::1]'].includes(url.hostname);
  if (url.protocol !== 'https:' && !(url.protocol === 'http:' && local)) throw new Error('configuration JWT_JWKS_URL must be an https URL');
  return url;
}

/** @throws Error naming the setting that is malformed */
export function readAuthConfig(env: Env): AuthConfig {
  if (setting(env.JWT_JWKS) && setting(env.JWT_JWKS_URL)) throw new Error('configuration sets both JWT_JWKS and JWT_JWKS_URL; set one');
  return {
    // Untrimmed: the key is the bytes the token minter signs with.
    secret: env.JWT_SECRET?.trim() ? env.JWT_SECRET : undefined,
    issuer: setting(env.JWT_ISSUER),
    audience: setting(env.JWT_AUDIENCE),
    jwks: readJwks(env.JWT_JWKS),
    jwksUrl: readJwksUrl(env.JWT_JWKS_URL),
  };
}

export function readConfig(env: Env): Config {
  const regions = (env.REGIONS ?? 'wnam,weur,apac').split(',').map((r) => r.trim()).filter(Boolean).map(memberId);
  if (regions.length === 0) throw new Error('configuration REGIONS names no region');
  for (const r of regions) if (!/^[a-z0-9-]{1,32}$/.test(r)) throw new Error(`configuration REGIONS has an invalid region ${JSON.stringify(r)}`);
  const primary = memberId(env.PRIMARY_REGION ?? regions[0]!);
  if (!regions.includes(primary)) throw new Error(`configuration PRIMARY_REGION ${primary} is not one of REGIONS`);
  const shards = int(env.SHARDS, 16, 'SHARDS');
  if (shards < 1) throw new Error('configuration SHARDS must be at least 1');
  const leaseMs = int(env.LEASE_MS, 10_000, 'LEASE_MS');
  const maxClockDriftMs = int(env.MAX_CLOCK_DRIFT_MS, Math.min(1000, Math.floor(leaseMs / 10)), 'MAX_CLOCK_DRIFT_MS');
  if (leaseMs < 1) throw new Error('configuration LEASE_MS must be at least 1');
  if (maxClockDriftMs >= leaseMs) throw new Error('configuration MAX_CLOCK_DRIFT_MS must be below LEASE_MS');
  return {
    regions,
    primary,
    shards,
    gossipIntervalMs: int(env.GOSSIP_INTERVAL_MS, 1000, 'GOSSIP_INTERVAL_MS'),
    fanout: int(env.FANOUT, 2, 'FANOUT'),
    sessionWaitMs: int(env.SESSION_WAIT_MS, 2000, 'SESSION_WAIT_MS'),
    quorumTimeoutMs: int(env.QUORUM_TIMEOUT_MS, 2000, 'QUORUM_TIMEOUT_MS'),
    leaseMs,
    maxClockDriftMs,
    failover: env.FAILOVER !== 'off',
    quiesceMs: int(env.QUIESCE_MS, 3 * leaseMs, 'QUIESCE_MS'),
    idempotencyTtlMs: int(env.IDEMPOTENCY_TTL_MS, 24 * 60 * 60 * 1000, 'IDEMPOTENCY_TTL_MS'),
    maxBodyBytes: int(env.MAX_BODY_BYTES, 1024 * 1024, 'MAX_BODY_BYTES'),
    maxWsMessageBytes: int(env.MAX_WS_MESSAGE_BYTES, int(env.MAX_BODY_BYTES, 1024 * 1024, 'MAX_BODY_BYTES'), 'MAX_WS_MESSAGE_BYTES'),
    maxSockets: int(env.MAX_SOCKETS, 1000, 'MAX_SOCKETS'),
    maxOps: int(env.MAX_OPS, 1000, 'MAX_OPS'),
    maxListLimit: int(env.MAX_LIST_LIMIT, 1000, 'MAX_LIST_LIMIT'),
    maxDepth: int(env.MAX_DEPTH, DEFAULT_MAX_DEPTH, 'MAX_DEPTH'),
    logMaxBytes: int(env.LOG_MAX_BYTES, 8 * 1024 * 1024, 'LOG_MAX_BYTES'),
    quarantineRetryMs: int(env.QUARANTINE_RETRY_MS, 30_000, 'QUARANTINE_RETRY_MS'),
    testFaults: env.TEST_FAULTS === 'on',
    devTokens: env.DEV_TOKENS === 'on',
  };
}
