// Replay decisions of the guest state machine, driven directly in Node (no isolate, no store):
// journaled results answer without running bodies, a different path at the same position is a
// non-determinism failure naming both steps, and identity is taken before the first await.
import { test } from "node:test";
import assert from "node:assert/strict";
import { WorkflowRun } from "../../src/sandbox/guest/workflow.ts";
import { GuestClock, GuestRandom } from "../../src/sandbox/guest/determinism.ts";
import { stepKey } from "../../src/core/replay.ts";
import type { Command, HistoryEntry, InitJob } from "../../src/sandbox/protocol.ts";

function harness(history: HistoryEntry[]) {
  const commands: Command[] = [];
  const init: InitJob = {
    t: "init", className: "X", instanceId: "i", workflowName: "w", payload: {}, timestamp: 1000, now: 5000, seed: 7,
    history, mode: "run", stepLimit: 100, pendingLimit: 2000, env: {},
  };
  const clock = new GuestClock(1000);
  const rnd = new GuestRandom(7);
  const run = new WorkflowRun(init, commands, clock, rnd);
  return { run, commands, clock, rnd };
}

const done = (name: string, seq: number, value: unknown, at = 2000): HistoryEntry => ({
  key: stepKey("do", name, 1), kind: "do", seq, name, count: 1, state: "complete", value, at, startedAt: at - 10, attempts: 1,
});

test("journaled steps answer from the history without running their bodies", async () => {
  const { run, commands, clock } = harness([done("a", 1, 41, 3000)]);
  let ran = 0;
  const v = await run.step.do("a", async () => {
    ran++;
    return 0;
  });
  assert.equal(v, 41);
  assert.equal(ran, 0);
  assert.equal(clock.now(), 3000, "the clock moves to the journaled commit time");
  assert.equal(commands.filter((c) => c.t === "call").length, 0);
});

test("a new step runs attempt 1 at once and reports its result", async () => {
  const { run, commands } = harness([]);
  void run.step.do("b", async (ctx: unknown) => (ctx as { attempt: number }).attempt * 10);
  await new Promise((r) => setImmediate(r));
  const call = commands.find((c) => c.t === "call");
  assert.deepEqual(call && call.t === "call" ? [call.key, call.seq, call.started] : [], [stepKey("do", "b", 1), 1, true]);
  const doneCmd = commands.find((c) => c.t === "attemptDone");
  assert.deepEqual(doneCmd && doneCmd.t === "attemptDone" ? [doneCmd.attempt, doneCmd.value] : [], [1, 10]);
});

test("identity is name + occurrence, taken synchronously: Promise.all gives counts 1..n", async () => {
  const { run, commands } = harness([]);
  void Promise.all([run.step.do("p", async () => 1), run.step.do("p", async () => 2), run.step.do("q", async () => 3)]);
  const keys = commands.filter((c) => c.t === "call").map((c) => (c.t === "call" ? `${c.key}@${c.seq}` : ""));
  assert.deepEqual(keys, [`${stepKey("do", "p", 1)}@1`, `${stepKey("do", "p", 2)}@2`, `${stepKey("do", "q", 1)}@3`]);
});

test("a replay that reaches another step at a journaled position fails naming both", async () => {
  const { run, commands } = harness([done("charge card", 1, "ok")]);
  const p = run.step.do("send email", async () => "x");
  const fail = commands.find((c) => c.t === "fail");
  assert.ok(fail && fail.t === "fail");
  assert.match(fail.error.message, /Non-determinism/);
  assert.match(fail.error.message, /"send email"/);
  assert.match(fail.error.message, /"charge card"/);
  // the workflow cannot swallow it: the step promise never settles and later calls are ignored
  let settled = false;
  p.then(() => (settled = true), () => (settled = true));
  await new Promise((r) => setImmediate(r));
  assert.equal(settled, false);
  const before = commands.length;
  void run.step.do("later", async () => 1);
  assert.equal(commands.length, before);
});

test("a journaled failure rethrows with name, message and NonRetryable flag", async () => {
  const { run } = harness([{ ...done("x", 1, undefined), state: "failed", error: { name: "NonRetryableError", message: "card declined", nonRetryable: true } }]);
  await assert.rejects(run.step.do("x", async () => 1), (e: Error) => e.name === "NonRetryableError" && e.message === "card declined");
});

test("the random stream after a resolved step depends only on the seed and the steps resolved", async () => {
  const a = harness([done("s", 1, 1)]);
  const b = harness([done("s", 1, 1)]);
  const c = harness([done("t", 1, 1)]);
  await a.run.step.do("s", async () => 0);
  await b.run.step.do("s", async () => 0);
  await c.run.step.do("t", async () => 0);
  const draw = (h: ReturnType<typeof harness>) => [h.rnd.next(), h.rnd.next()];
  const [x, y, z] = [draw(a), draw(b), draw(c)];
  assert.deepEqual(x, y, "two replays of the same journal draw the same numbers");
  assert.notDeepEqual(x, z, "another resolved step gives another stream");
});

test("invalid step config is refused before any identity is taken", async () => {
  const { run, commands } = harness([]);
  await assert.rejects(run.step.do("z", { retries: { limit: -1, delay: 1 } }, async () => 1), /retries\.limit/);
  await assert.rejects(run.step.sleep("nap", "1 fortnight"), /1 fortnight/);
  await assert.rejects(run.step.waitForEvent("w", { type: "a.b" }), /a\.b/);
  assert.equal(commands.length, 0);
});

// ---- issue 12: nested steps, ctx.config, waitForEvent timeouts --------------------------------------

test("waitTimeoutMs: any duration up to 365 days; none, empty or zero is the 24-hour default (workers-sdk context.ts)", async () => {
  const { waitTimeoutMs, DEFAULT_WAIT_MS } = await import("../../src/core/replay.ts");
  assert.equal(waitTimeoutMs(500, "t"), 500);
  assert.equal(waitTimeoutMs("750 ms", "t"), 750);
  assert.equal(waitTimeoutMs("1 hour", "t"), 3_600_000);
  for (const none of [undefined, null, 0, "", "0 seconds"]) assert.equal(waitTimeoutMs(none, "t"), DEFAULT_WAIT_MS, String(none));
  assert.throws(() => waitTimeoutMs("366 days", "t"), { code: "invalid_duration" });
  assert.throws(() => waitTimeoutMs(-1, "t"), { code: "invalid_duration" });
  assert.throws(() => waitTimeoutMs("soon", "t"), { code: "invalid_duration" });
});

test("a step.do inside a step body is keyed under its parent, shares its position, and is not position-checked", async () => {
  const { nestedKey } = await import("../../src/core/replay.ts");
  const { run, commands } = harness([]);
  let release!: () => void;
  const later = new Promise<void>((r) => (release = r));
  void run.step.do("outer", async () => {
    const a = run.step.do("inner", async () => 1); // synchronous part of the body
    await later;
    const b = run.step.do("inner", async () => 2); // after an await: found through the async stack
    return [await a, await b];
  });
  void run.step.do("next", async () => 3);
  release();
  await new Promise((r) => setImmediate(r));
  const calls = commands.filter((c) => c.t === "call").map((c) => (c.t === "call" ? [c.key, c.seq] : []));
  const outer = stepKey("do", "outer", 1);
  assert.deepEqual(calls, [[outer, 1], [nestedKey(outer, "do", "inner", 1), 1], [stepKey("do", "next", 1), 2], [nestedKey(outer, "do", "inner", 2), 1]]);
});

test("a replay that answers the parent from the journal makes no nested call and takes the same positions", async () => {
  const { nestedKey } = await import("../../src/core/replay.ts");
  const outer = stepKey("do", "outer", 1);
  const inner: HistoryEntry = { ...done("inner", 1, 5), key: nestedKey(outer, "do", "inner", 1) };
  const { run, commands } = harness([done("outer", 1, 5), inner, done("after", 2, 6)]);
  let ran = 0;
  const v = await run.step.do("outer", async () => { ran++; return run.step.do("inner", async () => 0); });
  const w = await run.step.do("after", async () => 0);
  assert.deepEqual([v, w, ran], [5, 6, 0]);
  assert.equal(commands.filter((c) => c.t === "fail").length, 0, "no non-determinism error");
});

test("the body's ctx.config is a copy: changing it changes neither the next attempt's nor the journaled config", async () => {
  const { run, commands } = harness([]);
  const seen: unknown[] = [];
  void run.step.do("s", { retries: { limit: 2, delay: 1 } }, async (ctx: any) => {
    seen.push(structuredClone(ctx.config));
    ctx.config.retries.limit = 100;
    throw new Error("x");
  });
  await new Promise((r) => setImmediate(r));
  run.runAttempt(stepKey("do", "s", 1), 2);
  await new Promise((r) => setImmediate(r));
  const call = commands.find((c) => c.t === "call");
  assert.equal(call && call.t === "call" ? call.config?.retries.limit : -1, 2);
  assert.deepEqual(seen.map((c: any) => c.retries.limit), [2, 2]);
});

test("a nested step that completed in this run answers its parent's next attempt without a new call", async () => {
  const { nestedKey } = await import("../../src/core/replay.ts");
  const { run, commands } = harness([]);
  let ran = 0;
  const outer = stepKey("do", "outer", 1);
  const inner = nestedKey(outer, "do", "inner", 1);
  void run.step.do("outer", async (ctx: any) => {
    const v = await run.step.do("inner", async () => { ran++; return 7; });
    if (ctx.attempt === 1) throw new Error("again");
    return v;
  }).catch(() => undefined);
  await new Promise((r) => setImmediate(r));
  run.resolve(inner, 2000, 7, undefined); // the host committed inner
  await new Promise((r) => setImmediate(r));
  run.runAttempt(outer, 2);
  await new Promise((r) => setImmediate(r));
  assert.equal(ran, 1);
  assert.equal(commands.filter((c) => c.t === "call" && c.key === inner).length, 1, "inner was called once");
  const done2 = commands.filter((c) => c.t === "attemptDone" && c.key === outer).map((c) => (c.t === "attemptDone" ? [c.attempt, c.value ?? c.error?.message] : []));
  assert.deepEqual(done2, [[1, "again"], [2, 7]]);
});
