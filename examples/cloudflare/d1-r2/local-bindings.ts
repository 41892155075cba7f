// Local stand-ins for the D1 and R2 bindings, for `weft run --bindings local-bindings.ts` (as
// `wrangler dev` gives local D1 and R2 through Miniflare). They run in the CLI's Node process, on the
// platform's side: the workflow reaches them only through the binding stubs Weft hands it. D1 is an
// in-memory node:sqlite database seeded with a few orders; R2 is a Map. This file is not part of the
// Worker (wrangler.jsonc binds the real services).
import { DatabaseSync, type SQLInputValue } from "node:sqlite";

class LocalD1 {
  readonly db: DatabaseSync;
  constructor(db: DatabaseSync) {
    this.db = db;
  }
  prepare(sql: string): LocalStatement {
    return new LocalStatement(this.db, sql, []);
  }
  async batch(statements: LocalStatement[]) {
    this.db.exec("BEGIN");
    try {
      const results = statements.map((s) => s.runNow());
      this.db.exec("COMMIT");
      return results;
    } catch (e) {
      this.db.exec("ROLLBACK");
      throw e;
    }
  }
}

class LocalStatement {
  readonly db: DatabaseSync;
  readonly sql: string;
  readonly values: SQLInputValue[];
  constructor(db: DatabaseSync, sql: string, values: SQLInputValue[]) {
    this.db = db;
    this.sql = sql;
    this.values = values;
  }
  bind(...values: SQLInputValue[]): LocalStatement {
    return new LocalStatement(this.db, this.sql, values);
  }
  async first(column?: string) {
    const row = this.db.prepare(this.sql).get(...this.values);
    if (!row) return null;
    return column === undefined ? { ...row } : row[column];
  }
  async all() {
    const results = this.db.prepare(this.sql).all(...this.values).map((r) => ({ ...r }));
    return { results, success: true, meta: { changes: 0, last_row_id: 0, rows_read: results.length } };
  }
  async run() {
    return this.runNow();
  }
  runNow() {
    const r = this.db.prepare(this.sql).run(...this.values);
    return { results: [], success: true, meta: { changes: Number(r.changes), last_row_id: Number(r.lastInsertRowid) } };
  }
}

class LocalR2 {
  readonly objects = new Map<string, { body: string; uploaded: Date; contentType?: string }>();
  private meta(key: string) {
    const o = this.objects.get(key)!;
    return { key, size: new TextEncoder().encode(o.body).byteLength, etag: `"${o.body.length}-${key.length}"`, uploaded: o.uploaded, httpMetadata: { contentType: o.contentType } };
  }
  async put(key: string, body: string, options?: { httpMetadata?: { contentType?: string } }) {
    this.objects.set(key, { body, uploaded: new Date(), contentType: options?.httpMetadata?.contentType });
    return this.meta(key);
  }
  async head(key: string) {
    return this.objects.has(key) ? this.meta(key) : null;
  }
  async get(key: string) {
    const o = this.objects.get(key);
    if (!o) return null;
    return { ...this.meta(key), text: async () => o.body, json: async () => JSON.parse(o.body), arrayBuffer: async () => new TextEncoder().encode(o.body).buffer };
  }
  async delete(key: string) {
    this.objects.delete(key);
  }
  async list(options: { prefix?: string } = {}) {
    const objects = [...this.objects.keys()].filter((k) => k.startsWith(options.prefix ?? "")).sort().map((k) => this.meta(k));
    return { objects, truncated: false };
  }
}

/** A fresh database and bucket: the orders of two days, nothing exported yet. */
export function localBindings() {
  const db = new DatabaseSync(":memory:");
  db.exec(`
    CREATE TABLE orders (id INTEGER PRIMARY KEY, day TEXT NOT NULL, customer TEXT NOT NULL, total_cents INTEGER NOT NULL, exported INTEGER NOT NULL DEFAULT 0);
    CREATE TABLE exports (day TEXT PRIMARY KEY, r2_key TEXT NOT NULL, rows INTEGER NOT NULL);
    INSERT INTO orders (day, customer, total_cents) VALUES
      ('2026-09-29', 'kim', 1200),
      ('2026-09-30', 'ada', 4999), ('2026-09-30', 'sam', 250), ('2026-09-30', 'lee', 12000);
  `);
  return { DB: new LocalD1(db), EXPORTS: new LocalR2(), db };
}

export default function () {
  const { DB, EXPORTS } = localBindings();
  return { DB, EXPORTS };
}
