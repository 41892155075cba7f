// Instances whose run (or claim) the store refused because it is full or cannot be reached: nothing
// of the refused write was committed, the run stopped keeping its claim, and the instance is tried
// again once the store takes writes again (real time: it waits for the disk or the database, not for
// workflow time).
//
// Every instance refused meanwhile goes in one round, and the backoff doubles per round that fails,
// not per refusal: a hundred runs refused at once by one outage are one failure, not a hundred (they
// would push the backoff to its cap, and the instances would sit idle long after the store is back).
// While the store cannot be reached a round is only a ping, at most a second apart, so the instances
// go on within a second of the database's return. A write that succeeds meanwhile starts the round at
// once.
import { ErrorCode, type WeftError } from "../core/errors.ts";

export interface InstanceRef {
  pk: number;
  tenant: string;
  workflow: string;
  version: string;
}

export interface StoreRetryHost {
  /** can the store be reached (a ping)? */
  reachable(): Promise<boolean>;
  /** queue the instance again: its start is a claim */
  retry(ref: InstanceRef): void;
  /** work started and not awaited (its failure is reported, never thrown) */
  background(p: Promise<unknown>): void;
  warn(fields: Record<string, unknown>, message: string): void;
}

/** the longest pause between two rounds while the store is full; while it cannot be reached, between two pings */
const FULL_MAX_MS = 30_000;
const UNREACHABLE_MAX_MS = 1000;

export class StoreRetry {
  private readonly host: StoreRetryHost;
  private readonly waiting = new Map<number, InstanceRef>();
  private timer?: ReturnType<typeof setTimeout>;
  private delayMs = 0;
  /** the last refusal was "not reachable": a round pings the store first */
  private unreachable = false;
  private stopped = false;

  constructor(host: StoreRetryHost) {
    this.host = host;
  }

  /** the store refused this instance's write (`err`: storage_full or storage_unavailable) */
  add(ref: InstanceRef, err: unknown): void {
    if (this.stopped) return;
    this.waiting.set(ref.pk, ref);
    this.unreachable = (err as WeftError)?.code === ErrorCode.StorageUnavailable;
    if (this.timer) return;
    const inMs = this.schedule();
    this.host.warn({ err, instances: this.waiting.size, retryInMs: inMs },
      this.unreachable ? "the store is not reachable: the instances' runs stopped and go on once it is back" : "the store is full: the instances' runs stopped and are retried once writes succeed");
  }

  /** a write succeeded: the store has room again and is reachable; the instances waiting for it go on now */
  ok(): void {
    this.delayMs = 0;
    if (!this.timer || this.waiting.size === 0) return;
    clearTimeout(this.timer);
    this.timer = undefined;
    this.unreachable = false;
    this.host.background(this.round());
  }

  /** instances waiting for the store now */
  size(): number {
    return this.waiting.size;
  }

  stop(): void {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    this.waiting.clear();
  }

  private schedule(): number {
    this.delayMs = Math.min(this.unreachable ? UNREACHABLE_MAX_MS : FULL_MAX_MS, Math.max(100, this.delayMs * 2));
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.host.background(this.round());
    }, this.delayMs);
    this.timer.unref();
    return this.delayMs;
  }

  private async round(): Promise<void> {
    if (this.stopped || this.waiting.size === 0) return;
    if (this.unreachable && !(await this.host.reachable())) {
      if (!this.timer && !this.stopped) this.schedule();
      return;
    }
    const refs = [...this.waiting.values()];
    this.waiting.clear();
    for (const ref of refs) this.host.retry(ref);
  }
}
