// Validation and defaults for the `step.do(name, config, fn)` config (Cloudflare Workflows shape).
// Strict on purpose: a misspelt key silently falling back to a default would change retry behaviour.
// As strict as Cloudflare's engine (workers-sdk packages/workflows-shared/src/lib/validators.ts,
// STEP_CONFIG_SCHEMA): a `retries` object must give both `limit` and `delay` (only `backoff` is
// optional; the types say the same: `retries?: { limit; delay; backoff? }`), so the docs' "a partial
// retries object is merged over the defaults" applies to the top-level keys only. Every refusal
// starts with the reference's text, then says precisely what is wrong.

import { ErrorCode, WeftError } from "./errors.ts";
import { parseDuration } from "./duration.ts";
import type { Backoff, RetryPolicy } from "./retry.ts";
import { describeValue } from "./values.ts";

export const DEFAULT_STEP_CONFIG = {
  retries: { limit: 5, delay: 10000, backoff: "exponential" },
  timeout: "10 minutes",
} as const;

/** What the user sees in ctx.config and in the instance detail. */
export interface StepConfigView {
  retries: { limit: number; delay: string | number; backoff: Backoff };
  timeout: string | number;
  sensitive?: "output";
}

export interface CompiledStepConfig {
  view: StepConfigView;
  retry: RetryPolicy;
  timeoutMs: number;
  sensitive: boolean;
}

const TOP_KEYS = ["retries", "timeout", "sensitive"] as const;
const RETRY_KEYS = ["limit", "delay", "backoff"] as const;
const BACKOFFS: readonly Backoff[] = ["constant", "linear", "exponential"];
const MAX_LIMIT = 10000;

/** Cloudflare's message for a step config it refuses (context.ts), kept first for code that matches on it. */
export function referenceConfigMessage(step: string): string {
  return `Step config for ${JSON.stringify(step)} is in a invalid format. See https://developers.cloudflare.com/workflows/build/sleeping-and-retrying/`;
}

function refuse(step: string, why: string, details: Record<string, unknown>): never {
  throw new WeftError(ErrorCode.InvalidStepConfig, `${referenceConfigMessage(step)} — step ${JSON.stringify(step)}: ${why}`, details);
}

function fail(step: string, field: string, value: unknown, rule: string): never {
  refuse(step, `${field} ${rule}, got ${describeValue(value)}`, { step, field, value });
}

function isPlainRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

function checkKeys(step: string, field: string, obj: Record<string, unknown>, allowed: readonly string[]): void {
  for (const key of Object.keys(obj)) {
    if (!allowed.includes(key)) {
      const where = field === "" ? key : `${field}.${key}`;
      refuse(step, `unknown config key "${where}"; allowed keys` +
        `${field === "" ? "" : ` in ${field}`} are ${allowed.map((k) => `"${k}"`).join(", ")}`, { step, field: where, value: obj[key] });
    }
  }
}

// Reports duration errors under the step-config code and field name, keeping parseDuration's
// explanation of the accepted format.
function duration(step: string, field: string, value: unknown): number {
  try {
    return parseDuration(value, `step ${JSON.stringify(step)}: ${field}`);
  } catch (e) {
    if (e instanceof WeftError && e.code === ErrorCode.InvalidDuration) {
      refuse(step, e.message.replace(`step ${JSON.stringify(step)}: `, ""), { step, field, value });
    }
    throw e;
  }
}

function compileRetries(step: string, retries: unknown): { view: StepConfigView["retries"]; policy: RetryPolicy } {
  const d = DEFAULT_STEP_CONFIG.retries;
  if (retries === undefined) {
    return {
      view: { limit: d.limit, delay: d.delay, backoff: d.backoff },
      policy: { limit: d.limit, delayMs: d.delay, backoff: d.backoff },
    };
  }
  if (!isPlainRecord(retries)) {
    fail(step, "retries", retries, "must be an object like { limit: 5, delay: \"10 seconds\", backoff: \"exponential\" }");
  }
  checkKeys(step, "retries", retries, RETRY_KEYS);
  for (const key of ["limit", "delay"] as const) {
    if (retries[key] === undefined) {
      refuse(step, `retries.${key} is required: a retries object gives both limit and delay (backoff is optional, default "exponential"), ` +
        `e.g. { limit: ${d.limit}, delay: "10 seconds" }; leave retries out for the defaults`, { step, field: `retries.${key}`, value: undefined });
    }
  }

  const limit = retries.limit;
  if (typeof limit !== "number" || !Number.isInteger(limit) || limit < 0 || limit > MAX_LIMIT) {
    fail(step, "retries.limit", limit, `must be an integer from 0 to ${MAX_LIMIT}`);
  }

  const delay = retries.delay;
  if (typeof delay === "function") {
    fail(step, "retries.delay", delay, "must be a duration string or a number of milliseconds; dynamic delay functions are not supported");
  }
  if (typeof delay !== "string" && typeof delay !== "number") {
    fail(step, "retries.delay", delay, `must be a duration like "10 seconds" or a number of milliseconds`);
  }
  const delayMs = duration(step, "retries.delay", delay);

  const backoff = retries.backoff === undefined ? d.backoff : retries.backoff;
  if (!BACKOFFS.includes(backoff as Backoff)) {
    fail(step, "retries.backoff", backoff, `must be one of ${BACKOFFS.map((b) => `"${b}"`).join(", ")}`);
  }
  const b = backoff as Backoff;
  return { view: { limit, delay, backoff: b }, policy: { limit, delayMs, backoff: b } };
}

/** Validates `config` (may be undefined) and merges it over DEFAULT_STEP_CONFIG. */
export function compileStepConfig(stepName: string, config: unknown): CompiledStepConfig {
  const step = stepName;
  if (config !== undefined && !isPlainRecord(config)) {
    fail(step, "config", config, "must be an object with optional keys \"retries\", \"timeout\", \"sensitive\"");
  }
  const c: Record<string, unknown> = config ?? {};
  checkKeys(step, "", c, TOP_KEYS);

  const { view: retriesView, policy } = compileRetries(step, c.retries);

  const timeout = c.timeout === undefined ? DEFAULT_STEP_CONFIG.timeout : c.timeout;
  if (typeof timeout !== "string" && typeof timeout !== "number") {
    fail(step, "timeout", timeout, `must be a duration like "10 minutes" or a number of milliseconds`);
  }
  const timeoutMs = duration(step, "timeout", timeout);
  if (timeoutMs <= 0) fail(step, "timeout", timeout, "must be greater than 0");

  if (c.sensitive !== undefined && c.sensitive !== "output") {
    fail(step, "sensitive", c.sensitive, `must be "output" (the only supported value) or omitted`);
  }
  const sensitive = c.sensitive === "output";

  const view: StepConfigView = { retries: retriesView, timeout };
  if (sensitive) view.sensitive = "output";
  return { view, retry: policy, timeoutMs, sensitive };
}
