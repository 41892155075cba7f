// Host side of crypto.subtle: the primitives of protocol.ts CryptoRequest, computed by node:crypto
// (OpenSSL), synchronously inside the guest's call (isolates.ts charges the time to the run). Every
// field is checked again here, since anything from the isolate is hostile; a failure is a
// DOMException name and message for the guest, never a throw into the host. Work per call is bounded:
// the input by the isolate's memory limit, PBKDF2 by Workers' 100,000 iterations and a derived length
// cap, HKDF by its own 255-block limit.
import { createCipheriv, createDecipheriv, createHash, createHmac, hkdfSync, pbkdf2Sync, type CipherGCMTypes } from "node:crypto";
import type { CryptoRequest, SyncReply } from "../protocol.ts";

const HASHES: Record<string, string> = { "SHA-1": "sha1", "SHA-256": "sha256", "SHA-384": "sha384", "SHA-512": "sha512" };
/** Workers' limit on PBKDF2 iterations */
export const MAX_PBKDF2_ITERATIONS = 100_000;
/** the longest PBKDF2 output (bits): its cost is iterations × blocks, all on the host's thread */
export const MAX_PBKDF2_BITS = 2048;
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

function compute(r: CryptoRequest): Buffer {
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
    default:
      throw new Refused("NotSupportedError", `Unrecognized operation: ${String((r as { op?: unknown }).op)}`);
  }
}

/** Answers one crypto request from the guest; never throws. */
export function cryptoReply(r: CryptoRequest): SyncReply {
  try {
    if (typeof r !== "object" || r === null) throw new Refused("TypeError", "a crypto request must be an object");
    return { ok: true, value: out(compute(r)) };
  } catch (e) {
    const name = e instanceof Refused ? e.domName : "OperationError";
    return { ok: false, error: { name, message: (e as Error)?.message ?? String(e) } };
  }
}
