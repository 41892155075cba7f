// What a deploy decides about its input: how env is encoded for the store (plain values kept,
// functions, host objects and host-function references by path, secrets sealed, Workflow bindings
// checked to be the deploying tenant's: the markers of core/env-codec.ts) and which exported class
// runs, the shape of its code, its limits and its version's name.
import { createHash } from "node:crypto";
import { ErrorCode, WeftError } from "../core/errors.ts";
import { validateWorkflowName } from "../core/ids.ts";
import type { WorkflowLimits } from "./config.ts";
import type { BundleExports } from "./ports.ts";
import { fnMarker, objMarker, secretMarker, workflowMarker } from "../core/env-codec.ts";
import { HostFunctionRef, SecretValue, WorkflowBindingRef } from "./secrets.ts";
import { hostKind, methodNames } from "./host-objects.ts";

/** Split env into plain values (stored) and host functions and objects (kept in memory, called by path). */
export interface EnvEncoding {
  fns: Map<string, (...args: unknown[]) => unknown>;
  /** host objects (class instances with methods, Proxies, objects registered by name), by path */
  objects?: Map<string, object>;
  seal(plaintext: string): string;
  host(name: string, path: string): ((...args: unknown[]) => unknown) | object;
  /** the deploying tenant: the only one a Workflow binding may name */
  tenant?: string;
}

/** the env marker of a host object at `path` (its methods listed; a Proxy's are asked when called) */
function hostObject(o: object, path: string, enc: EnvEncoding): unknown {
  const kind = hostKind(o);
  (enc.objects ??= new Map()).set(path, o);
  return objMarker(path, kind === "proxy" ? null : methodNames(o, kind === "plain" ? "plain" : "class"));
}

function workflowRef(v: WorkflowBindingRef, path: string, enc: EnvEncoding): unknown {
  const field = `env.${path}`;
  if (v.tenant !== undefined && enc.tenant !== undefined && v.tenant !== enc.tenant) {
    throw new WeftError(ErrorCode.Forbidden, `${field}: a Workflow binding reaches only the deploying tenant's own workflows; workflow "${v.workflow}" of tenant "${v.tenant}" cannot be bound by a deploy of tenant "${enc.tenant}"`, {
      field, tenant: v.tenant, workflow: v.workflow,
    });
  }
  if (typeof v.workflow !== "string") throw new WeftError(ErrorCode.InvalidArgument, `${field}: a Workflow binding names a workflow (a string)`, { field });
  try {
    validateWorkflowName(v.workflow);
  } catch (e) {
    throw new WeftError((e as WeftError).code ?? ErrorCode.InvalidName, `${field}: ${(e as Error).message}`, { field, workflow: v.workflow });
  }
  return workflowMarker(v.workflow);
}

export function encodeEnv(v: unknown, path: string, enc: EnvEncoding): unknown {
  const fns = enc.fns;
  if (typeof v === "function") {
    fns.set(path, v as (...args: unknown[]) => unknown);
    return fnMarker(path);
  }
  if (v instanceof HostFunctionRef) {
    const f = enc.host(v.name, path);
    if (typeof f !== "function") {
      if (!hostKind(f)) throw new WeftError(ErrorCode.InvalidArgument, `env.${path}: host function "${v.name}" is registered as an object without methods: register a function or an object with methods`, { field: `env.${path}`, hostFunction: v.name });
      const marker = hostObject(f, path, enc);
      enc.objects!.delete(path); // found by name at call time, also after a restart
      return marker;
    }
    fns.set(path, f as (...args: unknown[]) => unknown);
    return fnMarker(path);
  }
  if (v instanceof WorkflowBindingRef) return workflowRef(v, path, enc);
  if (v && typeof v === "object" && !Array.isArray(v) && (hostKind(v) === "proxy" || hostKind(v) === "class")) return hostObject(v, path, enc);
  if (v instanceof SecretValue) {
    if (typeof v.value !== "string") throw new WeftError(ErrorCode.InvalidArgument, `env.${path}: a secret must be a string`, { field: `env.${path}` });
    return secretMarker(enc.seal(v.value));
  }
  if (Array.isArray(v)) return v.map((x, i) => encodeEnv(x, `${path}[${i}]`, enc));
  if (v && typeof v === "object") {
    const proto = Object.getPrototypeOf(v);
    if (proto !== Object.prototype && proto !== null) {
      throw new WeftError(ErrorCode.NotSerializable, `env${path ? "." + path : ""} is a ${proto?.constructor?.name ?? "class instance"} without methods: env carries plain values, arrays, objects, functions and host objects (objects with methods) only`, { field: `env.${path}` });
    }
    const out: Record<string, unknown> = {};
    for (const [k, x] of Object.entries(v)) out[k] = encodeEnv(x, path ? `${path}.${k}` : k, enc);
    return out;
  }
  if (typeof v === "symbol" || typeof v === "bigint") {
    throw new WeftError(ErrorCode.NotSerializable, `env.${path} is a ${typeof v}: not a value env can carry`, { field: `env.${path}` });
  }
  return v;
}

export function pickClass(found: { classes: string[]; exports: string[] }, className: string | undefined, main: string): string {
  if (className !== undefined) {
    if (found.classes.includes(className)) return className;
    throw new WeftError(ErrorCode.NoWorkflowClass, `className "${className}" is not an exported class extending WorkflowEntrypoint in ${main}; found: ${found.classes.join(", ") || "none"}`, {
      className, classes: found.classes, exports: found.exports,
    });
  }
  if (found.classes.length === 1) return found.classes[0]!;
  if (found.classes.length === 0) {
    throw new WeftError(ErrorCode.NoWorkflowClass, `no exported class extends WorkflowEntrypoint in ${main} (exports: ${found.exports.join(", ") || "none"}); export one, e.g. \`export class MyWorkflow extends WorkflowEntrypoint { async run(event, step) {…} }\``, {
      exports: found.exports,
    });
  }
  throw new WeftError(ErrorCode.AmbiguousWorkflowClass, `several workflow classes are exported (${found.classes.join(", ")}); pass className to choose one`, { classes: found.classes });
}

/** An export of the deployed module that loads but that Weft does not run (Cloudflare would run it). */
export interface IgnoredExport {
  export: string;
  kind: "fetch handler" | "worker handler" | "worker entrypoint" | "durable object" | "workflow";
  /** the handler methods of a handler object (fetch, scheduled, queue, …) */
  handlers?: string[];
  why: string;
}

/**
 * What a deploy does not run, for its result: Workers handlers (`export default { fetch }`),
 * WorkerEntrypoint and DurableObject classes, and the workflow classes other than the one chosen.
 * RpcTarget classes and plain exports are ordinary code the workflow may use: not listed.
 */
export function ignoredExports(found: BundleExports, className: string): IgnoredExport[] {
  const out: IgnoredExport[] = [];
  for (const name of found.exports) {
    const k = found.kinds?.[name];
    if (!k || k.kind === "rpc target" || name === className) continue;
    const label = name === "default" ? "the default export" : name;
    switch (k.kind) {
      case "fetch handler":
      case "worker handler":
        out.push({
          export: name, kind: k.kind, handlers: k.handlers ?? [],
          why: `${label} is a Workers handler (${(k.handlers ?? []).join(", ")}): Weft runs only the workflow class ${className}; instances are created through Weft's API or binding, not by requests to this handler`,
        });
        break;
      case "worker entrypoint":
        out.push({ export: name, kind: k.kind, why: `${label} extends WorkerEntrypoint: it loads and the workflow may use it, but Weft runs only the workflow class ${className} and never calls it as an entrypoint` });
        break;
      case "durable object":
        out.push({ export: name, kind: k.kind, why: `${label} extends DurableObject: it loads, but Weft has no Durable Object namespaces and never instantiates it` });
        break;
      case "workflow":
        out.push({ export: name, kind: k.kind, why: `${label} is another workflow class: this deploy runs ${className}; deploy with className "${name}" to run it` });
        break;
    }
  }
  return out;
}

/** the shape a deploy's code must have: { mainModule, modules: { file: source } } */
export function checkCode(code: { mainModule: string; modules: Record<string, string> } | undefined): void {
  if (!code || typeof code !== "object" || typeof code.mainModule !== "string" || !code.modules || typeof code.modules !== "object") {
    throw new WeftError(ErrorCode.InvalidArgument, "code must be { mainModule: string, modules: { [file]: source } }", { field: "code" });
  }
  for (const [name, src] of Object.entries(code.modules)) {
    if (typeof src !== "string") throw new WeftError(ErrorCode.InvalidArgument, `module "${name}" must be a string of source code`, { field: `code.modules.${name}` });
  }
}

/** A version's limits: the engine's defaults with the deploy's own, each within its bounds. */
export function compileLimits(defaults: WorkflowLimits, l: Partial<WorkflowLimits> | undefined): WorkflowLimits {
  const out = { ...defaults, ...(l ?? {}) };
  const bounds: Record<keyof WorkflowLimits, [number, number]> = {
    memoryMb: [8, 16384], cpuMsPerStep: [1, 300_000], steps: [1, 25_000], stepResultBytes: [1, 128 * 1024 * 1024], concurrency: [1, 1_000_000],
    sqlBytes: [64 * 1024, 64 * 1024 ** 3], sqlMsPerQuery: [10, 600_000], fileBytes: [1, 1024 ** 3], files: [1, 1_000_000],
    hostObjects: [1, 1_000_000], pendingCalls: [1, 25_000], bufferedEvents: [1, 1_000_000], bufferedEventBytes: [1024, 1024 ** 3],
    journalBytes: [1024, 16 * 1024 ** 3], logLines: [0, 10_000_000], logBytes: [0, 1024 ** 3],
  };
  for (const [k, [lo, hi]] of Object.entries(bounds) as [keyof WorkflowLimits, [number, number]][]) {
    const v = out[k];
    if (typeof v !== "number" || !Number.isInteger(v) || v < lo || v > hi) {
      throw new WeftError(ErrorCode.InvalidArgument, `limits.${k} must be an integer from ${lo} to ${hi}, got ${JSON.stringify(v)}`, { field: `limits.${k}`, value: v, limit: hi });
    }
  }
  return out;
}

/** A version's name: the hash of what it runs (code, class, config), so the same deploy is the same version. */
export function versionId(code: { mainModule: string; modules: Record<string, string> }, className: string, config: unknown): string {
  return createHash("sha256")
    .update(JSON.stringify({ mainModule: code.mainModule, modules: Object.entries(code.modules).sort(([a], [b]) => (a < b ? -1 : 1)), className, config }))
    .digest("hex").slice(0, 32);
}
