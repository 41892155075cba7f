// The storage ports the engine depends on, split by concern: catalog (versions, workflows),
// instances, journal, run queue (claims with an owner and an expiry), mailbox (events), objects
// (git), tenancy, telemetry (logs, history, counts). Adapters: sqlite/ (embedded, default) and
// postgres/ (cluster); both pass testing/store-suite.ts. All methods are async so that a networked
// adapter fits. The store is the one place where the truth lives:
// - every cause of a wake-up (create, timer due, event delivered, resume, restart, retry due) makes
//   the instance runnable (ready_at) in the same transaction as that cause;
// - a run takes an instance with a claim (owner, expiry, epoch); every journal write names the epoch
//   and is refused (LeaseLost) once it has moved on; a claim is released with the next wake time.
// Times: `now` is the engine clock (workflow time: ready_at, timestamps); `leaseNow`/`leaseUntil`
// are the lease clock (process liveness; real time even when workflow time is virtual).
import type { ErrorInfo } from "../core/errors.ts";
import type { InstanceStatus } from "../core/status.ts";
import type { AttemptRecord, JournalOp, StepRecord, StoredObject } from "../core/journal.ts";
import type { Draw } from "../core/rate.ts";
import type { EventBuffer } from "../core/limits.ts";
export type { AttemptRecord, JournalOp, SqlDelta, StepRecord, StoredObject } from "../core/journal.ts";

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
  limits: { memoryMb: number; cpuMsPerStep: number; steps: number; stepResultBytes: number; concurrency: number; sqlBytes: number; sqlMsPerQuery?: number; fileBytes: number; files: number; hostObjects?: number; pendingCalls?: number; bufferedEvents?: number; bufferedEventBytes?: number; journalBytes?: number; logLines?: number; logBytes?: number };
  egress: { allow: string[]; handler: boolean };
  /** plain env values with the markers of core/env-codec.ts (functions, host objects, secrets sealed, Workflow bindings) */
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
  /** the run queue: when the instance next needs a run (null: nothing to do until something wakes it) */
  readyAt: number | null;
  epoch: number;
  /** the commit ctx.fs is at (null: no files yet) and how many files it holds */
  fsHead: string | null;
  fsFiles: number;
  /** the version of the instance's SQL database the store holds (0: none yet; see JournalOp "sql") */
  sqlSeq: number;
  /** the run (claim epoch) whose journal write made that version */
  sqlBy: number;
}


export interface NewInstance {
  tenant: string;
  workflow: string;
  id: string;
  version: string;
  params: unknown;
  /** params as the engine already encoded them (v8 serialization, checked against the size limit): stored as they are */
  encodedParams?: Uint8Array;
  metadata: Record<string, string>;
  trigger: string;
  createdAt: number;
  /** seeded filesystem: its objects must be in the store (putObjects) before, or written with the create */
  fsHead?: string | null;
  fsFiles?: number;
}


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

export interface Claim {
  /** the engine node that claims */
  node: string;
  /** engine time: instances whose readyAt is at or before it are due */
  now: number;
  /** lease clock: claims that expired at or before it are free */
  leaseNow: number;
  /** lease clock: the claim holds until then unless extended */
  leaseUntil: number;
  /**
   * Caps on live claims (of any node) checked in the claim's transaction: the claim is refused
   * ("full") when the instance's tenant already holds `tenant` of them, or its workflow `workflow`.
   * What makes a tenant's running-instance quota and a workflow's concurrency hold across nodes.
   */
  limits?: { tenant: number; workflow: number };
}

export interface Claimed {
  inst: InstanceRecord;
  /** the run's fencing token: every journal write names it */
  epoch: number;
  /** wake-ups recorded so far: a release that has not seen later ones makes the instance due again */
  wakes: number;
}

export interface DueInstance {
  pk: number;
  tenant: string;
  workflow: string;
  version: string;
  readyAt: number;
  /** never started: new instances queue behind waking ones */
  fresh: boolean;
}

export interface Release {
  /** engine time of the release */
  now: number;
  /** when the instance needs its next run (null: not until something wakes it) */
  readyAt: number | null;
  /** the wake count the run has acted on; a later wake-up makes the instance due at once */
  seenWakes: number;
}

/** What a journal write or an event brought about in the same transaction. */
export interface JournalResult {
  /** buffered events matched to waits the write journaled */
  delivered: DeliveredEvent[];
}

export interface EventResult {
  delivered: DeliveredEvent[];
  /** the instance's wake count after this event (a live run that takes the delivery has seen it) */
  wakes: number;
}

export interface CatalogPort {
  putVersion(v: VersionRecord): Promise<void>;
  getVersion(tenant: string, workflow: string, version: string): Promise<VersionRecord | undefined>;
  latestVersion(tenant: string, workflow: string): Promise<VersionRecord | undefined>;
  /** the name of the version new instances get, as the store has it now (a point read: nodes check their cache with it) */
  latestVersionId(tenant: string, workflow: string): Promise<string | undefined>;
  listVersions(tenant: string, workflow: string): Promise<{ version: string; createdAt: number }[]>;
  listWorkflows(tenant: string): Promise<{ workflow: string; latestVersion: string; updatedAt: number }[]>;
  /** remove a workflow and its versions; returns the pks of its instances (the caller deletes them) */
  deleteWorkflow(tenant: string, workflow: string): Promise<number[]>;
}

export interface InstancesPort {
  /**
   * All or nothing; an id that exists already fails the whole call with AlreadyExists naming it. New
   * instances are due at once (readyAt = createdAt). Their pks are never reused, even after a delete.
   */
  createInstances(rows: NewInstance[], objects?: { tenant: string; objects: StoredObject[] }): Promise<InstanceRecord[]>;
  getInstance(tenant: string, workflow: string, id: string): Promise<InstanceRecord | undefined>;
  getInstanceByPk(pk: number): Promise<InstanceRecord | undefined>;
  listInstances(f: ListFilter): Promise<InstanceRecord[]>;
  /** the instance and everything of it, in one transaction: a run that still holds it is fenced out */
  deleteInstance(pk: number): Promise<void>;
}

export interface JournalPort {
  /**
   * Fenced by the claim's epoch (LeaseLost), atomic, durable when the promise resolves. The one
   * commit point of a step: its result, its SQL pages and its git objects and head go in together.
   */
  journal(pk: number, epoch: number, ops: JournalOp[]): Promise<JournalResult>;
  steps(pk: number): Promise<StepRecord[]>;
  attempts(pk: number): Promise<AttemptRecord[]>;
  /** steps and attempts as of one moment (describe: a retry's step row and its attempt rows agree) */
  stepsAndAttempts(pk: number): Promise<{ steps: StepRecord[]; attempts: AttemptRecord[] }>;
}

export interface RunQueuePort {
  /** instances due now and not claimed by a live claim (another node's or an expired one), oldest first */
  due(now: number, leaseNow: number, limit: number): Promise<DueInstance[]>;
  /** the earliest readyAt after `after` among instances not held by a live claim (null: none) */
  nextReadyAt(after: number, leaseNow: number): Promise<number | null>;
  /**
   * Take a due instance for one run: bumps the epoch, status running, records workflow_running.
   * undefined when it is not due, held by another node's live claim, gone, or settled by the claim
   * itself (a pausing instance whose run died becomes paused). A node may take over its own claim.
   * "full": due, but the claim's limits are reached (nothing changed; try again once a claim ends).
   */
  claim(pk: number, c: Claim): Promise<Claimed | "full" | undefined>;
  /** claim up to `limit` due instances, oldest first (what claim() would take one by one; "full" ones are skipped) */
  claimDue(c: Claim, limit: number): Promise<Claimed[]>;
  /** heartbeat: extend this node's claims on these instances; returns the pks still held */
  extendClaims(node: string, pks: number[], leaseUntil: number): Promise<number[]>;
  /**
   * End a run (fenced): the ops, then the claim let go with the next wake time, in one transaction.
   * Returns the instance's place in the run queue after it (due at once when a wake-up came meanwhile).
   */
  release(pk: number, epoch: number, r: Release, ops: JournalOp[]): Promise<{ readyAt: number | null }>;
  /** the embedded store is one process's: claims of an earlier process are void at open */
  voidClaims(): Promise<number>;
  /**
   * A node that stops lets go of its claims (status and epoch unchanged: the next claim fences its
   * runs out), so another node continues them at once instead of waiting for the lease to expire.
   */
  releaseClaims(node: string): Promise<number>;
  /**
   * Move the epoch without a run (terminate, pause of an instance not running): fences out old runs
   * and lets go of any claim. `readyAt` (when given) is the instance's new place in the run queue.
   */
  fence(pk: number, ops: JournalOp[], readyAt?: number | null): Promise<number>;
  /**
   * pause(): a running instance with a live claim becomes waitingForPause (its run finishes the
   * attempts in flight and releases it paused); any other is paused at once (fenced).
   */
  pause(pk: number, now: number, leaseNow: number): Promise<"pausing" | "paused">;
  /**
   * resume(): a pausing instance goes back to running (its run was never stopped); a paused one is
   * queued and due now (fenced, a wake-up).
   */
  resume(pk: number, now: number): Promise<"unpaused" | "queued">;
  /** restart(): cut the journal (core/journal.ts cutByRestart), fence, queue and wake, in one transaction */
  restart(pk: number, fromSeq: number | undefined, now: number, data: unknown): Promise<void>;
}

export interface MailboxPort {
  /**
   * Buffer an event and, in the same transaction, match buffered events to pending waits; a delivery
   * makes the instance due now (a wake-up). NotFound when the instance is gone, InvalidState when it
   * finished: the event is not stored then.
   */
  /** with `buffer`: an event no wait takes is refused (QuotaExceeded, nothing stored) when the instance's buffer is full */
  addEvent(pk: number, type: string, payload: unknown, at: number, buffer?: EventBuffer): Promise<EventResult>;
}

export interface ObjectsPort {
  /** git objects, durable when the promise resolves; writing one that exists is a no-op */
  putObjects(tenant: string, objects: StoredObject[]): Promise<void>;
  readObject(tenant: string, oid: string): Promise<StoredObject | undefined>;
  /**
   * The instance's SQL database as the store holds it: its version, page size and size in pages,
   * and up to `limit` of its pages from `fromPgno` on (ascending; a page never written is absent).
   * Read in parts, a caller checks that `seq` stayed the same.
   */
  sqlImage(pk: number, fromPgno: number, limit: number): Promise<SqlImagePart>;
}

export interface SqlImagePart {
  seq: number;
  pageSize: number;
  nPages: number;
  pages: { pgno: number; data: Uint8Array }[];
}

export interface TenancyPort {
  /** AlreadyExists if the name is taken */
  createTenant(t: TenantRecord): Promise<void>;
  getTenant(name: string): Promise<TenantRecord | undefined>;
  listTenants(): Promise<TenantRecord[]>;
  /** (a changed quota starts the tenant's creation bucket afresh) */
  setTenantQuotas(name: string, quotas: Record<string, number>): Promise<TenantRecord | undefined>;
  /**
   * Draw `n` creations from the tenant's bucket (core/rate.ts drawTokens), in one transaction under
   * the bucket's lock: every node of a shared store draws from the same bucket.
   */
  drawCreations(tenant: string, n: number, now: number, rate: number, burst: number): Promise<Draw>;
  putToken(t: TokenRecord): Promise<void>;
  tokenByHash(hash: string): Promise<TokenRecord | undefined>;
  listTokens(tenant: string | null): Promise<TokenRecord[]>;
  /** false if there is no such live token */
  revokeToken(tenant: string | null, id: string, at: number): Promise<boolean>;
}

export interface TelemetryPort {
  /** lines of instances that no longer exist are dropped (checked in the same transaction) */
  appendLogs(lines: LogLine[]): Promise<void>;
  logs(pk: number, after: number, limit: number): Promise<(LogLine & { seq: number })[]>;
  history(pk: number, after: number): Promise<HistoryEvent[]>;
  countByStatus(tenant?: string, workflow?: string): Promise<Record<string, number>>;
  /** creations and endings per time bucket of `bucketMs`, from `from` (inclusive) to `to` (exclusive) */
  activity(q: ActivityQuery): Promise<ActivityBucket[]>;
}

/** What other processes on a shared store did, and whether the store can be reached. */
export interface ChangeFeedPort {
  /** a round trip to the store: rejects (storage_unavailable) when it cannot be reached */
  ping(): Promise<void>;
  /**
   * `fn(pk, runnable)` after a commit of ANOTHER process (another store object) changed instance
   * pk's status, claim, events or queue place — a process knows its own changes; `runnable`: it may
   * have become due (created, woken, its claim let go). A run's journal writes (its steps) are not
   * reported: they are most commits, and a commit that notifies cannot share its fsync with others
   * (PostgreSQL holds a server-wide lock through it); who follows a run elsewhere reads its history
   * on a beat. The embedded store has one process: it reports nothing. Returns: stop watching.
   */
  watch(fn: (pk: number, runnable: boolean) => void): () => void;
  /**
   * `fn()` when the feed was cut (a shared store's connection that hears the commits was lost, or
   * never opened) and is whole again: commits made meanwhile may have gone unreported, so whoever
   * watches looks again at what it waits for. The embedded store has no feed to cut: never.
   * Returns: stop.
   */
  onGap(fn: () => void): () => void;
}

export interface Store extends CatalogPort, InstancesPort, JournalPort, RunQueuePort, MailboxPort, ObjectsPort, TenancyPort, TelemetryPort, ChangeFeedPort {
  readonly kind: "sqlite" | "postgres";
  close(): Promise<void>;
}
