// Step retry policy: the delay before the next attempt and whether a failed attempt is retried.
// Follows Cloudflare Workflows semantics: `limit` counts retries, so a step runs at most limit + 1 times.

export type Backoff = "constant" | "linear" | "exponential";

export interface RetryPolicy {
  limit: number;
  delayMs: number;
  backoff: Backoff;
}

// Exponential backoff with limit up to 10000 would overflow to Infinity; no timer can use that, and
// 365 days matches the longest step.sleep Cloudflare allows.
const MAX_DELAY_MS = 365 * 24 * 60 * 60 * 1000;

/** Delay before the next attempt, given how many attempts have failed so far (≥ 1). */
export function retryDelayMs(policy: RetryPolicy, failedAttempts: number): number {
  const n = Math.max(1, Math.floor(failedAttempts));
  let delay: number;
  switch (policy.backoff) {
    case "exponential":
      delay = policy.delayMs * 2 ** (n - 1);
      break;
    case "linear":
      delay = policy.delayMs * n;
      break;
    case "constant":
      delay = policy.delayMs;
      break;
  }
  return Math.min(delay, MAX_DELAY_MS);
}

export type RetryDecision = { retry: true; delayMs: number } | { retry: false; reason: "non_retryable" | "exhausted" };

/** `attempt` is the 1-based attempt that just failed. */
export function decideAfterFailure(
  policy: RetryPolicy,
  attempt: number,
  error: { nonRetryable?: boolean },
): RetryDecision {
  if (error.nonRetryable === true) return { retry: false, reason: "non_retryable" };
  // attempt 1 is the original run; attempts 2..limit+1 are the retries.
  if (attempt > policy.limit) return { retry: false, reason: "exhausted" };
  return { retry: true, delayMs: retryDelayMs(policy, attempt) };
}
