// The supervisor: deploys versions, admits instances, and drives them claim → activate → journal →
// suspend/complete. It depends on the store port and the sandbox host, never on an adapter's
// internals (main.ts and Engine.open pick the adapter).
import { createHash, randomUUID } from "node:crypto";
import { EventEmitter } from "node:events";
import { DEFAULT_LIMITS } from "../core/limits.ts";
import { ErrorCode, WeftError, type ErrorInfo } from "../core/errors.ts";
import { validateTenantName, validateWorkflowName } from "../core/ids.ts";
import { UNFINISHED, type InstanceStatus } from "../core/status.ts";
import type {
  ActivityBucket, ActivityQuery, Claim, HistoryEvent, InstanceRecord, ListFilter, LogLine, Store, VersionConfig, VersionRecord,
} from "../store/ports.ts";
import type { CrashPoint } from "../core/crash-points.ts";
import type { EngineConfig, WorkflowLimits } from "./config.ts";
import { InstanceRun } from "./run.ts";
import type { InstanceDataPort } from "../instance-data/ports.ts";
import type { EngineDeps, SandboxRuntime, TenantCode } from "./ports.ts";
import { SecretBox, openSecrets } from "./secrets.ts";
import { checkCode, compileLimits, encodeEnv, ignoredExports, pickClass, versionId, type IgnoredExport } from "./deploy-rules.ts";
import { Scheduler, type Ready } from "./scheduler.ts";
import { StoreRetry } from "./store-retry.ts";
import { HostSides } from "./host-side.ts";
import { ClusterLink } from "./cluster.ts";
import { checkEgress, type EgressPolicy } from "./egress.ts";
import { sample } from "../core/samples.ts";
import { WorkflowBinding } from "./binding.ts";
import { envRoots, guestWorkflow } from "./host-objects.ts";
import type { Command } from "../sandbox/protocol.ts";

export interface DeployInput {
  tenant: string;
  workflow: string;
  code: TenantCode;
  className?: string;
  env?: Record<string, unknown>;
  limits?: Partial<WorkflowLimits>;
  egress?: EgressPolicy;
}

export interface EngineMetrics {
  coldStartMs: number[];
  stepsCompleted: number;
  stepsFailed: number;
  timerLatenessMs: number[];
  /** activations cut off at the sync budget (their runs replayed with asynchronous activations) */
  preemptions: number;
  /** step attempts started, instances created (counters since open) */
  attemptsStarted: number;
  creations: number;
  /** step results that arrived after their run had stopped (its lease lost): dropped, the step runs again */
  lateResults: number;
  /** console lines dropped over an instance's log limits */
  logLinesDropped: number;
}

/** Emitted as engine.events "attempt" when a step attempt ends (for metrics). */
export interface AttemptEnded {
  pk: number;
  key: string;
  attempt: number;
  tenant: string;
  workflow: string;
  durationMs: number;
  ok: boolean;
}

/** What an InstanceRun may use of the engine. */
export interface EngineCore {
  readonly events: EventEmitter;
  readonly store: Store;
  readonly data: InstanceDataPort;
  readonly sandbox: SandboxRuntime;
  readonly clock: EngineConfig["clock"];
  readonly config: EngineConfig;
  readonly metrics: EngineMetrics;
  runtimeCode(): Promise<string>;
  seedFor(inst: InstanceRecord): number;
  runEnv(v: VersionRecord): unknown;
  log(pk: number, level: string, message: string, limits?: { logLines?: number; logBytes?: number }): void;
  notify(pk: number): void;
  notifySoon(pk: number): void;
  egress(v: VersionRecord, c: Extract<Command, { t: "fetch" }>, signal?: AbortSignal): Promise<unknown>;
  /** an env function's result, boxed (host-objects.ts settle) */
  callHost(v: VersionRecord, fn: string, args: unknown[]): Promise<{ value: unknown }>;
  /** the host object or Workflow binding (of the version's own tenant) at an env path: a stub's `env:` handle (boxed) */
  hostRoot(v: VersionRecord, path: string): Promise<{ obj: object } | undefined>;
  onRunFinished(r: InstanceRun, status: InstanceStatus): void;
  /** `readyAt`: the run queue's answer to the release (due now when a wake-up arrived meanwhile) */
  onRunSuspended(r: InstanceRun, status: "waiting" | "paused", wakeAt: number | null, readyAt: number | null): void;
  onRunStopped(r: InstanceRun): void;
  /** the run ended without releasing its claim and wants to run again (a replay) */
  onRunCrashed(r: InstanceRun): void;
  readonly heavy: Set<number>;
  onRunError(r: InstanceRun, err: unknown): void;
  /** a run's isolate cannot be stopped (it is ended as errored: `written`); the process must go */
  onRunaway(r: InstanceRun, written: Promise<void>): void;
  crash(point: CrashPoint, detail: { instance?: string; pk?: number; step?: string }): void;
  /** a run's write succeeded (the store has room again after a storage_full) */
  storageOk(): void;
  /** the lease clock's now (claims) */
  leaseNow(): number;
  /** may this run still act on the world (its claim surely holds)? */
  leaseHeld(r: InstanceRun): boolean;
}

/** due instances read per look at the run queue */
const POLL_BATCH = 1000;

/** the store refused a write for want of room or reach: nothing changed; the work is retried later */
function storeCannotWrite(err: unknown): boolean {
  const code = (err as WeftError)?.code;
  return code === ErrorCode.StorageFull || code === ErrorCode.StorageUnavailable;
}

export class Engine implements EngineCore {
  readonly store: Store;
  /** instances' SQL databases and files */
  readonly data: InstanceDataPort;
  /** isolates and the tenant-code compiler */
  readonly sandbox: SandboxRuntime;
  readonly clock: EngineConfig["clock"];
  readonly config: EngineConfig;
  readonly metrics: EngineMetrics = { coldStartMs: [], stepsCompleted: 0, stepsFailed: 0, timerLatenessMs: [], preemptions: 0, attemptsStarted: 0, creations: 0, lateResults: 0, logLinesDropped: 0 };
  readonly events = new EventEmitter();
  private readonly runs = new Map<number, InstanceRun>();
  private readonly starting = new Set<number>();
  private readonly sched: Scheduler;
  private readonly hostSides: HostSides;
  private readonly versions = new Map<string, VersionRecord>();
  /** latest version per "tenant/workflow" (on a shared store checked against the store's pointer at each use) */
  private readonly latest = new Map<string, VersionRecord>();
  private readonly logBuffer: { instance: number; at: number; level: string; message: string }[] = [];
  private logFlush = false;
  private wakeTimer?: { at: number; cancel(): void };
  /** this engine's id in the claims it takes */
  readonly node: string;
  private heartbeat?: ReturnType<typeof setInterval>;
  /** a shared store's node: the change feed, the sweep, instances held back by cluster-wide limits */
  private cluster?: ClusterLink;
  private pollTimer?: ReturnType<typeof setTimeout>;
  private polling = false;
  private pollAgain = false;
  /** the last look at the run queue found a full batch: look again when the queue runs low */
  private moreDue = false;
  /** deleted instances whose runs may still be starting: their data is removed once they stop */
  private readonly deleted = new Set<number>();
  /** pause() found the instance's claim live while its run was still starting here */
  private readonly pauseOnStart = new Set<number>();
  private closed = false;
  private dispatching = false;
  private readonly notifyPending = new Set<number>();
  private draining = false;
  private secretBox?: SecretBox;
  /** run envs with their secrets opened, by version key */
  private readonly openedEnvs = new Map<string, unknown>();
  /** per-tenant quota of running instances (set by the control plane); beyond it instances queue */
  private readonly tenantLimits = new Map<string, number>();

  /** src/main.ts composes the dependencies (Engine.open); the engine sees their ports only */
  protected constructor(config: EngineConfig, deps: EngineDeps) {
    this.config = config;
    this.clock = config.clock;
    this.store = deps.store;
    this.data = deps.data;
    this.sandbox = deps.sandbox;
    this.sched = new Scheduler(config.maxActiveRuns, (t) => this.tenantLimits.get(t) ?? Infinity);
    this.hostSides = new HostSides(config.clock, config.hostFunctions);
    this.events.setMaxListeners(0);
    this.node = config.nodeId ?? `node-${randomUUID()}`;
  }

  /** After construction: warm the sandbox and, unless recover is off, start the claim loop. */
  protected async start(): Promise<void> {
    const { config, store } = this;
    const e = this;
    e.sandbox.refill(await e.runtimeCode());
    if (config.recover) {
      // The embedded store belongs to one process: claims of an earlier one (killed, or stopped
      // mid-run) are void, so its instances continue now instead of after their lease.
      if (store.kind === "sqlite") await store.voidClaims();
      const counts = await store.countByStatus();
      const unfinished = UNFINISHED.reduce((n, st) => n + (counts[st] ?? 0), 0);
      if (unfinished > 0) config.logger.info({ instances: unfinished }, "recovering unfinished instances");
      e.heartbeat = setInterval(() => e.background(e.beat()), Math.max(50, Math.floor(config.leaseMs / 3)));
      e.heartbeat.unref();
      // a shared store's change feed that was cut and is whole again (PostgreSQL restarted): what it may have missed is looked at again
      store.onGap(() => e.resync());
      if (store.kind !== "sqlite") {
        e.cluster = new ClusterLink({
          notify: (pk) => e.notify(pk),
          notifyHistory: (pk) => e.notifySoon(pk),
          followed: () => e.events.eventNames().flatMap((n) => (typeof n === "string" && n.startsWith("h:") && !e.runsHere(Number(n.slice(2))) ? [Number(n.slice(2))] : [])),
          refreshLive: (pk) => {
            const live = e.runs.get(pk);
            if (live) e.background(live.refreshWaits()); // resolves now, not at its next suspend
            return live !== undefined;
          },
          pollSoon: () => e.pollSoon(),
          poll: () => e.background(e.poll()),
          retry: (r) => (e.sched.enqueue(r, "wake"), e.dispatch()),
        });
        e.cluster.start(store, config.leaseMs);
      }
      // recovery is ordinary claim work, in the background: the engine serves at once
      e.background(e.poll());
      e.background(e.data.removeOrphans(async (pk) => (await store.getInstanceByPk(pk)) !== undefined || e.runs.has(pk)));
    }
  }

  leaseNow(): number {
    return this.config.leaseClock.now();
  }

  /**
   * May this run still act on the world (a host call, a fetch)? Not once its claim may have expired
   * (with a margin of a fifth of the lease): another node may be running the instance by then. A
   * process that was stopped (SIGSTOP, a long pause) and goes on finds out here, before its next side
   * effect, not only at its next heartbeat; its journal writes are fenced anyway.
   */
  leaseHeld(r: InstanceRun): boolean {
    return r.mode !== "run" || r.leaseUntil - this.config.leaseMs / 5 > this.leaseNow();
  }

  /** does this node hold a run of the instance (its local copies are the live ones)? */
  runsHere(pk: number): boolean {
    return this.runs.has(pk) || this.starting.has(pk);
  }

  /** a look at the run queue soon (hints from other nodes come in bursts: one look for many) */
  private pollSoon(): void {
    if (this.pollTimer || this.closed) return;
    this.pollTimer = setTimeout(() => {
      this.pollTimer = undefined;
      this.background(this.poll());
    }, 20);
    this.pollTimer.unref();
  }

  /**
   * The change feed missed commits (its connection was lost for a while): every waitFor and subscribe
   * here reads its instance again, every run held here takes the events other nodes delivered to it,
   * and the run queue is looked at (work that became due elsewhere).
   */
  private resync(): void {
    if (this.closed) return;
    for (const name of this.events.eventNames()) if (typeof name === "string" && /^[hs]:\d+$/.test(name)) this.events.emit(name);
    for (const r of this.runs.values()) this.background(r.refreshWaits());
    this.background(this.poll());
  }

  /** can the store be reached right now (readiness: a node that lost its database is not ready)? */
  async storeReachable(timeoutMs = 2000): Promise<boolean> {
    let timer: ReturnType<typeof setTimeout> | undefined;
    const late = new Promise<boolean>((r) => (timer = setTimeout(() => r(false), timeoutMs)));
    try {
      return await Promise.race([this.store.ping().then(() => true, () => false), late]);
    } finally {
      clearTimeout(timer);
    }
  }

  private claimArgs(): Claim {
    const leaseNow = this.leaseNow();
    return { node: this.node, now: this.clock.now(), leaseNow, leaseUntil: leaseNow + this.config.leaseMs };
  }

  crash(point: CrashPoint, detail: { instance?: string; pk?: number; step?: string }): void {
    this.config.hooks.crashPoint?.(point, detail);
  }

  /** heartbeat: extend the claims of the runs held here; a run whose claim is gone stops (it is fenced anyway) */
  private async beat(): Promise<void> {
    if (this.closed) return;
    // The run queue looked at again, whatever woke it last: an instance that is due but was dropped
    // on its way to a run (a claim or version read that failed for a moment) runs within a heartbeat
    // — the next wake timer only looks ahead (nextReadyAt is after now), so nothing else would.
    this.background(this.poll());
    const runs = [...this.runs.values()];
    const pks = [...runs.map((r) => r.pk), ...this.starting];
    if (pks.length === 0) return;
    const until = this.leaseNow() + this.config.leaseMs; // from before the call: the store may answer late
    const held = new Set(await this.store.extendClaims(this.node, pks, until));
    // the runs asked about, not whatever run of the instance is here now (a new claim's run may have
    // replaced one that stopped meanwhile: its claim is newer than this answer)
    for (const r of runs) {
      if (held.has(r.pk)) r.leaseUntil = Math.max(r.leaseUntil, until);
      else if (r.mode === "run") r.stop();
    }
  }

  runtimeCode(): Promise<string> {
    return this.sandbox.runtimeCode();
  }

  // ---- deploy --------------------------------------------------------------------------------
  async deploy(d: DeployInput): Promise<{ version: string; className: string; ignored: IgnoredExport[] }> {
    const tenant = validateTenantName(d.tenant);
    const workflow = validateWorkflowName(d.workflow);
    checkCode(d.code);
    const limits = compileLimits(this.config.limits, d.limits);
    const egress: EgressPolicy = d.egress ?? { allow: [] };
    const functions = new Map<string, (...args: unknown[]) => unknown>();
    const objects = new Map<string, object>();
    const hostNames: Record<string, string> = {};
    const env = encodeEnv(d.env ?? {}, "", {
      fns: functions,
      objects,
      tenant,
      seal: (x) => this.secrets().seal(x),
      host: (name, path) => {
        const f = this.config.hostFunctions[name];
        if (!f) {
          throw new WeftError(ErrorCode.InvalidArgument, `env.${path}: no host function named "${name}" is registered with this engine (registered: ${Object.keys(this.config.hostFunctions).join(", ") || "none"})`, {
            field: `env.${path}`, hostFunction: name,
          });
        }
        hostNames[path] = name;
        return f;
      },
    });
    const bundle = await this.sandbox.compile(d.code);
    const runtime = await this.runtimeCode();
    const found = await this.sandbox.inspect(runtime, bundle, limits.memoryMb, limits.cpuMsPerStep);
    const className = pickClass(found, d.className, d.code.mainModule);
    const config: VersionConfig = {
      limits, env, ...(Object.keys(hostNames).length ? { hostNames } : {}),
      egress: { allow: "allow" in egress && Array.isArray(egress.allow) ? [...egress.allow] : [], handler: "handler" in egress },
    };
    const version = versionId(d.code, className, config);
    const rec: VersionRecord = { tenant, workflow, version, className, bundle, code: d.code, config, createdAt: this.clock.now() };
    await this.store.putVersion(rec);
    this.versions.set(`${tenant}/${workflow}/${version}`, rec);
    this.latest.set(`${tenant}/${workflow}`, rec);
    this.hostSides.set(rec, { functions, objects, egress });
    return { version, className, ignored: ignoredExports(found, className) };
  }

  /** The version new instances of a workflow get (cached: creates are hot, deploys are rare). */
  async latestVersion(tenant: string, workflow: string): Promise<VersionRecord | undefined> {
    const key = `${tenant}/${workflow}`;
    let v = this.latest.get(key);
    if (v && this.store.kind !== "sqlite") {
      // another node may have deployed (or deleted) the workflow since: a point read of the pointer,
      // so a create through any node right after a deploy through another gets the new version
      const id = await this.store.latestVersionId(tenant, workflow);
      if (id !== v.version) {
        this.latest.delete(key);
        v = undefined;
        if (id === undefined) return undefined;
      }
    }
    if (!v) {
      v = await this.store.latestVersion(tenant, workflow);
      if (v) this.latest.set(key, v);
    }
    return v;
  }

  async version(tenant: string, workflow: string, version: string): Promise<VersionRecord> {
    const key = `${tenant}/${workflow}/${version}`;
    let v = this.versions.get(key);
    if (!v) {
      v = await this.store.getVersion(tenant, workflow, version);
      if (!v) throw new WeftError(ErrorCode.NotFound, `version ${version} of workflow ${workflow} is not deployed`, { tenant, workflow, version });
      this.versions.set(key, v);
    }
    return v;
  }

  /** The Cloudflare `Workflow` binding for one of a tenant's workflows. */
  workflow(tenant: string, name: string): WorkflowBinding {
    return new WorkflowBinding(this, validateTenantName(tenant), validateWorkflowName(name));
  }

  /** The key that seals deployed secrets: made (or read) on first use only. */
  private secrets(): SecretBox {
    this.secretBox ??= SecretBox.load(this.config.dataDir, this.config.secretKey, this.store.kind === "sqlite");
    return this.secretBox;
  }

  /** The env a run of this version receives: secrets opened (in memory only). */
  runEnv(v: VersionRecord): unknown {
    const key = `${v.tenant}/${v.workflow}/${v.version}`;
    let env = this.openedEnvs.get(key);
    if (env === undefined) {
      env = openSecrets(v.config.env, () => this.secrets());
      if (this.openedEnvs.size > 1000) this.openedEnvs.clear();
      this.openedEnvs.set(key, env);
    }
    return env;
  }

  // ---- host side of the sandbox ----------------------------------------------------------------
  seedFor(inst: InstanceRecord): number {
    return createHash("sha256").update(`${inst.tenant}/${inst.workflow}/${inst.id}/${inst.createdAt}`).digest().readUInt32LE(0);
  }

  callHost(v: VersionRecord, fn: string, args: unknown[]): Promise<{ value: unknown }> {
    return this.hostSides.call(v, fn, args);
  }

  async hostRoot(v: VersionRecord, path: string): Promise<{ obj: object } | undefined> {
    const m = envRoots(v).get(path);
    if (m?.kind === "workflow") return { obj: guestWorkflow(this.workflow(v.tenant, m.workflow)) };
    if (m?.kind === "obj") return this.hostSides.root(v, path);
    return undefined;
  }

  async egress(v: VersionRecord, c: Extract<Command, { t: "fetch" }>, signal?: AbortSignal): Promise<unknown> {
    const side = this.hostSides.get(v);
    const policy: EgressPolicy = side?.egress ?? { allow: v.config.egress.allow };
    return checkEgress(policy, c, this.config.fetch, signal);
  }

  /** console lines and bytes each instance has logged in this process (limits.logLines, logBytes) */
  private readonly logged = new Map<number, { lines: number; bytes: number; dropped: number }>();

  log(pk: number, level: string, message: string, limits?: { logLines?: number; logBytes?: number }): void {
    if (limits) {
      const n = this.logged.get(pk) ?? { lines: 0, bytes: 0, dropped: 0 };
      this.logged.set(pk, n);
      const maxLines = limits.logLines ?? DEFAULT_LIMITS.logLines;
      const maxBytes = limits.logBytes ?? DEFAULT_LIMITS.logBytes;
      if (n.lines >= maxLines || n.bytes + message.length > maxBytes) {
        n.dropped++;
        this.metrics.logLinesDropped++;
        if (n.dropped > 1) return;
        level = "warn";
        message = `console output limit reached: this instance has logged ${n.lines} lines, ${n.bytes} bytes; the limits are ${maxLines} lines (limits.logLines) and ${maxBytes} bytes (limits.logBytes) — its further lines are dropped`;
      } else {
        n.lines++;
        n.bytes += message.length;
      }
    }
    this.logBuffer.push({ instance: pk, at: this.clock.now(), level, message });
    if (this.logFlush) return;
    this.logFlush = true;
    setImmediate(() => {
      this.logFlush = false;
      const lines = this.logBuffer.splice(0);
      this.store.appendLogs(lines).catch(() => undefined);
    });
  }

  /**
   * Two channels per instance: `h:` when its history grew (subscribe), `s:` when its status may
   * have changed (waitFor). Step writes only touch the first, so status watchers are not woken
   * (and do not re-read the instance) on every step.
   */
  notify(pk: number): void {
    this.events.emit(`h:${pk}`);
    this.events.emit(`s:${pk}`);
  }

  notifySoon(pk: number): void {
    if (this.notifyPending.has(pk)) return;
    this.notifyPending.add(pk);
    setImmediate(() => {
      this.notifyPending.delete(pk);
      this.events.emit(`h:${pk}`);
    });
  }

  // ---- scheduling ----------------------------------------------------------------------------
  // The store's run queue is the one record of what is due; the scheduler below orders what this
  // engine found due (fairness, concurrency, quotas) and every start is a claim, so a hint that is
  // stale or duplicated costs a refused claim, never a wrong run.

  /** Look at the run queue: take in what is due now, and arm the timer for the next wake time. */
  private async poll(): Promise<void> {
    if (this.closed) return;
    if (this.polling) {
      this.pollAgain = true;
      return;
    }
    this.polling = true;
    try {
      do {
        this.pollAgain = false;
        const now = this.clock.now();
        const due = await this.store.due(now, this.leaseNow(), POLL_BATCH);
        let added = 0;
        for (const d of due) {
          if (this.runs.has(d.pk) || this.starting.has(d.pk) || this.sched.isQueued(d.pk) || this.cluster?.isHeld(d.pk)) continue;
          if (!d.fresh) sample(this.metrics.timerLatenessMs, Math.max(0, this.clock.now() - d.readyAt));
          await this.enqueueRef(d, d.fresh ? "fresh" : "wake");
          added++;
        }
        this.moreDue = due.length === POLL_BATCH && added > 0;
      } while (this.pollAgain && !this.closed);
    } finally {
      this.polling = false;
    }
    await this.armReady();
  }

  /** the timer for the next instance that becomes due (a sleep's end, a retry, a wait's timeout) */
  private async armReady(): Promise<void> {
    if (this.closed) return;
    const next = await this.store.nextReadyAt(this.clock.now(), this.leaseNow());
    if (next === null || this.closed) return;
    if (this.wakeTimer && this.wakeTimer.at <= next && this.wakeTimer.at > this.clock.now()) return;
    this.wakeTimer?.cancel();
    const h = this.clock.at(next, () => {
      this.wakeTimer = undefined;
      this.background(this.poll());
    });
    this.wakeTimer = { at: next, cancel: () => h.cancel() };
  }

  /** A hint that this instance may be due: it joins the queue; its start is a claim. */
  async enqueue(inst: InstanceRecord, kind: "wake" | "fresh"): Promise<void> {
    await this.enqueueRef(inst, kind);
  }

  private async enqueueRef(inst: { pk: number; tenant: string; workflow: string; version: string }, kind: "wake" | "fresh"): Promise<void> {
    if (this.runs.has(inst.pk) || this.starting.has(inst.pk) || this.closed) return;
    const v = await this.version(inst.tenant, inst.workflow, inst.version).catch(() => undefined);
    if (!v) return; // its workflow was deleted
    const r: Ready = {
      pk: inst.pk, tenant: inst.tenant, workflowKey: `${inst.tenant}/${inst.workflow}`, concurrency: v.config.limits.concurrency,
      ref: { pk: inst.pk, tenant: inst.tenant, workflow: inst.workflow, version: inst.version },
    };
    this.sched.enqueue(r, kind);
    this.dispatch();
  }

  dequeue(pk: number): void {
    this.sched.remove(pk);
  }

  private dispatch(): void {
    if (this.dispatching || this.closed || this.draining) return;
    this.dispatching = true;
    try {
      for (const r of this.sched.take()) this.background(this.startRun(r));
    } finally {
      this.dispatching = false;
    }
    if (this.moreDue && this.sched.depth() === 0) {
      this.moreDue = false;
      this.background(this.poll());
    }
  }

  private async startRun(r: Ready): Promise<void> {
    let run: InstanceRun | undefined;
    if (this.starting.has(r.pk) || this.runs.has(r.pk)) {
      this.sched.stopped(r.workflowKey);
      return;
    }
    this.starting.add(r.pk);
    const ref = r.ref;
    try {
      // on a shared store the claim also enforces the tenant's running quota and the workflow's
      // concurrency across nodes (this node's scheduler only knows its own runs)
      const tenantCap = this.tenantLimits.get(r.tenant) ?? Infinity;
      const args: Claim = this.cluster && (Number.isFinite(tenantCap) || Number.isFinite(r.concurrency))
        ? { ...this.claimArgs(), limits: { tenant: tenantCap, workflow: r.concurrency } }
        : this.claimArgs();
      const got = await this.store.claim(r.pk, args);
      if (got === "full") {
        this.starting.delete(r.pk);
        this.sched.stopped(r.workflowKey);
        if (!this.closed) this.cluster!.hold(r);
        return;
      }
      this.cluster?.claimed(r.pk);
      if (!got || this.closed || this.deleted.has(r.pk)) {
        this.starting.delete(r.pk);
        this.sched.stopped(r.workflowKey);
        this.dispatch();
        return;
      }
      const inst = got.inst;
      this.crash("after-claim", { instance: inst.id, pk: inst.pk });
      const v = await this.version(inst.tenant, inst.workflow, inst.version);
      run = new InstanceRun(this, inst, v, got.epoch, "run", got.wakes);
      run.leaseUntil = args.leaseUntil;
      run.slot = r.workflowKey;
      this.runs.set(inst.pk, run);
      this.starting.delete(r.pk);
      if (this.pauseOnStart.delete(inst.pk)) run.requestPause();
      this.notify(inst.pk);
      await run.start();
    } catch (err) {
      if (run) this.onRunError(run, err);
      else {
        this.sched.stopped(r.workflowKey);
        if (storeCannotWrite(err) && ref) this.retryLater(ref, err);
        else this.config.logger.warn({ err, instance: r.pk }, "an instance could not be claimed; the heartbeat's look at the run queue tries it again");
        this.dispatch();
      }
    } finally {
      this.starting.delete(r.pk);
      if (!this.runs.has(r.pk)) this.afterRunsOf(r.pk);
    }
  }

  /** terminate({ rollback: true }): replay the journal in rollback mode and run the handlers */
  async rollbackTerminated(pk: number, epoch: number): Promise<void> {
    const inst = await this.store.getInstanceByPk(pk);
    if (!inst) return;
    const v = await this.version(inst.tenant, inst.workflow, inst.version);
    const run = new InstanceRun(this, inst, v, epoch, "rollback", 0);
    this.runs.set(pk, run);
    await run.start();
    await run.runRollbacks({ name: "WorkflowTerminated", message: `instance "${inst.id}" was terminated` });
    this.notify(pk);
  }

  /** instances whose claim and run are being set up now (weft run --skip-time waits for them) */
  startingCount(): number {
    return this.starting.size;
  }

  /** every run live in this engine (weft run --skip-time: no clock move past any attempt's timeout) */
  liveRuns(): IterableIterator<InstanceRun> {
    return this.runs.values();
  }

  liveRun(pk: number): InstanceRun | undefined {
    return this.runs.get(pk);
  }

  /** the instance has no run here any more: a deleted one's data goes now */
  private afterRunsOf(pk: number): void {
    if (this.runs.has(pk) || this.starting.has(pk)) return;
    this.pauseOnStart.delete(pk);
    if (this.deleted.has(pk)) {
      this.deleted.delete(pk);
      this.data.removeSql(pk);
    }
  }

  onRunStopped(r: InstanceRun): void {
    if (this.runs.get(r.pk) === r) this.runs.delete(r.pk);
    if (r.slot) {
      this.sched.stopped(r.slot);
      r.slot = undefined;
    }
    this.afterRunsOf(r.pk);
    // A run that ended without releasing its claim (fenced by a restart, lost its lease, stopped for
    // a replay) leaves an instance that may be due: look, the claim decides.
    if (!r.released && r.mode === "run" && !this.closed && !this.deleted.has(r.pk)) this.background(this.enqueueRef(r.ref, "wake"));
    this.cluster?.kick(); // a slot of its tenant and workflow is free
    this.dispatch();
  }

  onRunFinished(r: InstanceRun, _status: InstanceStatus): void {
    this.heavy.delete(r.pk);
    this.logged.delete(r.pk);
    this.notify(r.pk);
  }

  onRunSuspended(r: InstanceRun, _status: "waiting" | "paused", wakeAt: number | null, readyAt: number | null): void {
    this.notify(r.pk);
    // a wake-up it had not seen made it due at once (release): queue it again
    if (readyAt !== null && readyAt <= this.clock.now()) this.background(this.enqueueRef(r.ref, "wake"));
    else if (readyAt !== null && (!this.wakeTimer || readyAt < this.wakeTimer.at)) this.background(this.armReady());
  }

  /** instances whose activations outran the sync budget: their runs use asynchronous activations */
  readonly heavy = new Set<number>();

  onRunCrashed(_r: InstanceRun): void {
    // the run stopped without releasing its claim: onRunStopped looks again, the claim replays it
  }

  onRunaway(r: InstanceRun, written: Promise<void>): void {
    this.config.logger.error({ instance: r.pk }, "an isolate went on running past its memory limit and cannot be stopped in this process: its instance is ended as errored and the process exits (restart it; the instance will not run again)");
    const settled = written.then(() => true, (err) => {
      this.config.logger.error({ err, instance: r.pk }, "the runaway instance could not be marked errored");
      return false;
    });
    // bounded: the memory is going fast, and a store that does not answer must not keep the process up
    const bounded = Promise.race([settled, new Promise<boolean>((res) => setTimeout(() => res(false), 3000).unref?.())]);
    void bounded.then((ok) => this.config.onRunaway({ instance: r.pk, recorded: ok }));
  }

  onRunError(r: InstanceRun, err: unknown): void {
    if ((err as WeftError)?.code === ErrorCode.LeaseLost) return r.stop();
    if (storeCannotWrite(err)) return this.onStorageFull(r, err);
    const error: ErrorInfo = { name: "WorkflowInternalError", message: `internal error: ${(err as Error)?.message ?? String(err)}` };
    this.config.logger.error({ err, instance: r.pk }, "an instance run failed inside the engine; the instance is marked errored");
    r.stop();
    r.released = true;
    const now = this.clock.now();
    this.store.release(r.pk, r.epoch, { now, readyAt: null, seenWakes: Number.MAX_SAFE_INTEGER }, [
      { op: "status", status: "errored", error, endedAt: now, wakeAt: null },
      { op: "history", type: "workflow_errored", at: now, data: { error } },
    ]).then(() => this.notify(r.pk), () => undefined);
  }

  /**
   * A write of the run was refused because the store is full. Nothing of it was committed; the run
   * stops (keeping its claim) and the instance is tried again, with backoff, until writes succeed.
   */
  private readonly storeRetry = new StoreRetry({
    reachable: () => this.storeReachable(),
    retry: (ref) => this.background(this.enqueueRef(ref, "wake")),
    background: (p) => this.background(p),
    warn: (fields, message) => this.config.logger.warn(fields, message),
  });
  /** (also when the shared store is not reachable: the same retry until writes succeed) */
  private onStorageFull(r: InstanceRun, err: unknown): void {
    r.released = true; // no look right away: the retry is the look
    r.stop();
    this.retryLater(r.ref, err);
  }

  /** try the instance again once the store takes writes again (store-retry.ts: one round for all the instances refused, pinging while it cannot be reached) */
  private retryLater(ref: { pk: number; tenant: string; workflow: string; version: string }, err: unknown): void {
    this.storeRetry.add(ref, err);
  }

  /** a write succeeded: the store has room again (the instances waiting for it go on now) */
  storageOk(): void {
    this.storeRetry.ok();
  }

  /** sendEvent: stored and matched in one transaction (which also wakes the instance); tell its run */
  async deliverEvent(inst: InstanceRecord, type: string, payload: unknown): Promise<void> {
    const limits = (await this.version(inst.tenant, inst.workflow, inst.version)).config.limits;
    const res = await this.store.addEvent(inst.pk, type, payload, this.clock.now(), {
      events: limits.bufferedEvents ?? DEFAULT_LIMITS.bufferedEvents, bytes: limits.bufferedEventBytes ?? DEFAULT_LIMITS.bufferedEventBytes,
    });
    if (res.delivered.length === 0) return;
    this.crash("after-event-delivery", { instance: inst.id, pk: inst.pk });
    this.notify(inst.pk);
    const live = this.runs.get(inst.pk);
    if (live) live.delivered(res.delivered, res.wakes);
    else await this.enqueueRef(inst, "wake");
  }

  // ---- control ---------------------------------------------------------------------------------
  async pauseInstance(inst: InstanceRecord): Promise<void> {
    const res = await this.store.pause(inst.pk, this.clock.now(), this.leaseNow());
    const live = this.runs.get(inst.pk);
    if (res === "pausing") {
      if (live && live.mode === "run") live.requestPause();
      else if (this.starting.has(inst.pk)) this.pauseOnStart.add(inst.pk);
    } else {
      this.dequeue(inst.pk);
      if (live?.mode === "run") live.stop();
    }
    this.notify(inst.pk);
  }

  async resumeInstance(inst: InstanceRecord): Promise<void> {
    const res = await this.store.resume(inst.pk, this.clock.now());
    this.pauseOnStart.delete(inst.pk);
    const live = this.runs.get(inst.pk);
    // a pausing run goes on: its attempt in flight finishes and commits (never runs again)
    if (res === "unpaused" && live && live.mode === "run") live.cancelPause();
    else await this.enqueueRef(inst, inst.startedAt === null ? "fresh" : "wake");
    this.notify(inst.pk);
  }

  async terminateInstance(inst: InstanceRecord, rollback: boolean): Promise<void> {
    this.runs.get(inst.pk)?.stop();
    this.dequeue(inst.pk);
    const now = this.clock.now();
    const epoch = await this.store.fence(inst.pk, [
      { op: "status", status: "terminated", endedAt: now, wakeAt: null },
      { op: "history", type: "workflow_terminated", at: now, data: { rollback } },
    ], null);
    this.notify(inst.pk);
    if (rollback) await this.rollbackTerminated(inst.pk, epoch);
  }

  async restartInstance(inst: InstanceRecord, fromSeq: number | undefined, from: unknown): Promise<void> {
    this.runs.get(inst.pk)?.stop();
    this.dequeue(inst.pk);
    // (the instance's SQL database is not part of the journal that a restart cuts: it stays as it is)
    await this.store.restart(inst.pk, fromSeq, this.clock.now(), from ?? null);
    this.notify(inst.pk);
    await this.enqueueRef(inst, "wake");
  }

  /** Delete an instance for good: its rows in one transaction, then its data once no run of it is left. */
  async deleteInstance(inst: InstanceRecord): Promise<void> {
    this.deleted.add(inst.pk);
    this.runs.get(inst.pk)?.stop();
    this.dequeue(inst.pk);
    await this.store.deleteInstance(inst.pk);
    this.crash("during-delete", { instance: inst.id, pk: inst.pk });
    this.afterRunsOf(inst.pk);
    this.notify(inst.pk);
  }

  /**
   * Work the engine starts without awaiting it. Once the engine is closed its failures are expected
   * (the store is gone) and dropped; before that they are reported instead of crashing the process.
   */
  private background(p: Promise<unknown>): void {
    p.catch((err) => {
      if (!this.closed) process.emitWarning(`weft: background task failed: ${(err as Error)?.stack ?? String(err)}`);
    });
  }

  /** Instances the engine is running right now, and the queue behind them. */
  /** Remove a workflow: its versions, and every instance of it (runs stopped first). */
  async deleteWorkflow(tenant: string, workflow: string): Promise<void> {
    const pks = await this.store.deleteWorkflow(tenant, workflow);
    for (const pk of pks) {
      this.deleted.add(pk);
      this.runs.get(pk)?.stop();
      this.dequeue(pk);
      await this.store.deleteInstance(pk);
      this.afterRunsOf(pk);
      this.notify(pk);
    }
    for (const k of [...this.versions.keys()]) if (k.startsWith(`${tenant}/${workflow}/`)) this.versions.delete(k);
    this.latest.delete(`${tenant}/${workflow}`);
  }

  // ---- queries (the HTTP API and the CLI read through these, never through the store) ---------
  listWorkflows(tenant: string): Promise<{ workflow: string; latestVersion: string; updatedAt: number }[]> {
    return this.store.listWorkflows(tenant);
  }

  listVersions(tenant: string, workflow: string): Promise<{ version: string; createdAt: number }[]> {
    return this.store.listVersions(tenant, workflow);
  }

  countByStatus(tenant?: string, workflow?: string): Promise<Record<string, number>> {
    return this.store.countByStatus(tenant, workflow);
  }

  activity(q: ActivityQuery): Promise<ActivityBucket[]> {
    return this.store.activity(q);
  }

  listInstances(f: ListFilter): Promise<InstanceRecord[]> {
    return this.store.listInstances(f);
  }

  logs(inst: InstanceRecord, after: number, limit: number): Promise<(LogLine & { seq: number })[]> {
    return this.store.logs(inst.pk, after, limit);
  }

  history(inst: InstanceRecord, after: number): Promise<HistoryEvent[]> {
    return this.store.history(inst.pk, after);
  }

  /** A tenant's quota of instances running at once (undefined: no quota); raising it starts queued ones. */
  setTenantConcurrency(tenant: string, limit: number | undefined): void {
    if (limit === undefined) this.tenantLimits.delete(tenant);
    else this.tenantLimits.set(tenant, limit);
    this.dispatch();
  }

  runningOf(tenant: string): number {
    return this.sched.runningOf(tenant);
  }

  stats(): { activeRuns: number; queued: number; held: number; isolates: number; contexts: number; runs: number; heapBytes: number } {
    return { activeRuns: this.runs.size, queued: this.sched.depth(), held: this.cluster?.heldCount() ?? 0, ...this.sandbox.stats() };
  }

  newInstanceId(): string {
    return randomUUID();
  }

  /**
   * Before close(): start no more runs, and let the step attempts running now finish (their results
   * commit) for up to `deadlineMs` of real time — a process-lifecycle deadline, not workflow time.
   * Attempts still running then are cut by close() and run again after the restart.
   */
  async drain(deadlineMs: number): Promise<void> {
    this.draining = true;
    const open = new Set<string>();
    for (const r of this.runs.values()) for (const [key, a] of r.running) open.add(`${r.pk}:${key}:${a.attempt}`);
    if (open.size === 0) return;
    await new Promise<void>((resolve) => {
      const done = () => {
        clearTimeout(timer);
        this.events.off("attempt", onAttempt);
        resolve();
      };
      const onAttempt = (a: AttemptEnded) => {
        open.delete(`${a.pk}:${a.key}:${a.attempt}`);
        if (open.size === 0) setImmediate(done); // after the result's commit was queued
      };
      const timer = setTimeout(done, deadlineMs);
      this.events.on("attempt", onAttempt);
    });
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.wakeTimer?.cancel();
    if (this.heartbeat) clearInterval(this.heartbeat);
    this.storeRetry.stop();
    this.cluster?.stop();
    if (this.pollTimer) clearTimeout(this.pollTimer);
    for (const r of [...this.runs.values()]) r.stop();
    this.hostSides.close();
    await new Promise((r) => setImmediate(r));
    await this.store.appendLogs(this.logBuffer.splice(0)).catch(() => undefined);
    // the runs are stopped: another node (or this one, reopened) takes their instances at once
    await this.store.releaseClaims(this.node).catch(() => undefined);
    await this.sandbox.dispose();
    await this.data.close();
    await this.store.close();
  }
}
