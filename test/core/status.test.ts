import { test } from "node:test";
import assert from "node:assert/strict";
import { ErrorCode, WeftError } from "../../src/core/errors.ts";
import { checkAction, INSTANCE_STATUSES, isFinished, type InstanceAction, type InstanceStatus } from "../../src/core/status.ts";

test("isFinished", () => {
  const finished = INSTANCE_STATUSES.filter(isFinished);
  assert.deepEqual([...finished].sort(), ["complete", "errored", "terminated"]);
});

function allowed(action: InstanceAction): InstanceStatus[] {
  return INSTANCE_STATUSES.filter((s) => {
    try {
      checkAction(action, s, "x");
      return true;
    } catch (e) {
      assert.ok(e instanceof WeftError);
      assert.equal(e.code, ErrorCode.InvalidState);
      assert.deepEqual(e.details, { instanceId: "x", status: s, action });
      assert.ok(e.message.includes('instance "x"'), e.message);
      return false;
    }
  });
}

test("allowed statuses per action", () => {
  assert.deepEqual(allowed("pause"), ["queued", "running", "waiting"]);
  assert.deepEqual(allowed("resume"), ["paused", "waitingForPause"]);
  assert.deepEqual(allowed("terminate"), ["queued", "running", "paused", "waiting", "waitingForPause", "unknown"]);
  assert.deepEqual(allowed("sendEvent"), ["queued", "running", "paused", "waiting", "waitingForPause", "unknown"]);
  assert.deepEqual(allowed("restart"), [...INSTANCE_STATUSES]);
  assert.deepEqual(allowed("delete"), [...INSTANCE_STATUSES]);
});

test("messages", () => {
  assert.throws(() => checkAction("sendEvent", "complete", "x"), {
    message: 'instance "x" is complete; events can only be sent to instances that have not finished',
  });
  assert.throws(() => checkAction("pause", "paused", "x"), /already paused/);
  assert.throws(() => checkAction("pause", "waitingForPause", "x"), /already pausing/);
  assert.throws(() => checkAction("resume", "running", "x"), /is running; only paused/);
  assert.throws(() => checkAction("terminate", "errored", "x"), /is errored;/);
});

// workers-sdk packages/workflows-shared/src/binding.ts, status(): `output: workflowOutput ?? null`
// (issue 12, item 8).
test("statusView: output is null until complete, and null for a complete run() that returned nothing", async () => {
  const { statusView } = await import("../../src/core/status.ts");
  assert.deepEqual(statusView({ status: "running" }), { status: "running", output: null });
  assert.deepEqual(statusView({ status: "queued", output: undefined }), { status: "queued", output: null });
  assert.deepEqual(statusView({ status: "errored", error: { name: "Error", message: "x", stack: "s" } as never }), { status: "errored", error: { name: "Error", message: "x" }, output: null });
  assert.deepEqual(statusView({ status: "complete", output: { a: 1 } }), { status: "complete", output: { a: 1 } });
  assert.deepEqual(statusView({ status: "complete" }), { status: "complete", output: null });
  assert.deepEqual(statusView({ status: "complete", output: 0 }), { status: "complete", output: 0 });
});
