// Corners next to the main semantics: pausing with a step in flight, rollback after a replay,
// attempt timeouts, several buffered events, and randomness used inside step bodies.
import { test } from "node:test";
import assert from "node:assert/strict";
import { HOUR, SECOND, TENANT, deploy, describeUntil, open, recorder, settle, stepsOf, until, wf } from "./helpers.ts";

/** a hung wait fails the test instead of the run */
const LIMIT = { timeout: 20_000 };

test("pause with a step in flight: waitingForPause, the step commits, nothing new starts; resume completes", LIMIT, async (t) => {
  const h = await open(t);
  const rec = recorder();
  let release!: () => void;
  const gate = () => new Promise<void>((r) => (release = r));
  await deploy(h.engine, "pause-step", wf(`
    const a = await step.do("a", async () => { await this.env.hit("a"); await this.env.gate(); return 1; });
    const b = await step.do("b", async () => { await this.env.hit("b"); return a + 1; });
    return b;`), { env: { ...rec.env, gate } });
  const inst = await h.engine.workflow(TENANT, "pause-step").create();
  await until(() => rec.calls.includes("a") && release, "step a in flight");
  await inst.pause();
  assert.equal((await inst.status()).status, "waitingForPause");
  release();
  await inst.waitFor(["paused"]);
  await settle();
  assert.deepEqual(rec.calls, ["a"], "b does not start while paused");
  assert.equal(stepsOf(await inst.describe(), "a")[0]!.success, true, "the in-flight step committed");
  await inst.resume();
  const s = await inst.waitFor();
  assert.equal(s.status, "complete");
  assert.equal(s.output, 2);
  assert.deepEqual(rec.calls, ["a", "b"]);
});

test("rollback after a replay: handlers of steps completed before a sleep still run with their outputs", LIMIT, async (t) => {
  const h = await open(t);
  const rec = recorder();
  const src = wf(`
    const rb = (name) => ({ rollback: async ({ output, error }) => { await this.env.hit({ rollback: name, output, error: error.message }); } });
    await step.do("a", async () => "out-a", rb("a"));
    await step.do("b", async () => "out-b", rb("b"));
    await step.sleep("nap", "1 hour");
    await step.do("c", async () => { throw new NonRetryableError("c failed"); }, rb("c"));`);
  await deploy(h.engine, "saga-replay", src, { env: rec.env });
  const inst = await h.engine.workflow(TENANT, "saga-replay").create({ id: "sr" });
  await inst.waitFor(["waiting"]);
  await h.reopen();
  await deploy(h.engine, "saga-replay", src, { env: rec.env });
  h.clock.advance(HOUR);
  const s = await (await h.engine.workflow(TENANT, "saga-replay").get("sr")).waitFor();
  assert.equal(s.status, "errored");
  assert.equal(s.error?.message, "c failed");
  await until(() => rec.calls.length >= 2, "the rollbacks");
  await settle();
  const done = rec.calls.filter((c) => (c as { rollback: string }).rollback !== "c");
  assert.deepEqual(done, [
    { rollback: "b", output: "out-b", error: "c failed" },
    { rollback: "a", output: "out-a", error: "c failed" },
  ]);
});

test("a caught failure runs no rollback", LIMIT, async (t) => {
  const h = await open(t);
  const rec = recorder();
  await deploy(h.engine, "saga-caught", wf(`
    await step.do("a", async () => 1, { rollback: async () => { await this.env.hit("rollback a"); } });
    try { await step.do("b", async () => { throw new NonRetryableError("b failed"); }); } catch {}
    return "fine";`), { env: rec.env });
  const s = await (await h.engine.workflow(TENANT, "saga-caught").create()).waitFor();
  assert.equal(s.status, "complete");
  await settle();
  assert.deepEqual(rec.calls, []);
});

test("an attempt that outlives its timeout fails with WorkflowTimeoutError and is retried", LIMIT, async (t) => {
  const h = await open(t);
  const rec = recorder();
  let calls = 0;
  const slow = () => (++calls === 1 ? new Promise<never>(() => {}) : Promise.resolve("fast"));
  await deploy(h.engine, "attempt-timeout", wf(`
    return await step.do("slow", { timeout: "30 seconds", retries: { limit: 1, delay: "10 seconds" } },
      async (ctx) => { await this.env.hit(ctx.attempt); return await this.env.slow(); });`), { env: { ...rec.env, slow } });
  const inst = await h.engine.workflow(TENANT, "attempt-timeout").create();
  await until(() => rec.calls.length === 1, "attempt 1 to start");
  h.clock.advance(30 * SECOND - 1);
  await settle();
  assert.equal(stepsOf(await inst.describe(), "slow")[0]!.attempts[0]!.end, null, "attempt 1 still running 1 ms before its timeout");
  h.clock.advance(1);
  const d = await describeUntil(inst, "attempt 1 to time out", (d) => stepsOf(d, "slow")[0]?.attempts[0]?.success === false);
  assert.equal(stepsOf(d, "slow")[0]!.attempts[0]!.error?.name, "WorkflowTimeoutError");
  h.clock.advance(10 * SECOND);
  const s = await inst.waitFor();
  assert.equal(s.status, "complete");
  assert.equal(s.output, "fast");
  assert.deepEqual(rec.calls, [1, 2]);
});

test("several events of one type sent before the waits are delivered one per wait, in order", LIMIT, async (t) => {
  const h = await open(t);
  await deploy(h.engine, "ev-many", wf(`
    await step.sleep("first", "1 minute");
    const a = await step.waitForEvent("one", { type: "tick" });
    const b = await step.waitForEvent("two", { type: "tick" });
    return [a.payload, b.payload];`));
  const inst = await h.engine.workflow(TENANT, "ev-many").create();
  await inst.waitFor(["waiting"]);
  await inst.sendEvent({ type: "tick", payload: 1 });
  await inst.sendEvent({ type: "tick", payload: 2 });
  await inst.sendEvent({ type: "tick", payload: 3 });
  h.clock.advance(60 * SECOND);
  const s = await inst.waitFor();
  assert.deepEqual(s, { status: "complete", output: [1, 2] });
});

test("Math.random() outside steps stays replay-stable when a step body also draws random numbers", LIMIT, async (t) => {
  const h = await open(t);
  const src = wf(`
    const pending = step.do("draws", async () => [Math.random(), crypto.randomUUID()]);
    const r = Math.random();
    const drawn = await pending;
    const saved = await step.do("save", async () => r);
    await step.sleep("nap", "1 hour");
    return { r, saved, drawn };`);
  await deploy(h.engine, "rnd-body", src);
  const inst = await h.engine.workflow(TENANT, "rnd-body").create({ id: "rb" });
  await inst.waitFor(["waiting"]);
  await h.reopen();
  await deploy(h.engine, "rnd-body", src);
  h.clock.advance(HOUR);
  const s = await (await h.engine.workflow(TENANT, "rnd-body").get("rb")).waitFor();
  assert.equal(s.status, "complete");
  const o = s.output as { r: number; saved: number };
  assert.equal(o.r, o.saved, "the value computed on replay equals the one saved on the first run");
});

test("Math.random() after Promise.all is replay-stable when the steps committed out of call order", LIMIT, async (t) => {
  const h = await open(t);
  let release!: () => void;
  const gate = () => new Promise<void>((r) => (release = r));
  const src = wf(`
    const [x, y] = await Promise.all([
      step.do("slow", async () => { await this.env.gate(); return 1; }),
      step.do("fast", async () => 2),
    ]);
    const r = Math.random();
    const saved = await step.do("save", async () => r);
    await step.sleep("nap", "1 hour");
    return { r, saved, x, y };`);
  await deploy(h.engine, "rnd-order", src, { env: { gate } });
  const inst = await h.engine.workflow(TENANT, "rnd-order").create({ id: "ro" });
  await describeUntil(inst, "fast to commit", (d) => stepsOf(d, "fast")[0]?.success === true);
  release();
  await inst.waitFor(["waiting"]);
  await h.reopen();
  await deploy(h.engine, "rnd-order", src, { env: { gate: async () => undefined } });
  h.clock.advance(HOUR);
  const s = await (await h.engine.workflow(TENANT, "rnd-order").get("ro")).waitFor();
  assert.equal(s.status, "complete");
  const o = s.output as { r: number; saved: number };
  assert.equal(o.r, o.saved, "the value computed on replay equals the one saved on the first run");
});
