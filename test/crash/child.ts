// Child process of test/crash/crash.test.ts: one "life" of an engine over a data directory that
// survives across lives. It opens the engine (which recovers what the previous life left), deploys the
// same workflow (same code and env shape, so the same version), creates the instances that do not
// exist yet, sends each unfinished instance the event it waits for, and lets them run. The parent
// kills it with SIGKILL at a random moment; in "final" mode it exits by itself once every instance
// is complete.
//
//   node test/crash/child.ts DATA_DIR LIFE MODE(kill|final) N
//
// Every step body calls env.record(instanceId, stepKey, attempt), which appends
// "instanceId stepKey attempt life" to DATA_DIR/effects.log and fsyncs it before returning the life;
// the step returns that life as part of its result, so the journal says which life committed it.
import { closeSync, fsyncSync, openSync, writeSync } from "node:fs";
import { join } from "node:path";
import { Engine, ErrorCode, WeftError } from "../../src/index.ts";

export const TENANT = "crash";
export const WORKFLOW = "crashy";

export const WORKFLOW_SOURCE = `
import { WorkflowEntrypoint } from "cloudflare:workers";

export class Crashy extends WorkflowEntrypoint {
  async run(event, step) {
    const n = event.payload.n;
    const id = event.instanceId;
    const cfg = { retries: { limit: 50, delay: "50 ms", backoff: "constant" }, timeout: "30 seconds" };
    const body = (name, f) => step.do(name, cfg, async (ctx) => {
      const key = ctx.step.name + "#" + ctx.step.count;
      const life = await this.env.record(id, key, ctx.attempt);
      return { v: f(), life, attempt: ctx.attempt };
    });
    const a = await body("a", () => n + 1);
    const b = await body("b", () => a.v * 2);
    await step.sleep("nap", "200 ms");
    const [p1, p2] = await Promise.all([body("p", () => b.v + 1), body("p", () => b.v + 2)]);
    const c = await body("c", () => p1.v + p2.v);
    const ev = await step.waitForEvent("go", { type: "go", timeout: "1 hour" });
    const d = await body("d", () => c.v * ev.payload.k);
    const e = await body("e", () => d.v - 1);
    return { n, a: a.v, b: b.v, p1: p1.v, p2: p2.v, c: c.v, k: ev.payload.k, d: d.v, e: e.v };
  }
}
`;

/** The step keys (name#occurrence) whose bodies record side effects. */
export const STEP_KEYS = ["a#1", "b#1", "p#1", "p#2", "c#1", "d#1", "e#1"];

export function eventPayload(n: number): { k: number } {
  return { k: (n % 5) + 2 };
}

export function expectedOutput(n: number): Record<string, number> {
  const a = n + 1, b = a * 2, p1 = b + 1, p2 = b + 2, c = p1 + p2, k = eventPayload(n).k, d = c * k, e = d - 1;
  return { n, a, b, p1, p2, c, k, d, e };
}

async function main(): Promise<void> {
  const [dataDir, lifeArg, mode, countArg] = process.argv.slice(2);
  if (!dataDir || !lifeArg || (mode !== "kill" && mode !== "final") || !countArg) {
    throw new Error("usage: child.ts DATA_DIR LIFE kill|final N");
  }
  const life = Number(lifeArg);
  const count = Number(countArg);
  const fd = openSync(join(dataDir, "effects.log"), "a");
  const record = async (instanceId: string, key: string, attempt: number): Promise<number> => {
    writeSync(fd, `${instanceId} ${key} ${attempt} ${life}\n`);
    fsyncSync(fd);
    await new Promise((r) => setTimeout(r, 15)); // an outside call takes a while: kills land between effect and commit
    return life;
  };

  const engine = await Engine.open({ dataDir, suspendAfterMs: 100 });
  await engine.deploy({
    tenant: TENANT, workflow: WORKFLOW, code: { mainModule: "index.ts", modules: { "index.ts": WORKFLOW_SOURCE } }, env: { record },
    // a bounded number of runs at once: instances queue, and work commits steadily from the start of a
    // life instead of after 200 contexts have opened
    limits: { concurrency: 6 },
  });
  process.stdout.write(`life ${life}: deployed\n`);
  const wf = engine.workflow(TENANT, WORKFLOW);
  const ids = Array.from({ length: count }, (_, n) => n);
  const created = await Promise.allSettled(ids.map((n) => wf.create({ id: `i${n}`, params: { n } })));
  for (const r of created) {
    if (r.status === "rejected" && !(r.reason instanceof WeftError && r.reason.code === ErrorCode.AlreadyExists)) throw r.reason;
  }
  // one event per unfinished instance per life: duplicates stay buffered, a lost send is sent again
  await Promise.allSettled(ids.map(async (n) => {
    const inst = await wf.get(`i${n}`);
    const s = await inst.status();
    if (s.status === "complete" || s.status === "errored" || s.status === "terminated") return;
    await inst.sendEvent({ type: "go", payload: eventPayload(n) });
  }));
  process.stdout.write(`life ${life}: created and signalled\n`);

  if (mode === "kill") {
    setInterval(() => undefined, 1000); // run until the parent kills us, even if all work is done
    return;
  }

  const deadline = Date.now() + 45_000; // the parent gives up at 60 s
  for (;;) {
    const counts = await engine.store.countByStatus(TENANT);
    const bad = (counts.errored ?? 0) + (counts.terminated ?? 0);
    if ((counts.complete ?? 0) === count || bad > 0 || Date.now() > deadline) {
      process.stdout.write(`life ${life}: final counts ${JSON.stringify(counts)} engine ${JSON.stringify(engine.stats())}\n`);
      if ((counts.complete ?? 0) !== count) {
        const stuck = (await engine.store.listInstances({ tenant: TENANT, limit: 1000, direction: "asc" })).filter((i) => i.status !== "complete");
        for (const i of stuck.slice(0, 10)) {
          process.stdout.write(`  ${i.id} ${i.status} wakeAt=${i.wakeAt} error=${JSON.stringify(i.error)}\n`);
        }
      }
      await engine.close();
      closeSync(fd);
      process.exit(bad > 0 || (counts.complete ?? 0) !== count ? 1 : 0);
    }
    await new Promise((r) => setTimeout(r, 50));
  }
}

if (import.meta.main) {
  main().catch((e) => {
    process.stderr.write(`child failed: ${(e as Error).stack ?? String(e)}\n`);
    process.exit(2);
  });
}
