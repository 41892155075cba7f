// Engine options, compiled once into a fully defaulted config; nothing downstream checks for undefined.
import type { Clock } from "../core/clock.ts";
import { SystemClock } from "../core/clock.ts";
import type { CrashHandler } from "../core/crash-points.ts";
import type { Store } from "../store/ports.ts";
import { DEFAULT_LIMITS, type WorkflowLimits } from "../core/limits.ts";
export { DEFAULT_LIMITS, type WorkflowLimits } from "../core/limits.ts";


export interface EngineOptions {
  /** embedded store directory (default ./weft-data) */
  dataDir?: string;
  /** a store adapter to use instead of the embedded one */
  store?: Store;
  /**
   * cluster mode: the shared PostgreSQL store (a URL, or its options). Nodes on the same database
   * and schema share all instances; each keeps local copies of instance data in dataDir.
   */
  postgres?: string | PostgresConfig;
  clock?: Clock;
  /** "full" (default) fsyncs every commit; "normal" survives process crashes but not power loss */
  synchronous?: "full" | "normal";
  /** instance runs holding a context at once, across tenants */
  maxActiveRuns?: number;
  /** a run whose next due time is at least this far off releases its context (ms) */
  suspendAfterMs?: number;
  /** contexts (realms) per version isolate */
  maxContextsPerIsolate?: number;
  /** instance runs sharing one context */
  maxRunsPerContext?: number;
  maxIdleIsolates?: number;
  /** activations shorter than this run synchronously (see IsolateOptions.syncBudgetMs); 0 = never */
  syncBudgetMs?: number;
  /**
   * the nice value of the threads that run tenant code asynchronously (Linux; 0 keeps the engine's
   * priority): the engine's own thread wins a contended core (sandbox/host/priority.ts)
   */
  tenantNice?: number;
  /**
   * What to do when tenant code outruns its isolate's memory limit in a way that cannot be stopped in
   * this process (isolated-vm, sandbox/host/isolates.ts watched): called once the instance is
   * recorded as errored (`recorded`), or after 3 s. Default: the process kills itself (SIGKILL: a
   * normal exit tears isolated-vm down under the running thread and crashes half-way) — its memory is
   * going and only a restart gets it back; the instance does not run again.
   */
  onRunaway?: (info: { instance: number; recorded: boolean }) => void;
  /** defaults for every deploy's limits */
  limits?: Partial<WorkflowLimits>;
  /** the fetch used for allowed egress (default: the global fetch) */
  fetch?: typeof fetch;
  /**
   * run unfinished instances (the claim loop) after open (default true); false opens the engine
   * for reading and control only
   */
  recover?: boolean;
  /**
   * How long a claim on an instance holds without a heartbeat (ms, default 30 s): a run whose
   * process died is taken over this long after its last heartbeat (the embedded store voids an
   * earlier process's claims at open, so a restart continues at once). Heartbeats every third of it.
   */
  leaseMs?: number;
  /** the clock leases are measured on: process liveness is real time, even when workflow time is virtual (default: the system clock) */
  leaseClock?: Clock;
  /** this engine node's id in claims (default: a random one per open) */
  nodeId?: string;
  /** crash points for tests: called at the moments a kill is hardest to recover from */
  hooks?: EngineHooks;
  /**
   * Host functions the embedding application offers to deploys by name: an env entry
   * hostFunction("notify") (HTTP: { "hostFunction": "notify" }) binds to hostFunctions.notify,
   * also after a restart without a re-deploy. An entry may also be a host object (a class instance
   * with methods, a Proxy, a plain object of functions): the env entry is then a stub of it
   * (`env.DB.prepare(sql)…`, host-objects.ts).
   */
  hostFunctions?: Record<string, ((...args: unknown[]) => unknown) | object>;
  /** JSON logs of the engine (pino-compatible: info/warn/error(obj, msg)); default: none */
  logger?: EngineLogger;
  /** key that seals deployed secrets (32 bytes, base64 or hex); default: WEFT_SECRET_KEY, else <dataDir>/secret.key */
  secretKey?: string;
}

export interface EngineLogger {
  info(obj: object, msg: string): void;
  warn(obj: object, msg: string): void;
  error(obj: object, msg: string): void;
}

const SILENT: EngineLogger = { info: () => undefined, warn: () => undefined, error: () => undefined };

export interface EngineHooks {
  /** a step's SQL writes and result are committed in the instance database; its journal write is not made yet */
  afterSqlCommit?: (instance: string, step: string) => void;
  /** called at every named crash point (core/crash-points.ts); tests kill the process there */
  crashPoint?: CrashHandler;
  /** fault injection: the next `times` COMMITs of instance databases first wait `ms` in their SQL worker (a slow disk) */
  sqlCommitDelay?: { ms: number; times: number };
  /** fault injection: the embedded store's fsync of its WAL (a slow disk: call `done` late) */
  storeSync?: (fd: number, done: (err: Error | null) => void) => void;
}

/** where the shared store is (store/postgres) */
export interface PostgresConfig {
  url: string;
  /** the schema of Weft's tables (default "weft") */
  schema?: string;
  /** connections per node (default 10) */
  poolSize?: number;
}

export interface EngineConfig {
  dataDir: string;
  store?: Store;
  postgres: PostgresConfig | undefined;
  clock: Clock;
  synchronous: "full" | "normal";
  maxActiveRuns: number;
  suspendAfterMs: number;
  maxContextsPerIsolate: number;
  maxRunsPerContext: number;
  maxIdleIsolates: number;
  syncBudgetMs: number;
  tenantNice: number;
  onRunaway: (info: { instance: number; recorded: boolean }) => void;
  limits: WorkflowLimits;
  fetch: typeof fetch;
  recover: boolean;
  leaseMs: number;
  leaseClock: Clock;
  nodeId: string | undefined;
  hooks: EngineHooks;
  hostFunctions: Record<string, ((...args: unknown[]) => unknown) | object>;
  secretKey: string | undefined;
  logger: EngineLogger;
}


export function compileConfig(o: EngineOptions): EngineConfig {
  return {
    dataDir: o.dataDir ?? "./weft-data",
    store: o.store,
    postgres: typeof o.postgres === "string" ? { url: o.postgres } : o.postgres,
    clock: o.clock ?? new SystemClock(),
    synchronous: o.synchronous ?? "full",
    maxActiveRuns: o.maxActiveRuns ?? 2000,
    suspendAfterMs: o.suspendAfterMs ?? 5000,
    maxContextsPerIsolate: o.maxContextsPerIsolate ?? 8,
    maxRunsPerContext: o.maxRunsPerContext ?? 64,
    maxIdleIsolates: o.maxIdleIsolates ?? 64,
    syncBudgetMs: o.syncBudgetMs ?? 0,
    tenantNice: o.tenantNice ?? 10,
    onRunaway: o.onRunaway ?? (() => process.kill(process.pid, "SIGKILL")),
    limits: { ...DEFAULT_LIMITS, ...o.limits },
    fetch: o.fetch ?? globalThis.fetch,
    recover: o.recover ?? true,
    leaseMs: o.leaseMs ?? 30_000,
    leaseClock: o.leaseClock ?? new SystemClock(),
    nodeId: o.nodeId,
    hooks: o.hooks ?? {},
    hostFunctions: o.hostFunctions ?? {},
    secretKey: o.secretKey ?? process.env.WEFT_SECRET_KEY,
    logger: o.logger ?? SILENT,
  };
}
