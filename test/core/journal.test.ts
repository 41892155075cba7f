// The journal's domain rules, without a store: what an attempt's end writes, which buffered events
// go to which waits, what a restart cuts, which writes may change a step.
import { test } from "node:test";
import assert from "node:assert/strict";
import { attemptEnded, cutByRestart, matchEvents, stepWritable } from "../../src/core/journal.ts";

const id = { key: "do:1:a", kind: "do" as const, seq: 1, name: "a", count: 1, startedAt: 100, config: { retries: 1 } };

test("a first attempt that succeeds: step complete, no attempt row, step_completed", () => {
  const r = attemptEnded(id, { attempt: 1, startedAt: 100, endedAt: 150 }, { kind: "succeeded", value: 7 });
  assert.deepEqual(r.step, { ...id, attempts: 1, state: "complete", value: 7, at: 150 });
  assert.deepEqual(r.ops.map((o) => o.op), ["history", "step"]);
  assert.deepEqual(r.outcome, { op: "history", type: "step_completed", at: 150, data: { key: "do:1:a", name: "a", output: undefined } });
});

test("a later attempt that succeeds keeps its attempt row; a redacted output is not in the history", () => {
  const r = attemptEnded(id, { attempt: 3, startedAt: 120, endedAt: 150 }, { kind: "succeeded", value: "secret", redacted: true });
  assert.deepEqual(r.ops.map((o) => o.op), ["history", "step", "attempt"]);
  assert.deepEqual(r.ops[2], { op: "attempt", key: "do:1:a", attempt: 3, startedAt: 120, endedAt: 150, success: true, error: null });
  assert.equal((r.ops[0] as { type: string }).type, "attempt_started");
  assert.equal((r.outcome as { data: { output: string } }).data.output, "[REDACTED]");
});

test("a retry: the step stays pending until its due time; a failure: final, with only the known error fields", () => {
  const error = { name: "Error", message: "boom", stack: "at x", extra: 1 } as never;
  const retry = attemptEnded(id, { attempt: 1, startedAt: 100, endedAt: 150 }, { kind: "retrying", error, delayMs: 1000 });
  assert.equal(retry.step.state, "pending");
  assert.equal(retry.step.dueAt, 1150);
  assert.equal(retry.outcome.op === "history" && retry.outcome.type, "attempt_errored");
  const failed = attemptEnded(id, { attempt: 2, startedAt: 1150, endedAt: 1200 }, { kind: "failed", error });
  assert.deepEqual(failed.step.error, { name: "Error", message: "boom", stack: "at x" });
  assert.equal(failed.step.state, "failed");
  assert.equal(failed.outcome.op === "history" && failed.outcome.type, "step_errored");
});

test("events go to waits of their type, oldest event to the earliest wait", () => {
  const waits = [{ key: "w2", seq: 5, eventType: "go" }, { key: "w1", seq: 2, eventType: "go" }, { key: "w3", seq: 7, eventType: "stop" }];
  const events = [{ id: 9, type: "go" }, { id: 4, type: "go" }, { id: 6, type: "other" }];
  assert.deepEqual(matchEvents(waits, events), [{ wait: "w1", event: 4 }, { wait: "w2", event: 9 }]);
  assert.deepEqual(matchEvents(waits, []), []);
});

test("restart cuts from the chosen step on and every rollback; finished steps are immutable", () => {
  assert.equal(cutByRestart({ seq: 3, kind: "do" }, 4), false);
  assert.equal(cutByRestart({ seq: 4, kind: "sleep" }, 4), true);
  assert.equal(cutByRestart({ seq: -1, kind: "rollback" }, 4), true);
  assert.equal(cutByRestart({ seq: 0, kind: "do" }, undefined), true);
  assert.equal(stepWritable(undefined), true);
  assert.equal(stepWritable({ state: "pending" }), true);
  assert.equal(stepWritable({ state: "complete" }), false);
  assert.equal(stepWritable({ state: "failed" }), false);
});

// workers-sdk packages/workflows-shared/src/lib/restart.ts (resolveGroupKeysToWipe): the step type
// defaults to "do"; issue 12, item 6.
test("restartTarget: a name without a type is the step.do, not a sleep or wait of that name; top-level before nested", async () => {
  const { restartTarget } = await import("../../src/core/journal.ts");
  const { nestedKey, stepKey } = await import("../../src/core/replay.ts");
  const e = (kind: "do" | "sleep" | "wait", name: string, count: number, seq: number, key = stepKey(kind, name, count)) => ({ key, kind, name, count, seq });
  const steps = [
    e("sleep", "x", 1, 1), e("do", "x", 1, 2), e("wait", "x", 1, 3), e("do", "x", 2, 4),
    e("do", "inner", 1, 5, nestedKey(stepKey("do", "outer", 1), "do", "inner", 1)), e("do", "outer", 1, 5),
    e("do", "both", 1, 6, nestedKey(stepKey("do", "outer2", 1), "do", "both", 1)), e("do", "both", 1, 7),
  ];
  assert.equal(restartTarget(steps, { name: "x" })?.seq, 2);
  assert.equal(restartTarget(steps, { name: "x", count: 2 })?.seq, 4);
  assert.equal(restartTarget(steps, { name: "x", type: "sleep" })?.seq, 1);
  assert.equal(restartTarget(steps, { name: "x", type: "waitForEvent" })?.seq, 3);
  assert.equal(restartTarget(steps, { name: "x", count: 3 }), undefined);
  assert.equal(restartTarget(steps, { name: "inner" })?.seq, 5, "a nested step restarts its top-level ancestor (same position)");
  assert.equal(restartTarget(steps, { name: "both" })?.seq, 7, "a top-level step of the name wins over a nested one");
  assert.equal(cutByRestart({ seq: 5, kind: "do" }, 5), true, "the ancestor and its nested steps are cut together");
});
