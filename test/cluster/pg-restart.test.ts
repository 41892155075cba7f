// PostgreSQL going away under a running cluster, on a private server (src/testing/pg-server.ts: the
// machine's shared server, which other suites use at the same time, is never touched).
//
// 1. A crash restart: 2 engine nodes (test/cluster/node.ts) run 100 instances with steps (each
//    calling the `effect` host function, writing SQL and a file), a sleep and an event; mid-run the
//    server is crashed (pg_ctl stop -m immediate), kept down for 1.5 s and started again (crash
//    recovery). Nobody touches the nodes: /readyz answers 503 while the database is down and 200 once
//    it is back, and they go on by themselves. In the end every instance is complete with the right
//    output, no step body ran again after its result was committed (the side-effect log), each
//    instance's SQL database (rebuilt from the store) holds exactly one row per step, one git commit
//    per step, and both nodes' event streams (reopened with Last-Event-ID when the outage cut them,
//    as EventSource does) followed their instances to the end.
// 2. Dropped connections: every connection of two in-process engines is cut (pg_terminate_backend)
//    while an instance waits live on one of them and the other waits for its end; the event sent at
//    once completes it, and the other engine hears of it although its change feed was down then.
import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { randomBytes } from "node:crypto";
import pg from "pg";
import { PostgresStore } from "../../src/store/postgres/store.ts";
import { Engine } from "../../src/index.ts";
import { ErrorCode, WeftError } from "../../src/core/errors.ts";
import { startPgServer, type PgServer } from "../../src/testing/pg-server.ts";
import { WAITER, apiOf, checkJob, dataDir, jobSource, effectCount, readEffects, readyz, sleep, spawnNode, sseTypes, storedRows, until, within, type NodeProc } from "./harness.ts";

const INSTANCES = 100;
const STEPS = 4;
/** longer than the test waits: an instance that resumed only once its claim expired would fail it */
const LEASE_MS = 20_000;
/** every instance not yet at its wait when PostgreSQL came back has been taken up again within this */
const RESUME_MS = 8_000;
const DOWN_MS = 1500;
/** instances whose event is sent before the restart (buffered, or delivered to a waiting run) */
const EARLY = 30;
/** the last instances, followed on both nodes' event streams from before the restart to their end */
const FOLLOWED = 10;
/** instances are created in waves of WAVE, WAVE_MS apart: at the restart they are at every stage of their runs */
const WAVE = 25;
const WAVE_MS = 300;



test("PostgreSQL crash-restarted under 2 nodes and 100 running instances: the nodes pause, report unready, resume by themselves; nothing lost, no body after its commit, one row per step, the change feed back", { timeout: 120_000 }, async (t) => {
  const t0 = Date.now();
  const at: Record<string, number> = {};
  const mark = (name: string) => (at[name] = Date.now() - t0);
  let server: PgServer | undefined;
  const root = mkdtempSync(join(tmpdir(), "weft-pgrestart-"));
  const nodes: NodeProc[] = [];
  const streams: ReturnType<typeof sseTypes>[] = [];
  t.after(async () => {
    for (const s of streams) s.close();
    for (const n of nodes) n.child.kill("SIGKILL");
    await Promise.all(nodes.map((n) => n.exited));
    await server?.cleanup();
    rmSync(root, { recursive: true, force: true });
  });
  server = await startPgServer();
  const pgs = server;
  mark("postgres");
  const schema = "weft";
  const effects = join(root, "effects.log");
  const key = randomBytes(32).toString("hex");
  const start = (slot: number) => spawnNode({ url: pgs.url, schema, dataDir: dataDir(root, slot), id: `n${slot}`, effects, leaseMs: LEASE_MS, env: { WEFT_SECRET_KEY: key } });
  nodes.push(start(0));
  const admin = await nodes[0]!.admin;
  assert.ok(admin, `node 0 gives the admin token: ${await nodes[0]!.url}`);
  nodes.push(start(1));
  for (const n of nodes) assert.match(await n.url, /^http:/, await n.url);
  mark("nodes");
  const { call } = apiOf(() => nodes, () => admin, 30_000);
  const outputs = () => nodes.map((n) => `--- ${n.id}${n.alive() ? "" : " (exited)"}:\n${n.output().slice(-4000)}`).join("\n");
  const sendGo = async (i: number) => {
    const r = await call("POST", `/v1/tenants/acme/workflows/job/instances/i${i}/events`, { type: "go", payload: { k: i } }, nodes[i % 2]);
    assert.equal(r.status, 202, `event to i${i}: ${JSON.stringify(r.body)}`);
  };

  assert.equal((await call("POST", "/v1/tenants", { name: "acme" })).status, 201);
  const d = await call("PUT", "/v1/tenants/acme/workflows/job", { mainModule: "job.ts", modules: { "job.ts": jobSource(STEPS, 100) }, env: { effect: { hostFunction: "effect" } }, limits: { concurrency: 1000 } });
  assert.equal(d.status, 200, JSON.stringify(d.body));
  mark("deployed");
  for (let b = 0; b < INSTANCES; b += WAVE) {
    if (b > 0) await sleep(WAVE_MS); // the pace of the load (not a synchronisation)
    const created = await call("POST", "/v1/tenants/acme/workflows/job/instances/batch", { instances: Array.from({ length: WAVE }, (_, i) => ({ id: `i${b + i}` })) });
    assert.equal(created.status, 201, JSON.stringify(created.body));
    mark(`wave${b / WAVE + 1}`);
    await Promise.all(Array.from({ length: WAVE }, (_, i) => b + i).filter((i) => i < EARLY).map(sendGo));
  }
  mark("created");
  const followed = Array.from({ length: FOLLOWED }, (_, j) => INSTANCES - 1 - j);
  streams.push(...await Promise.all(followed.flatMap((i) => nodes.map(async (n) => sseTypes(await n.url, admin, `/v1/tenants/acme/workflows/job/instances/i${i}/events`)))));

  // mid-run (a good part of the step bodies ran, most are still to come), the database crashes
  const total = INSTANCES * STEPS;
  await until(() => `a third of the step bodies run before the restart (${effectCount(effects)} of ${total})`, 30_000, () => (effectCount(effects) >= total / 3 ? true : undefined), 10);
  const before = effectCount(effects);
  assert.ok(before < total * 0.8, `the restart comes mid-run: ${before} of ${total} step bodies ran already`);
  mark("down");
  await pgs.stop({ mode: "immediate" });
  const stopped = Date.now();
  // both nodes see it: not ready (polled)
  const unready = await Promise.all(nodes.map((n) => until(`${n.id} answers 503 on /readyz while PostgreSQL is down`, 10_000, async () => ((await readyz(n)) === 503 ? Date.now() - stopped : undefined))));
  const rest = DOWN_MS - (Date.now() - stopped);
  if (rest > 0) await sleep(rest); // the length of the outage (not a synchronisation)
  for (const n of nodes) assert.equal(await readyz(n), 503, `${n.id}: still not ready, PostgreSQL is down`);
  mark("starting");
  await pgs.start();
  const tUp = Date.now();
  mark("up");
  const ready = await Promise.all(nodes.map((n) => until(() => `${n.id} answers 200 on /readyz once PostgreSQL is back\n${outputs()}`, 15_000, async () => ((await readyz(n)) === 200 ? Date.now() - tUp : undefined))));
  // work goes on by itself: a step body runs again
  const firstBody = await until(() => `a step body runs after the restart\n${outputs()}`, 20_000, () => (effectCount(effects) > before ? Date.now() - tUp : undefined), 10);

  // the events of the rest go in through either node once the followed instances wait (a delivery,
  // not a buffer, for them); a node that does not run an instance learns of its steps only from the feed
  const store = await PostgresStore.open({ url: pgs.url, schema, poolSize: 2 });
  t.after(() => store.close());
  await until(() => `the followed instances reach their wait\n${outputs()}`, 30_000, async () => {
    for (const i of followed) {
      const inst = await store.getInstance("acme", "job", `i${i}`);
      if (!inst || !(await store.steps(inst.pk)).some((s) => s.kind === "wait" && s.state === "pending")) return undefined;
    }
    return true;
  }, 50);
  mark("waiting");
  const late = Array.from({ length: INSTANCES - EARLY }, (_, j) => INSTANCES - 1 - j);
  for (let j = 0; j < late.length; j += 10) await Promise.all(late.slice(j, j + 10).map(sendGo));
  const tEvents = Date.now();
  mark("events");
  await within(15_000, Promise.all(streams.map((s) => s.ended)), () => `the event streams follow their instances to the end: ${JSON.stringify(streams.map((s) => s.types.at(-1)))}\n${outputs()}`);
  const followMs = Date.now() - tEvents;
  for (const s of streams) {
    assert.equal(s.types.at(-1), "workflow_completed", s.types.join(" "));
    assert.equal(new Set(s.types.filter((x) => x === "wait_completed" || x === "workflow_completed")).size, s.types.filter((x) => x === "wait_completed" || x === "workflow_completed").length, `no event twice: ${s.types.join(" ")}`);
  }

  // every instance complete, nobody intervening
  let counts: Record<string, number> = {};
  await until(() => `every instance complete: ${JSON.stringify(counts)}\n${outputs()}`, 30_000, async () => {
    counts = await store.countByStatus("acme");
    if ((counts.errored ?? 0) + (counts.terminated ?? 0) > 0) return true;
    return counts.complete === INSTANCES ? true : undefined;
  }, 100);
  if (counts.complete !== INSTANCES) {
    const bad = (await store.listInstances({ tenant: "acme", limit: 1000, direction: "asc" })).filter((x) => x.status !== "complete").slice(0, 3);
    const detail = await Promise.all(bad.map(async (x) => ({ id: x.id, status: x.status, error: x.error, steps: (await store.steps(x.pk)).map((s) => [s.name, s.state, s.attempts, s.error?.message]) })));
    assert.fail(`every instance complete: ${JSON.stringify(counts)}; ${JSON.stringify(detail)}\n${outputs()}`);
  }
  const tDone = Date.now();
  mark("complete");
  for (const n of nodes) assert.ok(n.alive(), `${n.id} is still running (it must survive the outage by itself):\n${outputs()}`);

  // no body after its commit, one row per step, one commit per step
  const runs = readEffects(effects);
  const checker = await Engine.open({ dataDir: join(root, "checker"), postgres: { url: pgs.url, schema }, recover: false, secretKey: key });
  t.after(() => checker.close());
  mkdirSync(join(root, "check"), { recursive: true });
  let reran = 0;
  for (let i = 0; i < INSTANCES; i++) {
    const inst = await checker.workflow("acme", "job").get(`i${i}`);
    const out = (await inst.status()).output as { n: number; k: number; nonces: string[] };
    reran += checkJob(i, out, STEPS, runs);
    const rows = await storedRows<{ step: number; nonce: string }>(store, inst.record.pk, join(root, "check", `${i}.sqlite`), "SELECT step, nonce FROM t ORDER BY step");
    assert.deepEqual(rows.map((r) => [r.step, r.nonce]), out.nonces.map((n, j) => [j + 1, n]), `i${i}: exactly one row per step, by the committed execution`);
    const commits = await inst.commits();
    assert.deepEqual(commits.map((c) => c.message.split("\n")[0]).reverse(), Array.from({ length: STEPS }, (_, j) => `s${j + 1} #1`), `i${i}: one commit per step`);
  }
  // resumed by themselves, soon: every instance that had not reached its wait when the database came
  // back wrote again within RESUME_MS (not a lease, nor a long backoff, later)
  const resumed: number[] = [];
  for (let i = 0; i < INSTANCES; i++) {
    const inst = (await store.getInstance("acme", "job", `i${i}`))!;
    const h = await store.history(inst.pk, 0);
    const waited = h.find((e) => e.type === "wait_started")!;
    if (waited.at < tUp) continue;
    const next = Math.min(...h.filter((e) => e.at >= tUp).map((e) => e.at));
    resumed.push(next - tUp);
    assert.ok(next - tUp <= RESUME_MS, `i${i} went on ${next - tUp} ms after PostgreSQL was back (at most ${RESUME_MS}): ${JSON.stringify(h.map((e) => [e.type, e.at - tUp]))}`);
  }
  assert.ok(resumed.length >= INSTANCES / 4, `${resumed.length} instances were still on their way when PostgreSQL came back`);
  mark("checked");
  t.diagnostic(`PostgreSQL down ${at.up! - at.down!} ms (crash recovery and start ${at.up! - at.starting!} ms); ${before} of ${total} step bodies had run before it went`);
  t.diagnostic(`/readyz 503 after ${unready.join(", ")} ms; 200 again ${ready.join(", ")} ms after PostgreSQL was back; the first step body ${firstBody} ms after`);
  t.diagnostic(`${resumed.length} instances on their way at the restart went on ${Math.min(...resumed)}–${Math.max(...resumed)} ms after it (median ${resumed.sort((x, y) => x - y)[resumed.length >> 1]})`);
  t.diagnostic(`all ${INSTANCES} complete ${tDone - tUp} ms after the restart; the event streams on both nodes (${streams.reduce((n, s) => n + s.reconnects(), 0)} reopenings over the outage) followed ${FOLLOWED} instances to their end ${followMs} ms after their events; ${reran} step bodies ran more than once before their commit`);
  t.diagnostic(`phases (ms from the start): ${JSON.stringify(at)}`);
});



test("every connection to PostgreSQL dropped (pg_terminate_backend) while an instance waits live on one engine and the other waits for its end: the event completes it, and the other engine hears of it (its change feed, cut then, comes back whole)", { timeout: 60_000 }, async (t) => {
  const server = await startPgServer();
  const root = mkdtempSync(join(tmpdir(), "weft-pgdrop-"));
  const common = { postgres: { url: server.url, schema: "weft", poolSize: 4 }, secretKey: randomBytes(32).toString("hex"), leaseMs: 30_000 };
  const a = await Engine.open({ ...common, dataDir: join(root, "a"), nodeId: "a", suspendAfterMs: 7_200_000 });
  const b = await Engine.open({ ...common, dataDir: join(root, "b"), nodeId: "b", suspendAfterMs: 7_200_000 });
  const admin = new pg.Client({ connectionString: server.url });
  await admin.connect();
  t.after(async () => {
    await admin.end().catch(() => undefined);
    await a.close().catch(() => undefined);
    await b.close().catch(() => undefined);
    await server.cleanup();
    rmSync(root, { recursive: true, force: true });
  });
  await a.deploy({ tenant: "acme", workflow: "w", code: { mainModule: "w.ts", modules: { "w.ts": WAITER } } });
  /** retried while the store cannot be reached (a client would): nothing was applied then */
  const retried = async <T>(f: () => Promise<T>): Promise<T> => {
    for (let i = 0; ; i++) {
      try {
        return await f();
      } catch (e) {
        if ((e as WeftError)?.code !== ErrorCode.StorageUnavailable || i >= 50) throw e;
        await sleep(50);
      }
    }
  };
  const listeners = async () => Number((await admin.query(`SELECT COUNT(*) AS n FROM pg_stat_activity WHERE query = 'LISTEN weft_weft' AND pid <> pg_backend_pid()`)).rows[0].n);
  for (const [round, id] of ["x", "y", "z"].entries()) {
    const inst = await a.workflow("acme", "w").create({ id });
    await until(`${id} waits live on one engine`, 15_000, async () => ((await a.store.steps(inst.record.pk)).some((x) => x.kind === "wait" && x.state === "pending") && (a.runsHere(inst.record.pk) || b.runsHere(inst.record.pk)) ? true : undefined));
    const [holder, other] = a.runsHere(inst.record.pk) ? [a, b] : [b, a];
    const onOther = await other.workflow("acme", "w").get(id);
    // waitFor's first read of the instance done before the cut: from then on only a notification wakes it
    let read = false;
    const store = other.store;
    const getInstanceByPk = store.getInstanceByPk;
    store.getInstanceByPk = async (pk: number) => {
      try {
        return await getInstanceByPk.call(store, pk);
      } finally {
        if (pk === inst.record.pk) read = true;
      }
    };
    const done = onOther.waitFor();
    await until(`${id}: waitFor read the instance`, 10_000, () => (read ? true : undefined), 5);
    store.getInstanceByPk = getInstanceByPk;
    await until("both engines listen", 10_000, async () => ((await listeners()) === 2 ? true : undefined));
    // every connection but the admin's: the pools' and both change feeds'
    const cut = (await admin.query(`SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE backend_type = 'client backend' AND pid <> pg_backend_pid()`)).rowCount;
    const t0 = Date.now();
    await retried(async () => (await holder.workflow("acme", "w").get(id)).sendEvent({ type: "go", payload: { k: round } }));
    const s = await within(10_000, done, () => `${id}: the other engine's waitFor hears of the end (it does not if its change feed lost the commits made while it was cut)`);
    assert.equal(s.status, "complete");
    assert.equal(s.output, 1 + round);
    t.diagnostic(`${id}: ${cut} connections cut; the other engine saw the end ${Date.now() - t0} ms after the event was sent`);
  }
});
