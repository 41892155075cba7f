// Runs INSIDE the isolate. Stubs of host objects, and the pipelined promises host calls answer with.
//
// - A host call (an env function, or a method of a stub) answers with a *pipelined promise*: a real
//   thenable (await, then, catch, finally, `instanceof Promise`) on which methods can be called
//   before it settles, each call queued until the value it is made on is there, as Cloudflare's
//   RpcPromise allows. D1's `prepare()` and `bind()` are synchronous on Cloudflare (they return
//   statements), so `env.DB.prepare(sql).bind(1).all()` must work as one expression: here `prepare`
//   answers a pipelined promise, `.bind(1)` on it is queued until the statement's stub is there, and
//   `.all()` likewise; awaiting the chain gives the rows. A property read on a pipelined promise is
//   a promise of that property (`await env.R2.get(k).size`).
// - A host object in an answer becomes a *stub* (the host keeps the object: engine/host-objects.ts):
//   for a plain object with methods, its data properties by value and its methods; for a class
//   instance, its methods only; for a Proxy (`methods: null`), any method name, asked of it when
//   called; for a function, a callable stub. A stub is frozen, never a thenable, and offers none of
//   the names core/stubs.ts forbids.
// - A stub works only in the run that received it (the host's handles are per run, and a stub kept in
//   a module-level variable and used by another run of the context is refused here first).
// - Stubs among a call's arguments travel as references (`ArgRef`), pipelined promises among them
//   are awaited first (D1's `batch([db.prepare(a), db.prepare(b).bind(1)])`); the rest must be
//   structured-clone values, checked with a precise error before anything is sent.
import { checkSerializable } from "../../core/values.ts";
import { methodAllowed, showPath, type ValuePath } from "../../core/stubs.ts";
import type { ArgRef, StubRef } from "../protocol.ts";

interface StubState {
  h: string;
  owner: object;
  label: string;
}

export interface StubHost {
  /** the run whose code is executing now */
  owner(): object | undefined;
  /** send a stub call (its answer's stubs are placed by the caller of placeStubs) */
  call(handle: string, method: string, args: unknown[], refs: ArgRef[] | undefined, label: string): Promise<unknown>;
}

let host: StubHost | undefined;
export function installStubs(h: StubHost): void {
  host = h;
}

const STATES = new WeakMap<object, StubState>();
const PIPES = new WeakMap<object, Promise<unknown>>();
/** how deep arguments are searched for stubs and pipelined promises (deeper values are sent as they are) */
const MAX_ARG_DEPTH = 64;

const isPlain = (v: object): boolean => {
  const p = Object.getPrototypeOf(v);
  return p === Object.prototype || p === null;
};

function define(o: object, k: string | number, value: unknown): void {
  Object.defineProperty(o, k, { value, writable: true, enumerable: true, configurable: true });
}

// ---- pipelined promises ------------------------------------------------------------------------
function promiseMember(p: Promise<unknown>, k: string | symbol): unknown {
  switch (k) {
    case "then":
      return (a?: unknown, b?: unknown) => p.then(a as never, b as never);
    case "catch":
      return (b?: unknown) => p.catch(b as never);
    case "finally":
      return (f?: unknown) => p.finally(f as never);
    case Symbol.toStringTag:
      return "Promise";
  }
  return undefined;
}

const readOnly = { set: () => false, defineProperty: () => false, deleteProperty: () => false, setPrototypeOf: () => false };

/** `p` as a promise whose result's methods can be called before it settles. */
export function pipelined(p: Promise<unknown>, label: string): Promise<unknown> {
  const proxy = new Proxy(Object.create(Promise.prototype) as object, {
    ...readOnly,
    get: (_t, k) => promiseMember(p, k) ?? (typeof k === "string" ? property(p, k, `${label}.${k}`) : undefined),
  });
  PIPES.set(proxy, p);
  return proxy as Promise<unknown>;
}

/** `p.k` before p settles: callable (a queued method call) and awaitable (the property's value). */
function property(p: Promise<unknown>, k: string, label: string): unknown {
  let value: Promise<unknown> | undefined;
  const read = () => (value ??= p.then((v) => {
    if (v === null || v === undefined) throw new TypeError(`Cannot read properties of ${v} (reading '${k}'): ${label}`);
    return (v as Record<string, unknown>)[k];
  }));
  return new Proxy(() => undefined, {
    ...readOnly,
    apply: (_t, _this, args: unknown[]) => pipelined(p.then((v) => {
      if (v === null || v === undefined) throw new TypeError(`Cannot read properties of ${v} (reading '${k}'): ${label}()`);
      const f = (v as Record<string, unknown>)[k];
      if (typeof f !== "function") throw new TypeError(`${label} is not a function`);
      return Reflect.apply(f, v, args);
    }), `${label}()`),
    get: (_t, key) => promiseMember(read(), key) ?? (typeof key === "string" ? property(read(), key, `${label}.${key}`) : undefined),
  });
}

// ---- stubs -------------------------------------------------------------------------------------
function checkOwner(st: StubState, label: string): void {
  if (host?.owner() !== st.owner) {
    throw new Error(`${label}: this stub belongs to another run (it was kept beyond the run that received it, e.g. in a module-level variable); a stub works only in the run whose host call returned it`);
  }
}

function invoke(st: StubState, method: string, args: unknown[], label: string): Promise<unknown> {
  let p: Promise<unknown>;
  try {
    checkOwner(st, label);
    p = send(args, label, (a, refs) => host!.call(st.h, method, a, refs, label));
  } catch (e) {
    p = Promise.reject(e);
  }
  return pipelined(p, label);
}

function methodOf(st: StubState, m: string): (...args: unknown[]) => Promise<unknown> {
  return { [m]: (...args: unknown[]) => invoke(st, m, args, `${st.label}.${m}()`) }[m]!;
}

/** a stub of any method name (a host Proxy): each name is asked of the object when called */
function openStub(st: StubState): object {
  const methods = new Map<string, unknown>();
  const ok = (k: string | symbol): k is string => typeof k === "string" && k !== "" && methodAllowed(k);
  return new Proxy(Object.create(null) as object, {
    ...readOnly,
    get: (_t, k) => {
      if (!ok(k)) return undefined;
      let f = methods.get(k);
      if (!f) methods.set(k, (f = methodOf(st, k)));
      return f;
    },
    has: (_t, k) => ok(k),
  });
}

/** The stub of host object `ref.h` (`data`: its data properties, for a plain object), usable by run `owner`. */
export function makeStub(ref: Pick<StubRef, "h" | "methods" | "fn">, data: unknown, owner: object, label: string): object {
  const st: StubState = { h: ref.h, owner, label };
  let stub: object;
  if (ref.fn) {
    stub = Object.freeze((...args: unknown[]) => invoke(st, "", args, `${label}()`));
  } else if (ref.methods === null) {
    stub = openStub(st);
  } else {
    const o: Record<string, unknown> = {};
    if (data && typeof data === "object") for (const k of Object.keys(data)) define(o, k, (data as Record<string, unknown>)[k]);
    for (const m of ref.methods) if (m !== "" && methodAllowed(m)) define(o, m, methodOf(st, m));
    stub = Object.freeze(o);
  }
  STATES.set(stub, st);
  return stub;
}

/** A host call's answer with its host objects made stubs (innermost first: an outer stub keeps its inner ones). */
export function placeStubs(value: unknown, stubs: StubRef[], owner: object, label: string): unknown {
  let root = value;
  for (const ref of [...stubs].sort((a, b) => b.path.length - a.path.length)) {
    const where = showPath(label, ref.path);
    if (ref.path.length === 0) {
      root = makeStub(ref, root, owner, where);
      continue;
    }
    let parent: unknown = root;
    for (const seg of ref.path.slice(0, -1)) parent = parent && typeof parent === "object" ? (parent as Record<string | number, unknown>)[seg] : undefined;
    if (!parent || typeof parent !== "object") continue;
    const key = ref.path[ref.path.length - 1]!;
    define(parent, key, makeStub(ref, (parent as Record<string | number, unknown>)[key], owner, where));
  }
  return root;
}

// ---- calls -------------------------------------------------------------------------------------
function hasPipes(v: unknown, depth: number, ancestors: Set<object>): boolean {
  if (v === null || typeof v !== "object") return false;
  if (PIPES.has(v)) return true;
  if (depth > MAX_ARG_DEPTH || ancestors.has(v) || STATES.has(v) || !(Array.isArray(v) || isPlain(v))) return false;
  ancestors.add(v);
  try {
    for (const k of Object.keys(v)) if (hasPipes((v as Record<string, unknown>)[k], depth + 1, ancestors)) return true;
    return false;
  } finally {
    ancestors.delete(v);
  }
}

/** arguments with every pipelined promise in them awaited (a copy of the containers that held one) */
async function settlePipes(v: unknown, depth: number): Promise<unknown> {
  if (v === null || typeof v !== "object") return v;
  const p = PIPES.get(v);
  if (p) return await p;
  if (depth > MAX_ARG_DEPTH || STATES.has(v)) return v;
  if (Array.isArray(v)) return Promise.all(v.map((x) => settlePipes(x, depth + 1)));
  if (!isPlain(v)) return v;
  const out: Record<string, unknown> = {};
  for (const k of Object.keys(v)) define(out, k, await settlePipes((v as Record<string, unknown>)[k], depth + 1));
  return out;
}

/** `v` with each stub in it replaced by null and listed in `refs` (copies only what holds one) */
function encodeStubs(v: unknown, path: ValuePath, refs: ArgRef[], label: string, depth: number, ancestors: Set<object>): unknown {
  if (v === null || (typeof v !== "object" && typeof v !== "function")) return v;
  const st = STATES.get(v);
  if (st) {
    checkOwner(st, `${label}: argument ${showPath("", path) || "(the first)"}`);
    refs.push({ path: [...path], h: st.h });
    return null;
  }
  if (typeof v === "function" || depth > MAX_ARG_DEPTH || ancestors.has(v) || !(Array.isArray(v) || isPlain(v))) return v;
  ancestors.add(v);
  let out: Record<string, unknown> | unknown[] | undefined;
  for (const k of Object.keys(v)) {
    const seg = Array.isArray(v) ? Number(k) : k;
    const x = (v as Record<string, unknown>)[k];
    path.push(seg);
    const y = encodeStubs(x, path, refs, label, depth + 1, ancestors);
    path.pop();
    if (y !== x) {
      out ??= Array.isArray(v) ? v.slice() : { ...v };
      define(out, seg, y);
    }
  }
  ancestors.delete(v);
  return out ?? v;
}

/**
 * Send a call: stubs among `args` go as references, pipelined promises are awaited first, and the
 * rest must be structured-clone values (a precise error otherwise, before anything is sent).
 */
export function send(args: unknown[], label: string, emit: (args: unknown[], refs: ArgRef[] | undefined) => Promise<unknown>): Promise<unknown> {
  const go = (a: unknown[]): Promise<unknown> => {
    const refs: ArgRef[] = [];
    const out = encodeStubs(a, [], refs, label, 0, new Set()) as unknown[];
    checkSerializable(out, `${label} arguments`);
    return emit(structuredClone(out), refs.length > 0 ? refs : undefined);
  };
  try {
    if (hasPipes(args, 0, new Set())) return settlePipes(args, 0).then((a) => go(a as unknown[]));
    return go(args);
  } catch (e) {
    return Promise.reject(e);
  }
}
