// Runs INSIDE the guest isolate: Event, EventTarget, CustomEvent, AbortController / AbortSignal
// (abort, timeout, any) and Workers' `scheduler.wait(ms)`. Timers are the runtime's (setTimerHooks):
// setTimeout commands to the host, which arms them on the engine's clock, so a wait never blocks the
// isolate and moves with the virtual clock in tests. `scheduler.wait` is not durable: a run that
// restarts waits again from the start (step.sleep is the durable wait).
/* eslint-disable @typescript-eslint/no-explicit-any */
import { DOMException, TE } from "./web-base.ts";

export interface TimerHooks {
  set(fn: () => void, ms: number): unknown;
  clear(id: unknown): void;
}
let hooks: TimerHooks | undefined;
/** The runtime's own timers (taken before tenant code runs, so a replaced setTimeout changes nothing here). */
export function setTimerHooks(h: TimerHooks): void {
  hooks = h;
}
const timers = (): TimerHooks =>
  hooks ?? { set: (fn, ms) => (globalThis as any).setTimeout(fn, ms), clear: (id) => (globalThis as any).clearTimeout(id) };

/** WebIDL [EnforceRange] unsigned long long, as AbortSignal.timeout and scheduler.wait take it. */
function delay(ms: unknown): number {
  const n = Number(ms);
  if (!Number.isFinite(n) || n < 0) throw TE(`Invalid delay: ${String(ms)}`);
  return Math.trunc(n);
}

// ---------------------------------------------------------------- Event, EventTarget

let evState: (e: Event) => { target: unknown; stop: boolean; dispatching: boolean };

class Event {
  #type: string;
  #bubbles: boolean;
  #cancelable: boolean;
  #composed: boolean;
  #prevented = false;
  #passive = false;
  #s = { target: null as unknown, stop: false, dispatching: false };
  #ts = Date.now();
  static {
    evState = (e) => e.#s;
  }
  constructor(type: unknown, init?: { bubbles?: boolean; cancelable?: boolean; composed?: boolean } | null) {
    if (arguments.length === 0) throw TE("The event type is required");
    this.#type = `${type}`;
    this.#bubbles = !!init?.bubbles;
    this.#cancelable = !!init?.cancelable;
    this.#composed = !!init?.composed;
  }
  get type(): string { return this.#type; }
  get bubbles(): boolean { return this.#bubbles; }
  get cancelable(): boolean { return this.#cancelable; }
  get composed(): boolean { return this.#composed; }
  get defaultPrevented(): boolean { return this.#prevented; }
  get returnValue(): boolean { return !this.#prevented; }
  get target(): unknown { return this.#s.target; }
  get currentTarget(): unknown { return this.#s.dispatching ? this.#s.target : null; }
  get srcElement(): unknown { return this.#s.target; }
  get eventPhase(): number { return this.#s.dispatching ? 2 : 0; }
  get isTrusted(): boolean { return false; }
  get timeStamp(): number { return this.#ts; }
  get cancelBubble(): boolean { return this.#s.stop; }
  set cancelBubble(v: boolean) { if (v) this.#s.stop = true; }
  composedPath(): unknown[] { return this.#s.dispatching ? [this.#s.target] : []; }
  preventDefault(): void { if (this.#cancelable && !this.#passive) this.#prevented = true; }
  stopPropagation(): void { this.#s.stop = true; }
  stopImmediatePropagation(): void { this.#s.stop = true; }
  static readonly NONE = 0;
  static readonly CAPTURING_PHASE = 1;
  static readonly AT_TARGET = 2;
  static readonly BUBBLING_PHASE = 3;
}

class CustomEvent extends Event {
  #detail: unknown;
  constructor(type: unknown, init?: { detail?: unknown; bubbles?: boolean; cancelable?: boolean; composed?: boolean } | null) {
    super(type, init);
    this.#detail = init?.detail ?? null;
  }
  get detail(): unknown { return this.#detail; }
}

interface Listener {
  cb: any;
  capture: boolean;
  once: boolean;
  removed?: boolean;
}

class EventTarget {
  #l = new Map<string, Listener[]>();
  addEventListener(type: unknown, cb: unknown, opts?: boolean | { capture?: boolean; once?: boolean; passive?: boolean; signal?: AbortSignal }): void {
    if (cb == null) return;
    if (typeof cb !== "function" && (typeof cb !== "object" || typeof (cb as any).handleEvent !== "function")) {
      throw TE("The listener must be a function or an object with handleEvent");
    }
    const o = typeof opts === "object" && opts ? opts : { capture: !!opts }, t = `${type}`, capture = !!o.capture;
    const signal = o.signal;
    if (signal !== undefined && !(signal instanceof AbortSignal)) throw TE("The signal option must be an AbortSignal");
    if (signal?.aborted) return;
    const list = this.#l.get(t) ?? [];
    if (list.some((l) => l.cb === cb && l.capture === capture)) return;
    list.push({ cb, capture, once: !!o.once });
    this.#l.set(t, list);
    signal?.addEventListener("abort", () => this.removeEventListener(t, cb, { capture }), { once: true });
  }
  removeEventListener(type: unknown, cb: unknown, opts?: boolean | { capture?: boolean }): void {
    const t = `${type}`, capture = typeof opts === "object" && opts ? !!opts.capture : !!opts, list = this.#l.get(t);
    if (!list) return;
    const i = list.findIndex((l) => l.cb === cb && l.capture === capture);
    if (i < 0) return;
    list[i]!.removed = true;
    list.splice(i, 1);
  }
  dispatchEvent(event: unknown): boolean {
    if (!(event instanceof Event)) throw TE("dispatchEvent: the argument must be an Event");
    const s = evState(event);
    if (s.dispatching) throw new DOMException("The event is already being dispatched", "InvalidStateError");
    s.target = this;
    s.dispatching = true;
    s.stop = false;
    try {
      for (const l of [...(this.#l.get(event.type) ?? [])]) {
        if (l.removed) continue;
        if (l.once) this.removeEventListener(event.type, l.cb, { capture: l.capture });
        try {
          if (typeof l.cb === "function") l.cb.call(this, event);
          else l.cb.handleEvent(event);
        } catch (e) {
          // as in Workers, a throwing listener is reported and the others still run
          (globalThis as any).console?.error?.(e);
        }
        if (s.stop) break;
      }
    } finally {
      s.dispatching = false;
    }
    return !event.defaultPrevented;
  }
}

// ---------------------------------------------------------------- AbortSignal, AbortController

const KEY = Symbol();
let newSignal: () => AbortSignal;
let signalAbort: (s: AbortSignal, reason: unknown) => void;
const aborted = () => new DOMException("This operation was aborted", "AbortError");

class AbortSignal extends EventTarget {
  #aborted = false;
  #reason: unknown = undefined;
  #onabort: ((e: Event) => unknown) | null = null;
  static {
    newSignal = () => new AbortSignal(KEY);
    signalAbort = (s, reason) => {
      if (s.#aborted) return;
      s.#aborted = true;
      s.#reason = reason === undefined ? aborted() : reason;
      s.dispatchEvent(new Event("abort"));
    };
  }
  constructor(key?: unknown) {
    if (key !== KEY) throw TE("Illegal constructor");
    super();
  }
  get aborted(): boolean { return this.#aborted; }
  get reason(): unknown { return this.#reason; }
  throwIfAborted(): void {
    if (this.#aborted) throw this.#reason;
  }
  get onabort(): ((e: Event) => unknown) | null { return this.#onabort; }
  set onabort(fn: ((e: Event) => unknown) | null) {
    if (this.#onabort) this.removeEventListener("abort", this.#onabort);
    this.#onabort = typeof fn === "function" ? fn : null;
    if (this.#onabort) this.addEventListener("abort", this.#onabort);
  }
  static abort(reason?: unknown): AbortSignal {
    const s = newSignal();
    signalAbort(s, reason);
    return s;
  }
  static timeout(ms: unknown): AbortSignal {
    const s = newSignal();
    timers().set(() => signalAbort(s, new DOMException("The operation was aborted due to timeout", "TimeoutError")), delay(ms));
    return s;
  }
  static any(signals: Iterable<unknown>): AbortSignal {
    const list = [...signals], s = newSignal();
    for (const x of list) if (!(x instanceof AbortSignal)) throw TE("AbortSignal.any: every element must be an AbortSignal");
    const first = (list as AbortSignal[]).find((x) => x.aborted);
    if (first) signalAbort(s, first.reason);
    else for (const x of list as AbortSignal[]) x.addEventListener("abort", () => signalAbort(s, x.reason), { once: true });
    return s;
  }
}

class AbortController {
  #signal = newSignal();
  get signal(): AbortSignal { return this.#signal; }
  abort(reason?: unknown): void { signalAbort(this.#signal, reason); }
}

/** A signal that never aborts (a Request made without one). */
export const neverAborted = (): AbortSignal => newSignal();

// ---------------------------------------------------------------- scheduler, navigator

class Scheduler {
  /** Workers' scheduler.wait(ms, { signal }): resolves after ms on the engine's clock. */
  wait(ms: unknown, opts?: { signal?: AbortSignal } | null): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      const signal = opts?.signal, d = delay(ms);
      if (signal !== undefined && !(signal instanceof AbortSignal)) throw TE("The signal option must be an AbortSignal");
      if (signal?.aborted) return reject(signal.reason);
      const onAbort = () => {
        timers().clear(id);
        reject(signal!.reason);
      };
      const id = timers().set(() => {
        signal?.removeEventListener("abort", onAbort);
        resolve();
      }, d);
      signal?.addEventListener("abort", onAbort, { once: true });
    });
  }
}

class Navigator {
  get userAgent(): string { return "Cloudflare-Workers"; }
  get hardwareConcurrency(): number { return 1; }
}

export const eventClasses = { Event, CustomEvent, EventTarget, AbortSignal, AbortController, Scheduler, Navigator };
export { AbortSignal, Event, EventTarget };
export const makeScheduler = (): Scheduler => new Scheduler();
export const makeNavigator = (): Navigator => new Navigator();
