// Git wire framing: packfiles (version 2, whole objects only, no deltas) and pkt-lines with their
// side-band multiplexing. Pure: hashing and zlib only, no I/O. Used by the smart-HTTP server.

import { createHash } from "node:crypto";
import { deflateSync } from "node:zlib";
import { ErrorCode, WeftError } from "../../core/errors.ts";
import type { GitObject, ObjectType } from "./objects.ts";

const PACK_TYPE: Record<ObjectType, number> = { commit: 1, tree: 2, blob: 3 };

// Per-object header: type in bits 4-6 of the first byte with the size's low 4 bits, then the rest
// of the size 7 bits per byte, little-endian; the high bit says "another byte follows".
function objectHeader(type: ObjectType, size: number): Uint8Array {
  const bytes = [(PACK_TYPE[type] << 4) | (size & 0x0f)];
  let rest = Math.floor(size / 16); // division, not >>, so sizes past 2^31 stay correct
  while (rest > 0) {
    bytes[bytes.length - 1] |= 0x80;
    bytes.push(rest & 0x7f);
    rest = Math.floor(rest / 128);
  }
  return Uint8Array.from(bytes);
}

// Most objects (commits, small trees) are tiny, and zlib's setup for its default 32 KiB window
// dominates their cost. A 4 KiB window covers them whole, so the output is as small, 2x faster.
const SMALL = { windowBits: 12, memLevel: 4 };

/** A version-2 packfile holding `objects` whole (zlib-deflated, no deltas), SHA-1 trailer included. */
export function writePack(objects: readonly GitObject[]): Uint8Array {
  const head = Buffer.alloc(12);
  head.write("PACK", 0, "latin1");
  head.writeUInt32BE(2, 4);
  head.writeUInt32BE(objects.length, 8);
  const parts: Uint8Array[] = [head];
  for (const o of objects) parts.push(objectHeader(o.type, o.data.length), deflateSync(o.data, o.data.length <= 4096 ? SMALL : {}));
  const hash = createHash("sha1");
  for (const p of parts) hash.update(p);
  parts.push(hash.digest());
  return Buffer.concat(parts);
}

// ---- pkt-lines ------------------------------------------------------------------------------

/** The flush packet "0000": ends a list of lines. Do not mutate. */
export const FLUSH: Uint8Array = Buffer.from("0000", "latin1");

/** Largest payload of one pkt-line: the 4-hex-digit length counts itself and is capped at 65520. */
export const MAX_PKT_DATA = 65516;

/** One pkt-line: 4 hex digits of total length, then the payload (strings are sent as UTF-8). */
export function pktLine(data: string | Uint8Array): Uint8Array {
  const payload = typeof data === "string" ? Buffer.from(data, "utf8") : data;
  if (payload.length > MAX_PKT_DATA) {
    throw new WeftError(ErrorCode.InvalidArgument, `A pkt-line carries at most ${MAX_PKT_DATA} bytes, got ${payload.length}`, { length: payload.length });
  }
  return Buffer.concat([Buffer.from((payload.length + 4).toString(16).padStart(4, "0"), "latin1"), payload]);
}

/**
 * Splits a request body into pkt-line payloads, `null` standing for each flush packet. Protocol v0/v1
 * only: the v2 special packets 0001-0003 are malformed here. Throws InvalidArgument naming the offset.
 */
export function readPktLines(body: Uint8Array): (Uint8Array | null)[] {
  const out: (Uint8Array | null)[] = [];
  let pos = 0;
  while (pos < body.length) {
    const header = Buffer.from(body.subarray(pos, pos + 4)).toString("latin1");
    if (header.length < 4) {
      throw new WeftError(ErrorCode.InvalidArgument, `Truncated pkt-line length at byte ${pos}: ${JSON.stringify(header)}`, { offset: pos, header });
    }
    if (!/^[0-9a-f]{4}$/i.test(header)) {
      throw new WeftError(ErrorCode.InvalidArgument, `Bad pkt-line length ${JSON.stringify(header)} at byte ${pos}: expected 4 hex digits`, { offset: pos, header });
    }
    const len = parseInt(header, 16);
    if (len === 0) {
      out.push(null);
      pos += 4;
      continue;
    }
    if (len < 4 || len > MAX_PKT_DATA + 4) {
      throw new WeftError(ErrorCode.InvalidArgument, `Bad pkt-line length ${JSON.stringify(header)} at byte ${pos}: must be 0000 or 0004-fff0`, { offset: pos, header });
    }
    if (pos + len > body.length) {
      throw new WeftError(ErrorCode.InvalidArgument, `Truncated pkt-line at byte ${pos}: length ${len} but only ${body.length - pos} bytes remain`, { offset: pos, header });
    }
    out.push(body.subarray(pos + 4, pos + len));
    pos += len;
  }
  return out;
}

/**
 * `data` cut into side-band pkt-lines on `band` (1 pack data, 2 progress, 3 error). Each carries at
 * most `maxData` bytes after the band byte: 65515 for side-band-64k, 995 for plain side-band.
 */
export function sideBand(band: 1 | 2 | 3, data: Uint8Array, maxData = MAX_PKT_DATA - 1): Uint8Array[] {
  const out: Uint8Array[] = [];
  for (let pos = 0; pos < data.length; pos += maxData) {
    const chunk = data.subarray(pos, pos + maxData);
    const payload = new Uint8Array(chunk.length + 1);
    payload[0] = band;
    payload.set(chunk, 1);
    out.push(pktLine(payload));
  }
  return out;
}
