// Minimal, dependency-free web platform globals for bare V8 isolates.
//
// This module runs INSIDE the guest isolate (bundled into the guest runtime
// IIFE), so it must not touch Node APIs. It is evaluated once per context, so it
// favours small code over completeness: no IDNA tables, no streams, utf-8 only.
/* eslint-disable @typescript-eslint/no-explicit-any */

const TE = (m: string) => new TypeError(m);
/** WebIDL USVString conversion (throws on symbols, replaces lone surrogates). */
const usv = (v: unknown): string => `${v}`.toWellFormed();
const fcc = (u: ArrayLike<number>): string => String.fromCharCode.apply(null, u as number[]);
const own = Object.hasOwn;

// ---------------------------------------------------------------- DOMException

const CODES: Record<string, number> = {
  InvalidCharacterError: 5, NotSupportedError: 9, InvalidStateError: 11, SyntaxError: 12,
  NetworkError: 19, AbortError: 20, TimeoutError: 23, DataCloneError: 25,
};

class DOMException extends Error {
  #name: string;
  constructor(message: unknown = "", name: unknown = "Error") {
    super(`${message}`);
    this.#name = `${name}`;
  }
  override get name(): string { return this.#name; }
  get code(): number { return own(CODES, this.#name) ? CODES[this.#name] : 0; }
}

// ---------------------------------------------------------------- UTF-8

/**
 * Writes as many whole code points of `s` as fit into `out` (lone surrogates become U+FFFD);
 * returns [unitsRead, bytesWritten]. Without `out` it only measures.
 */
function encInto(s: string, out?: Uint8Array): [number, number] {
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

function utf8Encode(s: string): Uint8Array<ArrayBuffer> {
  const out = new Uint8Array(encInto(s)[1]);
  encInto(s, out);
  return out;
}

/**
 * WHATWG utf-8 decoder. `st` is the streaming state [needed, seen, cp, lower, upper]
 * and is updated in place; `flush` emits U+FFFD (or throws) for a trailing partial sequence.
 */
function utf8Decode(b: Uint8Array, fatal?: boolean, st = [0, 0, 0, 128, 191], flush = true): string {
  let [need, seen, cp, lo, hi] = st, out = "", u: number[] = [];
  const bad = () => {
    if (fatal) throw TE("Invalid utf-8 data");
    u.push(0xfffd);
  };
  for (let i = 0; i < b.length; i++) {
    const x = b[i];
    if (!need) {
      if (x < 0x80) {
        let j = i + 1;
        while (j < b.length && j - i < 8192 && b[j] < 0x80) j++;
        if (u.length) { out += fcc(u); u = []; }
        out += fcc(b.subarray(i, j));
        i = j - 1;
      } else if (x > 0xc1 && x < 0xe0) { need = 1; cp = x & 31; }
      else if (x > 0xdf && x < 0xf0) {
        if (x === 0xe0) lo = 0xa0; else if (x === 0xed) hi = 0x9f;
        need = 2; cp = x & 15;
      } else if (x > 0xef && x < 0xf5) {
        if (x === 0xf0) lo = 0x90; else if (x === 0xf4) hi = 0x8f;
        need = 3; cp = x & 7;
      } else bad();
    } else if (x < lo || x > hi) {
      need = seen = cp = 0; lo = 128; hi = 191;
      i--;
      bad();
    } else {
      lo = 128; hi = 191;
      cp = (cp << 6) | (x & 63);
      if (++seen === need) {
        if (cp > 0xffff) { cp -= 0x10000; u.push(0xd800 | (cp >> 10), 0xdc00 | (cp & 1023)); }
        else u.push(cp);
        need = seen = cp = 0;
      }
    }
    if (u.length > 8190) { out += fcc(u); u = []; }
  }
  if (need && flush) { need = seen = cp = 0; lo = 128; hi = 191; bad(); }
  st.splice(0, 5, need, seen, cp, lo, hi);
  return out + fcc(u);
}

/** A non-copying byte view of a BufferSource. */
function view(x: unknown): Uint8Array {
  if (x === undefined) return new Uint8Array(0);
  if (ArrayBuffer.isView(x)) return new Uint8Array(x.buffer, x.byteOffset, x.byteLength);
  if (x instanceof ArrayBuffer) return new Uint8Array(x);
  throw TE("Expected an ArrayBuffer or ArrayBufferView");
}

class TextEncoder {
  get encoding(): string { return "utf-8"; }
  encode(input: unknown = ""): Uint8Array<ArrayBuffer> { return utf8Encode(`${input}`); }
  encodeInto(src: unknown, dest: Uint8Array): { read: number; written: number } {
    if (!(dest instanceof Uint8Array)) throw TE("dest must be a Uint8Array");
    const [read, written] = encInto(`${src}`, dest);
    return { read, written };
  }
}

class TextDecoder {
  #fatal: boolean;
  #ignoreBOM: boolean;
  #st = [0, 0, 0, 128, 191];
  #bomSeen = false;
  #streaming = false;
  constructor(label: unknown = "utf-8", opts?: { fatal?: boolean; ignoreBOM?: boolean } | null) {
    if (!/^(utf-?8|unicode-1-1-utf-8|(x-)?unicode20utf8|unicode11utf8)$/.test(`${label}`.trim().toLowerCase())) {
      throw new RangeError(`The "${label}" encoding is not supported`);
    }
    this.#fatal = !!opts?.fatal;
    this.#ignoreBOM = !!opts?.ignoreBOM;
  }
  get encoding(): string { return "utf-8"; }
  get fatal(): boolean { return this.#fatal; }
  get ignoreBOM(): boolean { return this.#ignoreBOM; }
  decode(input?: unknown, opts?: { stream?: boolean } | null): string {
    const bytes = view(input);
    if (!this.#streaming) { this.#st = [0, 0, 0, 128, 191]; this.#bomSeen = false; }
    this.#streaming = !!opts?.stream;
    let s = utf8Decode(bytes, this.#fatal, this.#st, !this.#streaming);
    if (!this.#bomSeen && s) {
      this.#bomSeen = true;
      if (!this.#ignoreBOM && s.charCodeAt(0) === 0xfeff) s = s.slice(1);
    }
    return s;
  }
}

// ---------------------------------------------------------------- base64

const B64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

function btoa(data: unknown): string {
  const s = `${data}`;
  if (/[^\0-\xff]/.test(s)) throw new DOMException("Invalid character", "InvalidCharacterError");
  let o = "";
  for (let i = 0; i < s.length; i += 3) {
    const n = (s.charCodeAt(i) << 16) | (s.charCodeAt(i + 1) << 8) | s.charCodeAt(i + 2);
    o += B64[n >> 18] + B64[(n >> 12) & 63] + (i + 1 < s.length ? B64[(n >> 6) & 63] : "=") +
      (i + 2 < s.length ? B64[n & 63] : "=");
  }
  return o;
}

function atob(data: unknown): string {
  let s = `${data}`.replace(/[\t\n\f\r ]/g, "");
  if (s.length % 4 === 0) s = s.replace(/==?$/, "");
  if (s.length % 4 === 1 || /[^A-Za-z\d+/]/.test(s)) {
    throw new DOMException("Invalid base64", "InvalidCharacterError");
  }
  let o = "", acc = 0, bits = 0;
  for (let i = 0; i < s.length; i++) {
    acc = (acc << 6) | B64.indexOf(s[i]);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      o += String.fromCharCode((acc >> bits) & 255);
      acc &= (1 << bits) - 1;
    }
  }
  return o;
}

// ---------------------------------------------------------------- URL

interface Rec {
  s: string; // scheme, no colon
  u: string; // username (encoded)
  pw: string; // password (encoded)
  h: string | null; // serialized host, null = no host
  p: string; // port, "" = none/default
  path: string[] | string; // string = opaque path
  q: string | null;
  f: string | null;
}

const DEF: Record<string, string> = { ftp: "21", file: "", http: "80", https: "443", ws: "80", wss: "443" };
const isSp = (s: string) => own(DEF, s);
const C0 = /[^\x20-\x7e]/gu;
const FRAG = /[^\x21-\x7e]|["<>`]/gu;
const QUERY = /[^\x21-\x7e]|["#<>]/gu;
const SQUERY = /[^\x21-\x7e]|["#<>']/gu;
const PATH = /[^\x21-\x7e]|["#<>?^`{}]/gu;
const USERINFO = /[^\x21-\x7e]|["#/:;<=>?@[\\\]^`{|}]/gu;
const SCHEME = /^([a-zA-Z][a-zA-Z\d+.-]*)/;
const hex2 = (b: number) => (b < 16 ? "%0" : "%") + b.toString(16).toUpperCase();
const pctChar = (c: string) => Array.from(utf8Encode(c), hex2).join("");
const pe = (s: string, re: RegExp) => s.replace(re, pctChar);
const clean = (v: unknown) => usv(v).replace(/[\t\n\r]/g, "");
const blank = (s: string): Rec => ({ s, u: "", pw: "", h: null, p: "", path: [], q: null, f: null });
const FILE_BASE: Rec = { ...blank("file"), h: "", path: [""] };

function pctDecode(s: string): string {
  if (!s.includes("%")) return s;
  const b = utf8Encode(s), out = new Uint8Array(b.length), isHex = (c: number) => /[\da-f]/i.test(String.fromCharCode(c));
  let n = 0;
  for (let i = 0; i < b.length; i++) {
    if (b[i] === 37 && i + 2 < b.length && isHex(b[i + 1]) && isHex(b[i + 2])) {
      out[n++] = parseInt(fcc(b.subarray(i + 1, i + 3)), 16);
      i += 2;
    } else out[n++] = b[i];
  }
  return utf8Decode(out.subarray(0, n));
}

function puny(label: string): string {
  const cps = Array.from(label, (c) => c.codePointAt(0)!);
  const digit = (d: number) => String.fromCharCode(d + (d < 26 ? 97 : 22));
  let n = 128, delta = 0, bias = 72, out = "";
  for (const c of cps) if (c < 128) out += String.fromCharCode(c);
  const b = out.length;
  let h = b;
  if (b) out += "-";
  while (h < cps.length) {
    let m = Infinity;
    for (const c of cps) if (c >= n && c < m) m = c;
    delta += (m - n) * (h + 1);
    n = m;
    for (const c of cps) {
      if (c < n) delta++;
      if (c === n) {
        let q = delta;
        for (let k = 36; ; k += 36) {
          const t = k <= bias ? 1 : k >= bias + 26 ? 26 : k - bias;
          if (q < t) break;
          out += digit(t + ((q - t) % (36 - t)));
          q = Math.floor((q - t) / (36 - t));
        }
        out += digit(q);
        // adapt
        let d = h === b ? Math.floor(delta / 700) : delta >> 1, k = 0;
        d += Math.floor(d / (h + 1));
        for (; d > 455; k += 36) d = Math.floor(d / 35);
        bias = k + Math.floor((36 * d) / (d + 38));
        delta = 0;
        h++;
      }
    }
    delta++;
    n++;
  }
  return out;
}

function ipv4(s: string): string | null {
  const n = s.replace(/\.$/, "").split(".").map((x) =>
    /^0x[\da-f]*$/.test(x) ? +x || 0 : /^0[0-7]*$/.test(x) ? parseInt(x, 8) : /^[1-9]\d*$/.test(x) ? +x : NaN);
  let ip = n.pop()!;
  if (n.length > 3 || n.includes(NaN) || isNaN(ip) || n.some((x) => x > 255) || ip >= 256 ** (4 - n.length)) return null;
  n.forEach((x, i) => (ip += x * 256 ** (3 - i)));
  return [24, 16, 8, 0].map((b) => (ip >>> b) & 255).join(".");
}

function ipv6(s: string): string | null {
  const m = /^(.*:)(\d+)\.(\d+)\.(\d+)\.(\d+)$/.exec(s);
  if (m) {
    const v = m.slice(2).map((x) => (/^(0|[1-9]\d{0,2})$/.test(x) && +x < 256 ? +x : NaN));
    if (v.includes(NaN)) return null;
    s = m[1] + ((v[0] << 8) | v[1]).toString(16) + ":" + ((v[2] << 8) | v[3]).toString(16);
  }
  const [a, z, x] = s.split("::").map((h) => (h ? h.split(":") : []));
  if (x || (z && a.length + z.length > 7)) return null;
  const g = z ? [...a, ...Array(8 - a.length - z.length).fill("0"), ...z] : a;
  if (g.length !== 8 || !g.every((p) => /^[\da-f]{1,4}$/i.test(p))) return null;
  const n = g.map((p) => parseInt(p, 16)), hex = (l: number[]) => l.map((v) => v.toString(16)).join(":");
  let best = -1, len = 1;
  for (let i = 0, j = 0; i < 8; i = j + 1) {
    for (j = i; j < 8 && !n[j]; j++);
    if (j - i > len) { best = i; len = j - i; }
  }
  return best < 0 ? hex(n) : hex(n.slice(0, best)) + "::" + hex(n.slice(best + len));
}

function parseHost(s: string, sp: boolean): string | null {
  if (s[0] === "[") {
    const v = s.endsWith("]") ? ipv6(s.slice(1, -1)) : null;
    return v && "[" + v + "]";
  }
  if (!sp) return /[\0\t\n\r #/:<>?@[\\\]^|]/.test(s) ? null : pe(s, C0);
  let d = pctDecode(s);
  if (/[^\0-\x7f]/.test(d)) {
    d = d.normalize("NFC").toLowerCase().replace(/[\u3002\uff0e\uff61]/g, ".").split(".")
      .map((l) => (/[^\0-\x7f]/.test(l) ? "xn--" + puny(l) : l)).join(".");
  }
  d = d.toLowerCase();
  if (!d || /[\0- #%/:<>?@[\\\]^|\x7f]/.test(d)) return null;
  const parts = d.split(".");
  if (parts.length > 1 && parts[parts.length - 1] === "") parts.pop();
  return /^(\d+|0x[\da-f]*)$/.test(parts[parts.length - 1]) ? ipv4(d) : d;
}

/** Parses "host[:port]" for scheme `s`; returns [host, port | undefined] or null on failure. */
function hostPort(s: string, a: string, portOK = true, loose = false): [string, string | undefined] | null {
  if (s === "file") {
    const h = a && parseHost(a, true);
    return h === null ? null : [h === "localhost" ? "" : h, undefined];
  }
  const sp = isSp(s);
  let i = -1, br = false;
  for (let k = 0; k < a.length && i < 0; k++) {
    if (a[k] === "[") br = true;
    else if (a[k] === "]") br = false;
    else if (a[k] === ":" && !br) i = k;
  }
  const hs = i < 0 ? a : a.slice(0, i);
  if (!hs && (sp || i >= 0)) return null;
  const h = parseHost(hs, sp);
  if (h === null || (i >= 0 && !portOK)) return null;
  let ps = i < 0 ? "" : a.slice(i + 1);
  if (loose) ps = /^\d*/.exec(ps)![0];
  if (!ps) return [h, undefined];
  if (!/^\d+$/.test(ps) || +ps > 65535) return null;
  const port = String(+ps);
  return [h, sp && DEF[s] === port ? "" : port];
}

function walk(str: string, sp: boolean, path: string[]): string[] {
  const sl = sp ? /[/\\]/ : /\//;
  if (sl.test(str.slice(0, 1))) str = str.slice(1);
  else if (!str && !sp) return path;
  const segs = str.split(sl);
  segs.forEach((g, i) => {
    const end = i === segs.length - 1;
    if (/^(\.|%2e){2}$/i.test(g)) {
      path.pop();
      if (end) path.push("");
    } else if (/^(\.|%2e)$/i.test(g)) {
      if (end) path.push("");
    } else path.push(pe(g, PATH));
  });
  return path;
}

/** Parses query/fragment off `rest`, then the path (into `path`, or opaque, or kept when null). */
function finish(r: Rec, rest: string, path: string[] | null, opaque?: boolean): Rec {
  const sp = isSp(r.s);
  let i = rest.indexOf("#");
  if (i >= 0) { r.f = pe(rest.slice(i + 1), FRAG); rest = rest.slice(0, i); }
  i = rest.indexOf("?");
  if (i >= 0) { r.q = pe(rest.slice(i + 1), sp ? SQUERY : QUERY); rest = rest.slice(0, i); }
  if (opaque) r.path = r.q !== null || r.f !== null ? pe(rest, C0).replace(/ $/, "%20") : pe(rest, C0);
  else if (path) r.path = walk(rest, sp, path);
  return r;
}

function auth(s: string, rest: string): Rec | null {
  const r = blank(s);
  const end = rest.search(isSp(s) ? /[/\\?#]/ : /[/?#]/);
  let a = end < 0 ? rest : rest.slice(0, end);
  rest = end < 0 ? "" : rest.slice(end);
  const at = s === "file" ? -1 : a.lastIndexOf("@");
  if (at >= 0) {
    const ui = a.slice(0, at), c = ui.indexOf(":");
    r.u = pe(c < 0 ? ui : ui.slice(0, c), USERINFO);
    r.pw = c < 0 ? "" : pe(ui.slice(c + 1), USERINFO);
    a = a.slice(at + 1);
    if (!a) return null;
  }
  const hp = hostPort(s, a);
  if (!hp) return null;
  r.h = hp[0];
  r.p = hp[1] ?? "";
  return finish(r, rest, []);
}

function rel(s: string, input: string, base: Rec): Rec | null {
  const sl = isSp(s) ? /^[/\\]/ : /^\//;
  if (sl.test(input)) {
    if (sl.test(input.slice(1))) {
      return auth(s, isSp(s) && s !== "file" ? input.replace(/^[/\\]+/, "") : input.slice(2));
    }
    return finish({ ...base, s, path: [], q: null, f: null }, input, []);
  }
  const r: Rec = { ...base, s, path: (base.path as string[]).slice(), f: null };
  if (!input) return r;
  if (input[0] === "#") { r.f = pe(input.slice(1), FRAG); return r; }
  r.q = null;
  if (input[0] === "?") return finish(r, input, null);
  (r.path as string[]).pop();
  return finish(r, input, r.path as string[]);
}

function parse(input: string, base: Rec | null): Rec | null {
  input = input.replace(/^[\0- ]+|[\0- ]+$/g, "").replace(/[\t\n\r]/g, "");
  const m = /^([a-zA-Z][a-zA-Z\d+.-]*):/.exec(input);
  if (m) {
    const s = m[1].toLowerCase(), rest = input.slice(m[0].length), two = /^[/\\]{2}/.test(rest);
    if (s === "file") return two ? auth(s, rest.slice(2)) : rel(s, rest, base?.s === s ? base : FILE_BASE);
    if (isSp(s)) {
      return base?.s === s && !two ? rel(s, rest, base) : auth(s, rest.replace(/^[/\\]+/, ""));
    }
    if (rest.startsWith("//")) return auth(s, rest.slice(2));
    return finish(blank(s), rest, [], rest[0] !== "/");
  }
  if (!base) return null;
  if (typeof base.path === "string") {
    return input[0] === "#" ? { ...base, f: pe(input.slice(1), FRAG) } : null;
  }
  return rel(base.s, input, base);
}

function parseArgs(url: unknown, base: unknown): Rec | null {
  let b: Rec | null = null;
  if (base !== undefined && !(b = parse(usv(base), null))) return null;
  return parse(usv(url), b);
}

const pathname = (r: Rec) => (typeof r.path === "string" ? r.path : r.path.map((x) => "/" + x).join(""));

function ser(r: Rec): string {
  let o = r.s + ":";
  if (r.h !== null) {
    o += "//";
    if (r.u || r.pw) o += r.u + (r.pw ? ":" + r.pw : "") + "@";
    o += r.h + (r.p ? ":" + r.p : "");
  } else if (typeof r.path !== "string" && r.path.length > 1 && !r.path[0]) o += "/.";
  return o + pathname(r) + (r.q !== null ? "?" + r.q : "") + (r.f !== null ? "#" + r.f : "");
}

const originOf = (r: Rec): string =>
  isSp(r.s) && r.s !== "file" ? r.s + "://" + r.h + (r.p ? ":" + r.p : "") : "null";

// Cross-class internal hooks (assigned in static blocks so private state stays private).
let spLink: (sp: URLSearchParams, u: URL, q: string) => void;
let urlSetQuery: (u: URL, q: string | null) => void;

class URL {
  #r: Rec;
  #sp: URLSearchParams | null = null;
  static {
    urlSetQuery = (u, q) => { u.#r.q = q; };
  }
  constructor(url: unknown, base?: unknown) {
    const r = parseArgs(url, base);
    if (!r) throw TE(`Invalid URL: ${url}`);
    this.#r = r;
  }
  static canParse(url: unknown, base?: unknown): boolean { return !!parseArgs(url, base); }
  static parse(url: unknown, base?: unknown): URL | null {
    const r = parseArgs(url, base);
    return r && new URL(ser(r));
  }
  #sync() { if (this.#sp) spLink(this.#sp, this, this.#r.q ?? ""); }
  #host(v: unknown, port: boolean) {
    const r = this.#r;
    if (typeof r.path === "string") return;
    const hp = hostPort(r.s, clean(v).split(isSp(r.s) ? /[/\\?#]/ : /[/?#]/)[0], port, true);
    if (hp) {
      r.h = hp[0];
      if (hp[1] !== undefined) r.p = hp[1];
    }
  }
  get href(): string { return ser(this.#r); }
  set href(v: unknown) {
    const r = parse(usv(v), null);
    if (!r) throw TE(`Invalid URL: ${v}`);
    this.#r = r;
    this.#sync();
  }
  get origin(): string {
    const r = this.#r;
    if (r.s !== "blob") return originOf(r);
    const inner = typeof r.path === "string" ? parse(r.path, null) : null;
    return inner && /^https?$/.test(inner.s) ? originOf(inner) : "null";
  }
  get protocol(): string { return this.#r.s + ":"; }
  set protocol(v: unknown) {
    const r = this.#r, m = /^([a-zA-Z][a-zA-Z\d+.-]*)(:|$)/.exec(clean(v));
    if (!m) return;
    const s = m[1].toLowerCase();
    if (isSp(s) !== isSp(r.s) || (s === "file" && (r.u || r.pw || r.p)) || (r.s === "file" && !r.h)) return;
    r.s = s;
    if (isSp(s) && r.p === DEF[s]) r.p = "";
  }
  get username(): string { return this.#r.u; }
  set username(v: unknown) { const r = this.#r; if (r.h && r.s !== "file") r.u = pe(usv(v), USERINFO); }
  get password(): string { return this.#r.pw; }
  set password(v: unknown) { const r = this.#r; if (r.h && r.s !== "file") r.pw = pe(usv(v), USERINFO); }
  get host(): string { const r = this.#r; return r.h === null ? "" : r.h + (r.p ? ":" + r.p : ""); }
  set host(v: unknown) { this.#host(v, true); }
  get hostname(): string { return this.#r.h ?? ""; }
  set hostname(v: unknown) { this.#host(v, false); }
  get port(): string { return this.#r.p; }
  set port(v: unknown) {
    const r = this.#r, s = clean(v);
    if (!r.h || r.s === "file") return;
    if (!s) { r.p = ""; return; }
    const hp = hostPort(r.s, "x:" + s, true, true);
    if (hp && hp[1] !== undefined) r.p = hp[1];
  }
  get pathname(): string { return pathname(this.#r); }
  set pathname(v: unknown) {
    const r = this.#r;
    if (typeof r.path !== "string") r.path = walk(clean(v), isSp(r.s), []);
  }
  get search(): string { const q = this.#r.q; return q ? "?" + q : ""; }
  set search(v: unknown) {
    const r = this.#r, s = clean(v);
    r.q = s ? pe(s.replace(/^\?/, ""), isSp(r.s) ? SQUERY : QUERY) : null;
    this.#sync();
  }
  get searchParams(): URLSearchParams {
    if (!this.#sp) spLink((this.#sp = new URLSearchParams()), this, this.#r.q ?? "");
    return this.#sp;
  }
  get hash(): string { const f = this.#r.f; return f ? "#" + f : ""; }
  set hash(v: unknown) {
    const s = clean(v);
    this.#r.f = s ? pe(s.replace(/^#/, ""), FRAG) : null;
  }
  toString(): string { return this.href; }
  toJSON(): string { return this.href; }
}

// ---------------------------------------------------------------- URLSearchParams, Headers

const formEnc = (s: string) => s.replace(/[^\w*.-]/gu, (c) => (c === " " ? "+" : pctChar(c)));
const formDec = (s: string) => pctDecode(s.replace(/\+/g, " "));
const TOKEN = /^[!#$%&'*+.^`|~\w-]+$/;
type Pair = [string, string];

function parseForm(s: string): Pair[] {
  const out: Pair[] = [];
  for (const part of s.split("&")) {
    const i = part.indexOf("=");
    if (part) out.push(i < 0 ? [formDec(part), ""] : [formDec(part.slice(0, i)), formDec(part.slice(i + 1))]);
  }
  return out;
}

/** Converts a sequence-of-pairs or record init into [name, value] pairs. */
function pairs(init: any, conv: (v: unknown) => string): Pair[] {
  if (typeof init[Symbol.iterator] !== "function") return Object.keys(init).map((k) => [conv(k), conv(init[k])]);
  return Array.from(init as Iterable<any>, (p) => {
    const a = typeof p === "object" && p ? Array.from(p as Iterable<unknown>) : [];
    if (a.length !== 2) throw TE("Expected [name, value] pairs");
    return [conv(a[0]), conv(a[1])];
  });
}

function hName(n: unknown): string {
  const s = `${n}`;
  if (!TOKEN.test(s)) throw TE(`Invalid header name: ${s}`);
  return s.toLowerCase();
}
function hValue(v: unknown): string {
  const s = `${v}`.replace(/^[\t\n\r ]+|[\t\n\r ]+$/g, "");
  if (/[\0\r\n]|[^\0-\xff]/.test(s)) throw TE(`Invalid header value: ${s}`);
  return s;
}

let list: (x: KV) => Pair[];
let sortKV: (x: KV) => void;

/** Shared ordered name/value list behind URLSearchParams and Headers (not a global). */
class KV {
  #l: Pair[];
  #u: URL | null = null;
  #h: boolean = this instanceof Headers;
  static {
    spLink = (sp, u, q) => { sp.#u = u; sp.#l = parseForm(q); };
    list = (x) => x.#l;
    sortKV = (x) => x.#sort();
  }
  constructor(l: Pair[]) { this.#l = l; }
  #k(n: unknown) { return this.#h ? hName(n) : usv(n); }
  #v(v: unknown) { return this.#h ? hValue(v) : usv(v); }
  #match(name: unknown, value: unknown) {
    const k = this.#k(name), v = value === undefined || this.#h ? null : usv(value);
    return (e: Pair) => e[0] === k && (v === null || e[1] === v);
  }
  #up() { if (this.#u) urlSetQuery(this.#u, this.#l.length ? `${this}` : null); }
  append(name: unknown, value: unknown): void { this.#l.push([this.#k(name), this.#v(value)]); this.#up(); }
  delete(name: unknown, value?: unknown): void {
    const f = this.#match(name, value);
    this.#l = this.#l.filter((e) => !f(e));
    this.#up();
  }
  has(name: unknown, value?: unknown): boolean { return this.#l.some(this.#match(name, value)); }
  set(name: unknown, value: unknown): void {
    const k = this.#k(name), v = this.#v(value), i = this.#l.findIndex((e) => e[0] === k);
    if (i < 0) this.#l.push([k, v]);
    else {
      this.#l[i][1] = v;
      this.#l = this.#l.filter((e, j) => j <= i || e[0] !== k);
    }
    this.#up();
  }
  forEach(cb: (value: string, key: string, parent: this) => void, thisArg?: unknown): void {
    for (const [k, v] of this.entries()) cb.call(thisArg, v, k, this);
  }
  *entries(): IterableIterator<Pair> { for (let i = 0; i < this.#l.length; i++) yield [this.#l[i][0], this.#l[i][1]]; }
  *keys(): IterableIterator<string> { for (const e of this.entries()) yield e[0]; }
  *values(): IterableIterator<string> { for (const e of this.entries()) yield e[1]; }
  [Symbol.iterator](): IterableIterator<Pair> { return this.entries(); }
  #sort() { this.#l.sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0)); this.#up(); }
}

class URLSearchParams extends KV {
  constructor(init: unknown = "") {
    super(
      init instanceof URLSearchParams ? list(init).map((e) => [e[0], e[1]])
        : (typeof init === "object" && init) || typeof init === "function" ? pairs(init, usv)
        : parseForm(usv(init).replace(/^\?/, "")),
    );
  }
  get size(): number { return list(this).length; }
  get(name: unknown): string | null { return this.getAll(name)[0] ?? null; }
  getAll(name: unknown): string[] { const k = usv(name); return list(this).filter((e) => e[0] === k).map((e) => e[1]); }
  sort(): void { sortKV(this); }
  toString(): string { return list(this).map((e) => formEnc(e[0]) + "=" + formEnc(e[1])).join("&"); }
}

class Headers extends KV {
  constructor(init?: unknown) {
    super(init instanceof Headers ? list(init).map((e) => [e[0], e[1]])
      : init == null ? [] : pairs(init, String).map((e) => [hName(e[0]), hValue(e[1])]));
  }
  get(name: unknown): string | null {
    const k = hName(name), v = list(this).filter((e) => e[0] === k).map((e) => e[1]);
    return v.length ? v.join(", ") : null;
  }
  getSetCookie(): string[] { return list(this).filter((e) => e[0] === "set-cookie").map((e) => e[1]); }
  /** Sorted, combined view (set-cookie values stay separate), as in the Fetch spec. */
  override *entries(): IterableIterator<Pair> {
    for (const k of [...new Set(list(this).map((e) => e[0]))].sort()) {
      if (k === "set-cookie") for (const v of this.getSetCookie()) yield [k, v];
      else if (this.has(k)) yield [k, this.get(k)!];
    }
  }
}

// ---------------------------------------------------------------- Body, Request, Response

/**
 * Converts a fetch body init to a fresh byte copy: string → utf-8, ArrayBuffer or
 * view → copy, URLSearchParams → its serialization, null/undefined → null.
 */
export function bodyToBytes(body: unknown): Uint8Array | null {
  if (body == null) return null;
  if (typeof body === "string") return utf8Encode(body);
  if (body instanceof URLSearchParams) return utf8Encode(`${body}`);
  if (body instanceof ArrayBuffer || ArrayBuffer.isView(body)) return view(body).slice();
  throw TE("Unsupported body type");
}

function defaultType(h: Headers, body: unknown) {
  const t = typeof body === "string" ? "text/plain" : body instanceof URLSearchParams ? "application/x-www-form-urlencoded" : "";
  if (t && !h.has("content-type")) h.set("content-type", t + ";charset=UTF-8");
}

interface St {
  b: Uint8Array | null;
  used?: boolean;
  headers: Headers;
  url: string;
  method?: string;
  redirect?: string;
  status?: number;
  statusText?: string;
  type?: string;
  redirected?: boolean;
}
const USED = "Body has already been used";
let st: (x: Body) => St;

class Body {
  #s: St;
  static { st = (x) => x.#s; }
  constructor(s: St) { this.#s = s; }
  get bodyUsed(): boolean { return !!this.#s.used; }
  #take(): Promise<Uint8Array> {
    const s = this.#s;
    if (s.used) return Promise.reject(TE(USED));
    s.used = !!s.b;
    return Promise.resolve(s.b ?? new Uint8Array(0));
  }
  arrayBuffer(): Promise<ArrayBuffer> { return this.#take().then((b) => b.slice().buffer); }
  bytes(): Promise<Uint8Array> { return this.#take().then((b) => b.slice()); }
  text(): Promise<string> { return this.#take().then((b) => utf8Decode(b).replace(/^\ufeff/, "")); }
  json(): Promise<any> { return this.text().then((t) => JSON.parse(t)); }
}

/** The body of `s` for a copy, throwing if it was already consumed. */
function peek(s: St): Uint8Array | null {
  if (s.used) throw TE(USED);
  return s.b;
}

interface RequestInit { method?: string; headers?: unknown; body?: unknown; redirect?: string }

class Request extends Body {
  declare readonly url: string;
  declare readonly method: string;
  declare readonly headers: Headers;
  declare readonly redirect: string;
  constructor(input: unknown, init?: RequestInit | null) {
    const src = input instanceof Request ? st(input) : null, o: RequestInit = init ?? {};
    let url = src?.url, m = o.method !== undefined ? `${o.method}` : src ? src.method! : "GET";
    if (!src) {
      const u = URL.parse(input);
      if (!u || u.username || u.password) throw TE(`Invalid request URL: ${input}`);
      url = u.href;
    }
    const up = m.toUpperCase();
    if (!TOKEN.test(m) || /^(CONNECT|TRACE|TRACK)$/.test(up)) throw TE(`Invalid method: ${m}`);
    if (/^(DELETE|GET|HEAD|OPTIONS|POST|PUT)$/.test(up)) m = up;
    const headers = new Headers(o.headers !== undefined ? o.headers : src?.headers);
    const b = o.body != null ? bodyToBytes(o.body) : o.body === undefined && src ? peek(src) : null;
    if (b && (m === "GET" || m === "HEAD")) throw TE("Request with GET/HEAD method cannot have body");
    defaultType(headers, o.body);
    super({ b, headers, url: url!, method: m, redirect: o.redirect !== undefined ? `${o.redirect}` : src?.redirect ?? "follow" });
  }
  clone(): Request { return new Request(this); }
}

interface ResponseInit { status?: number; statusText?: string; headers?: unknown }

class Response extends Body {
  declare readonly status: number;
  declare readonly statusText: string;
  declare readonly headers: Headers;
  declare readonly type: string;
  declare readonly url: string;
  declare readonly redirected: boolean;
  constructor(body: unknown = null, init?: ResponseInit | null) {
    const o: ResponseInit = init ?? {}, status = o.status === undefined ? 200 : Number(o.status) | 0;
    const statusText = o.statusText === undefined ? "" : `${o.statusText}`, b = bodyToBytes(body), headers = new Headers(o.headers);
    if (status < 200 || status > 599) throw new RangeError(`Invalid status: ${o.status}`);
    if (/[^\t\x20-\x7e\x80-\xff]/.test(statusText)) throw TE("Invalid statusText");
    if (b && [101, 103, 204, 205, 304].includes(status)) throw TE("Response with null body status cannot have body");
    defaultType(headers, body);
    super({ b, headers, status, statusText, type: "default", url: "", redirected: false });
  }
  static json(data: unknown, init?: ResponseInit | null): Response {
    const s = JSON.stringify(data);
    if (s === undefined) throw TE("Value is not JSON serializable");
    const r = new Response(utf8Encode(s), init), h = st(r).headers;
    if (!h.has("content-type")) h.set("content-type", "application/json");
    return r;
  }
  static error(): Response {
    const r = new Response();
    Object.assign(st(r), { status: 0, type: "error" });
    return r;
  }
  static redirect(url: unknown, status = 302): Response {
    const u = URL.parse(url);
    if (!u) throw TE(`Invalid URL: ${url}`);
    if (![301, 302, 303, 307, 308].includes(status)) throw new RangeError(`Invalid status: ${status}`);
    return new Response(null, { status, headers: { location: u.href } });
  }
  get ok(): boolean { const s = st(this).status!; return s >= 200 && s < 300; }
  clone(): Response {
    const s = st(this), r = new Response();
    Object.assign(st(r), s, { b: peek(s), headers: new Headers(s.headers) });
    return r;
  }
}

for (const [C, keys] of [[Request, "url method headers redirect"], [Response, "status statusText headers type url redirected"]] as const) {
  for (const k of keys.split(" ")) {
    Object.defineProperty(C.prototype, k, { get() { return (st(this) as any)[k]; }, configurable: true });
  }
}

/** Internal (for the guest fetch implementation): set a Response's url and redirected flag. */
export function setResponseUrl(res: unknown, url: string, redirected = false): void {
  if (!(res instanceof Response)) throw TE("Not a Response");
  Object.assign(st(res), { url: `${url}`.replace(/#.*/s, ""), redirected });
}

// ---------------------------------------------------------------- structuredClone, queueMicrotask

const taTag = Object.getOwnPropertyDescriptor(Object.getPrototypeOf(Uint8Array.prototype), Symbol.toStringTag)!.get!;
const ERRS: Record<string, ErrorConstructor> = { EvalError, RangeError, ReferenceError, SyntaxError, TypeError, URIError };

function structuredClone(value: unknown, _options?: unknown): any {
  const seen = new Map<object, unknown>();
  const fail = (v: unknown) =>
    new DOMException(`${typeof v === "object" ? Object.prototype.toString.call(v) : String(v)} could not be cloned.`, "DataCloneError");
  const c = (v: any): any => {
    if (typeof v === "function" || typeof v === "symbol") throw fail(v);
    if (typeof v !== "object" || v === null) return v;
    if (seen.has(v)) return seen.get(v);
    const keep = <T>(x: T): T => (seen.set(v, x), x);
    let o: any;
    if (Array.isArray(v)) {
      o = keep(new Array(v.length));
      for (const k of Object.keys(v)) o[k] = c((v as any)[k]);
    } else if (v instanceof Date) o = keep(new Date(v.getTime()));
    else if (v instanceof RegExp) o = keep(new RegExp(v.source, v.flags));
    else if (v instanceof ArrayBuffer) o = keep(v.slice(0));
    else if (ArrayBuffer.isView(v)) {
      const buf = c(v.buffer), tag = taTag.call(v);
      o = keep(tag ? new (globalThis as any)[tag](buf, v.byteOffset, (v as any).length) : new DataView(buf, v.byteOffset, v.byteLength));
    } else if (v instanceof Map) {
      o = keep(new Map());
      for (const [k, x] of v) o.set(c(k), c(x));
    } else if (v instanceof Set) {
      o = keep(new Set());
      for (const x of v) o.add(c(x));
    } else if (v instanceof DOMException) o = keep(new DOMException(v.message, v.name));
    else if (v instanceof Error) {
      const name = v.name;
      o = keep(new (own(ERRS, name) ? ERRS[name] : Error)(own(v, "message") ? `${v.message}` : undefined));
      if (typeof v.stack === "string") o.stack = v.stack;
      if (own(v, "cause")) o.cause = c(v.cause);
    } else if (v instanceof Boolean || v instanceof Number || v instanceof String) {
      o = keep(Object(v.valueOf()));
    } else if ([Promise, WeakMap, WeakSet, URL, KV, Body, TextEncoder, TextDecoder]
      .some((C: any) => v instanceof C)) {
      throw fail(v);
    } else {
      o = keep({});
      for (const k of Object.keys(v)) o[k] = c(v[k]);
    }
    return o;
  };
  return c(value);
}

function queueMicrotask(cb: unknown): void {
  if (typeof cb !== "function") throw TE("callback must be a function");
  Promise.resolve().then(() => cb());
}

// ---------------------------------------------------------------- install

/** Defines the web globals on `g` (non-enumerable, writable, configurable, like browsers). */
export function installWebGlobals(g: Record<string, unknown>): void {
  const classes = { DOMException, TextEncoder, TextDecoder, URL, URLSearchParams, Headers, Request, Response };
  const fns = { atob, btoa, structuredClone, queueMicrotask };
  const def = (o: object, k: PropertyKey, value: unknown, writable = true) =>
    Object.defineProperty(o, k, { value, writable, configurable: true, enumerable: false });
  for (const [k, v] of Object.entries({ ...classes, ...fns })) {
    def(v, "name", k, false); // survive minification
    if (k in classes) def(v.prototype, Symbol.toStringTag, k, false);
    def(g, k, v);
  }
}
