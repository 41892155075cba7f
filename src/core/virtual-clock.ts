// A virtual clock, a product feature (`weft run --skip-time` fast-forwards sleeps with it) and the
// clock of the tests: time moves only when told to, and timers fire in due order as it moves. No real
// sleeping anywhere.
import type { Clock, TimerHandle } from "./clock.ts";

interface Timer {
  at: number;
  seq: number;
  fn: () => void;
  cancelled: boolean;
}

export class VirtualClock implements Clock {
  private t: number;
  private seq = 0;
  private timers: Timer[] = [];
  constructor(start = Date.UTC(2026, 0, 1)) {
    this.t = start;
  }
  now(): number {
    return this.t;
  }
  at(at: number, fn: () => void): TimerHandle {
    const timer: Timer = { at, seq: this.seq++, fn, cancelled: false };
    if (at <= this.t) {
      queueMicrotask(() => !timer.cancelled && fn());
    } else {
      this.timers.push(timer);
    }
    return { cancel: () => { timer.cancelled = true; } };
  }
  /** earliest pending timer, if any */
  nextAt(): number | undefined {
    this.timers = this.timers.filter((t) => !t.cancelled);
    let min: number | undefined;
    for (const t of this.timers) if (min === undefined || t.at < min) min = t.at;
    return min;
  }
  pending(): number {
    return this.timers.filter((t) => !t.cancelled).length;
  }
  /** move to `to`, firing every timer due by then in (time, creation) order */
  advanceTo(to: number): void {
    for (;;) {
      const due = this.timers.filter((t) => !t.cancelled && t.at <= to).sort((a, b) => a.at - b.at || a.seq - b.seq);
      if (due.length === 0) break;
      const first = due[0]!;
      this.t = Math.max(this.t, first.at);
      first.cancelled = true;
      this.timers = this.timers.filter((t) => t !== first);
      first.fn();
    }
    if (to > this.t) this.t = to;
  }
  advance(ms: number): void {
    this.advanceTo(this.t + ms);
  }
}
