// kill -9 while control actions race the step bodies: a child process (mixed-child.ts) runs
// instances with side effects, SQL, files, a sleep and an event wait, and — seeded, so a failure
// replays — pauses, resumes, restarts, deletes and re-creates them and sends events early, late and
// twice. It is killed with SIGKILL at random moments (during start-up and recovery, and mid-work);
// a final life drives everything to its end. Then:
//  - every instance is complete with the output its params and event imply, in its last generation;
//  - a re-created instance saw nothing of its deleted predecessor (no rows, no files);
//  - exactly-once result within a restart epoch: no body of a committed step ran again after the
//    life that committed it, nor with a later attempt in that life.
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawn, type ChildProcess } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { Engine } from "../../src/index.ts";
import { KEYS, TENANT, WORKFLOW, expected, generations } from "./mixed-child.ts";

const CHILD = fileURLToPath(new URL("./mixed-child.ts", import.meta.url));
const COUNT = Number(process.env.WEFT_MIXED_INSTANCES ?? 40);
const KILLS = Number(process.env.WEFT_MIXED_KILLS ?? 8);
const SEED = Number(process.env.WEFT_MIXED_SEED ?? Math.floor(Math.random() * 1e6));

function life(dataDir: string, n: number, mode: "kill" | "final"): { child: ChildProcess; exited: Promise<{ code: number | null; signal: string | null }>; ready: Promise<boolean>; out: () => string } {
  const child = spawn(process.execPath, [CHILD, dataDir, String(n), mode, String(COUNT), String(SEED)], { stdio: ["ignore", "pipe", "pipe"] });
  let out = "";
  let ready!: (v: boolean) => void;
  const readyP = new Promise<boolean>((r) => (ready = r));
  child.stdout!.on("data", (d: Buffer) => {
    out += d.toString();
    if (out.includes("deployed")) ready(true);
  });
  child.stderr!.on("data", (d: Buffer) => (out += d.toString()));
  const exited = new Promise<{ code: number | null; signal: string | null }>((r) => child.on("exit", (code, signal) => (ready(false), r({ code, signal }))));
  return { child, exited, ready: readyP, out: () => out };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
/** an upper bound in a race: does not keep the process alive once the race is decided */
const bound = <T>(ms: number, v: T) => new Promise<T>((r) => setTimeout(() => r(v), ms).unref());
const between = (lo: number, hi: number) => lo + Math.floor(Math.random() * (hi - lo + 1));

test(`kill -9 amid deletes, restarts, pause/resume and events (seed ${SEED}): every instance completes right, nothing leaks, no committed step runs again`, { timeout: Number(process.env.WEFT_MIXED_TIMEOUT_MS ?? 150_000) }, async (t) => {
  const dataDir = mkdtempSync(join(tmpdir(), "weft-mixed-"));
  t.after(() => rmSync(dataDir, { recursive: true, force: true }));
  t.diagnostic(`seed ${SEED} (WEFT_MIXED_SEED replays it)`);
  for (let n = 1; n <= KILLS; n++) {
    const l = life(dataDir, n, "kill");
    if (n % 3 === 2) await sleep(between(80, 400)); // during start-up and recovery
    else {
      assert.ok(await Promise.race([l.ready, bound(20_000, false)]), `life ${n} did not start:\n${l.out()}`);
      await sleep(between(200, 900));
    }
    assert.equal(l.child.exitCode, null, `life ${n} ended before it was killed:\n${l.out()}`);
    l.child.kill("SIGKILL");
    assert.equal((await l.exited).signal, "SIGKILL");
  }
  const killedAt = performance.now();
  const last = life(dataDir, KILLS + 1, "final");
  const end = await Promise.race([last.exited, bound(90_000, { code: -1, signal: null })]);
  if (end.code === -1) last.child.kill("SIGKILL");
  assert.equal(end.code, 0, `the final life did not finish every instance:\n${last.out().slice(-4000)}`);
  t.diagnostic(`final life: ${((performance.now() - killedAt) / 1000).toFixed(1)} s`);

  const engine = await Engine.open({ dataDir, recover: false });
  t.after(() => engine.close());
  const wf = engine.workflow(TENANT, WORKFLOW);
  const gens = generations(dataDir, COUNT);
  const effects = readFileSync(join(dataDir, "effects.log"), "utf8").split("\n").filter(Boolean).map((l) => l.split(" "));
  let checked = 0;
  for (let n = 0; n < COUNT; n++) {
    const inst = await wf.get(`i${n}`);
    const s = await inst.status();
    assert.equal(s.status, "complete", `i${n}: ${JSON.stringify(s)}`);
    const gen = (inst.record.params as { gen: number }).gen;
    assert.equal(gen, gens[n], `i${n} is in generation ${gen}, the action log says ${gens[n]}`);
    assert.deepEqual(s.output, expected(n, gen), `i${n}: a wrong output (a leak from a deleted generation shows in fresh)`);
    const steps = (await inst.describe()).steps.filter((x) => x.type === "step") as { name: string; count: number; output: { life: number; attempt: number } | number }[];
    const epoch = steps.find((x) => x.name === "epoch")!.output as number;
    for (const key of KEYS) {
      const [name, count] = key.split("#");
      const st = steps.find((x) => x.name === name && x.count === Number(count));
      assert.ok(st, `i${n} has no step ${key}`);
      const { life: committedLife, attempt } = st.output as { life: number; attempt: number };
      const runs = effects.filter((e) => e[0] === `i${n}` && Number(e[1]) === gen && Number(e[2]) === epoch && e[3] === key);
      for (const e of runs) {
        const [l, a] = [Number(e[5]), Number(e[4])];
        assert.ok(l < committedLife || (l === committedLife && a <= attempt), `i${n} gen ${gen} epoch ${epoch} ${key}: committed by life ${committedLife} attempt ${attempt}, but its body ran again in life ${l} attempt ${a}`);
      }
      checked++;
    }
  }
  const actions = readFileSync(join(dataDir, "actions.log"), "utf8");
  t.diagnostic(`${checked} committed steps checked; actions: ${(actions.match(/^restart/gm) ?? []).length} restarts, ${(actions.match(/^delete/gm) ?? []).length} deletes`);
});
