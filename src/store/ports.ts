// The storage port the engine depends on. Adapters: sqlite/ (embedded, default) and, later,
// postgres/. All methods are async so that a networked adapter fits; every journal write names the
// run epoch that owns the instance and is refused (LeaseLost) when the epoch has moved on.
import type { ErrorInfo } from "../core/errors.ts";
import type { InstanceStatus } from "../core/status.ts";
import type { EntryKind } from "../core/replay.ts";

export interface VersionRecord {
  tenant: string;
  workflow: string;
  version: string;
  className: string;
  bundle: string;
  /** the deployed source, kept for display */
  code: { mainModule: string; modules: Record<string, string> };
  config: VersionConfig;
  createdAt: number;
}

export interface VersionConfig {
  limits: { memoryMb: number; cpuMsPerStep: number; steps: number; stepResultBytes: number; concurrency: number; sqlBytes: number; sqlMsPerQuery?: number; fileBytes: number; files: number };
  egress: { allow: string[]; handler: boolean };
  /** plain env values, host functions as { __weftFn: "path" } markers, secrets sealed as { __weftSecret } */
  env: unknown;
  /** env paths bound to host functions registered with the engine by name (EngineOptions.hostFunctions) */
  hostNames?: Record<string, string>;
}

export interface InstanceRecord {
  pk: number;
  tenant: string;
  workflow: string;
  id: string;
  version: string;
  status: InstanceStatus;
  params: unknown;
  metadata: Record<string, string>;
  trigger: string;
  createdAt: number;
  startedAt: number | null;
  endedAt: number | null;
  modifiedAt: number;
  output: unknown;
  error: ErrorInfo | null;
  wakeAt: number | null;
  epoch: number;
  /** the commit ctx.fs is at (null: no files yet) and how many files it holds */
  fsHead: string | null;
  fsFiles: number;
}

/** A git object (content without the "type size\0" header), keyed by its SHA-1. */
export interface StoredObject {
  oid: string;
  type: "blob" | "tree" | "commit";
  data: Uint8Array;
}

export interface NewInstance {
  tenant: string;
  workflow: string;
  id: string;
  version: string;
  params: unknown;
  metadata: Record<string, string>;
  trigger: string;
  createdAt: number;
  /** seeded filesystem: its objects must be in the store (putObjects) before, or written with the create */
  fsHead?: string | null;
  fsFiles?: number;
}

export interface StepRecord {
  key: string;
  kind: EntryKind;
  seq: number;
  name: string;
  count: number;
  state: "complete" | "failed" | "pending";
  value?: unknown;
  error?: ErrorInfo;
  at?: number;
  startedAt: number;
  dueAt?: number;
  attempts: number;
  config?: unknown;
  eventType?: string;
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
  | { op: "history"; type: string; at: number; data?: unknown }
  /** git objects of the instance's tenant (idempotent: content-addressed) */
  | { op: "objects"; tenant: string; objects: StoredObject[] }
  /** move the instance's filesystem to a new commit */
  | { op: "fs"; head: string | null; files: number };

export interface TenantRecord {
  name: string;
  quotas: Record<string, number>;
  createdAt: number;
}

export interface TokenRecord {
  id: string;
  /** null: an admin token */
  tenant: string | null;
  name: string;
  /** hex SHA-256 of the token */
  hash: string;
  createdAt: number;
  revokedAt: number | null;
}

export interface LogLine {
  instance: number;
  at: number;
  level: string;
  message: string;
}

export interface HistoryEvent {
  eventId: number;
  type: string;
  at: number;
  data: unknown;
}

export interface ListFilter {
  tenant: string;
  workflow?: string;
  status?: InstanceStatus;
  createdAfter?: number;
  createdBefore?: number;
  metadata?: Record<string, string>;
  /** instances whose id starts with this */
  idPrefix?: string;
  /** pk to continue after (exclusive), in the list order */
  cursor?: number;
  limit: number;
  direction: "asc" | "desc";
}

export interface ActivityQuery {
  tenant: string;
  workflow?: string;
  from: number;
  to: number;
  bucketMs: number;
}

/** one time bucket: instances created in it, and instances that ended in it by final status */
export interface ActivityBucket {
  at: number;
  created: number;
  completed: number;
  errored: number;
  terminated: number;
}

export interface DeliveredEvent {
  key: string;
  value: { payload: unknown; timestamp: number; type: string };
  at: number;
}

export interface Store {
  readonly kind: "sqlite" | "postgres";
  putVersion(v: VersionRecord): Promise<void>;
  getVersion(tenant: string, workflow: string, version: string): Promise<VersionRecord | undefined>;
  latestVersion(tenant: string, workflow: string): Promise<VersionRecord | undefined>;
  listVersions(tenant: string, workflow: string): Promise<{ version: string; createdAt: number }[]>;

  /** all or nothing; an id that exists already fails the whole call with AlreadyExists naming it */
  createInstances(rows: NewInstance[], objects?: { tenant: string; objects: StoredObject[] }): Promise<InstanceRecord[]>;
  getInstance(tenant: string, workflow: string, id: string): Promise<InstanceRecord | undefined>;
  getInstanceByPk(pk: number): Promise<InstanceRecord | undefined>;
  listInstances(f: ListFilter): Promise<InstanceRecord[]>;
  deleteInstance(pk: number): Promise<void>;
  /** instances a restarted engine must continue: queued, running, waitingForPause, due waiting */
  recoverable(): Promise<{ pk: number; status: InstanceStatus; wakeAt: number | null; tenant: string; workflow: string }[]>;
  /** waiting instances due at or before `now` (the scheduling index) */
  due(now: number, limit: number): Promise<number[]>;
  nextWakeAt(): Promise<number | null>;
  /** waiting instances that have buffered, unconsumed events */
  waitingWithOpenEvents(): Promise<number[]>;

  /** take ownership of an instance for one run: bumps and returns the epoch, records workflow_running */
  claim(pk: number, status: InstanceStatus, at: number): Promise<number>;
  /**
   * Fenced, atomic, durable when the promise resolves — unless `sync: false`: the caller has made
   * these facts durable elsewhere (a step's result recorded in the instance database), so the write
   * resolves once committed and becomes durable with the next synced one.
   */
  journal(pk: number, epoch: number, ops: JournalOp[], options?: { sync?: boolean }): Promise<void>;
  /** move the epoch without a run (terminate, restart, pause of a sleeping instance): fences out old runs */
  fence(pk: number, ops: JournalOp[]): Promise<number>;
  steps(pk: number): Promise<StepRecord[]>;
  attempts(pk: number): Promise<AttemptRecord[]>;
  /** restart support: drop journal entries with seq >= fromSeq (all when undefined) */
  truncate(pk: number, fromSeq: number | undefined): Promise<void>;

  addEvent(pk: number, type: string, payload: unknown, at: number): Promise<void>;
  /** match buffered events to pending waits (oldest first), atomically */
  deliverEvents(pk: number, at: number): Promise<DeliveredEvent[]>;

  /** git objects, durable when the promise resolves; writing one that exists is a no-op */
  putObjects(tenant: string, objects: StoredObject[]): Promise<void>;
  readObject(tenant: string, oid: string): Promise<StoredObject | undefined>;

  /** AlreadyExists if the name is taken */
  createTenant(t: TenantRecord): Promise<void>;
  getTenant(name: string): Promise<TenantRecord | undefined>;
  listTenants(): Promise<TenantRecord[]>;
  setTenantQuotas(name: string, quotas: Record<string, number>): Promise<TenantRecord | undefined>;
  putToken(t: TokenRecord): Promise<void>;
  tokenByHash(hash: string): Promise<TokenRecord | undefined>;
  listTokens(tenant: string | null): Promise<TokenRecord[]>;
  /** false if there is no such live token */
  revokeToken(tenant: string | null, id: string, at: number): Promise<boolean>;
  listWorkflows(tenant: string): Promise<{ workflow: string; latestVersion: string; updatedAt: number }[]>;
  /** remove a workflow and its versions; returns the pks of its instances (the caller deletes them) */
  deleteWorkflow(tenant: string, workflow: string): Promise<number[]>;

  appendLogs(lines: LogLine[]): Promise<void>;
  logs(pk: number, after: number, limit: number): Promise<(LogLine & { seq: number })[]>;
  history(pk: number, after: number): Promise<HistoryEvent[]>;
  countByStatus(tenant?: string, workflow?: string): Promise<Record<string, number>>;
  /** creations and endings per time bucket of `bucketMs`, from `from` (inclusive) to `to` (exclusive) */
  activity(q: ActivityQuery): Promise<ActivityBucket[]>;
  close(): Promise<void>;
}
