// Runs INSIDE the guest isolate: Blob, File and FormData, and the multipart/form-data encoding of a
// FormData body (and its parsing, for Request/Response.formData()). A Blob keeps its bytes in one
// immutable buffer (slices share it), so its reads are synchronous underneath.
/* eslint-disable @typescript-eslint/no-explicit-any */
import { TE, usv, utf8Decode, utf8Encode, view } from "./web-base.ts";
import { fromBytes } from "./streams.ts";

let bytesOf: (b: Blob) => Uint8Array;

/** A copy of the bytes of a BufferSource, or of a Blob; anything else is utf-8 of its string. */
function part(p: unknown): Uint8Array {
  if (p instanceof Blob) return bytesOf(p);
  if (p instanceof ArrayBuffer || ArrayBuffer.isView(p)) return view(p).slice();
  return utf8Encode(usv(p));
}

export function concat(parts: Uint8Array[]): Uint8Array {
  if (parts.length === 1) return parts[0]!;
  const out = new Uint8Array(parts.reduce((n, p) => n + p.byteLength, 0));
  let n = 0;
  for (const p of parts) {
    out.set(p, n);
    n += p.byteLength;
  }
  return out;
}

/** A Blob's type: lowercased, or "" when it has characters outside U+0020–U+007E (File API). */
const mime = (t: unknown) => {
  const s = t === undefined ? "" : `${t}`;
  return /[^\x20-\x7e]/.test(s) ? "" : s.toLowerCase();
};
/** WebIDL [Clamp] long long: NaN → 0, rounded to the nearest integer, ties to even */
function clampInt(v: unknown): number {
  const x = Number(v);
  if (Number.isNaN(x)) return 0;
  const f = Math.floor(x), d = x - f;
  return d > 0.5 || (d === 0.5 && f % 2 !== 0) ? f + 1 : f;
}
const text = (b: Uint8Array) => {
  const s = utf8Decode(b);
  return s[0] === "\ufeff" ? s.slice(1) : s;
};

class Blob {
  #b: Uint8Array;
  #type: string;
  static {
    bytesOf = (b) => b.#b;
  }
  constructor(parts?: unknown, opts?: { type?: unknown; endings?: unknown } | null) {
    if (parts !== undefined && (Object(parts) !== parts || typeof (parts as any)[Symbol.iterator] !== "function")) {
      throw TE("Blob: the parts must be a sequence");
    }
    this.#b = concat(Array.from((parts ?? []) as Iterable<unknown>, part));
    this.#type = mime(opts?.type);
  }
  get size(): number { return this.#b.byteLength; }
  get type(): string { return this.#type; }
  slice(start?: unknown, end?: unknown, type?: unknown): Blob {
    const n = this.#b.byteLength;
    const rel = (v: unknown, d: number) => {
      const x = v === undefined ? d : clampInt(v);
      return x < 0 ? Math.max(n + x, 0) : Math.min(x, n);
    };
    const s = rel(start, 0), e = rel(end, n), b = new Blob([], { type });
    b.#b = this.#b.subarray(s, Math.max(s, e));
    return b;
  }
  arrayBuffer(): Promise<ArrayBuffer> { return Promise.resolve(this.#b.slice().buffer); }
  bytes(): Promise<Uint8Array> { return Promise.resolve(this.#b.slice()); }
  text(): Promise<string> { return Promise.resolve(text(this.#b)); }
  stream(): unknown { return fromBytes(this.#b); }
}

class File extends Blob {
  #name: string;
  #lastModified: number;
  constructor(bits: unknown, name: unknown, opts?: { type?: unknown; lastModified?: unknown } | null) {
    if (arguments.length < 2) throw TE("File: a name is required");
    super(bits, opts);
    this.#name = usv(name);
    this.#lastModified = opts?.lastModified === undefined ? Date.now() : Math.trunc(Number(opts.lastModified)) || 0;
  }
  get name(): string { return this.#name; }
  get lastModified(): number { return this.#lastModified; }
  get webkitRelativePath(): string { return ""; }
}

/** The bytes of a Blob (shared: never mutated). */
export const blobBytes = (b: Blob): Uint8Array => bytesOf(b);

// ---------------------------------------------------------------- FormData

type Entry = [string, string | File];
let entries: (f: FormData) => Entry[];

function entry(name: unknown, value: unknown, filename: unknown, argc: number): Entry {
  if (argc < 2) throw TE("FormData: a name and a value are required");
  if (!(value instanceof Blob)) return [usv(name), usv(value)];
  const n = filename !== undefined ? usv(filename) : value instanceof File ? value.name : "blob";
  const f = value instanceof File && filename === undefined ? value
    : new File([value], n, { type: value.type, lastModified: value instanceof File ? value.lastModified : undefined });
  return [usv(name), f];
}

class FormData {
  #l: Entry[] = [];
  static {
    entries = (f) => f.#l;
  }
  constructor(form?: unknown) {
    if (form !== undefined) throw TE("FormData: there are no form elements here; construct it empty and append()");
  }
  append(name: unknown, value: unknown, filename?: unknown): void {
    this.#l.push(entry(name, value, filename, arguments.length));
  }
  set(name: unknown, value: unknown, filename?: unknown): void {
    const e = entry(name, value, filename, arguments.length), i = this.#l.findIndex((x) => x[0] === e[0]);
    if (i < 0) this.#l.push(e);
    else this.#l = this.#l.filter((x, j) => j < i || x[0] !== e[0]).toSpliced(i, 0, e);
  }
  delete(name: unknown): void {
    const n = usv(name);
    this.#l = this.#l.filter((x) => x[0] !== n);
  }
  get(name: unknown): string | File | null {
    const n = usv(name);
    return this.#l.find((x) => x[0] === n)?.[1] ?? null;
  }
  getAll(name: unknown): (string | File)[] {
    const n = usv(name);
    return this.#l.filter((x) => x[0] === n).map((x) => x[1]);
  }
  has(name: unknown): boolean {
    const n = usv(name);
    return this.#l.some((x) => x[0] === n);
  }
  forEach(cb: (value: string | File, key: string, parent: FormData) => void, thisArg?: unknown): void {
    for (const [k, v] of this.entries()) cb.call(thisArg, v, k, this);
  }
  *entries(): IterableIterator<Entry> {
    for (let i = 0; i < this.#l.length; i++) yield [this.#l[i]![0], this.#l[i]![1]];
  }
  *keys(): IterableIterator<string> { for (const e of this.entries()) yield e[0]; }
  *values(): IterableIterator<string | File> { for (const e of this.entries()) yield e[1]; }
  [Symbol.iterator](): IterableIterator<Entry> { return this.entries(); }
}

// ---------------------------------------------------------------- multipart/form-data

const esc = (s: string) => s.replace(/\n/g, "%0A").replace(/\r/g, "%0D").replace(/"/g, "%22");

/** The multipart/form-data body of `f` and its content type (HTML's encoding algorithm). */
export function encodeForm(f: FormData): { bytes: Uint8Array; type: string } {
  let boundary = "----WeftFormBoundary";
  for (let i = 0; i < 16; i++) boundary += "0123456789abcdef"[Math.floor(Math.random() * 16)];
  const parts: Uint8Array[] = [];
  for (const [name, v] of entries(f)) {
    let head = `--${boundary}\r\nContent-Disposition: form-data; name="${esc(name)}"`;
    if (typeof v === "string") {
      parts.push(utf8Encode(`${head}\r\n\r\n${v.replace(/\r(?!\n)|(?<!\r)\n/g, "\r\n")}\r\n`));
      continue;
    }
    head += `; filename="${esc(v.name)}"\r\nContent-Type: ${v.type || "application/octet-stream"}\r\n\r\n`;
    parts.push(utf8Encode(head), bytesOf(v), utf8Encode("\r\n"));
  }
  parts.push(utf8Encode(`--${boundary}--\r\n`));
  return { bytes: concat(parts), type: `multipart/form-data; boundary=${boundary}` };
}

function find(b: Uint8Array, needle: Uint8Array, from: number): number {
  const first = needle[0]!;
  for (let i = b.indexOf(first, from); i >= 0 && i + needle.length <= b.length; i = b.indexOf(first, i + 1)) {
    let k = 1;
    while (k < needle.length && b[i + k] === needle[k]) k++;
    if (k === needle.length) return i;
  }
  return -1;
}

/** Parses a multipart/form-data body (TypeError when it is not one), as Request/Response.formData() does. */
export function parseMultipart(b: Uint8Array, contentType: string): FormData {
  const m = /;\s*boundary=(?:"([^"]+)"|([^;\s]+))/i.exec(contentType), bad = () => TE("The body is not valid multipart/form-data");
  if (!m) throw bad();
  const delim = utf8Encode(`--${m[1] ?? m[2]}`), next = utf8Encode(`\r\n--${m[1] ?? m[2]}`), fd = new FormData();
  let pos = find(b, delim, 0);
  if (pos < 0) throw bad();
  pos += delim.length;
  for (;;) {
    if (b[pos] === 45 && b[pos + 1] === 45) return fd; // "--": the closing delimiter
    if (b[pos] !== 13 || b[pos + 1] !== 10) throw bad();
    const hEnd = find(b, utf8Encode("\r\n\r\n"), pos);
    const end = hEnd < 0 ? -1 : find(b, next, hEnd + 4);
    if (end < 0) throw bad();
    const headers = utf8Decode(b.subarray(pos + 2, hEnd)).split("\r\n");
    const disp = headers.find((h) => /^content-disposition:/i.test(h)) ?? "";
    const name = /;\s*name="([^"]*)"/i.exec(disp)?.[1], filename = /;\s*filename="([^"]*)"/i.exec(disp)?.[1];
    if (name === undefined) throw bad();
    const type = headers.find((h) => /^content-type:/i.test(h))?.replace(/^content-type:\s*/i, "");
    const content = b.subarray(hEnd + 4, end);
    if (filename === undefined) fd.append(name, text(content));
    else fd.append(name, new File([content], filename, { type: type ?? "application/octet-stream" }));
    pos = end + next.length;
  }
}

export { Blob, File, FormData };
