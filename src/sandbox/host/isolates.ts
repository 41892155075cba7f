// Host side: V8 isolates through isolated-vm. Strategy (chosen by measurement, see bench/ and the
// README): one isolate per deployed version, a few long-lived contexts in it, and many instance runs
// per context (as a Workers isolate serves many requests). A run is a slot: its own WorkflowRun,
// clock and random stream inside the shared realm. Opening a context costs ~1.5 ms of isolate CPU and
// ~200 KB of heap; a slot in a warm context costs neither. Tenants never share an isolate.
// Activations of one isolate are serialized by us, so its cpuTime delta belongs to exactly one run:
// that is how CPU budgets are charged, and how the culprit is known when a limit is hit.
import ivm from "isolated-vm";
import { setFlagsFromString } from "node:v8";
import { runInNewContext } from "node:vm";
import { ErrorCode, WeftError } from "../../core/errors.ts";
import type { ActivationResult, Command, HostSyncRequest, Job, SyncReply, SyncRequest } from "../protocol.ts";
import { cryptoReply } from "./crypto.ts";
import { TENANT_GLOBAL } from "./compile.ts";
import { TenantThreadPriority } from "./priority.ts";
import { RUNTIME_FILE, TENANT_FILE, firstFrame, mapStack } from "./source-map.ts";

export interface IsolateOptions {
  memoryMb: number;
  /**
   * Activations run synchronously (isolated-vm's applySync costs ~3 µs against ~40 µs for a call on
   * the isolate's thread) as long as they finish within this budget; one that does not is cut off,
   * its context's runs move, and that run replays in asynchronous mode, where a long activation
   * never holds the event loop. 0 turns synchronous activations off.
   */
  syncBudgetMs: number;
  maxContextsPerIsolate: number;
  maxRunsPerContext: number;
  maxIdleIsolates: number;
  /** nice value of the threads that run tenant code asynchronously (0: unchanged) */
  tenantNice?: number;
}

/** what a bundle exports: its workflow classes, and the kind of each export Weft recognizes (engine/ports.ts) */
export interface BundleExports {
  classes: string[];
  exports: string[];
  kinds: Record<string, { kind: "workflow" | "worker entrypoint" | "durable object" | "rpc target" | "fetch handler" | "worker handler"; handlers?: string[] }>;
}

export type ActivationOutcome =
  | { ok: true; result: ActivationResult; cpuMs: number }
  /** preempted: a synchronous activation ran past the sync budget; the run must replay in async mode */
  | { ok: false; reason: "cpu" | "memory" | "disposed" | "unhandled" | "preempted"; message: string; cpuMs: number; started?: Command[] };

class VersionIsolate {
  readonly isolate: ivm.Isolate;
  readonly contexts = new Set<SharedContext>();
  dead = false;
  private tail: Promise<unknown> = Promise.resolve();
  private scripts?: Promise<[ivm.Script, ivm.Script]>;
  lastUsed = Date.now();

  readonly key: string;
  /** the heap limit; the isolate's Wasm memories are held to it too (guest/wasm.ts) */
  readonly memoryMb: number;
  /** bytes of the live WebAssembly.Memory objects of all this isolate's realms */
  wasmBytes = 0;
  private readonly runtimeCode: string;
  private readonly tenantCode: string;

  /** compiled scripts, released before the isolate is disposed */
  private readonly loaded: ivm.Script[] = [];
  /** a context the spare isolate came with, the runtime already loaded: the first SharedContext takes it */
  prepared?: ivm.Context;

  readonly priority?: TenantThreadPriority;
  readonly watch?: RunawayWatch;

  constructor(key: string, memoryMb: number, runtimeCode: string, tenantCode: string, spare?: Spare, priority?: TenantThreadPriority, watch?: RunawayWatch) {
    this.key = key;
    this.priority = priority;
    this.watch = watch;
    this.memoryMb = memoryMb;
    this.runtimeCode = runtimeCode;
    this.tenantCode = tenantCode;
    this.isolate = spare?.isolate ?? new ivm.Isolate({ memoryLimit: memoryMb, onCatastrophicError: () => this.markDead() });
    this.prepared = spare?.context;
  }

  compiled(): Promise<[ivm.Script, ivm.Script]> {
    this.scripts ??= Promise.all([
      compileRuntime(this.isolate, this.runtimeCode, "weft:runtime"),
      this.isolate.compileScript(this.tenantCode, { filename: "tenant.js" }),
    ]).then((ss) => {
      this.loaded.push(...ss);
      return ss;
    });
    return this.scripts;
  }

  async tenantScript(): Promise<ivm.Script> {
    const s = await this.isolate.compileScript(this.tenantCode, { filename: "tenant.js" });
    this.loaded.push(s);
    return s;
  }

  /** settles once every call queued so far has finished */
  quiet(): Promise<unknown> {
    return this.tail;
  }

  /** Serialize calls into this isolate: CPU deltas and memory deaths are then attributable. */
  exclusive<T>(fn: () => Promise<T>): Promise<T> {
    const run = async () => {
      this.busy++;
      try {
        return await fn();
      } finally {
        this.busy--;
      }
    };
    const p = this.tail.then(run, run);
    this.tail = p.catch(() => undefined);
    return p;
  }

  /**
   * CPU this isolate's synchronous activations took of the engine's own thread lately (ms, decaying
   * with a 1 s time constant). Past SYNC_SHARE_MS its activations run on the isolate's thread: a
   * tenant whose steps each stay under the sync budget but come back to back (200 quick failing
   * attempts) would otherwise hold the engine's loop most of the time, and every other tenant waits.
   */
  private syncMs = 0;
  private syncAt = 0;
  syncShare(addMs = 0): number {
    const now = performance.now();
    this.syncMs = this.syncMs * Math.exp(-(now - this.syncAt) / 1000) + addMs;
    this.syncAt = now;
    return this.syncMs;
  }

  /**
   * The isolate's used heap as last measured. getHeapStatisticsSync waits for the isolate's lock: a
   * /metrics scrape while a tenant's step spun held the engine's loop for the whole activation (up
   * to cpuMsPerStep). So the figure is refreshed asynchronously (answered once the isolate is free)
   * and the one from the refresh before is reported.
   */
  private heapBytes = 0;
  private measuring = false;
  /** calls in this isolate under way (exclusive) */
  private busy = 0;
  heapUsed(): number {
    if (this.dead || this.isolate.isDisposed) return 0;
    if (this.busy === 0) {
      // idle: nothing holds its lock, the figure is exact and immediate
      try {
        return (this.heapBytes = this.isolate.getHeapStatisticsSync().used_heap_size);
      } catch {
        return this.heapBytes;
      }
    }
    if (!this.measuring) {
      this.measuring = true;
      this.isolate.getHeapStatistics().then((h) => (this.heapBytes = h.used_heap_size), () => undefined).finally(() => (this.measuring = false));
    }
    return this.heapBytes;
  }

  /** Reserve (or release) Wasm memory: undefined if granted, else why not. */
  reserveWasm(bytes: number): string | undefined {
    if (!Number.isFinite(bytes)) return "not a byte count";
    const limit = this.memoryMb * 1024 * 1024;
    if (bytes > 0 && this.wasmBytes + bytes > limit) {
      return `the isolate's Wasm memories would hold ${this.wasmBytes + bytes} bytes, over its memory limit of ${this.memoryMb} MB (limits.memoryMb)`;
    }
    this.wasmBytes = Math.max(0, this.wasmBytes + bytes);
    return undefined;
  }

  /** contexts of this isolate cut off (preempted, over their CPU): their rejected promises may outlive them */
  contextsKilled = 0;

  markDead(): void {
    if (this.dead) return;
    // Handles are released while the isolate still exists; left to the garbage collector they may
    // be finalized after it is gone, which trips an assertion inside isolated-vm at process exit.
    for (const c of [...this.contexts]) c.kill();
    this.dead = true;
    const alive = !this.isolate.isDisposed;
    if (alive) {
      for (const x of this.loaded) x.release();
      this.prepared?.release();
    }
    this.prepared = undefined;
    try {
      if (alive) this.isolate.dispose();
    } catch {
      /* already gone */
    }
  }
}

/** A realm inside a version isolate, hosting up to maxRunsPerContext runs. */
class SharedContext {
  readonly owner: VersionIsolate;
  readonly slots = new Set<GuestContext>();
  dead = false;
  ready: Promise<void>;
  fn?: ivm.Reference<(runId: number, jobs: Job[], now: number) => ActivationResult>;
  startedFn?: ivm.Reference<() => Command[]>;
  /** the slot whose activation is running now: the only run a synchronous host call can act for */
  active?: GuestContext;
  /** step bodies in flight over all slots (GuestContext.setBodiesInFlight) */
  bodiesInFlight = 0;
  /** host time spent answering the current activation's crypto calls (charged as its CPU time) */
  hostMs = 0;
  private context?: ivm.Context;

  constructor(owner: VersionIsolate, timeoutMs: number) {
    this.owner = owner;
    this.ready = this.open(timeoutMs);
    this.ready.catch(() => this.kill());
  }

  private open(timeoutMs: number): Promise<void> {
    // under the isolate's lock: a synchronous activation must never wait behind module loading
    return this.owner.exclusive(() => this.load(timeoutMs));
  }

  private async load(timeoutMs: number): Promise<void> {
    const prepared = this.owner.prepared;
    this.owner.prepared = undefined;
    if (prepared) {
      // a spare isolate: the runtime is loaded already, only the tenant bundle is missing
      this.context = prepared;
      await this.installHost(this.context);
      await (await this.owner.tenantScript()).run(this.context, { timeout: timeoutMs });
    } else {
      const [runtime, tenant] = await this.owner.compiled();
      this.context = await this.owner.isolate.createContext();
      await runtime.run(this.context, { timeout: timeoutMs });
      await this.installHost(this.context);
      await tenant.run(this.context, { timeout: timeoutMs });
    }
    this.fn = await this.context.global.get("__weft_activate", { reference: true });
    this.startedFn = await this.context.global.get("__weft_started", { reference: true });
  }

  /**
   * The synchronous host callback (ctx.storage.sql). The runtime takes it off the global object
   * before tenant code runs; the host answers for the slot that is activating, whatever the guest
   * claims, so one instance can never reach another's storage.
   */
  private async installHost(context: ivm.Context): Promise<void> {
    const cb = new ivm.Callback((req: HostSyncRequest): SyncReply => {
      if (req?.t === "crypto") {
        // node:crypto runs on this thread, outside the isolate's CPU clock: its time is charged to the run
        const t0 = performance.now();
        const reply = cryptoReply(req.req);
        this.hostMs += performance.now() - t0;
        return reply;
      }
      if (req?.t === "wasm") return { ok: true, value: this.owner.reserveWasm(Number(req.bytes)) };
      const slot = this.active;
      if (!slot?.onSync) return { ok: false, error: { name: "Error", message: "ctx.storage is only available while the workflow runs" } };
      return slot.onSync(req);
    }, { sync: true });
    await context.global.set("__weft_host_sync", cb);
    await context.eval("__weft_capture_host()");
  }

  /** The realm is no longer trustworthy (an activation was cut off): every run in it must move. */
  kill(except?: GuestContext): void {
    if (this.dead) return;
    this.dead = true;
    this.owner.contextsKilled++;
    this.owner.contexts.delete(this);
    for (const slot of [...this.slots]) if (slot !== except) slot.markDead();
    try {
      if (!this.owner.dead && !this.owner.isolate.isDisposed) {
        this.fn?.release();
        this.startedFn?.release();
        this.context?.release();
      }
    } catch {
      /* isolate already disposed */
    }
  }
}

/** how long an isolate disposed by isolated-vm may go on running an activation before it counts as a runaway */
const RUNAWAY_MS = 500;

interface Watched {
  owner: VersionIsolate;
  disposedAt: number;
  rssAt: number;
  fire: () => void;
}

/**
 * The activations in flight on isolates' threads, looked at every 50 ms by one timer that runs only
 * while there are any (GuestContext.watched says what a runaway is).
 */
class RunawayWatch {
  private readonly live = new Set<Watched>();
  private timer?: ReturnType<typeof setInterval>;

  add(w: Watched): void {
    this.live.add(w);
    this.timer ??= setInterval(() => this.look(), 50);
    this.timer.unref?.();
  }

  delete(w: Watched): void {
    this.live.delete(w);
    if (this.live.size === 0 && this.timer) {
      clearInterval(this.timer);
      this.timer = undefined;
    }
  }

  private look(): void {
    for (const w of [...this.live]) {
      const o = w.owner;
      // (o.dead: disposed by this pool — a close, a trim — not by isolated-vm's memory limit)
      if (!o.isolate.isDisposed || o.dead) continue;
      if (!w.disposedAt) {
        w.disposedAt = performance.now();
        w.rssAt = process.memoryUsage.rss();
        continue;
      }
      // still running, and the process growing by more than the isolate's own limit twice over:
      // a termination that is only slow (a huge string being joined on a busy machine) grows nothing
      if (performance.now() - w.disposedAt < RUNAWAY_MS || process.memoryUsage.rss() - w.rssAt < Math.max(256, 2 * o.memoryMb) * 1024 * 1024) continue;
      this.delete(w);
      w.fire();
    }
  }
}

/** the share of the engine's thread one isolate's synchronous activations may take: ms per second */
const SYNC_SHARE_MS = 100;

let nextRunId = 1;

/** One instance run's slot in a shared context. */
export class GuestContext {
  readonly id = nextRunId++;
  dead = false;
  released = false;
  onDeath?: () => void;
  /** this run's activation cannot be stopped (see watched): the process must end */
  onRunaway?: () => void;
  /** answers ctx.storage.sql calls made by this run's code */
  onSync?: (req: SyncRequest) => SyncReply;
  private readonly shared: SharedContext;
  private readonly syncBudgetMs: number;
  private bodies = 0;
  constructor(shared: SharedContext, syncBudgetMs: number) {
    this.shared = shared;
    this.syncBudgetMs = syncBudgetMs;
  }

  /**
   * The number of this run's step bodies in flight (started, not done), kept up to date by the run.
   * A sync activation past its budget is cut off and the whole shared context is dropped, so every
   * run in it replays; a body in flight would then run again in this process and repeat effects it
   * already had. So no activation of a context is synchronous while any of its runs has one.
   */
  get bodiesInFlight(): number {
    return this.bodies;
  }

  setBodiesInFlight(n: number): void {
    if (this.released) return;
    this.shared.bodiesInFlight += n - this.bodies;
    this.bodies = n;
  }

  async activate(jobs: Job[], now: number, timeoutMs: number): Promise<ActivationOutcome> {
    const sh = this.shared;
    const o = sh.owner;
    return o.exclusive(async () => {
      if (!o.dead && o.isolate.isDisposed) o.markDead(); // isolated-vm disposed it (a memory limit hit in another call)
      if (this.dead || sh.dead || o.dead || !sh.fn) return { ok: false, reason: "disposed", message: "the isolate is gone", cpuMs: 0 } as const;
      const before = o.isolate.cpuTime;
      const limit = Math.max(1, Math.ceil(timeoutMs));
      const sync = this.syncBudgetMs > 0 && jobs.length > 0 && sh.bodiesInFlight === 0 && o.syncShare() < SYNC_SHARE_MS;
      const opts = { arguments: { copy: true }, result: { copy: true }, timeout: sync ? Math.min(limit, this.syncBudgetMs) : limit } as const;
      sh.active = this;
      sh.hostMs = 0;
      if (!sync) o.priority?.apply();
      try {
        const result = (sync ? sh.fn.applySync(undefined, [this.id, jobs, now], opts) : await this.watched(sh.fn.apply(undefined, [this.id, jobs, now], opts))) as ActivationResult;
        sh.active = undefined;
        const spent = cpuMs(o, before) + sh.hostMs;
        if (sync) o.syncShare(spent);
        return { ok: true, result, cpuMs: spent };
      } catch (e) {
        sh.active = undefined;
        const message = (e as Error).message ?? String(e);
        const spent = cpuMs(o, before) + sh.hostMs;
        if (sync && limit > this.syncBudgetMs && !o.isolate.isDisposed && /timed out/i.test(message)) {
          // not over its CPU limit, only over the sync budget: replay it where it may take its time
          this.dead = true;
          sh.kill(this);
          return { ok: false, reason: "preempted", message, cpuMs: spent };
        }
        if (o.isolate.isDisposed || /memory limit/i.test(message)) {
          this.dead = true; // this run reports the death itself; the others move
          o.markDead();
          return { ok: false, reason: "memory", message, cpuMs: spent };
        }
        if (/timed out/i.test(message)) {
          const started = await this.startedAttempts();
          this.dead = true;
          sh.kill(this);
          return { ok: false, reason: "cpu", message, cpuMs: spent, started };
        }
        // The guest's activate function catches everything it runs: what else comes out is a promise
        // rejection the tenant's code left unhandled, which isolated-vm throws at the end of the task.
        // Its context's other rejections are still queued and would be thrown at the isolate's next
        // task (another run's activation, a context's load): the whole isolate goes.
        const started = await this.startedAttempts().catch(() => [] as Command[]);
        this.dead = true;
        o.markDead();
        return { ok: false, reason: "unhandled", message: describeThrown(e), cpuMs: spent, started };
      }
    });
  }

  /**
   * An asynchronous activation, watched for the one failure isolated-vm cannot recover from: tenant
   * code that allocates in small pieces (\`a.push(new Array(1000).fill(0))\` in a loop) can outrun
   * the memory limit's termination — isolated-vm marks the isolate disposed, but its thread keeps
   * running and allocating (12 GB in 30 s, measured), and the call never returns. Nothing stops that
   * thread in this process, so the run is told (onRunaway) and the engine ends the instance and the
   * process before the machine runs out of memory. A normal memory-limit death settles the call within
   * milliseconds of the disposal; this one is taken as a runaway when, RUNAWAY_MS or more after it,
   * the call is still running and the process has grown by twice the isolate's limit (256 MiB at least).
   */
  private watched<T>(call: Promise<T>): Promise<T> {
    const w = this.shared.owner.watch;
    if (!w) return call;
    const entry = { owner: this.shared.owner, disposedAt: 0, rssAt: 0, fire: () => this.onRunaway?.() };
    w.add(entry);
    return call.finally(() => w.delete(entry));
  }

  /** The step attempts the last (cut-off) activation had started; the context stays usable after a timeout. */
  private async startedAttempts(): Promise<Command[]> {
    try {
      return ((await this.shared.startedFn?.apply(undefined, [], { result: { copy: true }, timeout: 100 })) as Command[] | undefined) ?? [];
    } catch {
      return [];
    }
  }

  markDead(): void {
    if (this.dead) return;
    this.dead = true;
    this.onDeath?.();
  }

  /** Leave the context: the guest forgets this run's state. */
  release(): void {
    if (this.released) return;
    this.released = true;
    const sh = this.shared;
    sh.bodiesInFlight -= this.bodies;
    this.bodies = 0;
    sh.slots.delete(this);
    sh.owner.lastUsed = Date.now();
    if (this.dead || sh.dead || sh.owner.dead) return;
    void this.activate([{ t: "dispose" }], 0, 1000).then(() => undefined, () => undefined);
  }
}

function cpuMs(o: VersionIsolate, before: bigint): number {
  try {
    return Number(o.isolate.cpuTime - before) / 1e6;
  } catch {
    return 0;
  }
}

/**
 * V8's code cache of the guest runtime, made by its first compile in this process: every later isolate
 * deserializes it instead of parsing the whole bundle again (~5 ms → ~0.9 ms per isolate on a quiet
 * machine; the web globals' lazily loaded parts, streams above all, are in the bundle). V8 checks the
 * data against the source and its flags; data it rejects only means a normal compile.
 */
let runtimeCache: { code: string; data: ivm.ExternalCopy<ArrayBuffer> } | undefined;
async function compileRuntime(isolate: ivm.Isolate, code: string, filename: string): Promise<ivm.Script> {
  if (runtimeCache?.code === code) return isolate.compileScript(code, { filename, cachedData: runtimeCache.data });
  const script = await isolate.compileScript(code, { filename, produceCachedData: true });
  const data = (script as ivm.Script & ivm.CachedDataResult).cachedData; // (set at run time; isolated-vm's types omit it)
  if (data && runtimeCache?.code !== code) runtimeCache = { code, data };
  return script;
}

/** An isolate made ahead of need, with a context that has the runtime loaded. */
interface Spare {
  isolate: ivm.Isolate;
  context: ivm.Context;
}

/**
 * isolated-vm's handle objects (Isolate, Context, Script, Reference, Callback) finalize through a weak
 * callback that needs isolated-vm's per-thread environment. That environment is torn down by a
 * cleanup hook at process exit, and V8 may then finish an incremental marking in progress with one
 * last GC: a handle found dead there aborts the process ("IsolateEnvironment::GetCurrent():
 * Assertion `environment != nullptr' failed") after everything else succeeded. So when the process
 * exits, the handles that are garbage by then are collected first, while the environment is still
 * there (pools drop every handle on dispose, so a disposed pool leaves nothing for the last GC).
 */
let collectsAtExit = false;
function collectHandlesAtExit(): void {
  if (collectsAtExit) return;
  collectsAtExit = true;
  setFlagsFromString("--expose-gc");
  const gc = runInNewContext("gc") as (() => void) | undefined;
  if (typeof gc !== "function") return;
  process.once("exit", () => {
    gc();
    gc();
  });
}

export class IsolatePool {
  private readonly byVersion = new Map<string, VersionIsolate[]>();
  private readonly opts: IsolateOptions;
  /**
   * One isolate kept ready for the next version that needs one: creating an isolate and loading the
   * runtime takes ~7 ms, which would otherwise be on the first run's path. Refilled in the background.
   */
  private spare?: Spare;
  private making = false;
  private refilling: Promise<void> = Promise.resolve();
  private refillAfter?: string;
  private disposed = false;
  readonly priority: TenantThreadPriority;
  private readonly watch = new RunawayWatch();
  constructor(opts: IsolateOptions) {
    this.opts = opts;
    this.priority = new TenantThreadPriority(opts.tenantNice ?? 0);
    collectHandlesAtExit();
  }

  /** Make the spare isolate (Engine.open calls this, and every take refills it). */
  refill(runtimeCode: string): void {
    if (this.spare || this.making || this.disposed) return;
    this.making = true;
    const memoryMb = this.opts.memoryMb;
    this.refilling = Promise.resolve().then(async () => {
      if (this.disposed) return;
      const isolate = new ivm.Isolate({ memoryLimit: memoryMb });
      try {
        const context = await isolate.createContext();
        const script = await compileRuntime(isolate, runtimeCode, "weft:runtime");
        await script.run(context, { timeout: 5000 });
        script.release();
        if (this.disposed) throw new Error("pool disposed");
        this.spare = { isolate, context };
      } catch {
        if (!isolate.isDisposed) isolate.dispose();
      } finally {
        this.making = false;
      }
    });
  }

  /** The spare, if one is ready now: never waited for, so deciding where a run goes stays synchronous. */
  private takeSpare(memoryMb: number, runtimeCode: string): Spare | undefined {
    if (memoryMb !== this.opts.memoryMb) return undefined; // the heap limit is fixed when an isolate is made
    const got = this.spare;
    this.spare = undefined;
    if (got) this.refillAfter = runtimeCode; // refilled once this run's context is ready, not on its path
    return got;
  }

  /** A slot for one instance run of `versionKey` in a context with the runtime and tenant bundle loaded. */
  async openContext(versionKey: string, runtimeCode: string, tenantCode: string, memoryMb: number, timeoutMs: number, async = false, again = false): Promise<GuestContext> {
    const list = this.byVersion.get(versionKey) ?? [];
    this.byVersion.set(versionKey, list);
    let shared: SharedContext | undefined;
    for (const vi of list) {
      if (vi.dead) continue;
      for (const c of vi.contexts) if (!c.dead && c.slots.size < this.opts.maxRunsPerContext) shared = c;
      if (shared) break;
    }
    if (!shared) {
      let vi = list.find((v) => !v.dead && v.contexts.size < this.opts.maxContextsPerIsolate);
      if (!vi) {
        const mb = memoryMb || this.opts.memoryMb;
        vi = new VersionIsolate(versionKey, mb, runtimeCode, tenantCode, this.takeSpare(mb, runtimeCode), this.priority, this.watch);
        list.push(vi);
        this.trim();
      }
      shared = new SharedContext(vi, timeoutMs);
      vi.contexts.add(shared);
    }
    const slot = new GuestContext(shared, async ? 0 : this.opts.syncBudgetMs);
    shared.slots.add(slot); // reserved before the await, so concurrent openers share the context
    try {
      await shared.ready;
      if (this.refillAfter !== undefined) {
        const code = this.refillAfter;
        this.refillAfter = undefined;
        setImmediate(() => this.refill(code));
      }
    } catch (e) {
      shared.slots.delete(slot);
      const message = (e as Error).message;
      if (shared.owner.isolate.isDisposed || /memory limit/i.test(message)) shared.owner.markDead();
      else if (shared.owner.contextsKilled > 0 && !/timed out/i.test(message) && !again) {
        // a rejection left unhandled in a context cut off before (its promises outlive it in the
        // isolate) thrown at this load: not this code's fault — a fresh isolate loads it
        shared.owner.markDead();
        return this.openContext(versionKey, runtimeCode, tenantCode, memoryMb, timeoutMs, async, true);
      }
      throw new WeftError(/timed out/i.test(message) ? ErrorCode.CpuLimit : ErrorCode.Internal, `loading the workflow code failed: ${message}`, {});
    }
    return slot;
  }

  /**
   * Evaluate the bundle once in a scratch context and list the exported WorkflowEntrypoint subclasses,
   * and what the other exports are (Workers entrypoints and handlers load but are not run).
   */
  async inspect(runtimeCode: string, tenantCode: string, memoryMb: number, timeoutMs: number): Promise<BundleExports> {
    const iso = new ivm.Isolate({ memoryLimit: memoryMb });
    const handles: { release(): void }[] = [];
    try {
      const ctx = await iso.createContext();
      handles.push(ctx);
      const rt = await compileRuntime(iso, runtimeCode, RUNTIME_FILE);
      handles.push(rt);
      await rt.run(ctx, { timeout: timeoutMs });
      const tn = await iso.compileScript(tenantCode, { filename: TENANT_FILE });
      handles.push(tn);
      try {
        await tn.run(ctx, { timeout: timeoutMs });
      } catch (e) {
        // the module threw while loading: say where, in the tenant's files
        const err = e as Error;
        const stack = typeof err?.stack === "string" ? mapStack(tenantCode, err.stack) : undefined;
        const where = firstFrame(stack);
        const message = `${err?.message ?? String(e)}${where ? ` (at ${where})` : ""}`;
        throw new WeftError(ErrorCode.CompileError, `the workflow module failed while loading: ${message}`, { message, ...(stack ? { stack } : {}) });
      }
      const json = (await ctx.eval(
        `(() => { const x = globalThis.${TENANT_GLOBAL} || {}; const M = globalThis.__weft_modules;
           const sub = (v, C) => typeof v === "function" && v.prototype instanceof C;
           const HANDLERS = ["fetch", "scheduled", "queue", "email", "tail", "trace", "tailStream", "test", "connect"];
           const names = Object.keys(x);
           const kinds = {};
           for (const k of names) {
             const v = x[k];
             if (sub(v, M.WorkflowEntrypoint)) kinds[k] = { kind: "workflow" };
             else if (sub(v, M.WorkerEntrypoint)) kinds[k] = { kind: "worker entrypoint" };
             else if (sub(v, M.DurableObject)) kinds[k] = { kind: "durable object" };
             else if (sub(v, M.RpcTarget)) kinds[k] = { kind: "rpc target" };
             else if (v !== null && typeof v === "object") {
               const handlers = HANDLERS.filter((h) => { try { return typeof v[h] === "function"; } catch { return false; } });
               if (handlers.length) kinds[k] = { kind: handlers.includes("fetch") ? "fetch handler" : "worker handler", handlers };
             }
           }
           return JSON.stringify({ exports: names, classes: names.filter((k) => kinds[k] && kinds[k].kind === "workflow"), kinds }); })()`,
        { timeout: timeoutMs },
      )) as string;
      return JSON.parse(json) as BundleExports;
    } catch (e) {
      if (e instanceof WeftError) throw e;
      const message = (e as Error).message;
      throw new WeftError(ErrorCode.CompileError, `the workflow module failed while loading: ${message}`, { message });
    } finally {
      if (!iso.isDisposed) {
        for (const h of handles) h.release();
        iso.dispose();
      }
    }
  }

  stats(): { isolates: number; contexts: number; runs: number; heapBytes: number } {
    let isolates = 0, contexts = 0, runs = 0, heapBytes = 0;
    for (const list of this.byVersion.values()) {
      for (const v of list) {
        if (v.dead) continue;
        isolates++;
        heapBytes += v.heapUsed();
        contexts += v.contexts.size;
        for (const c of v.contexts) runs += c.slots.size;
      }
    }
    return { isolates, contexts, runs, heapBytes };
  }

  /** Dispose idle isolates beyond the cap, least recently used first. */
  private trim(): void {
    const idle: VersionIsolate[] = [];
    for (const [k, list] of this.byVersion) {
      const live = list.filter((v) => !v.dead);
      if (live.length === 0) this.byVersion.delete(k);
      else this.byVersion.set(k, live);
      for (const v of live) if ([...v.contexts].every((c) => c.slots.size === 0)) idle.push(v);
    }
    idle.sort((a, b) => a.lastUsed - b.lastUsed);
    while (idle.length > this.opts.maxIdleIsolates) idle.shift()!.markDead();
  }

  /**
   * Dispose every isolate, after the calls already in them have finished (bounded): tearing an
   * isolate down under a running task trips an assertion inside isolated-vm at process exit.
   */
  async dispose(): Promise<void> {
    this.disposed = true;
    const all = [...this.byVersion.values()].flat();
    const settle = Promise.all([this.refilling, ...all.map((v) => v.quiet())]);
    await Promise.race([settle, new Promise((r) => setTimeout(r, 2000).unref?.())]);
    if (this.spare && !this.spare.isolate.isDisposed) {
      this.spare.context.release();
      this.spare.isolate.dispose();
    }
    this.spare = undefined;
    for (const v of all) v.markDead();
    this.byVersion.clear();
    // isolated-vm finishes tearing isolates down on its own threads; let it, so a process that
    // exits right after close() never does so under a disposal in progress
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** a value the tenant's code rejected with, as a short text (an Error's name and message, else the value) */
function describeThrown(e: unknown): string {
  if (e instanceof Error || (e && typeof e === "object" && "message" in e)) {
    const x = e as { name?: unknown; message?: unknown };
    return `${typeof x.name === "string" ? x.name : "Error"}: ${String(x.message)}`.slice(0, 500);
  }
  return (typeof e === "string" ? JSON.stringify(e) : String(e)).slice(0, 500);
}
