// Workflow limits and their defaults (the limits table of the reference, as configurable defaults):
// one definition for the engine, the instance-data adapters and the deploy checks.
import { ErrorCode, WeftError } from "./errors.ts";

export interface WorkflowLimits {
  /** heap limit of the isolate that hosts this version's runs (MB) */
  memoryMb: number;
  /** CPU time one step attempt may use (ms); Cloudflare's default is 30 s */
  cpuMsPerStep: number;
  /** step.do calls per instance (Cloudflare: 10,000 default, up to 25,000) */
  steps: number;
  /** serialized size of one step result, the workflow output, params or an event payload */
  stepResultBytes: number;
  /** instances of this workflow running at once; excess instances are queued */
  concurrency: number;
  /** size of one instance's SQL database (ctx.storage.sql), bytes */
  sqlBytes: number;
  /** how long one ctx.storage.sql statement may run (ms); longer ones are stopped */
  sqlMsPerQuery: number;
  /** size of one file in an instance's filesystem (ctx.fs), bytes */
  fileBytes: number;
  /** files in one instance's filesystem */
  files: number;
  /** host objects (stubs: what env bindings' methods returned) one run may hold; released when the run ends */
  hostObjects: number;
  /**
   * step.do, step.sleep and step.waitForEvent calls one instance may have unsettled at once (as
   * Temporal's 2,000 pending activities): a run that issues more stops with a clear error, before
   * the host journals any of the excess (100,000 parallel calls stalled the host for 45 s)
   */
  pendingCalls: number;
  /** events an instance may hold sent but not yet taken by a wait (a flood to an instance that never waits) */
  bufferedEvents: number;
  /** serialized bytes of those events */
  bufferedEventBytes: number;
  /**
   * serialized bytes of all step results an instance's journal may hold (Cloudflare: 100 MB of
   * state per instance on the free plan). Each replay reads them all and hands them to the isolate,
   * which keeps them in its heap, so this stays below limits.memoryMb: 400 results of 1 MB made every
   * replay read 400 MB on the engine's thread (loop stalls of 0.8 s) before the heap limit ended it.
   */
  journalBytes: number;
  /**
   * console lines one instance may leave in its log, and their bytes (each line is also cut at
   * 8,192 characters, and 1,000 lines per activation); past either, its further lines are dropped,
   * counted, and said once. Counted per engine process: a restart counts anew.
   */
  logLines: number;
  logBytes: number;
}

export const DEFAULT_LIMITS: WorkflowLimits = {
  memoryMb: 128,
  cpuMsPerStep: 30_000,
  steps: 10_000,
  stepResultBytes: 1024 * 1024,
  concurrency: 1000,
  sqlBytes: 1024 * 1024 * 1024,
  sqlMsPerQuery: 2000,
  fileBytes: 32 * 1024 * 1024,
  files: 10_000,
  hostObjects: 10_000,
  pendingCalls: 2_000,
  bufferedEvents: 1_000,
  bufferedEventBytes: 16 * 1024 * 1024,
  journalBytes: 64 * 1024 * 1024,
  logLines: 10_000,
  logBytes: 8 * 1024 * 1024,
};

/** an instance's buffer of events no wait has taken: how much it may hold */
export interface EventBuffer {
  events: number;
  bytes: number;
}

/**
 * The refusal of an event that would overfill the instance's buffer (checked in the store's
 * transaction, after the event found no wait): nothing is stored; the sender may retry once the
 * instance has taken some.
 */
export function eventBufferFull(id: string, have: { events: number; bytes: number }, adding: number, limit: EventBuffer): WeftError | undefined {
  if (have.events >= limit.events) {
    return new WeftError(ErrorCode.QuotaExceeded, `instance "${id}" already holds ${have.events} events that no step.waitForEvent has taken; the limit is ${limit.events} (limits.bufferedEvents): this event is refused. Send events the instance waits for, or raise the limit`, { field: "limits.bufferedEvents", limit: limit.events, retryAfterSeconds: 1 });
  }
  if (have.bytes + adding > limit.bytes) {
    return new WeftError(ErrorCode.QuotaExceeded, `instance "${id}" holds ${have.bytes} bytes of events that no step.waitForEvent has taken; with this one (${adding} bytes) it would be over ${limit.bytes} bytes (limits.bufferedEventBytes): this event is refused`, { field: "limits.bufferedEventBytes", limit: limit.bytes, retryAfterSeconds: 1 });
  }
  return undefined;
}

export interface FsLimits {
  /** bytes of one file */
  fileBytes: number;
  /** files in the instance's tree */
  files: number;
}

/** Filesystem limits of a version (versions deployed before they existed get the defaults). */
export function fsLimits(l: Partial<FsLimits> | undefined): FsLimits {
  return { fileBytes: l?.fileBytes ?? DEFAULT_LIMITS.fileBytes, files: l?.files ?? DEFAULT_LIMITS.files };
}
