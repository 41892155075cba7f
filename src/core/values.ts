// Serializability of values that cross the durability boundary (step results, params, event payloads).
// Runs on the host and inside the V8 isolate, so it never relies on `instanceof` of one realm's classes:
// brand checks (built-in methods called on the value) and toString tags work across realms.

import { ErrorCode, WeftError } from "./errors.ts";

const MAX_DEPTH = 1000;
const SUFFIX = "; values must be structured-clone values (no functions, symbols or cycles)";

/** Short, human rendering of an arbitrary value for error messages (never throws). */
export function describeValue(value: unknown): string {
  switch (typeof value) {
    case "string":
      return clip(JSON.stringify(value));
    case "number":
      return Object.is(value, -0) ? "-0" : String(value);
    case "bigint":
      return `${value}n`;
    case "function":
      return "a function";
    case "symbol":
      return value.toString();
    case "undefined":
    case "boolean":
      return String(value);
  }
  if (value === null) return "null";
  try {
    const json = JSON.stringify(value);
    if (json !== undefined) return clip(json);
  } catch {
    // cycles, bigints or throwing getters: fall back to the tag
  }
  return tagOf(value);
}

function clip(s: string): string {
  return s.length > 80 ? `${s.slice(0, 77)}...` : s;
}

function tagOf(v: unknown): string {
  return Object.prototype.toString.call(v);
}

// Brand checks: a built-in method throws on anything lacking the internal slot, whatever the realm,
// and unlike toString tags they cannot be spoofed with Symbol.toStringTag.
function hasBrand(check: (v: object) => unknown, v: object): boolean {
  try {
    check(v);
    return true;
  } catch {
    return false;
  }
}

const isMap = (v: object) => hasBrand((x) => Map.prototype.has.call(x, undefined), v);
const isSet = (v: object) => hasBrand((x) => Set.prototype.has.call(x, undefined), v);
const isWeakMap = (v: object) => hasBrand((x) => WeakMap.prototype.has.call(x, {}), v);
const isWeakSet = (v: object) => hasBrand((x) => WeakSet.prototype.has.call(x, {}), v);
const isWeakRef = (v: object) =>
  typeof WeakRef === "function" && hasBrand((x) => WeakRef.prototype.deref.call(x), v);
const isDate = (v: object) => hasBrand((x) => Date.prototype.getTime.call(x), v);

// Promise has no side-effect-free brand-checking method (then() schedules work), so use the tag.
const isPromise = (v: object) => tagOf(v) === "[object Promise]";

/** Leaf objects whose contents need no walk: the clone algorithm copies their bytes/state. */
function isOpaqueLeaf(v: object): boolean {
  if (ArrayBuffer.isView(v) || isDate(v)) return true;
  const tag = tagOf(v);
  return tag === "[object RegExp]" || tag === "[object ArrayBuffer]" || tag === "[object SharedArrayBuffer]";
}

const IDENT = /^[A-Za-z_$][A-Za-z0-9_$]*$/;
const INDEX = /^(?:0|[1-9][0-9]*)$/;

function propSegment(key: string, isArray: boolean): string {
  if (isArray && INDEX.test(key)) return `[${key}]`;
  return IDENT.test(key) ? `.${key}` : `[${JSON.stringify(key)}]`;
}

// The path reads better rooted at the noun the caller names ("step \"x\" result" -> result.a.b)
// than at a generic placeholder; fall back to "value" when `where` does not end in a word.
function rootName(where: string): string {
  const m = /([A-Za-z_$][A-Za-z0-9_$]*)\s*$/.exec(where);
  return m ? m[1] : "value";
}

type Kind = "function" | "symbol" | "cycle" | "depth" | "WeakMap" | "WeakSet" | "WeakRef" | "Promise";

const WHAT: Record<Kind, string> = {
  function: "a function",
  symbol: "a symbol",
  cycle: "a cycle (an object that contains itself)",
  depth: `nesting deeper than ${MAX_DEPTH} levels`,
  WeakMap: "a WeakMap",
  WeakSet: "a WeakSet",
  WeakRef: "a WeakRef",
  Promise: "a Promise (did you forget to await it?)",
};

function fail(where: string, path: string, kind: Kind, what = WHAT[kind]): never {
  const shown = path.length > 200 ? `${path.slice(0, 97)}...${path.slice(-100)}` : path;
  throw new WeftError(ErrorCode.NotSerializable, `${where} is not serializable: ${what} at ${shown}${SUFFIX}`, {
    where,
    path,
    kind,
  });
}

/**
 * Throws NotSerializable if `value` cannot be journaled: functions, symbols (also as property keys),
 * weak collections, promises, cycles, or nesting deeper than 1000 levels. Shared references are fine.
 */
export function checkSerializable(value: unknown, where: string): void {
  const ancestors = new Set<object>();

  const walk = (v: unknown, path: string, depth: number): void => {
    const t = typeof v;
    if (t === "function") fail(where, path, "function");
    if (t === "symbol") fail(where, path, "symbol");
    if (t !== "object" || v === null) return;
    const obj = v as object;

    if (depth > MAX_DEPTH) fail(where, path, "depth");
    if (ancestors.has(obj)) fail(where, path, "cycle");
    // Plain objects and arrays of this realm (the common case: JSON-like data) need no brand checks,
    // which cost a thrown exception each. An exotic object dressed with a plain prototype is still
    // caught by the structured clone that follows every check.
    const proto = Object.getPrototypeOf(obj);
    const plain = proto === Object.prototype || proto === null || Array.isArray(obj);
    if (!plain) {
      if (isOpaqueLeaf(obj)) return;
      if (isWeakMap(obj)) fail(where, path, "WeakMap");
      if (isWeakSet(obj)) fail(where, path, "WeakSet");
      if (isWeakRef(obj)) fail(where, path, "WeakRef");
      if (isPromise(obj)) fail(where, path, "Promise");
    }

    ancestors.add(obj);
    if (plain) {
      walkKeys(obj, path, depth);
    } else if (isMap(obj)) {
      Map.prototype.forEach.call(obj, (val: unknown, key: unknown) => {
        walk(key, `${path}<map key>`, depth + 1);
        walk(val, `${path}<map value>`, depth + 1);
      });
    } else if (isSet(obj)) {
      Set.prototype.forEach.call(obj, (val: unknown) => walk(val, `${path}<set value>`, depth + 1));
    } else if (tagOf(obj) === "[object Error]") {
      // The clone algorithm keeps name/message/stack/cause and drops other own properties,
      // so only `cause` can smuggle in something unclonable.
      if (Object.prototype.hasOwnProperty.call(obj, "cause")) {
        walk((obj as { cause?: unknown }).cause, `${path}.cause`, depth + 1);
      }
    } else {
      walkKeys(obj, path, depth);
    }
    ancestors.delete(obj);
  };

  const walkKeys = (obj: object, path: string, depth: number): void => {
    const isArray = Array.isArray(obj);
    for (const sym of Object.getOwnPropertySymbols(obj)) {
      if (Object.prototype.propertyIsEnumerable.call(obj, sym)) {
        fail(where, `${path}[${sym.toString()}]`, "symbol", "a symbol-keyed property");
      }
    }
    for (const key of Object.keys(obj)) {
      walk((obj as Record<string, unknown>)[key], path + propSegment(key, isArray), depth + 1);
    }
  };

  walk(value, rootName(where), 0);
}

/**
 * A lower bound of a value's structured-clone size (bytes), counted until it passes `stop`: strings
 * by length, buffers by byteLength, containers by their contents. The guest uses it to keep a value
 * far over a size limit from crossing the isolate boundary at all (a 50 MB output was copied to the
 * host and serialized there before the host's exact check refused it); the host's check stays exact.
 */
export function atLeastBytes(value: unknown, stop: number): number {
  let n = 0;
  const seen = new Set<object>();
  const walk = (v: unknown): void => {
    if (n > stop) return;
    if (typeof v === "string") n += v.length + 4;
    else if (typeof v === "number" || typeof v === "bigint") n += 8;
    else if (v === null || typeof v !== "object") n += 1;
    else {
      if (seen.has(v)) return;
      seen.add(v);
      if (ArrayBuffer.isView(v)) n += v.byteLength;
      else if (v instanceof ArrayBuffer) n += v.byteLength;
      else if (v instanceof Map) for (const [k, x] of v) (walk(k), walk(x));
      else if (v instanceof Set) for (const x of v) walk(x);
      else for (const k of Object.keys(v)) {
        n += k.length + 1;
        walk((v as Record<string, unknown>)[k]);
        if (n > stop) return;
      }
    }
  };
  walk(value);
  return n;
}
