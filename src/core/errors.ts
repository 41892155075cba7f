// Error codes and the one error type the engine throws. Pure: no I/O, usable inside the isolate.
// Every error carries a stable `code`, a message that says what happened and what to do, and the
// offending value in `details` so callers (HTTP, CLI, tests) never parse messages.

export const ErrorCode = {
  InvalidArgument: "invalid_argument",
  CompileError: "compile_error",
  NoWorkflowClass: "no_workflow_class",
  AmbiguousWorkflowClass: "ambiguous_workflow_class",
  NotFound: "not_found",
  AlreadyExists: "already_exists",
  InvalidState: "invalid_state",
  TooLarge: "too_large",
  NotSerializable: "not_serializable",
  InvalidDuration: "invalid_duration",
  InvalidEventType: "invalid_event_type",
  InvalidStepConfig: "invalid_step_config",
  InvalidName: "invalid_name",
  StepLimit: "step_limit",
  PendingLimit: "pending_limit",
  UnhandledRejection: "unhandled_rejection",
  NonDeterminism: "non_determinism",
  CpuLimit: "cpu_limit",
  MemoryLimit: "memory_limit",
  Timeout: "timeout",
  EgressDenied: "egress_denied",
  LeaseLost: "lease_lost",
  StorageLimit: "storage_limit",
  StorageReadOnly: "storage_read_only",
  StorageDenied: "storage_denied",
  SqlError: "sql_error",
  InvalidPath: "invalid_path",
  QuotaExceeded: "quota_exceeded",
  Unauthorized: "unauthorized",
  Forbidden: "forbidden",
  PayloadTooLarge: "payload_too_large",
  /** the store could not write (disk full, or out of space for the database): retried once writes succeed */
  StorageFull: "storage_full",
  /** the store is not reachable (a shared store's connection lost): nothing changed, retried once it is back */
  StorageUnavailable: "storage_unavailable",
  Internal: "internal",
} as const;
export type ErrorCode = (typeof ErrorCode)[keyof typeof ErrorCode];

export class WeftError extends Error {
  readonly code: ErrorCode;
  readonly details: Record<string, unknown>;
  constructor(code: ErrorCode, message: string, details: Record<string, unknown> = {}) {
    super(message);
    this.name = "WeftError";
    this.code = code;
    this.details = details;
  }
  toJSON(): { code: ErrorCode; message: string; details: Record<string, unknown> } {
    return { code: this.code, message: this.message, details: this.details };
  }
}

/** The shape an error takes when it is journaled or crosses the isolate boundary. */
export interface ErrorInfo {
  name: string;
  message: string;
  stack?: string;
  /** set when the guest threw NonRetryableError: stops retries */
  nonRetryable?: boolean;
  code?: string;
}

export function isWeftError(e: unknown, code?: ErrorCode): e is WeftError {
  return e instanceof WeftError && (code === undefined || e.code === code);
}

/** how much of an error's message and stack is journaled (the guest cuts at the same length first) */
export const ERROR_TEXT_CHARS = 8192;
/** a text cut to `n` characters with a note of the cut (not cut again within 200 characters of n: a cut text keeps its note) */
export const cutText = (s: unknown, n: number): string => {
  const t = typeof s === "string" ? s : String(s);
  return t.length > n + 200 ? `${t.slice(0, n)}… [truncated: ${t.length} chars; error messages are kept to ${n}]` : t;
};

/**
 * An ErrorInfo as it is journaled: only its known fields (name, message, stack, nonRetryable, code),
 * each cut to a bounded length — tenant code decides what it throws, and every attempt's error is kept.
 */
export function errorInfo(e: ErrorInfo): ErrorInfo {
  const out: ErrorInfo = { name: cutText(e.name, 200), message: cutText(e.message, ERROR_TEXT_CHARS) };
  if (e.nonRetryable) out.nonRetryable = true;
  if (e.code) out.code = cutText(e.code, 200);
  if (e.stack) out.stack = cutText(e.stack, ERROR_TEXT_CHARS);
  return out;
}

/** Any thrown value as an ErrorInfo (a host call's or a config's failure handed to the workflow). */
export function toErrorInfo(err: unknown, nonRetryable = false): ErrorInfo {
  const e = err as { name?: string; message?: string; code?: string } | null | undefined;
  const info: ErrorInfo = { name: e?.name ?? "Error", message: e?.message ?? String(err) };
  if (e?.code) info.code = e.code;
  if (nonRetryable) info.nonRetryable = true;
  return info;
}

// ---- Cloudflare's texts ---------------------------------------------------------------------------
// Code written for Cloudflare Workflows, and tools around it, match on the texts of the binding's and
// the engine's errors (`e.message.includes("instance.not_found")`, vitest's `toThrow(text)`, the local
// explorer's 404 mapping). A Weft error that means the same begins with that text, exactly as the
// reference writes it, then ": " and Weft's own explanation; its `code` and HTTP status stay Weft's.
// Where they come from (cloudflare/workers-sdk, packages/workflows-shared/src):
//   binding.ts get()          new Error("instance.not_found")  (any failure to read the instance's status)
//   binding.ts create()       new WorkflowError("Workflow instance has invalid id")
//   binding.ts createBatch()  new Error("WorkflowError: batchCreate should have at least 1 instance")
//   binding.ts deleteBatch()  createWorkflowError(text, code) = `(${code}) ${text}` for a bad call, and
//                             per id { id, code: 10400 | 10001, message: "workflows.api.error.…" }
//   engine.ts changeInstanceStatus("terminate") on complete/errored/terminated:
//                             "(instance.cannot_terminate) Cannot terminate instance since its on a finite state"
//   lib/errors.ts stepNotFoundError(name), restart({ from }) of a step not in the history:
//                             `(instance.cannot_restart) Step "${name}" not found in execution history`

/** The reference's texts, verbatim. */
export const CloudflareText = {
  instanceNotFound: "instance.not_found",
  invalidInstanceId: "Workflow instance has invalid id",
  emptyCreateBatch: "WorkflowError: batchCreate should have at least 1 instance",
  cannotTerminate: "(instance.cannot_terminate) Cannot terminate instance since its on a finite state",
  stepNotFound: (name: string) => `(instance.cannot_restart) Step "${name}" not found in execution history`,
  deleteBatchNotArray: "(body) Provided argument is invalid",
  deleteBatchTooMany: "(body) batchDeleteInstances only supports 100 instances at a time",
  deleteBatchEmpty: "(body) batchDeleteInstances should have at least 1 instance",
  invalidAddressableId: "(instance.invalid_id) Instance ID is invalid",
} as const;

/** The reference's text first, then Weft's explanation. */
export function withReferenceText(text: string, explanation: string): string {
  return `${text}: ${explanation}`;
}

/** `err` (a WeftError) with `text` and ": " put in front of its message, same code; anything else as it is. */
export function prefixMessage(text: string, err: unknown, extraDetails: Record<string, unknown> = {}): unknown {
  if (!(err instanceof WeftError)) return err;
  return new WeftError(err.code, withReferenceText(text, err.message), { ...err.details, ...extraDetails });
}

/** create()/createBatch() given an id that is not valid: `err` is the id validator's refusal. */
export function invalidNewInstanceId(err: unknown, where: string, index?: number): unknown {
  const inner = index === undefined ? err : prefixMessage(`${where}[${index}]`, err, { index });
  return prefixMessage(CloudflareText.invalidInstanceId, inner);
}

/** get() of an id that is not valid: Cloudflare's get() answers instance.not_found (no instance has it). */
export function invalidIdToGet(err: unknown): unknown {
  return prefixMessage(CloudflareText.instanceNotFound, err);
}

/** createBatch([]). */
export function emptyCreateBatch(limit: number): WeftError {
  return new WeftError(ErrorCode.InvalidArgument, withReferenceText(CloudflareText.emptyCreateBatch, `createBatch takes 1 to ${limit} instances, got none`), {
    field: "batch", size: 0, limit,
  });
}

/**
 * Why deleteBatch(ids) is refused as a whole, or undefined: not an array, none, over `limit`, or an
 * entry that is not even an id Cloudflare would look up (`addressable`); in the reference's order
 * (binding.ts deleteBatch).
 */
export function deleteBatchRefusal(ids: unknown, limit: number, addressable: (id: unknown) => boolean): WeftError | undefined {
  if (!Array.isArray(ids)) {
    const got = ids === null ? "null" : typeof ids;
    return new WeftError(ErrorCode.InvalidArgument, withReferenceText(CloudflareText.deleteBatchNotArray, `deleteBatch takes an array of instance ids, got ${got}`), { field: "instances" });
  }
  if (ids.length > limit) {
    return new WeftError(ErrorCode.InvalidArgument, withReferenceText(CloudflareText.deleteBatchTooMany, `deleteBatch takes at most ${limit} ids, got ${ids.length}`), {
      field: "instances", size: ids.length, limit,
    });
  }
  if (ids.length === 0) {
    return new WeftError(ErrorCode.InvalidArgument, withReferenceText(CloudflareText.deleteBatchEmpty, `deleteBatch takes 1 to ${limit} ids, got none`), {
      field: "instances", size: 0, limit,
    });
  }
  const bad = ids.findIndex((id) => !addressable(id));
  if (bad >= 0) {
    const v = ids[bad];
    const shown = typeof v === "string" ? JSON.stringify(v.length > 300 ? `${v.slice(0, 300)}…` : v) : v === null ? "null" : typeof v;
    return new WeftError(ErrorCode.InvalidName, withReferenceText(CloudflareText.invalidAddressableId,
      `deleteBatch[${bad}] is ${shown}: an instance id is a non-empty string of at most 271 characters of letters, digits, "_", "-" (and, in Cloudflare's cron ids, " ", "*", "/", ",", "#")`), {
      field: `instances.${bad}`, index: bad,
    });
  }
  return undefined;
}

/** An instance that does not exist (never created, deleted, or another tenant's: the same answer). */
export function instanceNotFound(tenant: string, workflow: string, id: string, note?: string): WeftError {
  const why = `instance ${JSON.stringify(id)} does not exist in workflow ${JSON.stringify(workflow)} of tenant ${JSON.stringify(tenant)}${note ? ` (${note})` : ""}`;
  return new WeftError(ErrorCode.NotFound, withReferenceText(CloudflareText.instanceNotFound, why), { instanceId: id, workflow, tenant });
}

/** terminate() of an instance that has finished. */
export function cannotTerminateMessage(explanation: string): string {
  return withReferenceText(CloudflareText.cannotTerminate, explanation);
}

/** restart({ from }) naming a step the instance's history does not have. */
export function stepNotInHistory(instanceId: string, from: { name: string; type?: string; count?: number }): WeftError {
  const why = `instance ${JSON.stringify(instanceId)} has no ${from.type ?? "do"} step ${JSON.stringify(from.name)} (occurrence ${from.count ?? 1}) in its history`;
  return new WeftError(ErrorCode.NotFound, withReferenceText(CloudflareText.stepNotFound(from.name), why), { instanceId, from });
}

/**
 * deleteBatch's per-id errors, as the reference reports them (binding.ts deleteBatch: 10400 for an
 * id with no instance, 10001 for any other failure); Weft's explanation follows the message.
 */
export const BatchDeleteError = {
  notFound: { code: 10400, message: "workflows.api.error.instance.not_found" },
  internal: { code: 10001, message: "workflows.api.error.internal_server" },
} as const;

export interface BatchDeleteResult {
  /** one entry per id given that was deleted (an id given twice is deleted once and listed twice) */
  deleted: { id: string }[];
  /** one entry per id given that was not, in the order given */
  errors: { id: string; code: number; message: string }[];
}

/** The per-id error of deleteBatch for a failure `err` deleting `id`. */
export function batchDeleteError(id: string, err: unknown): { id: string; code: number; message: string } {
  const notFound = isWeftError(err, ErrorCode.NotFound);
  const kind = notFound ? BatchDeleteError.notFound : BatchDeleteError.internal;
  let why = err instanceof WeftError ? err.message : "the deletion failed; the engine logged the details";
  // the reference's per-id text already says not_found: Weft's explanation, without saying it twice
  const lead = `${CloudflareText.instanceNotFound}: `;
  if (notFound && why.startsWith(lead)) why = why.slice(lead.length);
  return { id, code: kind.code, message: withReferenceText(kind.message, why) };
}
