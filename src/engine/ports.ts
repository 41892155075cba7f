// What the engine is given: its dependencies as ports. The composition root (src/main.ts) builds
// them from adapters — the store, the instance-data adapters, the isolate pool and tenant compiler —
// and the engine sees only these interfaces (test/boundaries.test.ts holds it to that).
import type { ActivationResult, Command, Job, SyncReply, SyncRequest } from "../sandbox/protocol.ts";
import type { Store } from "../store/ports.ts";
import type { InstanceDataPort } from "../instance-data/ports.ts";
import type { ErrorInfo } from "../core/errors.ts";

export type ActivationOutcome =
  | { ok: true; result: ActivationResult; cpuMs: number }
  /** preempted: a synchronous activation ran past the sync budget; the run must replay in async mode */
  | { ok: false; reason: "cpu" | "memory" | "disposed" | "unhandled" | "preempted"; message: string; cpuMs: number; started?: Command[] };

/** One run's slot in a guest context: activations in, commands out (sandbox/protocol.ts). */
export interface SandboxContext {
  /** the context went away (dropped, or its isolate died) */
  readonly dead: boolean;
  onDeath?: () => void;
  /** an activation of this run went on past its isolate's disposal and cannot be stopped in this process */
  onRunaway?: () => void;
  /** answers ctx.storage calls made by this run's code, synchronously */
  onSync?: (req: SyncRequest) => SyncReply;
  activate(jobs: Job[], now: number, timeoutMs: number): Promise<ActivationOutcome>;
  /** step bodies of this run in flight: while any, no activation of the context is cut off at the sync budget */
  readonly bodiesInFlight: number;
  setBodiesInFlight(n: number): void;
  release(): void;
}

export interface TenantCode {
  mainModule: string;
  modules: Record<string, string>;
}

/** Isolates and the tenant-code compiler. */
export interface SandboxRuntime {
  /** the guest runtime's bundle (the "cloudflare:workers" modules, the step API) */
  runtimeCode(): Promise<string>;
  /** tenant modules → one bundle; a compile error names file:line:col */
  compile(code: TenantCode): Promise<string>;
  /** the workflow classes and exports of a bundle (a deploy's check), and the kind of those Weft recognizes */
  inspect(runtimeCode: string, tenantCode: string, memoryMb: number, timeoutMs: number): Promise<BundleExports>;
  openContext(versionKey: string, runtimeCode: string, tenantCode: string, memoryMb: number, timeoutMs: number, async?: boolean): Promise<SandboxContext>;
  /** make a spare isolate ready */
  refill(runtimeCode: string): void;
  stats(): { isolates: number; contexts: number; runs: number; heapBytes: number };
  dispose(): Promise<void>;
  /** an error recorded from tenant code with its stack at the tenant's files and lines (the bundle's source map) */
  mapError?(bundle: string, error: ErrorInfo): ErrorInfo;
}

export type ExportKind = "workflow" | "worker entrypoint" | "durable object" | "rpc target" | "fetch handler" | "worker handler";

export interface BundleExports {
  classes: string[];
  exports: string[];
  /** the exports Weft recognizes: classes extending the "cloudflare:workers" bases, Workers handler objects */
  kinds?: Record<string, { kind: ExportKind; handlers?: string[] }>;
}

export interface EngineDeps {
  store: Store;
  data: InstanceDataPort;
  sandbox: SandboxRuntime;
}
