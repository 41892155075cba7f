// Host side: V8 isolates through isolated-vm. Strategy (chosen by measurement, see bench/): one
// isolate per deployed version, shared by up to `maxContextsPerIsolate` instance runs, each in its own
// context. A fresh context costs ~1 ms against ~6 ms for a fresh isolate. Activations of one isolate
// are serialized by us, so its cpuTime delta belongs to exactly one instance: that is how CPU budgets
// are charged, and how the culprit is known when the isolate dies of its memory limit.
import ivm from "isolated-vm";
import { ErrorCode, WeftError } from "../../core/errors.ts";
import type { ActivationResult, Command, Job } from "../protocol.ts";
import { TENANT_GLOBAL } from "./compile.ts";

export interface IsolateOptions {
  memoryMb: number;
  maxContextsPerIsolate: number;
  maxIdleIsolates: number;
}

export type ActivationOutcome =
  | { ok: true; result: ActivationResult; cpuMs: number }
  | { ok: false; reason: "cpu" | "memory" | "disposed" | "internal"; message: string; cpuMs: number; started?: Command[] };

class VersionIsolate {
  readonly isolate: ivm.Isolate;
  contexts = 0;
  dead = false;
  private tail: Promise<unknown> = Promise.resolve();
  private scripts?: Promise<[ivm.Script, ivm.Script]>;
  readonly members = new Set<GuestContext>();
  lastUsed = Date.now();

  readonly key: string;
  private readonly runtimeCode: string;
  private readonly tenantCode: string;

  constructor(key: string, memoryMb: number, runtimeCode: string, tenantCode: string) {
    this.key = key;
    this.runtimeCode = runtimeCode;
    this.tenantCode = tenantCode;
    this.isolate = new ivm.Isolate({ memoryLimit: memoryMb, onCatastrophicError: () => this.markDead() });
  }

  compiled(): Promise<[ivm.Script, ivm.Script]> {
    this.scripts ??= Promise.all([
      this.isolate.compileScript(this.runtimeCode, { filename: "weft:runtime" }),
      this.isolate.compileScript(this.tenantCode, { filename: "tenant.js" }),
    ]);
    return this.scripts;
  }

  /** Serialize calls into this isolate: CPU deltas and memory deaths are then attributable. */
  exclusive<T>(fn: () => Promise<T>): Promise<T> {
    const p = this.tail.then(fn, fn);
    this.tail = p.catch(() => undefined);
    return p;
  }

  markDead(): void {
    if (this.dead) return;
    this.dead = true;
    for (const m of this.members) m.markDead();
    try {
      if (!this.isolate.isDisposed) this.isolate.dispose();
    } catch {
      /* already gone */
    }
  }
}

/** One instance run's realm inside a version isolate. */
export class GuestContext {
  private fn?: ivm.Reference<(jobs: Job[], now: number) => ActivationResult>;
  private startedFn?: ivm.Reference<() => Command[]>;
  private context?: ivm.Context;
  dead = false;
  onDeath?: () => void;
  private readonly owner: VersionIsolate;
  constructor(owner: VersionIsolate) {
    this.owner = owner;
  }

  async open(timeoutMs: number): Promise<void> {
    const [runtime, tenant] = await this.owner.compiled();
    this.context = await this.owner.isolate.createContext();
    await runtime.run(this.context, { timeout: timeoutMs });
    await tenant.run(this.context, { timeout: timeoutMs });
    this.fn = await this.context.global.get("__weft_activate", { reference: true });
    this.startedFn = await this.context.global.get("__weft_started", { reference: true });
  }

  async activate(jobs: Job[], now: number, timeoutMs: number): Promise<ActivationOutcome> {
    const o = this.owner;
    return o.exclusive(async () => {
      if (this.dead || o.dead || !this.fn) return { ok: false, reason: "disposed", message: "the isolate is gone", cpuMs: 0 } as const;
      const before = o.isolate.cpuTime;
      try {
        const result = (await this.fn.apply(undefined, [jobs, now], {
          arguments: { copy: true },
          result: { copy: true },
          timeout: Math.max(1, Math.ceil(timeoutMs)),
        })) as ActivationResult;
        return { ok: true, result, cpuMs: cpuMs(o, before) };
      } catch (e) {
        const message = (e as Error).message ?? String(e);
        const spent = cpuMs(o, before);
        if (o.isolate.isDisposed || /memory limit/i.test(message)) {
          o.markDead();
          return { ok: false, reason: "memory", message, cpuMs: spent };
        }
        if (/timed out/i.test(message)) return { ok: false, reason: "cpu", message, cpuMs: spent, started: await this.startedAttempts() };
        return { ok: false, reason: "internal", message, cpuMs: spent };
      }
    });
  }

  /** The step attempts the last (cut-off) activation had started; the context stays usable after a timeout. */
  private async startedAttempts(): Promise<Command[]> {
    try {
      return ((await this.startedFn?.apply(undefined, [], { result: { copy: true }, timeout: 100 })) as Command[] | undefined) ?? [];
    } catch {
      return [];
    }
  }

  markDead(): void {
    if (this.dead) return;
    this.dead = true;
    this.onDeath?.();
  }

  release(): void {
    if (this.owner.members.delete(this)) this.owner.contexts--;
    this.owner.lastUsed = Date.now();
    try {
      // releasing handles of a disposed isolate trips an assertion inside isolated-vm: skip them
      if (!this.owner.dead && !this.owner.isolate.isDisposed) {
        this.fn?.release();
        this.startedFn?.release();
        this.context?.release();
      }
    } catch {
      /* isolate already disposed */
    }
    this.fn = undefined;
    this.startedFn = undefined;
    this.context = undefined;
  }
}

function cpuMs(o: VersionIsolate, before: bigint): number {
  try {
    return Number(o.isolate.cpuTime - before) / 1e6;
  } catch {
    return 0;
  }
}

export class IsolatePool {
  private readonly byVersion = new Map<string, VersionIsolate[]>();
  private readonly opts: IsolateOptions;
  constructor(opts: IsolateOptions) {
    this.opts = opts;
  }

  /** A fresh context for one instance run of `versionKey`, with the runtime and tenant bundle loaded. */
  async openContext(versionKey: string, runtimeCode: string, tenantCode: string, memoryMb: number, timeoutMs: number): Promise<GuestContext> {
    const list = this.byVersion.get(versionKey) ?? [];
    this.byVersion.set(versionKey, list);
    let vi = list.find((v) => !v.dead && v.contexts < this.opts.maxContextsPerIsolate);
    if (!vi) {
      vi = new VersionIsolate(versionKey, memoryMb || this.opts.memoryMb, runtimeCode, tenantCode);
      list.push(vi);
      this.trim();
    }
    const ctx = new GuestContext(vi);
    vi.contexts++;
    vi.members.add(ctx);
    try {
      await ctx.open(timeoutMs);
    } catch (e) {
      ctx.release();
      const message = (e as Error).message;
      if (vi.isolate.isDisposed || /memory limit/i.test(message)) vi.markDead();
      throw new WeftError(/timed out/i.test(message) ? ErrorCode.CpuLimit : ErrorCode.Internal, `loading the workflow code failed: ${message}`, {});
    }
    return ctx;
  }

  /** Evaluate the bundle once in a scratch context and list the exported WorkflowEntrypoint subclasses. */
  async inspect(runtimeCode: string, tenantCode: string, memoryMb: number, timeoutMs: number): Promise<{ classes: string[]; exports: string[] }> {
    const iso = new ivm.Isolate({ memoryLimit: memoryMb });
    try {
      const ctx = await iso.createContext();
      await (await iso.compileScript(runtimeCode)).run(ctx, { timeout: timeoutMs });
      await (await iso.compileScript(tenantCode, { filename: "tenant.js" })).run(ctx, { timeout: timeoutMs });
      const json = (await ctx.eval(
        `(() => { const x = globalThis.${TENANT_GLOBAL} || {}; const W = globalThis.__weft_modules.WorkflowEntrypoint;
           const names = Object.keys(x);
           return JSON.stringify({ exports: names, classes: names.filter((k) => typeof x[k] === "function" && x[k].prototype instanceof W) }); })()`,
        { timeout: timeoutMs },
      )) as string;
      return JSON.parse(json) as { classes: string[]; exports: string[] };
    } catch (e) {
      const message = (e as Error).message;
      throw new WeftError(ErrorCode.CompileError, `the workflow module failed while loading: ${message}`, { message });
    } finally {
      if (!iso.isDisposed) iso.dispose();
    }
  }

  stats(): { isolates: number; contexts: number; heapBytes: number } {
    let isolates = 0, contexts = 0, heapBytes = 0;
    for (const list of this.byVersion.values()) {
      for (const v of list) {
        if (v.dead) continue;
        isolates++;
        contexts += v.contexts;
        try {
          heapBytes += v.isolate.getHeapStatisticsSync().used_heap_size;
        } catch {
          /* disposed */
        }
      }
    }
    return { isolates, contexts, heapBytes };
  }

  /** Dispose idle isolates beyond the cap, least recently used first. */
  private trim(): void {
    const idle: VersionIsolate[] = [];
    for (const [k, list] of this.byVersion) {
      const live = list.filter((v) => !v.dead);
      if (live.length === 0) this.byVersion.delete(k);
      else this.byVersion.set(k, live);
      for (const v of live) if (v.contexts === 0) idle.push(v);
    }
    idle.sort((a, b) => a.lastUsed - b.lastUsed);
    while (idle.length > this.opts.maxIdleIsolates) idle.shift()!.markDead();
  }

  dispose(): void {
    for (const list of this.byVersion.values()) for (const v of list) v.markDead();
    this.byVersion.clear();
  }
}
