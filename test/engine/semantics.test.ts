// Step semantics against the reference (Cloudflare Workflows, reference sections 1.3-1.5, 1.9):
// result caching across engine restarts, retries and backoff, NonRetryableError, try/catch, rollback,
// sleeps, events, Promise.all, determinism of code outside steps, result limits.
import { test } from "node:test";
import assert from "node:assert/strict";
import {
  HOUR, MINUTE, SECOND, deploy, describeUntil, ms, open, recorder, settle, stepsOf, until, wf,
} from "./helpers.ts";

/** a hung wait fails the test instead of the run */
const LIMIT = { timeout: 20_000 };
import type { WorkflowInstance } from "../../src/index.ts";
import type { FakeClock } from "../../src/index.ts";

// ---- 1. caching ----------------------------------------------------------------------------------

test("a completed step's body does not run again after the engine is closed and re-opened", LIMIT, async (t) => {
  const h = await open(t);
  const rec = recorder();
  const src = wf(`
    const a = await step.do("a", async () => { await this.env.hit("a"); return 1; });
    await step.sleep("nap", "1 hour");
    const b = await step.do("b", async () => { await this.env.hit("b"); return a + 1; });
    return { a, b };`);
  const v1 = await deploy(h.engine, "cache", src, { env: rec.env });
  const inst = await h.engine.workflow("acme", "cache").create({ id: "c1" });
  await inst.waitFor(["waiting"]);
  assert.deepEqual(rec.calls, ["a"]);

  await h.reopen();
  const v2 = await deploy(h.engine, "cache", src, { env: rec.env });
  assert.equal(v2, v1, "same code and env deploy to the same version");
  const again = await h.engine.workflow("acme", "cache").get("c1");
  h.clock.advance(HOUR);
  const s = await again.waitFor();
  assert.equal(s.status, "complete");
  assert.deepEqual(s.output, { a: 1, b: 2 });
  assert.deepEqual(rec.calls, ["a", "b"], "each step body ran exactly once");
});

test("a step in flight when the engine closes runs again after re-open; the committed one does not", LIMIT, async (t) => {
  const h = await open(t);
  const rec = recorder();
  let release!: () => void;
  const blocked = new Promise<void>((r) => (release = r));
  const src = wf(`
    const a = await step.do("a", async () => { await this.env.hit("a"); return 10; });
    const b = await step.do("b", async () => { await this.env.hit("b"); await this.env.gate(); return a + 1; });
    return b;`);
  await deploy(h.engine, "inflight", src, { env: { ...rec.env, gate: () => blocked } });
  const inst = await h.engine.workflow("acme", "inflight").create({ id: "f1" });
  await until(() => rec.calls.includes("b"), "step b to start");
  assert.equal((await inst.status()).status, "running");

  await h.reopen();
  await deploy(h.engine, "inflight", src, { env: { ...rec.env, gate: async () => undefined } });
  const s = await (await h.engine.workflow("acme", "inflight").get("f1")).waitFor();
  release();
  assert.equal(s.status, "complete");
  assert.equal(s.output, 11);
  assert.deepEqual(rec.calls, ["a", "b", "b"], "a committed once; b never committed in the first process so it ran again");
});

// ---- 2. retries ----------------------------------------------------------------------------------

/**
 * Drive a step that keeps failing through its retries: before each retry, the next attempt must not
 * start 1 ms early, and must start exactly `delay` after the previous attempt ended.
 */
async function driveRetries(inst: WorkflowInstance, clock: () => FakeClock, step: string, delays: number[]): Promise<void> {
  for (let i = 0; i < delays.length; i++) {
    const n = i + 1;
    const d = await describeUntil(inst, `attempt ${n} of "${step}" to fail and a retry to be scheduled`, (d) => {
      const s = stepsOf(d, step)[0];
      return !!s && s.attempts.length === n && s.attempts[n - 1]!.success === false && !!s.retriesAt;
    });
    const s = stepsOf(d, step)[0]!;
    const ended = ms(s.attempts[n - 1]!.end);
    const due = ms(s.retriesAt);
    assert.equal(due - ended, delays[i], `delay before attempt ${n + 1}`);
    clock().advanceTo(due - 1);
    await settle();
    const early = stepsOf(await inst.describe(), step)[0]!;
    assert.equal(early.attempts.length, n, `attempt ${n + 1} must not start 1 ms before its delay is over`);
    clock().advanceTo(due);
    const later = await describeUntil(inst, `attempt ${n + 1} of "${step}" to start`, (d) => (stepsOf(d, step)[0]?.attempts.length ?? 0) > n);
    assert.equal(ms(stepsOf(later, step)[0]!.attempts[n]!.start), due, `attempt ${n + 1} starts when its delay is over`);
  }
}

test("default retries: 6 attempts with exponential delays of 10, 20, 40, 80 and 160 seconds", LIMIT, async (t) => {
  const h = await open(t);
  const rec = recorder();
  await deploy(h.engine, "retry-default", wf(`
    await step.do("flaky", async (ctx) => { await this.env.hit(ctx.attempt); throw new Error("boom " + ctx.attempt); });
    return "unreachable";`), { env: rec.env });
  const inst = await h.engine.workflow("acme", "retry-default").create();
  await driveRetries(inst, () => h.clock, "flaky", [10, 20, 40, 80, 160].map((s) => s * SECOND));
  const s = await inst.waitFor();
  assert.equal(s.status, "errored");
  assert.deepEqual(s.error, { name: "Error", message: "boom 6" });
  assert.deepEqual(rec.calls, [1, 2, 3, 4, 5, 6]);
  const step = stepsOf(await inst.describe(), "flaky")[0]!;
  assert.equal(step.attempts.length, 6);
  assert.equal(step.success, false);
  h.clock.advance(365 * 24 * HOUR);
  await settle();
  assert.equal(rec.calls.length, 6, "no seventh attempt");
});

test("linear backoff: delay × attempt", LIMIT, async (t) => {
  const h = await open(t);
  const rec = recorder();
  await deploy(h.engine, "retry-linear", wf(`
    await step.do("flaky", { retries: { limit: 3, delay: "1 minute", backoff: "linear" } },
      async (ctx) => { await this.env.hit(ctx.attempt); throw new Error("no"); });`), { env: rec.env });
  const inst = await h.engine.workflow("acme", "retry-linear").create();
  await driveRetries(inst, () => h.clock, "flaky", [1, 2, 3].map((m) => m * MINUTE));
  assert.equal((await inst.waitFor()).status, "errored");
  assert.deepEqual(rec.calls, [1, 2, 3, 4]);
});

test("constant backoff: the same delay every time", LIMIT, async (t) => {
  const h = await open(t);
  const rec = recorder();
  await deploy(h.engine, "retry-constant", wf(`
    await step.do("flaky", { retries: { limit: 2, delay: 30000, backoff: "constant" } },
      async (ctx) => { await this.env.hit(ctx.attempt); throw new Error("no"); });`), { env: rec.env });
  const inst = await h.engine.workflow("acme", "retry-constant").create();
  await driveRetries(inst, () => h.clock, "flaky", [30 * SECOND, 30 * SECOND]);
  assert.equal((await inst.waitFor()).status, "errored");
  assert.deepEqual(rec.calls, [1, 2, 3]);
});

test("step context: ctx.attempt counts 1..n, ctx.step has the name and the occurrence", LIMIT, async (t) => {
  const h = await open(t);
  const rec = recorder();
  await deploy(h.engine, "ctx", wf(`
    const cfg = { retries: { limit: 5, delay: "10 seconds", backoff: "constant" } };
    const body = async (ctx) => {
      await this.env.hit({ name: ctx.step.name, count: ctx.step.count, attempt: ctx.attempt });
      if (ctx.attempt < 3) throw new Error("not yet");
      return ctx.attempt;
    };
    const x = await step.do("same", cfg, body);
    const y = await step.do("same", cfg, body);
    const z = await step.do("other", cfg, async (ctx) => ({ name: ctx.step.name, count: ctx.step.count, attempt: ctx.attempt }));
    return { x, y, z };`), { env: rec.env });
  const inst = await h.engine.workflow("acme", "ctx").create();
  for (let k = 0; k < 4; k++) {
    await until(() => rec.calls.length === k + 1, `attempt record ${k + 1}`);
    await describeUntil(inst, "a retry to be scheduled", (d) => stepsOf(d).some((s) => !!s.retriesAt && ms(s.retriesAt) > h.clock.now()));
    h.clock.advance(10 * SECOND);
  }
  const s = await inst.waitFor();
  assert.equal(s.status, "complete");
  assert.deepEqual(s.output, { x: 3, y: 3, z: { name: "other", count: 1, attempt: 1 } });
  assert.deepEqual(rec.calls, [
    { name: "same", count: 1, attempt: 1 }, { name: "same", count: 1, attempt: 2 }, { name: "same", count: 1, attempt: 3 },
    { name: "same", count: 2, attempt: 1 }, { name: "same", count: 2, attempt: 2 }, { name: "same", count: 2, attempt: 3 },
  ]);
});

// ---- 3. NonRetryableError --------------------------------------------------------------------------

test("NonRetryableError stops retries after one attempt and keeps its message and name", LIMIT, async (t) => {
  const h = await open(t);
  const rec = recorder();
  await deploy(h.engine, "nre", wf(`
    await step.do("charge", async () => { await this.env.hit("charge"); throw new NonRetryableError("card declined", "PaymentError"); });`), { env: rec.env });
  const inst = await h.engine.workflow("acme", "nre").create();
  const s = await inst.waitFor();
  assert.equal(s.status, "errored");
  assert.deepEqual(s.error, { name: "PaymentError", message: "card declined" });
  assert.deepEqual(rec.calls, ["charge"]);
  const step = stepsOf(await inst.describe(), "charge")[0]!;
  assert.equal(step.attempts.length, 1);
  assert.equal(step.retriesAt, null);
});

test("NonRetryableError without a name is named NonRetryableError; an empty message is not retried either", LIMIT, async (t) => {
  const h = await open(t);
  const rec = recorder();
  await deploy(h.engine, "nre-empty", wf(`
    let first;
    try {
      await step.do("plain", async () => { await this.env.hit("plain"); throw new NonRetryableError("nope"); });
    } catch (e) { first = { name: e.name, message: e.message }; }
    await step.do("empty", async () => { await this.env.hit("empty"); throw new NonRetryableError(""); });
    return first;`), { env: rec.env });
  const inst = await h.engine.workflow("acme", "nre-empty").create();
  const s = await inst.waitFor();
  assert.equal(s.status, "errored");
  assert.deepEqual(s.error, { name: "NonRetryableError", message: "" });
  assert.deepEqual(rec.calls, ["plain", "empty"]);
  const d = await inst.describe();
  assert.deepEqual(d.steps.filter((x) => x.type === "step").map((x) => (x as { attempts: unknown[] }).attempts.length), [1, 1]);
});

// ---- 4. try/catch ----------------------------------------------------------------------------------

test("try/catch around a failed step lets the workflow continue and complete", LIMIT, async (t) => {
  const h = await open(t);
  const rec = recorder();
  await deploy(h.engine, "catch", wf(`
    let caught = null;
    try {
      await step.do("fails", { retries: { limit: 1, delay: "10 seconds" } }, async (ctx) => { await this.env.hit("fails"); throw new Error("bad " + ctx.attempt); });
    } catch (e) { caught = e.message; }
    const next = await step.do("next", async () => { await this.env.hit("next"); return "ok"; });
    return { caught, next };`), { env: rec.env });
  const inst = await h.engine.workflow("acme", "catch").create();
  await describeUntil(inst, "the retry to be scheduled", (d) => !!stepsOf(d, "fails")[0]?.retriesAt);
  h.clock.advance(10 * SECOND);
  const s = await inst.waitFor();
  assert.equal(s.status, "complete");
  assert.deepEqual(s.output, { caught: "bad 2", next: "ok" });
  assert.deepEqual(rec.calls, ["fails", "fails", "next"]);
});

// ---- 5. rollback -----------------------------------------------------------------------------------

const SAGA = (failing: boolean) => wf(`
  const rb = (name) => ({ rollback: async ({ output, error }) => { await this.env.hit({ rollback: name, output, error: error?.message ?? null }); } });
  const a = await step.do("a", async () => "out-a", rb("a"));
  const b = await step.do("b", async () => "out-b", rb("b"));
  const c = await step.do("c", async () => "out-c", rb("c"));
  ${failing ? `await step.do("d", async () => { throw new NonRetryableError("fail d"); });` : `await step.sleep("nap", "1 day");`}
  return [a, b, c];`);

test("on an uncaught failure, rollbacks of completed steps run newest first with their output and the error", LIMIT, async (t) => {
  const h = await open(t);
  const rec = recorder();
  await deploy(h.engine, "saga", SAGA(true), { env: rec.env });
  const inst = await h.engine.workflow("acme", "saga").create();
  const s = await inst.waitFor();
  assert.equal(s.status, "errored");
  assert.equal(s.error?.message, "fail d");
  await until(() => rec.calls.length >= 3, "three rollbacks");
  assert.deepEqual(rec.calls, [
    { rollback: "c", output: "out-c", error: "fail d" },
    { rollback: "b", output: "out-b", error: "fail d" },
    { rollback: "a", output: "out-a", error: "fail d" },
  ]);
});

test("terminate({ rollback: true }) runs the rollbacks; terminate() does not", LIMIT, async (t) => {
  const h = await open(t);
  const rec = recorder();
  await deploy(h.engine, "saga2", SAGA(false), { env: rec.env });
  const wfb = h.engine.workflow("acme", "saga2");

  const plain = await wfb.create({ id: "plain" });
  await plain.waitFor(["waiting"]);
  await plain.terminate();
  assert.equal((await plain.status()).status, "terminated");
  await settle();
  assert.deepEqual(rec.calls, [], "terminate() without rollback runs no handler");

  const rolled = await wfb.create({ id: "rolled" });
  await rolled.waitFor(["waiting"]);
  await rolled.terminate({ rollback: true });
  await until(() => rec.calls.length >= 3, "three rollbacks");
  assert.equal((await rolled.status()).status, "terminated");
  assert.deepEqual(rec.calls.map((c) => (c as { rollback: string; output: string }).rollback), ["c", "b", "a"]);
  assert.deepEqual(rec.calls.map((c) => (c as { output: string }).output), ["out-c", "out-b", "out-a"]);
  await settle();
  assert.equal(rec.calls.length, 3);
});

// ---- 6. sleep --------------------------------------------------------------------------------------

test("step.sleep: the instance waits, is not complete 1 ms early, and completes when the time is up", LIMIT, async (t) => {
  const h = await open(t);
  await deploy(h.engine, "sleep", wf(`
    const t0 = Date.now();
    await step.sleep("nap", "2 hours");
    return Date.now() - t0;`));
  const inst = await h.engine.workflow("acme", "sleep").create();
  await inst.waitFor(["waiting"]);
  h.clock.advance(2 * HOUR - 1);
  await settle();
  assert.equal((await inst.status()).status, "waiting");
  h.clock.advance(1);
  const s = await inst.waitFor();
  assert.equal(s.status, "complete");
  assert.equal(s.output, 2 * HOUR, "Date.now() in the workflow moves by the sleep");
});

test("step.sleepUntil with a Date wakes at that time", LIMIT, async (t) => {
  const h = await open(t);
  const until_ = h.clock.now() + 3 * HOUR;
  await deploy(h.engine, "sleep-until", wf(`
    await step.sleepUntil("alarm", new Date(event.payload.at));
    return Date.now();`));
  const inst = await h.engine.workflow("acme", "sleep-until").create({ params: { at: until_ } });
  await inst.waitFor(["waiting"]);
  h.clock.advanceTo(until_ - 1);
  await settle();
  assert.equal((await inst.status()).status, "waiting");
  h.clock.advanceTo(until_);
  const s = await inst.waitFor();
  assert.equal(s.status, "complete");
  assert.equal(s.output, until_);
});

test("an invalid sleep duration rejects with a precise, catchable error", LIMIT, async (t) => {
  const h = await open(t);
  await deploy(h.engine, "bad-sleep", wf(`
    try { await step.sleep("forever", "1 fortnight"); return "slept"; }
    catch (e) { return { name: e.name, code: e.code, message: e.message }; }`));
  const s = await (await h.engine.workflow("acme", "bad-sleep").create()).waitFor();
  assert.equal(s.status, "complete");
  const out = s.output as { code: string; message: string };
  assert.equal(out.code, "invalid_duration");
  assert.match(out.message, /"forever"/);
  assert.match(out.message, /"1 fortnight" is not a valid duration/);
});

// ---- 7. waitForEvent -------------------------------------------------------------------------------

const EVENT_WF = wf(`
  await step.sleep("first", "1 minute");
  const ev = await step.waitForEvent("approval", { type: "approved", timeout: "1 hour" });
  return { payload: ev.payload, type: ev.type, isDate: ev.timestamp instanceof Date, ts: ev.timestamp.getTime() };`);

test("waitForEvent: an event sent before the wait is buffered and delivered", LIMIT, async (t) => {
  const h = await open(t);
  await deploy(h.engine, "ev-before", EVENT_WF);
  const inst = await h.engine.workflow("acme", "ev-before").create();
  await inst.waitFor(["waiting"]);
  const sentAt = h.clock.now();
  await inst.sendEvent({ type: "approved", payload: { ok: 1 } });
  h.clock.advance(MINUTE);
  const s = await inst.waitFor();
  assert.equal(s.status, "complete");
  assert.deepEqual(s.output, { payload: { ok: 1 }, type: "approved", isDate: true, ts: sentAt });
});

test("waitForEvent: an event sent while waiting is delivered", LIMIT, async (t) => {
  const h = await open(t);
  await deploy(h.engine, "ev-during", EVENT_WF);
  const inst = await h.engine.workflow("acme", "ev-during").create();
  await inst.waitFor(["waiting"]);
  h.clock.advance(MINUTE);
  await describeUntil(inst, "the wait to start", (d) => d.status === "waiting" && d.steps.some((s) => s.type === "waitForEvent"));
  h.clock.advance(10 * MINUTE);
  const sentAt = h.clock.now();
  await inst.sendEvent({ type: "other", payload: "ignored" });
  await inst.sendEvent({ type: "approved", payload: [1, 2] });
  const s = await inst.waitFor();
  assert.equal(s.status, "complete");
  assert.deepEqual(s.output, { payload: [1, 2], type: "approved", isDate: true, ts: sentAt });
});

test("waitForEvent: a timeout throws a catchable WorkflowTimeoutError", LIMIT, async (t) => {
  const h = await open(t);
  await deploy(h.engine, "ev-timeout", wf(`
    try { await step.waitForEvent("approval", { type: "approved", timeout: "1 hour" }); return "got it"; }
    catch (e) { return { name: e.name, isError: e instanceof Error, message: e.message }; }`));
  const inst = await h.engine.workflow("acme", "ev-timeout").create();
  await inst.waitFor(["waiting"]);
  h.clock.advance(HOUR - 1);
  await settle();
  assert.equal((await inst.status()).status, "waiting");
  h.clock.advance(1);
  const s = await inst.waitFor();
  assert.equal(s.status, "complete");
  const out = s.output as { name: string; isError: boolean; message: string };
  assert.equal(out.name, "WorkflowTimeoutError");
  assert.equal(out.isError, true);
  assert.match(out.message, /approval/);
});

test("waitForEvent: an uncaught timeout fails the instance", LIMIT, async (t) => {
  const h = await open(t);
  await deploy(h.engine, "ev-timeout2", wf(`await step.waitForEvent("approval", { type: "approved", timeout: "1 hour" });`));
  const inst = await h.engine.workflow("acme", "ev-timeout2").create();
  await inst.waitFor(["waiting"]);
  h.clock.advance(HOUR);
  const s = await inst.waitFor();
  assert.equal(s.status, "errored");
  assert.equal(s.error?.name, "WorkflowTimeoutError");
});

test("waitForEvent: a type with a dot is rejected, inside the workflow and by sendEvent", LIMIT, async (t) => {
  const h = await open(t);
  await deploy(h.engine, "ev-type", wf(`
    try { await step.waitForEvent("w", { type: "a.b" }); return "waited"; }
    catch (e) { return { code: e.code, message: e.message }; }`));
  const inst = await h.engine.workflow("acme", "ev-type").create();
  const s = await inst.waitFor();
  assert.equal(s.status, "complete");
  const out = s.output as { code: string; message: string };
  assert.equal(out.code, "invalid_event_type");
  assert.match(out.message, /"a\.b"/);
  const other = await h.engine.workflow("acme", "ev-type").create();
  await assert.rejects(other.sendEvent({ type: "a.b", payload: 1 }), { code: "invalid_event_type" });
});

test("sendEvent to a complete instance throws invalid_state", LIMIT, async (t) => {
  const h = await open(t);
  await deploy(h.engine, "ev-done", wf(`return 1;`));
  const inst = await h.engine.workflow("acme", "ev-done").create();
  assert.equal((await inst.waitFor()).status, "complete");
  await assert.rejects(inst.sendEvent({ type: "x", payload: 1 }), { code: "invalid_state" });
});

// ---- 8. Promise.all --------------------------------------------------------------------------------

test("Promise.all over steps with one name: counts 1..n, distinct results, the same results on replay", LIMIT, async (t) => {
  const h = await open(t);
  const rec = recorder();
  const src = wf(`
    const rs = await Promise.all([1, 2, 3].map((i) => step.do("item", async (ctx) => {
      await this.env.hit({ i, count: ctx.step.count });
      return { i, count: ctx.step.count, r: Math.random() };
    })));
    await step.sleep("nap", "1 hour");
    return rs;`);
  await deploy(h.engine, "all", src, { env: rec.env });
  const inst = await h.engine.workflow("acme", "all").create({ id: "p1" });
  await inst.waitFor(["waiting"]);
  const cached = stepsOf(await inst.describe(), "item").map((s) => ({ count: s.count, output: s.output }));
  assert.deepEqual(cached.map((c) => c.count).sort(), [1, 2, 3]);

  await h.reopen();
  await deploy(h.engine, "all", src, { env: rec.env });
  h.clock.advance(HOUR);
  const s = await (await h.engine.workflow("acme", "all").get("p1")).waitFor();
  assert.equal(s.status, "complete");
  const out = s.output as { i: number; count: number; r: number }[];
  assert.deepEqual(out.map((o) => [o.i, o.count]), [[1, 1], [2, 2], [3, 3]]);
  assert.equal(new Set(out.map((o) => o.r)).size, 3, "distinct results");
  for (const o of out) assert.deepEqual(cached.find((c) => c.count === o.count)!.output, o, "replayed result equals the cached one");
  assert.equal(rec.calls.length, 3, "no body ran again");
});

// ---- 9. restart ------------------------------------------------------------------------------------

test("restart({ from }) keeps earlier results and re-runs from the named step; restart() re-runs all", LIMIT, async (t) => {
  const h = await open(t);
  const rec = recorder();
  let n = 0;
  await deploy(h.engine, "restart", wf(`
    const a = await step.do("a", async () => { await this.env.hit("a"); return Math.random(); });
    const b = await step.do("b", async () => { await this.env.hit("b"); return await this.env.next(); });
    const c = await step.do("c", async () => { await this.env.hit("c"); return b * 10; });
    return { a, b, c };`), { env: { ...rec.env, next: async () => ++n } });
  const inst = await h.engine.workflow("acme", "restart").create();
  const first = await inst.waitFor();
  assert.equal(first.status, "complete");
  const out1 = first.output as { a: number; b: number; c: number };
  assert.deepEqual([out1.b, out1.c], [1, 10]);

  await inst.restart({ from: { name: "b" } });
  const second = await inst.waitFor();
  assert.equal(second.status, "complete");
  const out2 = second.output as { a: number; b: number; c: number };
  assert.equal(out2.a, out1.a, "a's cached result is kept");
  assert.deepEqual([out2.b, out2.c], [2, 20], "b and c ran again");
  assert.deepEqual(rec.calls, ["a", "b", "c", "b", "c"]);

  await inst.restart();
  const third = await inst.waitFor();
  assert.equal(third.status, "complete");
  assert.deepEqual((third.output as { b: number }).b, 3);
  assert.deepEqual(rec.calls, ["a", "b", "c", "b", "c", "a", "b", "c"]);
});

// ---- 10. pause / resume ----------------------------------------------------------------------------

test("pause a sleeping instance: the sleep running out does not complete it; resume does", LIMIT, async (t) => {
  const h = await open(t);
  await deploy(h.engine, "pause", wf(`await step.sleep("nap", "1 hour"); return "woke";`));
  const inst = await h.engine.workflow("acme", "pause").create();
  await inst.waitFor(["waiting"]);
  await inst.pause();
  assert.equal((await inst.status()).status, "paused");
  h.clock.advance(2 * HOUR);
  await settle();
  assert.equal((await inst.status()).status, "paused");
  await inst.resume();
  const s = await inst.waitFor();
  assert.equal(s.status, "complete");
  assert.equal(s.output, "woke");
});

// ---- 11. non-determinism ---------------------------------------------------------------------------

test("a replay that takes a different path fails with a non-determinism error naming both steps", LIMIT, async (t) => {
  const h = await open(t);
  const src = wf(`
    const flag = await this.env.flag();
    if (flag) await step.do("charge card", async () => 1);
    else await step.do("send invoice", async () => 2);
    await step.sleep("nap", "1 hour");
    return "done";`);
  await deploy(h.engine, "nondet", src, { env: { flag: async () => true } });
  const inst = await h.engine.workflow("acme", "nondet").create({ id: "nd" });
  await inst.waitFor(["waiting"]);
  await h.reopen();
  await deploy(h.engine, "nondet", src, { env: { flag: async () => false } });
  h.clock.advance(HOUR);
  const s = await (await h.engine.workflow("acme", "nondet").get("nd")).waitFor();
  assert.equal(s.status, "errored");
  assert.match(s.error!.message, /Non-determinism/);
  assert.match(s.error!.message, /"send invoice"/);
  assert.match(s.error!.message, /"charge card"/);
});

// ---- 12. replay-stable Date.now() and Math.random() -----------------------------------------------

test("Date.now() and Math.random() outside steps give the same values on replay after a restart", LIMIT, async (t) => {
  const h = await open(t);
  const src = wf(`
    const t1 = Date.now(), r1 = Math.random();
    const s1 = await step.do("rec1", async () => ({ t: t1, r: r1 }));
    await step.sleep("nap1", "1 hour");
    const t2 = Date.now(), r2 = Math.random();
    const s2 = await step.do("rec2", async () => ({ t: t2, r: r2 }));
    await step.sleep("nap2", "1 hour");
    const t3 = Date.now(), r3 = Math.random();
    return { t1, r1, s1, t2, r2, s2, t3, r3 };`);
  await deploy(h.engine, "stable", src);
  const inst = await h.engine.workflow("acme", "stable").create({ id: "st" });
  await inst.waitFor(["waiting"]);
  await h.reopen();
  await deploy(h.engine, "stable", src);
  h.clock.advance(HOUR);
  let again = await h.engine.workflow("acme", "stable").get("st");
  await describeUntil(again, "the second sleep", (d) => d.status === "waiting" && d.steps.some((s) => s.type === "sleep" && s.name === "nap2"));
  await h.reopen();
  await deploy(h.engine, "stable", src);
  h.clock.advance(HOUR);
  again = await h.engine.workflow("acme", "stable").get("st");
  const s = await again.waitFor();
  assert.equal(s.status, "complete");
  const o = s.output as Record<string, number> & { s1: { t: number; r: number }; s2: { t: number; r: number } };
  assert.deepEqual({ t: o.t1, r: o.r1 }, o.s1, "values before the first sleep are the same on replay");
  assert.deepEqual({ t: o.t2, r: o.r2 }, o.s2, "values before the second sleep are the same on replay");
  assert.ok(o.t2 >= o.t1 + HOUR && o.t3 >= o.t2 + HOUR, "time moves with the sleeps");
  assert.notEqual(o.r1, o.r2);
  assert.notEqual(o.r2, o.r3);
});

// ---- 13. result limits -----------------------------------------------------------------------------

test("a step result over limits.stepResultBytes errors the instance, naming the step and the limit", LIMIT, async (t) => {
  const h = await open(t);
  const rec = recorder();
  await deploy(h.engine, "big", wf(`await step.do("make big", async () => { await this.env.hit(1); return "x".repeat(5000); });`),
    { env: rec.env, limits: { stepResultBytes: 1000 } });
  const s = await (await h.engine.workflow("acme", "big").create()).waitFor();
  assert.equal(s.status, "errored");
  assert.match(s.error!.message, /"make big"/);
  assert.match(s.error!.message, /1000 bytes/);
  assert.deepEqual(rec.calls, [1], "too large is not retried");
});

test("a step returning a function or a cycle errors the instance, naming the step and the problem", LIMIT, async (t) => {
  const h = await open(t);
  await deploy(h.engine, "fn", wf(`await step.do("returns fn", async () => ({ f: () => 1 }));`));
  await deploy(h.engine, "cyc", wf(`await step.do("returns cycle", async () => { const o = { a: 1 }; o.self = o; return o; });`));
  const fn = await (await h.engine.workflow("acme", "fn").create()).waitFor();
  assert.equal(fn.status, "errored");
  assert.match(fn.error!.message, /"returns fn"/);
  assert.match(fn.error!.message, /function/);
  const cyc = await (await h.engine.workflow("acme", "cyc").create()).waitFor();
  assert.equal(cyc.status, "errored");
  assert.match(cyc.error!.message, /"returns cycle"/);
  assert.match(cyc.error!.message, /cycle/);
});

// ---- 14. step limit --------------------------------------------------------------------------------

test("limits.steps: the step over the limit rejects with the limit in the message", LIMIT, async (t) => {
  const h = await open(t);
  const rec = recorder();
  await deploy(h.engine, "steps", wf(`
    for (let i = 1; i <= 3; i++) await step.do("s" + i, async () => { await this.env.hit(i); return i; });
    try { await step.do("s4", async () => { await this.env.hit(4); return 4; }); return "ran"; }
    catch (e) { return e.message; }`), { env: rec.env, limits: { steps: 3 } });
  const s = await (await h.engine.workflow("acme", "steps").create()).waitFor();
  assert.equal(s.status, "complete");
  assert.match(String(s.output), /limit of 3 steps/);
  assert.deepEqual(rec.calls, [1, 2, 3]);
});
