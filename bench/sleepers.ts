// Child process for the "100,000 sleeping instances" figure: opens an engine on a fresh temp dir,
// creates N instances (createBatch of 100) of a workflow that sleeps a day at once, waits until every
// one has suspended (status "waiting"), then prints one JSON line with its RSS on stdout.
import { Engine } from "../src/index.ts";
import { BODIES, TENANT, deploy, keepAlive, ownCpuMs, pool, sleep, tempDir } from "./util.ts";

const n = Number(process.argv[2] ?? 100_000);
const verbose = !!process.env.WEFT_BENCH_VERBOSE;
const MiB = 1024 * 1024;

const tmp = tempDir("sleepers");
const engine = await Engine.open({ dataDir: tmp.dir, suspendAfterMs: 0 });
let peakRss = 0;
const sampler = setInterval(() => (peakRss = Math.max(peakRss, process.memoryUsage().rss)), 100);
try {
  const result = await keepAlive(async () => {
    await deploy(engine, "sleepy", BODIES.sleepDay);
    const wf = engine.workflow(TENANT, "sleepy");
    const t0 = performance.now();
    await pool(n / 100, 10, (b) => wf.createBatch(Array.from({ length: 100 }, (_, j) => ({ id: `s${b * 100 + j}` }))));
    const createMs = performance.now() - t0;
    let waiting = 0;
    let lastLog = 0;
    for (;;) {
      const counts = await engine.store.countByStatus(TENANT);
      waiting = counts.waiting ?? 0;
      if (verbose && performance.now() - lastLog > 5000) {
        lastLog = performance.now();
        console.error(`[sleepers] ${((performance.now() - t0) / 1000).toFixed(1)} s`, JSON.stringify(counts), JSON.stringify(engine.stats()), `rss ${(process.memoryUsage().rss / MiB).toFixed(0)} MiB`);
      }
      const bad = (counts.errored ?? 0) + (counts.complete ?? 0) + (counts.terminated ?? 0);
      if (bad > 0) throw new Error(`unexpected statuses: ${JSON.stringify(counts)}`);
      if (waiting >= n && engine.stats().activeRuns === 0) break;
      await sleep(250);
    }
    const settleMs = performance.now() - t0;
    const mu = process.memoryUsage();
    peakRss = Math.max(peakRss, mu.rss);
    // diagnostics: how much of the RSS is the (now idle) isolates' heaps
    const isolates = engine.stats();
    await engine.sandbox.dispose();
    await sleep(200);
    const rssNoIsolatesMiB = process.memoryUsage().rss / MiB;
    return {
      rssMiB: mu.rss / MiB, peakRssMiB: peakRss / MiB, heapUsedMiB: mu.heapUsed / MiB, createMs, settleMs, n, cpuMs: ownCpuMs(),
      idleIsolates: isolates.isolates, contexts: isolates.contexts, rssNoIsolatesMiB,
    };
  });
  process.stdout.write(JSON.stringify(result) + "\n");
} finally {
  clearInterval(sampler);
  await engine.close();
  tmp.remove();
}
