// Host side: stack traces of tenant code, mapped back to the tenant's own files. A bundle carries its
// source map inline (compile.ts); the isolate names the bundle `tenant.js` and the guest runtime
// `weft:runtime`. When an error is recorded (a failed attempt, an errored instance, a module that
// throws while loading), each `tenant.js:L:C` frame becomes `src/steps.ts:12:9` (or the package file
// a bundled npm module came from), and frames of the runtime and of esbuild's helpers are left out:
// they are Weft's, not the tenant's. Nothing is mapped on the hot path: only a stack being recorded,
// with the parsed map cached per bundle.
import { TraceMap, originalPositionFor } from "@jridgewell/trace-mapping";
import type { ErrorInfo } from "../../core/errors.ts";

export const TENANT_FILE = "tenant.js";
export const RUNTIME_FILE = "weft:runtime";

const MAP_MARK = "\n//# sourceMappingURL=data:application/json;base64,";
const FRAME = /^(\s*at (?:.*? \()?)(tenant\.js|weft:runtime):(\d+):(\d+)(\)?)\s*$/;
const CACHE_SIZE = 32;
const cache = new Map<string, TraceMap | null>();

/** The bundle's parsed source map (null when it has none: a version compiled before maps were kept). */
function traceMap(bundle: string): TraceMap | null {
  const hit = cache.get(bundle);
  if (hit !== undefined) {
    cache.delete(bundle); // most recently used goes last
    cache.set(bundle, hit);
    return hit;
  }
  let map: TraceMap | null = null;
  const at = bundle.lastIndexOf(MAP_MARK);
  if (at >= 0) {
    try {
      const json = Buffer.from(bundle.slice(at + MAP_MARK.length).trim(), "base64").toString("utf8");
      map = new TraceMap(json);
    } catch {
      map = null;
    }
  }
  cache.set(bundle, map);
  if (cache.size > CACHE_SIZE) cache.delete(cache.keys().next().value!);
  return map;
}

function sourceName(source: string): string | undefined {
  if (source.startsWith("weft-runtime:")) return undefined; // the shim of "cloudflare:workers"
  return source.startsWith("tenant:") ? source.slice("tenant:".length) : source;
}

/** A V8 stack with tenant.js frames at the tenant's files and lines; Weft's own frames left out. */
export function mapStack(bundle: string, stack: string): string {
  if (!stack.includes(TENANT_FILE) && !stack.includes(RUNTIME_FILE)) return stack;
  const map = traceMap(bundle);
  const out: string[] = [];
  for (const line of stack.split("\n")) {
    const m = FRAME.exec(line);
    if (!m) {
      out.push(line);
      continue;
    }
    if (m[2] === RUNTIME_FILE) continue;
    if (!map) {
      out.push(line);
      continue;
    }
    const pos = originalPositionFor(map, { line: Number(m[3]), column: Number(m[4]) - 1 });
    const source = pos.source === null ? undefined : sourceName(pos.source);
    if (source === undefined || pos.line === null) continue; // esbuild's helpers, the runtime shim
    out.push(`${m[1]}${source}:${pos.line}:${pos.column + 1}${m[5]}`);
  }
  return out.join("\n");
}

/** The error with its stack mapped (the same object when it has no stack). */
export function mapErrorStack(bundle: string, e: ErrorInfo): ErrorInfo {
  if (!e.stack) return e;
  const stack = mapStack(bundle, e.stack);
  return stack === e.stack ? e : { ...e, stack };
}

/** `file:line:column` of the stack's first frame, if it has one. */
export function firstFrame(stack: string | undefined): string | undefined {
  for (const line of (stack ?? "").split("\n")) {
    const m = /^\s*at (?:.*? \()?(.+?:\d+:\d+)\)?\s*$/.exec(line);
    if (m) return m[1];
  }
  return undefined;
}
