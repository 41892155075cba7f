// Runs INSIDE the isolate: the entry of the guest runtime bundle. It installs the web globals, the
// replay-stable clock and randomness, console capture, fetch/timers/env bridges (all as commands to
// the host), exposes the modules tenant code imports ("cloudflare:workers", "cloudflare:workflows",
// "weft") and defines the single entry point the host calls: __weft_activate(runId, jobs, now).
// One context hosts many runs of the same deployed version (as a Workers isolate serves many
// requests); each run has its own clock, random stream and state, and an activation belongs to
// exactly one run, so the globals are pointed at that run for its duration.
import { installWebGlobals, setResponseUrl } from "./web.ts";
import { installCrypto } from "./subtle.ts";
import { GuestClock, GuestRandom, SecureRandom, installDeterminism, define } from "./determinism.ts";
import { bindToCurrent, forgetRun, inStepBody, installThenAttribution } from "./attribution.ts";
import { WorkflowEntrypoint, NonRetryableError, WorkflowRun, errorInfo, toError } from "./workflow.ts";
import { mapEnv } from "../../core/env-codec.ts";
import { envHandle } from "../../core/stubs.ts";
import { installStubs, makeStub, pipelined, placeStubs, send } from "./stubs.ts";
import { makeFs, makeStorage } from "./storage.ts";
import { installWasm } from "./wasm.ts";
import { DurableObject, RpcPromise, RpcProperty, RpcStub, RpcTarget, ServiceStub, WorkerEntrypoint, envProxy, waitUntil } from "./workers-compat.ts";
import type { ActivationResult, Command, HostSyncRequest, Job, InitJob, SyncReply, SyncRequest } from "../protocol.ts";

const g = globalThis as unknown as Record<string, unknown>;
const MAX_LOGS_PER_ACTIVATION = 1000;
const MAX_LOG_CHARS = 8192;

// AbortSignal.timeout and scheduler.wait use the runtime's timers (below), not a replaceable global
installWebGlobals(g, { set: (fn, ms) => setTimer(fn, ms, false, []), clear: clearTimer });

interface RunState {
  run: WorkflowRun;
  clock: GuestClock;
  rnd: GuestRandom;
  /** real randomness for the run's step bodies */
  secure: SecureRandom;
  ids: Set<number>;
  /** the run's bindings, also what `import { env } from "cloudflare:workers"` reads while it runs */
  env?: object;
}

const commands: Command[] = [];
const result: ActivationResult = { commands, droppedLogs: 0 };
const runs = new Map<number, RunState>();
let current: RunState | undefined;
let run: WorkflowRun | undefined;
let activationNow = 0;
const clockView = { now: () => (current ? current.clock.now() : activationNow) };
// V8's own Math.random (seeded from the embedder's entropy), kept before it is replaced: mixed into
// each run's key, and the whole key when no run is current (leftovers of a body after its run left)
const nativeRandom = Math.random;
function nativeBytes(n: number): Uint8Array {
  const b = new Uint8Array(n);
  for (let i = 0; i < n; i++) b[i] = Math.floor(nativeRandom() * 256);
  return b;
}
const contextSecure = new SecureRandom(nativeBytes(32));
const rndView = {
  next: () => (current ? current.rnd.next() : 0.5),
  nextU32: () => (current ? current.rnd.nextU32() : 0),
  secure: () => (current ? current.secure : contextSecure),
};
/** `label`: a host call or stub call, whose answer may hold host objects (made stubs, named after it) */
const hostWaiters = new Map<number, { resolve: (v: unknown) => void; reject: (e: unknown) => void; label?: string }>();
const timers = new Map<number, { fn: () => void; interval?: number }>();
let nextId = 1;
let logsThisActivation = 0;

// ---- console ---------------------------------------------------------------------------------
function fmt(v: unknown, depth = 0): string {
  if (typeof v === "string") return depth === 0 ? v : JSON.stringify(v);
  if (v instanceof Error) return v.stack ?? `${v.name}: ${v.message}`;
  if (typeof v === "function") return `[Function ${v.name || "anonymous"}]`;
  if (typeof v === "bigint") return `${v}n`;
  if (typeof v === "symbol") return v.toString();
  if (v === null || typeof v !== "object") return String(v);
  if (depth > 3) return Array.isArray(v) ? "[Array]" : "[Object]";
  try {
    if (Array.isArray(v)) return `[ ${v.slice(0, 100).map((x) => fmt(x, depth + 1)).join(", ")} ]`;
    if (v instanceof Date) return v.toISOString();
    if (v instanceof Map) return `Map(${v.size})`;
    const parts = Object.keys(v).slice(0, 100).map((k) => `${k}: ${fmt((v as Record<string, unknown>)[k], depth + 1)}`);
    return `{ ${parts.join(", ")} }`;
  } catch {
    return "[object]";
  }
}
function log(level: string) {
  return (...args: unknown[]) => {
    if (run?.replaying && !inStepBody()) return; // the first run already logged this (a step body runs only live)
    if (logsThisActivation >= MAX_LOGS_PER_ACTIVATION) {
      result.droppedLogs++;
      return;
    }
    logsThisActivation++;
    let message = args.map((a) => fmt(a)).join(" ");
    if (message.length > MAX_LOG_CHARS) message = message.slice(0, MAX_LOG_CHARS) + `… [truncated ${message.length - MAX_LOG_CHARS} chars]`;
    commands.push({ t: "log", level, at: clockView.now(), message });
  };
}
define(g, "console", Object.freeze({
  log: log("info"), info: log("info"), debug: log("debug"), warn: log("warn"), error: log("error"), trace: log("debug"),
}));

// ---- host bridges ----------------------------------------------------------------------------
function hostPromise(cmd: (id: number) => Command, label?: string): Promise<unknown> {
  const id = nextId++;
  current?.ids.add(id);
  return new Promise((resolve, reject) => {
    hostWaiters.set(id, { resolve, reject, label });
    commands.push(cmd(id));
  });
}

// env functions and stubs of host objects (stubs.ts): their calls answer pipelined promises
installStubs({
  owner: () => current,
  call: (handle, method, args, refs, label) => hostPromise((id) => ({ t: "stubCall", id, handle, method, args, ...(refs ? { refs } : {}) }), label),
});

function hostFunction(path: string) {
  const label = `env.${path}()`;
  const f = (...args: unknown[]) =>
    pipelined(send(args, label, (a, refs) => hostPromise((id) => ({ t: "hostCall", id, fn: path, args: a, ...(refs ? { refs } : {}) }), label)), label);
  Object.defineProperty(f, "name", { value: path.split(".").pop() });
  return f;
}

/** Cloudflare's Workflow binding: its methods (the host's object for it answers them: engine/host-objects.ts) */
const WORKFLOW_METHODS = ["create", "createBatch", "get", "deleteBatch"];

/**
 * The run's env, read-only: function markers become calls to the host (secrets were opened there),
 * host objects and Workflow bindings stubs of the run (their handle is their env path).
 */
function buildEnv(v: unknown, owner: RunState): unknown {
  return mapEnv(v, (m, path, raw) => {
    if (m.kind === "fn") return hostFunction(m.path);
    if (m.kind === "obj") return makeStub({ h: envHandle(path), methods: m.methods }, undefined, owner, `env.${path}`);
    if (m.kind === "workflow") return makeStub({ h: envHandle(path), methods: WORKFLOW_METHODS }, undefined, owner, `env.${path}`);
    return raw;
  }, true);
}

interface Signal {
  reason: unknown;
  throwIfAborted(): void;
  addEventListener(t: string, fn: () => void, o?: object): void;
  removeEventListener(t: string, fn: () => void): void;
}
async function guestFetch(input: unknown, init?: Record<string, unknown>): Promise<unknown> {
  const Req = g.Request as new (i: unknown, n?: unknown) => { url: string; method: string; headers: Iterable<[string, string]>; signal: Signal; bytes(): Promise<Uint8Array> };
  const req = new Req(input, init);
  const signal = req.signal;
  signal.throwIfAborted();
  const body = req.method === "GET" || req.method === "HEAD" ? null : await req.bytes();
  signal.throwIfAborted();
  // an abort rejects with the signal's reason at once, and tells the host to abort the request
  let id = 0, onAbort = () => {};
  const aborted = new Promise<never>((_, reject) => {
    onAbort = () => {
      if (hostWaiters.delete(id)) commands.push({ t: "cancel", id });
      reject(signal.reason);
    };
  });
  const answer = hostPromise((i) => {
    id = i;
    return { t: "fetch", id, url: req.url, method: req.method, headers: [...req.headers], body: body && body.byteLength > 0 ? body : null };
  });
  signal.addEventListener("abort", onAbort, { once: true });
  let res: { status: number; statusText: string; headers: [string, string][]; body: Uint8Array; url: string };
  try {
    res = (await Promise.race([answer, aborted])) as typeof res;
  } finally {
    signal.removeEventListener("abort", onAbort);
  }
  const Res = g.Response as new (b: unknown, i: unknown) => Record<string, unknown>;
  const nullBody = res.status === 101 || res.status === 204 || res.status === 205 || res.status === 304;
  const r = new Res(nullBody ? null : res.body, { status: res.status, statusText: res.statusText, headers: res.headers });
  setResponseUrl(r, res.url);
  return r;
}
define(g, "fetch", guestFetch);

// The host's synchronous callback (ctx.storage.sql): taken out of the global object before any
// tenant code runs, so only this runtime can call it.
let hostSync: ((req: HostSyncRequest) => SyncReply) | undefined;
define(g, "__weft_capture_host", () => {
  hostSync = g.__weft_host_sync as typeof hostSync;
  delete g.__weft_host_sync;
  delete g.__weft_capture_host;
});
const storage = makeStorage((req) => {
  if (!hostSync || !current) return { ok: false, error: { name: "Error", message: "ctx.storage is only available while the workflow runs" } };
  return hostSync({ ...req, running: current.run.runningAttempts() } as SyncRequest);
}, toError);
// the attempts running as the guest sees them go along: the host ties a write to its attempt only if
// that attempt is still running on its side too (it may have timed out meanwhile)
const files = makeFs((req) => hostPromise((id) => ({ t: "fs", id, req, running: current?.run.runningAttempts() ?? [] })));

function setTimer(fn: unknown, ms: unknown, interval: boolean, args: unknown[]): number {
  if (typeof fn !== "function") throw new TypeError("setTimeout: callback must be a function");
  const id = nextId++;
  current?.ids.add(id);
  const delay = Math.max(0, Number(ms) || 0);
  // a timer a step body sets runs as that body (its randomness, its nested steps)
  const call = bindToCurrent(() => (fn as (...a: unknown[]) => void)(...args));
  timers.set(id, { fn: call, interval: interval ? delay : undefined });
  commands.push({ t: "setTimer", id, ms: delay });
  return id;
}
function clearTimer(id: unknown): void {
  if (typeof id === "number" && timers.delete(id)) commands.push({ t: "clearTimer", id });
}
define(g, "setTimeout", (fn: unknown, ms?: unknown, ...args: unknown[]) => setTimer(fn, ms, false, args));
define(g, "setInterval", (fn: unknown, ms?: unknown, ...args: unknown[]) => setTimer(fn, ms, true, args));
define(g, "clearTimeout", clearTimer);
define(g, "clearInterval", clearTimer);

installWasm(g, (bytes) => {
  const r = hostSync?.({ t: "wasm", bytes });
  return r === undefined ? "WebAssembly.Memory is not available while the runtime loads" : r.ok ? (r.value as string | undefined) : r.error.message;
});
installDeterminism(g, clockView, rndView);
installThenAttribution();
// crypto.subtle: the primitives are node:crypto's, through the synchronous host callback
installCrypto(g, (req) => (hostSync ? (hostSync({ t: "crypto", req }) as SyncReply) : { ok: false, error: { name: "OperationError", message: "crypto.subtle is not available here" } }));

// ---- modules for tenant code -------------------------------------------------------------------
class WorkflowTimeoutError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "WorkflowTimeoutError";
  }
}
define(g, "__weft_modules", Object.freeze({
  WorkflowEntrypoint, NonRetryableError, WorkflowTimeoutError,
  // the rest of workerd's "cloudflare:workers" (workers-compat.ts): they load; Weft runs only workflows
  WorkerEntrypoint, DurableObject, RpcTarget, RpcStub, RpcPromise, RpcProperty, ServiceStub, waitUntil,
  env: envProxy(() => current?.env),
  exports: envProxy(() => undefined),
}));

// ---- activation --------------------------------------------------------------------------------
function findClass(name: string): new (ctx: unknown, env: unknown) => { run: (e: unknown, s: unknown) => unknown } {
  const exportsObj = g.__weft_tenant as Record<string, unknown> | undefined;
  const C = exportsObj?.[name];
  if (typeof C !== "function") throw new Error(`workflow class ${name} is not exported by the bundle`);
  return C as never;
}

function start(runId: number, job: InitJob): void {
  const clock = new GuestClock(job.timestamp);
  const rnd = new GuestRandom(job.seed);
  // the host's 256 bits of entropy for this run (node:crypto), mixed with V8's
  const key = nativeBytes(32);
  if (job.entropy) for (let i = 0; i < 32; i++) key[i]! ^= job.entropy[i] ?? 0;
  run = new WorkflowRun(job, commands, clock, rnd);
  run.liveNow = activationNow;
  current = { run, clock, rnd, secure: new SecureRandom(key), ids: new Set() };
  runs.set(runId, current);
  const env = buildEnv(job.env, current);
  current.env = env as object;
  const ctx = Object.freeze({ instanceId: job.instanceId, storage, fs: files });
  const Cls = findClass(job.className);
  void run.start(Cls, ctx, env);
}

/** The run is over in this context (finished, suspended or moved): forget everything it held. */
function dispose(runId: number): void {
  const st = runs.get(runId);
  if (!st) return;
  for (const id of st.ids) {
    hostWaiters.delete(id);
    timers.delete(id);
  }
  forgetRun(st.run);
  runs.delete(runId);
}

function activate(runId: number, jobs: Job[], now: number): ActivationResult {
  commands.length = 0;
  result.droppedLogs = 0;
  logsThisActivation = 0;
  activationNow = now;
  current = runs.get(runId);
  run = current?.run;
  if (run) run.liveNow = now;
  for (const job of jobs) {
    try {
      if (job.t === "init") start(runId, job);
      else if (job.t === "dispose") dispose(runId);
      else if (run) dispatch(job);
    } catch (e) {
      commands.push({ t: "fail", error: errorInfo(e), rolledBack: false });
    }
  }
  // The host copies this object after the microtask queue drained, so it holds every command
  // produced by the continuations these jobs set off (all of them belong to this run: a run's
  // promises settle only through its own jobs).
  return result;
}

function dispatch(job: Job): void {
  switch (job.t) {
    case "runAttempt":
      run!.runAttempt(job.key, job.attempt);
      return;
    case "resolve":
      run!.resolve(job.key, job.at, job.value, job.error);
      return;
    case "abandonAttempt":
      run!.abandon(job.key, job.attempt);
      return;
    case "hostResult": {
      const w = hostWaiters.get(job.id);
      if (!w) return;
      hostWaiters.delete(job.id);
      if (job.error) w.reject(toError(job.error));
      else w.resolve(job.stubs && w.label !== undefined && current ? placeStubs(job.value, job.stubs, current, w.label) : job.value);
      return;
    }
    case "timer": {
      const t = timers.get(job.id);
      if (!t) return;
      if (t.interval !== undefined) commands.push({ t: "setTimer", id: job.id, ms: t.interval });
      else timers.delete(job.id);
      t.fn();
      return;
    }
    case "rollback":
      void run!.rollbackForTerminate(toError(job.error));
      return;
  }
}

define(g, "__weft_activate", activate);

// After an activation was cut off at the CPU limit, the host asks which step attempts it had started:
// a step body that loops in its first attempt is then charged, not the code outside steps.
define(g, "__weft_started", (): Command[] => commands.filter((c) => c.t === "call" && c.started).map((c) => ({ ...c })));
