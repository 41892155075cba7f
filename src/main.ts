// The composition root: the only place that picks adapters. Engine.open compiles the options once,
// builds the store (the embedded SQLite one unless a store is given), the instance-data adapters,
// the isolate pool and the tenant compiler, and hands them to the engine as ports.
import { Engine as EngineBase } from "./engine/engine.ts";
import { compileConfig, type EngineConfig, type EngineOptions } from "./engine/config.ts";
import type { EngineDeps, SandboxRuntime } from "./engine/ports.ts";
import type { Store } from "./store/ports.ts";
import { SqliteStore } from "./store/sqlite/store.ts";
import { PostgresStore } from "./store/postgres/store.ts";
import { InstanceData } from "./instance-data/instance-data.ts";
import { IsolatePool } from "./sandbox/host/isolates.ts";
import { compileTenant, guestRuntimeBundle } from "./sandbox/host/compile.ts";
import { mapErrorStack } from "./sandbox/host/source-map.ts";

/** The embedded store of a data directory alone (no engine, nothing runs): for tools like weft admin-token. */
export function openEmbeddedStore(dataDir: string): Store {
  return new SqliteStore({ dataDir });
}

export function composeDeps(config: EngineConfig): EngineDeps {
  const store = config.store ?? new SqliteStore({ dataDir: config.dataDir, synchronous: config.synchronous, sync: config.hooks.storeSync });
  const data = new InstanceData(store, config.dataDir, 2, { commitDelay: config.hooks.sqlCommitDelay });
  const pool = new IsolatePool({
    memoryMb: config.limits.memoryMb, maxContextsPerIsolate: config.maxContextsPerIsolate, maxRunsPerContext: config.maxRunsPerContext,
    maxIdleIsolates: config.maxIdleIsolates, syncBudgetMs: config.syncBudgetMs, tenantNice: config.tenantNice,
  });
  const sandbox: SandboxRuntime = {
    runtimeCode: () => guestRuntimeBundle(),
    compile: (code) => compileTenant(code),
    inspect: (runtime, bundle, memoryMb, timeoutMs) => pool.inspect(runtime, bundle, memoryMb, timeoutMs),
    openContext: (key, runtime, bundle, memoryMb, timeoutMs, async) => pool.openContext(key, runtime, bundle, memoryMb, timeoutMs, async),
    refill: (runtime) => pool.refill(runtime),
    stats: () => pool.stats(),
    dispose: () => pool.dispose(),
    mapError: (bundle, error) => mapErrorStack(bundle, error),
  };
  return { store, data, sandbox };
}

export class Engine extends EngineBase {
  /** Open an engine: embedded SQLite in options.dataDir (./weft-data), the shared PostgreSQL store with options.postgres, or options.store. */
  static async open(options: EngineOptions = {}): Promise<Engine> {
    const config = compileConfig(options);
    if (!config.store && config.postgres) config.store = await PostgresStore.open(config.postgres);
    const e = new Engine(config, composeDeps(config));
    await e.start();
    return e;
  }
}
