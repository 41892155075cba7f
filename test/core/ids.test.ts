import { test } from "node:test";
import assert from "node:assert/strict";
import { ErrorCode, WeftError } from "../../src/core/errors.ts";
import {
  ID_PATTERN,
  validateEventType,
  validateInstanceId,
  validateStepName,
  validateTenantName,
  validateWorkflowName,
} from "../../src/core/ids.ts";

function rejects(fn: () => unknown, code: string, field: string, value: unknown, limit: number, ...snippets: string[]) {
  assert.throws(fn, (e: unknown) => {
    assert.ok(e instanceof WeftError);
    assert.equal(e.code, code);
    assert.equal(e.details.field, field);
    assert.equal(e.details.value, value);
    assert.equal(e.details.limit, limit);
    for (const s of snippets) assert.ok(e.message.includes(s), `${JSON.stringify(e.message)} should include ${s}`);
    return true;
  });
}

test("ID_PATTERN", () => {
  assert.ok(ID_PATTERN.test("abc-DEF_123"));
  assert.ok(ID_PATTERN.test("_x"));
  assert.ok(!ID_PATTERN.test("-x"));
  assert.ok(!ID_PATTERN.test("a.b"));
  assert.ok(!ID_PATTERN.test(""));
});

test("instance ids", () => {
  assert.equal(validateInstanceId("order-42_a"), "order-42_a");
  assert.equal(validateInstanceId("a".repeat(100)), "a".repeat(100));
  rejects(() => validateInstanceId("a b"), ErrorCode.InvalidName, "instanceId", "a b", 100,
    'instance id "a b" is invalid: it must match ^[a-zA-Z0-9_][a-zA-Z0-9-_]*$ and be at most 100 characters',
    '" " at position 2');
  rejects(() => validateInstanceId("a".repeat(101)), ErrorCode.InvalidName, "instanceId", "a".repeat(101), 100, "101 characters long");
  rejects(() => validateInstanceId(""), ErrorCode.InvalidName, "instanceId", "", 100, "empty");
  rejects(() => validateInstanceId("-a"), ErrorCode.InvalidName, "instanceId", "-a", 100, 'starts with "-"');
  rejects(() => validateInstanceId(42), ErrorCode.InvalidName, "instanceId", 42, 100, "instance id must be a string, got 42");
  rejects(() => validateInstanceId(undefined), ErrorCode.InvalidName, "instanceId", undefined, 100, "got undefined");
});

test("workflow and tenant names", () => {
  assert.equal(validateWorkflowName("my_workflow"), "my_workflow");
  assert.equal(validateTenantName("acme-1"), "acme-1");
  assert.equal(validateWorkflowName("w".repeat(64)), "w".repeat(64));
  rejects(() => validateWorkflowName("w".repeat(65)), ErrorCode.InvalidName, "workflowName", "w".repeat(65), 64, "workflow name", "at most 64");
  rejects(() => validateTenantName("acme/1"), ErrorCode.InvalidName, "tenantName", "acme/1", 64, 'tenant name "acme/1"', "at most 64");
});

test("event types", () => {
  assert.equal(validateEventType("order_paid"), "order_paid");
  rejects(() => validateEventType("order.paid"), ErrorCode.InvalidEventType, "eventType", "order.paid", 100,
    'event type "order.paid" is invalid', "at most 100", '"." is not allowed', '"order_paid"');
  rejects(() => validateEventType("x".repeat(101)), ErrorCode.InvalidEventType, "eventType", "x".repeat(101), 100);
  rejects(() => validateEventType(null), ErrorCode.InvalidEventType, "eventType", null, 100, "must be a string");
});

test("step names", () => {
  assert.equal(validateStepName("load user #1 (retry-safe) ✓", "step.do"), "load user #1 (retry-safe) ✓");
  assert.equal(validateStepName("s".repeat(256), "step.do"), "s".repeat(256));
  const check = (v: unknown, ...snippets: string[]) =>
    assert.throws(() => validateStepName(v, "step.sleep"), (e: unknown) => {
      assert.ok(e instanceof WeftError);
      assert.equal(e.code, ErrorCode.InvalidName);
      assert.deepEqual(e.details, { field: "stepName", kind: "step.sleep", value: v, limit: 256 });
      assert.ok(e.message.startsWith("step.sleep name must be"), e.message);
      assert.ok(e.message.includes("256"), e.message);
      for (const s of snippets) assert.ok(e.message.includes(s), e.message);
      return true;
    });
  check("", "empty string");
  check("s".repeat(257), "257 characters");
  check("a\nb", "\\x0A at position 2");
  check("\x00", "\\x00");
  check(7, "got 7");
});
