// Runs INSIDE the isolate. Replay-stable time and randomness for workflow code: the clock only moves
// to timestamps that are in the journal (a step's start or commit time), and Math.random restarts
// from a seed derived from the instance and the last resolved step, so code outside steps computes
// the same values on every replay.

export class GuestClock {
  private t: number;
  constructor(start: number) {
    this.t = start;
  }
  now(): number {
    return this.t;
  }
  advance(to: number | undefined): void {
    if (to !== undefined && to > this.t) this.t = to;
  }
}

/** 32-bit FNV-1a: cheap, stable, good enough to derive PRNG seeds from keys. */
export function hash32(seed: number, s: string): number {
  let h = (0x811c9dc5 ^ seed) >>> 0;
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i);
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h >>> 0;
}

/** sfc32: small, fast, passes PractRand for this use; state fully reset by reseed(). */
export class GuestRandom {
  private a = 0;
  private b = 0;
  private c = 0;
  private d = 1;
  private base: number;
  /** sum of the hashes of the durable calls resolved so far, and how many: order-independent */
  private resolvedSum = 0;
  private resolvedCount = 0;
  constructor(seed: number) {
    this.base = seed >>> 0;
    this.reseed("start");
  }
  setSeed(seed: number): void {
    this.base = seed >>> 0;
    this.resolvedSum = 0;
    this.resolvedCount = 0;
    this.reseed("start");
  }
  /**
   * A durable call resolved. The stream restarts from the set of calls resolved so far, not from the
   * last one: a replay resolves cached results in call order, the live run in commit order, and code
   * after Promise.all must draw the same numbers either way.
   */
  resolved(key: string): void {
    this.resolvedSum = (this.resolvedSum + hash32(this.base, key)) >>> 0;
    this.resolvedCount++;
    this.reseed(`resolved:${this.resolvedCount}:${this.resolvedSum}`);
  }
  save(): [number, number, number, number] {
    return [this.a, this.b, this.c, this.d];
  }
  restore(s: [number, number, number, number]): void {
    [this.a, this.b, this.c, this.d] = s;
  }
  reseed(key: string): void {
    this.a = hash32(this.base, key);
    this.b = hash32(this.a, key);
    this.c = hash32(this.b, key);
    this.d = 1;
    for (let i = 0; i < 12; i++) this.nextU32();
  }
  nextU32(): number {
    const t = (((this.a + this.b) >>> 0) + this.d) >>> 0;
    this.d = (this.d + 1) >>> 0;
    this.a = this.b ^ (this.b >>> 9);
    this.b = (this.c + (this.c << 3)) >>> 0;
    this.c = (this.c << 21) | (this.c >>> 11);
    this.c = (this.c + t) >>> 0;
    return t;
  }
  next(): number {
    return this.nextU32() / 4294967296;
  }
}

/** Replace Date, Math.random, crypto and nondeterministic GC hooks in the guest realm. */
/** What the global overrides read: the clock and stream of the run whose activation is executing. */
export interface ClockView {
  now(): number;
}
export interface RandomView {
  next(): number;
  nextU32(): number;
}

export function installDeterminism(g: Record<string, unknown>, clock: ClockView, rnd: RandomView): void {
  const RealDate = Date;
  function WDate(this: unknown, ...args: unknown[]): unknown {
    if (!new.target) return new RealDate(clock.now()).toString();
    if (args.length === 0) return Reflect.construct(RealDate, [clock.now()], new.target);
    return Reflect.construct(RealDate, args, new.target);
  }
  Object.setPrototypeOf(WDate, RealDate);
  WDate.prototype = RealDate.prototype;
  Object.defineProperty(RealDate.prototype, "constructor", { value: WDate, writable: true, configurable: true });
  (WDate as unknown as { now: () => number }).now = () => clock.now();
  define(g, "Date", WDate);
  Math.random = () => rnd.next();
  const getRandomValues = <T extends ArrayBufferView>(arr: T): T => {
    const bytes = new Uint8Array(arr.buffer, arr.byteOffset, arr.byteLength);
    for (let i = 0; i < bytes.length; i++) bytes[i] = rnd.nextU32() & 0xff;
    return arr;
  };
  const randomUUID = (): string => {
    const b = getRandomValues(new Uint8Array(16));
    b[6] = (b[6]! & 0x0f) | 0x40;
    b[8] = (b[8]! & 0x3f) | 0x80;
    const h = Array.from(b, (x) => x.toString(16).padStart(2, "0")).join("");
    return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
  };
  define(g, "crypto", Object.freeze({ getRandomValues, randomUUID }));
  define(g, "performance", Object.freeze({ now: () => clock.now(), timeOrigin: 0 }));
  // GC-observable objects make replay depend on the collector: take them away, as Temporal does.
  delete g.WeakRef;
  delete g.FinalizationRegistry;
}

export function define(g: Record<string, unknown>, name: string, value: unknown): void {
  Object.defineProperty(g, name, { value, writable: true, configurable: true, enumerable: false });
}
