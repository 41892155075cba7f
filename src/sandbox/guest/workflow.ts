// Runs INSIDE the isolate. The tenant-facing workflow API (WorkflowEntrypoint, WorkflowStep,
// NonRetryableError) and the replay state machine behind it: every durable call takes its identity
// (kind + name + occurrence) and its position synchronously, before anything is awaited, answers
// from the journal when it can, and otherwise asks the host through a command. A call made inside a
// step body is that body's nested call (core/replay.ts): identified under the step whose body made
// it (attribution.ts tells which), without a position of its own, so a replay that answers the
// parent from the journal (and never runs its body) still takes the same path.
import { ERROR_TEXT_CHARS, ErrorCode, cutText, type ErrorInfo } from "../../core/errors.ts";
import { parseDuration, formatMs } from "../../core/duration.ts";
import { compileStepConfig, type CompiledStepConfig } from "../../core/step-config.ts";
import { validateEventType, validateStepName } from "../../core/ids.ts";
import { atLeastBytes, checkSerializable } from "../../core/values.ts";
import { stepKey, nestedKey, isNestedKey, rollbackKey, describeEntry, MAX_SLEEP_MS, waitTimeoutMs } from "../../core/replay.ts";
import { currentOwner, rawThen, runBody, type Owner } from "./attribution.ts";
import type { Command, EntryKind, HistoryEntry, InitJob } from "../protocol.ts";
import type { GuestClock, GuestRandom } from "./determinism.ts";

const NON_RETRYABLE = Symbol.for("weft.nonRetryable");

export class NonRetryableError extends Error {
  constructor(message: string, name = "NonRetryableError") {
    super(message);
    this.name = name;
    Object.defineProperty(this, NON_RETRYABLE, { value: true });
  }
}

export abstract class WorkflowEntrypoint<Env = unknown, _T = unknown> {
  protected ctx: unknown;
  protected env: Env;
  constructor(ctx: unknown, env: Env) {
    this.ctx = ctx;
    this.env = env;
  }
  abstract run(event: unknown, step: unknown): Promise<unknown>;
}

// What of an error is kept (journaled per attempt, shown, rethrown on replay) is cut here with the
// host's own rule (core/errors.ts), so that the excess never crosses the isolate boundary at all
// (a 5 MB message on each of 200 attempts filled the store and stalled the host).
export function errorInfo(e: unknown): ErrorInfo {
  if (e !== null && typeof e === "object") {
    const o = e as { name?: unknown; message?: unknown; stack?: unknown; code?: unknown };
    const info: ErrorInfo = {
      name: typeof o.name === "string" ? o.name.slice(0, 200) : "Error",
      message: cutText(typeof o.message === "string" ? o.message : String(e), ERROR_TEXT_CHARS),
    };
    if (typeof o.stack === "string") info.stack = o.stack.slice(0, 8192);
    if ((e as Record<symbol, unknown>)[NON_RETRYABLE] === true) info.nonRetryable = true;
    if (typeof o.code === "string") info.code = o.code.slice(0, 200);
    return info;
  }
  return { name: "Error", message: cutText(String(e), ERROR_TEXT_CHARS) };
}

export function toError(info: ErrorInfo): Error {
  const e = info.nonRetryable ? new NonRetryableError(info.message, info.name) : new Error(info.message);
  e.name = info.name;
  if (info.code) (e as Error & { code?: string }).code = info.code;
  if (info.stack) e.stack = info.stack; // a failed step rethrown keeps where it failed (at the tenant's lines)
  return e;
}

function weftError(code: string, message: string): Error {
  const e = new Error(message) as Error & { code: string };
  e.name = "WorkflowError";
  e.code = code;
  return e;
}

interface Waiter {
  kind: EntryKind;
  resolve: (v: unknown) => void;
  reject: (e: unknown) => void;
}

interface StepRun {
  kind: EntryKind;
  name: string;
  count: number;
  /** the position of the step (of its top-level ancestor for a nested one) */
  seq: number;
  fn: (ctx: unknown) => unknown;
  config: CompiledStepConfig;
  abandoned: Set<number>;
}

interface Rollback {
  /** the key of the step it undoes */
  key: string;
  name: string;
  count: number;
  handler: (a: unknown) => unknown;
  config: unknown;
  /** the step's config as its body saw it (the handler's ctx.config) */
  view: unknown;
}

type Identity = { key: string; seq: number; count: number; h: HistoryEntry | undefined; parent?: Owner };

/** Cloudflare's text for a durable call made while rollback handlers run (workers-sdk context.ts). */
const ROLLBACK_PHASE = "Cannot execute steps during rollback phase";

/** The state of one instance run inside one context. */
export class WorkflowRun {
  readonly commands: Command[];
  private readonly history = new Map<string, HistoryEntry>();
  private readonly bySeq = new Map<number, HistoryEntry>();
  private readonly maxHistorySeq: number;
  private readonly waiters = new Map<string, Waiter>();
  private readonly steps = new Map<string, StepRun>();
  private readonly outcomes = new Map<string, { output?: unknown; error?: unknown }>();
  private readonly rollbacks: Rollback[] = [];
  private readonly counts = new Map<string, number>();
  /** occurrences of nested calls, per attempt of the body that makes them */
  private readonly nestedCounts = new Map<string, number>();
  /** calls not yet resolved, by key: a nested call that an abandoned attempt already made is joined */
  private readonly inflight = new Map<string, Promise<unknown>>();
  /** the last attempt of each step that ran or is journaled (a rollback handler's ctx.attempt) */
  private readonly lastAttempt = new Map<string, number>();
  /** rollback handlers are running: no other durable call may start (as Cloudflare) */
  private rollingBack = false;
  /** step attempts whose body is running here now (key → attempt) */
  private readonly live = new Map<string, number>();
  private seq = 0;
  private doCalls = 0;
  private dead = false;
  liveNow: number;
  private readonly init: InitJob;
  private readonly clock: GuestClock;
  private readonly rnd: GuestRandom;

  constructor(init: InitJob, commands: Command[], clock: GuestClock, rnd: GuestRandom) {
    this.init = init;
    this.clock = clock;
    this.rnd = rnd;
    this.commands = commands;
    let max = 0;
    for (const h of init.history) {
      this.history.set(h.key, h);
      if (h.seq > 0 && !isNestedKey(h.key)) {
        // a nested call shares its top-level ancestor's position: only top-level calls are checked
        this.bySeq.set(h.seq, h);
        if (h.seq > max) max = h.seq;
      }
    }
    this.maxHistorySeq = max;
    this.liveNow = init.now;
  }

  /** true while the run is re-walking journaled calls: console output is not repeated then */
  get replaying(): boolean {
    return this.seq < this.maxHistorySeq;
  }

  emit(c: Command): void {
    if (!this.dead) this.commands.push(c);
  }

  readonly step = {
    do: (name: string, a?: unknown, b?: unknown, c?: unknown): Promise<unknown> => {
      const [config, fn, rb] = typeof a === "function" ? [undefined, a, b] : [a, b, c];
      return this.callDo("do", name, config, fn as (ctx: unknown) => unknown, rb);
    },
    sleep: (name: string, duration: unknown): Promise<void> => {
      return this.callSleep(name, () => ({ durationMs: this.sleepMs(name, duration) }));
    },
    sleepUntil: (name: string, timestamp: unknown): Promise<void> => {
      return this.callSleep(name, () => {
        const t = timestamp instanceof Date ? timestamp.getTime() : timestamp;
        if (typeof t !== "number" || !Number.isFinite(t)) {
          throw weftError(ErrorCode.InvalidDuration, `step.sleepUntil "${name}": timestamp must be a Date or milliseconds since the epoch, got ${String(timestamp)}`);
        }
        if (t - this.clock.now() > MAX_SLEEP_MS) {
          throw weftError(ErrorCode.InvalidDuration, `step.sleepUntil "${name}": ${new Date(t).toISOString()} is more than 365 days ahead (the maximum sleep)`);
        }
        return { untilMs: t };
      });
    },
    waitForEvent: (name: string, options: unknown): Promise<unknown> => this.callWait(name, options),
  };

  private sleepMs(name: string, duration: unknown): number {
    const ms = parseDuration(duration, `step.sleep "${name}" duration`);
    if (ms > MAX_SLEEP_MS) {
      throw weftError(ErrorCode.InvalidDuration, `step.sleep "${name}": ${formatMs(ms)} is longer than the maximum sleep of 365 days`);
    }
    return ms;
  }

  /** Identity and position, taken synchronously: the heart of replay. */
  private identify(kind: EntryKind, name: string, what: string): Identity {
    const parent = currentOwner();
    if (parent !== undefined && parent.run === this) return this.identifyNested(parent, kind, name, what);
    const ck = kind + "\u0000" + name;
    const count = (this.counts.get(ck) ?? 0) + 1;
    this.counts.set(ck, count);
    const key = stepKey(kind, name, count);
    const seq = ++this.seq;
    const past = this.bySeq.get(seq);
    if (past && past.key !== key) {
      this.nonDeterminism(
        `Non-determinism: on replay the workflow reached ${describeEntry(kind, name, count)} at position ${seq}, ` +
          `but the journal has ${describeEntry(past.kind, past.name, past.count)} there. Code outside steps must take the same ` +
          `path on every replay: derive branches only from step results and the event, never from outside state.`,
      );
    }
    return { key, seq, count, h: this.history.get(key) };
  }

  /**
   * A call made by the body of step `parent` (attempt n): keyed under the parent, its occurrence
   * counted within that attempt, so attempt n+1 finds what attempt n committed (a nested step that
   * completed never runs again), and a replay that answers the parent from the journal makes none.
   */
  private identifyNested(parent: Owner, kind: EntryKind, name: string, what: string): Identity {
    const s = this.steps.get(parent.key);
    if (parent.ended || !s) {
      throw weftError(ErrorCode.InvalidState, `${what} "${name}" was called by the body of step "${s?.name ?? parent.key}" after that attempt had ended: await every step call a step body makes`);
    }
    if (parent.kind === "rollback") throw weftError(ErrorCode.InvalidState, `${ROLLBACK_PHASE}: ${what} "${name}" was called inside a rollback handler`);
    const ck = `${parent.key}\u0000${parent.attempt}\u0000${kind}\u0000${name}`;
    const count = (this.nestedCounts.get(ck) ?? 0) + 1;
    this.nestedCounts.set(ck, count);
    const key = nestedKey(parent.key, kind, name, count);
    return { key, seq: s.seq, count, h: this.history.get(key), parent };
  }

  /**
   * One call too many unsettled at once (limits.pendingCalls): the run stops with the error, before
   * the call reaches the host. Not a rejection the code could catch and go on from: on a replay
   * fewer calls are unsettled (journaled results resolve at once), so the same call would be taken.
   */
  private overPending(what: string, name: string): Promise<never> {
    const n = this.inflight.size;
    const err = weftError(ErrorCode.PendingLimit, `${what} "${name}" would be call ${n + 1} unsettled at once; the limit is ${this.init.pendingLimit} (limits.pendingCalls), so the run stops here. Await step calls in batches (say 100 at a time with Promise.all), or fan the work out to child instances.`);
    this.emit({ t: "fail", error: errorInfo(err), rolledBack: false });
    this.dead = true;
    return this.never();
  }

  private nonDeterminism(message: string): never {
    const err = weftError(ErrorCode.NonDeterminism, message);
    this.emit({ t: "fail", error: errorInfo(err), rolledBack: false });
    this.dead = true;
    throw err;
  }

  /** A journaled result resolves after a microtask, moving the clock and the PRNG as the live run did. */
  private replayed(key: string, h: HistoryEntry, map: (v: unknown) => unknown = (v) => v): Promise<unknown> {
    return rawThen(Promise.resolve(), () => {
      this.moved(key, h.at);
      if (h.state === "failed") throw toError(h.error!);
      return map(h.value);
    });
  }

  /**
   * A durable call resolved at `at`: the clock and the replay-stable stream of the code outside steps
   * move. Not for a nested call: it resolves only when its parent's body runs (live), never when a
   * replay answers the parent from the journal, so it must not change what code outside steps sees.
   */
  private moved(key: string, at: number | undefined): void {
    if (isNestedKey(key)) return;
    this.clock.advance(at);
    this.rnd.resolved(key);
  }

  /** The clock moves to a call's start (a replay moves it where the live run was). Not for nested calls. */
  private startAt(key: string, t: number | undefined): void {
    if (!isNestedKey(key)) this.clock.advance(t);
  }

  /** when a call starts: the replay-stable clock, or the activation's time for a nested call (live only) */
  private callTime(key: string, h: HistoryEntry | undefined): number {
    return isNestedKey(key) ? (h?.startedAt ?? this.liveNow) : this.clock.now();
  }

  private never(): Promise<never> {
    return new Promise<never>(() => {});
  }

  private wait(key: string, kind: EntryKind): Promise<unknown> {
    return new Promise((resolve, reject) => this.waiters.set(key, { kind, resolve, reject }));
  }

  private callDo(kind: "do" | "rollback", name: string, config: unknown, fn: (ctx: unknown) => unknown, rb: unknown, preset?: Identity): Promise<unknown> {
    if (this.dead) return this.never();
    let id: Identity;
    let compiled: CompiledStepConfig;
    let rollback: { handler: (a: unknown) => unknown; config: unknown } | undefined;
    try {
      validateStepName(name, "step.do");
      if (typeof fn !== "function") {
        throw weftError(ErrorCode.InvalidArgument, `Step "${name}" requires a callback function: the step body must be a function, got ${typeof fn}`);
      }
      compiled = compileStepConfig(name, config);
      if (kind === "do") rollback = rollbackOptions(name, rb);
      if (kind === "do" && this.rollingBack) throw weftError(ErrorCode.InvalidState, `${ROLLBACK_PHASE}: step.do "${name}" was called while rollback handlers run`);
      id = preset ?? this.identify(kind, name, "step.do");
    } catch (e) {
      if (this.dead) return this.never();
      return Promise.reject(e);
    }
    const { key, seq, count, h } = id;
    const joined = this.inflight.get(key);
    if (joined) return joined; // the same nested step, called again by a later attempt of its parent
    if (h && h.state !== "pending" && (h.attempts ?? 0) > 0) this.lastAttempt.set(key, h.attempts!);
    if (kind === "do") {
      this.doCalls++;
      if (rollback && !this.rollbacks.some((r) => r.key === key)) {
        this.rollbacks.push({ key, name, count, handler: rollback.handler, config: rollback.config, view: compiled.view });
      }
    }
    if (h && h.state !== "pending") {
      this.startAt(key, h.startedAt);
      const p = this.replayed(key, h);
      rawThen(p, (output) => this.outcomes.set(key, { output }), (error) => this.outcomes.set(key, { error }));
      return p;
    }
    if (kind === "do" && this.doCalls > this.init.stepLimit) {
      return Promise.reject(
        weftError(ErrorCode.StepLimit, `The limit of ${this.init.stepLimit} steps has been reached: step.do "${name}" would exceed it. Raise limits.steps for this workflow (up to 25,000) or split the work across instances.`),
      );
    }
    // a step that started (journaled, retrying) has its rollback run, as one that finished
    if (h && (h.attempts ?? 0) > 0) this.lastAttempt.set(key, h.attempts!);
    if (this.init.mode === "rollback" && kind === "do") return this.never();
    if (this.inflight.size >= this.init.pendingLimit) return this.overPending("step.do", name);
    this.startAt(key, h ? h.startedAt : this.liveNow);
    this.steps.set(key, { kind, name, count, seq, fn, config: compiled, abandoned: new Set() });
    const p = this.wait(key, kind);
    this.track(key, p);
    if (kind === "do") rawThen(p, (output) => this.outcomes.set(key, { output }), (error) => this.outcomes.set(key, { error }));
    const started = !h;
    this.emit({ t: "call", key, kind, seq, name, count, config: compiled.view, started, startedAt: this.callTime(key, h) });
    if (started) this.runAttempt(key, 1);
    return p;
  }

  private track(key: string, p: Promise<unknown>): void {
    this.inflight.set(key, p);
    const done = () => {
      if (this.inflight.get(key) === p) this.inflight.delete(key);
    };
    rawThen(p, done, done);
  }

  runningAttempts(): [string, number][] {
    return [...this.live];
  }

  private ended(key: string, attempt: number): void {
    if (this.live.get(key) === attempt) this.live.delete(key);
  }

  runAttempt(key: string, attempt: number): void {
    const s = this.steps.get(key);
    if (!s || this.dead) return;
    this.live.set(key, attempt);
    this.lastAttempt.set(key, attempt);
    // a copy: the body may change its ctx.config, the engine's retry policy stays what was configured
    const ctx = { step: { name: s.name, count: s.count }, attempt, config: structuredClone(s.config.view) };
    // The body runs only on the live run, never on replay; what it does (random draws, nested steps)
    // is attributed to this attempt, never to the code outside steps (attribution.ts).
    const r = runBody({ run: this, key, attempt, kind: s.kind, ended: false }, s.fn, ctx);
    rawThen(
      r,
      (value) => {
        this.ended(key, attempt);
        if (s.abandoned.has(attempt)) return;
        let out: unknown;
        try {
          checkSerializable(value, `step "${s.name}" result`);
          this.checkSize(value, () => `step "${s.name}" result`);
          out = structuredClone(value);
        } catch (e) {
          const info = errorInfo(e);
          info.nonRetryable = true;
          this.emit({ t: "attemptDone", key, attempt, error: info });
          return;
        }
        this.emit({ t: "attemptDone", key, attempt, value: out });
      },
      (e) => {
        this.ended(key, attempt);
        if (!s.abandoned.has(attempt)) this.emit({ t: "attemptDone", key, attempt, error: errorInfo(e) });
      },
    );
  }

  abandon(key: string, attempt: number): void {
    this.steps.get(key)?.abandoned.add(attempt);
    this.ended(key, attempt);
  }

  private callSleep(name: string, spec: () => { durationMs?: number; untilMs?: number }): Promise<void> {
    if (this.dead) return this.never();
    let id: Identity;
    let s: { durationMs?: number; untilMs?: number };
    try {
      validateStepName(name, "step.sleep");
      s = spec();
      if (this.rollingBack) throw weftError(ErrorCode.InvalidState, `${ROLLBACK_PHASE}: step.sleep "${name}" was called while rollback handlers run`);
      id = this.identify("sleep", name, "step.sleep");
    } catch (e) {
      if (this.dead) return this.never();
      return Promise.reject(e);
    }
    const { key, seq, count, h } = id;
    const joined = this.inflight.get(key);
    if (joined) return joined as Promise<void>;
    if (h && h.state !== "pending") return this.replayed(key, h, () => undefined) as Promise<void>;
    if (this.init.mode === "rollback") return this.never();
    if (this.inflight.size >= this.init.pendingLimit) return this.overPending("step.sleep", name);
    this.startAt(key, h ? h.startedAt : this.liveNow);
    const p = this.wait(key, "sleep") as Promise<void>;
    this.track(key, p);
    this.emit({ t: "call", key, kind: "sleep", seq, name, count, ...s, startedAt: this.callTime(key, h) });
    return p;
  }

  private callWait(name: string, options: unknown): Promise<unknown> {
    if (this.dead) return this.never();
    let id: Identity;
    let type: string;
    let timeoutMs: number;
    try {
      validateStepName(name, "step.waitForEvent");
      const o = options as { type?: unknown; timeout?: unknown } | undefined;
      if (!o || typeof o !== "object") {
        throw weftError(ErrorCode.InvalidArgument, `step.waitForEvent "${name}": options { type, timeout? } are required`);
      }
      type = validateEventType(o.type);
      timeoutMs = waitTimeoutMs(o.timeout, `step.waitForEvent "${name}" timeout`);
      if (this.rollingBack) throw weftError(ErrorCode.InvalidState, `${ROLLBACK_PHASE}: step.waitForEvent "${name}" was called while rollback handlers run`);
      id = this.identify("wait", name, "step.waitForEvent");
    } catch (e) {
      if (this.dead) return this.never();
      return Promise.reject(e);
    }
    const { key, seq, count, h } = id;
    const asEvent = (v: unknown) => {
      const ev = v as { payload: unknown; timestamp: number; type: string };
      return { payload: ev.payload, timestamp: new Date(ev.timestamp), type: ev.type };
    };
    const joined = this.inflight.get(key);
    if (joined) return joined;
    if (h && h.state !== "pending") return this.replayed(key, h, asEvent);
    if (this.init.mode === "rollback") return this.never();
    if (this.inflight.size >= this.init.pendingLimit) return this.overPending("step.waitForEvent", name);
    this.startAt(key, h ? h.startedAt : this.liveNow);
    const p = rawThen(this.wait(key, "wait"), asEvent);
    this.track(key, p);
    this.emit({ t: "call", key, kind: "wait", seq, name, count, eventType: type, timeoutMs, startedAt: this.callTime(key, h) });
    return p;
  }

  /** The host committed a result (or a final failure, or a sleep/wait end) for a pending call. */
  resolve(key: string, at: number, value: unknown, error: ErrorInfo | undefined): void {
    const w = this.waiters.get(key);
    if (!w) return;
    this.waiters.delete(key);
    const s = this.steps.get(key);
    this.steps.delete(key);
    if (isNestedKey(key)) {
      // the parent's next attempt in this run calls it again: answered as from the journal
      this.history.set(key, {
        key, kind: w.kind, seq: s?.seq ?? 0, name: s?.name ?? "", count: s?.count ?? 0, state: error ? "failed" : "complete",
        value, error, at, attempts: this.lastAttempt.get(key), startedAt: at,
      });
    }
    this.moved(key, at);
    if (error) w.reject(toError(error));
    else w.resolve(value);
  }

  /**
   * Run the registered rollback handlers, each as a durable step of its own, as Cloudflare's engine
   * does (workers-sdk lib/rollback.ts, executeRollbacks): in reverse step-start order, for every step
   * that started (completed, failed, or still in flight: its output is then undefined); the handler
   * gets the step's own context (`ctx.step.name` is the step's name, `ctx.attempt` its last attempt,
   * `ctx.config` its config), the error that ended the workflow, the step's output and the deprecated
   * `stepName` ("name-count"). A handler that still fails after its retries stops the chain.
   */
  async rollbackAll(cause: unknown): Promise<void> {
    this.rollingBack = true;
    const eligible = this.rollbacks.filter((r) => this.outcomes.has(r.key) || this.lastAttempt.has(r.key));
    for (let i = eligible.length - 1; i >= 0; i--) {
      const r = eligible[i]!;
      const output = this.outcomes.get(r.key)?.output;
      const stepCtx = { step: { name: r.name, count: r.count }, attempt: this.lastAttempt.get(r.key) ?? 1, config: structuredClone(r.view) };
      const key = rollbackKey(r.key);
      const id: Identity = { key, seq: -1, count: r.count, h: this.history.get(key) };
      try {
        await this.callDo("rollback", r.name, r.config ?? undefined, () =>
          r.handler({ ctx: stepCtx, error: cause, output, stepName: `${r.name}-${r.count}` }), undefined, id);
      } catch {
        // journaled with its error; the handlers of older steps do not run (Cloudflare halts the chain)
        break;
      }
    }
  }

  async start(Cls: new (ctx: unknown, env: unknown) => { run: (e: unknown, s: unknown) => unknown }, ctx: unknown, env: unknown): Promise<void> {
    const event = Object.freeze({
      payload: deepFreeze(this.init.payload),
      timestamp: new Date(this.init.timestamp),
      instanceId: this.init.instanceId,
      workflowName: this.init.workflowName,
    });
    const step = Object.freeze({ ...this.step });
    let output: unknown;
    try {
      const instance = new Cls(ctx, env);
      output = await instance.run(event, step);
    } catch (e) {
      if (this.dead || this.init.mode === "rollback") return;
      await this.rollbackAll(e);
      this.emit({ t: "fail", error: errorInfo(e), rolledBack: this.rollbacks.length > 0 });
      return;
    }
    if (this.dead || this.init.mode === "rollback") return;
    try {
      checkSerializable(output, "the workflow output");
      this.checkSize(output, () => "the workflow output");
      this.emit({ t: "complete", value: structuredClone(output) });
    } catch (e) {
      this.emit({ t: "fail", error: errorInfo(e), rolledBack: false });
    }
  }

  /**
   * A value at least twice the result limit is refused here, before it is copied to the host (which
   * checks every value exactly, and names the exact size, for the ones nearer the limit).
   */
  private checkSize(value: unknown, what: () => string): void {
    const limit = this.init.resultLimit;
    if (limit === undefined) return;
    const n = atLeastBytes(value, 2 * limit);
    if (n > 2 * limit) {
      const e = weftError(ErrorCode.TooLarge, `${what()} is too large: at least ${n} bytes, the limit is ${limit} bytes (limits.stepResultBytes); store large data elsewhere and return a reference`);
      (e as Error & { [k: symbol]: unknown })[NON_RETRYABLE] = true;
      throw e;
    }
  }

  async rollbackForTerminate(cause: unknown): Promise<void> {
    await this.rollbackAll(cause);
    this.emit({ t: "rollbackDone" });
  }
}

/** step.do's fourth argument, checked as Cloudflare does (workers-sdk lib/rollback.ts, parseRollbackOptions). */
function rollbackOptions(name: string, rb: unknown): { handler: (a: unknown) => unknown; config: unknown } | undefined {
  if (rb === undefined) return undefined;
  if (typeof rb !== "object" || rb === null || Array.isArray(rb)) {
    throw weftError(ErrorCode.InvalidArgument, `Rollback options for "${name}" must be an object: { rollback: async ({ ctx, error, output }) => …, rollbackConfig? }`);
  }
  const o = rb as { rollback?: unknown; rollbackConfig?: unknown };
  if (typeof o.rollback !== "function") {
    throw weftError(ErrorCode.InvalidArgument, `Rollback for "${name}" must be a function, got ${typeof o.rollback}`);
  }
  if (o.rollbackConfig !== undefined) {
    try {
      compileStepConfig(name, o.rollbackConfig);
    } catch (e) {
      throw weftError(ErrorCode.InvalidStepConfig, `Rollback config for "${name}" is in a invalid format. See https://developers.cloudflare.com/workflows/build/sleeping-and-retrying/ — ${(e as Error).message.replace(/^Step config for .*? — /, "")}`);
    }
  }
  return { handler: o.rollback as (a: unknown) => unknown, config: o.rollbackConfig };
}

function deepFreeze<T>(v: T): T {
  if (v && typeof v === "object" && !Object.isFrozen(v)) {
    Object.freeze(v);
    for (const k of Object.keys(v)) deepFreeze((v as Record<string, unknown>)[k]);
  }
  return v;
}
