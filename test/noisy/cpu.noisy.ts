// Issue 13, the CPU row: a CPU loop in run(), in a step, in a finally block and in an endless
// microtask chain, each next to the canary. Each stops at its CPU limit with an error naming it; the
// canary keeps its latency, because tenant code runs on isolated-vm's threads (never on the engine's:
// no synchronous activations by default) at a lower priority than the engine's thread.
import { test } from "node:test";
import assert from "node:assert/strict";
import { deployAbuse, deployCanary, nextToAbuse, openEngine } from "./canary.ts";

const LOOPS = {
  "run()": { body: "for (;;) {}", error: /^workflow code outside steps exceeded the CPU time limit of 2000 ms \(limits\.cpuMsPerStep\)$/ },
  "a step": { body: `await step.do("spin", { retries: { limit: 1, delay: 0 } }, async () => { for (;;) {} });`, error: /^step "spin" attempt 2 exceeded the CPU time limit of 2000 ms \(limits\.cpuMsPerStep\)$/ },
  "finally": { body: `try { await step.do("one", async () => 1); } finally { for (;;) {} }`, error: /^workflow code outside steps exceeded the CPU time limit of 2000 ms \(limits\.cpuMsPerStep\)$/ },
  "microtasks": { body: `(function again() { Promise.resolve().then(again); })(); await step.do("one", async () => 1);`, error: /^workflow code outside steps exceeded the CPU time limit of 2000 ms \(limits\.cpuMsPerStep\)$/ },
};

for (const [where, { body, error }] of Object.entries(LOOPS)) {
  test(`a CPU loop in ${where} stops at limits.cpuMsPerStep; the canary keeps its p99 and the loop never stalls`, { timeout: 90_000 }, async (t) => {
    const engine = await openEngine(t);
    await deployCanary(engine);
    await deployAbuse(engine, "spin", body, { cpuMsPerStep: 2000 });
    const r = await nextToAbuse(engine, "spin");
    t.diagnostic(`CPU loop in ${where}: canary p99 ${r.base.p99Ms.toFixed(2)} ms alone, ${r.next.p99Ms.toFixed(2)} ms next to it (${r.ratio.toFixed(2)}×, ${r.next.runs} runs); loop max ${r.next.maxLoopDelayMs.toFixed(0)} ms; RSS ${r.rss0.toFixed(0)} → ${r.rss1.toFixed(0)} MiB`);
    assert.equal(r.status.status, "errored");
    assert.match(String(r.status.error?.message), error);
    assert.ok(r.next.maxLoopDelayMs < 100, `the event loop stalled ${r.next.maxLoopDelayMs.toFixed(0)} ms`);
    assert.ok(r.next.p99Ms < 2 * r.base.p99Ms + 5, `canary p99 ${r.next.p99Ms.toFixed(2)} ms next to the loop vs ${r.base.p99Ms.toFixed(2)} ms alone`);
    assert.ok(r.rss1 - r.rss0 < 64, `RSS ${r.rss0.toFixed(0)} → ${r.rss1.toFixed(0)} MiB`);
  });
}
