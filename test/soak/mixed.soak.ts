// Soak: the mixed kill -9 loop of test/crash/mixed.test.ts (deletes, restarts, pause/resume and
// events racing step bodies) at a larger size — 150 instances, 30 SIGKILLs — three seeds, for
// `npm run test:soak`. WEFT_MIXED_SEED=N node --test test/crash/mixed.test.ts replays one.
import { spawnSync } from "node:child_process";
import { test } from "node:test";
import assert from "node:assert/strict";
import { fileURLToPath } from "node:url";

for (let round = 1; round <= 3; round++) {
  test(`mixed kill loop at soak size, round ${round}: 150 instances, 30 kills`, { timeout: 15 * 60_000 }, () => {
    const file = fileURLToPath(new URL("../crash/mixed.test.ts", import.meta.url));
    const env: Record<string, string | undefined> = { ...process.env };
    delete env.NODE_TEST_CONTEXT; // run the inner file as a test run of its own, not as our child
    const r = spawnSync(process.execPath, ["--test", file], {
      env: { ...env, WEFT_MIXED_INSTANCES: "150", WEFT_MIXED_KILLS: "30", WEFT_MIXED_TIMEOUT_MS: "840000" },
      encoding: "utf8",
      stdio: ["ignore", "pipe", "pipe"],
    });
    assert.equal(r.status, 0, `${r.stdout}\n${r.stderr}`);
    assert.match(r.stdout, /ℹ pass 1\b/, r.stdout);
    assert.match(r.stdout, /ℹ fail 0\b/, r.stdout);
  });
}
