// A transaction PostgreSQL rolls back as a deadlock victim runs again instead of failing the write
// (the failover test once saw an instance errored with "deadlock detected"). A deadlock is made on
// purpose: another session holds instance B's row and then waits for A's, while the store's heartbeat
// holds A's and waits for B's. The other session's deadlock_timeout is long, so the store's session is
// the one that detects the cycle and is rolled back; its write must still succeed.
import { test } from "node:test";
import assert from "node:assert/strict";
import pg from "pg";
import { PostgresStore } from "../../src/store/postgres/store.ts";
import { TEST_POSTGRES_URL, dropSchema, testSchema } from "../../src/testing/postgres.ts";

test("a store transaction rolled back as a deadlock victim runs again and succeeds", { timeout: 60_000 }, async (t) => {
  const schema = testSchema("weft_dl");
  const store = await PostgresStore.open({ url: TEST_POSTGRES_URL, schema, poolSize: 2 });
  const other = new pg.Client({ connectionString: TEST_POSTGRES_URL, options: `-c search_path=${schema}` });
  await other.connect();
  t.after(async () => {
    await other.end().catch(() => undefined);
    await store.close();
    await dropSchema(schema);
  });
  const now = Date.UTC(2026, 0, 1);
  const [a, b] = await store.createInstances(["a", "b"].map((id) => ({ tenant: "acme", workflow: "w", id, version: "v1", params: null, metadata: {}, trigger: "api" as const, createdAt: now })));
  const claim = { node: "n1", now, leaseNow: 1_000, leaseUntil: 31_000 };
  for (const r of [a!, b!]) assert.ok(await store.claim(r.pk, claim));
  const deadlocksBefore = Number((await other.query(`SELECT deadlocks FROM pg_stat_database WHERE datname = current_database()`)).rows[0].deadlocks);

  await other.query(`SET deadlock_timeout = '30s'`);
  await other.query("BEGIN");
  await other.query(`SELECT 1 FROM instances WHERE pk = $1 FOR UPDATE`, [b!.pk]);
  // the heartbeat locks a, then waits for b (rows in pk order)
  const beat = store.extendClaims("n1", [a!.pk, b!.pk], 61_000);
  const mine = Number((await other.query(`SELECT pg_backend_pid() AS p`)).rows[0].p);
  for (let i = 0; ; i++) {
    const w = await other.query(`SELECT count(*)::int AS n FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND pid <> $1 AND datname = current_database()`, [mine]);
    if (w.rows[0].n > 0) break;
    assert.ok(i < 500, "the heartbeat never came to wait for b's row");
    await new Promise((r) => setTimeout(r, 10));
  }
  // now this session waits for a: a cycle; the store's session detects it after its 1 s deadlock_timeout
  const lockA = other.query(`SELECT 1 FROM instances WHERE pk = $1 FOR UPDATE`, [a!.pk]);
  await lockA; // granted once the store's transaction was rolled back
  await other.query("COMMIT");
  const held = await beat;
  assert.deepEqual([...held].sort((x, y) => x - y), [a!.pk, b!.pk], "the heartbeat ran again after the rollback and extended both claims");
  // (statistics reach pg_stat_database when a backend flushes them, at most once a second)
  let deadlocksAfter = deadlocksBefore;
  for (let i = 0; i < 100 && deadlocksAfter <= deadlocksBefore; i++) {
    await other.query(`SELECT pg_stat_clear_snapshot()`);
    deadlocksAfter = Number((await other.query(`SELECT deadlocks FROM pg_stat_database WHERE datname = current_database()`)).rows[0].deadlocks);
    if (deadlocksAfter <= deadlocksBefore) await new Promise((r) => setTimeout(r, 50));
  }
  assert.ok(deadlocksAfter > deadlocksBefore, `PostgreSQL detected a deadlock (${deadlocksBefore} → ${deadlocksAfter})`);
  // and the extension is really there: another node cannot take them before 61 000 on the lease clock
  assert.equal(await store.claim(a!.pk, { node: "n2", now, leaseNow: 60_000, leaseUntil: 90_000 }), undefined);
});
