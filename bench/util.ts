// Shared helpers for the benchmark: temp data dirs, percentiles, workflow sources, a keep-alive.
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Engine, type WorkflowLimits } from "../src/index.ts";

export const TENANT = "bench";

/** A fresh data dir under os.tmpdir(); call the returned function to delete it. */
export function tempDir(label: string): { dir: string; remove(): void } {
  const dir = mkdtempSync(join(tmpdir(), `weft-bench-${label}-`));
  return { dir, remove: () => rmSync(dir, { recursive: true, force: true }) };
}

/** Nearest-rank percentile (p in 0..100) of an unsorted sample. */
export function percentile(xs: readonly number[], p: number): number {
  if (xs.length === 0) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  const i = Math.min(s.length - 1, Math.max(0, Math.ceil((p / 100) * s.length) - 1));
  return s[i]!;
}

export function median(xs: readonly number[]): number {
  return percentile(xs, 50);
}

/**
 * The engine's timers are unref'd, so a process that only awaits workflow progress could exit
 * early. Hold a ref'd interval while a scenario runs.
 */
export async function keepAlive<T>(fn: () => Promise<T>): Promise<T> {
  const h = setInterval(() => undefined, 1000);
  try {
    return await fn();
  } finally {
    clearInterval(h);
  }
}

export function module(body: string): { mainModule: string; modules: Record<string, string> } {
  const src = `import { WorkflowEntrypoint } from "cloudflare:workers";
export class Bench extends WorkflowEntrypoint {
  async run(event, step) {
${body}
  }
}
`;
  return { mainModule: "index.ts", modules: { "index.ts": src } };
}

/** Workflow bodies used by the scenarios. */
export const BODIES = {
  sleepDay: `    await step.sleep("nap", "1 day");\n    return 1;`,
  oneStep: `    return await step.do("one", async () => 1);`,
  nSteps: `    let acc = 0;
    for (let i = 0; i < event.payload.steps; i++) acc += await step.do("s" + i, async () => 1);
    return acc;`,
  sleepMs: `    await step.sleep("nap", event.payload.ms);\n    return 1;`,
  /** each step inserts one row into the instance's SQL database */
  sqlSteps: `    await step.do("schema", async () => { this.ctx.storage.sql.exec("CREATE TABLE t (i INTEGER, at INTEGER)"); });
    let acc = 0;
    for (let i = 0; i < event.payload.steps; i++) acc += await step.do("s" + i, async () => { this.ctx.storage.sql.exec("INSERT INTO t VALUES (?, ?)", i, Date.now()); return 1; });
    return acc;`,
  /** each step writes one 10 KiB file (new content each time) into a directory of 50 files */
  fileSteps: `    let acc = 0;
    for (let i = 0; i < event.payload.steps; i++) acc += await step.do("s" + i, async () => {
      await this.ctx.fs.writeFile("out/report-" + (i % 50) + ".bin", new Uint8Array(10240).fill(i % 251).map((x, j) => (x + j * (i + 1)) & 255));
      return 1;
    });
    return acc;`,
};

export async function deploy(engine: Engine, workflow: string, body: string, limits: Partial<WorkflowLimits> = {}): Promise<void> {
  await engine.deploy({ tenant: TENANT, workflow, code: module(body), limits });
}

/** Run `n` tasks with at most `width` in flight; resolves when all have resolved. */
export async function pool(n: number, width: number, task: (i: number) => Promise<unknown>): Promise<void> {
  let next = 0;
  const lane = async () => {
    while (next < n) await task(next++);
  };
  await Promise.all(Array.from({ length: Math.min(width, n) }, lane));
}

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** Machine-wide busy CPU time so far (ms, all cores), from /proc/stat; NaN where unavailable. */
export function machineBusyMs(): number {
  try {
    const f = readFileSync("/proc/stat", "utf8").split("\n")[0]!.trim().split(/\s+/).slice(1).map(Number);
    const [user, nice, system, , , irq, softirq, steal] = f;
    return ((user! + nice! + system! + irq! + softirq! + (steal ?? 0)) * 1000) / 100; // USER_HZ = 100
  } catch {
    return NaN;
  }
}

/** CPU time this process has used (ms, all threads). */
export function ownCpuMs(): number {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1000;
}
