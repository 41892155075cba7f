// Synchronous activations run within a budget (20 ms by default). A step whose body computes for
// longer is not failed: its run is cut off once and replayed with asynchronous activations, where
// it may use its whole CPU limit; the attempt counts once and other instances keep going. A body
// that already had an effect (it awaited a host call) is never cut off: its activations run on the
// isolate's thread, so the effect is not repeated by a replay in the same process.
import { test } from "node:test";
import assert from "node:assert/strict";
import { open, wf, deploy, TENANT, stepsOf } from "./helpers.ts";

const LIMIT = { timeout: 30_000 };

test("a step that computes past the sync budget completes in one attempt after one replay", LIMIT, async (t) => {
  const h = await open(t, { clock: undefined, syncBudgetMs: 5 });
  await deploy(h.engine, "busy", wf(`
    await step.do("light", async () => 1);
    const n = await step.do("heavy", async () => {
      let x = 0;
      for (let i = 0; i < 3e8; i++) x = (x + i * 7) % 1000003; // hundreds of ms of CPU: far past the 5 ms budget
      return x;
    });
    return { n };`));
  const other = wf(`
    let s = 0;
    for (let i = 0; i < 5; i++) s += await step.do("tick", async () => i);
    return s;`);
  await deploy(h.engine, "other", other);
  const inst = await h.engine.workflow(TENANT, "busy").create({ id: "b" });
  const others = await Promise.all([0, 1, 2].map((i) => h.engine.workflow(TENANT, "other").create({ id: `o${i}` })));
  const s = await inst.waitFor();
  assert.equal(s.status, "complete", JSON.stringify(s));
  assert.equal(typeof (s.output as { n: number }).n, "number");
  const heavy = stepsOf(await inst.describe(), "heavy")[0]!;
  assert.equal(heavy.attempts.length, 1, "the cut-off sync activation is not a failed attempt");
  assert.equal(heavy.attempts[0]!.success, true);
  assert.ok(h.engine.metrics.preemptions >= 1, "a synchronous activation was cut off");
  assert.ok(h.engine.heavy.size === 0, "the async mark is dropped when the instance finishes");
  for (const o of others) assert.deepEqual(await o.waitFor(), { status: "complete", output: 10 });
});

test("a body that had an effect is never cut off and replayed: its effect happens once in the process", LIMIT, async (t) => {
  const h = await open(t, { clock: undefined, syncBudgetMs: 5 });
  const runs: string[] = [];
  await deploy(h.engine, "busy", wf(`
    const n = await step.do("heavy", async (ctx) => {
      await this.env.hit("heavy attempt " + ctx.attempt);
      let x = 0;
      for (let i = 0; i < 3e8; i++) x = (x + i * 7) % 1000003; // computed after the effect, far past the budget
      return x;
    });
    return { n };`), { env: { hit: async (x: string) => void runs.push(x) } });
  const inst = await h.engine.workflow(TENANT, "busy").create({ id: "b" });
  const s = await inst.waitFor();
  assert.equal(s.status, "complete", JSON.stringify(s));
  // cut off after the host call, the replay would run the body (and the call) again as attempt 1
  assert.deepEqual(runs, ["heavy attempt 1"]);
  assert.equal(stepsOf(await inst.describe(), "heavy")[0]!.attempts.length, 1);
});

test("a neighbour's cut-off does not replay a run whose body is in flight in the same context", LIMIT, async (t) => {
  const h = await open(t, { clock: undefined, syncBudgetMs: 5 });
  const calls: string[] = [];
  let release!: () => void;
  const gate = new Promise<void>((r) => (release = r));
  let entered!: () => void;
  const inside = new Promise<void>((r) => (entered = r));
  await deploy(h.engine, "mixed", wf(`
    if (event.payload.role === "waiter") {
      return await step.do("call out", async (ctx) => {
        await this.env.slow("waiter attempt " + ctx.attempt); // in flight while the neighbour computes
        return "called";
      });
    }
    return await step.do("compute", async () => {
      let x = 0;
      for (let i = 0; i < 3e8; i++) x = (x + i * 7) % 1000003; // far past the 5 ms budget, from its first activation
      return x;
    });`), { env: { slow: async (x: string) => { calls.push(x); entered(); await gate; } } });
  const wfb = h.engine.workflow(TENANT, "mixed");
  const waiter = await wfb.create({ id: "waiter", params: { role: "waiter" } });
  await inside; // the waiter's body has had its effect and waits on the host
  const heavy = await wfb.create({ id: "heavy", params: { role: "heavy" } });
  assert.equal((await heavy.waitFor()).status, "complete");
  release();
  assert.deepEqual(await waiter.waitFor(), { status: "complete", output: "called" });
  assert.deepEqual(calls, ["waiter attempt 1"], "the waiter's body ran once: its run was not replayed");
});

test("with the sync budget off, every activation runs on the isolate's thread and still completes", LIMIT, async (t) => {
  const h = await open(t, { clock: undefined, syncBudgetMs: 0 });
  await deploy(h.engine, "plain", wf(`
    const a = await step.do("a", async () => 20);
    return a + await step.do("b", async () => 22);`));
  assert.deepEqual(await (await h.engine.workflow(TENANT, "plain").create({ id: "p" })).waitFor(), { status: "complete", output: 42 });
});
