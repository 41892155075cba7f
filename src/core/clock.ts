// The Clock port: the only source of time for the engine. Production uses the system clock; tests
// and `weft run --skip-time` use a virtual clock that jumps to the next timer when the engine idles.

export interface TimerHandle {
  cancel(): void;
}

export interface Clock {
  now(): number;
  /** call `fn` once `now() >= at` */
  at(at: number, fn: () => void): TimerHandle;
}

export class SystemClock implements Clock {
  now(): number {
    return Date.now();
  }
  at(at: number, fn: () => void): TimerHandle {
    // setTimeout caps at 2^31-1 ms; re-arm for longer sleeps.
    let h: ReturnType<typeof setTimeout> | undefined;
    const arm = () => {
      const d = at - Date.now();
      if (d <= 0) return fn();
      h = setTimeout(arm, Math.min(d, 2 ** 31 - 1));
      (h as { unref?: () => void }).unref?.();
    };
    arm();
    return { cancel: () => h !== undefined && clearTimeout(h) };
  }
}
