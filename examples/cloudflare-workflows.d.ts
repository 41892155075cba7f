// Types for the modules tenant code imports ("cloudflare:workers", "cloudflare:workflows"), so the
// examples type-check with `tsc`. They follow the Cloudflare Workflows signatures that the guest
// runtime (src/sandbox/guest/) implements; at run time the sandbox provides the modules.

declare module "cloudflare:workers" {
  export type WorkflowDurationLabel = "second" | "minute" | "hour" | "day" | "week" | "month" | "year";
  export type WorkflowSleepDuration = `${number} ${WorkflowDurationLabel}${"s" | ""}` | number;
  export type WorkflowDelayDuration = WorkflowSleepDuration;
  export type WorkflowTimeoutDuration = WorkflowSleepDuration;
  export type WorkflowBackoff = "constant" | "linear" | "exponential";

  export type WorkflowStepConfig = {
    retries?: { limit: number; delay: WorkflowDelayDuration | number; backoff?: WorkflowBackoff };
    timeout?: WorkflowTimeoutDuration | number;
    sensitive?: "output";
  };

  export type WorkflowStepContext = {
    step: { name: string; count: number };
    attempt: number;
    config: WorkflowStepConfig;
  };

  export type WorkflowStepRollbackOptions<T> = {
    rollback: (args: { ctx: WorkflowStepContext; error: unknown; output: T | undefined }) => Promise<unknown> | unknown;
    rollbackConfig?: Omit<WorkflowStepConfig, "sensitive">;
  };

  export type WorkflowEvent<T> = {
    payload: Readonly<T>;
    timestamp: Date;
    instanceId: string;
    workflowName: string;
  };

  export type WorkflowStepEvent<T> = { payload: Readonly<T>; timestamp: Date; type: string };

  export interface WorkflowStep {
    do<T>(name: string, callback: (ctx: WorkflowStepContext) => Promise<T>, rollback?: WorkflowStepRollbackOptions<T>): Promise<T>;
    do<T>(name: string, config: WorkflowStepConfig, callback: (ctx: WorkflowStepContext) => Promise<T>, rollback?: WorkflowStepRollbackOptions<T>): Promise<T>;
    sleep(name: string, duration: WorkflowSleepDuration): Promise<void>;
    sleepUntil(name: string, timestamp: Date | number): Promise<void>;
    waitForEvent<T>(name: string, options: { type: string; timeout?: WorkflowTimeoutDuration | number }): Promise<WorkflowStepEvent<T>>;
  }

  /** Durable Objects' SqlStorageCursor */
  export interface SqlStorageCursor<T extends Record<string, SqlStorageValue> = Record<string, SqlStorageValue>> extends IterableIterator<T> {
    readonly columnNames: string[];
    readonly rowsRead: number;
    readonly rowsWritten: number;
    toArray(): T[];
    one(): T;
    raw(): IterableIterator<SqlStorageValue[]>;
  }
  export type SqlStorageValue = ArrayBuffer | string | number | null;

  /** The instance's own SQLite database; writes only inside step.do, committed with the step. */
  export interface SqlStorage {
    exec<T extends Record<string, SqlStorageValue> = Record<string, SqlStorageValue>>(query: string, ...bindings: unknown[]): SqlStorageCursor<T>;
    readonly databaseSize: number;
  }

  export interface WorkflowFileStat {
    type: "file" | "directory";
    size: number;
    oid: string | null;
    isFile(): boolean;
    isDirectory(): boolean;
  }
  export interface WorkflowFileCommit {
    oid: string;
    message: string;
    step: { name: string; count: number } | null;
    at: number;
    date: Date;
    parents: string[];
  }

  /** The instance's own git-native filesystem; each step that changes files is one commit. */
  export interface WorkflowFiles {
    readFile(path: string, options?: { at?: string }): Promise<Uint8Array>;
    readFile(path: string, options: "utf8" | { encoding: "utf8"; at?: string }): Promise<string>;
    writeFile(path: string, data: string | ArrayBuffer | ArrayBufferView): Promise<void>;
    mkdir(path: string, options?: { recursive?: boolean }): Promise<void>;
    readdir(path?: string, options?: { at?: string }): Promise<string[]>;
    stat(path: string, options?: { at?: string }): Promise<WorkflowFileStat>;
    exists(path: string, options?: { at?: string }): Promise<boolean>;
    rm(path: string, options?: { recursive?: boolean; force?: boolean }): Promise<void>;
    rename(from: string, to: string): Promise<void>;
    log(options?: { limit?: number }): Promise<WorkflowFileCommit[]>;
    diff(a: string, b?: string): Promise<{ path: string; change: "added" | "deleted" | "modified" }[]>;
  }

  export interface WorkflowContext {
    readonly instanceId: string;
    readonly storage: { readonly sql: SqlStorage; transactionSync<T>(fn: () => T): T };
    readonly fs: WorkflowFiles;
  }

  export abstract class WorkflowEntrypoint<Env = unknown, T = unknown> {
    protected ctx: WorkflowContext;
    protected env: Env;
    constructor(ctx: unknown, env: Env);
    abstract run(event: Readonly<WorkflowEvent<T>>, step: WorkflowStep): Promise<unknown>;
  }

  // The rest of workerd's "cloudflare:workers": they load in Weft (inert bases), Weft runs only workflows.
  export abstract class WorkerEntrypoint<Env = unknown> {
    protected ctx: unknown;
    protected env: Env;
    constructor(ctx: unknown, env: Env);
  }
  export abstract class DurableObject<Env = unknown> {
    protected ctx: unknown;
    protected env: Env;
    constructor(ctx: unknown, env: Env);
  }
  export abstract class RpcTarget {}
  export const RpcStub: { new <T>(value: T): T };
  /** the running instance's bindings (read-only; undefined properties while the module loads) */
  export const env: Record<string, unknown>;
  export const exports: Record<string, unknown>;
  export function waitUntil(promise: Promise<unknown>): void;
}

declare module "cloudflare:workflows" {
  export class NonRetryableError extends Error {
    constructor(message: string, name?: string);
  }
}
