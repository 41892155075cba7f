// Instance values (params, step outputs, workflow output, event payloads) as JSON. The journal holds
// structured-clone values, a superset of JSON, and the HTTP API must render every value it accepted
// (a value that JSON.stringify cannot write — a BigInt, a cycle — or that it would blow up — a sparse
// array of length 2³¹ — once made GET …/instances/{id} answer 500 forever). Values JSON writes
// faithfully pass through unchanged; the others become tagged objects, documented in
// docs/http-api.md ("Values"):
//   BigInt 12n            → { "$bigint": "12" }
//   Map                   → { "$map": [[key, value], …] }
//   Set                   → { "$set": [value, …] }
//   Date                  → its ISO string (as JSON.stringify)
//   typed arrays, ArrayBuffer, DataView → { "$bytes": "<base64>", "type": "Uint8Array" }
//   Error                 → { "$error": { "name", "message" } }
//   RegExp                → { "$regexp": "/a+/g" }
//   a sparse array (more holes than items, length > 1000) → { "$sparse": length, "items": { "index": value, … } }
//   a repeated reference (a cycle) → { "$ref": "cycle" }
//   NaN, ±Infinity, -0 → null, null, 0 and undefined → null in arrays, omitted in objects (as JSON.stringify)
const DEPTH = 200;

export function renderValue(v: unknown): unknown {
  return walk(v, new Set(), 0);
}

function bytesOf(v: ArrayBufferView | ArrayBuffer): Buffer {
  return ArrayBuffer.isView(v) ? Buffer.from(v.buffer, v.byteOffset, v.byteLength) : Buffer.from(v);
}

function walk(v: unknown, path: Set<object>, depth: number): unknown {
  if (typeof v === "bigint") return { $bigint: v.toString() };
  if (v === null || typeof v !== "object") return typeof v === "function" || typeof v === "symbol" ? undefined : v;
  if (path.has(v)) return { $ref: "cycle" };
  if (depth > DEPTH) return { $ref: "depth" };
  if (v instanceof Date) return Number.isNaN(v.getTime()) ? null : v.toISOString();
  if (ArrayBuffer.isView(v) || v instanceof ArrayBuffer) return { $bytes: bytesOf(v).toString("base64"), type: v.constructor.name };
  if (v instanceof RegExp) return { $regexp: String(v) };
  if (v instanceof Error) return { $error: { name: v.name, message: v.message } };
  path.add(v);
  try {
    if (v instanceof Map) return { $map: [...v].map(([k, x]) => [walk(k, path, depth + 1), walk(x, path, depth + 1) ?? null]) };
    if (v instanceof Set) return { $set: [...v].map((x) => walk(x, path, depth + 1) ?? null) };
    if (Array.isArray(v)) {
      const keys = Object.keys(v);
      if (v.length > 1000 && keys.length * 2 < v.length) {
        const items: Record<string, unknown> = {};
        for (const k of keys) items[k] = walk((v as unknown as Record<string, unknown>)[k], path, depth + 1) ?? null;
        return { $sparse: v.length, items };
      }
      return Array.from(v, (x) => walk(x, path, depth + 1) ?? null);
    }
    const out: Record<string, unknown> = {};
    for (const [k, x] of Object.entries(v)) {
      const r = walk(x, path, depth + 1);
      if (r !== undefined) out[k] = r;
    }
    return out;
  } finally {
    path.delete(v);
  }
}
