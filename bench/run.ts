// Weft benchmark: `node bench/run.ts [--json] [--quick] [--sleepers=N] [--only=name,name] [--postgres[=URL]]`.
// Prints one table (metric | measured | target | ratio | note); ratio ≥ 1.00 means the target is met.
// With --json the same figures follow as one JSON object on the last line.
// Scenario names for --only: fsync, creations, http, completions, steps, storage, throughput, cold, timers, noisy, sleepers, dashboard.
// The sleeping-instances scenario (100,000 instances in a child process) is most of the run time:
// ~4.5 min of ~5 on a quiet 2-core box. --quick runs 20,000 instead (JSON sleeping100kRssMiB is then null).
// --postgres runs the cluster-mode table instead (bench/postgres.ts): the PostgreSQL fsync floor,
// step overhead, creations/s and steps/s on 1, 2 and 3 engine node processes (--pg-nodes=1,2,3),
// against the SQLite baselines measured in the same run. URL: the test server unless given.
import * as S from "./scenarios.ts";
import { cpus, loadavg } from "node:os";
import { machineBusyMs, ownCpuMs, percentile } from "./util.ts";

const args = process.argv.slice(2);
const wantJson = args.includes("--json");
const only = args.find((a) => a.startsWith("--only="))?.slice("--only=".length).split(",");
const pgArg = args.find((a) => a === "--postgres" || a.startsWith("--postgres="));
const run = (name: string) => !pgArg && (!only || only.includes(name));
const sleepersArg = args.find((a) => a.startsWith("--sleepers="));
const sleeperCount = sleepersArg ? Number(sleepersArg.slice("--sleepers=".length)) : args.includes("--quick") ? 20_000 : 100_000;
const progress = (msg: string) => process.stderr.write(`[bench] ${msg}\n`);

interface Row {
  metric: string;
  value: number;
  unit: string;
  /** "min": at least target; "max": at most target; "none": informational */
  kind: "min" | "max" | "none";
  target?: number;
  note: string;
}

const rows: Row[] = [];
const figures: Record<string, number | null> = {
  creationsPerSec: null, completionsPerSec: null, stepOverheadP50Us: null, stepOverheadP99Us: null, stepsPerSec: null,
  sqlStepOverheadP50Us: null, sqlStepRatio: null, fileStepP50Ms: null, noStorageFiles: null,
  coldStartP50Ms: null, coldStartP99Ms: null, timerLatenessP50Ms: null, timerLatenessP99Ms: null, sleeping100kRssMiB: null, fsyncCommitUs: null,
  httpCreatePerSec: null, httpBatchCreatePerSec: null, httpCreateP99Ms: null,
  dashboardListColdP50Ms: null, dashboardListWarmP50Ms: null, dashboardApiFirstPageP50Ms: null,
};
const tStart = performance.now();
const loadStart = loadavg()[0]!;
const busyStart = machineBusyMs();
let childCpuMs = 0;
const fmt = (x: number, d = 0) => x.toLocaleString("en-US", { minimumFractionDigits: d, maximumFractionDigits: d });
const secs = (ms: number) => `${(ms / 1000).toFixed(1)} s`;

if (pgArg) {
  // the SQLite baselines first, on a machine without the node processes yet
  progress("SQLite baselines: fsync floor, creations, step overhead, steps/s");
  const fsync = S.fsyncCommit().us;
  const c = await S.creations();
  const full = await S.stepOverhead(2_000, "full");
  const normal = await S.stepOverhead(2_000, "normal");
  const t = await S.stepThroughput();
  Object.assign(figures, { fsyncCommitUs: fsync, creationsPerSec: c.perSec, stepOverheadP50Us: full.p50Us, stepOverheadP99Us: full.p99Us, stepsPerSec: t.stepsPerSec });
  const { postgresScenarios } = await import("./postgres.ts"); // loads pg and the node processes only here
  const nodesArg = args.find((a) => a.startsWith("--pg-nodes="));
  const pg = await postgresScenarios({
    url: pgArg.startsWith("--postgres=") ? pgArg.slice("--postgres=".length) : undefined,
    nodeCounts: nodesArg ? nodesArg.slice("--pg-nodes=".length).split(",").map(Number) : undefined,
    progress,
    sqlite: {
      fsyncUs: fsync, creationsPerSec: c.perSec, creationsN: 10_000, stepP50Us: full.p50Us, stepP99Us: full.p99Us, stepNormalP50Us: normal.p50Us,
      stepsPerSec: t.stepsPerSec, stepsInstances: 1_000, stepsEach: 20,
    },
  });
  rows.push(...pg.rows);
  Object.assign(figures, pg.figures);
  childCpuMs += pg.childCpuMs;
}

let fsyncUs = NaN;
if (run("fsync")) {
  progress("fsync floor");
  fsyncUs = S.fsyncCommit().us;
  figures.fsyncCommitUs = fsyncUs;
}

if (run("creations")) {
  progress("creations");
  const c = await S.creations();
  figures.creationsPerSec = c.perSec;
  rows.push({
    metric: "creations/s", value: c.perSec, unit: "/s", kind: "min", target: 5_000,
    note: `10,000 create() resolved (durable) in ${secs(c.ms)}, ${c.inFlight} in flight; concurrency 1 + run() sleeps 1 day, so the burst queues: admission + durable commit, not execution. all 10k at once: ${fmt(c.allAtOncePerSec)}/s; createBatch(100) ×100 at once: ${fmt(c.batchPerSec)}/s`,
  });
}

if (run("http")) {
  progress("creations over HTTP");
  const { httpCreations } = await import("./http.ts"); // loads the HTTP server only for this scenario
  const h = await httpCreations();
  figures.httpCreatePerSec = h.oneByOnePerSec;
  figures.httpBatchCreatePerSec = h.batchPerSec;
  figures.httpCreateP99Ms = h.oneByOneP99Ms;
  rows.push({
    metric: "HTTP creations/s", value: h.oneByOnePerSec, unit: "/s", kind: "min", target: 2_000,
    note: `10,000 POST …/instances (tenant token), ${h.clients} keep-alive clients in a worker thread, server (startServer) on the main thread; tenant maxRunningInstances 1 + run() sleeps 1 day, so the burst queues: HTTP + auth + validation + admission + durable commit. latency p50 ${fmt(h.oneByOneP50Ms, 1)} ms, p99 ${fmt(h.oneByOneP99Ms, 1)} ms; server thread CPU ${fmt(h.oneByOneServerCpuUs)} µs per creation`,
  });
  rows.push({
    metric: "HTTP creations/s (batch of 100)", value: h.batchPerSec, unit: "/s", kind: "min", target: 10_000,
    note: `20,000 instances as 200 POST …/instances/batch of 100 from the same ${h.clients} clients; latency per batch p50 ${fmt(h.batchP50Ms, 1)} ms; server thread CPU ${fmt(h.batchServerCpuUs)} µs per instance`,
  });
}

let cold: number[] = [];
if (run("completions")) {
  progress("completions");
  const c = await S.completions();
  figures.completionsPerSec = c.perSec;
  cold = cold.concat(c.coldStartMs);
  rows.push({
    metric: "completions/s (1-step)", value: c.perSec, unit: "/s", kind: "min", target: 1_000,
    note: `2,000 instances, first create → all complete in ${secs(c.ms)}; create() 100 in flight, waitFor() each`,
  });
}

if (run("steps")) {
  progress("step overhead");
  const s = await S.stepOverhead();
  const normal = await S.stepOverhead(2_000, "normal");
  figures.stepOverheadP50Us = s.p50Us;
  figures.stepOverheadP99Us = s.p99Us;
  const floor = Number.isFinite(fsyncUs) ? `; ${(s.p50Us / fsyncUs).toFixed(1)}× the fsync floor` : "";
  rows.push({
    metric: "step overhead p50", value: s.p50Us, unit: "µs", kind: "max", target: 400,
    note: `1 instance, ${s.steps} sequential step.do, gap between consecutive durable step commits (synchronous=full)${floor}; mean ${fmt(s.meanUs)} µs, wall/step ${fmt(s.wallPerStepUs)} µs`,
  });
  rows.push({
    metric: "step overhead p99", value: s.p99Us, unit: "µs", kind: "none",
    note: `same run. Engine cost without fsync (synchronous=normal): p50 ${fmt(normal.p50Us)} µs, p99 ${fmt(normal.p99Us)} µs`,
  });
}

if (run("storage")) {
  progress("storage: SQL step, file step, instances without storage");
  const plain = await S.stepOverhead(1_000);
  const sql = await S.stepOverhead(1_000, "full", "sqlSteps");
  const file = await S.stepOverhead(1_000, "full", "fileSteps");
  const none = await S.noStorageFiles();
  figures.sqlStepOverheadP50Us = sql.p50Us;
  figures.sqlStepRatio = sql.p50Us / plain.p50Us;
  figures.fileStepP50Ms = file.p50Us / 1000;
  figures.noStorageFiles = none.files + none.objects;
  rows.push({
    metric: "SQL step / plain step (p50)", value: sql.p50Us / plain.p50Us, unit: "×", kind: "max", target: 1.5,
    note: `1 instance, 1,000 sequential step.do each inserting one row (its own SQLite file; the pages the step changed go into the journal with its result: one fsync): p50 ${fmt(sql.p50Us)} µs, p99 ${fmt(sql.p99Us)} µs; plain step in the same run: p50 ${fmt(plain.p50Us)} µs, p99 ${fmt(plain.p99Us)} µs`,
  });
  rows.push({
    metric: "10 KiB file step p50", value: file.p50Us / 1000, unit: "ms", kind: "max", target: 2,
    note: `1 instance, 1,000 sequential step.do each writing a new 10 KiB file into a 50-file directory: one git commit (blob, 2 trees, commit) in the step's journal transaction; p99 ${fmt(file.p99Us / 1000, 2)} ms`,
  });
  rows.push({
    metric: "files + objects of 10k plain instances", value: none.files + none.objects, unit: "", kind: "max", target: 0,
    note: `${fmt(none.instances)} one-step instances that never touch ctx.storage or ctx.fs, run to the end: ${none.files} file(s) besides the store's own (${none.listing.join(", ")}), ${none.objects} git object row(s)`,
  });
}

if (run("throughput")) {
  progress("steps/s at 1,000 concurrent");
  const t = await S.stepThroughput();
  figures.stepsPerSec = t.stepsPerSec;
  cold = cold.concat(t.coldStartMs);
  rows.push({
    metric: "steps/s (1,000 running)", value: t.stepsPerSec, unit: "/s", kind: "min", target: 10_000,
    note: `1,000 instances × 20 step.do = ${fmt(t.steps)} steps in ${secs(t.ms)} (first create → all complete); maxActiveRuns = concurrency = 1,000; create() 1,000 in flight`,
  });
}

if (run("cold")) {
  progress("start-up, unloaded");
  const c = await S.startUp();
  figures.coldStartP50Ms = percentile(c.cold, 50);
  figures.coldStartP99Ms = percentile(c.cold, 99);
  rows.push({
    metric: "isolate cold start p50", value: figures.coldStartP50Ms, unit: "ms", kind: "max", target: 5,
    note: `first run of a freshly deployed version: an isolate (the pool keeps one spare ready with the runtime loaded), the tenant bundle compiled and run in its context, ready for the first activation; ${c.cold.length} versions one after another`,
  });
  rows.push({ metric: "isolate cold start p99", value: figures.coldStartP99Ms, unit: "ms", kind: "none", note: "same sample" });
  rows.push({
    metric: "warm start p50", value: percentile(c.warm, 50), unit: "ms", kind: "none",
    note: `not in the JSON: a run taking a slot in its version's warm context (the common case); p99 ${fmt(percentile(c.warm, 99), 3)} ms, n=${c.warm.length}`,
  });
}
if (cold.length > 0) {
  rows.push({
    metric: "start under burst p50", value: percentile(cold, 50), unit: "ms", kind: "none",
    note: `not in the JSON: engine.metrics.coldStartMs in the completions + steps/s bursts, queueing for a new context included; p99 ${fmt(percentile(cold, 99), 1)} ms, n=${cold.length}`,
  });
}

if (run("timers")) {
  progress("timer lateness");
  const t = await S.timerLateness();
  figures.timerLatenessP50Ms = t.p50Ms;
  figures.timerLatenessP99Ms = t.p99Ms;
  rows.push({ metric: "timer lateness p50", value: t.p50Ms, unit: "ms", kind: "none", note: `2,000 step.sleep of 1–3 s, suspendAfterMs 0 (woken by the scheduler); n=${t.samples} wakeups` });
  rows.push({ metric: "timer lateness p99", value: t.p99Ms, unit: "ms", kind: "max", target: 100, note: `max ${fmt(t.maxMs)} ms; scenario took ${secs(t.ms)}` });
}

if (run("noisy")) {
  progress("noisy neighbour: a canary tenant alone and next to each abuse");
  const { noisyNeighbour } = await import("./noisy.ts");
  for (const n of await noisyNeighbour()) {
    rows.push({
      metric: `canary p99 next to: ${n.abuse}`, value: n.nextP99Ms / n.aloneP99Ms, unit: "×", kind: "max", target: 2,
      note: `canary p50/p99 ${fmt(n.aloneP50Ms, 2)}/${fmt(n.aloneP99Ms, 2)} ms alone, ${fmt(n.nextP50Ms, 2)}/${fmt(n.nextP99Ms, 2)} ms next to it; loop max ${fmt(n.maxLoopDelayMs)} ms; RSS ${n.rssDeltaMiB >= 0 ? "+" : ""}${fmt(n.rssDeltaMiB)} MiB; abuser: ${n.outcome}`,
    });
  }
}

if (run("dashboard")) {
  progress("dashboard list over 100,000 instances (chromium)");
  const { dashboardList } = await import("./dashboard.ts"); // loads playwright-core only for this scenario
  try {
    const d = await dashboardList();
    figures.dashboardListColdP50Ms = d.coldRenderP50Ms;
    figures.dashboardListWarmP50Ms = d.warmRenderP50Ms;
    figures.dashboardApiFirstPageP50Ms = d.apiFirstPageP50Ms;
    rows.push({
      metric: "dashboard list 1st page, 100k", value: d.warmRenderP50Ms, unit: "ms", kind: "max", target: 300,
      note: `${fmt(d.n)} instances in the store; a full page load (navigation start → first of ${d.rows} rows in the DOM, as the page records it) in an open browser (assets cached), p50 of 15; status+metadata filtered page p50 ${fmt(d.filteredRenderP50Ms)} ms; overview (counts of 100k by status, activity chart) p50 ${fmt(d.overviewRenderP50Ms)} ms. Seeded in ${secs(d.seedMs)}`,
    });
    rows.push({
      metric: "  same, fresh browser context", value: d.coldRenderP50Ms, unit: "ms", kind: "none",
      note: `a new context each time (new renderer process, empty cache, cold JS), p50 of 5, max ${fmt(d.coldRenderMaxMs)} ms; the same load of a 100-instance workflow: p50 ${fmt(d.smallColdRenderP50Ms)} ms (ratio ${(d.coldRenderP50Ms / d.smallColdRenderP50Ms).toFixed(2)}: the store's size does not show)`,
    });
    rows.push({
      metric: "API list 1st page, 100k", value: d.apiFirstPageP50Ms, unit: "ms", kind: "max", target: 50,
      note: `GET …/instances?limit=50 p50 of 20 (server-side paging on the (tenant, workflow, pk) index); with status=errored p50 ${fmt(d.apiFilteredP50Ms, 2)} ms`,
    });
  } catch (err) {
    rows.push({ metric: "dashboard list 1st page, 100k", value: NaN, unit: "ms", kind: "max", target: 300, note: `FAILED: ${(err as Error).message.slice(0, 300)}` });
  }
}

if (run("sleepers")) {
  progress(`${fmt(sleeperCount)} sleeping instances (child process)`);
  const label = `${sleeperCount >= 1000 ? `${sleeperCount / 1000}k` : sleeperCount} sleeping: RSS`;
  try {
    const s = await S.sleepers(sleeperCount);
    childCpuMs += s.cpuMs;
    if (sleeperCount === 100_000) figures.sleeping100kRssMiB = s.rssMiB;
    const scaled = sleeperCount === 100_000 ? "" : ` NOT the 100k figure (--quick), so not in the JSON.`;
    rows.push({
      metric: label, value: s.rssMiB, unit: "MiB", kind: "max", target: 500,
      note: `child process, RSS once all ${fmt(s.n)} are waiting; peak ${fmt(s.peakRssMiB)} MiB, Node heap ${fmt(s.heapUsedMiB)} MiB, ${s.idleIsolates} idle isolate(s) with ${s.contexts} context(s) (RSS ${fmt(s.rssNoIsolatesMiB)} MiB once they are disposed); created in ${secs(s.createMs)}, all suspended after ${secs(s.settleMs)} (${fmt((s.n / s.settleMs) * 1000)}/s).${scaled}`,
    });
  } catch (err) {
    rows.push({ metric: label, value: NaN, unit: "MiB", kind: "max", target: 500, note: `FAILED: ${(err as Error).message.slice(0, 200)}` });
  }
}

if (Number.isFinite(fsyncUs)) {
  rows.push({ metric: "fsync'd SQLite commit", value: fsyncUs, unit: "µs", kind: "none", note: "physical floor: node:sqlite WAL, synchronous=FULL, 1 tiny insert per txn, median of 500" });
}

// ---- output ------------------------------------------------------------------------------------
const table = rows.map((r) => {
  const ok = Number.isFinite(r.value);
  const digits = (r.unit === "ms" && r.value < 100) || r.unit === "×" ? 2 : 0;
  const measured = ok ? `${fmt(r.value, digits)} ${r.unit}` : "n/a";
  const target = r.kind === "min" ? `≥ ${fmt(r.target!, digits)} ${r.unit}` : r.kind === "max" ? `≤ ${fmt(r.target!, digits)} ${r.unit}` : "—";
  const ratio = !ok || r.kind === "none" ? "—" : r.target === 0 ? (r.value <= 0 ? "1.00" : "0.00") : (r.kind === "min" ? r.value / r.target! : r.target! / r.value).toFixed(2);
  return [r.metric, measured, target, ratio, r.note];
});
const head = ["metric", "measured", "target", "ratio", "note"];
const widths = head.map((h, i) => Math.max(h.length, ...table.map((t) => (i === 4 ? 0 : t[i]!.length))));
const line = (cells: string[]) => `| ${cells.map((c, i) => (i === 4 ? c : c.padEnd(widths[i]!))).join(" | ")} |`;
console.log(line(head));
console.log(`|${widths.map((w, i) => "-".repeat(i === 4 ? 6 : w + 2)).join("|")}|`);
for (const t of table) console.log(line(t));
const wallMs = performance.now() - tStart;
const otherCpuMs = machineBusyMs() - busyStart - ownCpuMs() - childCpuMs;
console.log(
  `\ntotal bench time ${secs(wallMs)}; node ${process.version}, ${process.platform}/${process.arch}, ${cpus().length} cores; ` +
    `1-min load average ${loadStart.toFixed(2)} at start. CPU used by other processes during the bench: ` +
    (Number.isFinite(otherCpuMs) ? `${(Math.max(0, otherCpuMs) / 1000).toFixed(1)} core-s (${((100 * Math.max(0, otherCpuMs)) / (wallMs * cpus().length)).toFixed(0)}% of the machine)` : "unknown"),
);
if (wantJson) {
  const round = (x: number | null) => (x === null || !Number.isFinite(x) ? null : Math.round(x * 100) / 100);
  console.log(JSON.stringify(Object.fromEntries(Object.entries(figures).map(([k, v]) => [k, round(v)]))));
}
