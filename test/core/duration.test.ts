import { test } from "node:test";
import assert from "node:assert/strict";
import { formatMs, parseDuration } from "../../src/core/duration.ts";
import { ErrorCode, WeftError } from "../../src/core/errors.ts";

const WHAT = 'step "wait a bit": sleep duration';

test("numbers are milliseconds", () => {
  assert.equal(parseDuration(0, WHAT), 0);
  assert.equal(parseDuration(-0, WHAT), 0);
  assert.ok(Object.is(parseDuration(-0, WHAT), 0));
  assert.equal(parseDuration(250, WHAT), 250);
  assert.equal(parseDuration(1.5, WHAT), 1.5);
});

test("unit strings", () => {
  const cases: Array<[string, number]> = [
    ["10 seconds", 10_000],
    ["1 second", 1_000],
    ["1.5 hours", 5_400_000],
    ["2 days", 172_800_000],
    ["1 minute", 60_000],
    ["3 minutes", 180_000],
    ["1 week", 604_800_000],
    ["2 weeks", 1_209_600_000],
    ["1 month", 2_592_000_000],
    ["1 year", 31_536_000_000],
    ["2 years", 63_072_000_000],
    ["250 ms", 250],
    ["1 millisecond", 1],
    ["20 milliseconds", 20],
    ["  5 SECONDS  ", 5_000],
    ["1 Hour", 3_600_000],
    ["0.5 seconds", 500],
    [".5 seconds", 500],
    ["1.1 seconds", 1_100],
    ["0 seconds", 0],
  ];
  for (const [input, ms] of cases) assert.equal(parseDuration(input, WHAT), ms, input);
});

function assertInvalid(value: unknown) {
  assert.throws(
    () => parseDuration(value, WHAT),
    (e: unknown) => {
      assert.ok(e instanceof WeftError);
      assert.equal(e.code, ErrorCode.InvalidDuration);
      assert.ok(e.message.startsWith(WHAT), e.message);
      assert.ok(e.message.includes('"10 seconds", "1.5 hours", "2 days" or a number of milliseconds'), e.message);
      assert.deepEqual(e.details, { what: WHAT, value });
      return true;
    },
    String(value),
  );
}

test("invalid durations are refused with the accepted format", () => {
  for (const v of [-1, NaN, Infinity, -Infinity, "tomorrow", "5", "1 fortnight", "", "-5 seconds", "1e3 seconds",
    "5 mss", "5 seconds later", {}, [], null, undefined, true, () => 1, 10n, "9".repeat(400) + " years"]) {
    assertInvalid(v);
  }
});

test("the message quotes the offending value", () => {
  assert.throws(() => parseDuration("tomorrow", WHAT), (e: WeftError) => e.message.includes('"tomorrow"'));
  assert.throws(() => parseDuration("5", WHAT), (e: WeftError) => e.message.includes('"5"') && e.message.includes("needs a unit"));
  assert.throws(() => parseDuration(-1, WHAT), (e: WeftError) => e.message.includes("-1") && e.message.includes("negative"));
});

test("formatMs", () => {
  assert.equal(formatMs(1000), "1 second");
  assert.equal(formatMs(2000), "2 seconds");
  assert.equal(formatMs(90_000), "1.5 minutes");
  assert.equal(formatMs(60_000), "1 minute");
  assert.equal(formatMs(3_600_000), "1 hour");
  assert.equal(formatMs(5_400_000), "1.5 hours");
  assert.equal(formatMs(86_400_000), "1 day");
  assert.equal(formatMs(172_800_000), "2 days");
  assert.equal(formatMs(250), "250 ms");
  assert.equal(formatMs(0), "0 ms");
  assert.equal(formatMs(1500), "1.5 seconds");
  assert.equal(formatMs(100_000), "1.67 minutes");
});
