// Exactly-once storage under kill -9: 100 instances each run 20 steps that insert a row into their
// own SQL database and write a file into their own filesystem; the process is killed with SIGKILL at
// random moments (≥ 10 times) and restarted on the same data directory. In the end each instance's
// table has exactly 20 rows (one per step, none twice, none missing), its repository exactly one
// commit per step in order with the step's name, its files are all there, and every row was written
// by the attempt whose result the journal committed.
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { Engine } from "../../src/index.ts";
import { STEPS, TENANT, WORKFLOW } from "./storage-child.ts";

const CHILD = fileURLToPath(new URL("./storage-child.ts", import.meta.url));
const INSTANCES = Number(process.env.WEFT_STORAGE_CRASH_INSTANCES ?? 100);
const KILLS = Number(process.env.WEFT_STORAGE_CRASH_KILLS ?? 12);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const between = (lo: number, hi: number) => lo + Math.floor(Math.random() * (hi - lo + 1));

function life(dataDir: string, n: number, mode: "kill" | "final" | "after-commit", instances = INSTANCES) {
  const child = spawn(process.execPath, [CHILD, dataDir, String(n), mode, String(instances)], { stdio: ["ignore", "pipe", "pipe"] });
  let out = "";
  let markReady!: (v: boolean) => void;
  const ready = new Promise<boolean>((r) => (markReady = r));
  child.stdout.on("data", (d: Buffer) => ((out += d.toString()), out.includes("deployed") && markReady(true)));
  child.stderr.on("data", (d: Buffer) => (out += d.toString()));
  const exited = new Promise<{ code: number | null; signal: string | null }>((r) => child.on("exit", (code, signal) => (markReady(false), r({ code, signal }))));
  return { child, ready, exited, output: () => out };
}

test("kill -9 during SQL and file writes: exactly one row and one commit per step, none missing", { timeout: 180_000 }, async (t) => {
  const dataDir = mkdtempSync(join(tmpdir(), "weft-scrash-"));
  t.after(() => rmSync(dataDir, { recursive: true, force: true }));
  const kills: string[] = [];
  for (let n = 1; n <= KILLS; n++) {
    const l = life(dataDir, n, "kill");
    if (n % 4 === 2) await sleep(between(50, 400)); // during start-up and recovery
    else {
      assert.ok(await Promise.race([l.ready, sleep(20_000).then(() => false)]), `life ${n} did not start:\n${l.output()}`);
      await sleep(between(100, 700));
    }
    assert.equal(l.child.exitCode, null, `life ${n} exited before it was killed:\n${l.output()}`);
    l.child.kill("SIGKILL");
    assert.equal((await l.exited).signal, "SIGKILL");
    kills.push(`${n}`);
  }
  const last = life(dataDir, KILLS + 1, "final");
  const res = await last.exited;
  assert.equal(res.code, 0, `the final life did not finish:\n${last.output()}`);

  const engine = await Engine.open({ dataDir, recover: false });
  t.after(() => engine.close());
  const wf = engine.workflow(TENANT, WORKFLOW);
  let retried = 0;
  const committedBy = new Map<number, number>();
  for (let n = 0; n < INSTANCES; n++) {
    const inst = await wf.get(`i${n}`);
    const s = await inst.status();
    assert.equal(s.status, "complete", `i${n}: ${JSON.stringify(s.error)}`);
    assert.equal(s.output, STEPS, `i${n}: the workflow counted ${String(s.output)} rows`);
    const rows = (await inst.query("SELECT step, life, attempt FROM t ORDER BY step")).rows as [number, number, number][];
    assert.deepEqual(rows.map((r) => r[0]), Array.from({ length: STEPS }, (_, i) => i + 1), `i${n}: one row per step`);
    const steps = await engine.store.steps(inst.record.pk);
    for (const [step, lifeN, attempt] of rows) {
      const st = steps.find((x) => x.name === `s${step}`)!;
      const v = st.value as { life: number; attempt: number };
      assert.deepEqual([lifeN, attempt], [v.life, v.attempt], `i${n} s${step}: the row was written by the attempt whose result committed`);
      committedBy.set(v.life, (committedBy.get(v.life) ?? 0) + 1);
      if (st.attempts > 1) retried++;
    }
    const commits = await inst.commits();
    assert.deepEqual(commits.map((c) => c.message.split("\n")[0]).reverse(), Array.from({ length: STEPS }, (_, i) => `s${i + 1} #1`), `i${n}: one commit per step, in order`);
    const files = (await inst.listFiles("steps")).map((f) => f.name).sort();
    assert.equal(files.length, STEPS);
    assert.equal(new TextDecoder().decode(await inst.readFile("steps/7.txt")), `step 7 of i${n}`);
  }
  const lives = [...committedBy.keys()].sort((a, b) => a - b);
  assert.equal(await adoptedSteps(engine), 0, "no step result comes from anywhere but the journal");
  t.diagnostic(`${kills.length} kills; step results committed per life: ${lives.map((l) => `${l}:${committedBy.get(l)}`).join(" ")}; ${retried} steps needed more than one attempt`);
  assert.ok(kills.length >= 10);
  assert.ok(lives.filter((l) => l <= KILLS).length >= 3, `only lives ${lives.join(",")} committed results: the kills did not land mid-work`);
});

async function adoptedSteps(engine: Engine): Promise<number> {
  let n = 0;
  for (const i of await engine.store.listInstances({ tenant: TENANT, limit: 10_000, direction: "asc" })) {
    n += (await engine.store.history(i.pk, 0)).filter((e) => e.type === "step_completed" && (e.data as { recovered?: boolean })?.recovered).length;
  }
  return n;
}

test("killed right after a step's local SQL commit, before its journal write: the commit is undone, the step runs again, its row and file commit are there once", { timeout: 60_000 }, async (t) => {
  const dataDir = mkdtempSync(join(tmpdir(), "weft-scrash1-"));
  t.after(() => rmSync(dataDir, { recursive: true, force: true }));
  const first = life(dataDir, 1, "after-commit", 1);
  assert.equal((await first.exited).signal, "SIGKILL", first.output());
  const last = life(dataDir, 2, "final", 1);
  assert.equal((await last.exited).code, 0, last.output());

  const engine = await Engine.open({ dataDir, recover: false });
  t.after(() => engine.close());
  const inst = await engine.workflow(TENANT, WORKFLOW).get("i0");
  assert.equal((await inst.status()).output, STEPS);
  const rows = (await inst.query("SELECT step, life FROM t ORDER BY step")).rows as [number, number][];
  assert.deepEqual(rows.map((r) => r[0]), Array.from({ length: STEPS }, (_, i) => i + 1), "one row per step");
  // schema, s1..s3 committed normally; s4 was the 5th SQL commit: killed before its journal write
  assert.deepEqual(rows.slice(0, 3).map((r) => r[1]), [1, 1, 1], "s1–s3 were written by life 1");
  assert.deepEqual(rows.slice(3, 5).map((r) => r[1]), [2, 2], "s4's local commit was undone: s4 and s5 ran in life 2");
  const history = await engine.store.history(inst.record.pk, 0);
  assert.equal(history.filter((e) => e.type === "step_completed" && (e.data as { recovered?: boolean })?.recovered).length, 0, "nothing adopted");
  assert.equal((await inst.commits()).length, STEPS, "one file commit per step");
});
