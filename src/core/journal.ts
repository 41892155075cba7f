// The journal's domain rules, decided once here and applied by every store adapter (which only
// persists): which step writes may change a stored step, what a restart cuts, which buffered events
// go to which waits, and the types of the instance's history (its lifecycle events).
import type { ErrorInfo } from "./errors.ts";
import type { EntryKind } from "./replay.ts";

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
