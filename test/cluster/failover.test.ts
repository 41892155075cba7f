// Cluster failover: 3 engine nodes (test/cluster/node.ts: the server of `weft serve --postgres`) on
// one PostgreSQL schema run 500 instances with steps, a sleep, an event, SQL and files, while one
// node at a time is killed with SIGKILL at random moments (≥ 10 times, restarted each time, half of
// the times under a new node id: its old claims must expire) and one node is stopped (SIGSTOP) for
// longer than its lease, then continued: its runs' writes are stale by then and must be refused.
// In the end: every instance complete with the right output; in the side-effect log no step body
// ran after the execution whose result was committed; each instance's SQL database, rebuilt from
// the store alone, holds exactly one row per step, written by that execution; one git commit per step.
//
// It found (2026-12-03): a heartbeat whose answer came after a run had started counted that run's
// claim as gone and stopped it while a step body ran; the body's result, arriving next, was still
// journaled by the stopped run — without its SQL, rolled back at the stop — because the store's
// fence refuses an old epoch only once a newer claim has committed ("no such table", lost rows).
// Now a stopped run acts on nothing (test/engine/races.test.ts) and the heartbeat stops only the
// runs it asked about. WEFT_KEEP=1 keeps the data directories and the schema of a run to look at.
import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { randomBytes } from "node:crypto";
import { DatabaseSync } from "node:sqlite";
import { PostgresStore } from "../../src/store/postgres/store.ts";
import { Engine } from "../../src/index.ts";
import { TEST_POSTGRES_URL, dropSchema, testSchema } from "../../src/testing/postgres.ts";
import { writeDatabaseFile } from "../../src/instance-data/sql/pages.ts";
import { checkJob, jobSource, spawnNode, type NodeProc } from "./harness.ts";

const INSTANCES = Number(process.env.WEFT_FAILOVER_INSTANCES ?? 500);
const KILLS = Number(process.env.WEFT_FAILOVER_KILLS ?? 10);
const TEST_TIMEOUT_MS = 480_000;
const LEASE_MS = 3000;
const STEPS = 3;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const between = (lo: number, hi: number) => lo + Math.floor(Math.random() * (hi - lo + 1));




test("failover: 3 nodes, 500 instances, kill -9 ×10 and a node stopped past its lease: every instance right, no body after its commit, one row and one commit per step", { timeout: TEST_TIMEOUT_MS }, async (t) => {
  const testEnd = Date.now() + TEST_TIMEOUT_MS;
  const schema = testSchema("weft_f");
  const root = mkdtempSync(join(tmpdir(), "weft-failover-"));
  const effects = join(root, "effects.log");
  const key = randomBytes(32).toString("hex");
  const nodes: (NodeProc | undefined)[] = [];
  t.after(async () => {
    for (const n of nodes) n?.child.kill("SIGKILL");
    await Promise.all(nodes.map((n) => n?.exited));
    if (!process.env.WEFT_KEEP) rmSync(root, { recursive: true, force: true });
    else t.diagnostic(`kept: ${root} (schema ${schema})`);
    if (!process.env.WEFT_KEEP) await dropSchema(schema);
  });
  let generation = 0;
  const start = (slot: number, fresh: boolean): NodeProc => {
    const id = fresh ? `n${slot}-g${++generation}` : nodes[slot]?.id ?? `n${slot}`;
    return spawnNode({ url: TEST_POSTGRES_URL, schema, dataDir: join(root, `node${slot}`), id, effects, leaseMs: LEASE_MS, env: { WEFT_SECRET_KEY: key } });
  };
  nodes[0] = start(0, false);
  const admin = await nodes[0].admin;
  assert.ok(admin, `node 0 gives the admin token: ${await nodes[0].url}`);
  nodes[1] = start(1, false);
  nodes[2] = start(2, false);
  const urls = async () => Promise.all(nodes.map((n) => n!.url));
  for (const u of await urls()) assert.match(u, /^http:/, u);
  /** why the last call of api() had to be sent again (a lost answer: its first send may have been done) */
  let resent: string | undefined;
  const api = async (method: string, path: string, body?: unknown) => {
    resent = undefined;
    for (let tries = 0; ; tries++) {
      const alive = nodes.filter((n) => n && n.child.exitCode === null && n.child.signalCode === null);
      const u = await alive[between(0, alive.length - 1)]!.url;
      try {
        const r = await fetch(u + path, { method, headers: { authorization: `Bearer ${admin}`, "content-type": "application/json" }, body: body === undefined ? undefined : JSON.stringify(body), signal: AbortSignal.timeout(10_000) });
        const text = await r.text();
        if (r.status >= 500 && tries < 20) throw new Error(`${r.status} ${text}`);
        return { status: r.status, body: text ? JSON.parse(text) : undefined };
      } catch (e) {
        if (tries >= 20) throw new Error(`${method} ${path}: no node answered in 21 tries (the last to ${u}: ${String((e as Error)?.message ?? e)}); nodes: ${nodes.map((n) => `${n?.id} ${n?.alive() ? "up" : "down"}`).join(", ")}`);
        resent = String((e as Error)?.message ?? e).slice(0, 300);
        await sleep(200); // that node was just killed or stopped: another one answers
      }
    }
  };
  assert.equal((await api("POST", "/v1/tenants", { name: "acme" })).status, 201);
  const d = await api("PUT", "/v1/tenants/acme/workflows/job", { mainModule: "job.ts", modules: { "job.ts": jobSource(STEPS) }, env: { effect: { hostFunction: "effect" } }, limits: { concurrency: 1000 } });
  assert.equal(d.status, 200, JSON.stringify(d.body));
  for (let b = 0; b < INSTANCES; b += 100) {
    const batch = Array.from({ length: Math.min(100, INSTANCES - b) }, (_, i) => ({ id: `i${b + i}` }));
    const r = await api("POST", "/v1/tenants/acme/workflows/job/instances/batch", { instances: batch });
    if (r.status === 409 && resent !== undefined) {
      // sent again after a lost answer (${resent}): the first send created the batch, all or nothing
      for (const x of batch) assert.equal((await api("GET", `/v1/tenants/acme/workflows/job/instances/${x.id}`)).status, 200, `${x.id} after a batch re-sent (${resent})`);
      continue;
    }
    assert.equal(r.status, 201, `${JSON.stringify(r.body)}${resent ? ` (sent again after: ${resent})` : ""}`);
  }
  // the events go to any node, early (buffered) or late (delivered to a waiting instance)
  const events = (async () => {
    for (let i = 0; i < INSTANCES; i++) {
      const r = await api("POST", `/v1/tenants/acme/workflows/job/instances/i${i}/events`, { type: "go", payload: { k: i } });
      if (r.status !== 202) {
        const d = await api("GET", `/v1/tenants/acme/workflows/job/instances/i${i}`);
        // a retry after a lost answer (its node killed mid-request): the first send was delivered
        if (r.status === 409 && d.body?.status === "complete" && d.body?.output?.k === i) continue;
        assert.fail(`event to i${i}: ${r.status} ${JSON.stringify(r.body)}; the instance: ${JSON.stringify(d.body).slice(0, 3000)}`);
      }
      if (i % 50 === 0) await sleep(100);
    }
  })();

  // faults: kill -9 one node at a time (restarted at once), and once a node stopped past its lease
  const kills: string[] = [];
  for (let k = 0; k < KILLS; k++) {
    await sleep(between(300, 1500));
    const slot = between(0, 2);
    const n = nodes[slot]!;
    n.child.kill("SIGKILL");
    await n.exited;
    kills.push(n.id);
    nodes[slot] = start(slot, k % 2 === 1);
    await nodes[slot]!.url;
    if (k === Math.floor(KILLS / 2)) {
      const s = nodes[(slot + 1) % 3]!;
      s.child.kill("SIGSTOP");
      await sleep(LEASE_MS * 2.5); // its claims expire; the other nodes take its instances over
      s.child.kill("SIGCONT");
    }
  }
  await events;

  const store = await PostgresStore.open({ url: TEST_POSTGRES_URL, schema, poolSize: 2 });
  t.after(() => store.close());
  // (a loaded machine is slow, not wrong: wait as long as the test may, and say what is missing before it ends)
  const deadline = testEnd - 60_000;
  let counts: Record<string, number> = {};
  while (Date.now() < deadline) {
    counts = await store.countByStatus("acme");
    if ((counts.complete ?? 0) === INSTANCES || (counts.errored ?? 0) + (counts.terminated ?? 0) > 0) break;
    await sleep(500);
  }
  if (counts.complete !== INSTANCES) {
    const bad = (await store.listInstances({ tenant: "acme", limit: 1000, direction: "asc" })).filter((x) => x.status !== "complete").slice(0, 3);
    const detail = await Promise.all(bad.map(async (x) => ({ id: x.id, status: x.status, error: x.error, steps: (await store.steps(x.pk)).map((s) => [s.name, s.state, s.attempts, s.error?.message]) })));
    assert.fail(`every instance complete: ${JSON.stringify(counts)}; ${JSON.stringify(detail)}`);
  }

  // the side-effect log: per (instance, step), the executions in order
  const runs = new Map<string, string[]>();
  for (const line of readFileSync(effects, "utf8").split("\n").filter(Boolean)) {
    const e = JSON.parse(line) as { instance: string; step: string; nonce: string };
    const k = `${e.instance}/${e.step}`;
    runs.set(k, [...(runs.get(k) ?? []), e.nonce]);
  }
  const checker = await Engine.open({ dataDir: join(root, "checker"), postgres: { url: TEST_POSTGRES_URL, schema }, recover: false, secretKey: key });
  t.after(() => checker.close());
  let reran = 0;
  for (let i = 0; i < INSTANCES; i++) {
    const inst = await checker.workflow("acme", "job").get(`i${i}`);
    const s = await inst.status();
    const out = s.output as { n: number; k: number; nonces: string[] };
    reran += checkJob(i, out, STEPS, runs);
    // the database as the store holds it, rebuilt without any node's copy
    const part = await store.sqlImage(inst.record.pk, 1, 100_000);
    const file = join(root, "check", `${i}.sqlite`);
    await writeDatabaseFile(file, part.pageSize, part.nPages, (async function* () { yield part.pages; })());
    const db = new DatabaseSync(file, { readOnly: true });
    const rows = db.prepare("SELECT step, nonce FROM t ORDER BY step").all() as { step: number; nonce: string }[];
    db.close();
    assert.deepEqual(rows.map((r) => [r.step, r.nonce]), out.nonces.map((n, j) => [j + 1, n]), `i${i}: exactly one row per step, by the committed execution`);
    if (i % 50 === 0) assert.deepEqual((await inst.query("SELECT COUNT(*) AS n FROM t")).rows, [[STEPS]], "read-only SQL from a node that never ran it");
    const commits = await inst.commits();
    assert.deepEqual(commits.map((c) => c.message.split("\n")[0]).reverse(), Array.from({ length: STEPS }, (_, j) => `s${j + 1} #1`), `i${i}: one commit per step`);
  }
  t.diagnostic(`${kills.length} kills (${kills.join(" ")}); ${reran} step bodies ran more than once before their commit (a kill or a lost lease between body and commit)`);
  assert.ok(kills.length >= 10);
});
