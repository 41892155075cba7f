// Crash points on purpose: for each named point (core/crash-points.ts) a child process is killed
// with SIGKILL exactly there, and a new engine on the same data directory must keep every guarantee:
// the instance continues at once (nothing waits for a timeout or a lease), no committed step runs
// again, and a deleted instance leaves nothing behind for the next one.
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { Engine, type WorkflowInstance } from "../../src/index.ts";
import { SCENARIOS, TENANT, deploy } from "./points-child.ts";

const CHILD = fileURLToPath(new URL("./points-child.ts", import.meta.url));

async function killedAt(dataDir: string, scenario: string): Promise<string> {
  const child = spawn(process.execPath, [CHILD, dataDir, scenario], { stdio: ["ignore", "pipe", "pipe"] });
  let out = "";
  child.stdout!.on("data", (d: Buffer) => (out += d.toString()));
  child.stderr!.on("data", (d: Buffer) => (out += d.toString()));
  const { signal } = await new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((r) => child.on("exit", (code, signal) => r({ code, signal })));
  assert.equal(signal, "SIGKILL", `the child was not killed at ${SCENARIOS[scenario]!.point}:\n${out}`);
  return out;
}

function hits(dataDir: string): string[] {
  const f = join(dataDir, "effects.log");
  return existsSync(f) ? readFileSync(f, "utf8").split("\n").filter(Boolean) : [];
}

/** bounded wait for the instance's end: a lost wake-up would leave it waiting for an hour */
async function finished(inst: WorkflowInstance, ms: number, what: string) {
  let timer!: NodeJS.Timeout;
  try {
    return await Promise.race([inst.waitFor(), new Promise<never>((_, rej) => (timer = setTimeout(() => rej(new Error(what)), ms)))]);
  } finally {
    clearTimeout(timer);
  }
}

async function reopen(t: { after(fn: () => unknown): void }, dataDir: string, scenario: string): Promise<Engine> {
  const engine = await Engine.open({ dataDir, suspendAfterMs: 100 });
  t.after(() => engine.close());
  await deploy(engine, dataDir, scenario);
  return engine;
}

function tmp(t: { after(fn: () => unknown): void }): string {
  const dir = mkdtempSync(join(tmpdir(), "weft-points-"));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

test("after-event-delivery: the delivered event wakes the instance after the restart (not its 1 h timeout)", { timeout: 60_000 }, async (t) => {
  const dir = tmp(t);
  await killedAt(dir, "event");
  const engine = await reopen(t, dir, "event");
  const inst = await engine.workflow(TENANT, "waits").get("i1");
  const s = await finished(inst, 15_000, "the instance did not wake within 15 s of the restart: the event's wake-up was lost");
  assert.equal(s.status, "complete", JSON.stringify(s.error));
  assert.equal(s.output, 42);
  assert.deepEqual(hits(dir), ["before", "after"]);
});

test("after-journal-commit: the committed step never runs again; the instance completes", { timeout: 60_000 }, async (t) => {
  const dir = tmp(t);
  await killedAt(dir, "journal");
  assert.deepEqual(hits(dir), ["one"]);
  const engine = await reopen(t, dir, "journal");
  const s = await finished(await engine.workflow(TENANT, "steps").get("i1"), 15_000, "no progress after the restart");
  assert.equal(s.status, "complete");
  assert.equal(s.output, 3);
  assert.deepEqual(hits(dir), ["one", "two"]);
});

test("after-sql-commit: a local SQL commit the journal never got is undone (the copy is rebuilt from the store); the attempt runs again and its row is there once", { timeout: 60_000 }, async (t) => {
  const dir = tmp(t);
  await killedAt(dir, "sql");
  assert.deepEqual(hits(dir), ["insert#1", "insert#2"]);
  const engine = await reopen(t, dir, "sql");
  const inst = await engine.workflow(TENANT, "sql").get("i1");
  const s = await finished(inst, 15_000, "no progress after the restart");
  assert.equal(s.status, "complete", JSON.stringify(s.error));
  assert.equal(s.output, 12, "one row (not two: the first commit of attempt 2 was undone), written by attempt 2");
  assert.deepEqual(hits(dir), ["insert#1", "insert#2", "insert#2"], "attempt 2 never ended in the journal: it runs again as attempt 2");
  const step = (await inst.describe()).steps.find((x) => x.type === "step" && x.name === "insert");
  assert.ok(step && step.type === "step");
  assert.equal(step.success, true);
  assert.deepEqual(step.attempts.map((a) => a.success), [false, true], "the failed first attempt and the successful second one");
});

test("after-claim: an instance claimed by a process that died runs at once on the next one", { timeout: 60_000 }, async (t) => {
  const dir = tmp(t);
  await killedAt(dir, "claim");
  assert.deepEqual(hits(dir), []);
  const engine = await reopen(t, dir, "claim");
  const s = await finished(await engine.workflow(TENANT, "steps").get("i1"), 15_000, "the claimed instance did not continue: its dead claim held it");
  assert.equal(s.status, "complete");
  assert.deepEqual(hits(dir), ["one", "two"]);
});

test("during-delete: a deleted instance leaves nothing behind — no SQL database, no rows — for the next one with its id or another tenant's", { timeout: 60_000 }, async (t) => {
  const dir = tmp(t);
  await killedAt(dir, "delete");
  const engine = await reopen(t, dir, "delete");
  // its SQL database is removed at open (an instance's data never outlives it)
  const sqlDir = join(dir, "sql");
  for (let i = 0; i < 200 && existsSync(sqlDir) && readdirSync(sqlDir).some((f) => f.endsWith(".sqlite")); i++) await new Promise((r) => setTimeout(r, 10));
  assert.deepEqual(existsSync(sqlDir) ? readdirSync(sqlDir).filter((f) => f.endsWith(".sqlite")) : [], []);
  const again = await engine.workflow(TENANT, "secret").create({ id: "x" });
  const s = await finished(again, 15_000, "the new instance did not complete");
  assert.equal(s.status, "complete", JSON.stringify(s.error));
  assert.deepEqual(s.output, [], "the new instance x sees none of the deleted one's rows");
  await engine.deploy({ tenant: "other", workflow: "secret", code: { mainModule: "index.ts", modules: { "index.ts": SCENARIOS.delete!.source } } });
  const other = await engine.workflow("other", "secret").create({ id: "y" });
  assert.deepEqual((await finished(other, 15_000, "other tenant's instance did not complete")).output, []);
  assert.deepEqual((await other.query("SELECT v FROM secrets")).rows, []);
  assert.equal((await (await engine.workflow(TENANT, "secret").get("x")).describe()).steps.length, 1);
});
