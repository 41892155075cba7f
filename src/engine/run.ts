// One run of one instance: a guest context, the jobs queued for it, the attempts, timers and host
// calls it has in flight. It turns guest commands into fenced journal writes and delivers results
// back only after they are durable. When nothing is in flight and the next due time is far, it
// suspends: the context is released and the instance costs only rows until it is woken.
import { serialize } from "node:v8";
import { randomBytes } from "node:crypto";
import { ErrorCode, WeftError, errorInfo, toErrorInfo, type ErrorInfo } from "../core/errors.ts";
import { attemptEnded } from "../core/journal.ts";
import { compileStepConfig, type CompiledStepConfig } from "../core/step-config.ts";
import { decideAfterFailure } from "../core/retry.ts";
import { formatMs } from "../core/duration.ts";
import type { TimerHandle } from "../core/clock.ts";
import type { Command, HistoryEntry, Job, StubRef } from "../sandbox/protocol.ts";
import type { SandboxContext } from "./ports.ts";
import type { DeliveredEvent, InstanceRecord, JournalOp, JournalResult, StepRecord, VersionRecord } from "../store/ports.ts";
import type { HistoryType } from "../core/journal.ts";
import type { EngineCore } from "./engine.ts";
import { sample } from "../core/samples.ts";
import { RunStorage, errorReply } from "./storage.ts";
import { HostObjects } from "./host-objects.ts";
import { DEFAULT_LIMITS } from "../core/limits.ts";

interface Pending {
  key: string;
  kind: StepRecord["kind"];
  seq: number;
  name: string;
  count: number;
  startedAt: number;
  config?: CompiledStepConfig;
  attempts: number;
  dueAt?: number;
  eventType?: string;
  timer?: TimerHandle;
  /** an attempt ended and its outcome is being journaled: the next step (resolve or retry) is decided */
  settling?: boolean;
}

interface Running {
  attempt: number;
  startedAt: number;
  cpuMs: number;
  timer: TimerHandle;
}

export class InstanceRun {
  readonly pk: number;
  readonly mode: "run" | "rollback";
  epoch: number;
  done = false;
  pauseRequested = false;
  /** the scheduler slot (workflow key) this run holds, released once when it stops */
  slot?: string;
  /** the run let go of its claim (suspended, finished): nothing is left for the engine to look at */
  released = false;
  /** the wake count this run has acted on (see Release.seenWakes) */
  private seenWakes: number;
  /** resolutions held back while a pause was requested: delivered if the pause is cancelled */
  private withheld: { key: string; value: unknown; error: ErrorInfo | undefined; at: number }[] = [];
  private ctx?: SandboxContext;
  private readonly e: EngineCore;
  private readonly inst: InstanceRecord;
  private readonly version: VersionRecord;
  private readonly journaled = new Map<string, StepRecord>();
  /**
   * serialized bytes of the step results journaled so far (limits.journalBytes): summed from the
   * journal the first time this run completes a step, not at start (a replay that ends or sleeps
   * without a new result never pays for it)
   */
  private journalBytes?: number;
  private readonly pending = new Map<string, Pending>();
  readonly running = new Map<string, Running>();
  private readonly hostCalls = new Set<number>();
  private readonly guestTimers = new Map<number, TimerHandle>();
  /** the run's fetches in flight, by host call id: a guest `cancel` aborts one */
  private readonly fetchAborts = new Map<number, AbortController>();
  private jobs: Job[] = [];
  private activating = false;
  private inflightWrites = 0;

  /**
   * Work of this run in flight that no timer stands for: an activation running (on the isolate's
   * thread), jobs waiting for one, host calls or journal writes under way (weft run --skip-time
   * does not move the clock while any run has some).
   */
  get busy(): boolean {
    return !this.done && (this.activating || this.jobs.length > 0 || this.hostCalls.size > 0 || this.inflightWrites > 0 || !this.ctx);
  }
  private rollbackDone?: () => void;
  /** the instance's SQL database and files, opened on first use */
  private storage?: RunStorage;
  /** the host objects env bindings handed this run (stubs in the guest), made on its first host call */
  private objects?: HostObjects;

  /** until when (lease clock) this run's claim is known to hold: extended by each heartbeat */
  leaseUntil = Infinity;

  constructor(e: EngineCore, inst: InstanceRecord, version: VersionRecord, epoch: number, mode: "run" | "rollback", wakes: number) {
    this.e = e;
    this.seenWakes = wakes;
    this.pk = inst.pk;
    this.inst = inst;
    this.version = version;
    this.epoch = epoch;
    this.mode = mode;
  }

  get cfg() {
    return this.version.config;
  }

  /** what the engine needs to queue this instance again */
  get ref(): { pk: number; tenant: string; workflow: string; version: string } {
    return this.inst;
  }

  /** Load the journal, open a context and start run() (replaying what is journaled). */
  async start(): Promise<void> {
    for (const s of await this.e.store.steps(this.pk)) this.journaled.set(s.key, s);
    // the local copy of the instance database is the store's version (a commit the journal never got is undone)
    const adopt = await this.st().prepare();
    if (adopt.length > 0) {
      await this.e.store.journal(this.pk, this.epoch, adopt);
      this.st().adopted(adopt[0] as { seq: number; by: number });
      await this.st().prepare();
    }
    const steps = [...this.journaled.values()].sort((a, b) => a.seq - b.seq);
    const t0 = performance.now();
    this.ctx = await this.e.sandbox.openContext(
      `${this.version.tenant}/${this.version.workflow}/${this.version.version}`, await this.e.runtimeCode(), this.version.bundle,
      this.cfg.limits.memoryMb, this.cfg.limits.cpuMsPerStep, this.e.heavy.has(this.pk),
    );
    sample(this.e.metrics.coldStartMs, performance.now() - t0);
    this.ctx.onDeath = () => this.onIsolateDeath();
    this.ctx.onRunaway = () => this.onRunaway();
    this.ctx.onSync = (req) => this.st().onSync(req);
    if (this.done) return this.ctx.release();
    const history: HistoryEntry[] = steps.map((s) => ({
      key: s.key, kind: s.kind, seq: s.seq, name: s.name, count: s.count, state: s.state, value: s.value, error: s.error,
      at: s.at, attempts: s.attempts, dueAt: s.dueAt, startedAt: s.startedAt,
    }));
    this.push({
      t: "init", className: this.version.className, instanceId: this.inst.id, workflowName: this.inst.workflow, payload: this.inst.params,
      timestamp: this.inst.createdAt, now: this.e.clock.now(), seed: this.e.seedFor(this.inst), entropy: new Uint8Array(randomBytes(32)), history, mode: this.mode,
      stepLimit: this.cfg.limits.steps, resultLimit: this.cfg.limits.stepResultBytes, pendingLimit: this.cfg.limits.pendingCalls ?? DEFAULT_LIMITS.pendingCalls, env: this.e.runEnv(this.version),
    });
  }

  push(job: Job): void {
    if (this.done) return;
    this.jobs.push(job);
    void this.pump();
  }

  private async pump(): Promise<void> {
    if (this.activating || this.done || !this.ctx) return;
    this.activating = true;
    try {
      while (this.jobs.length > 0 && !this.done) {
        const jobs = this.jobs;
        this.jobs = [];
        const budget = this.cpuBudget();
        const out = await this.ctx.activate(jobs, this.e.clock.now(), budget);
        if (this.done) {
          // stopped while the activation ran (its lease was found gone): none of its commands may
          // act — a step result journaled now would pass the store's fence until another claim
          // commits, with its SQL already rolled back at the stop; the next run runs it again
          if (out.ok) this.e.metrics.lateResults += out.result.commands.filter((c) => c.t === "attemptDone").length;
          return;
        }
        for (const r of this.running.values()) r.cpuMs += out.cpuMs;
        // The context can be dropped (a neighbour's cut-off) between this activation's end and this
        // line: the run replays, so its commands must not act (a host call a body made here would run
        // now and again in the replay). Nothing of them has happened yet.
        if (out.ok && this.ctx.dead) {
          this.stop();
          return this.e.onRunCrashed(this);
        }
        if (!out.ok) {
          if (out.reason === "disposed") {
            // the context went away under this run (another run's cut-off, or the isolate's death)
            this.stop();
            return this.e.onRunCrashed(this);
          }
          if (out.reason === "preempted") {
            this.e.metrics.preemptions++;
            this.e.heavy.add(this.pk);
            this.stop();
            return this.e.onRunCrashed(this);
          }
          await this.onGuestCrash(out.reason, out.message, out.started ?? []);
          return;
        }
        if (out.result.droppedLogs > 0) {
          this.e.log(this.pk, "warn", `console output limit reached: ${out.result.droppedLogs} line(s) dropped (at most 1000 lines per activation)`);
        }
        const cmds = out.result.commands;
        const last = cmds[cmds.length - 1];
        // a run that failed without rollback handlers: the calls its last activation made have no
        // effect yet and none will have one (a flood cut off at limits.pendingCalls: thousands)
        const dropCalls = last?.t === "fail" && !last.rolledBack;
        for (const c of cmds) if (!(dropCalls && c.t === "call")) this.handle(c);
        // The attempts still running now have bodies that an activation ran and left waiting (on a
        // host call, fetch, file operation or timer): they may have had effects. While there are any,
        // no activation of this context is cut off at the sync budget (isolates.ts), because the
        // replay after a cut-off would run them again in this process. An attempt only scheduled
        // (runAttempt) has not started and is counted after the activation that starts it.
        this.ctx.setBodiesInFlight(this.running.size);
      }
    } catch (err) {
      if (!this.done) this.e.onRunError(this, err);
    } finally {
      this.activating = false;
    }
    this.checkQuiet();
  }

  /** an attempt ended: it no longer holds the context's activations off the sync budget */
  private bodiesDone(): void {
    this.ctx?.setBodiesInFlight(Math.min(this.ctx.bodiesInFlight, this.running.size));
  }

  private cpuBudget(): number {
    const limit = this.cfg.limits.cpuMsPerStep;
    let min = limit;
    for (const r of this.running.values()) min = Math.min(min, limit - r.cpuMs);
    return Math.max(1, min);
  }

  // ---- commands ------------------------------------------------------------------------------
  private handle(c: Command): void {
    switch (c.t) {
      case "log":
        return this.e.log(this.pk, c.level, c.message, this.cfg.limits);
      case "call":
        return this.onCall(c);
      case "attemptDone":
        return this.onAttemptDone(c.key, c.attempt, c.value, c.error && this.mapped(c.error));
      case "hostCall":
      case "stubCall":
      case "fetch":
        return this.onHostCall(c);
      case "fs":
        return this.onFs(c);
      case "setTimer": {
        this.guestTimers.get(c.id)?.cancel();
        const h = this.e.clock.at(this.e.clock.now() + c.ms, () => {
          this.guestTimers.delete(c.id);
          this.push({ t: "timer", id: c.id });
        });
        this.guestTimers.set(c.id, h);
        return;
      }
      case "clearTimer":
        this.guestTimers.get(c.id)?.cancel();
        this.guestTimers.delete(c.id);
        return;
      case "cancel":
        // the guest gave up on a fetch (its AbortSignal fired): abort the request; its answer is dropped
        this.fetchAborts.get(c.id)?.abort();
        return;
      case "complete":
        return this.onComplete(c.value);
      case "fail":
        return this.finish("errored", { error: errorInfo(this.mapped(c.error)) }, "workflow_errored");
      case "rollbackDone":
        this.rollbackDone?.();
        return this.stop();
    }
  }

  /** an error the guest reported, its stack at the tenant's files and lines: only errors pay for the mapping */
  private mapped(e: ErrorInfo): ErrorInfo {
    const m = errorInfo(e.stack && this.e.sandbox.mapError ? this.e.sandbox.mapError(this.version.bundle, e) : e);
    // V8's own words when an ArrayBuffer does not fit isolated-vm's count of the heap limit
    if (m.name === "RangeError" && /^Array buffer allocation failed$/.test(m.message)) {
      m.message += `: array buffers count against the isolate's memory limit of ${this.cfg.limits.memoryMb} MB (limits.memoryMb)`;
      m.code ??= ErrorCode.MemoryLimit;
    }
    return m;
  }

  private onCall(c: Extract<Command, { t: "call" }>): void {
    const now = this.e.clock.now();
    const j = this.journaled.get(c.key);
    const p: Pending = {
      key: c.key, kind: c.kind, seq: c.seq, name: c.name, count: c.count, startedAt: c.startedAt, attempts: j?.attempts ?? 0, dueAt: j?.dueAt, eventType: c.eventType,
    };
    this.pending.set(c.key, p);
    if (c.kind === "do" || c.kind === "rollback") {
      try {
        p.config = compileStepConfig(c.name, c.config);
      } catch (err) {
        return this.resolve(p, undefined, toErrorInfo(err, true), this.e.clock.now());
      }
      if (c.started) this.beginAttempt(p, 1, false);
      else this.scheduleAttempt(p, (j?.attempts ?? 0) + 1, j?.dueAt ?? now);
      return;
    }
    if (j) {
      // an event was delivered to this wait while the guest was still replaying up to it
      if (c.kind === "wait" && j.state === "complete") return this.resolve(p, j.value, undefined, j.at ?? now);
      // journaled earlier, still pending: re-arm its timer (buffered events were matched when it was journaled)
      return this.arm(p);
    }
    const dueAt = c.kind === "sleep" ? (c.untilMs ?? now + (c.durationMs ?? 0)) : now + (c.timeoutMs ?? 0);
    p.dueAt = dueAt;
    const rec: StepRecord = {
      key: c.key, kind: c.kind, seq: c.seq, name: c.name, count: c.count, state: "pending", startedAt: c.startedAt, dueAt, attempts: 0, eventType: c.eventType,
    };
    this.journaled.set(c.key, rec);
    const type = c.kind === "sleep" ? "sleep_started" : "wait_started";
    void this.write([{ op: "step", ...rec }, { op: "history", type, at: now, data: { key: c.key, name: c.name, dueAt, eventType: c.eventType } }]).then((res) => {
      // an event buffered before the wait was matched to it in the same transaction
      if (res.delivered.length > 0) this.delivered(res.delivered, -1);
      this.arm(p);
    });
  }

  private arm(p: Pending): void {
    if (this.done || !this.pending.has(p.key)) return;
    p.timer?.cancel();
    p.timer = this.e.clock.at(p.dueAt!, () => {
      if (p.kind === "sleep") return this.sleepDue(p);
      this.waitTimedOut(p).catch((err) => !this.done && this.e.onRunError(this, err));
    });
  }

  private sleepDue(p: Pending): void {
    const at = p.dueAt!;
    const rec: StepRecord = { ...this.journaled.get(p.key)!, state: "complete", at };
    void this.write([{ op: "step", ...rec }, { op: "history", type: "sleep_completed", at: this.e.clock.now(), data: { key: p.key } }]).then(() =>
      this.resolve(p, undefined, undefined, at),
    );
  }

  private async waitTimedOut(p: Pending): Promise<void> {
    if (!this.pending.has(p.key) || this.done) return;
    const error: ErrorInfo = {
      name: "WorkflowTimeoutError",
      message: `step.waitForEvent "${p.name}" timed out after ${formatMs(p.dueAt! - p.startedAt)} without an event of type "${p.eventType}"`,
    };
    const rec: StepRecord = { ...this.journaled.get(p.key)!, state: "failed", error, at: p.dueAt };
    await this.write([{ op: "step", ...rec }, { op: "history", type: "wait_timed_out", at: this.e.clock.now(), data: { key: p.key } }]);
    // the step write only applies to a still-pending wait: an event that won the race is what counts
    const now = (await this.e.store.steps(this.pk)).find((s) => s.key === p.key);
    if (now?.state === "complete") return this.resolve(p, now.value, undefined, now.at ?? p.dueAt!);
    this.resolve(p, undefined, error, p.dueAt!);
  }

  /**
   * Another node delivered an event to this instance (a shared store's change feed): the waits of
   * this run that the store now has complete resolve here, as a local delivery would. The wake count
   * is not taken as seen: the release then finds it newer and the instance due (a replay, never a loss).
   */
  async refreshWaits(): Promise<void> {
    if (this.done || ![...this.pending.values()].some((p) => p.kind === "wait")) return;
    const steps = await this.e.store.steps(this.pk);
    const got = steps.filter((s) => s.kind === "wait" && s.state === "complete" && this.pending.has(s.key)).map((s) => ({ key: s.key, value: s.value as DeliveredEvent["value"], at: s.at ?? this.e.clock.now() }));
    if (got.length > 0) this.delivered(got, -1);
  }

  /**
   * Events the store delivered to this instance's waits (matched in the transaction that stored the
   * event or journaled the wait). `wakes`: the wake count that delivery recorded, now acted on.
   */
  delivered(got: DeliveredEvent[], wakes: number): void {
    if (this.done) return;
    for (const d of got) {
      const p = this.pending.get(d.key);
      if (p) this.resolve(p, d.value, undefined, d.at);
      else {
        // the guest has not reached this wait yet in its replay: onCall answers it from here
        const j = this.journaled.get(d.key);
        if (j) this.journaled.set(d.key, { ...j, state: "complete", value: d.value, at: d.at });
      }
    }
    if (wakes > this.seenWakes) this.seenWakes = wakes;
    if (got.length) this.e.notify(this.pk);
  }

  private resolve(p: Pending, value: unknown, error: ErrorInfo | undefined, at: number): void {
    if (!this.pending.has(p.key)) return;
    p.timer?.cancel();
    this.pending.delete(p.key);
    if (this.pauseRequested && this.mode === "run") {
      // a paused run replays it later; a cancelled pause hands it over (cancelPause)
      this.withheld.push({ key: p.key, value, error, at });
      return this.checkQuiet();
    }
    this.push({ t: "resolve", key: p.key, value, error, at });
  }

  private beginAttempt(p: Pending, attempt: number, tellGuest: boolean): void {
    const now = this.e.clock.now();
    const timer = this.e.clock.at(now + p.config!.timeoutMs, () => {
      this.push({ t: "abandonAttempt", key: p.key, attempt });
      this.onAttemptDone(p.key, attempt, undefined, {
        name: "WorkflowTimeoutError", message: `step "${p.name}" attempt ${attempt} timed out after ${formatMs(p.config!.timeoutMs)}`,
      });
    });
    this.running.set(p.key, { attempt, startedAt: now, cpuMs: 0, timer });
    this.e.metrics.attemptsStarted++;
    if (tellGuest) this.push({ t: "runAttempt", key: p.key, attempt });
  }

  private scheduleAttempt(p: Pending, attempt: number, at: number): void {
    p.settling = false;
    p.dueAt = at;
    p.attempts = attempt - 1;
    const go = () => {
      p.timer = undefined;
      if (!this.done && this.pending.has(p.key) && !this.pauseRequested) this.beginAttempt(p, attempt, true);
      else this.checkQuiet();
    };
    if (at <= this.e.clock.now()) go();
    else p.timer = this.e.clock.at(at, go);
  }

  private onAttemptDone(key: string, attempt: number, value: unknown, error: ErrorInfo | undefined): void {
    // a stopped run's body that ends now: its storage was rolled back at the stop, its result is not
    // this run's to journal (another run of this instance may be replaying it already)
    if (this.done) {
      this.e.metrics.lateResults++;
      return;
    }
    const r = this.running.get(key);
    const p = this.pending.get(key);
    if (!r || r.attempt !== attempt || !p) return;
    r.timer.cancel();
    this.running.delete(key);
    p.settling = true;
    this.bodiesDone();
    const now = this.e.clock.now();
    if (this.e.events.listenerCount("attempt") > 0) this.e.events.emit("attempt", { pk: this.pk, key, attempt, tenant: this.inst.tenant, workflow: this.inst.workflow, durationMs: now - r.startedAt, ok: !error });
    if (!error) {
      const bytes = serialize(value).byteLength;
      if (bytes > this.cfg.limits.stepResultBytes) {
        error = {
          name: "WorkflowError", code: ErrorCode.TooLarge, nonRetryable: true,
          message: `step "${p.name}" result is too large: ${bytes} bytes, the limit is ${this.cfg.limits.stepResultBytes} bytes (limits.stepResultBytes); store large data elsewhere and return a reference`,
        };
      } else {
        const limit = this.cfg.limits.journalBytes ?? DEFAULT_LIMITS.journalBytes;
        this.journalBytes ??= [...this.journaled.values()].reduce((n, s) => n + (s.value === undefined ? 0 : serialize(s.value).byteLength), 0);
        if (this.journalBytes + bytes > limit) {
          error = {
            name: "WorkflowError", code: ErrorCode.TooLarge, nonRetryable: true,
            message: `step "${p.name}" result (${bytes} bytes) would bring this instance's journaled step results to ${this.journalBytes + bytes} bytes, over limits.journalBytes (${limit}): the step fails without retries. Keep large data in ctx.storage, ctx.fs or outside Weft and return a reference`,
          };
        } else this.journalBytes += bytes;
      }
    }
    const id = { key, kind: p.kind, seq: p.seq, name: p.name, count: p.count, startedAt: p.startedAt, config: p.config!.view };
    const span = { attempt, startedAt: r.startedAt, endedAt: now };
    if (!error) {
      const { step: rec, ops, outcome: completed } = attemptEnded(id, span, { kind: "succeeded", value, redacted: Boolean(p.config!.sensitive) });
      const done = () => {
        this.e.metrics.stepsCompleted++;
        this.resolve(p, value, undefined, now);
      };
      if (this.storage?.owns(key, attempt)) return this.commitWithStorage(rec as StepRecord & { state: "complete" }, attempt, ops, completed, done);
      void this.write([...ops, completed]).then(() => {
        this.e.crash("after-journal-commit", { instance: this.inst.id, pk: this.pk, step: key });
        done();
      });
      return;
    }
    this.storage?.abortAttempt(key, attempt);
    const d = decideAfterFailure(p.config!.retry, attempt, error);
    const failed = error;
    if (!d.retry) {
      const { ops, outcome } = attemptEnded(id, span, { kind: "failed", error });
      void this.write([...ops, outcome]).then(() => {
        this.e.metrics.stepsFailed++;
        this.resolve(p, undefined, failed, now);
      });
      return;
    }
    const { step: rec, ops, outcome } = attemptEnded(id, span, { kind: "retrying", error, delayMs: d.delayMs });
    this.journaled.set(key, rec);
    void this.write([...ops, outcome]).then(() => this.scheduleAttempt(p, attempt + 1, rec.dueAt!));
  }

  /** The attempt changed SQL or files: they commit with its result (see storage.ts). */
  private commitWithStorage(rec: StepRecord & { state: "complete" }, attempt: number, ops: JournalOp[], completed: JournalOp, done: () => void): void {
    this.inflightWrites++; // nothing suspends the run while its storage commits
    this.st().commitAttempt(rec, attempt).then(
      (extra) => {
        this.inflightWrites--;
        if (extra.some((o) => o.op === "sql")) {
          // committed in the local copy only: a crash now is undone by the next run's rebuild
          this.e.config.hooks.afterSqlCommit?.(this.inst.id, rec.key);
          this.e.crash("after-sql-commit", { instance: this.inst.id, pk: this.pk, step: rec.key });
        }
        void this.write([...ops, ...extra, completed]).then(() => {
          this.e.crash("after-journal-commit", { instance: this.inst.id, pk: this.pk, step: rec.key });
          this.storage?.journaled(rec.key);
          done();
        });
      },
      (err) => {
        this.inflightWrites--;
        this.storage?.abortAttempt(rec.key, attempt);
        if (this.done) return;
        // nothing of the attempt is committed (its database connection was lost, or the commit
        // failed): replay from the journal, which runs the step again, as after a crash
        this.e.config.logger.warn({ err, instance: this.pk, step: rec.key }, "a step's storage commit failed; the run replays and the step runs again");
        this.stop();
        this.e.onRunCrashed(this);
      },
    );
  }

  private st(): RunStorage {
    this.storage ??= new RunStorage(this.e.data, this.inst, this.epoch, this.cfg.limits, () => [...this.running].map(([k, r]) => [k, r.attempt]));
    return this.storage;
  }

  private onFs(c: Extract<Command, { t: "fs" }>): void {
    this.hostCalls.add(c.id);
    this.st().fs(c.req, c.running).then(
      (value) => ({ value, error: undefined, unavailable: undefined }),
      (err) => {
        const code = (err as WeftError)?.code;
        // the store is down or full: the platform's failure, not the step's — the run stops and is
        // retried once the store answers, instead of the attempt failing and spending the tenant's
        // retries (50 attempts burnt in 5 s while PostgreSQL restarted)
        if (code === ErrorCode.StorageUnavailable || code === ErrorCode.StorageFull) return { value: undefined, error: undefined, unavailable: err as unknown };
        return { value: undefined, error: errorReply(err), unavailable: undefined };
      },
    ).then(({ value, error, unavailable }) => {
      this.hostCalls.delete(c.id);
      if (unavailable !== undefined) {
        if (!this.done) this.e.onRunError(this, unavailable);
        return;
      }
      this.push({ t: "hostResult", id: c.id, value, error });
    });
  }

  private onHostCall(c: Extract<Command, { t: "hostCall" } | { t: "stubCall" } | { t: "fetch" }>): void {
    if (this.done) return; // a stopped run's code has no effect on the world
    if (!this.e.leaseHeld(this)) {
      // the claim may be another node's by now: no side effect from here; the run stops (fenced)
      this.e.config.logger.warn({ instance: this.pk, fn: c.t === "fetch" ? "fetch" : c.t === "stubCall" ? c.method : c.fn }, "a run whose lease may have expired stops before its host call");
      return this.stop();
    }
    const limit = this.cfg.limits.pendingCalls ?? DEFAULT_LIMITS.pendingCalls;
    if (this.hostCalls.size >= limit) {
      // the call fails at once, before it reaches the world: the code may catch it and await the others
      const what = c.t === "fetch" ? "fetch" : c.t === "stubCall" ? `${c.method}()` : `env call ${c.fn}()`;
      const error: ErrorInfo = { name: "Error", code: ErrorCode.PendingLimit, message: `${what} would be host call ${limit + 1} in flight at once for this instance; the limit is ${limit} (limits.pendingCalls): it is refused. Await host calls in batches` };
      return this.push({ t: "hostResult", id: c.id, value: undefined, error });
    }
    this.hostCalls.add(c.id);
    const abort = c.t === "fetch" ? new AbortController() : undefined;
    if (abort) this.fetchAborts.set(c.id, abort);
    const call: Promise<{ value: unknown; stubs?: StubRef[] }> = c.t === "fetch" ? this.e.egress(this.version, c, abort!.signal).then((value) => ({ value })) : this.hostObjects().invoke(c);
    call.then(
      (r) => ({ value: r.value, stubs: r.stubs, error: undefined }),
      (err) => ({ value: undefined, stubs: undefined, error: toErrorInfo(err) }),
    ).then(({ value, error, stubs }) => {
      this.hostCalls.delete(c.id);
      this.fetchAborts.delete(c.id);
      this.push(stubs ? { t: "hostResult", id: c.id, value, stubs } : { t: "hostResult", id: c.id, value, error });
    });
  }

  private hostObjects(): HostObjects {
    return (this.objects ??= new HostObjects({
      limit: this.cfg.limits.hostObjects ?? DEFAULT_LIMITS.hostObjects,
      root: (path) => this.e.hostRoot(this.version, path),
      callFn: (fn, args) => this.e.callHost(this.version, fn, args),
    }));
  }

  private onComplete(value: unknown): void {
    const bytes = serialize(value).byteLength;
    if (bytes > this.cfg.limits.stepResultBytes) {
      return this.finish("errored", {
        error: { name: "WorkflowError", message: `the workflow output is too large: ${bytes} bytes, the limit is ${this.cfg.limits.stepResultBytes} bytes` },
      }, "workflow_errored");
    }
    this.finish("complete", { output: value }, "workflow_completed");
  }

  // ---- lifecycle -------------------------------------------------------------------------------
  private write(ops: JournalOp[]): Promise<JournalResult> {
    // A stopped run writes nothing more: the store's fence refuses its epoch only once another claim
    // has committed, and until then a late write (a step completed after the stop, its SQL already
    // rolled back) would pass it. The release of a finish or suspend is sent by stop()'s caller.
    if (this.done) return new Promise<JournalResult>(() => {});
    this.inflightWrites++;
    const p = this.e.store.journal(this.pk, this.epoch, ops).finally(() => {
      this.inflightWrites--;
    });
    this.e.notifySoon(this.pk);
    return p.then(
      (res) => {
        this.e.storageOk();
        setImmediate(() => this.checkQuiet()); // after the caller's continuation has run
        return res;
      },
      (err) => {
        if ((err as WeftError)?.code === ErrorCode.LeaseLost) this.stop();
        else this.e.onRunError(this, err);
        throw err;
      },
    ).catch(() => new Promise<JournalResult>(() => {})); // a refused write resolves nothing downstream
  }

  private finish(status: "complete" | "errored", extra: { output?: unknown; error?: ErrorInfo }, type: HistoryType): void {
    if (this.done || this.mode === "rollback") return;
    const now = this.e.clock.now();
    const ops: JournalOp[] = [
      { op: "status", status, wakeAt: null, endedAt: now, ...extra },
      { op: "history", type, at: now, data: extra.error ? { error: extra.error } : undefined },
    ];
    this.released = true;
    this.stop();
    void this.e.store.release(this.pk, this.epoch, { now, readyAt: null, seenWakes: this.seenWakes }, ops).then(
      () => this.e.onRunFinished(this, status),
      (err) => this.e.onRunError(this, err),
    );
  }

  /** Nothing in flight: suspend if the next due time is far, or the instance is pausing. */
  private checkQuiet(): void {
    if (this.done || !this.ctx || this.activating || this.jobs.length > 0 || this.inflightWrites > 0) return;
    if (this.running.size > 0 || this.hostCalls.size > 0 || this.guestTimers.size > 0) return;
    if (this.mode === "rollback") return;
    if (this.pauseRequested) return this.suspend("paused", null);
    if (this.pending.size === 0) {
      return this.finish("errored", {
        error: { name: "WorkflowError", message: "run() is awaiting something that can never settle: no step, sleep, event or host call is pending. Await only step.* calls and host bindings in run()." },
      }, "workflow_errored");
    }
    let next = Infinity;
    for (const p of this.pending.values()) if (p.dueAt !== undefined) next = Math.min(next, p.dueAt);
    if (next - this.e.clock.now() >= this.e.config.suspendAfterMs) this.suspend("waiting", next === Infinity ? null : next);
  }

  private suspend(status: "waiting" | "paused", wakeAt: number | null): void {
    const now = this.e.clock.now();
    this.released = true;
    this.stop();
    // the claim goes with the next wake time; a wake-up this run has not seen makes it due at once
    void this.e.store.release(this.pk, this.epoch, { now, readyAt: status === "waiting" ? wakeAt : null, seenWakes: this.seenWakes }, [
      { op: "status", status, wakeAt },
      { op: "history", type: status === "paused" ? "workflow_paused" : "workflow_waiting", at: now },
    ]).then((res) => this.e.onRunSuspended(this, status, wakeAt, res.readyAt), (err) => this.e.onRunError(this, err));
  }

  /** Release everything this run holds; its later writes are fenced out by the epoch anyway. */
  stop(): void {
    if (this.done) return;
    this.done = true;
    for (const p of this.pending.values()) p.timer?.cancel();
    for (const r of this.running.values()) r.timer.cancel();
    for (const t of this.guestTimers.values()) t.cancel();
    this.storage?.close();
    this.objects?.clear();
    this.ctx?.release();
    this.e.onRunStopped(this);
  }

  /** in-memory view of unfinished calls, for describe() */
  snapshot(): { key: string; step: StepRecord; running?: { attempt: number; startedAt: number } }[] {
    return [...this.pending.values()].map((p) => ({
      key: p.key,
      step: { key: p.key, kind: p.kind, seq: p.seq, name: p.name, count: p.count, state: "pending", startedAt: p.startedAt, attempts: p.attempts, dueAt: p.dueAt, config: p.config?.view },
      running: this.running.get(p.key),
    }));
  }

  requestPause(): void {
    this.pauseRequested = true;
    for (const p of this.pending.values()) {
      if (p.kind === "do" && this.running.has(p.key)) continue;
      p.timer?.cancel();
      p.timer = undefined;
    }
    this.checkQuiet();
  }

  /** resume() while pausing: the run goes on as if no pause was asked for (nothing runs again) */
  cancelPause(): void {
    if (!this.pauseRequested || this.done) return;
    this.pauseRequested = false;
    for (const w of this.withheld.splice(0)) this.push({ t: "resolve", key: w.key, value: w.value, error: w.error, at: w.at });
    for (const p of this.pending.values()) {
      // running, armed, or its attempt's outcome is being committed (it resolves or retries by itself)
      if (this.running.has(p.key) || p.timer || p.settling) continue;
      if (p.kind === "do" || p.kind === "rollback") this.scheduleAttempt(p, p.attempts + 1, p.dueAt ?? this.e.clock.now());
      else this.arm(p);
    }
  }

  /** Rollback mode: the guest replays, then runs the registered rollback handlers newest first. */
  runRollbacks(error: ErrorInfo): Promise<void> {
    return new Promise((resolve) => {
      this.rollbackDone = resolve;
      this.push({ t: "rollback", error });
    });
  }

  private async onGuestCrash(reason: "cpu" | "memory" | "unhandled", message: string, started: Command[] = []): Promise<void> {
    // attempts the cut-off activation started itself (a step body that looped at once) are charged too
    for (const c of started) if (c.t === "call" && (c.kind === "do" || c.kind === "rollback") && !this.pending.has(c.key)) this.onCall(c);
    const now = this.e.clock.now();
    const limits = this.cfg.limits;
    const what = reason === "cpu"
      ? { code: ErrorCode.CpuLimit, text: `exceeded the CPU time limit of ${limits.cpuMsPerStep} ms (limits.cpuMsPerStep)` }
      : reason === "memory"
        ? { code: ErrorCode.MemoryLimit, text: `exceeded the memory limit of ${limits.memoryMb} MB (limits.memoryMb)` }
        : { code: ErrorCode.UnhandledRejection, text: `left a promise rejection unhandled (${message}): await or catch every promise the code makes — an unhandled rejection ends the activation, and a replay would do the same` };
    if (this.running.size === 0) {
      return this.finish("errored", { error: { name: "WorkflowError", code: what.code, message: `workflow code outside steps ${what.text}` } }, "workflow_errored");
    }
    // The context is no longer trustworthy: record the attempts' failures, then replay in a fresh one.
    const writes: Promise<unknown>[] = [];
    for (const [key, r] of [...this.running]) {
      const p = this.pending.get(key)!;
      const error: ErrorInfo = { name: "WorkflowError", code: what.code, message: `step "${p.name}" attempt ${r.attempt} ${what.text}` };
      this.storage?.abortAttempt(key, r.attempt);
      r.timer.cancel();
      this.running.delete(key);
      this.bodiesDone();
      const d = decideAfterFailure(p.config!.retry, r.attempt, error);
      const id = { key, kind: p.kind, seq: p.seq, name: p.name, count: p.count, startedAt: p.startedAt, config: p.config!.view };
      const { ops, outcome } = attemptEnded(id, { attempt: r.attempt, startedAt: r.startedAt, endedAt: now }, d.retry ? { kind: "retrying", error, delayMs: d.delayMs } : { kind: "failed", error });
      writes.push(this.e.store.journal(this.pk, this.epoch, [...ops, outcome]));
    }
    this.stop();
    try {
      await Promise.all(writes);
    } catch (err) {
      return this.e.onRunError(this, err);
    }
    this.e.onRunCrashed(this);
  }

  /**
   * This run's code outran its isolate's memory limit in a way isolated-vm cannot stop (isolates.ts
   * watched): its thread goes on allocating until the machine is out of memory. The instance ends
   * now, errored without retries (a replay or a retry would do the same again, in every restarted
   * process), and the engine is told to end the process once that is written.
   */
  private onRunaway(): void {
    if (this.done) return;
    const limits = this.cfg.limits;
    // (a body the activation itself started is not known to the host yet: then "workflow code")
    const where = this.running.size > 0 ? `step ${[...this.running.keys()].map((k) => `"${this.pending.get(k)?.name ?? k}"`).join(", ")}` : "workflow code";
    const error: ErrorInfo = {
      name: "WorkflowError", code: ErrorCode.MemoryLimit,
      message: `${where} exceeded the memory limit of ${limits.memoryMb} MB (limits.memoryMb) and could not be stopped in its isolate (it went on allocating): the instance is ended without retries, and the engine process restarts`,
    };
    const now = this.e.clock.now();
    this.released = true;
    this.stop();
    const written = this.e.store.release(this.pk, this.epoch, { now, readyAt: null, seenWakes: this.seenWakes }, [
      { op: "status", status: "errored", error, wakeAt: null, endedAt: now },
      { op: "history", type: "workflow_errored", at: now, data: { error } },
    ]).then(() => undefined);
    this.e.onRunaway(this, written);
  }

  private onIsolateDeath(): void {
    if (this.done || this.activating) return; // the activation that was running reports it itself
    this.stop();
    this.e.onRunCrashed(this);
  }
}
