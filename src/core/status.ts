// Instance statuses and which user actions each status allows (Cloudflare Workflows rules).
// The engine checks here before acting so every caller (HTTP, CLI, binding) refuses the same way.

import { ErrorCode, WeftError, cannotTerminateMessage } from "./errors.ts";

export const INSTANCE_STATUSES = [
  "queued",
  "running",
  "paused",
  "errored",
  "terminated",
  "complete",
  "waiting",
  "waitingForPause",
  "unknown",
] as const;
export type InstanceStatus = (typeof INSTANCE_STATUSES)[number];

export function isFinished(s: InstanceStatus): boolean {
  return s === "complete" || s === "errored" || s === "terminated";
}

export type InstanceAction = "pause" | "resume" | "terminate" | "restart" | "sendEvent" | "delete";

// The reason `action` is refused in `status`, or undefined if it is allowed.
function refusal(action: InstanceAction, status: InstanceStatus, id: string): string | undefined {
  switch (action) {
    case "pause":
      if (status === "queued" || status === "running" || status === "waiting") return undefined;
      if (status === "paused") return `instance ${id} is already paused`;
      if (status === "waitingForPause") {
        return `instance ${id} is already pausing (it pauses once its current step finishes)`;
      }
      return `instance ${id} is ${status}; only queued, running or waiting instances can be paused`;
    case "resume":
      if (status === "paused" || status === "waitingForPause") return undefined;
      return `instance ${id} is ${status}; only paused or pausing instances can be resumed`;
    case "terminate":
      if (!isFinished(status)) return undefined;
      // Cloudflare's text first (workers-sdk engine.ts changeInstanceStatus("terminate"))
      return cannotTerminateMessage(`instance ${id} is ${status}; only instances that have not finished can be terminated`);
    case "sendEvent":
      if (!isFinished(status)) return undefined;
      return `instance ${id} is ${status}; events can only be sent to instances that have not finished`;
    case "restart":
    case "delete":
      return undefined;
  }
}

/** Throws InvalidState if `action` is not allowed on an instance in `status`. */
export function checkAction(action: InstanceAction, status: InstanceStatus, instanceId: string): void {
  const msg = refusal(action, status, JSON.stringify(instanceId));
  if (msg !== undefined) throw new WeftError(ErrorCode.InvalidState, msg, { instanceId, status, action });
}

/**
 * The run queue's one list: statuses whose instance a claim takes when it is due. (A paused or
 * finished instance is never claimed; waitingForPause is settled by the claim: see CLAIM_SETTLES.)
 */
export const CLAIMABLE: readonly InstanceStatus[] = ["queued", "running", "waiting"];
/** A pausing instance whose run is gone (its claim expired): the claim makes it paused, without a run. */
export const CLAIM_SETTLES: Readonly<Partial<Record<InstanceStatus, InstanceStatus>>> = { waitingForPause: "paused" };
/** Statuses with work left (the run queue may hold them): claimable, or settled by a claim. */
export const UNFINISHED: readonly InstanceStatus[] = [...CLAIMABLE, "waitingForPause"];

export function isClaimable(s: InstanceStatus): boolean {
  return (CLAIMABLE as readonly string[]).includes(s);
}

/** What `instance.status()` returns (Cloudflare's InstanceStatus shape). */
export interface InstanceStatusView {
  status: InstanceStatus;
  error?: { name: string; message: string };
  output: unknown;
}

/**
 * status(): `output` is always there — the workflow's output once complete, null before and when it
 * errored or was terminated (workers-sdk packages/workflows-shared/src/binding.ts, status():
 * `output: workflowOutput ?? null`; the local explorer's instance view does the same); `error` only
 * when the instance errored.
 */
export function statusView(r: { status: InstanceStatus; output?: unknown; error?: { name: string; message: string } | null }): InstanceStatusView {
  const out: InstanceStatusView = { status: r.status, output: r.status === "complete" ? (r.output ?? null) : null };
  if (r.error) out.error = { name: r.error.name, message: r.error.message };
  return out;
}
