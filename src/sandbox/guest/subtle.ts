// Runs INSIDE the guest isolate: crypto.subtle as Workers has it — digest (SHA-1/256/384/512, and
// Workers' MD5), HMAC, AES-GCM/CBC/CTR/KW, PBKDF2 and HKDF, with importKey/exportKey (raw, jwk),
// generateKey, deriveBits/deriveKey, wrapKey/unwrapKey; signatures with RSASSA-PKCS1-v1_5, RSA-PSS,
// ECDSA (P-256/384/521) and Ed25519 (also Workers' older NODE-ED25519), keys in spki/pkcs8/jwk/raw —
// plus Workers' crypto.subtle.timingSafeEqual and crypto.DigestStream. Argument rules, keys and usages live here; the primitives are computed by
// node:crypto on the host through one synchronous call (protocol.ts CryptoRequest), so the
// cryptography is OpenSSL's, never JavaScript of ours. Errors are DOMExceptions with WebCrypto's
// names (NotSupportedError, InvalidAccessError, DataError, OperationError, SyntaxError) or TypeErrors.
// Knowingly unsupported (NotSupportedError): RSA-OAEP, ECDH, X25519, and generating RSA keys (it
// would hold the host's thread for up to seconds: import one).
/* eslint-disable @typescript-eslint/no-explicit-any */
import type { AsymAlgorithm, AsymKeyInfo, CryptoRequest, SyncReply } from "../protocol.ts";
import { DOMException, TE, utf8Decode, utf8Encode, view } from "./web-base.ts";
import { streams } from "./streams.ts";
import { atob, btoa } from "./web.ts";

type Call = (req: CryptoRequest) => SyncReply;
type Alg = { name: string; [k: string]: any };
type Usage = "encrypt" | "decrypt" | "sign" | "verify" | "deriveKey" | "deriveBits" | "wrapKey" | "unwrapKey";

const HASH_BITS: Record<string, number> = { "SHA-1": 160, "SHA-256": 256, "SHA-384": 384, "SHA-512": 512 };
const BLOCK_BITS: Record<string, number> = { "SHA-1": 512, "SHA-256": 512, "SHA-384": 1024, "SHA-512": 1024 };
const USAGES: Record<string, Usage[]> = {
  HMAC: ["sign", "verify"],
  "RSASSA-PKCS1-v1_5": ["sign", "verify"],
  "RSA-PSS": ["sign", "verify"],
  ECDSA: ["sign", "verify"],
  Ed25519: ["sign", "verify"],
  "NODE-ED25519": ["sign", "verify"],
  "AES-GCM": ["encrypt", "decrypt", "wrapKey", "unwrapKey"],
  "AES-CBC": ["encrypt", "decrypt", "wrapKey", "unwrapKey"],
  "AES-CTR": ["encrypt", "decrypt", "wrapKey", "unwrapKey"],
  "AES-KW": ["wrapKey", "unwrapKey"],
  PBKDF2: ["deriveKey", "deriveBits"],
  HKDF: ["deriveKey", "deriveBits"],
};
/** signing algorithms with key pairs (NODE-ED25519: Workers' name for Ed25519 before the standard one) */
const SIGNING = ["RSASSA-PKCS1-v1_5", "RSA-PSS", "ECDSA", "Ed25519", "NODE-ED25519"];
const UNSUPPORTED = ["RSA-OAEP", "ECDH", "X25519"];
const NAMES = [...Object.keys(HASH_BITS), "MD5", ...Object.keys(USAGES), ...UNSUPPORTED];

const dom = (name: string, message: string) => new DOMException(message, name);
const unsupported = (what: string) => dom("NotSupportedError", `Unrecognized or unimplemented ${what}`);

let call: Call = () => ({ ok: false, error: { name: "OperationError", message: "crypto.subtle is not available here" } });

function host(req: CryptoRequest): Uint8Array {
  const r = call(req);
  if (!r.ok) throw r.error.name === "TypeError" ? TE(r.error.message) : dom(r.error.name, r.error.message);
  return r.value as Uint8Array;
}

/** A compact copy of a BufferSource's bytes (only they cross to the host, not a whole shared buffer). */
function bytes(x: unknown, what = "data"): Uint8Array {
  if (!(x instanceof ArrayBuffer) && !ArrayBuffer.isView(x)) throw TE(`${what} must be an ArrayBuffer or ArrayBufferView`);
  return view(x).slice();
}
/**
 * The bytes of a BufferSource to hand to the host, without a copy when they are a whole buffer (the
 * boundary copies them anyway; a copy here would double a large input in the isolate's heap).
 */
function input(x: unknown, what = "data"): Uint8Array {
  if (x instanceof ArrayBuffer) return new Uint8Array(x);
  if (ArrayBuffer.isView(x) && x.byteOffset === 0 && x.byteLength === x.buffer.byteLength) return new Uint8Array(x.buffer, 0, x.byteLength);
  return bytes(x, what);
}
const ab = (b: Uint8Array): ArrayBuffer => (b.byteOffset === 0 && b.byteLength === b.buffer.byteLength ? b.buffer : b.slice().buffer) as ArrayBuffer;

/** Normalizes an AlgorithmIdentifier: its name in WebCrypto's spelling (matched case-insensitively). */
function algo(a: unknown): Alg {
  const o = typeof a === "string" ? { name: a } : a;
  if (Object(o) !== o || (o as any).name === undefined) throw TE("An algorithm must be a string or an object with a name");
  const n = `${(o as any).name}`, name = NAMES.find((k) => k.toLowerCase() === n.toLowerCase());
  if (!name) throw unsupported(`algorithm ${n}`);
  if (UNSUPPORTED.includes(name)) throw unsupported(`algorithm ${name} (not supported in Weft)`);
  return { ...(o as object), name };
}
function hashOf(h: unknown): string {
  if (h === undefined) throw TE("The algorithm needs a hash");
  const n = algo(h).name;
  if (!(n in HASH_BITS)) throw unsupported(`hash ${n}`);
  return n;
}

// ---------------------------------------------------------------- CryptoKey

interface KeyState {
  type: "secret" | "public" | "private";
  extractable: boolean;
  algorithm: Alg;
  usages: Usage[];
  data: Uint8Array;
}
const KEY = Symbol();
let keyState: (k: CryptoKey) => KeyState;
let makeKey: (s: KeyState) => CryptoKey;

class CryptoKey {
  #s!: KeyState;
  #alg?: object;
  #use?: string[];
  static {
    keyState = (k) => {
      if (!(k instanceof CryptoKey)) throw TE("Expected a CryptoKey");
      return k.#s;
    };
    makeKey = (s) => {
      const k = new CryptoKey(KEY);
      k.#s = s;
      return k;
    };
  }
  constructor(key?: unknown) {
    if (key !== KEY) throw TE("Illegal constructor");
  }
  get type(): string { return this.#s.type; }
  get extractable(): boolean { return this.#s.extractable; }
  get algorithm(): object { return (this.#alg ??= structuredCloneAlg(this.#s.algorithm)); }
  get usages(): string[] { return (this.#use ??= [...this.#s.usages]); }
}
const structuredCloneAlg = (a: Alg): object => ({ ...a, ...(a.hash ? { hash: { ...a.hash } } : {}) });

function usages(list: unknown, name: string): Usage[] {
  if (Object(list) !== list || typeof (list as any)[Symbol.iterator] !== "function") throw TE("keyUsages must be a sequence");
  const out: Usage[] = [];
  for (const u of list as Iterable<unknown>) {
    const s = `${u}` as Usage;
    if (!USAGES[name]!.includes(s)) throw dom("SyntaxError", `Unsupported key usage for a ${name} key: ${s}`);
    if (!out.includes(s)) out.push(s);
  }
  return out;
}
function newKey(alg: Alg, extractable: boolean, use: Usage[], data: Uint8Array, type: KeyState["type"] = "secret"): CryptoKey {
  if (use.length === 0 && type !== "public") throw dom("SyntaxError", "Usages cannot be empty when creating a key.");
  return makeKey({ type, extractable: !!extractable, algorithm: alg, usages: use, data });
}
/** The key, checked to be for `name` and allowed `use`. */
function keyFor(k: unknown, name: string, use: Usage): KeyState {
  const s = keyState(k as CryptoKey);
  if (s.algorithm.name !== name) throw dom("InvalidAccessError", `The requested operation is not valid for the provided key (a ${s.algorithm.name} key, not ${name})`);
  if (!s.usages.includes(use)) throw dom("InvalidAccessError", `The key does not allow ${use}`);
  return s;
}

// ---------------------------------------------------------------- key formats (raw, jwk)

const b64u = (b: Uint8Array) => btoa(String.fromCharCode(...b)).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
function unb64u(s: unknown): Uint8Array {
  try {
    return Uint8Array.from(atob(`${s}`.replace(/-/g, "+").replace(/_/g, "/")), (c) => c.charCodeAt(0));
  } catch {
    throw dom("DataError", "Invalid base64url in the JWK");
  }
}
const JWK_AES: Record<string, string> = { "AES-GCM": "GCM", "AES-CBC": "CBC", "AES-CTR": "CTR", "AES-KW": "KW" };
const jwkAlg = (a: Alg, bytes: number) => (a.name === "HMAC" ? `HS${a.hash.name.slice(4)}` : `A${bytes * 8}${JWK_AES[a.name]}`);

/** The key bytes of `format` data for `alg`; checks the JWK's kty, alg, use, key_ops and ext. */
function keyBytes(format: string, data: unknown, alg: Alg, extractable: boolean, use: Usage[]): Uint8Array {
  if (format === "raw") return bytes(data, "keyData");
  if (format !== "jwk") throw unsupported(`key format ${format} for ${alg.name}`);
  const j = data as any;
  if (Object(j) !== j) throw TE("A JWK must be an object");
  if (j.kty !== "oct") throw dom("DataError", "A symmetric JWK must have kty \"oct\"");
  if (typeof j.k !== "string") throw dom("DataError", "The JWK has no k");
  const b = unb64u(j.k);
  if (j.alg !== undefined && j.alg !== jwkAlg(alg, b.length)) throw dom("DataError", `The JWK's alg ${j.alg} does not match ${jwkAlg(alg, b.length)}`);
  if (j.use !== undefined && j.use !== (alg.name === "HMAC" ? "sig" : "enc")) throw dom("DataError", `The JWK's use ${j.use} does not fit ${alg.name}`);
  if (j.key_ops !== undefined && (!Array.isArray(j.key_ops) || use.some((u) => !j.key_ops.includes(u)))) throw dom("DataError", "The JWK's key_ops do not allow these usages");
  if (j.ext === false && extractable) throw dom("DataError", "The JWK is not extractable");
  return b;
}

function importSecret(format: string, data: unknown, a: Alg, extractable: boolean, use: Usage[]): CryptoKey {
  switch (a.name) {
    case "HMAC": {
      const hash = hashOf(a.hash), b = keyBytes(format, data, { name: "HMAC", hash: { name: hash } }, extractable, use);
      if (b.length === 0) throw dom("DataError", "An HMAC key cannot be empty");
      let length = b.length * 8;
      if (a.length !== undefined) {
        length = Number(a.length);
        if (!(length <= b.length * 8 && length > b.length * 8 - 8)) throw dom("DataError", "The HMAC key length does not match the key data");
      }
      return newKey({ name: "HMAC", hash: { name: hash }, length }, extractable, use, b);
    }
    case "AES-GCM": case "AES-CBC": case "AES-CTR": case "AES-KW": {
      const b = keyBytes(format, data, a, extractable, use);
      if (![16, 24, 32].includes(b.length)) throw dom("DataError", `Invalid key length: AES keys are 128, 192 or 256 bits, got ${b.length * 8}`);
      return newKey({ name: a.name, length: b.length * 8 }, extractable, use, b);
    }
    case "PBKDF2": case "HKDF":
      if (format !== "raw") throw unsupported(`key format ${format} for ${a.name}`);
      if (extractable) throw dom("SyntaxError", `${a.name} keys cannot be extractable`);
      return newKey({ name: a.name }, false, use, bytes(data, "keyData"));
    default:
      throw unsupported(`importKey for ${a.name}`);
  }
}

function exportSecret(format: string, k: unknown): ArrayBuffer | object {
  const s = keyState(k as CryptoKey);
  if (!s.extractable) throw dom("InvalidAccessError", "The key is not extractable");
  if (format === "raw" && s.algorithm.name !== "PBKDF2" && s.algorithm.name !== "HKDF") return ab(s.data.slice());
  if (format === "jwk" && (s.algorithm.name === "HMAC" || s.algorithm.name in JWK_AES)) {
    return { kty: "oct", k: b64u(s.data), alg: jwkAlg(s.algorithm, s.data.length), key_ops: [...s.usages], ext: true };
  }
  throw unsupported(`key format ${format} for ${s.algorithm.name}`);
}

/** The length in bits of the key that `a` describes (generateKey, deriveKey). */
function keyLength(a: Alg): number {
  if (a.name === "HMAC") {
    const n = a.length === undefined ? BLOCK_BITS[hashOf(a.hash)]! : Number(a.length);
    if (!Number.isInteger(n) || n <= 0) throw dom("OperationError", "Invalid HMAC key length");
    return n;
  }
  if (a.name in JWK_AES) {
    const n = Number(a.length);
    if (![128, 192, 256].includes(n)) throw dom("OperationError", "AES key length must be 128, 192 or 256 bits");
    return n;
  }
  throw unsupported(`a key of ${a.name}`);
}

// ---------------------------------------------------------------- signing key pairs

const CURVES = ["P-256", "P-384", "P-521"];
/** The host's view of a signing algorithm (NODE-ED25519 is Ed25519) with the key's parameters. */
function asym(a: Alg, extra: Partial<AsymAlgorithm> = {}): AsymAlgorithm {
  const name = (a.name === "NODE-ED25519" ? "Ed25519" : a.name) as AsymAlgorithm["name"];
  return { name, ...(a.hash !== undefined ? { hash: hashOf(a.hash) } : {}), ...(a.namedCurve ? { namedCurve: `${a.namedCurve}` } : {}), ...extra };
}
/** The algorithm a key of `a` reports, from the import's parameters and what the host found in the key. */
function keyAlg(a: Alg, k: AsymKeyInfo): Alg {
  switch (a.name) {
    case "RSASSA-PKCS1-v1_5": case "RSA-PSS":
      return { name: a.name, modulusLength: k.modulusLength, publicExponent: k.publicExponent, hash: { name: hashOf(a.hash) } };
    case "ECDSA": {
      const c = `${a.namedCurve}`;
      if (!CURVES.includes(c)) throw unsupported(`namedCurve ${c}`);
      return { name: "ECDSA", namedCurve: c };
    }
    case "NODE-ED25519":
      if (a.namedCurve !== "NODE-ED25519") throw unsupported(`namedCurve ${a.namedCurve} for NODE-ED25519`);
      return { name: "NODE-ED25519", namedCurve: "NODE-ED25519" };
    default:
      return { name: "Ed25519" };
  }
}
function checkParams(a: Alg): void {
  if (a.name === "RSASSA-PKCS1-v1_5" || a.name === "RSA-PSS") hashOf(a.hash);
  if (a.name === "ECDSA" && !CURVES.includes(`${a.namedCurve}`)) throw unsupported(`namedCurve ${a.namedCurve}`);
  if (a.name === "NODE-ED25519" && a.namedCurve !== "NODE-ED25519") throw unsupported(`namedCurve ${a.namedCurve} for NODE-ED25519`);
}
/** A public key may only verify, a private one only sign. */
function pairUsages(type: "public" | "private", use: Usage[]): Usage[] {
  const allowed = type === "public" ? "verify" : "sign";
  for (const u of use) if (u !== allowed) throw dom("SyntaxError", `A ${type} key cannot be used to ${u}`);
  return use;
}

function importPair(format: string, data: unknown, a: Alg, extractable: boolean, use: Usage[]): CryptoKey {
  checkParams(a);
  if (!["spki", "pkcs8", "jwk", "raw"].includes(format)) throw unsupported(`key format ${format}`);
  if (format === "jwk" && Object(data) !== data) throw TE("A JWK must be an object");
  const k = host({ op: "importKey", alg: asym(a), format: format as "spki", data: format === "jwk" ? JSON.stringify(data) : bytes(data, "keyData") }) as unknown as AsymKeyInfo;
  return newKey(keyAlg(a, k), extractable, pairUsages(k.type, use), k.der, k.type);
}

const JWS: Record<string, (s: KeyState) => string> = {
  "RSASSA-PKCS1-v1_5": (s) => `RS${s.algorithm.hash.name.slice(4)}`,
  "RSA-PSS": (s) => `PS${s.algorithm.hash.name.slice(4)}`,
  ECDSA: (s) => `ES${s.algorithm.namedCurve === "P-521" ? 512 : s.algorithm.namedCurve.slice(2)}`,
  Ed25519: () => "EdDSA",
  "NODE-ED25519": () => "EdDSA",
};

function exportPair(format: string, s: KeyState): ArrayBuffer | object {
  if (format === "spki" || format === "pkcs8") {
    if ((format === "spki") !== (s.type === "public")) throw dom("InvalidAccessError", `A ${s.type} key cannot be exported as ${format}`);
    return ab(s.data.slice());
  }
  if (format !== "jwk" && format !== "raw") throw unsupported(`key format ${format}`);
  const v = host({ op: "exportKey", alg: asym(s.algorithm), format, type: s.type as "public", der: s.data }) as unknown;
  if (format === "raw") return ab(v as Uint8Array);
  const jwk = JSON.parse(v as string);
  if (s.algorithm.name !== "ECDSA") jwk.alg = JWS[s.algorithm.name]!(s);
  return { ...jwk, key_ops: [...s.usages], ext: true };
}

function generatePair(a: Alg, extractable: boolean, use: Usage[]): { publicKey: CryptoKey; privateKey: CryptoKey } {
  checkParams(a);
  const k = host({ op: "generateKey", alg: asym(a) }) as unknown as AsymKeyInfo, alg = keyAlg(a, k);
  const priv = use.filter((u) => u === "sign"), pub = use.filter((u) => u === "verify");
  if (priv.length === 0) throw dom("SyntaxError", "Usages cannot be empty when creating a key.");
  return { publicKey: newKey(alg, true, pub, k.publicDer!, "public"), privateKey: newKey(alg, extractable, priv, k.der, "private") };
}

/** sign/verify with a key pair's half: the call's parameters (ECDSA's hash, RSA-PSS's saltLength) and the key's */
function pairSign(a: Alg, key: unknown, data: unknown, verifying: boolean, signature?: unknown): ArrayBuffer | boolean {
  const s = keyState(key as CryptoKey);
  if (s.algorithm.name !== a.name) throw dom("InvalidAccessError", `The requested operation is not valid for the provided key (a ${s.algorithm.name} key, not ${a.name})`);
  if (s.type !== (verifying ? "public" : "private") || !s.usages.includes(verifying ? "verify" : "sign")) {
    throw dom("InvalidAccessError", `The key does not allow ${verifying ? "verify" : "sign"}`);
  }
  const extra: Partial<AsymAlgorithm> = {};
  if (a.name === "ECDSA") extra.hash = hashOf(a.hash);
  if (a.name === "RSA-PSS") {
    const n = Number(a.saltLength);
    if (!Number.isInteger(n) || n < 0) throw TE("RSA-PSS needs a saltLength");
    extra.saltLength = n;
  }
  const alg = asym(s.algorithm, extra);
  if (!verifying) return ab(host({ op: "sign", alg, der: s.data, data: input(data) }));
  return host({ op: "verify", alg, der: s.data, data: input(data), signature: bytes(signature, "signature") }) as unknown as boolean;
}

// ---------------------------------------------------------------- operations

function cipher(a: Alg, k: unknown, data: unknown, decrypt: boolean, use: Usage = decrypt ? "decrypt" : "encrypt"): ArrayBuffer {
  const s = keyFor(k, a.name, use), d = input(data);
  switch (a.name) {
    case "AES-GCM": {
      const tag = a.tagLength === undefined ? 128 : Number(a.tagLength);
      if (![32, 64, 96, 104, 112, 120, 128].includes(tag)) throw dom("OperationError", `Invalid AES-GCM tagLength ${a.tagLength}`);
      const aad = a.additionalData === undefined ? undefined : bytes(a.additionalData, "additionalData");
      return ab(host({ op: "aes", mode: "GCM", decrypt, key: s.data, iv: bytes(a.iv, "iv"), data: d, aad, tagBytes: tag / 8 }));
    }
    case "AES-CBC": {
      const iv = bytes(a.iv, "iv");
      if (iv.length !== 16) throw dom("OperationError", "AES-CBC iv must be 16 bytes");
      return ab(host({ op: "aes", mode: "CBC", decrypt, key: s.data, iv, data: d }));
    }
    case "AES-CTR": {
      const counter = bytes(a.counter, "counter"), n = Number(a.length);
      if (counter.length !== 16) throw dom("OperationError", "AES-CTR counter must be 16 bytes");
      if (!Number.isInteger(n) || n < 1 || n > 128) throw dom("OperationError", "AES-CTR length must be from 1 to 128");
      return ab(host({ op: "aes", mode: "CTR", decrypt, key: s.data, iv: counter, data: d, counterBits: n }));
    }
    case "AES-KW":
      if (use !== "wrapKey" && use !== "unwrapKey") throw dom("InvalidAccessError", "AES-KW only wraps and unwraps keys");
      return ab(host({ op: "aes", mode: "KW", decrypt, key: s.data, iv: new Uint8Array(0), data: d }));
    default:
      throw unsupported(`${decrypt ? "decrypt" : "encrypt"} with ${a.name}`);
  }
}

function deriveBits(a: Alg, k: unknown, length: unknown, use: Usage = "deriveBits"): ArrayBuffer {
  const s = keyFor(k, a.name, use);
  if (length === null || length === undefined) throw dom("OperationError", `${a.name} needs a length`);
  const bits = Number(length);
  if (!Number.isInteger(bits) || bits < 0 || bits % 8) throw dom("OperationError", "length must be a multiple of 8");
  if (bits === 0) return new ArrayBuffer(0);
  if (a.name === "PBKDF2") {
    const iterations = Number(a.iterations);
    if (!Number.isInteger(iterations) || iterations <= 0) throw dom("OperationError", "PBKDF2 iterations must be a positive integer");
    if (iterations > 100_000) throw dom("NotSupportedError", `Pbkdf2 failed: iteration counts above 100000 are not supported (requested ${iterations}).`);
    return ab(host({ op: "pbkdf2", hash: hashOf(a.hash), password: s.data, salt: bytes(a.salt, "salt"), iterations, bits }));
  }
  if (a.name === "HKDF") {
    return ab(host({ op: "hkdf", hash: hashOf(a.hash), key: s.data, salt: bytes(a.salt, "salt"), info: bytes(a.info, "info"), bits }));
  }
  throw unsupported(`deriveBits with ${a.name}`);
}

/** Constant-time comparison of equal-length buffers (Workers' crypto.subtle.timingSafeEqual). */
function timingSafeEqual(a: unknown, b: unknown): boolean {
  if ((!(a instanceof ArrayBuffer) && !ArrayBuffer.isView(a)) || (!(b instanceof ArrayBuffer) && !ArrayBuffer.isView(b))) {
    throw TE("timingSafeEqual takes two ArrayBuffers or ArrayBufferViews");
  }
  const x = view(a), y = view(b);
  if (x.byteLength !== y.byteLength) throw TE("Input buffers must have the same byte length");
  let d = 0;
  for (let i = 0; i < x.byteLength; i++) d |= x[i]! ^ y[i]!;
  return d === 0;
}

/** Runs `fn` as a promise (WebCrypto rejects rather than throws). */
const later = <T>(fn: () => T): Promise<T> => new Promise((resolve) => resolve(fn()));

class SubtleCrypto {
  constructor(key?: unknown) {
    if (key !== KEY) throw TE("Illegal constructor");
  }
  digest(algorithm: unknown, data: unknown): Promise<ArrayBuffer> {
    return later(() => {
      const n = algo(algorithm).name;
      if (!(n in HASH_BITS) && n !== "MD5") throw unsupported(`digest algorithm ${n}`);
      return ab(host({ op: "digest", hash: n, data: input(data) }));
    });
  }
  generateKey(algorithm: unknown, extractable: boolean, keyUsages: Iterable<string>): Promise<CryptoKey | { publicKey: CryptoKey; privateKey: CryptoKey }> {
    return later(() => {
      const a = algo(algorithm), use = usages(keyUsages, a.name);
      if (a.name === "PBKDF2" || a.name === "HKDF" || !USAGES[a.name]) throw unsupported(`generateKey for ${a.name}`);
      if (SIGNING.includes(a.name)) return generatePair(a, extractable, use) as unknown as CryptoKey;
      const n = keyLength(a), data = new Uint8Array(Math.ceil(n / 8));
      (globalThis as any).crypto.getRandomValues(data);
      return importSecret("raw", data, { ...a, length: a.name === "HMAC" ? n : undefined }, extractable, use);
    });
  }
  importKey(format: string, keyData: unknown, algorithm: unknown, extractable: boolean, keyUsages: Iterable<string>): Promise<CryptoKey> {
    return later(() => {
      const a = algo(algorithm);
      if (!USAGES[a.name]) throw unsupported(`importKey for ${a.name}`);
      if (SIGNING.includes(a.name)) return importPair(`${format}`, keyData, a, extractable, usages(keyUsages, a.name));
      return importSecret(`${format}`, keyData, a, extractable, usages(keyUsages, a.name));
    });
  }
  exportKey(format: string, key: CryptoKey): Promise<ArrayBuffer | object> {
    return later(() => {
      const s = keyState(key);
      if (s.type === "secret") return exportSecret(`${format}`, key);
      if (!s.extractable) throw dom("InvalidAccessError", "The key is not extractable");
      return exportPair(`${format}`, s);
    });
  }
  sign(algorithm: unknown, key: CryptoKey, data: unknown): Promise<ArrayBuffer> {
    return later(() => {
      const a = algo(algorithm);
      if (SIGNING.includes(a.name)) return pairSign(a, key, data, false) as ArrayBuffer;
      if (a.name !== "HMAC") throw unsupported(`sign with ${a.name}`);
      const s = keyFor(key, "HMAC", "sign");
      return ab(host({ op: "hmac", hash: s.algorithm.hash.name, key: s.data, data: input(data) }));
    });
  }
  verify(algorithm: unknown, key: CryptoKey, signature: unknown, data: unknown): Promise<boolean> {
    return later(() => {
      const a = algo(algorithm);
      if (SIGNING.includes(a.name)) return pairSign(a, key, data, true, signature) as boolean;
      if (a.name !== "HMAC") throw unsupported(`verify with ${a.name}`);
      const s = keyFor(key, "HMAC", "verify"), sig = bytes(signature, "signature");
      const mac = host({ op: "hmac", hash: s.algorithm.hash.name, key: s.data, data: input(data) });
      return sig.length === mac.length && timingSafeEqual(sig, mac);
    });
  }
  encrypt(algorithm: unknown, key: CryptoKey, data: unknown): Promise<ArrayBuffer> {
    return later(() => cipher(algo(algorithm), key, data, false));
  }
  decrypt(algorithm: unknown, key: CryptoKey, data: unknown): Promise<ArrayBuffer> {
    return later(() => cipher(algo(algorithm), key, data, true));
  }
  deriveBits(algorithm: unknown, baseKey: CryptoKey, length?: number | null): Promise<ArrayBuffer> {
    return later(() => deriveBits(algo(algorithm), baseKey, length));
  }
  deriveKey(algorithm: unknown, baseKey: CryptoKey, derivedKeyType: unknown, extractable: boolean, keyUsages: Iterable<string>): Promise<CryptoKey> {
    return later(() => {
      const a = algo(algorithm), t = algo(derivedKeyType), use = usages(keyUsages, t.name);
      const bits = deriveBits(a, baseKey, keyLength(t), "deriveKey");
      return importSecret("raw", bits, t, extractable, use);
    });
  }
  wrapKey(format: string, key: CryptoKey, wrappingKey: CryptoKey, wrapAlgorithm: unknown): Promise<ArrayBuffer> {
    return later(() => {
      const out = exportSecret(`${format}`, key);
      const data = out instanceof ArrayBuffer ? out : utf8Encode(JSON.stringify(out));
      return cipher(algo(wrapAlgorithm), wrappingKey, data, false, "wrapKey");
    });
  }
  unwrapKey(format: string, wrappedKey: unknown, unwrappingKey: CryptoKey, unwrapAlgorithm: unknown, unwrappedKeyAlgorithm: unknown,
    extractable: boolean, keyUsages: Iterable<string>): Promise<CryptoKey> {
    return later(() => {
      const raw = new Uint8Array(cipher(algo(unwrapAlgorithm), unwrappingKey, wrappedKey, true, "unwrapKey"));
      let data: unknown = raw;
      if (`${format}` === "jwk") {
        try {
          data = JSON.parse(utf8Decode(raw));
        } catch {
          throw dom("DataError", "The unwrapped key is not a JWK");
        }
      }
      const a = algo(unwrappedKeyAlgorithm);
      if (!USAGES[a.name]) throw unsupported(`unwrapKey for ${a.name}`);
      return importSecret(`${format}`, data, a, extractable, usages(keyUsages, a.name));
    });
  }
  timingSafeEqual(a: unknown, b: unknown): boolean {
    return timingSafeEqual(a, b);
  }
}

// ---------------------------------------------------------------- crypto.DigestStream, install

let DigestStreamClass: unknown;
/** Workers' crypto.DigestStream: a WritableStream whose `digest` resolves to the hash of what was written. */
function digestStream(): unknown {
  if (DigestStreamClass) return DigestStreamClass;
  const S = streams();
  class DigestStream extends S.WritableStream<unknown> {
    readonly digest: Promise<ArrayBuffer>;
    bytesWritten = 0;
    constructor(algorithm: unknown) {
      const n = algo(algorithm).name;
      if (!(n in HASH_BITS) && n !== "MD5") throw unsupported(`digest algorithm ${n}`);
      const parts: Uint8Array[] = [];
      let done!: (v: ArrayBuffer) => void, fail!: (e: unknown) => void;
      const digest = new Promise<ArrayBuffer>((res, rej) => {
        done = res;
        fail = rej;
      });
      digest.catch(() => undefined);
      super({
        write: (chunk) => {
          const b = bytes(chunk, "chunk");
          parts.push(b);
          this.bytesWritten += b.byteLength;
        },
        close: () => {
          const all = new Uint8Array(parts.reduce((s, p) => s + p.byteLength, 0));
          let at = 0;
          for (const p of parts) {
            all.set(p, at);
            at += p.byteLength;
          }
          try {
            done(ab(host({ op: "digest", hash: n, data: all })));
          } catch (e) {
            fail(e);
          }
        },
        abort: (reason) => fail(reason),
      });
      this.digest = digest;
    }
  }
  Object.defineProperty(DigestStream, "name", { value: "DigestStream" });
  return (DigestStreamClass = DigestStream);
}

/**
 * Adds `subtle` (made on first use) and `DigestStream` to the realm's crypto object (its other members,
 * getRandomValues and randomUUID, are kept as they are), and the SubtleCrypto and CryptoKey globals.
 * `hostCall` answers the primitives (the runtime's synchronous host callback).
 */
export function installCrypto(g: Record<string, unknown>, hostCall: Call): void {
  call = hostCall;
  const base = (g.crypto ?? {}) as object;
  let subtle: SubtleCrypto | undefined;
  const c = Object.defineProperties(Object.create(Object.getPrototypeOf(base)), {
    ...Object.getOwnPropertyDescriptors(base),
    subtle: { get: () => (subtle ??= new SubtleCrypto(KEY)), enumerable: true, configurable: false },
    DigestStream: { get: digestStream, enumerable: true, configurable: false },
    [Symbol.toStringTag]: { value: "Crypto", configurable: true },
  });
  for (const [k, C] of [["SubtleCrypto", SubtleCrypto], ["CryptoKey", CryptoKey]] as const) {
    Object.defineProperty(C, "name", { value: k, configurable: true });
    Object.defineProperty(C.prototype, Symbol.toStringTag, { value: k, configurable: true });
    Object.defineProperty(g, k, { value: C, writable: true, configurable: true, enumerable: false });
  }
  Object.defineProperty(g, "crypto", { value: Object.freeze(c), writable: true, configurable: true, enumerable: false });
}
