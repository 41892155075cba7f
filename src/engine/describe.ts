// The instance detail in the shape of Cloudflare's InstanceStatusAndLogs (wrangler's types.ts):
// status, params, trigger, versionId, queued/start/end, success, error, output, and every step with
// its attempts, from the journal plus the attempts running right now.
import type { ErrorInfo } from "../core/errors.ts";
import type { InstanceStatus } from "../core/status.ts";
import type { AttemptRecord, InstanceRecord, StepRecord } from "../store/ports.ts";
import type { Engine } from "./engine.ts";

type Err = { name: string; message: string; stack?: string } | null;
const iso = (t: number | null | undefined): string | null => (t === null || t === undefined ? null : new Date(t).toISOString());
// the stack goes along (beyond Cloudflare's shape): the dashboard shows it when an error is expanded
const err = (e: ErrorInfo | null | undefined): Err => (e ? (e.stack ? { name: e.name, message: e.message, stack: e.stack } : { name: e.name, message: e.message }) : null);

export type StepDetail =
  | {
      type: "step"; name: string; count: number; start: string; end: string | null; success: boolean | null; output: unknown; error: Err;
      config: unknown; attempts: { start: string; end: string | null; success: boolean | null; error: Err }[]; retriesAt?: string | null;
    }
  | { type: "sleep"; name: string; count: number; start: string; end: string; finished: boolean }
  | { type: "waitForEvent"; name: string; count: number; start: string; end: string | null; finished: boolean; error: Err; output: unknown }
  | { type: "rollback"; name: string; start: string; end: string | null; success: boolean | null; error: Err }
  | { type: "termination"; trigger: { source: string } };

export interface InstanceDetail {
  id: string;
  workflow: string;
  status: InstanceStatus;
  params: unknown;
  metadata: Record<string, string>;
  trigger: { source: string };
  versionId: string;
  queued: string;
  start: string | null;
  end: string | null;
  success: boolean | null;
  error: Err;
  output: unknown;
  steps: StepDetail[];
}

export async function describeInstance(engine: Engine, r: InstanceRecord): Promise<InstanceDetail> {
  const { steps, attempts } = await engine.store.stepsAndAttempts(r.pk);
  const byKey = new Map<string, AttemptRecord[]>();
  for (const a of attempts) {
    const list = byKey.get(a.key) ?? [];
    list.push(a);
    byKey.set(a.key, list);
  }
  const live = engine.liveRun(r.pk)?.snapshot() ?? [];
  const all: StepRecord[] = [...steps];
  for (const p of live) {
    const list = byKey.get(p.key) ?? [];
    if (p.running) list.push({ key: p.key, attempt: p.running.attempt, startedAt: p.running.startedAt, endedAt: null, success: null, error: null });
    byKey.set(p.key, list);
    if (!steps.some((s) => s.key === p.key)) all.push({ ...p.step });
  }
  // Rollbacks (seq -1) come last, in the order they ran: newest step first. Their start times can
  // tie (a virtual clock, one millisecond), so order them by the position of the step they undo.
  // A rollback's key is "rollback:" + the key of the step it undoes (older journals: "name#count").
  const undone = new Map<string, number>();
  for (const s of all) if (s.kind === "do") undone.set(s.key, s.seq).set(`${s.name}#${s.count}`, s.seq);
  const undoes = (s: StepRecord) => undone.get(s.key.startsWith("rollback:do:") ? s.key.slice("rollback:".length) : s.name) ?? 0;
  const order = (s: StepRecord) => (s.seq >= 0 ? s.seq : 1e15 - undoes(s));
  all.sort((a, b) => order(a) - order(b) || a.startedAt - b.startedAt);
  const now = engine.clock.now();
  const out: StepDetail[] = all.map((s) => {
    if (s.kind === "sleep") {
      return { type: "sleep", name: s.name, count: s.count, start: iso(s.startedAt)!, end: iso(s.dueAt)!, finished: s.state === "complete" || (s.dueAt ?? 0) <= now };
    }
    if (s.kind === "wait") {
      return {
        type: "waitForEvent", name: s.name, count: s.count, start: iso(s.startedAt)!, end: iso(s.at ?? null), finished: s.state !== "pending",
        error: err(s.error), output: s.state === "complete" ? s.value : undefined,
      };
    }
    const rows = byKey.get(s.key) ?? [];
    // a step that succeeded at its first attempt has no attempt row (the engine does not write one)
    const at = rows.length === 0 && s.state === "complete"
      ? [{ start: iso(s.startedAt)!, end: iso(s.at ?? null), success: true as boolean | null, error: null as Err }]
      : rows.map((a) => ({ start: iso(a.startedAt)!, end: iso(a.endedAt), success: a.success, error: err(a.error) }));
    if (s.kind === "rollback") return { type: "rollback", name: s.name, start: iso(s.startedAt)!, end: iso(s.at ?? null), success: s.state === "pending" ? null : s.state === "complete", error: err(s.error) };
    return {
      type: "step", name: s.name, count: s.count, start: iso(s.startedAt)!, end: iso(s.at ?? null), success: s.state === "pending" ? null : s.state === "complete",
      output: s.state === "complete" ? ((s.config as { sensitive?: string } | undefined)?.sensitive === "output" ? "[REDACTED]" : s.value) : undefined,
      error: err(s.error), config: s.config ?? null, attempts: at, retriesAt: s.state === "pending" && s.dueAt ? iso(s.dueAt) : null,
    };
  });
  if (r.status === "terminated") out.push({ type: "termination", trigger: { source: "api" } });
  return {
    id: r.id, workflow: r.workflow, status: r.status, params: r.params, metadata: r.metadata, trigger: { source: r.trigger }, versionId: r.version,
    queued: iso(r.createdAt)!, start: iso(r.startedAt), end: iso(r.endedAt),
    success: r.status === "complete" ? true : r.status === "errored" || r.status === "terminated" ? false : null,
    // null until it completes, as Cloudflare's instance view (local explorer: `output: successLog?.metadata?.result ?? null`)
    error: err(r.error), output: r.status === "complete" ? (r.output ?? null) : null, steps: out,
  };
}
