// A SQL worker serves the databases of several instances (pk modulo the pool size). When it is given
// up — here because another instance's statement outran its limits.sqlMsPerQuery — every transaction
// open on it is gone. A step attempt whose writes were open then must not commit as if they were
// there: it used to be journaled complete without its rows (a crash test's final count one row
// short). Now its commit fails, the run replays, and the step runs again on a fresh connection.
// (The given-up worker's thread cannot be stopped inside SQLite: it finishes the long statement, ~1 s
// here, and holds the writer's open transaction until then; the replay is retried with backoff
// until the lock is gone. node:sqlite has no sqlite3_interrupt.)
import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Engine } from "../../src/index.ts";

test("an attempt whose open SQL writes went with a lost worker is not journaled without them: it runs again and the row is there", { timeout: 60_000 }, async (t) => {
  const dir = mkdtempSync(join(tmpdir(), "weft-sqllost-"));
  // (the replay re-claims the instance once its own claim runs out: a short lease keeps the test short)
  const engine = await Engine.open({ dataDir: dir, leaseMs: 1000 });
  t.after(async () => {
    await engine.close();
    rmSync(dir, { recursive: true, force: true });
  });
  let entered!: () => void;
  const inGate = new Promise<void>((r) => (entered = r));
  let open!: () => void;
  const gate = new Promise<void>((r) => (open = r));
  let gateCalls = 0;
  await engine.deploy({
    tenant: "acme", workflow: "writer",
    env: { gate: async () => { gateCalls++; entered(); await gate; } },
    code: { mainModule: "w.ts", modules: { "w.ts": `
import { WorkflowEntrypoint } from "cloudflare:workers";
export class W extends WorkflowEntrypoint { async run(event, step) {
  await step.do("schema", async () => { this.ctx.storage.sql.exec("CREATE TABLE t (x)"); });
  await step.do("write", async () => {
    this.ctx.storage.sql.exec("INSERT INTO t VALUES (1)");
    await this.env.gate(); // the worker is lost while this write is open
    return "written";
  });
  return this.ctx.storage.sql.exec("SELECT COUNT(*) AS n FROM t").one().n;
} }` } },
  });
  await engine.deploy({
    tenant: "acme", workflow: "hog", limits: { sqlMsPerQuery: 100 },
    code: { mainModule: "h.ts", modules: { "h.ts": `
import { WorkflowEntrypoint } from "cloudflare:workers";
export class H extends WorkflowEntrypoint { async run(event, step) {
  await step.do("spin", { retries: { limit: 0, delay: 0 } }, async () => {
    this.ctx.storage.sql.exec("WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < 10000000) SELECT count(*) FROM c").one();
  });
} }` } },
  });
  const writer = await engine.workflow("acme", "writer").create();
  await Promise.race([inGate, new Promise<never>((_, rej) => setTimeout(async () => rej(new Error("writer: " + JSON.stringify(await writer.describe()).slice(0, 1500))), 8000))]);
  // an instance whose pk has the writer's parity shares its SQL worker (the pool has 2)
  let hog = await engine.workflow("acme", "hog").create();
  if ((hog.record.pk - writer.record.pk) % 2 !== 0) hog = await engine.workflow("acme", "hog").create();
  const h = await Promise.race([hog.waitFor(), new Promise<never>((_, rej) => setTimeout(async () => rej(new Error("hog: " + JSON.stringify(await hog.describe()).slice(0, 1500))), 8000))]);
  assert.equal(h.status, "errored");
  assert.match(String(h.error?.message), /sqlMsPerQuery|time limit|outran/i);
  open();
  const s = await writer.waitFor();
  assert.deepEqual([s.status, s.output], ["complete", 1], "the row the step wrote is there");
  assert.equal(gateCalls, 2, "the write step ran again after its connection was lost");
  assert.deepEqual((await writer.query("SELECT x FROM t")).rows, [[1]]);
});
