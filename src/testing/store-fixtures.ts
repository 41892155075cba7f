// Fixtures of the storage conformance suite (store-suite.ts and the files of its parts): names,
// the two clocks, and small helpers that act through the Store port only.
import assert from "node:assert/strict";
import { WeftError } from "../core/errors.ts";
import { stepKey, type EntryKind } from "../core/replay.ts";
import type { HistoryType, StepRecord } from "../core/journal.ts";
import type { AttemptRecord, Claim, Claimed, InstanceRecord, JournalOp, NewInstance, Store } from "../store/ports.ts";

// ---- fixtures ------------------------------------------------------------------------------------
export const TENANT = "acme";
export const WF = "orders";
export const VERSION = "v1";
export const A = "node-a";
export const B = "node-b";
export const C = "node-c";
/** engine time */
export const T0 = Date.UTC(2026, 0, 1);
/** the lease clock: another clock, deliberately far from engine time */
export const L0 = 5_000_000;
export const LEASE = 30_000;
export const HOUR = 3_600_000;
export const DAY = 24 * HOUR;

export function row(id: string, createdAt = T0, more: Partial<NewInstance> = {}): NewInstance {
  return { tenant: TENANT, workflow: WF, id, version: VERSION, params: { id }, metadata: {}, trigger: "api", createdAt, ...more };
}

export async function create(s: Store, id: string, createdAt = T0, more: Partial<NewInstance> = {}): Promise<InstanceRecord> {
  const [r] = await s.createInstances([row(id, createdAt, more)]);
  assert.ok(r, `createInstances returned no record for ${id}`);
  return r;
}

export function claimAt(node: string, now: number, leaseNow = L0, leaseUntil = leaseNow + LEASE): Claim {
  return { node, now, leaseNow, leaseUntil };
}

export async function mustClaim(s: Store, pk: number, c: Claim): Promise<Claimed> {
  const got = await s.claim(pk, c);
  assert.ok(got && got !== "full", `claim(${pk}) by ${c.node} at now=${c.now} leaseNow=${c.leaseNow} took nothing (${String(got)})`);
  return got;
}

export async function get(s: Store, pk: number): Promise<InstanceRecord> {
  const r = await s.getInstanceByPk(pk);
  assert.ok(r, `instance ${pk} is gone`);
  return r;
}

/** the promise rejects with a WeftError of this code */
export async function refused(p: Promise<unknown>, code: string, what: string): Promise<WeftError> {
  let err: unknown;
  let ok = false;
  try {
    await p;
    ok = true;
  } catch (e) {
    err = e;
  }
  assert.ok(!ok, `${what}: expected a refusal (${code}), but it succeeded`);
  assert.ok(err instanceof WeftError, `${what}: expected a WeftError (${code}), got ${String(err)}`);
  assert.equal(err.code, code, `${what}: ${err.message}`);
  return err;
}

export function entry(kind: EntryKind, name: string, seq: number, state: StepRecord["state"], more: Partial<StepRecord> = {}): StepRecord {
  return { key: stepKey(kind, name, 1), kind, seq, name, count: 1, state, startedAt: T0, attempts: 0, ...more };
}
export const stepOp = (r: StepRecord): JournalOp => ({ op: "step", ...r });
export const hist = (type: HistoryType, at: number, data?: unknown): JournalOp => ({ op: "history", type, at, data });
export const attemptOp = (a: AttemptRecord): JournalOp => ({ op: "attempt", ...a });

/** drop undefined fields: adapters may or may not spell an absent optional field */
export function clean<T extends object>(o: T): T {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as T;
}

export async function duePks(s: Store, now: number, leaseNow: number, limit = 100): Promise<number[]> {
  return (await s.due(now, leaseNow, limit)).map((d) => d.pk);
}

export async function stepOf(s: Store, pk: number, key: string): Promise<StepRecord | undefined> {
  return (await s.steps(pk)).find((x) => x.key === key);
}

/** the run suspends: status waiting, due again at `readyAt` */
export function suspend(s: Store, pk: number, c: Claimed, now: number, readyAt: number | null, seenWakes = c.wakes): Promise<{ readyAt: number | null }> {
  return s.release(pk, c.epoch, { now, readyAt, seenWakes }, [{ op: "status", status: "waiting", wakeAt: readyAt }, hist("workflow_waiting", now)]);
}

/** the run ends: status complete */
export function complete(s: Store, pk: number, c: Claimed, now: number, output: unknown = "done", readyAt: number | null = null, seenWakes = c.wakes): Promise<{ readyAt: number | null }> {
  return s.release(pk, c.epoch, { now, readyAt, seenWakes }, [
    { op: "status", status: "complete", output, wakeAt: null, endedAt: now }, hist("workflow_completed", now),
  ]);
}

export const waitEntry = (name: string, seq: number, eventType: string, dueAt = T0 + DAY): StepRecord => entry("wait", name, seq, "pending", { eventType, dueAt });
/** journal a pending wait (with its wait_started history at `at`) */
export function journalWait(s: Store, pk: number, epoch: number, w: StepRecord, at: number) {
  return s.journal(pk, epoch, [stepOp(w), hist("wait_started", at, { key: w.key, eventType: w.eventType })]);
}

