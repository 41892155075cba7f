// Workflow limits and their defaults (the limits table of the reference, as configurable defaults):
// one definition for the engine, the instance-data adapters and the deploy checks.

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
};

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
