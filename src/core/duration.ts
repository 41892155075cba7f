// Durations as users write them ("10 seconds", "1.5 hours", or milliseconds) and as messages show them.
// Calendar units are fixed lengths (month = 30 days, year = 365 days): durations are timer arithmetic, not dates.

import { ErrorCode, WeftError } from "./errors.ts";
import { describeValue } from "./values.ts";

const SECOND = 1000;
const MINUTE = 60 * SECOND;
const HOUR = 60 * MINUTE;
const DAY = 24 * HOUR;

const UNIT_MS: Record<string, number> = {
  ms: 1,
  millisecond: 1,
  second: SECOND,
  minute: MINUTE,
  hour: HOUR,
  day: DAY,
  week: 7 * DAY,
  month: 30 * DAY,
  year: 365 * DAY,
};

// Unit words take an optional plural "s"; "ms" is an abbreviation and does not.
const DURATION_RE = /^\s*((?:\d+(?:\.\d*)?|\.\d+))\s*(ms|(?:millisecond|second|minute|hour|day|week|month|year)s?)\s*$/i;

const ACCEPTED = `"10 seconds", "1.5 hours", "2 days" or a number of milliseconds`;

function invalid(what: string, value: unknown, why: string): never {
  throw new WeftError(
    ErrorCode.InvalidDuration,
    `${what} ${describeValue(value)} is not a valid duration${why}: expected ${ACCEPTED} ` +
      `(units: ms, second, minute, hour, day, week, month, year)`,
    { what, value },
  );
}

/**
 * Milliseconds for a duration given as a number of ms or a "<number> <unit>" string.
 * `what` names the setting in error messages, e.g. `step "wait a bit": sleep duration`.
 */
export function parseDuration(value: unknown, what: string): number {
  if (typeof value === "number") {
    if (Number.isNaN(value)) invalid(what, value, "");
    if (value < 0) invalid(what, value, " (it is negative)");
    if (!Number.isFinite(value) || value > Number.MAX_SAFE_INTEGER) invalid(what, value, " (it is too large)");
    return value === 0 ? 0 : value; // normalises -0
  }
  if (typeof value !== "string") invalid(what, value, "");
  const m = DURATION_RE.exec(value);
  if (!m) {
    const why = /^\s*[\d.]+\s*$/.test(value) ? " (a string needs a unit)" : "";
    invalid(what, value, why);
  }
  const unit = m[2].toLowerCase();
  const base = unit === "ms" ? unit : unit.replace(/s$/, "");
  // Round so "1.1 seconds" is 1100, not 1100.0000000000002: timers work in whole milliseconds.
  const ms = Math.round(Number(m[1]) * UNIT_MS[base]);
  if (!Number.isSafeInteger(ms)) invalid(what, value, " (it is too large)");
  return ms;
}

const FORMAT_UNITS: ReadonlyArray<[number, string]> = [
  [DAY, "day"],
  [HOUR, "hour"],
  [MINUTE, "minute"],
  [SECOND, "second"],
];

/** Human form for messages: 1000 -> "1 second", 90000 -> "1.5 minutes", 250 -> "250 ms". */
export function formatMs(ms: number): string {
  if (!Number.isFinite(ms)) return `${ms} ms`;
  const abs = Math.abs(ms);
  for (const [size, name] of FORMAT_UNITS) {
    if (abs >= size) {
      const n = Math.round((ms / size) * 100) / 100;
      return `${n} ${n === 1 ? name : `${name}s`}`;
    }
  }
  return `${Math.round(ms * 100) / 100} ms`;
}
