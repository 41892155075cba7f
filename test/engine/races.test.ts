// Races between control actions (delete, restart, pause/resume, events) and runs that are starting
// or have a step in flight — the bugs fault injection found when part of the truth lived in memory.
import { test } from "node:test";
import assert from "node:assert/strict";
import { Engine } from "../../src/index.ts";
import type { Store } from "../../src/store/ports.ts";
import { SqliteStore } from "../../src/store/sqlite/store.ts";
import { TENANT, deploy, open, recorder, until, wf } from "./helpers.ts";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

test("resume() while waitingForPause lets the running attempt finish and commit: its body runs once", async (t) => {
  let release!: () => void;
  const gate = new Promise<void>((r) => (release = r));
  const rec = recorder();
  const h = await open(t);
  await deploy(h.engine, "w", wf(`
    const a = await step.do("slow", async () => { await this.env.hit("slow"); await this.env.gate(); return 1; });
    const b = await step.do("next", async () => { await this.env.hit("next"); return 2; });
    return a + b;`), { env: { ...rec.env, gate: () => gate } });
  const inst = await h.engine.workflow(TENANT, "w").create({ id: "p1" });
  await until(() => rec.count("slow") === 1, "the slow step to start");
  await inst.pause();
  assert.equal((await inst.status()).status, "waitingForPause");
  await inst.resume();
  assert.equal((await inst.status()).status, "running");
  release();
  const s = await inst.waitFor();
  assert.equal(s.status, "complete", JSON.stringify(s.error));
  assert.equal(s.output, 3);
  assert.equal(rec.count("slow"), 1, "the in-flight body must not run again after resume()");
  assert.equal(rec.count("next"), 1);
});

test("pause() then resume() while one step commits and another runs: results are delivered, nothing runs twice", async (t) => {
  // repeated: the pause lands at a different moment of the quick step's commit each time (a resume
  // that re-scheduled an attempt whose result was still being written ran its body again)
  const h = await open(t);
  for (let n = 0; n < 15; n++) await pauseResumeOnce(h, n);
});

async function pauseResumeOnce(h: Awaited<ReturnType<typeof open>>, n: number): Promise<void> {
  let release!: () => void;
  const gate = new Promise<void>((r) => (release = r));
  const rec = recorder();
  await deploy(h.engine, `w${n}`, wf(`
    const [a, b] = await Promise.all([
      step.do("quick", async () => { await this.env.hit("quick"); return 1; }),
      step.do("slow", async () => { await this.env.hit("slow"); await this.env.gate(); return 2; }),
    ]);
    return a + b;`), { env: { ...rec.env, gate: () => gate } });
  const inst = await h.engine.workflow(TENANT, `w${n}`).create({ id: "p2" });
  await until(() => rec.count("slow") === 1 && rec.count("quick") === 1, "both steps to start");
  await inst.pause();
  await inst.resume();
  release();
  const s = await inst.waitFor();
  assert.equal(s.status, "complete", JSON.stringify(s.error));
  assert.equal(s.output, 3);
  assert.deepEqual([rec.count("quick"), rec.count("slow")], [1, 1], `round ${n}`);
}

test("restart() right after create() never leaves the instance queued with nothing running", async (t) => {
  const h = await open(t);
  await deploy(h.engine, "w", wf(`return await step.do("a", async () => event.payload.n);`));
  const wfb = h.engine.workflow(TENANT, "w");
  for (let n = 0; n < 25; n++) {
    const inst = await wfb.create({ id: `r${n}`, params: { n } });
    await inst.restart();
    const s = await inst.waitFor();
    assert.equal(s.status, "complete", `r${n}: ${JSON.stringify(s)}`);
    assert.equal(s.output, n);
  }
});

test("a deleted instance leaks nothing into the next one with its id, nor into another tenant's: no rows, events, logs", async (t) => {
  const h = await open(t);
  const source = wf(`
    const seen = await step.do("look", async () => {
      this.ctx.storage.sql.exec("CREATE TABLE IF NOT EXISTS owner (who TEXT)");
      const before = this.ctx.storage.sql.exec("SELECT who FROM owner").toArray().map((r) => r.who);
      this.ctx.storage.sql.exec("INSERT INTO owner VALUES (?)", event.payload.who);
      console.log("log of " + event.payload.who);
      return before;
    });
    const ev = await step.waitForEvent("e", { type: "go", timeout: "1 hour" });
    return { seen, ev: ev.payload };`);
  await deploy(h.engine, "w", source);
  await h.engine.deploy({ tenant: "other", workflow: "w", code: { mainModule: "index.ts", modules: { "index.ts": source } } });
  for (let n = 0; n < 10; n++) {
    const id = `d${n}`;
    const a = await h.engine.workflow(TENANT, "w").create({ id, params: { who: `A${n}` } });
    // the delete races the run that is starting, an event and the run's log lines
    const event = a.sendEvent({ type: "go", payload: `for A${n}` }).catch((e: { code?: string }) => e.code);
    await a.delete();
    await event;
    const b = await h.engine.workflow(TENANT, "w").create({ id, params: { who: `B${n}` } });
    const c = await h.engine.workflow("other", "w").create({ id, params: { who: `C${n}` } });
    await until(async () => (await b.describe()).steps.some((s) => s.type === "waitForEvent"), `${id} to wait`);
    await until(async () => (await c.describe()).steps.some((s) => s.type === "waitForEvent"), `other ${id} to wait`);
    // the event sent to A is not delivered to B: B is still waiting
    assert.equal((await b.describe()).steps.find((s) => s.type === "waitForEvent")!.finished, false, `${id}: A's event reached B`);
    await b.sendEvent({ type: "go", payload: `for B${n}` });
    await c.sendEvent({ type: "go", payload: `for C${n}` });
    assert.deepEqual((await b.waitFor()).output, { seen: [], ev: `for B${n}` });
    assert.deepEqual((await c.waitFor()).output, { seen: [], ev: `for C${n}` });
    assert.deepEqual((await b.query("SELECT who FROM owner")).rows, [[`B${n}`]]);
    assert.deepEqual((await c.query("SELECT who FROM owner")).rows, [[`C${n}`]]);
    await until(async () => (await h.engine.store.logs(b.record.pk, 0, 100)).length > 0, "B's log line");
    const logs = (await h.engine.store.logs(b.record.pk, 0, 100)).map((l) => l.message);
    assert.deepEqual(logs, [`log of B${n}`]);
  }
});

test("an event sent to a deleted instance is refused, not stored for a later one", async (t) => {
  const h = await open(t);
  await deploy(h.engine, "w", wf(`return (await step.waitForEvent("e", { type: "go", timeout: "1 hour" })).payload;`));
  const a = await h.engine.workflow(TENANT, "w").create({ id: "z" });
  await a.delete();
  await assert.rejects(a.sendEvent({ type: "go", payload: 1 }), { code: "not_found" });
});

test("Engine.open serves at once: recovery is background claim work, not a step of open", async (t) => {
  const dataDir = mkdtempSync(join(tmpdir(), "weft-open-"));
  t.after(() => rmSync(dataDir, { recursive: true, force: true }));
  const first = await Engine.open({ dataDir, recover: false });
  const { version } = await first.deploy({ tenant: TENANT, workflow: "w", code: { mainModule: "index.ts", modules: { "index.ts": wf(`return await step.do("a", async () => event.payload.n);`) } } });
  await first.close();
  // 1000 unfinished instances, as a process that died would leave them
  const store = new SqliteStore({ dataDir });
  await store.createInstances(Array.from({ length: 1000 }, (_, n) => ({ tenant: TENANT, workflow: "w", id: `o${n}`, version, params: { n }, metadata: {}, trigger: "api", createdAt: Date.now() })));
  // a store whose run queue does not answer until we say so: open must not wait for it
  let answer!: () => void;
  const held = new Promise<void>((r) => (answer = r));
  let asked = 0;
  const gated = new Proxy(store, {
    get(target, prop, recv) {
      const v = Reflect.get(target, prop, recv);
      if (prop === "due") return async (...args: unknown[]) => (asked++, await held, (v as (...a: unknown[]) => unknown).apply(target, args));
      return typeof v === "function" ? v.bind(target) : v;
    },
  }) as Store;
  const engine = await Engine.open({ dataDir, store: gated });
  t.after(() => engine.close());
  assert.ok(asked >= 1, "the claim loop has started");
  assert.equal((await engine.workflow(TENANT, "w").get("o0")).record.status, "queued", "nothing ran before open returned");
  answer();
  const last = await engine.workflow(TENANT, "w").get("o999");
  assert.equal((await last.waitFor()).output, 999);
  await until(async () => (await store.countByStatus(TENANT, "w")).complete === 1000, "all 1000 to complete", 30_000);
});

// Found by the failover test: the heartbeat found a run's lease gone and stopped it while a step
// body was running (its SQL rolled back at the stop); the body's result arrived next and the stopped
// run journaled it — with no SQL, as the store's fence lets a write of the old epoch through until
// another claim commits. The step counted as done without its CREATE TABLE: every later step failed.
test("a run stopped by its heartbeat (claim gone) while a step body runs journals nothing of it: the next run runs the step again, with its SQL", { timeout: 30_000 }, async (t) => {
  const dir = mkdtempSync(join(tmpdir(), "weft-late-"));
  const base = new SqliteStore({ dataDir: dir });
  // the store as it is, except: once, a heartbeat's answer says the claim is gone (as when another
  // node took it); and the instance's second claim waits for the test (so the late write of the
  // stopped run is not fenced by a new epoch first)
  let loseLease = false;
  let claims = 0;
  let openClaims!: () => void;
  const claimGate = new Promise<void>((r) => (openClaims = r));
  const store = new Proxy(base, {
    get(target, prop, recv) {
      const v = Reflect.get(target, prop, recv);
      if (prop === "claim") {
        return async (...a: Parameters<Store["claim"]>) => {
          if (claims > 0) await claimGate;
          const got = await target.claim(...a);
          if (got && got !== "full") claims++;
          return got;
        };
      }
      if (prop === "extendClaims") {
        return async (...a: Parameters<Store["extendClaims"]>) => {
          const held = await target.extendClaims(...a);
          if (!loseLease) return held;
          loseLease = false;
          return [];
        };
      }
      return typeof v === "function" ? v.bind(target) : v;
    },
  }) as Store;
  const engine = await Engine.open({ dataDir: dir, store, leaseMs: 300, syncBudgetMs: 0 });
  t.after(async () => {
    openClaims();
    await engine.close();
    rmSync(dir, { recursive: true, force: true });
  });
  await deploy(engine, "w", wf(`
    await step.do("schema", { retries: { limit: 0, delay: "1 second" } }, async () => {
      this.ctx.storage.sql.exec("CREATE TABLE IF NOT EXISTS t (x)");
      let x = 0;
      for (let i = 0; i < 3e8; i++) x = (x + i) % 7; // a body still busy when its lease is found gone
      return x;
    });
    await step.do("s1", { retries: { limit: 0, delay: "1 second" } }, async () => { this.ctx.storage.sql.exec("INSERT INTO t VALUES (1)"); });
    return this.ctx.storage.sql.exec("SELECT COUNT(*) AS n FROM t").one().n;`));
  const inst = await engine.workflow(TENANT, "w").create();
  // the body runs on the isolate's thread (syncBudgetMs 0) while this thread goes on; its first SQL
  // write made the instance's database file
  await until(() => existsSync(join(dir, "sql", `${inst.record.pk}.sqlite`)), "the schema step's body to run");
  loseLease = true; // the next heartbeat stops the run
  // the body's result arrives after the stop: dropped (counted), or — the bug — journaled
  await until(async () => engine.metrics.lateResults > 0 || (await engine.store.steps(inst.record.pk)).length > 0, "the stopped run's step result to arrive", 20_000);
  assert.deepEqual((await engine.store.steps(inst.record.pk)).map((s) => [s.name, s.state]), [], "nothing of the stopped run's step is journaled");
  openClaims();
  const s = await inst.waitFor();
  assert.equal(s.status, "complete", JSON.stringify(s.error));
  assert.equal(s.output, 1, "the next run ran the schema step again, with its table");
});

// Found by a CI run of the mixed kill test: an instance due (its sleep over) that no later life ever
// claimed. A due instance dropped on its way to a run — here its claim fails once with an error that
// is not the store's "full/unreachable" — was never looked at again: the wake timer only looks
// ahead. The heartbeat now polls the run queue too.
test("a due instance whose claim failed once for an unexpected reason still runs, within a heartbeat", { timeout: 20_000 }, async (t) => {
  const dir = mkdtempSync(join(tmpdir(), "weft-drop-"));
  const base = new SqliteStore({ dataDir: dir });
  let fail = 1;
  const store = new Proxy(base, {
    get(target, prop, recv) {
      const v = Reflect.get(target, prop, recv);
      if (prop === "claim") {
        return async (...a: Parameters<Store["claim"]>) => {
          if (fail > 0) {
            fail--;
            throw new Error("a claim that failed for a moment");
          }
          return target.claim(...a);
        };
      }
      return typeof v === "function" ? v.bind(target) : v;
    },
  }) as Store;
  const engine = await Engine.open({ dataDir: dir, store, leaseMs: 300 });
  t.after(async () => {
    await engine.close();
    rmSync(dir, { recursive: true, force: true });
  });
  await deploy(engine, "w", wf(`return await step.do("a", async () => 1);`));
  const s = await (await engine.workflow(TENANT, "w").create()).waitFor();
  assert.equal(fail, 0, "the first claim failed");
  assert.deepEqual([s.status, s.output], ["complete", 1]);
});
