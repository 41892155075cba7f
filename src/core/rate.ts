// The token bucket of a tenant's creation quota: `rate` tokens a second up to `burst`, one token per
// instance created. Pure: the embedded engine keeps its buckets in memory, a shared store keeps one
// row per tenant and runs this same decision under the row's lock, so every node draws from one bucket.

export interface Bucket {
  tokens: number;
  /** when `tokens` was last brought up to date (engine time, ms) */
  at: number;
}

export interface Draw {
  /** the bucket after the draw (unchanged but refilled when refused) */
  bucket: Bucket;
  ok: boolean;
}

/** Take `n` tokens at `now`, all or nothing. A clock that went back (another node's) refills nothing. */
export function drawTokens(b: Bucket | undefined, n: number, now: number, rate: number, burst: number): Draw {
  const at = Math.max(now, b?.at ?? now);
  const tokens = b ? Math.min(burst, b.tokens + (Math.max(0, now - b.at) / 1000) * rate) : burst;
  if (tokens >= n) return { bucket: { tokens: tokens - n, at }, ok: true };
  return { bucket: { tokens, at }, ok: false };
}
