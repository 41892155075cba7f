// Row → record decoding shared by the store adapters (src/store/sqlite, src/store/postgres): both
// keep the same column names, and JSON columns as text. What differs per database stays in its
// adapter (the instance row: SQLite keeps metadata as text, PostgreSQL as JSONB).
import type { ActivityBucket, ActivityQuery, StepRecord, TenantRecord, TokenRecord, VersionRecord } from "./ports.ts";
import type { ErrorInfo } from "../core/errors.ts";
import { serialize, deserialize } from "node:v8";

export type Row = Record<string, unknown>;

/** values the engine serializes (params, outputs, step values, payloads): v8 serialization */
export const enc = (v: unknown): Buffer | null => (v === undefined ? null : serialize(v));
export const dec = (b: unknown): unknown => (b == null ? undefined : deserialize(b as Uint8Array));
export const json = (v: unknown): string | null => (v === undefined || v === null ? null : JSON.stringify(v));
export const unjson = <T>(s: unknown): T | undefined => (s == null ? undefined : (JSON.parse(s as string) as T));
/** a nullable integer column (PostgreSQL's BIGINT comes back as a number, see its type parser) */
export const num = (v: unknown): number | null => (v == null ? null : Number(v));

export function versionRow(r: Row | undefined): VersionRecord | undefined {
  if (!r) return undefined;
  return {
    tenant: r.tenant as string, workflow: r.workflow as string, version: r.version as string, className: r.class_name as string,
    bundle: r.bundle as string, code: JSON.parse(r.code as string), config: JSON.parse(r.config as string), createdAt: r.created_at as number,
  };
}

export function tenantRow(r: Row | undefined): TenantRecord | undefined {
  return r ? { name: r.name as string, quotas: JSON.parse(r.quotas as string), createdAt: r.created_at as number } : undefined;
}

export function tokenRow(r: Row | undefined): TokenRecord | undefined {
  return r ? {
    id: r.id as string, tenant: (r.tenant as string) ?? null, name: r.name as string, hash: r.hash as string,
    createdAt: r.created_at as number, revokedAt: num(r.revoked_at),
  } : undefined;
}

export function stepRow(r: Row): StepRecord {
  return {
    key: r.key as string, kind: r.kind as StepRecord["kind"], seq: r.seq as number, name: r.name as string, count: r.count as number,
    state: r.state as StepRecord["state"], value: dec(r.value), error: unjson<ErrorInfo>(r.error), at: num(r.at) ?? undefined,
    startedAt: r.started_at as number, dueAt: num(r.due_at) ?? undefined, attempts: r.attempts as number, config: unjson(r.config),
    eventType: (r.event_type as string) ?? undefined,
  };
}

/**
 * The activity buckets from the two grouped counts both adapters run: creations per bucket
 * (rows { b, n }) and endings per bucket and final status (rows { b, status, n }).
 */
export function activityBuckets(q: ActivityQuery, created: Row[], ended: Row[]): ActivityBucket[] {
  const n = Math.ceil((q.to - q.from) / q.bucketMs);
  const out: ActivityBucket[] = Array.from({ length: n }, (_, i) => ({ at: q.from + i * q.bucketMs, created: 0, completed: 0, errored: 0, terminated: 0 }));
  for (const r of created) out[r.b as number]!.created = r.n as number;
  for (const r of ended) {
    const b = out[r.b as number]!;
    if (r.status === "complete") b.completed += r.n as number;
    else if (r.status === "errored") b.errored += r.n as number;
    else if (r.status === "terminated") b.terminated += r.n as number;
  }
  return out;
}
