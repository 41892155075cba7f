// Host objects: what env bindings hand a run beyond structured-clone values, and the run's table of
// them. An env function (or a method of a host object) may return a *host object*:
// - a function (the guest gets a callable stub),
// - a Proxy (a stub of any method name; each name is asked of the Proxy when it is called),
// - a plain object with function-valued properties (its data properties travel by value, its
//   functions are its methods: `{ key, size, text: async () => … }`, an R2 object's shape),
// - a class instance with methods (its own function properties and the methods on its prototype chain
//   below Object.prototype; its own data properties are NOT exposed, so a `private db` field stays
//   on the host, as Workers RPC exposes an RpcTarget's methods and not its instance properties).
// Anything else crosses by value and must be a structured-clone value (a precise error otherwise).
// Host objects may sit anywhere in an answer (an array of them, one inside another's data).
//
// The run keeps each in its handle table (HostObjects: one per InstanceRun, made on its first host
// call, cleared when the run stops; the same object twice is one handle) and the guest gets a stub
// (sandbox/guest/stubs.ts) whose calls come back as `stubCall` commands naming the handle. Handles
// are per run and carry a random prefix: a handle of another run (or a made-up one) names nothing
// here. `env:<path>` handles are the version's env bindings (a host object deployed in env, or a
// Workflow binding, made for the run's own tenant), resolved on first use. A call never reaches what
// the platform did not put on the object: no method names from core/stubs.ts FORBIDDEN_METHODS
// (constructor, __proto__, then, Object.prototype's helpers…), no accessors (getters are not
// called), nothing of Object.prototype or Function.prototype. A method that throws rejects the
// guest's call with an Error carrying its name, message and code (never its host stack). A run
// holds at most `limits.hostObjects` handles (default 10,000): beyond it the call that would add one
// fails with a precise error; they are released when the run ends (suspends, finishes, moves).
// A Proxy is never awaited nor passed through a promise's resolution here (settle): that would ask it
// for `then`, and a catch-all Proxy would answer with a function and be called. Return a catch-all
// Proxy from a synchronous function or method (an async one's own promise would adopt it), or let it
// answer undefined for `then`.
import { serialize } from "node:v8";
import { randomBytes } from "node:crypto";
import { types } from "node:util";
import { ErrorCode, WeftError } from "../core/errors.ts";
import { mapEnv, type EnvMarker } from "../core/env-codec.ts";
import { methodAllowed, showPath, type ValuePath } from "../core/stubs.ts";
import type { ArgRef, Command, StubRef } from "../sandbox/protocol.ts";
import type { VersionRecord } from "../store/ports.ts";
import type { WorkflowBinding, WorkflowInstance } from "./binding.ts";

export type HostKind = "plain" | "class" | "proxy" | "fn";

const MAX_DEPTH = 1000;

const plainProto = (v: object): boolean => {
  const p = Object.getPrototypeOf(v);
  return p === Object.prototype || p === null;
};

/** values of built-in classes: they cross by value (or are refused by the structured clone), never as stubs */
function builtinValue(v: object): boolean {
  return types.isDate(v) || types.isRegExp(v) || types.isMap(v) || types.isSet(v) || types.isAnyArrayBuffer(v) || types.isArrayBufferView(v) ||
    types.isNativeError(v) || v instanceof Error || types.isBoxedPrimitive(v) || types.isPromise(v) || types.isWeakMap(v) || types.isWeakSet(v) ||
    types.isGeneratorObject(v) || types.isMapIterator(v) || types.isSetIterator(v);
}

/** What kind of host object `v` is; undefined for a value that crosses by value. */
export function hostKind(v: unknown): HostKind | undefined {
  if (typeof v === "function") return "fn";
  if (v === null || typeof v !== "object") return undefined;
  if (types.isProxy(v)) return "proxy";
  if (Array.isArray(v)) return undefined;
  if (plainProto(v)) {
    for (const k of Object.keys(v)) if (typeof (v as Record<string, unknown>)[k] === "function") return "plain";
    return undefined;
  }
  if (builtinValue(v)) return undefined;
  return methodNames(v, "class").length > 0 ? "class" : undefined;
}

/** The methods a stub of `obj` offers (see the header); a Proxy's are not known in advance. */
export function methodNames(obj: object, kind: "plain" | "class"): string[] {
  const out = new Set<string>();
  if (kind === "plain") {
    for (const k of Object.keys(obj)) if (k !== "" && methodAllowed(k) && typeof (obj as Record<string, unknown>)[k] === "function") out.add(k);
    return [...out];
  }
  for (let o: object | null = obj; o && o !== Object.prototype && o !== Function.prototype; o = Object.getPrototypeOf(o)) {
    for (const k of Object.getOwnPropertyNames(o)) {
      if (k === "" || out.has(k) || !methodAllowed(k)) continue;
      const d = Object.getOwnPropertyDescriptor(o, k);
      if (d && "value" in d && typeof d.value === "function") out.add(k);
    }
  }
  return [...out];
}

interface Entry {
  obj: object;
  kind: HostKind;
  label: string;
}

function refused(label: string, method: string, why: string): WeftError {
  return new WeftError(ErrorCode.InvalidArgument, `${label}: ${JSON.stringify(method)} ${why}`, { method });
}

/** The function a stub call of `method` runs on entry `e`, by the rules of the header. */
function findMethod(e: Entry, method: unknown): (...a: unknown[]) => unknown {
  if (typeof method !== "string") throw new WeftError(ErrorCode.InvalidArgument, `${e.label}: a method name must be a string`);
  if (!methodAllowed(method)) throw refused(e.label, method, "is never callable through a stub (it reaches the object's machinery, not its API)");
  if (e.kind === "fn") {
    if (method !== "") throw refused(e.label, method, "is not callable: this host object is a function, call it directly");
    return e.obj as (...a: unknown[]) => unknown;
  }
  if (method === "") throw refused(e.label, method, "is not callable: this host object is not a function");
  if (e.kind === "proxy") {
    const f = Reflect.get(e.obj, method);
    if (typeof f === "function") return f as (...a: unknown[]) => unknown;
    throw refused(e.label, method, "is not a method of this host object");
  }
  const chain = e.kind === "plain" ? [e.obj] : [];
  if (e.kind === "class") for (let o: object | null = e.obj; o && o !== Object.prototype && o !== Function.prototype; o = Object.getPrototypeOf(o)) chain.push(o);
  for (const o of chain) {
    const d = Object.getOwnPropertyDescriptor(o, method);
    if (!d) continue;
    if ("value" in d && typeof d.value === "function") return d.value as (...a: unknown[]) => unknown;
    break;
  }
  throw refused(e.label, method, "is not a method of this host object");
}

/**
 * A host function's result, awaited if it is a promise (or an ordinary thenable), and boxed: a Proxy
 * is never awaited nor handed on through a promise, since resolving a promise with it would ask it
 * for `then` (and a catch-all Proxy would answer with a function and be called).
 */
export async function settle(r: unknown): Promise<{ value: unknown }> {
  if (r !== null && (typeof r === "object" || typeof r === "function") && types.isProxy(r)) return { value: r };
  return { value: await r };
}

function define(o: object, k: string | number, value: unknown): void {
  Object.defineProperty(o, k, { value, writable: true, enumerable: true, configurable: true });
}

export interface HostObjectsDeps {
  /** at most this many handles (limits.hostObjects) */
  limit: number;
  /** the host object or Workflow binding at env path `path` of the run's version (boxed: see settle) */
  root(path: string): Promise<{ obj: object } | undefined>;
  /** call the env function at `fn` of the run's version (its result boxed: see settle) */
  callFn(fn: string, args: unknown[]): Promise<{ value: unknown }>;
}

/** A run's handle table and the calls through it (one per InstanceRun). */
export class HostObjects {
  private readonly handles = new Map<string, Entry>();
  private readonly ids = new Map<object, string>();
  private readonly roots = new Map<string, Entry>();
  private prefix?: string;
  private next = 1;
  private readonly deps: HostObjectsDeps;

  constructor(deps: HostObjectsDeps) {
    this.deps = deps;
  }

  get size(): number {
    return this.handles.size;
  }

  /** A host call or stub call: the answer, with where its host objects are. */
  async invoke(c: Extract<Command, { t: "hostCall" } | { t: "stubCall" }>): Promise<{ value: unknown; stubs?: StubRef[] }> {
    const args = c.refs ? await this.resolveArgs(c.args, c.refs) : c.args;
    if (c.t === "hostCall") return this.wrap((await this.deps.callFn(c.fn, args)).value, `env.${c.fn}()`);
    const e = await this.entry(c.handle);
    const f = findMethod(e, c.method);
    const label = c.method === "" ? `${e.label}()` : `${e.label}.${c.method}()`;
    return this.wrap((await settle(Reflect.apply(f, e.kind === "fn" ? undefined : e.obj, args))).value, label);
  }

  private async entry(handle: unknown): Promise<Entry> {
    if (typeof handle === "string") {
      const e = this.handles.get(handle) ?? this.roots.get(handle);
      if (e) return e;
      if (handle.startsWith("env:")) {
        const path = handle.slice(4);
        const obj = (await this.deps.root(path))?.obj;
        const kind = obj === undefined ? undefined : hostKind(obj);
        if (obj !== undefined && kind !== undefined) {
          const root = { obj, kind, label: `env.${path}` };
          this.roots.set(handle, root);
          return root;
        }
        throw new WeftError(ErrorCode.NotFound, `env.${path} is not a host object or Workflow binding of this workflow's deploy`, { handle });
      }
    }
    throw new WeftError(ErrorCode.NotFound, `no host object ${JSON.stringify(handle)} in this run: a stub works only in the run that received it, until that run ends`, { handle });
  }

  /** the arguments with each stub reference replaced by its host object (of this run only) */
  private async resolveArgs(args: unknown[], refs: ArgRef[]): Promise<unknown[]> {
    for (const r of refs) {
      const bad = () => new WeftError(ErrorCode.InvalidArgument, "a stub argument names no position in the arguments", { path: r?.path });
      if (!r || !Array.isArray(r.path) || r.path.length === 0) throw bad();
      const e = await this.entry(r.h);
      let parent: unknown = args;
      for (const seg of r.path.slice(0, -1)) {
        if (!parent || typeof parent !== "object" || !Object.hasOwn(parent, seg)) throw bad();
        parent = (parent as Record<string | number, unknown>)[seg];
      }
      const key = r.path[r.path.length - 1]!;
      if (!parent || typeof parent !== "object" || !Object.hasOwn(parent, key) || (parent as Record<string | number, unknown>)[key] !== null) throw bad();
      define(parent, key, e.obj);
    }
    return args;
  }

  /** A value for the guest: host objects in it registered (stubs listed by path), the rest checked cloneable. */
  wrap(value: unknown, label: string): { value: unknown; stubs?: StubRef[] } {
    if (value === null || (typeof value !== "object" && typeof value !== "function" && typeof value !== "symbol")) return { value };
    const stubs: StubRef[] = [];
    const out = this.walk(value, [], stubs, label, new Set(), 0);
    try {
      serialize(out);
    } catch (e) {
      throw new WeftError(ErrorCode.NotSerializable, `${label} returned a value that cannot cross into the isolate (${(e as Error).message}): return structured-clone values (plain data, arrays, Map, Set, Date, typed arrays, errors) or host objects (objects with methods, which the workflow gets as stubs)`, { where: label });
    }
    return stubs.length > 0 ? { value: out, stubs } : { value: out };
  }

  private walk(v: unknown, path: ValuePath, stubs: StubRef[], label: string, ancestors: Set<object>, depth: number): unknown {
    if (v === null || (typeof v !== "object" && typeof v !== "function") || depth > MAX_DEPTH) return v;
    const kind = hostKind(v);
    if (kind) {
      if (ancestors.has(v)) throw new WeftError(ErrorCode.NotSerializable, `${showPath(label, path)} holds itself: a host object's data cannot contain that object (a cycle)`, { where: label });
      const h = this.register(v, kind, showPath(label, path));
      stubs.push(kind === "fn" ? { path: [...path], h, methods: [], fn: true } : { path: [...path], h, methods: kind === "proxy" ? null : methodNames(v, kind) });
      if (kind !== "plain") return null;
      ancestors.add(v);
      const data: Record<string, unknown> = {};
      for (const k of Object.keys(v)) {
        const x = (v as Record<string, unknown>)[k];
        if (typeof x === "function") continue;
        path.push(k);
        define(data, k, this.walk(x, path, stubs, label, ancestors, depth + 1));
        path.pop();
      }
      ancestors.delete(v);
      return data;
    }
    // a cycle of plain data (the structured clone keeps it), or a value of a built-in class
    if (ancestors.has(v) || !(Array.isArray(v) || plainProto(v))) return v;
    ancestors.add(v);
    let out: Record<string, unknown> | unknown[] | undefined;
    const isArray = Array.isArray(v);
    for (const k of Object.keys(v)) {
      const seg = isArray ? Number(k) : k;
      const x = (v as Record<string, unknown>)[k];
      path.push(seg);
      const y = this.walk(x, path, stubs, label, ancestors, depth + 1);
      path.pop();
      if (y !== x) {
        out ??= isArray ? (v as unknown[]).slice() : { ...(v as Record<string, unknown>) };
        define(out, seg, y);
      }
    }
    ancestors.delete(v);
    return out ?? v;
  }

  private register(obj: object, kind: HostKind, label: string): string {
    const known = this.ids.get(obj);
    if (known) return known;
    const limit = this.deps.limit;
    if (this.handles.size >= limit) {
      throw new WeftError(ErrorCode.TooLarge, `${label} returned a host object, but this run already holds ${limit} host objects (limits.hostObjects): they are released only when the run ends (when the instance sleeps, waits or finishes). Reuse host objects (prepare a statement once and bind it again), or raise limits.hostObjects`, {
        field: "limits.hostObjects", limit,
      });
    }
    this.prefix ??= randomBytes(9).toString("base64url");
    const h = `${this.prefix}.${this.next++}`;
    this.handles.set(h, { obj, kind, label });
    this.ids.set(obj, h);
    return h;
  }

  /** the run ended: every handle goes */
  clear(): void {
    this.handles.clear();
    this.ids.clear();
    this.roots.clear();
  }
}

// ---- env bindings ------------------------------------------------------------------------------
const rootsCache = new WeakMap<VersionRecord, Map<string, EnvMarker>>();

/** The host objects and Workflow bindings a version's env holds, by env path. */
export function envRoots(v: VersionRecord): Map<string, EnvMarker> {
  let m = rootsCache.get(v);
  if (!m) {
    const found = new Map<string, EnvMarker>();
    mapEnv(v.config.env, (marker, path, raw) => {
      if (marker.kind === "obj" || marker.kind === "workflow") found.set(path, marker);
      return raw;
    });
    rootsCache.set(v, (m = found));
  }
  return m;
}

const isObject = (o: unknown): o is Record<string, unknown> => o !== null && typeof o === "object" && !Array.isArray(o);

/** create options as a tenant may give them through its binding: Cloudflare's id and params (retention and locationHint are ignored) */
function createOptions(o: unknown, where: string): { id?: string; params?: unknown } | undefined {
  if (o === undefined) return undefined;
  if (!isObject(o)) throw new WeftError(ErrorCode.InvalidArgument, `${where}: create options must be an object { id?, params? }`, { field: where });
  return { ...(o.id !== undefined ? { id: o.id as string } : {}), ...(o.params !== undefined ? { params: o.params } : {}) };
}

/** A WorkflowInstance as the guest sees it through the binding: `id`, and Cloudflare's instance methods. */
function guestInstance(i: WorkflowInstance): object {
  return {
    id: i.id,
    status: () => i.status(),
    pause: () => i.pause(),
    resume: () => i.resume(),
    terminate: (o?: unknown) => i.terminate(isObject(o) ? { rollback: o.rollback === true } : undefined),
    restart: (o?: unknown) => i.restart(o as Parameters<WorkflowInstance["restart"]>[0]),
    sendEvent: (e: unknown) => i.sendEvent(e as Parameters<WorkflowInstance["sendEvent"]>[0]),
    delete: () => i.delete(),
  };
}

/**
 * The host object behind `this.env.MY_WORKFLOW` (Cloudflare's Workflow binding: create, createBatch,
 * get, deleteBatch), over the engine's WorkflowBinding of the run's own tenant.
 */
export function guestWorkflow(b: WorkflowBinding): object {
  return {
    create: async (o?: unknown) => guestInstance(await b.create(createOptions(o, `env binding of workflow ${b.name}: create`))),
    createBatch: async (list: unknown) => {
      if (!Array.isArray(list)) throw new WeftError(ErrorCode.InvalidArgument, `createBatch takes an array of create options`, { field: "batch" });
      return (await b.createBatch(list.map((o, i) => createOptions(o, `createBatch[${i}]`) ?? {}))).map(guestInstance);
    },
    get: async (id: unknown) => guestInstance(await b.get(id as string)),
    deleteBatch: (ids: unknown) => b.deleteBatch(ids as string[]),
  };
}
