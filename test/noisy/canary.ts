// A noisy-neighbour harness (issue 13): a canary tenant runs a 3-step workflow in a loop next to an
// abusive instance of another tenant, while the engine's event loop is watched
// (monitorEventLoopDelay) and the host's RSS sampled. Used by the tests of test/noisy/ and the
// "noisy neighbour" rows of the bench.
import { monitorEventLoopDelay } from "node:perf_hooks";
import type { TestContext } from "node:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Engine } from "../../src/index.ts";

export const CANARY = `
import { WorkflowEntrypoint } from "cloudflare:workers";
export class Canary extends WorkflowEntrypoint {
  async run(event, step) {
    const a = await step.do("a", async () => 1);
    const b = await step.do("b", async () => a + 1);
    return await step.do("c", async () => a + b);
  }
}`;

export async function deployCanary(engine: Engine): Promise<void> {
  await engine.deploy({ tenant: "canary", workflow: "canary", code: { mainModule: "c.ts", modules: { "c.ts": CANARY } } });
}

export interface CanaryFigures {
  runs: number;
  p50Ms: number;
  p99Ms: number;
  /** the event loop's longest stall while the canary ran (ms) */
  maxLoopDelayMs: number;
}

const pct = (xs: number[], p: number) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))] ?? NaN;
};

/** Run the canary `runs` times one after another (or until `until` settles) and measure each instance's create-to-complete time. */
export async function canaryLoop(engine: Engine, runs: number, until?: Promise<unknown>): Promise<CanaryFigures> {
  const h = monitorEventLoopDelay({ resolution: 10 });
  h.enable();
  const times: number[] = [];
  let over = false;
  void until?.finally(() => (over = true));
  try {
    for (let i = 0; i < runs || (until && !over && i < runs * 20); i++) {
      const t0 = performance.now();
      const s = await (await engine.workflow("canary", "canary").create()).waitFor();
      if (s.status !== "complete" || s.output !== 3) throw new Error(`the canary did not complete: ${JSON.stringify(s)}`);
      times.push(performance.now() - t0);
      if (until && over && i >= runs) break;
    }
  } finally {
    h.disable();
  }
  return { runs: times.length, p50Ms: pct(times, 50), p99Ms: pct(times, 99), maxLoopDelayMs: h.max / 1e6 };
}

export const rssMiB = () => process.memoryUsage().rss / 1024 / 1024;

/** deploy one workflow of tenant "evil" whose run() is `body` */
export async function deployAbuse(engine: Engine, workflow: string, body: string, limits?: Record<string, number>): Promise<void> {
  await engine.deploy({ tenant: "evil", workflow, limits, code: { mainModule: "f.ts", modules: { "f.ts": `
import { WorkflowEntrypoint } from "cloudflare:workers";
export class F extends WorkflowEntrypoint { async run(event, step) { ${body} } }` } } });
}

/**
 * The canary alone, then next to instances of `workflow` (tenant "evil"): `repeat` of them one after
 * another (an abuse over in milliseconds is repeated, so that the canary's p99 is measured while it
 * lasts, not on the few runs that happen to coincide with it). The last abuser's status is returned.
 */
export async function nextToAbuse(engine: Engine, workflow: string, runs = 150, repeat = 1) {
  await canaryLoop(engine, 30); // warm
  const base = await canaryLoop(engine, runs);
  const rss0 = rssMiB();
  const wf = engine.workflow("evil", workflow);
  let abuser = await wf.create();
  const all = (async () => {
    for (let i = 1; i < repeat; i++) {
      await abuser.waitFor();
      abuser = await wf.create();
    }
    return abuser.waitFor();
  })();
  const next = await canaryLoop(engine, runs, all);
  const status = await all;
  const rss1 = rssMiB();
  // "alone" is measured before and after the abuse and the worse is taken: on this shared machine the
  // canary's p99 alone moves between 5 and 45 ms from one minute to the next, and a quiet minute
  // before the abuse must not turn ordinary noise during it into a failure
  const after = await canaryLoop(engine, runs);
  const alone = after.p99Ms > base.p99Ms ? after : base;
  return { base: alone, next, status, abuser, rss0, rss1, ratio: next.p99Ms / alone.p99Ms };
}

/** an engine on the embedded store in a fresh data directory, closed and removed after the test */
export async function openEngine(t: TestContext, opts: Omit<NonNullable<Parameters<typeof Engine.open>[0]>, "dataDir"> = {}): Promise<Engine> {
  const dataDir = mkdtempSync(join(tmpdir(), "weft-noisy-"));
  const engine = await Engine.open({ dataDir, ...opts });
  t.after(async () => {
    await engine.close();
    rmSync(dataDir, { recursive: true, force: true });
  });
  return engine;
}
