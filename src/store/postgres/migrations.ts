// Numbered schema migrations for the PostgreSQL store (cluster mode); applied in order, each once,
// recorded in schema_migrations, under an advisory lock so that nodes starting together apply each
// migration once. Never edit a shipped migration: add the next number. Times are epoch milliseconds
// (BIGINT); values the engine serializes (params, outputs, step values, payloads) are BYTEA.
import type { PoolClient } from "pg";

const MIGRATIONS: { id: number; name: string; sql: string }[] = [
  {
    id: 1,
    name: "journal, run queue, mailbox, objects, tenancy, telemetry",
    // instances.pk is an identity that is never handed out again: it names the instance's data
    sql: `
CREATE TABLE versions (tenant TEXT NOT NULL, workflow TEXT NOT NULL, version TEXT NOT NULL, class_name TEXT NOT NULL,
  bundle TEXT NOT NULL, code TEXT NOT NULL, config TEXT NOT NULL, created_at BIGINT NOT NULL, PRIMARY KEY (tenant, workflow, version));
CREATE TABLE workflows (tenant TEXT NOT NULL, workflow TEXT NOT NULL, latest_version TEXT NOT NULL, updated_at BIGINT NOT NULL,
  PRIMARY KEY (tenant, workflow));
CREATE TABLE instances (pk BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY, tenant TEXT NOT NULL, workflow TEXT NOT NULL, id TEXT NOT NULL,
  version TEXT NOT NULL, status TEXT NOT NULL, params BYTEA, metadata JSONB NOT NULL DEFAULT '{}', trigger TEXT NOT NULL DEFAULT 'api',
  created_at BIGINT NOT NULL, started_at BIGINT, ended_at BIGINT, modified_at BIGINT NOT NULL,
  output BYTEA, error TEXT, wake_at BIGINT, epoch BIGINT NOT NULL DEFAULT 0, fs_head TEXT, fs_files INTEGER NOT NULL DEFAULT 0,
  ready_at BIGINT, claim_owner TEXT, claim_until BIGINT, wakes BIGINT NOT NULL DEFAULT 0,
  sql_seq BIGINT NOT NULL DEFAULT 0, sql_by BIGINT NOT NULL DEFAULT 0, sql_pages BIGINT NOT NULL DEFAULT 0, sql_page_size INTEGER,
  UNIQUE (tenant, workflow, id));
CREATE INDEX instances_ready ON instances (ready_at, pk) WHERE ready_at IS NOT NULL;
CREATE INDEX instances_list ON instances (tenant, workflow, pk);
CREATE INDEX instances_status ON instances (tenant, workflow, status, pk);
CREATE INDEX instances_created ON instances (tenant, created_at);
CREATE INDEX instances_ended ON instances (tenant, ended_at) WHERE ended_at IS NOT NULL;
CREATE INDEX instances_claims ON instances (claim_owner) WHERE claim_owner IS NOT NULL;
CREATE TABLE steps (instance BIGINT NOT NULL, key TEXT NOT NULL, kind TEXT NOT NULL, seq INTEGER NOT NULL, name TEXT NOT NULL,
  count INTEGER NOT NULL, state TEXT NOT NULL, value BYTEA, error TEXT, at BIGINT, started_at BIGINT NOT NULL, due_at BIGINT,
  attempts INTEGER NOT NULL DEFAULT 0, config TEXT, event_type TEXT, PRIMARY KEY (instance, key));
CREATE TABLE attempts (instance BIGINT NOT NULL, key TEXT NOT NULL, attempt INTEGER NOT NULL, started_at BIGINT NOT NULL,
  ended_at BIGINT, success BOOLEAN, error TEXT, PRIMARY KEY (instance, key, attempt));
CREATE TABLE events (seq BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY, instance BIGINT NOT NULL, type TEXT NOT NULL, payload BYTEA,
  created_at BIGINT NOT NULL, consumed_by TEXT);
CREATE INDEX events_open ON events (instance, type, seq) WHERE consumed_by IS NULL;
CREATE TABLE logs (seq BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY, instance BIGINT NOT NULL, at BIGINT NOT NULL, level TEXT NOT NULL, message TEXT NOT NULL);
CREATE INDEX logs_instance ON logs (instance, seq);
CREATE TABLE history (instance BIGINT NOT NULL, seq INTEGER NOT NULL, type TEXT NOT NULL, at BIGINT NOT NULL, data TEXT,
  PRIMARY KEY (instance, seq));
CREATE TABLE git_objects (tenant TEXT NOT NULL, oid TEXT NOT NULL, type TEXT NOT NULL, data BYTEA NOT NULL, PRIMARY KEY (tenant, oid));
CREATE TABLE sql_pages (instance BIGINT NOT NULL, pgno INTEGER NOT NULL, data BYTEA NOT NULL, PRIMARY KEY (instance, pgno));
CREATE TABLE tenants (name TEXT PRIMARY KEY, quotas TEXT NOT NULL, created_at BIGINT NOT NULL);
CREATE TABLE tokens (id TEXT PRIMARY KEY, tenant TEXT, name TEXT NOT NULL, hash TEXT NOT NULL UNIQUE, created_at BIGINT NOT NULL, revoked_at BIGINT);
CREATE INDEX tokens_tenant ON tokens (tenant);
`,
  },
  {
    id: 2,
    name: "claim limits and creation buckets",
    // live claims counted per tenant and workflow when a claim carries limits (running-instance
    // quotas and workflow concurrency across nodes); one creation bucket per tenant for all nodes
    sql: `
CREATE INDEX instances_claimed ON instances (tenant, workflow) WHERE claim_owner IS NOT NULL;
CREATE TABLE create_buckets (tenant TEXT PRIMARY KEY, tokens DOUBLE PRECISION NOT NULL, at BIGINT NOT NULL);
`,
  },
];

/** a fixed key for pg_advisory_xact_lock: "weft" */
const LOCK = 0x77656674;

export async function migrate(c: PoolClient): Promise<void> {
  await c.query("BEGIN");
  try {
    await c.query("SELECT pg_advisory_xact_lock($1)", [LOCK]);
    await c.query(`CREATE TABLE IF NOT EXISTS schema_migrations (id INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at BIGINT NOT NULL)`);
    const done = new Set((await c.query<{ id: number }>(`SELECT id FROM schema_migrations`)).rows.map((r) => r.id));
    for (const m of MIGRATIONS) {
      if (done.has(m.id)) continue;
      await c.query(m.sql);
      await c.query(`INSERT INTO schema_migrations (id, name, applied_at) VALUES ($1, $2, $3)`, [m.id, m.name, Date.now()]);
    }
    await c.query("COMMIT");
  } catch (e) {
    await c.query("ROLLBACK").catch(() => undefined);
    throw e;
  }
}
