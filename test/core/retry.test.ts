import { test } from "node:test";
import assert from "node:assert/strict";
import { decideAfterFailure, retryDelayMs, type RetryPolicy } from "../../src/core/retry.ts";

const policy = (backoff: RetryPolicy["backoff"], limit = 5, delayMs = 10_000): RetryPolicy => ({ limit, delayMs, backoff });

test("delays for attempts 1..5 with the 10 s default", () => {
  const delays = (p: RetryPolicy) => [1, 2, 3, 4, 5].map((n) => retryDelayMs(p, n));
  assert.deepEqual(delays(policy("exponential")), [10_000, 20_000, 40_000, 80_000, 160_000]);
  assert.deepEqual(delays(policy("linear")), [10_000, 20_000, 30_000, 40_000, 50_000]);
  assert.deepEqual(delays(policy("constant")), [10_000, 10_000, 10_000, 10_000, 10_000]);
});

test("zero delay stays zero", () => {
  assert.equal(retryDelayMs(policy("exponential", 5, 0), 4), 0);
});

test("huge exponential delays are capped at 365 days instead of overflowing", () => {
  const d = retryDelayMs(policy("exponential", 10_000), 10_000);
  assert.equal(d, 365 * 86_400_000);
});

test("limit counts retries: limit + 1 attempts in total", () => {
  const p = policy("exponential", 3);
  assert.deepEqual(decideAfterFailure(p, 1, {}), { retry: true, delayMs: 10_000 });
  assert.deepEqual(decideAfterFailure(p, 2, {}), { retry: true, delayMs: 20_000 });
  assert.deepEqual(decideAfterFailure(p, 3, {}), { retry: true, delayMs: 40_000 });
  assert.deepEqual(decideAfterFailure(p, 4, {}), { retry: false, reason: "exhausted" });
});

test("limit 0 never retries", () => {
  assert.deepEqual(decideAfterFailure(policy("constant", 0), 1, {}), { retry: false, reason: "exhausted" });
});

test("non-retryable errors stop immediately", () => {
  assert.deepEqual(decideAfterFailure(policy("constant"), 1, { nonRetryable: true }), { retry: false, reason: "non_retryable" });
  assert.deepEqual(decideAfterFailure(policy("constant"), 1, { nonRetryable: false }), { retry: true, delayMs: 10_000 });
});
