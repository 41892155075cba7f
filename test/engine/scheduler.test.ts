// Scheduling order and costs: tenants are served round-robin, waking instances go before new ones,
// a workflow never exceeds its concurrency, and a suspended instance holds no run slot.
import { test } from "node:test";
import assert from "node:assert/strict";
import { Scheduler, type Ready } from "../../src/engine/scheduler.ts";
import { open, wf, deploy, TENANT, HOUR, until } from "./helpers.ts";

const r = (pk: number, tenant: string, wf = "w", concurrency = 100): Ready => ({ pk, tenant, workflowKey: `${tenant}/${wf}`, concurrency });

test("tenants are served round-robin: a tenant with a long queue does not starve the others", () => {
  const s = new Scheduler(3);
  for (let i = 1; i <= 50; i++) s.enqueue(r(i, "big"), "fresh");
  s.enqueue(r(100, "small"), "fresh");
  s.enqueue(r(101, "other"), "fresh");
  const first = s.take().map((x) => x.tenant);
  assert.deepEqual(first.sort(), ["big", "other", "small"]);
});

test("waking instances go before new ones of the same tenant", () => {
  const s = new Scheduler(1);
  s.enqueue(r(1, "t"), "fresh");
  s.enqueue(r(2, "t"), "fresh");
  s.enqueue(r(3, "t"), "wake");
  assert.deepEqual(s.take().map((x) => x.pk), [3]);
  s.stopped("t/w");
  assert.deepEqual(s.take().map((x) => x.pk), [1]);
});

test("a workflow at its concurrency limit waits while other workflows of the tenant proceed", () => {
  const s = new Scheduler(10);
  s.enqueue(r(1, "t", "a", 1), "fresh");
  s.enqueue(r(2, "t", "a", 1), "fresh");
  s.enqueue(r(3, "t", "b", 1), "fresh");
  assert.deepEqual(s.take().map((x) => x.pk).sort(), [1, 3]);
  assert.deepEqual(s.take(), []);
  s.stopped("t/a");
  assert.deepEqual(s.take().map((x) => x.pk), [2]);
});

test("removed entries are skipped; the engine-wide cap holds", () => {
  const s = new Scheduler(2);
  for (let i = 1; i <= 5; i++) s.enqueue(r(i, "t"), "fresh");
  s.remove(1);
  assert.deepEqual(s.take().map((x) => x.pk), [2, 3]);
  assert.equal(s.depth(), 2);
});

test("a sleeping instance holds no run slot and no context slot: it costs rows only", { timeout: 20_000 }, async (t) => {
  const h = await open(t, { suspendAfterMs: 1000 });
  await deploy(h.engine, "s", wf(`
    await step.do("a", async () => 1);
    await step.sleep("long", "1 day");
    return "done";`));
  const w = h.engine.workflow(TENANT, "s");
  const insts = await Promise.all([0, 1, 2, 3, 4].map((i) => w.create({ id: `i${i}` })));
  await until(async () => (await Promise.all(insts.map((i) => i.status()))).every((s) => s.status === "waiting"), "all waiting");
  await until(() => h.engine.stats().activeRuns === 0 && h.engine.stats().runs === 0, "no run holds a slot");
  for (const i of insts) assert.equal(h.engine.liveRun(i.record.pk), undefined);
  h.clock.advance(24 * HOUR);
  for (const i of insts) assert.deepEqual(await i.waitFor(), { status: "complete", output: "done" });
});
