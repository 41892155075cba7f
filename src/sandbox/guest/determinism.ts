// Runs INSIDE the isolate. Replay-stable time and randomness for workflow code: the clock only moves
// to timestamps that are in the journal (a step's start or commit time), and Math.random restarts
// from a seed derived from the instance and the last resolved step, so code outside steps computes
// the same values on every replay. Step bodies run only live and must not repeat themselves (a
// nonce, a UUID for an idempotency key, a key from crypto.subtle): inside a body (attribution.ts
// decides) Math.random, crypto.getRandomValues and crypto.randomUUID draw from a ChaCha20 stream keyed
// per run with 256 bits from the host's CSPRNG (node:crypto randomBytes, carried by the init job).
import { inStepBody } from "./attribution.ts";

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

/**
 * ChaCha20 (RFC 8439 block function) as a CSPRNG: key = 32 bytes of real entropy, nonce 0, a 64-bit
 * block counter. Unpredictable without the key, never repeats within 2^64 blocks.
 */
export class SecureRandom {
  private readonly k = new Uint32Array(8);
  private readonly out = new Uint32Array(16);
  private readonly x = new Uint32Array(16);
  private lo = 0;
  private hi = 0;
  private pos = 16;
  constructor(key: Uint8Array) {
    if (key.byteLength < 32) throw new RangeError("SecureRandom needs a 32-byte key");
    const v = new DataView(key.buffer, key.byteOffset, 32);
    for (let i = 0; i < 8; i++) this.k[i] = v.getUint32(i * 4, true);
  }
  private block(): void {
    const x = this.x;
    x[0] = 0x61707865; x[1] = 0x3320646e; x[2] = 0x79622d32; x[3] = 0x6b206574;
    for (let i = 0; i < 8; i++) x[4 + i] = this.k[i]!;
    x[12] = this.lo; x[13] = this.hi; x[14] = 0; x[15] = 0;
    const s = this.out;
    s.set(x);
    const qr = (a: number, b: number, c: number, d: number) => {
      s[a] = (s[a]! + s[b]!) >>> 0; s[d] = rotl(s[d]! ^ s[a]!, 16);
      s[c] = (s[c]! + s[d]!) >>> 0; s[b] = rotl(s[b]! ^ s[c]!, 12);
      s[a] = (s[a]! + s[b]!) >>> 0; s[d] = rotl(s[d]! ^ s[a]!, 8);
      s[c] = (s[c]! + s[d]!) >>> 0; s[b] = rotl(s[b]! ^ s[c]!, 7);
    };
    for (let i = 0; i < 10; i++) {
      qr(0, 4, 8, 12); qr(1, 5, 9, 13); qr(2, 6, 10, 14); qr(3, 7, 11, 15);
      qr(0, 5, 10, 15); qr(1, 6, 11, 12); qr(2, 7, 8, 13); qr(3, 4, 9, 14);
    }
    for (let i = 0; i < 16; i++) s[i] = (s[i]! + x[i]!) >>> 0;
    this.lo = (this.lo + 1) >>> 0;
    if (this.lo === 0) this.hi = (this.hi + 1) >>> 0;
    this.pos = 0;
  }
  nextU32(): number {
    if (this.pos === 16) this.block();
    return this.out[this.pos++]!;
  }
  /** a double in [0, 1) with 53 random bits */
  next(): number {
    return ((this.nextU32() >>> 5) * 67108864 + (this.nextU32() >>> 6)) / 9007199254740992;
  }
  fill(bytes: Uint8Array): void {
    let i = 0;
    for (; i + 4 <= bytes.length; i += 4) {
      const w = this.nextU32();
      bytes[i] = w & 0xff; bytes[i + 1] = (w >>> 8) & 0xff; bytes[i + 2] = (w >>> 16) & 0xff; bytes[i + 3] = w >>> 24;
    }
    if (i < bytes.length) {
      let w = this.nextU32();
      for (; i < bytes.length; i++, w >>>= 8) bytes[i] = w & 0xff;
    }
  }
}

function rotl(v: number, n: number): number {
  return ((v << n) | (v >>> (32 - n))) >>> 0;
}

/** What the global overrides read: the clock and stream of the run whose activation is executing. */
export interface ClockView {
  now(): number;
}
export interface RandomView {
  /** the run's replay-stable stream (code outside steps) */
  next(): number;
  nextU32(): number;
  /** the run's real randomness (step bodies) */
  secure(): SecureRandom;
}

const INTEGER_ARRAYS = ["Int8Array", "Uint8Array", "Uint8ClampedArray", "Int16Array", "Uint16Array", "Int32Array", "Uint32Array", "BigInt64Array", "BigUint64Array"];

/** Replace Date, Math.random, crypto and nondeterministic GC hooks in the guest realm. */
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
  Math.random = () => (inStepBody() ? rnd.secure().next() : rnd.next());
  const getRandomValues = <T extends ArrayBufferView>(arr: T): T => {
    // as Web Crypto (and workerd): integer typed arrays only, at most 65536 bytes per call
    const tag = arr !== null && typeof arr === "object" ? Object.prototype.toString.call(arr).slice(8, -1) : "";
    if (!ArrayBuffer.isView(arr) || !INTEGER_ARRAYS.includes(tag)) {
      throw new TypeError("crypto.getRandomValues: the argument must be an integer-typed array (Uint8Array, Int32Array, …)");
    }
    if (arr.byteLength > 65536) {
      const e = new Error(`crypto.getRandomValues: ${arr.byteLength} bytes requested; at most 65536 bytes per call`);
      e.name = "QuotaExceededError";
      throw e;
    }
    const bytes = new Uint8Array(arr.buffer, arr.byteOffset, arr.byteLength);
    if (inStepBody()) rnd.secure().fill(bytes);
    else for (let i = 0; i < bytes.length; i++) bytes[i] = rnd.nextU32() & 0xff;
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
