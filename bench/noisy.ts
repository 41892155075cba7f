// The "noisy neighbour" rows (issue 13): a canary tenant's 3-step workflow, run in a loop, alone and
// next to one abusive instance of another tenant at a time (the harness of test/noisy/). Each abuse
// gets its own engine; the canary's p99 next to it is compared with its p99 alone in the same engine.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Engine } from "../src/index.ts";
import { deployAbuse, deployCanary, nextToAbuse } from "../test/noisy/canary.ts";

export const ABUSES: Record<string, { body: string; limits?: Record<string, number> }> = {
  "100,000 parallel step.do": { body: "await Promise.all(Array.from({ length: 100000 }, (_, i) => step.do(`s${i}`, async () => i)));" },
  "CPU loop in a step": { body: `await step.do("spin", { retries: { limit: 0, delay: 0 } }, async () => { for (;;) {} });`, limits: { cpuMsPerStep: 2000 } },
  "heap to its limit": { body: `const a = []; for (;;) a.push("x".repeat(100000) + a.length);` },
  "4 GiB Wasm memory": { body: "return new WebAssembly.Memory({ initial: 65536 }).buffer.byteLength;" },
  "200 × 5 MB error messages": { body: `await step.do("fail", { retries: { limit: 199, delay: 0 } }, async () => { throw new Error("e".repeat(5000000)); });` },
  "50,000 events never waited for": { body: `await step.sleep("long", "1 hour");` },
};

export interface NoisyRow {
  abuse: string;
  aloneP50Ms: number;
  aloneP99Ms: number;
  nextP50Ms: number;
  nextP99Ms: number;
  maxLoopDelayMs: number;
  rssDeltaMiB: number;
  outcome: string;
}

export async function noisyNeighbour(runs = 150): Promise<NoisyRow[]> {
  const out: NoisyRow[] = [];
  for (const [abuse, { body, limits }] of Object.entries(ABUSES)) {
    const dir = mkdtempSync(join(tmpdir(), "weft-bench-noisy-"));
    const engine = await Engine.open({ dataDir: dir });
    try {
      await deployCanary(engine);
      await deployAbuse(engine, "abuse", body, limits);
      let r;
      if (abuse.startsWith("50,000 events")) {
        // the abuse is the sender's: the canary runs while 50,000 events go to one sleeping instance
        const target = await engine.workflow("evil", "abuse").create();
        const flood = (async () => {
          let refused = 0;
          for (let i = 0; i < 50_000; i++) await target.sendEvent({ type: "junk", payload: { i } }).catch(() => refused++);
          return refused;
        })();
        const { canaryLoop, rssMiB } = await import("../test/noisy/canary.ts");
        await canaryLoop(engine, 30);
        const base = await canaryLoop(engine, runs);
        const rss0 = rssMiB();
        const next = await canaryLoop(engine, runs, flood);
        const refused = await flood;
        r = { base, next, rss0, rss1: rssMiB(), status: { status: `${refused} of 50,000 refused (limits.bufferedEvents)` } };
      } else {
        r = await nextToAbuse(engine, "abuse", runs);
      }
      out.push({
        abuse, aloneP50Ms: r.base.p50Ms, aloneP99Ms: r.base.p99Ms, nextP50Ms: r.next.p50Ms, nextP99Ms: r.next.p99Ms,
        maxLoopDelayMs: r.next.maxLoopDelayMs, rssDeltaMiB: r.rss1 - r.rss0,
        outcome: "error" in r.status && r.status.error ? String((r.status.error as { message?: string }).message).slice(0, 90) : String(r.status.status),
      });
    } finally {
      await engine.close();
      rmSync(dir, { recursive: true, force: true });
    }
  }
  return out;
}
