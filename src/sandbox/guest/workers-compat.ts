// Runs INSIDE the isolate. The rest of what workerd's "cloudflare:workers" module exports at run time
// (workerd src/cloudflare/workers.ts), so that a module written for Cloudflare loads unchanged: the
// entrypoint classes are inert bases (a WorkerEntrypoint, a Durable Object or an RpcTarget subclass
// loads, and code may construct and call it, but Weft never runs it as an entrypoint; the deploy
// result lists what it does not run), `env` reads the bindings of the run that is executing (as
// workerd's proxy reads the current request's), `exports` has no loopback bindings, and waitUntil
// lets a promise go on without awaiting it. Not offered: withEnv/withExports (they need async
// context), cache, tracing, abortIsolate, restore.

/** Base of Workers RPC entrypoints: `ctx` and `env` as workerd sets them; nothing calls its handlers. */
export abstract class WorkerEntrypoint<Env = unknown> {
  protected ctx: unknown;
  protected env: Env;
  constructor(ctx: unknown, env: Env) {
    this.ctx = ctx;
    this.env = env;
  }
}

/** Base of Durable Object classes: `ctx` and `env` as workerd sets them; Weft has no namespace that makes them. */
export abstract class DurableObject<Env = unknown> {
  protected ctx: unknown;
  protected env: Env;
  constructor(ctx: unknown, env: Env) {
    this.ctx = ctx;
    this.env = env;
  }
}

/** Base of objects passed by reference over Workers RPC; inside one sandbox there is no boundary to cross. */
export abstract class RpcTarget {}

/**
 * `new RpcStub(value)` makes a stub of a local object for RPC; with no RPC boundary inside the sandbox
 * the stub is the object itself, so calls through it work as direct calls.
 */
export const RpcStub = function RpcStub<T>(this: unknown, value: T): T {
  if (new.target === undefined) throw new TypeError("Class constructor RpcStub cannot be invoked without 'new'");
  return value;
} as unknown as new <T>(value: T) => T;

/** Types workerd gives RPC results; there are none inside one sandbox (instanceof is always false). */
export class RpcPromise {}
export class RpcProperty {}
export class ServiceStub {}

/** `waitUntil(promise)`: the promise goes on without being awaited; its rejection is not unhandled. */
export function waitUntil(promise: unknown): void {
  if (promise && typeof (promise as Promise<unknown>).then === "function") (promise as Promise<unknown>).then(undefined, () => undefined);
}

/**
 * A read-only view of whichever env `current()` returns (the running run's bindings; none while the
 * module itself loads, where workerd's proxy has none either and reads give undefined).
 */
export function envProxy(current: () => object | undefined): object {
  const read = (): object => current() ?? {};
  return new Proxy(Object.create(null) as object, {
    get: (_t, p) => Reflect.get(read(), p),
    has: (_t, p) => Reflect.has(read(), p),
    ownKeys: () => Reflect.ownKeys(read()),
    getOwnPropertyDescriptor: (_t, p) => {
      const d = Reflect.getOwnPropertyDescriptor(read(), p);
      // the proxy's target holds none of these, so each must be reported configurable
      return d ? { ...d, configurable: true } : undefined;
    },
    set: () => false,
    defineProperty: () => false,
    deleteProperty: () => false,
  });
}
