/**
 * The Worker's bindings and settings (wrangler.toml `[vars]`, secrets), parsed once per
 * isolate with defaults, so that a missing or malformed value fails loudly at the edge.
 */
import type { MemberId } from '../core/ids.js';
import { memberId } from '../core/ids.js';
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
  readonly MAX_BODY_BYTES?: string;
  readonly MAX_OPS?: string;
  readonly MAX_LIST_LIMIT?: string;
  readonly LOG_MAX_BYTES?: string;
  readonly JWT_SECRET?: string;
  /** `on` only in the test environment: enables the fault transport and `/v1/_test/faults`. */
  readonly TEST_FAULTS?: string;
}

export interface Config {
  readonly regions: readonly MemberId[];
  readonly primary: MemberId;
  readonly shards: number;
  readonly gossipIntervalMs: number;
  readonly fanout: number;
  readonly sessionWaitMs: number;
  readonly quorumTimeoutMs: number;
  readonly maxBodyBytes: number;
  readonly maxOps: number;
  readonly maxListLimit: number;
  readonly logMaxBytes: number;
  readonly testFaults: boolean;
}

function int(v: string | undefined, fallback: number, name: string): number {
  if (v === undefined || v === '') return fallback;
  const n = Number(v);
  if (!Number.isInteger(n) || n < 0) throw new Error(`configuration ${name} must be a non-negative integer, got ${JSON.stringify(v)}`);
  return n;
}

export function readConfig(env: Env): Config {
  const regions = (env.REGIONS ?? 'wnam,weur,apac').split(',').map((r) => r.trim()).filter(Boolean).map(memberId);
  if (regions.length === 0) throw new Error('configuration REGIONS names no region');
  for (const r of regions) if (!/^[a-z0-9-]{1,32}$/.test(r)) throw new Error(`configuration REGIONS has an invalid region ${JSON.stringify(r)}`);
  const primary = memberId(env.PRIMARY_REGION ?? regions[0]!);
  if (!regions.includes(primary)) throw new Error(`configuration PRIMARY_REGION ${primary} is not one of REGIONS`);
  const shards = int(env.SHARDS, 16, 'SHARDS');
  if (shards < 1) throw new Error('configuration SHARDS must be at least 1');
  return {
    regions,
    primary,
    shards,
    gossipIntervalMs: int(env.GOSSIP_INTERVAL_MS, 1000, 'GOSSIP_INTERVAL_MS'),
    fanout: int(env.FANOUT, 2, 'FANOUT'),
    sessionWaitMs: int(env.SESSION_WAIT_MS, 2000, 'SESSION_WAIT_MS'),
    quorumTimeoutMs: int(env.QUORUM_TIMEOUT_MS, 2000, 'QUORUM_TIMEOUT_MS'),
    maxBodyBytes: int(env.MAX_BODY_BYTES, 1024 * 1024, 'MAX_BODY_BYTES'),
    maxOps: int(env.MAX_OPS, 1000, 'MAX_OPS'),
    maxListLimit: int(env.MAX_LIST_LIMIT, 1000, 'MAX_LIST_LIMIT'),
    logMaxBytes: int(env.LOG_MAX_BYTES, 8 * 1024 * 1024, 'LOG_MAX_BYTES'),
    testFaults: env.TEST_FAULTS === 'on',
  };
}
