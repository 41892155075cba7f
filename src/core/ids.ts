// Validation of user-chosen names and ids (instances, workflows, tenants, steps, event types).
// Follows Cloudflare Workflows' rules so code written for Cloudflare behaves the same here.

import { ErrorCode, WeftError } from "./errors.ts";
import { describeValue } from "./values.ts";

export const ID_PATTERN = /^[a-zA-Z0-9_][a-zA-Z0-9-_]*$/;

// Names the first offending character so a long id does not have to be inspected by eye.
function whyNotId(value: string, limit: number): string {
  if (value.length === 0) return " (it is empty)";
  if (value.length > limit) return ` (it is ${value.length} characters long)`;
  if (value[0] === "-") return ` (it starts with "-")`;
  const bad = /[^a-zA-Z0-9_-]/.exec(value);
  if (bad) return ` (${JSON.stringify(bad[0])} at position ${bad.index + 1} is not allowed)`;
  return "";
}

function checkId(
  value: unknown,
  label: string,
  field: string,
  limit: number,
  code: ErrorCode,
  hint?: (v: string) => string,
): string {
  if (typeof value === "string" && value.length <= limit && ID_PATTERN.test(value)) return value;
  const details = { field, value, limit };
  if (typeof value !== "string") {
    throw new WeftError(code, `${label} must be a string, got ${describeValue(value)}`, details);
  }
  throw new WeftError(
    code,
    `${label} ${describeValue(value)} is invalid: it must match ${ID_PATTERN.source} and be at most ` +
      `${limit} characters${(hint && hint(value)) || whyNotId(value, limit)}`,
    details,
  );
}

export function validateInstanceId(id: unknown): string {
  return checkId(id, "instance id", "instanceId", 100, ErrorCode.InvalidName);
}

/**
 * Ids Cloudflare accepts where an id names an existing instance (deleteBatch): its cron-generated ids
 * have spaces, "*", "/", "," and "#" and are up to 271 characters (workers-sdk
 * packages/workflows-shared/src/lib/validators.ts, isValidAddressableWorkflowInstanceId). Weft never
 * creates such ids, so one that is not also a valid instance id names no instance here.
 */
const ADDRESSABLE_ID = /^[a-zA-Z0-9, */#_-]+$/;
const ADDRESSABLE_ID_LIMIT = 271;

export function isAddressableInstanceId(id: unknown): id is string {
  return typeof id === "string" && id.length > 0 && id.length <= ADDRESSABLE_ID_LIMIT && ADDRESSABLE_ID.test(id);
}

export function validateWorkflowName(name: unknown): string {
  return checkId(name, "workflow name", "workflowName", 64, ErrorCode.InvalidName);
}

export function validateTenantName(name: unknown): string {
  return checkId(name, "tenant name", "tenantName", 64, ErrorCode.InvalidName);
}

// Dotted types ("order.paid") are a common convention elsewhere, so say what to use instead.
function dotHint(value: string): string {
  if (!value.includes(".")) return "";
  return ` ("." is not allowed; use "_" or "-" instead, e.g. ${JSON.stringify(value.replace(/\./g, "_"))})`;
}

export function validateEventType(type: unknown): string {
  return checkId(type, "event type", "eventType", 100, ErrorCode.InvalidEventType, dotHint);
}

const STEP_NAME_LIMIT = 256;
const CONTROL_CHAR = /[\x00-\x1F]/;

/** `kind` is the API the name was given to, e.g. "step.do", used in the message. */
export function validateStepName(name: unknown, kind: string): string {
  const details = { field: "stepName", kind, value: name, limit: STEP_NAME_LIMIT };
  const rule = `${kind} name must be a non-empty string of at most ${STEP_NAME_LIMIT} characters without control characters`;
  if (typeof name !== "string") {
    throw new WeftError(ErrorCode.InvalidName, `${rule}, got ${describeValue(name)}`, details);
  }
  if (name.length === 0) {
    throw new WeftError(ErrorCode.InvalidName, `${rule}, got an empty string`, details);
  }
  if (name.length > STEP_NAME_LIMIT) {
    throw new WeftError(
      ErrorCode.InvalidName,
      `${rule}, got ${name.length} characters: ${describeValue(name)}`,
      details,
    );
  }
  const ctl = CONTROL_CHAR.exec(name);
  if (ctl) {
    const code = `\\x${ctl[0].charCodeAt(0).toString(16).padStart(2, "0").toUpperCase()}`;
    throw new WeftError(
      ErrorCode.InvalidName,
      `${rule}, got ${describeValue(name)} (control character ${code} at position ${ctl.index + 1})`,
      details,
    );
  }
  return name;
}
