// The journal's domain rules, decided once here and applied by every store adapter (which only
// persists): which step writes may change a stored step, what a restart cuts, which buffered events
// go to which waits, and the types of the instance's history (its lifecycle events).
import { ErrorCode, WeftError, errorInfo, type ErrorInfo } from "./errors.ts";
import { isNestedKey, type EntryKind } from "./replay.ts";
import type { InstanceStatus } from "./status.ts";

export type StepState = "complete" | "failed" | "pending";

/** One journal entry: a step.do, sleep, waitForEvent or rollback with its state. */
export interface StepRecord {
  key: string;
  kind: EntryKind;
  seq: number;
  name: string;
  count: number;
  state: StepState;
  value?: unknown;
  error?: ErrorInfo;
  at?: number;
  startedAt: number;
  dueAt?: number;
  attempts: number;
  config?: unknown;
  eventType?: string;
}

/** The lifecycle events an instance's history holds (subscribe(), SSE, the dashboard's timeline). */
export const HISTORY_TYPES = [
  "workflow_queued", "workflow_running", "workflow_waiting", "workflow_waiting_for_pause", "workflow_paused", "workflow_resumed",
  "workflow_completed", "workflow_errored", "workflow_terminated", "workflow_restarted",
  "step_started", "attempt_started", "step_completed", "attempt_errored", "step_errored",
  "sleep_started", "sleep_completed", "wait_started", "wait_completed", "wait_timed_out", "event_received",
] as const;
export type HistoryType = (typeof HISTORY_TYPES)[number];

/** Finished steps are immutable: a write may only change a step that is still pending. */
export function stepWritable(existing: { state: StepState } | undefined): boolean {
  return existing === undefined || existing.state === "pending";
}

/**
 * restart({ from }): the entries a restart removes — everything from the chosen step on (all of
 * them without `fromSeq`), and every rollback entry (rollbacks belong to the run that ended).
 */
export function cutByRestart(step: { seq: number; kind: EntryKind }, fromSeq: number | undefined): boolean {
  return fromSeq === undefined || step.seq >= fromSeq || step.kind === "rollback";
}

/** restart({ from }): which step to restart from, as the API names it. */
export interface RestartFrom {
  name: string;
  /** 1-based occurrence of that name (default 1) */
  count?: number;
  /** default "do": Cloudflare's engine looks up `param.type ?? "do"` (workers-sdk lib/restart.ts, resolveGroupKeysToWipe) */
  type?: "do" | "sleep" | "waitForEvent";
}

const RESTART_KIND: Record<NonNullable<RestartFrom["type"]>, EntryKind> = { do: "do", sleep: "sleep", waitForEvent: "wait" };

/**
 * The journal entry a restart starts from, or undefined when the history has none. A step's name
 * without a type means a step.do, never a sleep or wait of that name. A step made at the top of run()
 * is found first; failing that, one nested in a step body (its occurrence counted within that body),
 * and the restart then starts from the top-level step that contains it (they share its position).
 */
export function restartTarget<S extends { kind: EntryKind; key: string; name: string; count: number; seq: number }>(steps: readonly S[], from: RestartFrom): S | undefined {
  const kind = RESTART_KIND[from.type ?? "do"];
  const count = from.count ?? 1;
  const hits = steps.filter((s) => s.kind === kind && s.name === from.name && s.count === count).sort((a, b) => a.seq - b.seq);
  return hits.find((s) => !isNestedKey(s.key)) ?? hits[0];
}

export interface OpenWait {
  key: string;
  seq: number;
  eventType: string;
}
export interface BufferedEvent {
  id: number;
  type: string;
}

/**
 * Buffered events go to pending waits of their type: waits in step order, each taking the oldest
 * unconsumed event of its type (Cloudflare: events sent before the wait are kept for it).
 */
export function matchEvents(waits: readonly OpenWait[], events: readonly BufferedEvent[]): { wait: string; event: number }[] {
  const byType = new Map<string, BufferedEvent[]>();
  for (const e of [...events].sort((a, b) => a.id - b.id)) {
    const list = byType.get(e.type) ?? [];
    list.push(e);
    byType.set(e.type, list);
  }
  const out: { wait: string; event: number }[] = [];
  for (const w of [...waits].sort((a, b) => a.seq - b.seq)) {
    const e = byType.get(w.eventType)?.shift();
    if (e) out.push({ wait: w.key, event: e.id });
  }
  return out;
}

/** A git object (content without the "type size\0" header), keyed by its SHA-1. */
export interface StoredObject {
  oid: string;
  type: "blob" | "tree" | "commit";
  data: Uint8Array;
}

export interface AttemptRecord {
  key: string;
  attempt: number;
  startedAt: number;
  endedAt: number | null;
  success: boolean | null;
  error: ErrorInfo | null;
}

export type JournalOp =
  | ({ op: "step" } & StepRecord)
  | ({ op: "attempt" } & AttemptRecord)
  | { op: "status"; status: InstanceStatus; wakeAt?: number | null; output?: unknown; error?: ErrorInfo | null; endedAt?: number | null; startedAt?: number }
  | { op: "history"; type: HistoryType; at: number; data?: unknown }
  /** git objects of the instance's tenant (idempotent: content-addressed) */
  | { op: "objects"; tenant: string; objects: StoredObject[] }
  /** move the instance's filesystem to a new commit */
  | { op: "fs"; head: string | null; files: number }
  /**
   * the pages one SQL commit changed in the instance's database (instance-data/sql/pages.ts): the
   * store keeps the database as its pages, so it can be rebuilt from the store alone
   */
  | ({ op: "sql" } & SqlDelta);

/** the new images of the pages one SQL commit changed, and the database's size after it */
export interface SqlDelta {
  /** the database's version after this commit: 1, 2, 3… per instance */
  seq: number;
  /** the run (its claim's epoch) that made the commit: with seq, what names one version of the database */
  by: number;
  pageSize: number;
  /** the database's size in pages after the commit (pages beyond are gone) */
  nPages: number;
  pages: { pgno: number; data: Uint8Array }[];
}

/**
 * The instance database's versions advance one commit at a time: a delta applies only on top of the
 * version it was made from. Anything else is a run writing from a stale copy (refused, never merged).
 */
export function checkSqlSeq(current: number, next: number): void {
  if (next !== current + 1) {
    throw new WeftError(ErrorCode.LeaseLost, `the SQL commit is version ${next} but the stored database is at version ${current}: this run's copy of the database is stale; it stops and the next run rebuilds its copy from the store`, { current, next });
  }
}


/** Who a step is, as its journal entry names it. */
export interface StepIdentity {
  key: string;
  kind: EntryKind;
  seq: number;
  name: string;
  count: number;
  startedAt: number;
  /** the step's config as journaled (shown by describe) */
  config?: unknown;
}

export type AttemptOutcome =
  | { kind: "succeeded"; value: unknown; redacted?: boolean }
  | { kind: "failed"; error: ErrorInfo }
  | { kind: "retrying"; error: ErrorInfo; delayMs: number };

/**
 * The journal writes that end a step attempt — the one builder of step records for every path
 * (an attempt's result, its failure, a retry, a sandbox crash): the attempt's start in the history,
 * the step entry, the attempt row (a first attempt that succeeds has none: describe derives it from
 * the step) and, separately, the history event of the outcome.
 */
export function attemptEnded(s: StepIdentity, a: { attempt: number; startedAt: number; endedAt: number }, o: AttemptOutcome): { step: StepRecord; ops: JournalOp[]; outcome: JournalOp } {
  const base = { key: s.key, kind: s.kind, seq: s.seq, name: s.name, count: s.count, startedAt: s.startedAt, attempts: a.attempt, config: s.config };
  const started: JournalOp = { op: "history", type: a.attempt === 1 ? "step_started" : "attempt_started", at: a.startedAt, data: { key: s.key, name: s.name, count: s.count, attempt: a.attempt } };
  if (o.kind === "succeeded") {
    const step: StepRecord = { ...base, state: "complete", value: o.value, at: a.endedAt };
    const row: JournalOp = { op: "attempt", key: s.key, attempt: a.attempt, startedAt: a.startedAt, endedAt: a.endedAt, success: true, error: null };
    return {
      step, ops: a.attempt === 1 ? [started, { op: "step", ...step }] : [started, { op: "step", ...step }, row],
      outcome: { op: "history", type: "step_completed", at: a.endedAt, data: { key: s.key, name: s.name, output: o.redacted ? "[REDACTED]" : undefined } },
    };
  }
  const error = errorInfo(o.error);
  const row: JournalOp = { op: "attempt", key: s.key, attempt: a.attempt, startedAt: a.startedAt, endedAt: a.endedAt, success: false, error };
  if (o.kind === "failed") {
    const step: StepRecord = { ...base, state: "failed", error, at: a.endedAt };
    return { step, ops: [started, { op: "step", ...step }, row], outcome: { op: "history", type: "step_errored", at: a.endedAt, data: { key: s.key, error } } };
  }
  const step: StepRecord = { ...base, state: "pending", dueAt: a.endedAt + o.delayMs };
  return {
    step, ops: [started, { op: "step", ...step }, row],
    outcome: { op: "history", type: "attempt_errored", at: a.endedAt, data: { key: s.key, attempt: a.attempt, retryDelayMs: o.delayMs, error } },
  };
}
