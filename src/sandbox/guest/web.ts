// Minimal web platform globals for bare V8 isolates, as Workers has them: text encoding, URL,
// Headers, Request/Response (bodies of strings, bytes, URLSearchParams, Blob, FormData or a
// ReadableStream, and `body` as a stream), Blob/File/FormData (blob.ts), Event/EventTarget/
// AbortController/AbortSignal, scheduler.wait and navigator (events.ts), and the WHATWG streams
// (streams.ts, web-streams-polyfill, loaded on first use). crypto.subtle is subtle.ts.
//
// This module runs INSIDE the guest isolate (bundled into the guest runtime IIFE),
// so it must not touch Node APIs. It is evaluated for every new context, so it
// trades completeness for size. Knowingly unsupported: encodings other than utf-8;
// IDNA (non-ASCII hostnames are rejected); legacy IPv4 forms (127.1, 0x7f.0.0.1) and
// IPv4-in-IPv6 hosts; Response.error/redirect; structuredClone of boxed primitives,
// Error.cause, transfer, Blob; CompressionStream/DecompressionStream; Workers' FixedLengthStream.
/* eslint-disable @typescript-eslint/no-explicit-any */

import { DOMException, TE, encInto, own, usv, utf8Decode, utf8Encode, view } from "./web-base.ts";
import { Blob, FormData, File, blobBytes, encodeForm, parseMultipart } from "./blob.ts";
import { AbortSignal, eventClasses, makeNavigator, makeScheduler, neverAborted, setTimerHooks, type TimerHooks } from "./events.ts";
import { STREAM_GLOBALS, disturbed, fromBytes, isReadable, readAll, streams, type Streams } from "./streams.ts";

class TextEncoder {
  get encoding(): string { return "utf-8"; }
  encode(input: unknown = ""): Uint8Array<ArrayBuffer> { return utf8Encode(`${input}`); }
  encodeInto(src: unknown, dest: Uint8Array): { read: number; written: number } {
    const [read, written] = encInto(`${src}`, dest);
    return { read, written };
  }
}

class TextDecoder {
  #fatal: boolean;
  #ignoreBOM: boolean;
  #st = [0, 0, 0, 0];
  #bomSeen = false;
  #streaming = false;
  constructor(label: unknown = "utf-8", opts?: { fatal?: boolean; ignoreBOM?: boolean } | null) {
    if (!/^(utf-?8|unicode-1-1-utf-8)$/i.test(`${label}`.trim())) throw new RangeError(`Unsupported encoding: ${label}`);
    this.#fatal = !!opts?.fatal;
    this.#ignoreBOM = !!opts?.ignoreBOM;
  }
  get encoding(): string { return "utf-8"; }
  get fatal(): boolean { return this.#fatal; }
  get ignoreBOM(): boolean { return this.#ignoreBOM; }
  decode(input?: unknown, opts?: { stream?: boolean } | null): string {
    const bytes = view(input);
    if (!this.#streaming) {
      this.#st = [0, 0, 0, 0];
      this.#bomSeen = false;
    }
    this.#streaming = !!opts?.stream;
    let s = utf8Decode(bytes, this.#fatal, this.#st, !this.#streaming);
    if (!this.#bomSeen && s) {
      this.#bomSeen = true;
      if (!this.#ignoreBOM && s[0] === "\ufeff") s = s.slice(1);
    }
    return s;
  }
}

// ---------------------------------------------------------------- base64

const B64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
const badChar = (m: string) => new DOMException(m, "InvalidCharacterError");

export function btoa(data: unknown): string {
  const s = `${data}`;
  if (/[^\0-\xff]/.test(s)) throw badChar("Invalid character");
  let o = "";
  for (let i = 0; i < s.length; i += 3) {
    const n = (s.charCodeAt(i) << 16) | (s.charCodeAt(i + 1) << 8) | s.charCodeAt(i + 2);
    for (let k = 18; k >= 0; k -= 6) o += B64[(n >> k) & 63];
  }
  const pad = (3 - (s.length % 3)) % 3;
  return o.slice(0, o.length - pad) + "=".repeat(pad);
}

export function atob(data: unknown): string {
  let s = `${data}`.replace(/[\t\n\f\r ]/g, ""), o = "", acc = 0, bits = 0;
  if (s.length % 4 === 0) s = s.replace(/==?$/, "");
  if (s.length % 4 === 1 || /[^A-Za-z\d+/]/.test(s)) throw badChar("Invalid base64");
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
  s: string; // scheme, without ":"
  u: string; // username (encoded)
  pw: string; // password (encoded)
  h: string | null; // serialized host; null = no host
  p: string; // port; "" = none or default
  path: string[] | string; // string = opaque path
  q: string | null;
  f: string | null;
}

const BAD_URL = "Invalid URL: ";
const DEF: Record<string, string> = { ftp: "21", file: "", http: "80", https: "443", ws: "80", wss: "443" };
const isSp = (s: string) => own(DEF, s);
const pset = (x: string) => new RegExp("[^\\x21-\\x7e]|[" + x + "]", "gu");
const C0 = /[^\x20-\x7e]/gu;
const FRAG = pset('"<>`');
const QUERY = pset('"#<>');
const SQUERY = pset("\"#<>'");
const PATH = pset('"#<>?^`{}');
const USERINFO = pset('"#/:;<=>?@[\\\\\\]^`{|}');
const hex2 = (b: number) => (b < 16 ? "%0" : "%") + b.toString(16).toUpperCase();
const pctChar = (c: string) => Array.from(utf8Encode(c), hex2).join("");
const pe = (s: string, re: RegExp) => s.replace(re, pctChar);
const clean = (v: unknown) => usv(v).replace(/[\t\n\r]/g, "");
const slashes = (sp: boolean) => (sp ? /[/\\]/ : /\//);
const blank = (s: string): Rec => ({ s, u: "", pw: "", h: null, p: "", path: [], q: null, f: null });
const FILE_BASE: Rec = { ...blank("file"), h: "", path: [""] };

/** Percent-decodes runs of %XX escapes as utf-8 (invalid sequences become U+FFFD). */
const pctDecode = (s: string) =>
  s.replace(/(%[\da-f]{2})+/gi, (m) => utf8Decode(new Uint8Array(m.slice(1).split("%").map((h) => parseInt(h, 16)))));

/** Dotted-decimal IPv4 only (the legacy hex/octal/shorthand forms are rejected, not normalized). */
function ipv4(s: string): string | null {
  const n = s.replace(/\.$/, "").split(".");
  return n.length === 4 && n.every((x) => /^(0|[1-9]\d*)$/.test(x) && +x < 256) ? n.join(".") : null;
}

function ipv6(s: string): string | null {
  // (Embedded IPv4 forms like ::ffff:1.2.3.4 are not supported.)
  const [a, z, x] = s.split("::").map((h) => (h ? h.split(":") : []));
  if (x || (z && a.length + z.length > 7)) return null;
  const g = z ? [...a, ...Array(8 - a.length - z.length).fill("0"), ...z] : a;
  if (g.length !== 8 || !g.every((p) => /^[\da-f]{1,4}$/i.test(p))) return null;
  const h = ":" + g.map((p) => parseInt(p, 16).toString(16)).join(":") + ":";
  let best = "";
  for (const [m] of h.matchAll(/:(0:)+/g)) if (m.length > 3 && m.length > best.length) best = m;
  return (best ? h.replace(best, "::") : h).replace(/^:(?!:)|(?<!:):$/g, "");
}

function parseHost(s: string, sp: boolean): string | null {
  if (s[0] === "[") {
    const v = s.endsWith("]") && ipv6(s.slice(1, -1));
    return v ? "[" + v + "]" : null;
  }
  if (!sp) return /[\0\t\n\r #/:<>?@[\\\]^|]/.test(s) ? null : pe(s, C0);
  // No IDNA: only ASCII domains are supported.
  const d = pctDecode(s).toLowerCase(), last = d.replace(/\.$/, "").split(".").pop()!;
  if (!d || /[^!-~]|[#%/:<>?@[\\\]^|]/.test(d)) return null;
  return /^(\d+|0x[\da-f]*)$/.test(last) ? ipv4(d) : d;
}

/**
 * Parses "host[:port]" for scheme `s` into [host, port | undefined], or null on failure.
 * `mode` 1 = host setter (lenient port: leading digits, out of range ignored), 2 = hostname setter.
 */
function hostPort(s: string, a: string, mode = 0): [string, string | undefined] | null {
  if (s === "file") {
    const h = a && parseHost(a, true);
    return h === null ? null : [h === "localhost" ? "" : h, undefined];
  }
  const sp = isSp(s), i = a.search(/:(?![^[]*\])/), hs = i < 0 ? a : a.slice(0, i);
  const h = (hs || !(sp || i >= 0)) && parseHost(hs, sp), ps = i < 0 ? "" : /^\d*/.exec(a.slice(i + 1))![0];
  const bad = ps !== a.slice(i + 1) || +ps > 65535;
  if (h === null || h === false || (i >= 0 && mode > 1) || (bad && i >= 0 && !mode)) return null;
  return [h, !ps || +ps > 65535 ? undefined : sp && DEF[s] === String(+ps) ? "" : String(+ps)];
}

function walk(str: string, sp: boolean, path: string[]): string[] {
  const sl = slashes(sp);
  if (sl.test(str[0])) str = str.slice(1);
  else if (!str && !sp) return path;
  const segs = str.split(sl);
  segs.forEach((g, i) => {
    const dots = /^(\.|%2e){1,2}$/i.test(g) ? g.replace(/%2e/gi, ".").length : 0;
    if (dots > 1) path.pop();
    if (!dots) path.push(pe(g, PATH));
    else if (i === segs.length - 1) path.push("");
  });
  return path;
}

/** Parses query/fragment off `rest`, then its path: into `path`, as opaque, or none (null). */
function finish(r: Rec, rest: string, path: string[] | null, opaque?: boolean): Rec {
  let i = rest.indexOf("#");
  if (i >= 0) {
    r.f = pe(rest.slice(i + 1), FRAG);
    rest = rest.slice(0, i);
  }
  i = rest.indexOf("?");
  if (i >= 0) {
    r.q = pe(rest.slice(i + 1), isSp(r.s) ? SQUERY : QUERY);
    rest = rest.slice(0, i);
  }
  if (opaque) r.path = pe(rest, C0).replace(/ $/, (r.q ?? r.f) !== null ? "%20" : " ");
  else if (path) r.path = walk(rest, isSp(r.s), path);
  return r;
}

function auth(s: string, rest: string): Rec | null {
  const r = blank(s), end = rest.search(isSp(s) ? /[/\\?#]/ : /[/?#]/);
  let a = end < 0 ? rest : rest.slice(0, end);
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
  return finish(r, end < 0 ? "" : rest.slice(end), []);
}

function rel(s: string, input: string, base: Rec): Rec | null {
  const sp = isSp(s), sl = slashes(sp);
  if (sl.test(input[0])) {
    if (!sl.test(input[1])) return finish({ ...base, s, path: [], q: null, f: null }, input, []);
    return auth(s, sp && s !== "file" ? input.replace(/^[/\\]+/, "") : input.slice(2));
  }
  const r: Rec = { ...base, s, path: (base.path as string[]).slice(), f: null };
  if (!input) return r;
  if (input[0] === "#") return { ...r, f: pe(input.slice(1), FRAG) };
  r.q = null;
  if (input[0] === "?") return finish(r, input, null);
  (r.path as string[]).pop();
  return finish(r, input, r.path as string[]);
}

function parse(input: string, base: Rec | null): Rec | null {
  input = input.replace(/^[\0- ]+|[\0- ]+$/g, "").replace(/[\t\n\r]/g, "");
  const m = /^([a-z][a-z\d+.-]*):/i.exec(input);
  if (!m) {
    if (!base) return null;
    if (typeof base.path !== "string") return rel(base.s, input, base);
    return input[0] === "#" ? { ...base, f: pe(input.slice(1), FRAG) } : null;
  }
  const s = m[1].toLowerCase(), rest = input.slice(m[0].length), two = /^[/\\]{2}/.test(rest);
  if (s === "file") return two ? auth(s, rest.slice(2)) : rel(s, rest, base?.s === s ? base : FILE_BASE);
  if (isSp(s)) return base?.s === s && !two ? rel(s, rest, base) : auth(s, rest.replace(/^[/\\]+/, ""));
  if (rest.startsWith("//")) return auth(s, rest.slice(2));
  return finish(blank(s), rest, [], rest[0] !== "/");
}

function parseArgs(url: unknown, base: unknown): Rec | null {
  const b = base === undefined ? null : parse(usv(base), null);
  return base === undefined || b ? parse(usv(url), b) : null;
}

const pathname = (r: Rec) => (typeof r.path === "string" ? r.path : r.path.map((x) => "/" + x).join(""));
const hostStr = (r: Rec) => r.h + (r.p && ":" + r.p);

function ser(r: Rec): string {
  let o = r.s + ":";
  if (r.h !== null) o += "//" + (r.u || r.pw ? r.u + (r.pw && ":" + r.pw) + "@" : "") + hostStr(r);
  else if (typeof r.path !== "string" && r.path.length > 1 && !r.path[0]) o += "/.";
  return o + pathname(r) + (r.q === null ? "" : "?" + r.q) + (r.f === null ? "" : "#" + r.f);
}

// Cross-class internal hooks (assigned in static blocks so private state stays private).
let urlSetQuery: (u: URL, q: string | null) => void;

class URL {
  #r: Rec;
  #sp: URLSearchParams | null = null;
  static {
    urlSetQuery = (u, q) => { u.#r.q = q; };
  }
  constructor(url: unknown, base?: unknown) {
    const r = parseArgs(url, base);
    if (!r) throw TE(BAD_URL + url);
    this.#r = r;
  }
  static canParse(url: unknown, base?: unknown): boolean { return !!parseArgs(url, base); }
  static parse(url: unknown, base?: unknown): URL | null {
    try {
      return new URL(url, base);
    } catch {
      return null;
    }
  }
  #sync() { if (this.#sp) spLink(this.#sp, this, this.#r.q ?? ""); }
  #host(v: unknown, mode: number) {
    const r = this.#r, hp = typeof r.path !== "string" && hostPort(r.s, clean(v).split(/[/?#]|\\/)[0], mode);
    if (hp) {
      r.h = hp[0];
      r.p = hp[1] ?? r.p;
    }
  }
  #cred(k: "u" | "pw", v: unknown) {
    const r = this.#r;
    if (r.h && r.s !== "file") r[k] = pe(usv(v), USERINFO);
  }
  get href(): string { return ser(this.#r); }
  set href(v: unknown) {
    const r = parse(usv(v), null);
    if (!r) throw TE(BAD_URL + v);
    this.#r = r;
    this.#sync();
  }
  get origin(): string {
    const r = this.#r; // (blob: URLs get the opaque origin "null")
    return isSp(r.s) && r.s !== "file" ? r.s + "://" + hostStr(r) : "null";
  }
  get protocol(): string { return this.#r.s + ":"; }
  set protocol(v: unknown) {
    const r = this.#r, m = /^([a-z][a-z\d+.-]*)(:|$)/i.exec(clean(v)), s = m?.[1].toLowerCase();
    if (!s || isSp(s) !== isSp(r.s) || (s === "file" && (r.u || r.pw || r.p)) || (r.s === "file" && !r.h)) return;
    r.s = s;
    if (r.p === DEF[s]) r.p = "";
  }
  get username(): string { return this.#r.u; }
  set username(v: unknown) { this.#cred("u", v); }
  get password(): string { return this.#r.pw; }
  set password(v: unknown) { this.#cred("pw", v); }
  get host(): string { return this.#r.h === null ? "" : hostStr(this.#r); }
  set host(v: unknown) { this.#host(v, 1); }
  get hostname(): string { return this.#r.h ?? ""; }
  set hostname(v: unknown) { this.#host(v, 2); }
  get port(): string { return this.#r.p; }
  set port(v: unknown) {
    const r = this.#r, s = clean(v);
    if (!r.h || r.s === "file") return;
    if (!s) r.p = "";
    else this.#host(r.h + ":" + s, 1);
  }
  get pathname(): string { return pathname(this.#r); }
  set pathname(v: unknown) {
    const r = this.#r;
    if (typeof r.path !== "string") r.path = walk(clean(v), isSp(r.s), []);
  }
  get search(): string { return this.#r.q ? "?" + this.#r.q : ""; }
  set search(v: unknown) {
    const r = this.#r, s = clean(v).replace(/^\?/, "");
    r.q = clean(v) ? pe(s, isSp(r.s) ? SQUERY : QUERY) : null;
    this.#sync();
  }
  get searchParams(): URLSearchParams {
    if (!this.#sp) spLink((this.#sp = new URLSearchParams()), this, this.#r.q ?? "");
    return this.#sp;
  }
  get hash(): string { return this.#r.f ? "#" + this.#r.f : ""; }
  set hash(v: unknown) { this.#r.f = clean(v) ? pe(clean(v).replace(/^#/, ""), FRAG) : null; }
  toString(): string { return this.href; }
  toJSON(): string { return this.href; }
}

// ---------------------------------------------------------------- URLSearchParams, Headers

type Pair = [string, string];
const formEnc = (s: string) => s.replace(/[^\w*.-]/gu, (c) => (c === " " ? "+" : pctChar(c)));
const formDec = (s: string) => pctDecode(s.replace(/\+/g, " "));
const parseForm = (s: string): Pair[] =>
  s.split("&").filter((x) => x).map((x) => {
    const i = x.indexOf("=");
    return [formDec(i < 0 ? x : x.slice(0, i)), formDec(i < 0 ? "" : x.slice(i + 1))];
  });
const TOKEN = /^[!#$%&'*+.^`|~\w-]+$/;

/** Converts a sequence-of-pairs or record init into [name, value] pairs. */
function pairs(init: any, conv: (v: unknown) => string): Pair[] {
  if (Object(init) !== init) throw TE("Invalid init");
  if (typeof init[Symbol.iterator] !== "function") return Object.keys(init).map((k) => [conv(k), conv(init[k])]);
  return Array.from(init as Iterable<any>, (p) => {
    const a = [...(p as Iterable<unknown>)];
    if (a.length !== 2) throw TE("Invalid init");
    return [conv(a[0]), conv(a[1])];
  });
}

function hName(n: unknown): string {
  if (!TOKEN.test(`${n}`)) throw TE(`Invalid header: ${n}`);
  return `${n}`.toLowerCase();
}
function hValue(v: unknown): string {
  const s = `${v}`.replace(/^[\t\n\r ]+|[\t\n\r ]+$/g, "");
  if (/[\0\r\n]|[^\0-\xff]/.test(s)) throw TE(`Invalid header: ${s}`);
  return s;
}
const copy = (l: Pair[]) => l.map((e): Pair => [e[0], e[1]]);

let spLink: (sp: URLSearchParams, u: URL, q: string) => void;
let list: (x: KV) => Pair[];
let sortKV: (x: KV) => void;

/** The ordered name/value list shared by URLSearchParams and Headers (not a global). */
class KV {
  #l: Pair[];
  #u: URL | null = null;
  #h: boolean = this instanceof Headers;
  static {
    spLink = (sp, u, q) => {
      sp.#u = u;
      sp.#l = parseForm(q);
    };
    list = (x) => x.#l;
    sortKV = (x) => {
      x.#l.sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
      x.#up();
    };
  }
  constructor(l: Pair[]) { this.#l = l; }
  #k(n: unknown) { return this.#h ? hName(n) : usv(n); }
  #v(v: unknown) { return this.#h ? hValue(v) : usv(v); }
  #match(name: unknown, value: unknown) {
    const k = this.#k(name), v = value === undefined || this.#h ? null : usv(value);
    return (e: Pair) => e[0] === k && (v === null || e[1] === v);
  }
  #up() { if (this.#u) urlSetQuery(this.#u, this.#l.length ? `${this}` : null); }
  append(name: unknown, value: unknown): void {
    this.#l.push([this.#k(name), this.#v(value)]);
    this.#up();
  }
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
  *entries(): IterableIterator<Pair> {
    for (let i = 0; i < this.#l.length; i++) yield [this.#l[i][0], this.#l[i][1]];
  }
  *keys(): IterableIterator<string> { for (const e of this.entries()) yield e[0]; }
  *values(): IterableIterator<string> { for (const e of this.entries()) yield e[1]; }
  [Symbol.iterator](): IterableIterator<Pair> { return this.entries(); }
}

class URLSearchParams extends KV {
  constructor(init: unknown = "") {
    super(
      init instanceof URLSearchParams ? copy(list(init))
        : typeof init === "object" && init ? pairs(init, usv)
        : parseForm(usv(init).replace(/^\?/, "")),
    );
  }
  get size(): number { return list(this).length; }
  get(name: unknown): string | null { return this.getAll(name)[0] ?? null; }
  getAll(name: unknown): string[] {
    const k = usv(name);
    return list(this).filter((e) => e[0] === k).map((e) => e[1]);
  }
  sort(): void { sortKV(this); }
  toString(): string { return list(this).map((e) => formEnc(e[0]) + "=" + formEnc(e[1])).join("&"); }
}

class Headers extends KV {
  constructor(init?: unknown) {
    super(init instanceof Headers ? copy(list(init))
      : init === undefined ? [] : pairs(init, String).map((e) => [hName(e[0]), hValue(e[1])]));
  }
  get(name: unknown): string | null {
    const k = hName(name), v = list(this).filter((e) => e[0] === k).map((e) => e[1]);
    return v.length ? v.join(", ") : null;
  }
  getSetCookie(): string[] { return list(this).filter((e) => e[0] === "set-cookie").map((e) => e[1]); }
  /** Sorted and combined (set-cookie values stay separate), as the Fetch spec says. */
  override *entries(): IterableIterator<Pair> {
    for (const k of [...new Set(list(this).map((e) => e[0]))].sort()) {
      if (k === "set-cookie") for (const v of this.getSetCookie()) yield [k, v];
      else if (this.has(k)) yield [k, this.get(k)!];
    }
  }
}

// ---------------------------------------------------------------- Body, Request, Response

interface Extracted {
  b: Uint8Array | null;
  s?: any;
  type: string;
}

/**
 * A fetch body init: string → utf-8, ArrayBuffer or view → a copy, URLSearchParams → its
 * serialization, Blob → its bytes, FormData → multipart/form-data, ReadableStream → itself,
 * null/undefined → none; with the content type it implies.
 */
function extract(body: unknown): Extracted {
  if (body == null) return { b: null, type: "" };
  if (typeof body === "string") return { b: utf8Encode(body), type: "text/plain;charset=UTF-8" };
  if (body instanceof URLSearchParams) return { b: utf8Encode(`${body}`), type: "application/x-www-form-urlencoded;charset=UTF-8" };
  if (body instanceof ArrayBuffer || ArrayBuffer.isView(body)) return { b: view(body).slice(), type: "" };
  if (body instanceof Blob) return { b: blobBytes(body), type: body.type };
  if (body instanceof FormData) {
    const f = encodeForm(body);
    return { b: f.bytes, type: f.type };
  }
  if (isReadable(body)) return { b: null, s: body, type: "" };
  throw TE("Unsupported body type");
}

/** A fetch body init as bytes (a ReadableStream is refused: it has to be read). */
export function bodyToBytes(body: unknown): Uint8Array | null {
  const x = extract(body);
  if (x.s) throw TE("A ReadableStream body has to be read");
  return x.b && (body instanceof Blob || body instanceof FormData ? x.b.slice() : x.b);
}

interface St {
  /** the body's bytes, while it is not a stream */
  b: Uint8Array | null;
  /** the body as a stream: given as one, or made from `b` when `body` was read */
  s?: any;
  used?: boolean;
  headers: Headers;
  url: string;
  method?: string;
  signal?: AbortSignal;
  status?: number;
  statusText?: string;
  redirected?: boolean;
}
const USED = "Body has already been used";
let st: (x: Body) => St;
const isUsed = (s: St) => !!s.used || (s.s !== undefined && disturbed(s.s));

/** Shared body-reading half of Request and Response (not a global). */
class Body {
  #s: St;
  static {
    st = (x) => x.#s;
  }
  constructor(body: unknown, s: Omit<St, "b">) {
    const x = extract(body);
    if (x.type && !s.headers.has("content-type")) s.headers.set("content-type", x.type);
    this.#s = { ...s, b: x.b, s: x.s };
  }
  get body(): any {
    const s = this.#s;
    if (s.s === undefined && s.b !== null) {
      s.s = fromBytes(s.used ? new Uint8Array(0) : s.b);
      if (s.used) s.s.getReader(); // read already: a locked stream, as the spec's consumed body
    }
    return s.s ?? null;
  }
  get bodyUsed(): boolean { return isUsed(this.#s); }
  #take(): Promise<Uint8Array> {
    const s = this.#s;
    if (isUsed(s)) return Promise.reject(TE(USED));
    if (s.s !== undefined) {
      if (s.s.locked) return Promise.reject(TE("The body's stream is locked to a reader"));
      s.used = true;
      return readAll(s.s);
    }
    s.used = !!s.b;
    return Promise.resolve(s.b ?? new Uint8Array(0));
  }
  arrayBuffer(): Promise<ArrayBuffer> { return this.#take().then((b) => b.slice().buffer); }
  bytes(): Promise<Uint8Array> { return this.#take().then((b) => b.slice()); }
  text(): Promise<string> { return this.#take().then((b) => new TextDecoder().decode(b)); }
  json(): Promise<any> { return this.text().then((t) => JSON.parse(t)); }
  blob(): Promise<Blob> {
    return this.#take().then((b) => new Blob([b], { type: this.#s.headers.get("content-type") ?? "" }));
  }
  formData(): Promise<FormData> {
    const ct = this.#s.headers.get("content-type") ?? "";
    return this.#take().then((b) => {
      if (/^multipart\/form-data\s*(;|$)/i.test(ct)) return parseMultipart(b, ct);
      if (!/^application\/x-www-form-urlencoded\s*(;|$)/i.test(ct)) throw TE(`Cannot parse a body of type "${ct}" as FormData`);
      const f = new FormData();
      for (const [k, v] of new URLSearchParams(new TextDecoder().decode(b))) f.append(k, v);
      return f;
    });
  }
}

/**
 * The body of `s` for a copy: bytes are shared (bodies are never mutated), a stream is teed (one
 * branch stays, one goes to the copy); TypeError if the body was read or its stream is locked.
 */
function cloneBody(s: St): Uint8Array | null | object {
  if (isUsed(s) || s.s?.locked) throw TE(USED);
  if (s.s === undefined) return s.b;
  const [a, b] = s.s.tee();
  s.s = a;
  return b;
}

interface RequestInit { method?: string; headers?: unknown; body?: unknown; signal?: AbortSignal | null }

class Request extends Body {
  declare readonly url: string;
  declare readonly method: string;
  declare readonly headers: Headers;
  constructor(input: unknown, init?: RequestInit | null) {
    const src = input instanceof Request ? st(input) : null, o: RequestInit = init ?? {}, u = src || URL.parse(input);
    let m = o.method === undefined ? src?.method ?? "GET" : `${o.method}`;
    const up = m.toUpperCase(), signal = o.signal !== undefined ? o.signal : src?.signal;
    if (!u || (u instanceof URL && (u.username || u.password))) throw TE(BAD_URL + input);
    if (!TOKEN.test(m)) throw TE(`Invalid method: ${m}`);
    if (signal != null && !(signal instanceof AbortSignal)) throw TE("The signal must be an AbortSignal");
    if (/^(DELETE|GET|HEAD|OPTIONS|POST|PUT)$/.test(up)) m = up;
    let body = o.body;
    if (body === undefined && src) {
      // the body moves to the new request: a stream is taken over (the source is then used), bytes are shared
      if (isUsed(src) || src.s?.locked) throw TE(USED);
      body = src.s ?? src.b;
      if (src.s) src.used = true;
    }
    if (body != null && (m === "GET" || m === "HEAD")) throw TE("GET/HEAD request cannot have a body");
    super(body, {
      headers: new Headers(o.headers !== undefined ? o.headers : src?.headers),
      url: u instanceof URL ? u.href : u.url,
      method: m,
      signal: signal ?? undefined,
    });
  }
  /** the request's AbortSignal (one that never aborts when none was given) */
  get signal(): AbortSignal {
    const s = st(this);
    return (s.signal ??= neverAborted());
  }
  get redirect(): string { return "follow"; }
  clone(): Request {
    const s = st(this), r = new Request(s.url, { method: s.method, headers: s.headers, signal: s.signal });
    Object.assign(st(r), { b: null, s: undefined }, bodyOf(cloneBody(s)));
    return r;
  }
}

const bodyOf = (x: Uint8Array | null | object) => (x === null || x instanceof Uint8Array ? { b: x } : { b: null, s: x });

interface ResponseInit { status?: number; statusText?: string; headers?: unknown }

class Response extends Body {
  declare readonly status: number;
  declare readonly statusText: string;
  declare readonly headers: Headers;
  declare readonly url: string;
  declare readonly redirected: boolean;
  constructor(body: unknown = null, init?: ResponseInit | null) {
    const o: ResponseInit = init ?? {}, status = +(o.status ?? 200) | 0, statusText = `${o.statusText ?? ""}`;
    if (status < 200 || status > 599) throw new RangeError(`Invalid status: ${o.status}`);
    if (/[^\t\x20-\x7e\x80-\xff]/.test(statusText) || (body != null && [101, 103, 204, 205, 304].includes(status))) {
      throw TE("Invalid statusText or body");
    }
    super(body, { headers: new Headers(o.headers), status, statusText, url: "", redirected: false });
  }
  static json(data: unknown, init?: ResponseInit | null): Response {
    const s = JSON.stringify(data), r = new Response(utf8Encode(s ?? ""), init), h = st(r).headers;
    if (s === undefined) throw TE("Value is not JSON");
    if (!h.has("content-type")) h.set("content-type", "application/json");
    return r;
  }
  get ok(): boolean { return st(this).status! - 200 >>> 0 < 100; }
  clone(): Response {
    const s = st(this), r = new Response();
    Object.assign(st(r), s, { used: false, headers: new Headers(s.headers) }, bodyOf(cloneBody(s)));
    return r;
  }
}

for (const [C, keys] of [[Request, "url method headers"], [Response, "status statusText headers url redirected"]] as const) {
  for (const k of keys.split(" ")) Object.defineProperty(C.prototype, k, { get() { return (st(this) as any)[k]; }, configurable: true });
}

/** Internal (for the guest fetch implementation): sets a Response's url and redirected flag. */
export function setResponseUrl(res: unknown, url: string, redirected = false): void {
  if (!(res instanceof Response)) throw TE("Not a Response");
  Object.assign(st(res), { url: `${url}`.replace(/#.*/s, ""), redirected });
}

// ---------------------------------------------------------------- structuredClone, queueMicrotask

const ERRS: Record<string, ErrorConstructor> = { EvalError, RangeError, ReferenceError, SyntaxError, TypeError, URIError };

function structuredClone(value: unknown, _options?: unknown): any {
  const seen = new Map<object, unknown>();
  const c = (v: any): any => {
    if (Object(v) !== v && typeof v !== "symbol") return v;
    if (seen.has(v)) return seen.get(v);
    if (typeof v !== "object" || [Promise, WeakMap, WeakSet, URL, KV, Body].some((C: any) => v instanceof C)) {
      throw new DOMException(`${typeof v} could not be cloned`, "DataCloneError");
    }
    const o: any = v instanceof Date ? new Date(+v)
      : v instanceof RegExp ? new RegExp(v.source, v.flags)
      : v instanceof ArrayBuffer ? v.slice(0)
      : ArrayBuffer.isView(v) ? new (v.constructor as any)(c(v.buffer), v.byteOffset, (v as any).length ?? v.byteLength)
      : v instanceof Map ? new Map()
      : v instanceof Set ? new Set()
      : v instanceof Error ? new (own(ERRS, v.name) ? ERRS[v.name] : Error)(v.message)
      : Array.isArray(v) ? Array(v.length)
      : {};
    seen.set(v, o);
    if (v instanceof Map) for (const [k, x] of v) o.set(c(k), c(x));
    else if (v instanceof Set) for (const x of v) o.add(c(x));
    else if (v instanceof Error) o.stack = v.stack;
    else if (Array.isArray(o) || o.constructor === Object) for (const k of Object.keys(v)) o[k] = c(v[k]);
    return o;
  };
  return c(value);
}

function queueMicrotask(cb: unknown): void {
  if (typeof cb !== "function") throw TE("callback must be a function");
  Promise.resolve().then(() => cb());
}

// ---------------------------------------------------------------- install

/** Workers' stream classes beyond the polyfill's (TransformStreams), made when streams load. */
function streamExtras(S: Streams): Record<string, unknown> {
  class TextEncoderStream extends S.TransformStream<unknown, Uint8Array> {
    constructor() {
      let hi = ""; // a high surrogate at the end of a chunk waits for the next chunk
      super({
        transform(chunk, c) {
          let s = hi + `${chunk}`;
          hi = /[\ud800-\udbff]$/.test(s) ? s.slice(-1) : "";
          if (hi) s = s.slice(0, -1);
          if (s) c.enqueue(utf8Encode(s));
        },
        flush(c) {
          if (hi) c.enqueue(utf8Encode("\ufffd"));
        },
      });
    }
    get encoding(): string { return "utf-8"; }
  }
  class TextDecoderStream extends S.TransformStream<unknown, string> {
    #d: TextDecoder;
    constructor(label: unknown = "utf-8", opts?: { fatal?: boolean; ignoreBOM?: boolean } | null) {
      const d = new TextDecoder(label, opts);
      super({
        transform(chunk, c) {
          const s = d.decode(chunk, { stream: true });
          if (s) c.enqueue(s);
        },
        flush(c) {
          const s = d.decode();
          if (s) c.enqueue(s);
        },
      });
      this.#d = d;
    }
    get encoding(): string { return this.#d.encoding; }
    get fatal(): boolean { return this.#d.fatal; }
    get ignoreBOM(): boolean { return this.#d.ignoreBOM; }
  }
  /** Workers' pass-through stream */
  class IdentityTransformStream extends S.TransformStream {}
  const extras = { TextEncoderStream, TextDecoderStream, IdentityTransformStream };
  for (const [k, C] of Object.entries(extras)) {
    Object.defineProperty(C, "name", { value: k, configurable: true });
    Object.defineProperty(C.prototype, Symbol.toStringTag, { value: k, configurable: true });
  }
  return extras;
}

let streamGlobals: Record<string, unknown> | undefined;
const loadStreams = () => {
  if (streamGlobals) return streamGlobals;
  const S = streams();
  for (const k of STREAM_GLOBALS) if (S[k].name !== k) Object.defineProperty(S[k], "name", { value: k, configurable: true }); // (minified)
  return (streamGlobals = { ...Object.fromEntries(STREAM_GLOBALS.map((k) => [k, S[k]])), ...streamExtras(S) });
};
const LAZY_STREAMS = [...STREAM_GLOBALS, "TextEncoderStream", "TextDecoderStream", "IdentityTransformStream"];

/**
 * Defines the web globals on `g` (non-enumerable, writable, configurable, like browsers). The stream
 * classes are getters that load the streams on first use and then become plain values. `timers` are
 * the runtime's (for AbortSignal.timeout and scheduler.wait); without them the global setTimeout.
 */
export function installWebGlobals(g: Record<string, unknown>, timers?: TimerHooks): void {
  if (timers) setTimerHooks(timers);
  const { Scheduler: _s, Navigator: _n, ...events } = eventClasses;
  const classes = { DOMException, TextEncoder, TextDecoder, URL, URLSearchParams, Headers, Request, Response, Blob, File, FormData, ...events };
  const def = (o: object, k: PropertyKey, value: unknown, writable = false) =>
    Object.defineProperty(o, k, { value, writable, configurable: true });
  for (const [k, v] of Object.entries({ ...classes, atob, btoa, structuredClone, queueMicrotask })) {
    def(v, "name", k); // survive minification
    if (k in classes) def((v as any).prototype, Symbol.toStringTag, k);
    def(g, k, v, true);
  }
  def(g, "scheduler", makeScheduler(), true);
  def(g, "navigator", makeNavigator(), true);
  for (const k of LAZY_STREAMS) {
    Object.defineProperty(g, k, {
      get() {
        const v = loadStreams()[k];
        def(g, k, v, true);
        return v;
      },
      set(v) { def(g, k, v, true); },
      configurable: true,
    });
  }
}
