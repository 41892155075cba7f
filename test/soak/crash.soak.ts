// Soak: the crash test of test/crash at a larger size — 1,000 instances and 60 SIGKILLs — for
// `npm run test:soak` (too slow for `npm test`). Same child, same exactly-once checks.
import { spawnSync } from "node:child_process";
import { test } from "node:test";
import assert from "node:assert/strict";
import { fileURLToPath } from "node:url";

test("crash loop at soak size: 1,000 instances, 60 kills, every result exactly once", { timeout: 30 * 60_000 }, () => {
  const file = fileURLToPath(new URL("../crash/crash.test.ts", import.meta.url));
  const env: Record<string, string | undefined> = { ...process.env };
  delete env.NODE_TEST_CONTEXT; // run the inner file as a test run of its own, not as our child
  const r = spawnSync(process.execPath, ["--test", file], {
    env: { ...env, WEFT_CRASH_INSTANCES: "1000", WEFT_CRASH_EARLY_KILLS: "15", WEFT_CRASH_LATE_KILLS: "45", WEFT_CRASH_TIMEOUT_MS: "1700000", WEFT_CRASH_FINAL_MS: "600000" },
    encoding: "utf8",
    stdio: ["ignore", "pipe", "pipe"],
  });
  assert.equal(r.status, 0, `${r.stdout}\n${r.stderr}`);
  assert.match(r.stdout, /ℹ pass 1\b/, r.stdout);
  assert.match(r.stdout, /ℹ fail 0\b/, r.stdout);
});
