// Step identity and replay constants shared by the guest runtime and the host. Pure.
// A durable call is identified by its kind, its name and its occurrence of that (kind, name) in the
// run: the n-th `step.do("load")` is always the same journal entry, whatever happened before it.
//
// A call made inside a step body (a `step.do` nested in a `step.do`, the docs' way to race or group
// work) is identified by the step whose body made it, then its own kind, name and occurrence within
// that attempt of the body. Its key is the parent's key, NEST, then its own key; it takes the
// parent's position (seq) and is never checked against a position of its own: a body runs only
// live, at times that depend on I/O, so nested calls are name-keyed memoization, as in Cloudflare's
// engine (workers-sdk packages/workflows-shared/src/context.ts keys every step by name + count).
import { ErrorCode, WeftError } from "./errors.ts";
import { formatMs, parseDuration } from "./duration.ts";

export type EntryKind = "do" | "sleep" | "wait" | "rollback";

export const MAX_SLEEP_MS = 365 * 24 * 3600 * 1000;
export const DEFAULT_WAIT_MS = 24 * 3600 * 1000;

/** Between a parent step's key and a nested call's own key. Step names cannot hold control characters. */
export const NEST = "\u001f";

export function stepKey(kind: EntryKind, name: string, count: number): string {
  return `${kind}:${count}:${name}`;
}

/** The key of a call made inside the body of the step keyed `parentKey`. */
export function nestedKey(parentKey: string, kind: EntryKind, name: string, count: number): string {
  return parentKey + NEST + stepKey(kind, name, count);
}

/** Was this call made inside a step body? */
export function isNestedKey(key: string): boolean {
  return key.includes(NEST);
}

/**
 * The journal entry of a step's rollback handler: one per step (keyed by the step's own key, so the
 * handlers of nested steps, whose name and count repeat across parents, stay apart).
 */
export function rollbackKey(stepKeyOfStep: string): string {
  return `rollback:${stepKeyOfStep}`;
}

const LABEL: Record<EntryKind, string> = { do: "step.do", sleep: "step.sleep", wait: "step.waitForEvent", rollback: "rollback" };

export function describeEntry(kind: EntryKind, name: string, count: number): string {
  return `${LABEL[kind]} "${name}"${count > 1 ? ` (occurrence ${count})` : ""}`;
}

/**
 * The timeout of a waitForEvent in ms. Cloudflare's engine takes any duration it can parse (its own
 * tests wait 500 ms: workers-sdk packages/workflows-shared/tests/engine.test.ts, "waitForEvent should
 * not deliver events to timed-out events with the same type") and a missing, empty or zero timeout as
 * the 24-hour default (context.ts: `if (!options.timeout) options.timeout = "24 hours"`); the docs'
 * "1 second to 365 days" lower bound is not enforced there, so not here. Weft keeps the 365-day
 * ceiling of every timer and refuses what is not a duration.
 */
export function waitTimeoutMs(timeout: unknown, what: string): number {
  if (timeout === undefined || timeout === null || timeout === 0 || timeout === "") return DEFAULT_WAIT_MS;
  const ms = parseDuration(timeout, what);
  if (ms === 0) return DEFAULT_WAIT_MS;
  if (ms > MAX_SLEEP_MS) {
    throw new WeftError(ErrorCode.InvalidDuration, `${what} ${formatMs(ms)} is longer than the maximum of 365 days`, { what, value: timeout });
  }
  return ms;
}
