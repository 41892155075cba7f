// The globals a Cloudflare project gets from `wrangler types` (worker-configuration.d.ts) or
// @cloudflare/workers-types, as far as the examples in this folder use them, so that they type-check
// with this repository's `tsc`. The module types ("cloudflare:workers", "cloudflare:workflows") are
// in ../cloudflare-workflows.d.ts. Nothing here exists at run time: it is types only.

/** `env.MY_WORKFLOW` — the Workflow binding (workerd types/defines/workflows.d.ts). */
interface Workflow<PARAMS = unknown> {
  get(id: string): Promise<WorkflowInstance>;
  create(options?: WorkflowInstanceCreateOptions<PARAMS>): Promise<WorkflowInstance>;
  createBatch(batch: WorkflowInstanceCreateOptions<PARAMS>[]): Promise<WorkflowInstance[]>;
}

interface WorkflowInstanceCreateOptions<PARAMS = unknown> {
  id?: string;
  params?: PARAMS;
}

interface WorkflowInstance {
  id: string;
  pause(): Promise<void>;
  resume(): Promise<void>;
  terminate(options?: { rollback?: boolean }): Promise<void>;
  restart(options?: { from?: { name: string; count?: number; type?: "do" | "sleep" | "waitForEvent" } }): Promise<void>;
  status(): Promise<InstanceStatus>;
  sendEvent(event: { type: string; payload: unknown }): Promise<void>;
}

interface InstanceStatus {
  status: "queued" | "running" | "paused" | "errored" | "terminated" | "complete" | "waiting" | "waitingForPause" | "unknown";
  error?: { name: string; message: string };
  output?: unknown;
}

/** `env.DB` — a D1 database binding (the part of @cloudflare/workers-types the examples use). */
interface D1Database {
  prepare(query: string): D1PreparedStatement;
  batch<T = Record<string, unknown>>(statements: D1PreparedStatement[]): Promise<D1Result<T>[]>;
}

interface D1PreparedStatement {
  bind(...values: unknown[]): D1PreparedStatement;
  first<T = Record<string, unknown>>(column?: string): Promise<T | null>;
  all<T = Record<string, unknown>>(): Promise<D1Result<T>>;
  run<T = Record<string, unknown>>(): Promise<D1Result<T>>;
}

interface D1Result<T = Record<string, unknown>> {
  results: T[];
  success: true;
  meta: { changes: number; last_row_id: number; rows_read?: number; rows_written?: number };
}

/** `env.BUCKET` — an R2 bucket binding. */
interface R2Bucket {
  head(key: string): Promise<R2Object | null>;
  get(key: string): Promise<R2ObjectBody | null>;
  put(key: string, value: string | ArrayBuffer | ArrayBufferView, options?: { httpMetadata?: { contentType?: string } }): Promise<R2Object>;
  delete(key: string): Promise<void>;
  list(options?: { prefix?: string }): Promise<{ objects: R2Object[]; truncated: boolean }>;
}

interface R2Object {
  key: string;
  size: number;
  etag: string;
  uploaded: Date;
  httpMetadata?: { contentType?: string };
}

interface R2ObjectBody extends R2Object {
  text(): Promise<string>;
  json<T>(): Promise<T>;
  arrayBuffer(): Promise<ArrayBuffer>;
}
