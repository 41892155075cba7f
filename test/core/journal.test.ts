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
