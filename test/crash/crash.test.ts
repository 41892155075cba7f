// Guarantees 1 and 2 under kill -9: a child process runs 200 instances (7 step bodies each, a sleep,
// an event wait, two parallel steps of the same name) and is killed with SIGKILL at random moments,
// then restarted on the same data directory. A last life runs to the end. Then:
//  - every instance is complete with exactly the output its params and event imply (nothing committed
//    was lost, timers and buffered events survived the kills);
//  - exactly-once result: each step's committed result names the life (child process) whose body
//    execution produced it; no body execution of that step appears in the side-effect log from any
//    later life, nor with a higher attempt number than the committed one.
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawn, type ChildProcess } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { Engine } from "../../src/index.ts";
import { STEP_KEYS, TENANT, WORKFLOW, expectedOutput } from "./child.ts";

const CHILD = fileURLToPath(new URL("./child.ts", import.meta.url));
// npm test runs the acceptance size; npm run test:soak runs the same loop longer (test/soak/).
const INSTANCES = Number(process.env.WEFT_CRASH_INSTANCES ?? 200);
const EARLY_KILLS = Number(process.env.WEFT_CRASH_EARLY_KILLS ?? 3); // killed 50–400 ms after spawn: during startup, recovery and replay
const LATE_KILLS = Number(process.env.WEFT_CRASH_LATE_KILLS ?? 10); // killed 150–900 ms after the engine is open: mid-work

interface Life {
  child: ChildProcess;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  ready: Promise<boolean>;
  output: () => string;
}

function startLife(dataDir: string, life: number, mode: "kill" | "final"): Life {
  const child = spawn(process.execPath, [CHILD, dataDir, String(life), mode, String(INSTANCES)], { stdio: ["ignore", "pipe", "pipe"] });
  let out = "";
  let markReady!: (v: boolean) => void;
  const ready = new Promise<boolean>((r) => (markReady = r));
  child.stdout!.on("data", (d: Buffer) => {
    out += d.toString();
    if (out.includes("deployed")) markReady(true);
  });
  child.stderr!.on("data", (d: Buffer) => (out += d.toString()));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.on("exit", (code, signal) => {
      markReady(false);
      resolve({ code, signal });
    }),
  );
  return { child, exited, ready, output: () => out };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
/** resolves after ms without keeping the process alive (used only as an upper bound in races) */
const deadline = <T>(ms: number, v: T) => new Promise<T>((r) => setTimeout(() => r(v), ms).unref());
const between = (lo: number, hi: number) => lo + Math.floor(Math.random() * (hi - lo + 1));

test("kill -9 at random moments: every instance completes, no committed step runs again", { timeout: Number(process.env.WEFT_CRASH_TIMEOUT_MS ?? 120_000) }, async (t) => {
  const dataDir = mkdtempSync(join(tmpdir(), "weft-crash-"));
  let passed = false;
  t.after(() => {
    if (passed || !process.env.WEFT_KEEP_FAILED) rmSync(dataDir, { recursive: true, force: true });
    else t.diagnostic(`data kept in ${dataDir}`);
  });
  const t0 = performance.now();

  // ---- the kill schedule ------------------------------------------------------------------------
  const kills: { life: number; afterMs: number; from: "spawn" | "ready"; signal: string | null }[] = [];
  let life = 0;
  const schedule: ("spawn" | "ready")[] = [];
  for (let i = 0; i < EARLY_KILLS + LATE_KILLS; i++) schedule.push(i % 4 === 1 ? "spawn" : "ready");
  while (schedule.filter((s) => s === "spawn").length < EARLY_KILLS) schedule[schedule.indexOf("ready")] = "spawn";
  for (const from of schedule) {
    life++;
    const l = startLife(dataDir, life, "kill");
    let afterMs: number;
    if (from === "spawn") {
      afterMs = between(50, 400);
      await sleep(afterMs);
    } else {
      const ok = await Promise.race([l.ready, deadline(15_000, false)]);
      assert.ok(ok, `life ${life} did not open the engine:\n${l.output()}`);
      afterMs = between(150, 900);
      await sleep(afterMs);
    }
    assert.equal(l.child.exitCode, null, `life ${life} exited before it was killed:\n${l.output()}`);
    l.child.kill("SIGKILL");
    const { signal } = await l.exited;
    kills.push({ life, afterMs, from, signal });
    assert.equal(signal, "SIGKILL", `life ${life} did not die of SIGKILL:\n${l.output()}`);
  }
  const killMs = performance.now() - t0;

  // ---- the last life runs to the end -------------------------------------------------------------
  life++;
  const finalLife = life;
  const last = startLife(dataDir, finalLife, "final");
  const res = await Promise.race([last.exited, deadline(Number(process.env.WEFT_CRASH_FINAL_MS ?? 60_000), { code: -1, signal: null })]);
  if (res.code === -1) last.child.kill("SIGKILL");
  if (process.env.WEFT_KEEP_FAILED) console.error("data dir", dataDir);
  assert.equal(res.code, 0, `the final life did not finish all instances:\n${last.output()}`);
  const finalMs = performance.now() - t0 - killMs;

  // ---- verification --------------------------------------------------------------------------------
  const engine = await Engine.open({ dataDir, recover: false });
  t.after(() => engine.close());
  const wf = engine.workflow(TENANT, WORKFLOW);

  // side-effect log: "instanceId stepKey attempt life"
  const lines = readFileSync(join(dataDir, "effects.log"), "utf8").split("\n").filter((s) => s.length > 0);
  const execs = new Map<string, { attempt: number; life: number }[]>();
  for (const line of lines) {
    const m = /^(i\d+) (\w+#\d+) (\d+) (\d+)$/.exec(line);
    assert.ok(m, `malformed side-effect line ${JSON.stringify(line)}`);
    const k = `${m[1]} ${m[2]}`;
    if (!execs.has(k)) execs.set(k, []);
    execs.get(k)!.push({ attempt: Number(m[3]), life: Number(m[4]) });
  }

  let reExecutedBeforeCommit = 0; // bodies that ran more than once because a kill came before the commit
  let failedAttempts = 0;
  const failures = new Map<string, number>();
  const committedByLife = new Map<number, number>();
  for (let n = 0; n < INSTANCES; n++) {
    const id = `i${n}`;
    const inst = await wf.get(id);
    const s = await inst.status();
    assert.equal(s.status, "complete", `${id} is ${s.status}: ${JSON.stringify(s.error)}`);
    assert.deepEqual(s.output, expectedOutput(n), `${id} output`);

    const steps = await engine.store.steps(inst.record.pk);
    const attempts = await engine.store.attempts(inst.record.pk);
    for (const a of attempts.filter((x) => x.success === false)) {
      failedAttempts++;
      const msg = a.error?.message.slice(0, 120) ?? "?";
      failures.set(msg, (failures.get(msg) ?? 0) + 1);
    }
    for (const key of STEP_KEYS) {
      const [name, count] = key.split("#");
      const st = steps.find((x) => x.kind === "do" && x.name === name && x.count === Number(count));
      assert.ok(st, `${id}: step ${key} is not in the journal`);
      assert.equal(st.state, "complete", `${id}: step ${key} is ${st.state}`);
      const committed = st.value as { v: number; life: number; attempt: number };
      assert.equal(committed.attempt, st.attempts, `${id}: step ${key} result came from attempt ${committed.attempt}, the journal says ${st.attempts}`);
      committedByLife.set(committed.life, (committedByLife.get(committed.life) ?? 0) + 1);

      const ran = execs.get(`${id} ${key}`) ?? [];
      assert.ok(ran.length >= 1, `${id}: step ${key} committed a result but its body never ran`);
      assert.ok(
        ran.some((r) => r.life === committed.life && r.attempt === committed.attempt),
        `${id}: step ${key} committed a result of life ${committed.life} attempt ${committed.attempt}, but no such body execution was logged`,
      );
      const after = ran.filter((r) => r.life > committed.life);
      assert.deepEqual(after, [], `${id}: step ${key} ran again after its result was committed by life ${committed.life}`);
      const higher = ran.filter((r) => r.attempt > committed.attempt);
      assert.deepEqual(higher, [], `${id}: step ${key} ran an attempt beyond the committed attempt ${committed.attempt}`);
      // within the committing life a body runs once per attempt; repeats of the same attempt only
      // come from lives that died before committing it
      const sameLife = ran.filter((r) => r.life === committed.life);
      assert.equal(new Set(sameLife.map((r) => r.attempt)).size, sameLife.length, `${id}: step ${key} ran the same attempt twice in life ${committed.life}`);
      const earlierLives = new Set(ran.filter((r) => r.life < committed.life).map((r) => r.life));
      assert.ok(earlierLives.size <= kills.length, `${id}: step ${key} re-ran in more lives than there were kills`);
      reExecutedBeforeCommit += ran.length - 1;
    }
  }
  const lives = [...committedByLife.keys()].sort((a, b) => a - b);
  t.diagnostic(`kills: ${kills.map((k) => `${k.life}@${k.afterMs}ms/${k.from}`).join(" ")}`);
  t.diagnostic(`step results committed per life: ${lives.map((l) => `${l}:${committedByLife.get(l)}`).join(" ")}`);
  t.diagnostic(`body executions ${lines.length} for ${INSTANCES * STEP_KEYS.length} steps; ${reExecutedBeforeCommit} re-ran after a kill before their commit; ${failedAttempts} failed attempts`);
  for (const [msg, k] of failures) t.diagnostic(`failed attempt x${k}: ${msg}`);
  t.diagnostic(`time: kill phase ${(killMs / 1000).toFixed(1)} s, final life ${(finalMs / 1000).toFixed(1)} s, total ${((performance.now() - t0) / 1000).toFixed(1)} s`);
  assert.ok(kills.length >= 10);
  // the kills must have landed mid-work: results committed by several killed lives
  assert.ok(lives.filter((l) => l < finalLife).length >= 3, `only lives ${lives.join(",")} committed results; the kills did not interrupt work`);
  passed = true;
});
