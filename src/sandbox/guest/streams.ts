// Runs INSIDE the guest isolate: WHATWG streams (ReadableStream, WritableStream, TransformStream and
// their readers, writers, controllers and queuing strategies) from web-streams-polyfill, the spec's
// reference implementation, which needs nothing of Node. It is ~60 KB, so it is loaded on first use:
// esbuild wraps a require()d module in a lazy initializer, and the globals are getters that load it
// (web.ts), so a context that never touches a stream never evaluates it.
/* eslint-disable @typescript-eslint/no-explicit-any */
import type * as WSP from "web-streams-polyfill";
import { TE, view } from "./web-base.ts";

export type Streams = typeof WSP;
let S: Streams | undefined;

/** The stream classes of this realm (loaded on the first call). */
export const streams = (): Streams => (S ??= require("web-streams-polyfill") as Streams);

/** The names web-streams-polyfill exports, each a global as in Workers. */
export const STREAM_GLOBALS = [
  "ReadableStream", "ReadableStreamDefaultReader", "ReadableStreamBYOBReader", "ReadableStreamBYOBRequest",
  "ReadableByteStreamController", "ReadableStreamDefaultController", "WritableStream", "WritableStreamDefaultWriter",
  "WritableStreamDefaultController", "TransformStream", "TransformStreamDefaultController", "ByteLengthQueuingStrategy",
  "CountQueuingStrategy",
] as const;

/** Whether `x` is a ReadableStream of this realm (false, without loading anything, before the first stream). */
export const isReadable = (x: unknown): x is WSP.ReadableStream => S !== undefined && x instanceof S.ReadableStream;

/** A stream that has been read from or cancelled (the spec's "disturbed": the reference implementation's own flag). */
export const disturbed = (s: WSP.ReadableStream): boolean => !!(s as any)._disturbed;

/** A byte stream of `b` (one chunk, a copy: a byte stream takes over the buffers it is given). */
export function fromBytes(b: Uint8Array): WSP.ReadableStream<Uint8Array> {
  return new (streams().ReadableStream)({
    type: "bytes",
    start(c: any) {
      if (b.byteLength) c.enqueue(b.slice());
      c.close();
    },
  }) as WSP.ReadableStream<Uint8Array>;
}

/** Reads `s` to its end; every chunk must be bytes (an ArrayBuffer or a view), as Workers requires of a body. */
export async function readAll(s: WSP.ReadableStream): Promise<Uint8Array> {
  const r = s.getReader(), parts: Uint8Array[] = [];
  let n = 0;
  for (;;) {
    const { done, value } = await r.read();
    if (done) break;
    if (!(value instanceof ArrayBuffer) && !ArrayBuffer.isView(value)) {
      const e = TE("This ReadableStream did not return bytes.");
      await r.cancel(e).catch(() => undefined);
      throw e;
    }
    const v = view(value);
    parts.push(v);
    n += v.byteLength;
  }
  if (parts.length === 1) return parts[0]!.slice();
  const out = new Uint8Array(n);
  n = 0;
  for (const p of parts) {
    out.set(p, n);
    n += p.byteLength;
  }
  return out;
}
