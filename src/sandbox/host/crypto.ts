// Host side of crypto.subtle: the primitives of protocol.ts CryptoRequest, computed by node:crypto
// (OpenSSL), synchronously inside the guest's call (isolates.ts charges the time to the run). Every
// field is checked again here, since anything from the isolate is hostile; a failure is a
// DOMException name and message for the guest, never a throw into the host. Work per call is bounded:
// the input by the isolate's memory limit, PBKDF2 by Workers' 100,000 iterations and a derived length
// cap, HKDF by its own 255-block limit, RSA keys by MAX_RSA_BITS (and RSA keys are never generated
// here: that takes up to seconds of this thread).
import {
  constants, createCipheriv, createDecipheriv, createHash, createHmac, createPrivateKey, createPublicKey, generateKeyPairSync, hkdfSync,
  pbkdf2Sync, sign, verify, type CipherGCMTypes, type KeyObject,
} from "node:crypto";
import type { AsymAlgorithm, AsymKeyInfo, CryptoRequest, SyncReply } from "../protocol.ts";

const HASHES: Record<string, string> = { "SHA-1": "sha1", "SHA-256": "sha256", "SHA-384": "sha384", "SHA-512": "sha512" };
/** Workers' limit on PBKDF2 iterations */
export const MAX_PBKDF2_ITERATIONS = 100_000;
/** the longest PBKDF2 output (bits): its cost is iterations × blocks, all on the host's thread */
export const MAX_PBKDF2_BITS = 2048;
/** the largest RSA modulus accepted: a signature with a larger one costs this thread too much */
export const MAX_RSA_BITS = 4096;
const KW_IV = Buffer.from("a6a6a6a6a6a6a6a6", "hex");
const FAILED = "Decryption failed. This could be due to a ciphertext authentication failure, bad padding, incorrect CryptoKey, or another algorithm-specific reason.";

class Refused extends Error {
  readonly domName: string;
  constructor(domName: string, message: string) {
    super(message);
    this.domName = domName;
  }
}

function bytes(x: unknown, what: string): Buffer {
  if (!ArrayBuffer.isView(x)) throw new Refused("TypeError", `${what} must be bytes`);
  return Buffer.from(x.buffer, x.byteOffset, x.byteLength);
}
function hash(h: unknown, md5 = false): string {
  const n = typeof h === "string" ? (md5 && h === "MD5" ? "md5" : HASHES[h]) : undefined;
  if (!n) throw new Refused("NotSupportedError", `Unrecognized hash algorithm: ${String(h)}`);
  return n;
}
function int(x: unknown, what: string, min: number, max: number): number {
  if (typeof x !== "number" || !Number.isInteger(x) || x < min || x > max) throw new Refused("OperationError", `${what} must be an integer from ${min} to ${max}`);
  return x;
}
/** a copy in a buffer of its own: a small Buffer is a view into node's shared pool, which must not cross */
const out = (b: Buffer): Uint8Array => new Uint8Array(b);

function aes(r: Extract<CryptoRequest, { op: "aes" }>): Buffer {
  const key = bytes(r.key, "key"), iv = bytes(r.iv, "iv"), data = bytes(r.data, "data");
  if (![16, 24, 32].includes(key.length)) throw new Refused("DataError", "AES keys are 128, 192 or 256 bits");
  const bits = key.length * 8;
  switch (r.mode) {
    case "GCM": {
      const tag = int(r.tagBytes ?? 16, "tagLength/8", 4, 16);
      if (![4, 8, 12, 13, 14, 15, 16].includes(tag)) throw new Refused("OperationError", "invalid tagLength");
      if (iv.length === 0) throw new Refused("OperationError", "AES-GCM needs an iv");
      const aad = r.aad === undefined ? undefined : bytes(r.aad, "additionalData");
      const opts = { authTagLength: tag };
      if (!r.decrypt) {
        const c = createCipheriv(`aes-${bits}-gcm` as CipherGCMTypes, key, iv, opts);
        if (aad) c.setAAD(aad);
        return Buffer.concat([c.update(data), c.final(), c.getAuthTag()]);
      }
      if (data.length < tag) throw new Refused("OperationError", FAILED);
      const d = createDecipheriv(`aes-${bits}-gcm` as CipherGCMTypes, key, iv, opts);
      d.setAuthTag(data.subarray(data.length - tag));
      if (aad) d.setAAD(aad);
      try {
        return Buffer.concat([d.update(data.subarray(0, data.length - tag)), d.final()]);
      } catch {
        throw new Refused("OperationError", FAILED);
      }
    }
    case "CBC": {
      if (iv.length !== 16) throw new Refused("OperationError", "AES-CBC needs a 16-byte iv");
      try {
        const c = r.decrypt ? createDecipheriv(`aes-${bits}-cbc`, key, iv) : createCipheriv(`aes-${bits}-cbc`, key, iv);
        return Buffer.concat([c.update(data), c.final()]);
      } catch {
        throw new Refused("OperationError", FAILED);
      }
    }
    case "CTR":
      return ctr(bits, key, iv, data, int(r.counterBits, "length", 1, 128));
    case "KW": {
      if (data.length % 8 !== 0 || data.length < (r.decrypt ? 24 : 16)) throw new Refused("OperationError", "AES-KW data must be a multiple of 8 bytes, at least 16");
      try {
        const c = r.decrypt ? createDecipheriv(`id-aes${bits}-wrap`, key, KW_IV) : createCipheriv(`id-aes${bits}-wrap`, key, KW_IV);
        return Buffer.concat([c.update(data), c.final()]);
      } catch {
        throw new Refused("OperationError", FAILED);
      }
    }
    default:
      throw new Refused("NotSupportedError", `Unrecognized AES mode: ${String((r as { mode?: unknown }).mode)}`);
  }
}

/**
 * AES-CTR where only the low `n` bits of the counter block count (WebCrypto): OpenSSL increments all
 * 128, so at the wrap of the n-bit counter the rest continues from a block whose counter bits are 0.
 */
function ctr(bits: number, key: Buffer, iv: Buffer, data: Buffer, n: number): Buffer {
  if (iv.length !== 16) throw new Refused("OperationError", "AES-CTR needs a 16-byte counter");
  const blocks = BigInt(Math.ceil(data.length / 16)), space = 1n << BigInt(n);
  if (blocks > space) throw new Refused("OperationError", "the data is longer than the counter can count");
  const block = BigInt("0x" + iv.toString("hex")), mask = space - 1n, left = space - (block & mask);
  const run = (counter: Buffer, part: Buffer) => {
    const c = createCipheriv(`aes-${bits}-ctr`, key, counter);
    return Buffer.concat([c.update(part), c.final()]);
  };
  if (blocks <= left) return run(iv, data);
  const cut = Number(left) * 16, wrapped = Buffer.from((block & ~mask).toString(16).padStart(32, "0"), "hex");
  return Buffer.concat([run(iv, data.subarray(0, cut)), run(wrapped, data.subarray(cut))]);
}

// ---------------------------------------------------------------- asymmetric keys

const CURVES: Record<string, string> = { "P-256": "prime256v1", "P-384": "secp384r1", "P-521": "secp521r1" };
const CURVE_BYTES: Record<string, number> = { "P-256": 32, "P-384": 48, "P-521": 66 };
const ED25519_SPKI = Buffer.from("302a300506032b6570032100", "hex");

/** The key, checked to be of the algorithm's kind (and curve, and size). */
function checked(k: KeyObject, a: AsymAlgorithm): KeyObject {
  const t = k.asymmetricKeyType, d = k.asymmetricKeyDetails ?? {};
  const ok = a.name === "Ed25519" ? t === "ed25519"
    : a.name === "ECDSA" ? t === "ec" && d.namedCurve === CURVES[a.namedCurve ?? ""]
    : t === "rsa" || (t === "rsa-pss" && a.name === "RSA-PSS");
  if (!ok) throw new Refused("DataError", `The key is not a${a.namedCurve ? ` ${a.namedCurve}` : ""} ${a.name} key`);
  if ((d.modulusLength ?? 0) > MAX_RSA_BITS) throw new Refused("NotSupportedError", `RSA keys of more than ${MAX_RSA_BITS} bits are not supported`);
  return k;
}

function keyObject(a: AsymAlgorithm, type: "public" | "private", der: unknown): KeyObject {
  const key = bytes(der, "key");
  try {
    return checked(type === "public" ? createPublicKey({ key, format: "der", type: "spki" }) : createPrivateKey({ key, format: "der", type: "pkcs8" }), a);
  } catch (e) {
    if (e instanceof Refused) throw e;
    throw new Refused("DataError", `Invalid ${type === "public" ? "spki" : "pkcs8"} key data`);
  }
}

function info(k: KeyObject): AsymKeyInfo {
  const type = k.type === "private" ? "private" : "public", d = k.asymmetricKeyDetails ?? {};
  const der = out(k.export({ format: "der", type: type === "private" ? "pkcs8" : "spki" }) as Buffer);
  const res: AsymKeyInfo = { type, der };
  if (d.modulusLength !== undefined) {
    res.modulusLength = d.modulusLength;
    let e = (d.publicExponent ?? 65537n).toString(16);
    if (e.length % 2) e = "0" + e;
    res.publicExponent = out(Buffer.from(e, "hex"));
  }
  if (d.namedCurve) res.namedCurve = Object.keys(CURVES).find((c) => CURVES[c] === d.namedCurve);
  return res;
}

function importAsym(a: AsymAlgorithm, format: string, data: unknown): AsymKeyInfo {
  let k: KeyObject;
  try {
    if (format === "spki" || format === "pkcs8") return info(keyObject(a, format === "spki" ? "public" : "private", data));
    if (format === "jwk") {
      if (typeof data !== "string") throw new Refused("TypeError", "a JWK must be JSON text");
      const jwk = JSON.parse(data) as Record<string, unknown>;
      k = jwk.d !== undefined ? createPrivateKey({ key: jwk as never, format: "jwk" }) : createPublicKey({ key: jwk as never, format: "jwk" });
    } else if (format === "raw") {
      const raw = bytes(data, "keyData");
      if (a.name === "Ed25519") {
        if (raw.length !== 32) throw new Refused("DataError", "An Ed25519 public key is 32 bytes");
        k = createPublicKey({ key: Buffer.concat([ED25519_SPKI, raw]), format: "der", type: "spki" });
      } else if (a.name === "ECDSA") {
        const n = CURVE_BYTES[a.namedCurve ?? ""];
        if (!n || raw.length !== 1 + 2 * n || raw[0] !== 4) throw new Refused("DataError", "An EC public key in raw format is an uncompressed point");
        const b64 = (b: Buffer) => b.toString("base64url");
        k = createPublicKey({ key: { kty: "EC", crv: a.namedCurve!, x: b64(raw.subarray(1, 1 + n)), y: b64(raw.subarray(1 + n)) }, format: "jwk" });
      } else throw new Refused("NotSupportedError", `raw keys are not supported for ${a.name}`);
    } else throw new Refused("NotSupportedError", `Unrecognized key format: ${String(format)}`);
  } catch (e) {
    if (e instanceof Refused) throw e;
    throw new Refused("DataError", `Invalid ${String(format)} key data for ${a.name}`);
  }
  return info(checked(k, a));
}

function exportAsym(a: AsymAlgorithm, format: string, type: "public" | "private", der: unknown): Uint8Array | string {
  const k = keyObject(a, type, der);
  if (format === "jwk") return JSON.stringify(k.export({ format: "jwk" }));
  if (format !== "raw" || type !== "public") throw new Refused("InvalidAccessError", `a ${type} ${a.name} key cannot be exported as ${String(format)}`);
  const jwk = k.export({ format: "jwk" }) as { x?: string; y?: string };
  if (a.name === "Ed25519") return out(Buffer.from(jwk.x ?? "", "base64url"));
  if (a.name === "ECDSA") return out(Buffer.concat([Buffer.of(4), Buffer.from(jwk.x ?? "", "base64url"), Buffer.from(jwk.y ?? "", "base64url")]));
  throw new Refused("InvalidAccessError", `${a.name} keys cannot be exported as raw`);
}

function generateAsym(a: AsymAlgorithm): AsymKeyInfo {
  if (a.name === "Ed25519") {
    const { privateKey, publicKey } = generateKeyPairSync("ed25519");
    return { ...info(privateKey), publicDer: info(publicKey).der };
  }
  if (a.name === "ECDSA") {
    const namedCurve = CURVES[a.namedCurve ?? ""];
    if (!namedCurve) throw new Refused("NotSupportedError", `Unrecognized namedCurve: ${String(a.namedCurve)}`);
    const { privateKey, publicKey } = generateKeyPairSync("ec", { namedCurve });
    return { ...info(privateKey), publicDer: info(publicKey).der };
  }
  // generating an RSA key takes up to seconds, on this thread: import one instead
  throw new Refused("NotSupportedError", `generateKey for ${a.name} is not supported in Weft: import the key (pkcs8, spki or jwk)`);
}

/** node:crypto's sign/verify options for the algorithm (signatures in WebCrypto's IEEE P1363 form for ECDSA) */
function signOpts(a: AsymAlgorithm, key: KeyObject): [string | null, Parameters<typeof sign>[2]] {
  switch (a.name) {
    case "Ed25519":
      return [null, key];
    case "ECDSA":
      return [hash(a.hash), { key, dsaEncoding: "ieee-p1363" }];
    case "RSA-PSS":
      return [hash(a.hash), { key, padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: int(a.saltLength, "saltLength", 0, 1024) }];
    case "RSASSA-PKCS1-v1_5":
      return [hash(a.hash), { key, padding: constants.RSA_PKCS1_PADDING }];
    default:
      throw new Refused("NotSupportedError", `Unrecognized signature algorithm: ${String((a as { name?: unknown }).name)}`);
  }
}

function compute(r: CryptoRequest): Buffer | Uint8Array | string | boolean | AsymKeyInfo {
  switch (r.op) {
    case "digest":
      return createHash(hash(r.hash, true)).update(bytes(r.data, "data")).digest();
    case "hmac":
      return createHmac(hash(r.hash), bytes(r.key, "key")).update(bytes(r.data, "data")).digest();
    case "aes":
      return aes(r);
    case "pbkdf2": {
      const it = int(r.iterations, "iterations", 1, MAX_PBKDF2_ITERATIONS), n = int(r.bits, "length", 8, MAX_PBKDF2_BITS);
      if (n % 8) throw new Refused("OperationError", "length must be a multiple of 8");
      return pbkdf2Sync(bytes(r.password, "password"), bytes(r.salt, "salt"), it, n / 8, hash(r.hash));
    }
    case "hkdf": {
      const n = int(r.bits, "length", 8, 255 * 512);
      if (n % 8) throw new Refused("OperationError", "length must be a multiple of 8");
      try {
        return Buffer.from(hkdfSync(hash(r.hash), bytes(r.key, "key"), bytes(r.salt, "salt"), bytes(r.info, "info"), n / 8));
      } catch (e) {
        throw new Refused("OperationError", (e as Error).message);
      }
    }
    case "importKey":
      return importAsym(alg(r.alg), r.format, r.data);
    case "exportKey":
      return exportAsym(alg(r.alg), r.format, r.type, r.der);
    case "generateKey":
      return generateAsym(alg(r.alg));
    case "sign": {
      const a = alg(r.alg), [h, o] = signOpts(a, keyObject(a, "private", r.der));
      try {
        return sign(h, bytes(r.data, "data"), o);
      } catch {
        throw new Refused("OperationError", `${a.name} signing failed`);
      }
    }
    case "verify": {
      const a = alg(r.alg), [h, o] = signOpts(a, keyObject(a, "public", r.der));
      try {
        return verify(h, bytes(r.data, "data"), o as Parameters<typeof verify>[2], bytes(r.signature, "signature"));
      } catch {
        return false;
      }
    }
    default:
      throw new Refused("NotSupportedError", `Unrecognized operation: ${String((r as { op?: unknown }).op)}`);
  }
}

function alg(a: unknown): AsymAlgorithm {
  const n = (a as AsymAlgorithm | null)?.name;
  if (n !== "RSASSA-PKCS1-v1_5" && n !== "RSA-PSS" && n !== "ECDSA" && n !== "Ed25519") throw new Refused("NotSupportedError", `Unrecognized algorithm: ${String(n)}`);
  return a as AsymAlgorithm;
}

/** Answers one crypto request from the guest; never throws. */
export function cryptoReply(r: CryptoRequest): SyncReply {
  try {
    if (typeof r !== "object" || r === null) throw new Refused("TypeError", "a crypto request must be an object");
    const v = compute(r);
    return { ok: true, value: Buffer.isBuffer(v) ? out(v) : v };
  } catch (e) {
    const name = e instanceof Refused ? e.domName : "OperationError";
    return { ok: false, error: { name, message: (e as Error)?.message ?? String(e) } };
  }
}
