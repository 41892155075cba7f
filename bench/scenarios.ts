// The benchmark scenarios. Each opens an engine on a fresh temp data dir and closes it afterwards.
import { DatabaseSync } from "node:sqlite";
import { join } from "node:path";
import { Engine, type WorkflowInstance } from "../src/index.ts";
import { SqliteStore } from "../src/store/sqlite/store.ts";
import type { JournalOp, JournalResult } from "../src/store/ports.ts";
import { BODIES, TENANT, deploy, keepAlive, median, percentile, pool, sleep, tempDir } from "./util.ts";

async function withEngine<T>(label: string, opts: Parameters<typeof Engine.open>[0], fn: (e: Engine) => Promise<T>): Promise<T> {
  const tmp = tempDir(label);
  const engine = await Engine.open({ dataDir: tmp.dir, ...opts });
  try {
    return await keepAlive(() => fn(engine));
  } finally {
    await engine.close();
    tmp.remove();
  }
}

// ---- 0. the physical floor: one fsync'd SQLite commit ------------------------------------------
export function fsyncCommit(n = 500): { us: number } {
  const tmp = tempDir("fsync");
  const db = new DatabaseSync(join(tmp.dir, "floor.db"));
  try {
    db.exec("PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL;");
    db.exec("CREATE TABLE t (k INTEGER PRIMARY KEY, v BLOB)");
    const ins = db.prepare("INSERT INTO t (v) VALUES (?)");
    const payload = new Uint8Array(32);
    const xs: number[] = [];
    for (let i = 0; i < n + 20; i++) {
      const t0 = performance.now();
      db.exec("BEGIN IMMEDIATE");
      ins.run(payload);
      db.exec("COMMIT");
      if (i >= 20) xs.push((performance.now() - t0) * 1000); // the first 20 warm the WAL
    }
    return { us: median(xs) };
  } finally {
    db.close();
    tmp.remove();
  }
}

// ---- 1. creations ------------------------------------------------------------------------------
export interface CreationResult {
  perSec: number;
  ms: number;
  inFlight: number;
  batchPerSec: number;
  batchMs: number;
  allAtOncePerSec: number;
}

export async function creations(n = 10_000, inFlight = 100): Promise<CreationResult> {
  const limits = { concurrency: 1 };
  // concurrent create() calls, `inFlight` at a time (each lane awaits its create before the next)
  const { perSec, ms } = await withEngine("create", {}, async (e) => {
    await deploy(e, "sleepy", BODIES.sleepDay, limits);
    const wf = e.workflow(TENANT, "sleepy");
    const t0 = performance.now();
    await pool(n, inFlight, (i) => wf.create({ id: `c${i}`, params: { i } }));
    const ms = performance.now() - t0;
    return { perSec: (n / ms) * 1000, ms };
  });
  // all create() calls issued at once
  const allAtOncePerSec = await withEngine("create-all", {}, async (e) => {
    await deploy(e, "sleepy", BODIES.sleepDay, limits);
    const wf = e.workflow(TENANT, "sleepy");
    const t0 = performance.now();
    await Promise.all(Array.from({ length: n }, (_, i) => wf.create({ id: `c${i}`, params: { i } })));
    return (n / (performance.now() - t0)) * 1000;
  });
  // createBatch of 100, all batches issued at once
  const { batchPerSec, batchMs } = await withEngine("create-batch", {}, async (e) => {
    await deploy(e, "sleepy", BODIES.sleepDay, limits);
    const wf = e.workflow(TENANT, "sleepy");
    const t0 = performance.now();
    await Promise.all(Array.from({ length: n / 100 }, (_, b) => wf.createBatch(Array.from({ length: 100 }, (_, j) => ({ id: `b${b * 100 + j}`, params: { i: j } })))));
    const batchMs = performance.now() - t0;
    return { batchPerSec: (n / batchMs) * 1000, batchMs };
  });
  return { perSec, ms, inFlight, batchPerSec, batchMs, allAtOncePerSec };
}

async function createAll(e: Engine, workflow: string, n: number, params: (i: number) => unknown, inFlight: number): Promise<Promise<unknown>[]> {
  const wf = e.workflow(TENANT, workflow);
  const done: Promise<unknown>[] = new Array(n);
  await pool(n, inFlight, async (i) => {
    const inst: WorkflowInstance = await wf.create({ params: params(i) });
    done[i] = inst.waitFor().then((s) => {
      if (s.status !== "complete") throw new Error(`instance ${inst.id} ended ${s.status}: ${JSON.stringify(s.error)}`);
    });
  });
  return done;
}

// ---- 2. completions of 1-step instances --------------------------------------------------------
export interface CompletionResult {
  perSec: number;
  ms: number;
  coldStartMs: number[];
}

export async function completions(n = 2_000, inFlight = 100): Promise<CompletionResult> {
  return withEngine("complete", {}, async (e) => {
    await deploy(e, "one", BODIES.oneStep, { concurrency: 2_000 });
    const t0 = performance.now();
    const done = await createAll(e, "one", n, () => ({}), inFlight);
    await Promise.all(done);
    const ms = performance.now() - t0;
    return { perSec: (n / ms) * 1000, ms, coldStartMs: [...e.metrics.coldStartMs] };
  });
}

// ---- 3. per-step overhead in one instance ------------------------------------------------------
/** Records when each successful step.do commit becomes durable (the journal promise resolves). */
class TimedStore extends SqliteStore {
  readonly stepCommits: number[] = [];
  override async journal(pk: number, epoch: number, ops: JournalOp[]): Promise<JournalResult> {
    const res = await super.journal(pk, epoch, ops);
    if (ops.some((o) => o.op === "step" && o.kind === "do" && o.state === "complete")) this.stepCommits.push(performance.now());
    return res;
  }
}

export interface StepOverheadResult {
  p50Us: number;
  p99Us: number;
  meanUs: number;
  wallPerStepUs: number;
  steps: number;
}

export async function stepOverhead(steps = 2_000, synchronous: "full" | "normal" = "full", body: keyof typeof BODIES = "nSteps"): Promise<StepOverheadResult> {
  const tmp = tempDir("steps1");
  const store = new TimedStore({ dataDir: tmp.dir, synchronous });
  // a step, with SQL or not, is durable when its journal write resolves (its SQL pages go in it)
  const e = await Engine.open({ dataDir: tmp.dir, store, synchronous });
  try {
    return await keepAlive(async () => {
      await deploy(e, "seq", BODIES[body]);
      const wf = e.workflow(TENANT, "seq");
      const t0 = performance.now();
      const inst = await wf.create({ params: { steps } });
      const s = await inst.waitFor();
      const wall = performance.now() - t0;
      if (s.status !== "complete" || s.output !== steps) throw new Error(`step overhead run ended ${JSON.stringify(s)}`);
      const c = body === "sqlSteps" ? store.stepCommits.slice(1) : store.stepCommits; // not the schema step
      const gaps: number[] = [];
      for (let i = 1; i < c.length; i++) gaps.push((c[i]! - c[i - 1]!) * 1000);
      return {
        p50Us: percentile(gaps, 50),
        p99Us: percentile(gaps, 99),
        meanUs: gaps.reduce((a, b) => a + b, 0) / gaps.length,
        wallPerStepUs: (wall / steps) * 1000,
        steps: c.length,
      };
    });
  } finally {
    await e.close();
    tmp.remove();
  }
}

/**
 * Start-up of a run, without contention, 1-step instances one after another:
 *  - cold: the first run of a freshly deployed version (new isolate, compile, new context);
 *  - context: a new context in the version's existing isolate (maxRunsPerContext 1, a new version
 *    is not needed: each run keeps its context busy until it finishes, so the next opens another);
 *  - warm: a slot in a warm context, the common case.
 */
export async function startUp(n = 100): Promise<{ cold: number[]; warm: number[] }> {
  return withEngine("cold", {}, async (e) => {
    const cold: number[] = [];
    for (let i = 0; i < n; i++) {
      await deploy(e, `v${i}`, BODIES.oneStep + `\n// version ${i}`);
      const before = e.metrics.coldStartMs.length;
      await (await e.workflow(TENANT, `v${i}`).create({})).waitFor();
      cold.push(e.metrics.coldStartMs[before]!);
    }
    await deploy(e, "one", BODIES.oneStep);
    const wf = e.workflow(TENANT, "one");
    const from = e.metrics.coldStartMs.length;
    for (let i = 0; i < n * 2; i++) await (await wf.create({})).waitFor();
    return { cold, warm: e.metrics.coldStartMs.slice(from + 1) };
  });
}

// ---- 4. steps/s with 1,000 instances running at once -------------------------------------------
export interface ThroughputResult {
  stepsPerSec: number;
  ms: number;
  steps: number;
  coldStartMs: number[];
}

export async function stepThroughput(instances = 1_000, stepsEach = 20): Promise<ThroughputResult> {
  return withEngine("steps-n", { maxActiveRuns: instances }, async (e) => {
    await deploy(e, "seq", BODIES.nSteps, { concurrency: instances });
    const before = e.metrics.stepsCompleted;
    const t0 = performance.now();
    const done = await createAll(e, "seq", instances, () => ({ steps: stepsEach }), instances);
    await Promise.all(done);
    const ms = performance.now() - t0;
    const steps = e.metrics.stepsCompleted - before;
    if (steps !== instances * stepsEach) throw new Error(`expected ${instances * stepsEach} steps, engine counted ${steps}`);
    return { stepsPerSec: (steps / ms) * 1000, ms, steps, coldStartMs: [...e.metrics.coldStartMs] };
  });
}

// ---- 6. timer lateness -------------------------------------------------------------------------
export interface TimerResult {
  p50Ms: number;
  p99Ms: number;
  maxMs: number;
  samples: number;
  ms: number;
}

export async function timerLateness(n = 2_000, minMs = 1_000, maxMs = 3_000): Promise<TimerResult> {
  return withEngine("timers", { suspendAfterMs: 0 }, async (e) => {
    await deploy(e, "nap", BODIES.sleepMs, { concurrency: n });
    const t0 = performance.now();
    const done = await createAll(e, "nap", n, () => ({ ms: minMs + Math.floor(Math.random() * (maxMs - minMs)) }), 100);
    await Promise.all(done);
    const ms = performance.now() - t0;
    const xs = e.metrics.timerLatenessMs;
    return { p50Ms: percentile(xs, 50), p99Ms: percentile(xs, 99), maxMs: Math.max(...xs), samples: xs.length, ms };
  });
}

// ---- 7. 100,000 sleeping instances (separate process) ------------------------------------------
export interface SleepersResult {
  rssMiB: number;
  peakRssMiB: number;
  heapUsedMiB: number;
  createMs: number;
  settleMs: number;
  n: number;
  /** CPU the child used (ms, all threads) */
  cpuMs: number;
  /** isolates still alive (idle) once all are waiting, and their used heap */
  idleIsolates: number;
  contexts: number;
  /** RSS after disposing the isolate pool (diagnostic) */
  rssNoIsolatesMiB: number;
}

export async function sleepers(n = 100_000, timeoutMs = Math.max(300_000, n * 10)): Promise<SleepersResult> {
  const { spawn } = await import("node:child_process");
  const script = new URL("./sleepers.ts", import.meta.url).pathname;
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [script, String(n)], { stdio: ["ignore", "pipe", "inherit"] });
    let out = "";
    const timer = setTimeout(() => {
      child.kill("SIGKILL");
      reject(new Error(`sleepers child did not finish in ${timeoutMs} ms`));
    }, timeoutMs);
    child.stdout.setEncoding("utf8");
    child.stdout.on("data", (d: string) => (out += d));
    child.on("exit", (code) => {
      clearTimeout(timer);
      const last = out.trim().split("\n").pop() ?? "";
      try {
        if (code !== 0) throw new Error(`exit code ${code}`);
        resolve(JSON.parse(last) as SleepersResult);
      } catch (err) {
        reject(new Error(`sleepers child failed (${(err as Error).message}); output: ${out.slice(-500)}`));
      }
    });
  });
}

export { sleep };

/**
 * Instances that never use storage cost no file and no row: 10,000 one-step instances run to the
 * end; then the data directory holds only the store's own files and the store no git objects.
 */
export async function noStorageFiles(n = 10_000): Promise<{ instances: number; files: number; objects: number; listing: string[] }> {
  const tmp = tempDir("nostorage");
  const e = await Engine.open({ dataDir: tmp.dir });
  try {
    await keepAlive(async () => {
      await deploy(e, "plain", BODIES.oneStep);
      const wf = e.workflow(TENANT, "plain");
      const insts: WorkflowInstance[] = [];
      for (let b = 0; b < n / 100; b++) insts.push(...(await wf.createBatch(Array.from({ length: 100 }, () => ({})))));
      for (const i of insts) if ((await i.waitFor()).status !== "complete") throw new Error("an instance did not complete");
    });
    const { readdirSync } = await import("node:fs");
    const listing = readdirSync(tmp.dir, { recursive: true }).map(String).sort();
    const own = new Set(["weft.db", "weft.db-wal", "weft.db-shm"]);
    const db = new DatabaseSync(join(tmp.dir, "weft.db"), { readOnly: true });
    const objects = (db.prepare("SELECT COUNT(*) AS n FROM git_objects").get() as { n: number }).n;
    db.close();
    return { instances: n, files: listing.filter((f) => !own.has(f)).length, objects, listing };
  } finally {
    await e.close();
    tmp.remove();
  }
}
