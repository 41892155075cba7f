// Runs INSIDE the isolate. The tenant-facing workflow API (WorkflowEntrypoint, WorkflowStep,
// NonRetryableError) and the replay state machine behind it: every durable call takes its identity
// (kind + name + occurrence) and its position synchronously, before anything is awaited, answers
// from the journal when it can, and otherwise asks the host through a command.
import { ErrorCode, type ErrorInfo } from "../../core/errors.ts";
import { parseDuration, formatMs } from "../../core/duration.ts";
import { compileStepConfig, type CompiledStepConfig } from "../../core/step-config.ts";
import { validateEventType, validateStepName } from "../../core/ids.ts";
import { checkSerializable } from "../../core/values.ts";
import { stepKey, describeEntry, MAX_SLEEP_MS, MIN_WAIT_MS, DEFAULT_WAIT_MS } from "../../core/replay.ts";
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

export function errorInfo(e: unknown): ErrorInfo {
  if (e !== null && typeof e === "object") {
    const o = e as { name?: unknown; message?: unknown; stack?: unknown; code?: unknown };
    const info: ErrorInfo = {
      name: typeof o.name === "string" ? o.name : "Error",
      message: typeof o.message === "string" ? o.message : String(e),
    };
    if (typeof o.stack === "string") info.stack = o.stack.slice(0, 8192);
    if ((e as Record<symbol, unknown>)[NON_RETRYABLE] === true) info.nonRetryable = true;
    if (typeof o.code === "string") info.code = o.code;
    return info;
  }
  return { name: "Error", message: String(e) };
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
  name: string;
  count: number;
  fn: (ctx: unknown) => unknown;
  config: CompiledStepConfig;
  abandoned: Set<number>;
}

interface Rollback {
  key: string;
  name: string;
  count: number;
  handler: (a: unknown) => unknown;
  config: unknown;
}

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
      if (h.seq > 0) {
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
  private identify(kind: EntryKind, name: string): { key: string; seq: number; count: number; h: HistoryEntry | undefined } {
    const ck = kind + "\u0000" + name;
    const count = (this.counts.get(ck) ?? 0) + 1;
    this.counts.set(ck, count);
    const key = stepKey(kind, name, count);
    const seq = kind === "rollback" ? -1 : ++this.seq;
    if (seq > 0) {
      const past = this.bySeq.get(seq);
      if (past && past.key !== key) {
        this.nonDeterminism(
          `Non-determinism: on replay the workflow reached ${describeEntry(kind, name, count)} at position ${seq}, ` +
            `but the journal has ${describeEntry(past.kind, past.name, past.count)} there. Code outside steps must take the same ` +
            `path on every replay: derive branches only from step results and the event, never from outside state.`,
        );
      }
    }
    return { key, seq, count, h: this.history.get(key) };
  }

  private nonDeterminism(message: string): never {
    const err = weftError(ErrorCode.NonDeterminism, message);
    this.emit({ t: "fail", error: errorInfo(err), rolledBack: false });
    this.dead = true;
    throw err;
  }

  /** A journaled result resolves after a microtask, moving the clock and the PRNG as the live run did. */
  private replayed(key: string, h: HistoryEntry, map: (v: unknown) => unknown = (v) => v): Promise<unknown> {
    return Promise.resolve().then(() => {
      this.clock.advance(h.at);
      this.rnd.resolved(key);
      if (h.state === "failed") throw toError(h.error!);
      return map(h.value);
    });
  }

  private never(): Promise<never> {
    return new Promise<never>(() => {});
  }

  private wait(key: string, kind: EntryKind): Promise<unknown> {
    return new Promise((resolve, reject) => this.waiters.set(key, { kind, resolve, reject }));
  }

  private callDo(kind: "do" | "rollback", name: string, config: unknown, fn: (ctx: unknown) => unknown, rb: unknown): Promise<unknown> {
    if (this.dead) return this.never();
    let id: ReturnType<WorkflowRun["identify"]>;
    let compiled: CompiledStepConfig;
    try {
      validateStepName(name, "step.do");
      if (typeof fn !== "function") {
        throw weftError(ErrorCode.InvalidArgument, `step.do "${name}": the step body must be a function, got ${typeof fn}`);
      }
      compiled = compileStepConfig(name, config);
      id = this.identify(kind, name);
    } catch (e) {
      if (this.dead) return this.never();
      return Promise.reject(e);
    }
    const { key, seq, count, h } = id;
    if (kind === "do") {
      this.doCalls++;
      const rbo = rb as { rollback?: unknown; rollbackConfig?: unknown } | undefined;
      if (rbo && typeof rbo.rollback === "function") {
        this.rollbacks.push({ key, name, count, handler: rbo.rollback as (a: unknown) => unknown, config: rbo.rollbackConfig });
      }
    }
    if (h && h.state !== "pending") {
      this.clock.advance(h.startedAt);
      const p = this.replayed(key, h);
      p.then((output) => this.outcomes.set(key, { output }), (error) => this.outcomes.set(key, { error }));
      return p;
    }
    if (kind === "do" && this.doCalls > this.init.stepLimit) {
      return Promise.reject(
        weftError(ErrorCode.StepLimit, `The limit of ${this.init.stepLimit} steps has been reached: step.do "${name}" would exceed it. Raise limits.steps for this workflow (up to 25,000) or split the work across instances.`),
      );
    }
    if (this.init.mode === "rollback" && kind === "do") return this.never();
    this.clock.advance(h ? h.startedAt : this.liveNow);
    this.steps.set(key, { name, count, fn, config: compiled, abandoned: new Set() });
    const p = this.wait(key, kind);
    if (kind === "do") p.then((output) => this.outcomes.set(key, { output }), (error) => this.outcomes.set(key, { error }));
    const started = !h;
    this.emit({ t: "call", key, kind, seq, name, count, config: compiled.view, started, startedAt: this.clock.now() });
    if (started) this.runAttempt(key, 1);
    return p;
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
    const ctx = { step: { name: s.name, count: s.count }, attempt, config: s.config.view };
    let r: unknown;
    // The body runs only on the live run, never on replay: it must not move the stream that code
    // outside steps draws from, so its synchronous part gets a stream of its own.
    const outer = this.rnd.save();
    this.rnd.reseed(`body:${key}:${attempt}`);
    try {
      r = s.fn(ctx);
    } catch (e) {
      r = Promise.reject(e);
    } finally {
      this.rnd.restore(outer);
    }
    Promise.resolve(r).then(
      (value) => {
        this.ended(key, attempt);
        if (s.abandoned.has(attempt)) return;
        let out: unknown;
        try {
          checkSerializable(value, `step "${s.name}" result`);
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
    let id: ReturnType<WorkflowRun["identify"]>;
    let s: { durationMs?: number; untilMs?: number };
    try {
      validateStepName(name, "step.sleep");
      s = spec();
      id = this.identify("sleep", name);
    } catch (e) {
      if (this.dead) return this.never();
      return Promise.reject(e);
    }
    const { key, seq, count, h } = id;
    if (h && h.state !== "pending") return this.replayed(key, h, () => undefined) as Promise<void>;
    if (this.init.mode === "rollback") return this.never();
    this.clock.advance(h ? h.startedAt : this.liveNow);
    const p = this.wait(key, "sleep") as Promise<void>;
    this.emit({ t: "call", key, kind: "sleep", seq, name, count, ...s, startedAt: this.clock.now() });
    return p;
  }

  private callWait(name: string, options: unknown): Promise<unknown> {
    if (this.dead) return this.never();
    let id: ReturnType<WorkflowRun["identify"]>;
    let type: string;
    let timeoutMs: number;
    try {
      validateStepName(name, "step.waitForEvent");
      const o = options as { type?: unknown; timeout?: unknown } | undefined;
      if (!o || typeof o !== "object") {
        throw weftError(ErrorCode.InvalidArgument, `step.waitForEvent "${name}": options { type, timeout? } are required`);
      }
      type = validateEventType(o.type);
      timeoutMs = o.timeout === undefined ? DEFAULT_WAIT_MS : parseDuration(o.timeout, `step.waitForEvent "${name}" timeout`);
      if (timeoutMs < MIN_WAIT_MS || timeoutMs > MAX_SLEEP_MS) {
        throw weftError(ErrorCode.InvalidDuration, `step.waitForEvent "${name}": timeout must be from 1 second to 365 days, got ${formatMs(timeoutMs)}`);
      }
      id = this.identify("wait", name);
    } catch (e) {
      if (this.dead) return this.never();
      return Promise.reject(e);
    }
    const { key, seq, count, h } = id;
    const asEvent = (v: unknown) => {
      const ev = v as { payload: unknown; timestamp: number; type: string };
      return { payload: ev.payload, timestamp: new Date(ev.timestamp), type: ev.type };
    };
    if (h && h.state !== "pending") return this.replayed(key, h, asEvent);
    if (this.init.mode === "rollback") return this.never();
    this.clock.advance(h ? h.startedAt : this.liveNow);
    const p = this.wait(key, "wait").then(asEvent);
    this.emit({ t: "call", key, kind: "wait", seq, name, count, eventType: type, timeoutMs, startedAt: this.clock.now() });
    return p;
  }

  /** The host committed a result (or a final failure, or a sleep/wait end) for a pending call. */
  resolve(key: string, at: number, value: unknown, error: ErrorInfo | undefined): void {
    const w = this.waiters.get(key);
    if (!w) return;
    this.waiters.delete(key);
    this.steps.delete(key);
    this.clock.advance(at);
    this.rnd.resolved(key);
    if (error) w.reject(toError(error));
    else w.resolve(value);
  }

  /** Run registered rollback handlers, newest first, each as a durable step of its own. */
  async rollbackAll(cause: unknown): Promise<void> {
    for (let i = this.rollbacks.length - 1; i >= 0; i--) {
      const r = this.rollbacks[i]!;
      const outcome = this.outcomes.get(r.key);
      if (!outcome) continue; // never reached a result: nothing to undo
      const cfg = (r.config ?? undefined) as unknown;
      try {
        await this.callDo("rollback", r.name + "#" + r.count, cfg, (ctx) =>
          r.handler({ ctx, error: outcome.error ?? cause, output: outcome.output }), undefined);
      } catch {
        // a failing rollback is journaled with its error; the others still run
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
      this.emit({ t: "complete", value: structuredClone(output) });
    } catch (e) {
      this.emit({ t: "fail", error: errorInfo(e), rolledBack: false });
    }
  }

  async rollbackForTerminate(cause: unknown): Promise<void> {
    await this.rollbackAll(cause);
    this.emit({ t: "rollbackDone" });
  }
}

function deepFreeze<T>(v: T): T {
  if (v && typeof v === "object" && !Object.isFrozen(v)) {
    Object.freeze(v);
    for (const k of Object.keys(v)) deepFreeze((v as Record<string, unknown>)[k]);
  }
  return v;
}
