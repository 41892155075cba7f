import { test } from "node:test";
import assert from "node:assert/strict";
import { ErrorCode, WeftError } from "../../src/core/errors.ts";
import { compileStepConfig, DEFAULT_STEP_CONFIG } from "../../src/core/step-config.ts";

test("undefined config gives the defaults", () => {
  const c = compileStepConfig("s", undefined);
  assert.deepEqual(c, {
    view: { retries: { limit: 5, delay: 10000, backoff: "exponential" }, timeout: "10 minutes" },
    retry: { limit: 5, delayMs: 10_000, backoff: "exponential" },
    timeoutMs: 600_000,
    sensitive: false,
  });
  assert.deepEqual(compileStepConfig("s", {}), c);
  assert.deepEqual(DEFAULT_STEP_CONFIG.retries, { limit: 5, delay: 10000, backoff: "exponential" });
});

test("top-level keys merge over the defaults; view keeps what the user wrote", () => {
  const c = compileStepConfig("s", { retries: { limit: 5, delay: "30 seconds" }, timeout: 5000 });
  assert.deepEqual(c.view, { retries: { limit: 5, delay: "30 seconds", backoff: "exponential" }, timeout: 5000 });
  assert.deepEqual(c.retry, { limit: 5, delayMs: 30_000, backoff: "exponential" });
  assert.equal(c.timeoutMs, 5000);

  const d = compileStepConfig("s", { retries: { limit: 0, delay: 10000, backoff: "linear" }, timeout: "1.5 hours", sensitive: "output" });
  assert.deepEqual(d.view, { retries: { limit: 0, delay: 10000, backoff: "linear" }, timeout: "1.5 hours", sensitive: "output" });
  assert.deepEqual(d.retry, { limit: 0, delayMs: 10_000, backoff: "linear" });
  assert.equal(d.timeoutMs, 5_400_000);
  assert.equal(d.sensitive, true);
});

test("keys explicitly set to undefined count as absent", () => {
  assert.deepEqual(compileStepConfig("s", { retries: undefined, timeout: undefined }), compileStepConfig("s", undefined));
});

test("limits", () => {
  assert.equal(compileStepConfig("s", { retries: { limit: 10000, delay: 1 } }).retry.limit, 10000);
  assert.equal(compileStepConfig("s", { retries: { limit: 1, delay: 0 } }).retry.delayMs, 0);
});

// workers-sdk packages/workflows-shared/src/lib/validators.ts: STEP_CONFIG_SCHEMA's retries object
// has `delay` and `limit` required (only `backoff` optional), and context.ts refuses a config that
// fails it with 'Step config for "<name>" is in a invalid format. See https://…/sleeping-and-retrying/'
test("a retries object without limit or delay is refused with the reference's message (issue 12, item 10)", () => {
  for (const [retries, field] of [[{ delay: "30 seconds" }, "retries.limit"], [{ limit: 3 }, "retries.delay"], [{ backoff: "linear" }, "retries.limit"], [{}, "retries.limit"], [{ limit: 3, delay: undefined }, "retries.delay"]] as const) {
    assert.throws(() => compileStepConfig("load user", { retries }), (e: unknown) => {
      assert.ok(e instanceof WeftError);
      assert.equal(e.code, ErrorCode.InvalidStepConfig);
      assert.ok(e.message.startsWith('Step config for "load user" is in a invalid format. See https://developers.cloudflare.com/workflows/build/sleeping-and-retrying/'), e.message);
      assert.ok(e.message.includes(`${field} is required`), e.message);
      assert.equal(e.details.field, field);
      return true;
    }, JSON.stringify(retries));
  }
  assert.equal(compileStepConfig("s", { retries: { limit: 3, delay: "1 second" } }).view.retries.backoff, "exponential", "backoff stays optional");
});

function rejects(config: unknown, field: string, value: unknown, ...snippets: string[]) {
  assert.throws(() => compileStepConfig("load user", config), (e: unknown) => {
    assert.ok(e instanceof WeftError);
    assert.equal(e.code, ErrorCode.InvalidStepConfig);
    assert.deepEqual(e.details, { step: "load user", field, value });
    assert.ok(e.message.startsWith('Step config for "load user" is in a invalid format. See https://developers.cloudflare.com/workflows/build/sleeping-and-retrying/ — step "load user": '), e.message);
    for (const s of snippets) assert.ok(e.message.includes(s), `${JSON.stringify(e.message)} should include ${s}`);
    return true;
  });
}

test("retries.limit", () => {
  assert.throws(() => compileStepConfig("load user", { retries: { limit: -1, delay: 1 } }), {
    message: 'Step config for "load user" is in a invalid format. See https://developers.cloudflare.com/workflows/build/sleeping-and-retrying/ — step "load user": retries.limit must be an integer from 0 to 10000, got -1',
  });
  rejects({ retries: { limit: -1, delay: 1 } }, "retries.limit", -1, "0 to 10000");
  rejects({ retries: { limit: 10001, delay: 1 } }, "retries.limit", 10001, "0 to 10000");
  rejects({ retries: { limit: Infinity, delay: 1 } }, "retries.limit", Infinity, "0 to 10000", "Infinity");
  rejects({ retries: { limit: 1.5, delay: 1 } }, "retries.limit", 1.5, "integer");
  rejects({ retries: { limit: "3", delay: 1 } }, "retries.limit", "3", "integer");
});

test("retries.delay", () => {
  const fn = () => 1000;
  rejects({ retries: { limit: 1, delay: fn } }, "retries.delay", fn, "dynamic delay functions are not supported");
  rejects({ retries: { limit: 1, delay: -5 } }, "retries.delay", -5, "retries.delay", "negative");
  rejects({ retries: { limit: 1, delay: "soon" } }, "retries.delay", "soon", '"soon"', '"10 seconds"');
  rejects({ retries: { limit: 1, delay: {} } }, "retries.delay", {}, "retries.delay");
});

test("retries.backoff and retries shape", () => {
  rejects({ retries: { limit: 1, delay: 1, backoff: "fibonacci" } }, "retries.backoff", "fibonacci", '"constant", "linear", "exponential"', '"fibonacci"');
  rejects({ retries: 3 }, "retries", 3, "must be an object");
  rejects({ retries: null }, "retries", null, "must be an object");
  rejects({ retries: { limit: 1, jitter: true } }, "retries.jitter", true, 'unknown config key "retries.jitter"', '"limit", "delay", "backoff"');
});

test("timeout", () => {
  rejects({ timeout: 0 }, "timeout", 0, "greater than 0");
  rejects({ timeout: "0 seconds" }, "timeout", "0 seconds", "greater than 0");
  rejects({ timeout: "forever" }, "timeout", "forever", "timeout", '"forever"');
  rejects({ timeout: true }, "timeout", true, "timeout");
});

test("sensitive and unknown keys", () => {
  rejects({ sensitive: true }, "sensitive", true, '"output"');
  rejects({ sensitive: "input" }, "sensitive", "input", '"output"');
  rejects({ retry: { limit: 1 } }, "retry", { limit: 1 }, 'unknown config key "retry"', '"retries", "timeout", "sensitive"');
  rejects(null, "config", null, "must be an object");
  rejects("fast", "config", "fast", "must be an object");
  rejects([], "config", [], "must be an object");
});
