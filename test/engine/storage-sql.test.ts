// ctx.storage.sql from workflow code, through the engine: the Durable Objects cursor API, writes
// atomic with their step (a failed attempt leaves nothing, its retry sees the old state), writes
// outside steps refused, reads outside steps allowed, limits, and no file for instances that never
// write. The crash side (kill -9 between the two commits) is in test/crash/storage-crash.test.ts.
import { test } from "node:test";
import assert from "node:assert/strict";
import { existsSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { deploy, open, until, wf, SECOND } from "./helpers.ts";

const LIMIT = { timeout: 20_000 };

test("cursor API: toArray, iteration, one(), raw(), columnNames, rowsRead/rowsWritten, blobs, transactionSync", LIMIT, async (t) => {
  const h = await open(t);
  await deploy(h.engine, "cur", wf(`
    return await step.do("all", async () => {
      const sql = this.ctx.storage.sql;
      sql.exec("CREATE TABLE t (id INTEGER PRIMARY KEY, name TEXT, data BLOB)");
      const ins = sql.exec("INSERT INTO t (name, data) VALUES (?, ?), (?, ?)", "a", new Uint8Array([1, 2, 3]), "b", null);
      const c = sql.exec("SELECT id, name FROM t ORDER BY id");
      const iterated = [];
      for (const row of c) iterated.push(row);
      const again = sql.exec("SELECT name FROM t ORDER BY id");
      const first = again.next().value;
      const rest = again.toArray();
      let none = "", many = "";
      try { sql.exec("SELECT * FROM t WHERE id = 99").one(); } catch (e) { none = e.message; }
      try { sql.exec("SELECT * FROM t").one(); } catch (e) { many = e.message; }
      const raw = [...sql.exec("SELECT id, name FROM t ORDER BY id").raw()];
      const blob = sql.exec("SELECT data FROM t WHERE name = 'a'").one().data;
      let rolledBack = "";
      try {
        this.ctx.storage.transactionSync(() => { sql.exec("INSERT INTO t (name) VALUES ('c')"); throw new Error("undo"); });
      } catch (e) { rolledBack = e.message; }
      const kept = this.ctx.storage.transactionSync(() => { sql.exec("INSERT INTO t (name) VALUES ('d')"); return "ok"; });
      return {
        insWritten: ins.rowsWritten, cols: c.columnNames, iterated, rowsRead: c.rowsRead, first, rest, none, many, raw,
        blobIsArrayBuffer: blob instanceof ArrayBuffer, blob: [...new Uint8Array(blob)], rolledBack, kept,
        names: sql.exec("SELECT name FROM t ORDER BY id").toArray().map((r) => r.name),
        one: sql.exec("SELECT COUNT(*) AS n FROM t").one().n,
        size: sql.databaseSize > 0,
      };
    });`));
  const s = await (await h.engine.workflow("acme", "cur").create()).waitFor();
  assert.equal(s.status, "complete", JSON.stringify(s.error));
  assert.deepEqual(s.output, {
    insWritten: 2, cols: ["id", "name"], iterated: [{ id: 1, name: "a" }, { id: 2, name: "b" }], rowsRead: 2,
    first: { name: "a" }, rest: [{ name: "b" }],
    none: "Expected exactly one result from SQL query, but got no results.",
    many: "Expected exactly one result from SQL query, but got multiple results.",
    raw: [[1, "a"], [2, "b"]], blobIsArrayBuffer: true, blob: [1, 2, 3], rolledBack: "undo", kept: "ok",
    names: ["a", "b", "d"], one: 3, size: true,
  });
});

test("a failed attempt's writes are rolled back; its retry sees the state before it; the success commits", LIMIT, async (t) => {
  const h = await open(t);
  await deploy(h.engine, "retry", wf(`
    await step.do("schema", async () => { this.ctx.storage.sql.exec("CREATE TABLE log (what TEXT)"); });
    const seen = await step.do("flaky", { retries: { limit: 2, delay: "1 second", backoff: "constant" } }, async (ctx) => {
      const before = this.ctx.storage.sql.exec("SELECT COUNT(*) AS n FROM log").one().n;
      this.ctx.storage.sql.exec("INSERT INTO log VALUES (?)", "attempt " + ctx.attempt);
      if (ctx.attempt < 3) throw new Error("boom " + ctx.attempt);
      return before;
    });
    return { seen, rows: this.ctx.storage.sql.exec("SELECT what FROM log").toArray().map((r) => r.what) };`));
  const inst = await h.engine.workflow("acme", "retry").create();
  await until(async () => (await inst.describe()).steps.some((x) => x.type === "step" && x.name === "flaky" && x.attempts.filter((a) => a.success === false).length >= 1), "first failure"); // failed, not just started
  h.clock.advance(SECOND);
  await until(async () => (await inst.describe()).steps.some((x) => x.type === "step" && x.name === "flaky" && x.attempts.filter((a) => a.success === false).length >= 2), "second failure");
  h.clock.advance(SECOND);
  const s = await inst.waitFor();
  assert.equal(s.status, "complete", JSON.stringify(s.error));
  assert.deepEqual(s.output, { seen: 0, rows: ["attempt 3"] }, "each retry started from the state before the first attempt");
  const q = await inst.query("SELECT what FROM log");
  assert.deepEqual(q.rows, [["attempt 3"]], "the host sees the committed state");
});

test("writes outside steps are refused with a message that says to use a step; reads outside steps work", LIMIT, async (t) => {
  const h = await open(t);
  await deploy(h.engine, "outside", wf(`
    await step.do("make", async () => { this.ctx.storage.sql.exec("CREATE TABLE t (x)"); this.ctx.storage.sql.exec("INSERT INTO t VALUES (1)"); });
    const n = this.ctx.storage.sql.exec("SELECT COUNT(*) AS n FROM t").one().n;
    let refused = null;
    try { this.ctx.storage.sql.exec("INSERT INTO t VALUES (2)"); } catch (e) { refused = { code: e.code, message: e.message }; }
    let ddl = null;
    try { this.ctx.storage.sql.exec("DROP TABLE t"); } catch (e) { ddl = e.code; }
    return { n, refused, ddl, after: this.ctx.storage.sql.exec("SELECT COUNT(*) AS n FROM t").one().n };`));
  const s = await (await h.engine.workflow("acme", "outside").create()).waitFor();
  assert.equal(s.status, "complete", JSON.stringify(s.error));
  const o = s.output as { n: number; refused: { code: string; message: string }; ddl: string; after: number };
  assert.equal(o.n, 1);
  assert.equal(o.refused.code, "storage_read_only");
  assert.match(o.refused.message, /outside step\.do/);
  assert.match(o.refused.message, /step\.do callback/);
  assert.equal(o.ddl, "storage_read_only");
  assert.equal(o.after, 1, "nothing was written");
});

test("steps running at once cannot write (their writes could not be told apart); one at a time they can", LIMIT, async (t) => {
  const h = await open(t);
  // both steps try their write while the other one is still running, then meet at a barrier
  let arrived = 0;
  let open2!: () => void;
  const both = new Promise<void>((r) => (open2 = r));
  const barrier = async () => {
    if (++arrived === 2) open2();
    await both;
  };
  await deploy(h.engine, "par", wf(`
    await step.do("schema", async () => { this.ctx.storage.sql.exec("CREATE TABLE t (x)"); });
    const r = await Promise.all(["a", "b"].map((n) => step.do(n, { retries: { limit: 0, delay: 1 } }, async () => {
      await this.env.tick();
      let out;
      try { this.ctx.storage.sql.exec("INSERT INTO t VALUES (?)", n); out = "wrote"; } catch (e) { out = e.code + ": " + e.message; }
      await this.env.barrier();
      return out;
    })));
    const alone = await step.do("alone", async () => this.ctx.storage.sql.exec("INSERT INTO t VALUES ('c')").rowsWritten);
    return { r, alone, n: this.ctx.storage.sql.exec("SELECT COUNT(*) AS n FROM t").one().n };`), { env: { barrier, tick: async () => undefined } });
  const s = await (await h.engine.workflow("acme", "par").create()).waitFor();
  assert.equal(s.status, "complete", JSON.stringify(s.error));
  const o = s.output as { r: string[]; alone: number; n: number };
  for (const x of o.r) assert.match(x, /^storage_read_only: .*2 steps are running at once \(a, b\)/);
  assert.equal(o.alone, 1);
  assert.equal(o.n, 1, "only the write of the step that ran alone");
});

test("an instance that never touches storage has no database file; reads of one that never wrote see an empty database", LIMIT, async (t) => {
  const h = await open(t);
  await deploy(h.engine, "none", wf(`
    await step.do("a", async () => 1);
    let err = "";
    try { this.ctx.storage.sql.exec("SELECT * FROM missing"); } catch (e) { err = e.code; }
    return { tables: this.ctx.storage.sql.exec("SELECT name FROM sqlite_master").toArray().length, err, size: this.ctx.storage.sql.databaseSize };`));
  const wfb = h.engine.workflow("acme", "none");
  const insts = await wfb.createBatch(Array.from({ length: 20 }, () => ({})));
  for (const i of insts) {
    const s = await i.waitFor();
    assert.deepEqual(s.output, { tables: 0, err: "sql_error", size: 0 });
  }
  const sqlDir = join(h.dataDir, "sql");
  assert.equal(existsSync(sqlDir) ? readdirSync(sqlDir).length : 0, 0, "no file was made");
});

test("the database size limit: a clear error, the step fails without retrying, the data before it stays", LIMIT, async (t) => {
  const h = await open(t);
  await deploy(h.engine, "big", wf(`
    await step.do("fill", async () => {
      this.ctx.storage.sql.exec("CREATE TABLE t (b BLOB)");
      this.ctx.storage.sql.exec("INSERT INTO t VALUES (zeroblob(1000))");
    });
    try {
      await step.do("overflow", async () => { for (let i = 0; i < 1000; i++) this.ctx.storage.sql.exec("INSERT INTO t VALUES (zeroblob(4000))"); });
    } catch (e) {
      return { code: e.code, message: e.message, rows: this.ctx.storage.sql.exec("SELECT COUNT(*) AS n FROM t").one().n };
    }
    return "no error";`), { limits: { sqlBytes: 128 * 1024 } });
  const inst = await h.engine.workflow("acme", "big").create();
  const s = await inst.waitFor();
  assert.equal(s.status, "complete", JSON.stringify(s.error));
  const o = s.output as { code: string; message: string; rows: number };
  assert.equal(o.code, "storage_limit");
  assert.match(o.message, /131072 bytes/);
  assert.match(o.message, /limits\.sqlBytes/);
  assert.equal(o.rows, 1, "none of the failed step's rows remain");
  const d = await inst.describe();
  const over = d.steps.find((x) => x.type === "step" && x.name === "overflow");
  assert.equal(over && "attempts" in over ? over.attempts.length : -1, 1, "a full database is not retried");
});

test("tenant SQL cannot reach files or the engine's bookkeeping: ATTACH, VACUUM INTO, pragmas, hidden tables", LIMIT, async (t) => {
  const h = await open(t);
  await deploy(h.engine, "deny", wf(`
    await step.do("make", async () => { this.ctx.storage.sql.exec("CREATE TABLE t (x)"); });
    return await step.do("try", async () => {
      const sql = this.ctx.storage.sql;
      const out = {};
      for (const q of ["ATTACH DATABASE '/tmp/weft-evil.db' AS evil", "VACUUM INTO '/tmp/weft-evil2.db'", "PRAGMA journal_mode=DELETE", "PRAGMA writable_schema=1", "SELECT * FROM _weft_meta"]) {
        try { sql.exec(q); out[q] = "ran"; } catch (e) { out[q] = e.code; }
      }
      return out;
    });`));
  const s = await (await h.engine.workflow("acme", "deny").create()).waitFor();
  assert.equal(s.status, "complete", JSON.stringify(s.error));
  for (const [q, code] of Object.entries(s.output as Record<string, string>)) assert.equal(code, "storage_denied", q);
  assert.equal(existsSync("/tmp/weft-evil.db") || existsSync("/tmp/weft-evil2.db"), false);
});

test("deleting an instance removes its database file", LIMIT, async (t) => {
  const h = await open(t);
  await deploy(h.engine, "del", wf(`await step.do("w", async () => { this.ctx.storage.sql.exec("CREATE TABLE t (x)"); });`));
  const inst = await h.engine.workflow("acme", "del").create();
  await inst.waitFor();
  const file = join(h.dataDir, "sql", `${inst.record.pk}.sqlite`);
  assert.equal(existsSync(file), true);
  await inst.delete();
  assert.equal(existsSync(file), false);
  assert.equal(existsSync(file + "-wal"), false);
});

test("the store holds each instance's database: a local copy that is lost or stale is rebuilt from it (a copy ahead of it: test/crash), and a restart keeps it", LIMIT, async (t) => {
  const h = await open(t);
  await deploy(h.engine, "keep", wf(`
    await step.do("schema", async () => { this.ctx.storage.sql.exec("CREATE TABLE IF NOT EXISTS t (x); CREATE TABLE IF NOT EXISTS nokey (v TEXT); CREATE INDEX IF NOT EXISTS tx ON t (x)"); });
    await step.do("fill", async () => {
      for (let i = 1; i <= 200; i++) this.ctx.storage.sql.exec("INSERT INTO t VALUES (?)", i);
      this.ctx.storage.sql.exec("INSERT INTO nokey VALUES ('a'), ('b')");
    });
    const ev = await step.waitForEvent("go", { type: "go", timeout: "1 hour" });
    return await step.do("sum", async () => {
      this.ctx.storage.sql.exec("INSERT INTO t VALUES (?)", ev.payload.n);
      const r = this.ctx.storage.sql.exec("SELECT SUM(x) AS s, (SELECT COUNT(*) FROM nokey) AS k FROM t").one();
      return [r.s, r.k];
    });`));
  const wfl = h.engine.workflow("acme", "keep");
  const lost = await wfl.create({ id: "lost" });
  const stale = await wfl.create({ id: "stale" });
  for (const i of [lost, stale]) await until(async () => (await i.status()).status === "waiting", "waiting for the event");
  const file = (pk: number) => join(h.dataDir, "sql", `${pk}.sqlite`);
  assert.equal((await h.engine.store.getInstanceByPk(lost.record.pk))!.sqlSeq, 2, "two commits journaled");
  // stale: the copy of an earlier version (as a node that ran it long ago would hold)
  const { copyFileSync, rmSync } = await import("node:fs");
  await h.engine.close();
  const early = join(h.dataDir, "early.sqlite");
  rmSync(file(stale.record.pk) + "-shm", { force: true });
  copyFileSync(file(stale.record.pk), early);
  for (const f of [file(lost.record.pk), file(lost.record.pk) + "-wal", file(lost.record.pk) + "-shm"]) rmSync(f, { force: true });
  await h.reopen();
  for (const f of ["", "-wal"]) rmSync(file(stale.record.pk) + f, { force: true });
  copyFileSync(early, file(stale.record.pk));
  const { DatabaseSync } = await import("node:sqlite");
  const d = new DatabaseSync(file(stale.record.pk));
  d.exec("DELETE FROM t WHERE x > 10; UPDATE _weft_meta SET v = 1");
  d.close();
  for (const id of ["lost", "stale"]) {
    const i = await h.engine.workflow("acme", "keep").get(id);
    await i.sendEvent({ type: "go", payload: { n: 1000 } });
    const s = await i.waitFor();
    assert.equal(s.status, "complete", JSON.stringify(s.error));
    assert.deepEqual(s.output, [20100 + 1000, 2], `${id}: every row of every journaled commit, once`);
  }
  // a restart from the first step keeps the database (it is not part of the journal it cuts)
  const again = await h.engine.workflow("acme", "keep").get("lost");
  await again.restart();
  await until(async () => (await again.status()).status === "waiting", "waiting again");
  await again.sendEvent({ type: "go", payload: { n: 1 } });
  const r = await again.waitFor();
  assert.equal(r.status, "complete", JSON.stringify(r.error));
  assert.deepEqual(r.output, [20100 * 2 + 1000 + 1, 4], "the restart's steps added to the rows that were there");
});

// Also with every activation on the isolate's thread: there a timed-out attempt's body may still be
// running when the host throws its changes away, and its late writes must be refused, not kept.
for (const [mode, opts] of [[", synchronous activations", { syncBudgetMs: 20 }], ["", {}]] as const) {
test(`an attempt that times out or is cut off at its CPU limit leaves none of its writes (SQL and files)${mode}`, LIMIT, async (t) => {
  const h = await open(t, opts);
  await deploy(h.engine, "cut", wf(`
    await step.do("schema", async () => { this.ctx.storage.sql.exec("CREATE TABLE t (what TEXT)"); });
    const timedOut = await step.do("slow", { timeout: "1 second", retries: { limit: 1, delay: "1 second", backoff: "constant" } }, async (ctx) => {
      const before = this.ctx.storage.sql.exec("SELECT COUNT(*) AS n FROM t").one().n;
      const files = await this.ctx.fs.readdir("");
      this.ctx.storage.sql.exec("INSERT INTO t VALUES (?)", "slow " + ctx.attempt);
      await this.ctx.fs.writeFile("slow-" + ctx.attempt, "x");
      if (ctx.attempt === 1) await this.env.never();
      return { before, files };
    });
    const spun = await step.do("spin", { retries: { limit: 1, delay: 1, backoff: "constant" } }, async (ctx) => {
      const before = this.ctx.storage.sql.exec("SELECT what FROM t ORDER BY rowid").toArray().map((r) => r.what);
      this.ctx.storage.sql.exec("INSERT INTO t VALUES (?)", "spin " + ctx.attempt);
      if (ctx.attempt === 1) for (;;) {}
      return before;
    });
    return { timedOut, spun, rows: this.ctx.storage.sql.exec("SELECT what FROM t ORDER BY rowid").toArray().map((r) => r.what), files: await this.ctx.fs.readdir("") };`),
  { env: { never: () => new Promise(() => {}) }, limits: { cpuMsPerStep: 200 } });
  const inst = await h.engine.workflow("acme", "cut").create();
  await until(async () => (await inst.describe()).steps.some((x) => x.type === "step" && x.name === "slow"), "the slow step to start");
  h.clock.advance(SECOND); // attempt 1 times out
  await until(async () => (await h.engine.store.history(inst.record.pk, 0)).some((e) => e.type === "attempt_errored"), "the timeout");
  h.clock.advance(SECOND); // the retry
  await until(async () => (await h.engine.store.history(inst.record.pk, 0)).filter((e) => e.type === "attempt_errored").length >= 2, "the CPU limit", 15_000);
  h.clock.advance(SECOND); // the retry
  const s = await inst.waitFor();
  assert.equal(s.status, "complete", JSON.stringify(s.error));
  assert.deepEqual(s.output, {
    timedOut: { before: 0, files: [] },
    spun: ["slow 2"],
    rows: ["slow 2", "spin 2"],
    files: ["slow-2"],
  });
  const d = await inst.describe();
  const spin = d.steps.find((x) => x.type === "step" && x.name === "spin");
  assert.match(JSON.stringify(spin), /cpu/i, "the first spin attempt failed at the CPU limit");
});
}

test("SQL works in runs whose activations run asynchronously (after a preemption), with the same atomicity", LIMIT, async (t) => {
  const h = await open(t, { syncBudgetMs: 20 });
  await deploy(h.engine, "heavy", wf(`
    await step.do("schema", async () => { this.ctx.storage.sql.exec("CREATE TABLE t (x)"); });
    // far longer than the 20 ms budget of a synchronous activation on any machine (3e7 was ~20 ms on a
    // quiet one, so the cut-off did not always come); the guest clock is frozen: count instead
    const spin = () => { let x = 0; for (let i = 0; i < 2e8; i++) x += i; return x; };
    for (let i = 0; i < 3; i++) await step.do("s" + i, async () => { spin(); this.ctx.storage.sql.exec("INSERT INTO t VALUES (?)", i); return i; });
    return [...this.ctx.storage.sql.exec("SELECT x FROM t ORDER BY x").raw()];`));
  const before = h.engine.metrics.preemptions;
  const s = await (await h.engine.workflow("acme", "heavy").create()).waitFor();
  assert.equal(s.status, "complete", JSON.stringify(s.error));
  assert.deepEqual(s.output, [[0], [1], [2]]);
  assert.ok(h.engine.metrics.preemptions > before, "the run was preempted and continued with asynchronous activations");
});

test("a statement that runs too long is stopped at limits.sqlMsPerQuery; the engine keeps serving everyone meanwhile; neighbours on its SQL worker retry", { timeout: 30_000 }, async (t) => {
  const h = await open(t);
  // the guest code awaits env.go() so the test decides when the runaway statement starts
  let go!: () => void;
  const started = new Promise<void>((r) => (go = r));
  await deploy(h.engine, "runaway", wf(`
    await step.do("schema", async () => { this.ctx.storage.sql.exec("CREATE TABLE t (x)"); });
    try {
      await step.do("spin", async () => {
        await this.env.go();
        this.ctx.storage.sql.exec("INSERT INTO t VALUES (1)");
        // ~3 s of work: finite, so the given-up worker thread ends by itself (SQLite cannot be interrupted from here)
        return this.ctx.storage.sql.exec("WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < 25000000) SELECT count(*) AS n FROM c").one().n;
      });
    } catch (e) {
      return { code: e.code, message: e.message, rows: this.ctx.storage.sql.exec("SELECT COUNT(*) AS n FROM t").one().n };
    }
    return "no error";`), { env: { go: () => started }, limits: { sqlMsPerQuery: 300 } });
  await deploy(h.engine, "steady", wf(`
    let n = 0;
    for (let i = 0; i < 20; i++) n += await step.do("s" + i, async () => { this.ctx.storage.sql.exec("CREATE TABLE IF NOT EXISTS t (x)"); this.ctx.storage.sql.exec("INSERT INTO t VALUES (?)", i); return 1; });
    return { n, rows: this.ctx.storage.sql.exec("SELECT COUNT(*) AS c FROM t").one().c };`));
  const runaway = await h.engine.workflow("acme", "runaway").create();
  await until(async () => (await runaway.describe()).steps.some((s) => s.type === "step" && s.name === "spin"), "the spin step to start");
  const t0 = performance.now();
  go();
  // meanwhile, other instances (some share the runaway's SQL worker) run 20 SQL steps each
  const steady = await h.engine.workflow("acme", "steady").createBatch(Array.from({ length: 4 }, () => ({})));
  const results = await Promise.all(steady.map((i) => i.waitFor()));
  for (const r of results) assert.deepEqual(r.output, { n: 20, rows: 20 }, "every step's row exactly once, retried steps included");
  const s = await runaway.waitFor();
  const took = performance.now() - t0;
  assert.equal(s.status, "complete", JSON.stringify(s.error));
  const o = s.output as { code: string; message: string; rows: number };
  assert.equal(o.code, "storage_limit");
  assert.match(o.message, /longer than 300 ms \(limits\.sqlMsPerQuery\)/);
  assert.equal(o.rows, 0, "the stopped attempt's insert is rolled back");
  assert.ok(took < 10_000, `stopped in ${took.toFixed(0)} ms`);
});

// A COMMIT the engine stops waiting for at limits.sqlMsPerQuery (a slow disk, a starved thread):
// the attempt is not journaled and the run replays. Its outcome in the local copy is unknown — and
// a COMMIT already inside SQLite when its thread is given up still lands, later — so the replay
// starts from a new copy rebuilt from the store (pool.ts isUncertain), never from the old file. Here
// the delay is before the COMMIT (the given-up thread is stopped there), so what is shown is that
// the replay's result and the store's database are whole either way.
test("a COMMIT given up at its time limit: the run replays from a copy rebuilt from the store, and the store's database has every step's change", LIMIT, async (t) => {
  const h = await open(t, { hooks: { sqlCommitDelay: { ms: 1500, times: 1 } } });
  await deploy(h.engine, "late", wf(`
    await step.do("schema", async () => { this.ctx.storage.sql.exec("CREATE TABLE IF NOT EXISTS t (step INTEGER)"); });
    await step.do("s1", async () => { this.ctx.storage.sql.exec("INSERT INTO t VALUES (1)"); });
    return await step.do("count", async () => this.ctx.storage.sql.exec("SELECT COUNT(*) AS n FROM t").one().n);`), { limits: { sqlMsPerQuery: 200 } });
  const inst = await h.engine.workflow("acme", "late").create();
  const s = await inst.waitFor();
  assert.equal(s.status, "complete", JSON.stringify(s.error));
  assert.equal(s.output, 1);
  const rec = (await h.engine.store.getInstanceByPk(inst.record.pk))!;
  assert.equal(rec.sqlSeq, 2, "both writing steps journaled their pages");
  // once the abandoned thread has ended, the store's database alone
  await until(() => h.engine.data.stuckSql === 0, "the abandoned SQL thread to end", 10_000);
  h.engine.data.removeSql(inst.record.pk);
  assert.deepEqual((await inst.query("SELECT step FROM t")).rows, [[1]], "the database rebuilt from the store has the table and the one row");
});
