// `weft run` driving: takes one instance of a temporary embedded engine to its end. It owns the
// `--event` feeder (each event is sent when the instance first waits for its type) and the
// `--skip-time` loop, which lets the engine settle, then moves the virtual clock to the next timer
// (sleep, retry delay, wait timeout) and repeats, never firing a running attempt's timeout early.
import { parseDuration } from "../core/duration.ts";
import { isFinished } from "../core/status.ts";
import type { StepConfigView } from "../core/step-config.ts";
import type { Engine } from "../engine/engine.ts";
import type { WorkflowInstance } from "../engine/binding.ts";
import type { VirtualClock } from "../core/virtual-clock.ts";

export interface QueuedEvent {
  type: string;
  payload: unknown;
}

/** Sends queued events, in order per type, at each `wait_started` for that type in the history. */
export class EventFeeder {
  private readonly queues = new Map<string, unknown[]>();
  private readonly engine: Engine;
  private readonly inst: WorkflowInstance;
  private cursor = 0;
  private chain: Promise<void> = Promise.resolve();
  readonly failures: string[] = [];

  constructor(engine: Engine, inst: WorkflowInstance, events: QueuedEvent[]) {
    this.engine = engine;
    this.inst = inst;
    for (const e of events) {
      const q = this.queues.get(e.type) ?? [];
      q.push(e.payload);
      this.queues.set(e.type, q);
    }
  }

  get position(): number {
    return this.cursor;
  }

  /** Read history past the cursor and send what has become due; calls are serialized. */
  poll(): Promise<void> {
    this.chain = this.chain.then(() => this.pollOnce());
    return this.chain;
  }

  private async pollOnce(): Promise<void> {
    if (this.queues.size === 0) return;
    for (const ev of await this.engine.history(this.inst.record, this.cursor)) {
      this.cursor = ev.eventId;
      if (ev.type !== "wait_started") continue;
      const type = (ev.data as { eventType?: string } | null)?.eventType;
      const q = type === undefined ? undefined : this.queues.get(type);
      if (!q || q.length === 0) continue;
      const payload = q.shift();
      if (q.length === 0) this.queues.delete(type!);
      try {
        await this.inst.sendEvent({ type: type!, payload });
      } catch (e) {
        this.failures.push(`--event ${type}: could not be sent: ${(e as Error).message}`);
      }
    }
  }

  /** Event types given on the command line that were never sent, with how many of each. */
  unsent(): { type: string; count: number }[] {
    return [...this.queues].map(([type, q]) => ({ type, count: q.length }));
  }
}

/** Real time: wait for the instance to finish, feeding events as its history grows. */
export async function runRealTime(inst: WorkflowInstance, feeder: EventFeeder): Promise<void> {
  // the system clock's timers are unref'd: hold the process open while the instance sleeps
  const keepAlive = setInterval(() => undefined, 1 << 30);
  try {
    await feeder.poll();
    for await (const _ of inst.subscribe()) await feeder.poll();
    await inst.waitFor();
  } finally {
    clearInterval(keepAlive);
  }
}

export interface SkipTimeOptions {
  /** how many times the clock may be moved before giving up (a workflow that sleeps forever) */
  maxAdvances?: number;
  /** real time the instance may make no visible progress with an attempt running or nothing scheduled */
  stallMs?: number;
}

const turn = () => new Promise<void>((r) => setImmediate(r));
const realMs = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));
const STABLE_TURNS = 3;
/** real time without change after which the engine counts as settled */
const QUIET_MS = 1;
/** the same while a run holds a context but has no call outstanding (normally only for an activation) */
const BETWEEN_QUIET_MS = 50;
/** how long work in flight with no visible change holds the clock back */
const BUSY_MS = 5000;

/**
 * Virtual time: repeat { settle; finished → done; advance the clock to the next timer }.
 * Settled means the same instance detail, timers and engine stats for three event-loop turns and a
 * little real time (longer while a run is between calls), with the event feeder caught up. The
 * clock does not move past a running attempt's timeout unless the instance has shown no progress
 * for `stallMs` of real time (a step that hangs).
 */
export async function runSkipTime(engine: Engine, inst: WorkflowInstance, clock: VirtualClock, feeder: EventFeeder, o: SkipTimeOptions = {}): Promise<void> {
  const maxAdvances = o.maxAdvances ?? 100_000;
  const stallMs = o.stallMs ?? 30_000;
  let advances = 0;
  let lastPrint = "";
  let lastChange = performance.now();
  for (;;) {
    const print = await settle(engine, inst, clock, feeder);
    if (print.finished) return;
    if (print.key !== lastPrint) {
      lastPrint = print.key;
      lastChange = performance.now();
    }
    const stalled = performance.now() - lastChange > stallMs;
    const next = clock.nextAt();
    const deadline = attemptDeadline(engine);
    if (next !== undefined && (deadline === undefined || next < deadline || stalled)) {
      if (++advances > maxAdvances) {
        throw new Error(`--skip-time: the instance was still ${print.status} after the clock moved ${maxAdvances} times (it may sleep or retry forever)`);
      }
      clock.advanceTo(next);
      lastChange = performance.now();
      continue;
    }
    if (next === undefined && stalled) {
      throw new Error(`--skip-time: the instance is ${print.status} with nothing scheduled and has made no progress for ${stallMs / 1000} s`);
    }
    await realMs(1); // work in flight that no timer stands for (an activation, a host call)
  }
}

async function settle(engine: Engine, inst: WorkflowInstance, clock: VirtualClock, feeder: EventFeeder): Promise<{ key: string; status: string; finished: boolean }> {
  let last = "";
  let stable = 0;
  let since = performance.now();
  for (;;) {
    await (stable >= STABLE_TURNS ? realMs(1) : turn());
    await feeder.poll();
    const detail = await inst.describe();
    if (isFinished(detail.status)) return { key: "", status: detail.status, finished: true };
    // work in flight anywhere (the driven instance's children too): an activation on an isolate's
    // thread, a host call, a run being set up — not settled (for up to BUSY_MS without any change:
    // then a hung host call is left to the stall rule of runSkipTime)
    if ((engine.startingCount() > 0 || [...engine.liveRuns()].some((r) => r.busy)) && performance.now() - since < BUSY_MS) {
      stable = 0;
      await realMs(1);
      continue;
    }
    const live = engine.liveRun(inst.record.pk);
    // a live run with no call outstanding is opening its context or between two calls
    const between = live !== undefined && !live.done && live.snapshot().length === 0;
    const key = JSON.stringify([detail, clock.nextAt() ?? null, clock.pending(), engine.stats().activeRuns, engine.stats().queued, live?.running.size ?? -1, between, feeder.position]);
    if (key !== last) {
      last = key;
      stable = 0;
      since = performance.now();
      continue;
    }
    stable++;
    if (stable >= STABLE_TURNS && performance.now() - since >= (between ? BETWEEN_QUIET_MS : QUIET_MS)) return { key, status: detail.status, finished: false };
  }
}

/**
 * The earliest moment a running step attempt would time out, if one is running — in any run of the
 * engine, not only the driven instance's: the instances it starts (a fan-out's children) run on the
 * same clock, and a jump past a child's timeout while its body awaits a host call fails that attempt.
 */
function attemptDeadline(engine: Engine): number | undefined {
  let min: number | undefined;
  for (const live of engine.liveRuns()) {
    if (live.done) continue;
    for (const s of live.snapshot()) {
      if (!s.running) continue;
      const timeout = (s.step.config as StepConfigView | undefined)?.timeout ?? "10 minutes";
      const at = s.running.startedAt + parseDuration(timeout, "step timeout");
      if (min === undefined || at < min) min = at;
    }
  }
  return min;
}
