// Runs INSIDE the guest isolate: the small pieces the web globals share (DOMException, UTF-8,
// BufferSource views), kept apart so that web.ts, blob.ts, events.ts and subtle.ts import them
// without importing one another.
/* eslint-disable @typescript-eslint/no-explicit-any */

export const TE = (m: string) => new TypeError(m);
/** WebIDL USVString conversion (throws on symbols, replaces lone surrogates). */
export const usv = (v: unknown): string => `${v}`.toWellFormed();
const fcp = (u: ArrayLike<number>): string => String.fromCodePoint.apply(null, u as number[]);
export const own = Object.hasOwn;

export class DOMException extends Error {
  #name: string;
  constructor(message: unknown = "", name: unknown = "Error") {
    super(`${message}`);
    this.#name = `${name}`;
  }
  override get name(): string { return this.#name; }
}

// ---------------------------------------------------------------- UTF-8

/**
 * Writes as many whole code points of `s` as fit into `out` (lone surrogates become
 * U+FFFD); returns [unitsRead, bytesWritten]. Without `out` it only measures.
 */
export function encInto(s: string, out?: Uint8Array): [number, number] {
  s = s.toWellFormed();
  let p = 0, i = 0;
  for (; i < s.length; i++) {
    const c = s.codePointAt(i)!, n = c < 0x80 ? 1 : c < 0x800 ? 2 : c < 0x10000 ? 3 : 4;
    if (out) {
      if (p + n > out.length) break;
      out[p] = n > 1 ? ((0xff00 >> n) & 0xff) | (c >> (6 * n - 6)) : c;
      for (let k = n - 1; k--;) out[p + n - 1 - k] = 0x80 | ((c >> (6 * k)) & 63);
    }
    p += n;
    if (n > 3) i++;
  }
  return [i, p];
}

export function utf8Encode(s: string): Uint8Array<ArrayBuffer> {
  const out = new Uint8Array(encInto(s)[1]);
  encInto(s, out);
  return out;
}

/**
 * WHATWG utf-8 decoder (maximal-subpart U+FFFD replacement, or TypeError when fatal).
 * `st` is the streaming state [needed, codePoint, lower, upper], updated in place;
 * `flush` ends the stream (a trailing partial sequence is then an error).
 */
export function utf8Decode(b: Uint8Array, fatal?: boolean, st = [0, 0, 0, 0], flush = true): string {
  let [need, cp, lo, hi] = st, out = "", u: number[] = [];
  const bad = () => {
    if (fatal) throw TE("Invalid utf-8 data");
    u.push(0xfffd);
  };
  for (let i = 0, x; i < b.length; i++) {
    x = b[i];
    if (need) {
      if (x < lo || x > hi) {
        need = 0;
        i--;
        bad();
      } else {
        cp = (cp << 6) | (x & 63);
        lo = 128;
        hi = 191;
        if (!--need) u.push(cp);
      }
    } else if (x < 128) {
      let j = i;
      while (++j < b.length && j - i < 8192 && b[j] < 128);
      out += fcp(u) + fcp(b.subarray(i, j));
      u = [];
      i = j - 1;
    } else if (x > 0xc1 && x < 0xf5) {
      need = x < 0xe0 ? 1 : x < 0xf0 ? 2 : 3;
      cp = x & (0x7f >> (need + 1));
      lo = x === 0xe0 ? 0xa0 : x === 0xf0 ? 0x90 : 128;
      hi = x === 0xed ? 0x9f : x === 0xf4 ? 0x8f : 191;
    } else bad();
    if (u.length > 8190) {
      out += fcp(u);
      u = [];
    }
  }
  if (need && flush) {
    need = 0;
    bad();
  }
  st.splice(0, 4, need, cp, lo, hi);
  return out + fcp(u);
}

/** A non-copying byte view of a BufferSource (undefined → empty). */
export function view(x: unknown): Uint8Array {
  if (ArrayBuffer.isView(x)) return new Uint8Array(x.buffer, x.byteOffset, x.byteLength);
  if (x instanceof ArrayBuffer || x === undefined) return new Uint8Array((x ?? 0) as ArrayBuffer);
  throw TE("Expected a BufferSource");
}

