// Runs INSIDE the isolate. Which step attempt the code executing now belongs to — the one decision
// behind nested steps (a step.do made inside a step body is identified by that body's step) and
// behind randomness (step bodies get real randomness; code outside steps gets replay-stable values).
//
// V8 offers JavaScript no async context (no AsyncLocalStorage, no promise hooks in isolated-vm), so
// an attempt is recognised by a frame on the (async) stack: each attempt's body is awaited by a
// function of its own, named `__weft_attempt_<n>`, and V8's async stack traces (on by default) show
// that function as `at async __weft_attempt_<n>` in every continuation of the body after an await,
// through any async functions the body awaits and through Promise.all/any/allSettled. Around that:
// - the synchronous part of a body (before its first await) is known without a stack: `sync` is set;
// - `.then` callbacks and timer callbacks registered by a body run as that body (the registration's
//   owner is remembered, the callback is called the same way);
// - with no attempt running in this realm, everything is outside steps (no stack is looked at).
// Known limit: an async function whose promise is observed by more than one reaction (awaited and
// also given a `.then`) breaks V8's async chain; code after its awaits counts as outside steps.
const PREFIX = "__weft_attempt_";
const RealError = Error as ErrorConstructor & { prepareStackTrace?: unknown; stackTraceLimit: number };
const capture = Error.captureStackTrace.bind(Error);

/** A step attempt whose body is (or was) running: what its code is attributed to. */
export interface Owner {
  /** the run the attempt belongs to (opaque here) */
  readonly run: object;
  readonly key: string;
  readonly attempt: number;
  readonly kind: string;
  /** the attempt's body promise settled (calls from leftovers of it are refused) */
  ended: boolean;
}

interface Entry {
  owner: Owner;
  /** awaits a promise under this attempt's name: the frame that attributes the continuations */
  mark: (p: unknown) => Promise<unknown>;
}

const byId = new Map<number, Entry>();
const byOwner = new WeakMap<Owner, Entry>();
const byRun = new Map<object, number[]>();
let nextId = 1;
/** attempts whose body has not settled, over every run of this realm */
let live = 0;
/** the attempt whose code is running synchronously right now (set around the calls made here) */
let sync: Owner | undefined;

let found: number | undefined;
function prepare(_e: unknown, sites: { getFunctionName(): string | null }[]): string {
  for (const s of sites) {
    const n = s.getFunctionName();
    if (n !== null && n.startsWith(PREFIX)) {
      found = Number(n.slice(PREFIX.length));
      return "";
    }
  }
  return "";
}

function fromStack(): Owner | undefined {
  const pp = RealError.prepareStackTrace, pl = RealError.stackTraceLimit;
  found = undefined;
  try {
    RealError.stackTraceLimit = 1000;
    RealError.prepareStackTrace = prepare;
    const h: { stack?: string } = {};
    capture(h);
    void h.stack;
  } catch {
    /* the tenant froze Error: nothing can be known from the stack */
  } finally {
    try {
      RealError.prepareStackTrace = pp;
      RealError.stackTraceLimit = pl;
    } catch {
      /* frozen */
    }
  }
  return found === undefined ? undefined : byId.get(found)?.owner;
}

/** The step attempt the executing code belongs to, or undefined for code outside steps. */
export function currentOwner(): Owner | undefined {
  if (sync !== undefined) return sync;
  if (live === 0) return undefined;
  return fromStack();
}

/** Is the executing code inside a step body? (the one question randomness asks) */
export function inStepBody(): boolean {
  return currentOwner() !== undefined;
}

function entryOf(owner: Owner): Entry {
  let e = byOwner.get(owner);
  if (!e) {
    const id = nextId++;
    const name = PREFIX + id;
    const mark = { [name]: async (p: unknown) => await p }[name]!;
    e = { owner, mark };
    byOwner.set(owner, e);
    byId.set(id, e);
    const ids = byRun.get(owner.run);
    if (ids) ids.push(id);
    else byRun.set(owner.run, [id]);
  }
  return e;
}

/** Call fn(arg) as `owner`'s code: synchronously, and its async continuations through the marker. */
function callAs<T>(e: Entry, fn: (a: unknown) => T, arg: unknown): T | Promise<unknown> {
  const prev = sync;
  sync = e.owner;
  let r: T;
  try {
    r = fn(arg);
  } finally {
    sync = prev;
  }
  // the marker must be the only reaction on the promise for V8 to walk through it: hand it out instead
  return r instanceof Promise ? e.mark(r) : r;
}

/**
 * Run a step attempt's body: `fn(ctx)` synchronously (a throw is a rejected promise), attributed to
 * `owner` now and in every continuation. The returned promise settles as the body's does.
 */
export function runBody(owner: Owner, fn: (ctx: unknown) => unknown, ctx: unknown): Promise<unknown> {
  const e = entryOf(owner);
  live++;
  let p: Promise<unknown>;
  try {
    p = Promise.resolve(callAs(e, fn, ctx));
  } catch (err) {
    p = Promise.reject(err);
  }
  const end = () => {
    live--;
    owner.ended = true;
  };
  origThen.call(p, end, end);
  return p;
}

/** The run left this realm: its attempts are forgotten (what is left of their code counts as outside steps). */
export function forgetRun(run: object): void {
  for (const id of byRun.get(run) ?? []) byId.delete(id);
  byRun.delete(run);
}

/** A callback registered now (a timer): when it runs, it runs as the code that registered it. */
export function bindToCurrent<A extends unknown[], R>(fn: (...a: A) => R): (...a: A) => R {
  const o = currentOwner();
  if (!o) return fn;
  const e = entryOf(o);
  return (...a: A) => callAs(e, (x) => fn(...(x as A)), a) as R;
}

/** Run fn as `owner`'s synchronous code (a rollback handler's call, for instance). */
export function asOwner<T>(owner: Owner | undefined, fn: () => T): T {
  const prev = sync;
  sync = owner;
  try {
    return fn();
  } finally {
    sync = prev;
  }
}

const origThen = Promise.prototype.then;
/**
 * The runtime's own reactions (its bookkeeping, never tenant code) are registered through the real
 * `then`: with bodies running, the patched one would look at the stack (a capture) on every call.
 */
export function rawThen<T>(p: Promise<T>, a: ((v: T) => unknown) | undefined, b?: (e: unknown) => unknown): Promise<unknown> {
  return origThen.call(p, a, b) as Promise<unknown>;
}
const fnToString = Function.prototype.toString;
function isNative(f: unknown): boolean {
  try {
    return fnToString.call(f).endsWith("{ [native code] }");
  } catch {
    return false;
  }
}

/**
 * `.then` callbacks registered inside a step body run as that body (a body written as a chain of
 * `.then` calls keeps its randomness and its nested steps). Outside bodies nothing changes.
 */
export function installThenAttribution(): void {
  const then = function (this: Promise<unknown>, a?: unknown, b?: unknown) {
    const o = live > 0 ? currentOwner() : undefined;
    if (!o) return origThen.call(this, a as never, b as never);
    const e = entryOf(o);
    // V8's own reaction functions (Promise.all's, an await of a thenable) stay as they are: V8 walks
    // through them for async stack traces, and no tenant code runs in them
    const wrap = (f: unknown) => (typeof f === "function" && !isNative(f) ? (v: unknown) => callAs(e, f as (a: unknown) => unknown, v) : f);
    return origThen.call(this, wrap(a) as never, wrap(b) as never);
  };
  Object.defineProperty(Promise.prototype, "then", { value: then, writable: true, configurable: true, enumerable: false });
}
