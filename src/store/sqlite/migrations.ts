// Numbered schema migrations for the embedded store; applied in order, each once, recorded in
// schema_migrations. Never edit a shipped migration: add the next number.
import type { DatabaseSync } from "node:sqlite";

const MIGRATIONS: { id: number; name: string; sql: string }[] = [
  {
    id: 1,
    name: "journal",
    sql: `
CREATE TABLE versions (tenant TEXT NOT NULL, workflow TEXT NOT NULL, version TEXT NOT NULL, class_name TEXT NOT NULL,
  bundle TEXT NOT NULL, code TEXT NOT NULL, config TEXT NOT NULL, created_at INTEGER NOT NULL, PRIMARY KEY (tenant, workflow, version));
CREATE TABLE workflows (tenant TEXT NOT NULL, workflow TEXT NOT NULL, latest_version TEXT NOT NULL, updated_at INTEGER NOT NULL,
  PRIMARY KEY (tenant, workflow));
CREATE TABLE instances (pk INTEGER PRIMARY KEY, tenant TEXT NOT NULL, workflow TEXT NOT NULL, id TEXT NOT NULL, version TEXT NOT NULL,
  status TEXT NOT NULL, params BLOB, metadata TEXT NOT NULL DEFAULT '{}', trigger TEXT NOT NULL DEFAULT 'api',
  created_at INTEGER NOT NULL, started_at INTEGER, ended_at INTEGER, modified_at INTEGER NOT NULL,
  output BLOB, error TEXT, wake_at INTEGER, epoch INTEGER NOT NULL DEFAULT 0, UNIQUE (tenant, workflow, id));
CREATE INDEX instances_wake ON instances (wake_at) WHERE wake_at IS NOT NULL;
CREATE INDEX instances_active ON instances (status) WHERE status IN ('queued','running','waitingForPause','waiting');
CREATE INDEX instances_list ON instances (tenant, workflow, pk);
CREATE TABLE steps (instance INTEGER NOT NULL, key TEXT NOT NULL, kind TEXT NOT NULL, seq INTEGER NOT NULL, name TEXT NOT NULL,
  count INTEGER NOT NULL, state TEXT NOT NULL, value BLOB, error TEXT, at INTEGER, started_at INTEGER NOT NULL, due_at INTEGER,
  attempts INTEGER NOT NULL DEFAULT 0, config TEXT, event_type TEXT, PRIMARY KEY (instance, key)) WITHOUT ROWID;
CREATE TABLE attempts (instance INTEGER NOT NULL, key TEXT NOT NULL, attempt INTEGER NOT NULL, started_at INTEGER NOT NULL,
  ended_at INTEGER, success INTEGER, error TEXT, PRIMARY KEY (instance, key, attempt)) WITHOUT ROWID;
CREATE TABLE events (seq INTEGER PRIMARY KEY, instance INTEGER NOT NULL, type TEXT NOT NULL, payload BLOB,
  created_at INTEGER NOT NULL, consumed_by TEXT);
CREATE INDEX events_open ON events (instance, type, seq) WHERE consumed_by IS NULL;
CREATE TABLE logs (seq INTEGER PRIMARY KEY, instance INTEGER NOT NULL, at INTEGER NOT NULL, level TEXT NOT NULL, message TEXT NOT NULL);
CREATE INDEX logs_instance ON logs (instance, seq);
CREATE TABLE history (instance INTEGER NOT NULL, seq INTEGER NOT NULL, type TEXT NOT NULL, at INTEGER NOT NULL, data TEXT,
  PRIMARY KEY (instance, seq)) WITHOUT ROWID;
`,
  },
  {
    id: 2,
    name: "instance files",
    // Git objects are content-addressed and shared by a tenant's instances: identical content is
    // stored once. A rowid table (not WITHOUT ROWID): rows are blobs of any size.
    sql: `
CREATE TABLE git_objects (tenant TEXT NOT NULL, oid TEXT NOT NULL, type TEXT NOT NULL, data BLOB NOT NULL, UNIQUE (tenant, oid));
ALTER TABLE instances ADD COLUMN fs_head TEXT;
ALTER TABLE instances ADD COLUMN fs_files INTEGER NOT NULL DEFAULT 0;
`,
  },
  {
    id: 3,
    name: "tenants and tokens",
    // tokens are stored as SHA-256 hashes only; tenant NULL is an admin token
    sql: `
CREATE TABLE tenants (name TEXT PRIMARY KEY, quotas TEXT NOT NULL, created_at INTEGER NOT NULL);
CREATE TABLE tokens (id TEXT PRIMARY KEY, tenant TEXT, name TEXT NOT NULL, hash TEXT NOT NULL UNIQUE, created_at INTEGER NOT NULL, revoked_at INTEGER);
CREATE INDEX tokens_tenant ON tokens (tenant);
`,
  },
  {
    id: 4,
    name: "dashboard indexes",
    // The dashboard's questions on large stores: counts by status and a status-filtered page come from
    // one covering index; creations and endings over time from the time indexes, without a table scan.
    sql: `
CREATE INDEX instances_status ON instances (tenant, workflow, status, pk);
CREATE INDEX instances_created ON instances (tenant, created_at);
CREATE INDEX instances_ended ON instances (tenant, ended_at) WHERE ended_at IS NOT NULL;
`,
  },
  {
    id: 5,
    name: "run queue",
    // The store becomes the run queue. instances is rebuilt with AUTOINCREMENT: a pk names the
    // instance's data (its SQL database file, its rows), so it must never be handed out again after a
    // delete (plain INTEGER PRIMARY KEY reuses the highest one). New columns:
    // - ready_at: when the instance next needs a run (null: nothing to do until something wakes it);
    // - claim_owner / claim_until: the run that holds it (node id, lease expiry on the lease clock);
    // - wakes: wake-ups recorded (a release that has not seen the latest one makes it due again).
    // Instances that were unfinished are due at once, so the first claim loop continues them; a
    // waiting one keeps its wake time unless it has buffered events (they may match on its run).
    sql: `
CREATE TABLE instances_v5 (pk INTEGER PRIMARY KEY AUTOINCREMENT, tenant TEXT NOT NULL, workflow TEXT NOT NULL, id TEXT NOT NULL, version TEXT NOT NULL,
  status TEXT NOT NULL, params BLOB, metadata TEXT NOT NULL DEFAULT '{}', trigger TEXT NOT NULL DEFAULT 'api',
  created_at INTEGER NOT NULL, started_at INTEGER, ended_at INTEGER, modified_at INTEGER NOT NULL,
  output BLOB, error TEXT, wake_at INTEGER, epoch INTEGER NOT NULL DEFAULT 0, fs_head TEXT, fs_files INTEGER NOT NULL DEFAULT 0,
  ready_at INTEGER, claim_owner TEXT, claim_until INTEGER, wakes INTEGER NOT NULL DEFAULT 0,
  UNIQUE (tenant, workflow, id));
INSERT INTO instances_v5 (pk, tenant, workflow, id, version, status, params, metadata, trigger, created_at, started_at, ended_at, modified_at,
  output, error, wake_at, epoch, fs_head, fs_files, ready_at)
SELECT pk, tenant, workflow, id, version, status, params, metadata, trigger, created_at, started_at, ended_at, modified_at,
  output, error, wake_at, epoch, fs_head, fs_files,
  CASE WHEN status IN ('queued','running','waitingForPause') THEN modified_at
       WHEN status = 'waiting' AND EXISTS (SELECT 1 FROM events e WHERE e.instance = instances.pk AND e.consumed_by IS NULL) THEN modified_at
       WHEN status = 'waiting' THEN wake_at ELSE NULL END
FROM instances;
DROP TABLE instances;
ALTER TABLE instances_v5 RENAME TO instances;
DELETE FROM sqlite_sequence WHERE name IN ('instances', 'instances_v5');
INSERT INTO sqlite_sequence (name, seq) SELECT 'instances', COALESCE(MAX(pk), 0) FROM instances;
CREATE INDEX instances_ready ON instances (ready_at) WHERE ready_at IS NOT NULL;
CREATE INDEX instances_active ON instances (status) WHERE status IN ('queued','running','waitingForPause','waiting');
CREATE INDEX instances_list ON instances (tenant, workflow, pk);
CREATE INDEX instances_status ON instances (tenant, workflow, status, pk);
CREATE INDEX instances_created ON instances (tenant, created_at);
CREATE INDEX instances_ended ON instances (tenant, ended_at) WHERE ended_at IS NOT NULL;
CREATE INDEX instances_claims ON instances (claim_owner) WHERE claim_owner IS NOT NULL;
`,
  },
  {
    id: 6,
    name: "instance SQL pages",
    // An instance's SQL database lives in the store as its pages (a step's SQL commit journals the
    // pages it changed, with its result): the local file is a copy that can always be rebuilt.
    // sql_seq counts the database's commits, sql_by names the run that made the last one (its claim's
    // epoch: a run that lost its claim may have made a commit of the same number); sql_pages is its size in pages.
    sql: `
CREATE TABLE sql_pages (instance INTEGER NOT NULL, pgno INTEGER NOT NULL, data BLOB NOT NULL, PRIMARY KEY (instance, pgno));
ALTER TABLE instances ADD COLUMN sql_seq INTEGER NOT NULL DEFAULT 0;
ALTER TABLE instances ADD COLUMN sql_pages INTEGER NOT NULL DEFAULT 0;
ALTER TABLE instances ADD COLUMN sql_page_size INTEGER;
ALTER TABLE instances ADD COLUMN sql_by INTEGER NOT NULL DEFAULT 0;
`,
  },
  {
    id: 7,
    name: "claim limits and creation buckets",
    // live claims counted per tenant and workflow when a claim carries limits; a tenant's creation
    // bucket as a row (core/rate.ts), as on a shared store
    sql: `
CREATE INDEX instances_claimed ON instances (tenant, workflow) WHERE claim_owner IS NOT NULL;
CREATE TABLE create_buckets (tenant TEXT PRIMARY KEY, tokens REAL NOT NULL, at INTEGER NOT NULL);
`,
  },
];

export function migrate(db: DatabaseSync): void {
  db.exec(`CREATE TABLE IF NOT EXISTS schema_migrations (id INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at INTEGER NOT NULL)`);
  const done = new Set((db.prepare(`SELECT id FROM schema_migrations`).all() as { id: number }[]).map((r) => r.id));
  for (const m of MIGRATIONS) {
    if (done.has(m.id)) continue;
    db.exec("BEGIN");
    try {
      db.exec(m.sql);
      db.prepare(`INSERT INTO schema_migrations (id, name, applied_at) VALUES (?,?,?)`).run(m.id, m.name, Date.now());
      db.exec("COMMIT");
    } catch (e) {
      db.exec("ROLLBACK");
      throw e;
    }
  }
}
