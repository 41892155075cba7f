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

/** An ErrorInfo as it is journaled: only its known fields (name, message, stack, nonRetryable, code). */
export function errorInfo(e: ErrorInfo): ErrorInfo {
  const out: ErrorInfo = { name: e.name, message: e.message };
  if (e.nonRetryable) out.nonRetryable = true;
  if (e.code) out.code = e.code;
  if (e.stack) out.stack = e.stack;
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
