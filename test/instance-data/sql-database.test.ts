import { test, after } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdtempSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { DatabaseSync } from "node:sqlite";
import { InstanceDatabase, type InstanceDatabaseOptions } from "../../src/instance-data/sql/database.ts";
import { writeDatabaseFile, type SqlDelta } from "../../src/instance-data/sql/pages.ts";
import { ErrorCode, WeftError } from "../../src/core/errors.ts";

const root = mkdtempSync(join(tmpdir(), "weft-sqldb-"));
after(() => rmSync(root, { recursive: true, force: true }));
let n = 0;
const dir = (): string => mkdtempSync(join(root, `t${n++}-`));
const open = (path: string, o: Partial<InstanceDatabaseOptions> = {}): InstanceDatabase =>
  new InstanceDatabase({ path, maxBytes: 10 * 1024 * 1024, ...o });
const fresh = (o: Partial<InstanceDatabaseOptions> = {}): { db: InstanceDatabase; path: string } => {
  const path = join(dir(), "nested", "instance.db");
  return { db: open(path, o), path };
};
const W = (db: InstanceDatabase, q: string, ...p: unknown[]) => db.exec(q, p as never, true);
const R = (db: InstanceDatabase, q: string, ...p: unknown[]) => db.exec(q, p as never, false, "writes outside step.do are refused");
const code = (c: string) => (e: unknown) => e instanceof WeftError && e.code === c;
/** a plain connection, outside the tenant rules */
const raw = (path: string, q: string): unknown => {
  const d = new DatabaseSync(path, { readOnly: true });
  try {
    return Object.values(d.prepare(q).get()!)[0];
  } finally {
    d.close();
  }
};

test("creates the file and its directory; CRUD with columns, rows and rowsWritten", () => {
  const { db, path } = fresh();
  assert.ok(InstanceDatabase.exists(path));
  assert.ok(!InstanceDatabase.exists(join(root, "nope.db")));
  assert.deepEqual(R(db, "SELECT name FROM sqlite_master").rows, [], "an untouched database has no tables");
  const c = W(db, "CREATE TABLE users (id INTEGER PRIMARY KEY, name TEXT NOT NULL, score REAL)");
  assert.deepEqual(c, { columns: [], rows: [], rowsRead: 0, rowsWritten: 0 });
  assert.equal(W(db, "INSERT INTO users (name, score) VALUES (?, ?), (?, ?)", "ada", 1.5, "bob", null).rowsWritten, 2);
  const r = R(db, "SELECT id, name, score AS s FROM users ORDER BY id");
  assert.deepEqual(r, { columns: ["id", "name", "s"], rows: [[1, "ada", 1.5], [2, "bob", null]], rowsRead: 2, rowsWritten: 0 });
  assert.equal(W(db, "UPDATE users SET score = ? WHERE name = ?", 7, "bob").rowsWritten, 1);
  const ret = W(db, "INSERT INTO users (name) VALUES (?) RETURNING id, name", "cy");
  assert.deepEqual([ret.columns, ret.rows, ret.rowsWritten], [["id", "name"], [[3, "cy"]], 1]);
  assert.equal(W(db, "DELETE FROM users WHERE id < 3").rowsWritten, 2);
  assert.deepEqual(R(db, "SELECT count(*) FROM users").rows, [[1]]);
  assert.deepEqual(R(db, "SELECT ?, ?", true, false).rows, [[1, 0]], "booleans bind as 1/0");
  db.close();
});

test("blobs and 64-bit integers round-trip", () => {
  const { db } = fresh();
  W(db, "CREATE TABLE b (k INTEGER, v BLOB)");
  const bytes = new Uint8Array([0, 1, 2, 250, 255]);
  W(db, "INSERT INTO b VALUES (?, ?)", 9007199254740993n, bytes);
  const [[k, v]] = R(db, "SELECT k, v FROM b").rows;
  assert.equal(k, 9007199254740993n, "beyond 2^53 stays a bigint");
  assert.ok(v instanceof Uint8Array);
  assert.deepEqual([...(v as Uint8Array)], [...bytes]);
  assert.deepEqual(R(db, "SELECT 42, x'0a0b'").rows, [[42, new Uint8Array([10, 11])]]);
  db.close();
});

test("bad bindings are refused with the position; SQL errors carry SQLite's message and the query", () => {
  const { db } = fresh();
  W(db, "CREATE TABLE t (a UNIQUE)");
  assert.throws(() => W(db, "INSERT INTO t VALUES (?)", undefined), (e: WeftError) => e.code === ErrorCode.InvalidArgument && /binding 1 is undefined/.test(e.message));
  assert.throws(() => R(db, "SELECT ?, ?", 1, { a: 1 }), (e: WeftError) => e.code === ErrorCode.InvalidArgument && /binding 2 is an object/.test(e.message));
  assert.throws(() => R(db, "SELECT ?, ?", 1), (e: WeftError) => /2 parameter\(s\) but 1 binding/.test(e.message) && e.details.expected === 2);
  assert.throws(() => R(db, "SELECT ?", 1, 2), /1 parameter\(s\) but 2 binding/);
  assert.deepEqual(R(db, "SELECT ?2, ?1", "a", "b").rows, [["b", "a"]], "?NNN works");
  assert.throws(() => R(db, "SELECT :name", 1), code(ErrorCode.InvalidArgument));
  assert.deepEqual(R(db, "SELECT '?', \"?\" FROM (SELECT 1 AS \"?\") -- ?\n").rows, [["?", 1]], "? in strings, identifiers and comments is no parameter");
  assert.throws(() => R(db, "   -- nothing\n ; "), code(ErrorCode.InvalidArgument));
  W(db, "INSERT INTO t VALUES (1)");
  assert.throws(() => W(db, "INSERT INTO t VALUES (1)"), (e: WeftError) => e.code === ErrorCode.SqlError && e.message === "UNIQUE constraint failed: t.a: INSERT INTO t VALUES (1)" && e.details.query === "INSERT INTO t VALUES (1)");
  assert.throws(() => R(db, "SELECT * FROM missing"), (e: WeftError) => e.code === ErrorCode.SqlError && /^no such table: missing: SELECT/.test(e.message));
  assert.throws(() => R(db, "SELEC 1"), (e: WeftError) => e.code === ErrorCode.SqlError && /syntax error/.test(e.message));
  const long = `SELECT * FROM missing WHERE a = '${"x".repeat(500)}'`;
  assert.throws(() => R(db, long), (e: WeftError) => e.message.length < 300 && e.details.query === long);
  db.close();
});

test("several statements run in order (quotes, comments, trigger bodies) and return the last result", () => {
  const { db } = fresh();
  const r = W(db, `
    CREATE TABLE t (a TEXT); -- a comment; with a semicolon
    CREATE TABLE log (msg TEXT);
    /* block; comment */
    CREATE TRIGGER tr AFTER INSERT ON t BEGIN
      INSERT INTO log VALUES ('saw ' || new.a || ';');
      INSERT INTO log VALUES (CASE WHEN new.a = 'x' THEN 'x;' ELSE 'other' END);
    END;
    INSERT INTO t VALUES ('it''s; fine'), ('x');
    SELECT msg FROM log ORDER BY rowid;
  `);
  assert.deepEqual(r.columns, ["msg"]);
  assert.deepEqual(r.rows, [["saw it's; fine;"], ["other"], ["saw x;"], ["x;"]]);
  assert.deepEqual(R(db, "SELECT 1; SELECT 2 AS two;;").rows, [[2]]);
  assert.throws(() => W(db, "INSERT INTO t VALUES (?); SELECT 1", "a"), (e: WeftError) => e.code === ErrorCode.InvalidArgument && /single statement/.test(e.message));
  assert.deepEqual(R(db, "SELECT count(*) FROM t").rows, [[2]], "nothing ran");
  db.close();
});

test("write=false refuses writes before they run and allows reads", () => {
  const { db } = fresh();
  W(db, "CREATE TABLE t (a); INSERT INTO t VALUES (1)");
  const refused = (q: string) => assert.throws(() => R(db, q), (e: WeftError) =>
    e.code === ErrorCode.StorageReadOnly && e.message.startsWith("writes outside step.do are refused: ") && e.message.includes(q.split("; ").at(-1)!), q);
  for (const q of ["INSERT INTO t VALUES (2)", "UPDATE t SET a = 5", "DELETE FROM t", "DROP TABLE t", "CREATE TABLE u (x)", "ALTER TABLE t ADD COLUMN b",
    "CREATE INDEX i ON t(a)", "PRAGMA foreign_keys = OFF", "REINDEX", "ANALYZE", "INSERT INTO t VALUES (2) RETURNING a", "SELECT 1; INSERT INTO t VALUES (3)"]) refused(q);
  assert.deepEqual(R(db, "SELECT a FROM t").rows, [[1]], "table unchanged");
  assert.deepEqual(R(db, "SELECT name FROM sqlite_master WHERE type != 'table' OR name != 't'").rows, []);
  assert.deepEqual(R(db, "PRAGMA table_info(t)").columns.slice(0, 2), ["cid", "name"]);
  assert.deepEqual(R(db, "PRAGMA foreign_keys").rows, [[1]], "foreign keys are on");
  assert.equal(W(db, "INSERT INTO t VALUES (2)").rowsWritten, 1, "the same cached statement writes with write=true");
  refused("INSERT INTO t VALUES (2)");
  db.close();
});

test("begin → writes → rollback leaves the old state; dirty tracks DML and DDL, not reads", () => {
  const { db } = fresh();
  W(db, "CREATE TABLE t (a)");
  assert.equal(db.dirty, false);
  db.begin();
  assert.ok(db.inTransaction);
  R(db, "SELECT * FROM t");
  assert.equal(db.dirty, false, "reads");
  W(db, "INSERT INTO t VALUES (1)");
  assert.equal(db.dirty, true, "DML");
  db.rollback();
  assert.ok(!db.inTransaction);
  assert.equal(db.dirty, false);
  assert.deepEqual(R(db, "SELECT count(*) FROM t").rows, [[0]]);
  db.begin();
  W(db, "CREATE TABLE u (x)");
  assert.equal(db.dirty, true, "DDL");
  db.rollback();
  assert.deepEqual(R(db, "SELECT name FROM sqlite_master").rows, [["t"]]);
  db.begin();
  assert.throws(() => W(db, "INSERT INTO nope VALUES (1)"), code(ErrorCode.SqlError));
  assert.equal(db.dirty, false, "a failed statement changes nothing");
  db.rollback();
  db.close();
});

test("savepoint / rollbackTo / release nest inside the attempt", () => {
  const { db } = fresh();
  W(db, "CREATE TABLE t (a)");
  db.savepoint(); // no attempt open: a read-only transactionSync
  assert.deepEqual(R(db, "SELECT count(*) FROM t").rows, [[0]]);
  assert.throws(() => W(db, "INSERT INTO t VALUES (0)"), code(ErrorCode.InvalidState), "its writes would commit on release()");
  db.release();
  assert.ok(!db.inTransaction, "the outermost release() ends it");
  db.begin();
  db.savepoint();
  W(db, "INSERT INTO t VALUES (1)");
  db.savepoint();
  W(db, "INSERT INTO t VALUES (2)");
  db.savepoint();
  W(db, "INSERT INTO t VALUES (3)");
  db.rollbackTo();
  db.release();
  assert.deepEqual(R(db, "SELECT a FROM t").rows, [[1], [2]]);
  db.rollbackTo();
  assert.deepEqual(R(db, "SELECT a FROM t").rows, []);
  assert.equal(db.dirty, false, "everything was undone");
  assert.ok(db.inTransaction, "the attempt stays open");
  assert.throws(() => db.release(), code(ErrorCode.InvalidState));
  db.rollback();
  db.close();
});

/** a database file made from nothing but the deltas' pages, as the store rebuilds it */
async function rebuilt(deltas: SqlDelta[]): Promise<string> {
  const pages = new Map<number, Uint8Array>();
  for (const d of deltas) {
    for (const p of d.pages) pages.set(p.pgno, p.data);
    for (const k of [...pages.keys()]) if (k > d.nPages) pages.delete(k);
  }
  const last = deltas[deltas.length - 1]!;
  const path = join(dir(), "rebuilt", "i.db");
  async function* parts() { yield [...pages].sort((a, b) => a[0] - b[0]).map(([pgno, data]) => ({ pgno, data })); }
  await writeDatabaseFile(path, last.pageSize, last.nPages, parts());
  return path;
}

test("commitAttempt commits as the next version and hands back the pages it changed: rebuilt from them alone, the database is the same (DDL, tables without a key, indexes, deletes)", async () => {
  const { db, path } = fresh();
  assert.equal(db.version().seq, 0);
  const deltas: SqlDelta[] = [];
  db.begin();
  W(db, "CREATE TABLE t (a); CREATE TABLE k (id INTEGER PRIMARY KEY, v TEXT) ; CREATE INDEX ta ON t (a)");
  W(db, "INSERT INTO t VALUES ('one')");
  deltas.push(await db.commitAttempt(1, 1));
  assert.ok(!db.inTransaction);
  assert.equal(deltas[0]!.seq, 1);
  assert.ok(deltas[0]!.pages.some((p) => p.pgno === 1), "page 1 (the schema) changed");
  for (let i = 2; i <= 40; i++) {
    db.begin();
    W(db, "INSERT INTO t VALUES (?)", "x".repeat(i * 100));
    W(db, "INSERT INTO k (v) VALUES (?)", String(i));
    if (i === 30) W(db, "DELETE FROM t WHERE length(a) > 2000; DROP INDEX ta; ALTER TABLE k ADD COLUMN w");
    deltas.push(await db.commitAttempt(i, 1));
  }
  assert.equal(db.version().seq, 40);
  assert.ok(deltas.every((d, i) => d.seq === i + 1 && d.pages.length > 0 && d.pages.length < d.nPages + 1));
  db.begin();
  W(db, "INSERT INTO t VALUES ('rolled back')");
  db.rollback();
  const copy = await rebuilt(deltas);
  const a = open(copy);
  const b = open(path);
  for (const q of ["SELECT a FROM t ORDER BY rowid", "SELECT * FROM k ORDER BY id", "SELECT type, name, sql FROM sqlite_master ORDER BY name"]) {
    assert.deepEqual(R(a, q).rows, R(b, q).rows, q);
  }
  assert.deepEqual(a.version(), { seq: 40, by: 1 });
  assert.equal(raw(copy, "PRAGMA integrity_check"), "ok");
  assert.throws(() => R(b, "SELECT * FROM _weft_meta"), code(ErrorCode.StorageDenied), "the hidden table stays hidden");
  a.close();
  b.close();
  // a copy made before versions existed: tables, no version
  const old = join(dir(), "old.db");
  const d = new DatabaseSync(old);
  d.exec("CREATE TABLE legacy (x)");
  d.close();
  const l = open(old);
  assert.equal(l.version().seq, -1);
  l.close();
});

function child(path: string, body: string): { status: number | null; signal: string | null } {
  const script = join(dir(), "child.ts");
  writeFileSync(script, `import { InstanceDatabase } from ${JSON.stringify(pathToFileURL(join(import.meta.dirname, "../../src/instance-data/sql/database.ts")).href)};
const db = new InstanceDatabase({ path: ${JSON.stringify(path)}, maxBytes: 1 << 20 });
${body}`);
  const r = spawnSync(process.execPath, [script], { encoding: "utf8" });
  assert.equal(r.stderr.replace(/.*ExperimentalWarning.*\n?|.*--trace-warnings.*\n?/g, ""), "");
  return { status: r.status, signal: r.signal };
}

test("a crash before commitAttempt leaves nothing; after it resolves, everything", async () => {
  const { db, path } = fresh();
  W(db, "CREATE TABLE t (a)");
  db.close();
  assert.deepEqual(child(path, `db.begin(); db.exec("INSERT INTO t VALUES (1)", [], true); process.exit(3);`), { status: 3, signal: null });
  assert.deepEqual(
    child(path, `db.begin(); db.exec("INSERT INTO t VALUES (2)", [], true); db.exec("CREATE TABLE u (x)", [], true); process.kill(process.pid, "SIGKILL");`),
    { status: null, signal: "SIGKILL" },
  );
  let db2 = open(path);
  assert.deepEqual(R(db2, "SELECT count(*) FROM t").rows, [[0]]);
  assert.deepEqual(R(db2, "SELECT name FROM sqlite_master").rows, [["t"]]);
  assert.equal(db2.version().seq, -1, "tables made outside commitAttempt: no version");
  db2.close();
  const r = child(path, `db.begin(); db.exec("INSERT INTO t VALUES (3)", [], true);
await db.commitAttempt(7, 3); process.kill(process.pid, "SIGKILL");`);
  assert.equal(r.signal, "SIGKILL");
  db2 = open(path);
  assert.deepEqual(R(db2, "SELECT a FROM t").rows, [[3]]);
  assert.deepEqual(db2.version(), { seq: 7, by: 3 }, "the version and its run are stamped in the commit's own transaction");
  db2.close();
});

test("size limit: StorageLimit, earlier data kept, the transaction stays usable", async () => {
  const { db } = fresh({ maxBytes: 64 * 1024 });
  W(db, "CREATE TABLE t (i INTEGER PRIMARY KEY, b BLOB)");
  db.begin();
  let err: unknown;
  let i = 0;
  for (; i < 100; i++) {
    try {
      W(db, "INSERT INTO t (b) VALUES (?)", new Uint8Array(4000).fill(i));
    } catch (e) {
      err = e;
      break;
    }
  }
  assert.ok(err instanceof WeftError && err.code === ErrorCode.StorageLimit, String(err));
  assert.match(err.message, /the instance database is full: .*limit of 65536 bytes \(limits\.sqlBytes\)/);
  assert.deepEqual(err.details.limitBytes, 65536);
  assert.ok(i > 5 && i < 16, `stopped after ${i} rows`);
  assert.ok(db.inTransaction, "the attempt's transaction is still open");
  assert.deepEqual(R(db, "SELECT count(*) FROM t").rows, [[i]], "the failing insert changed nothing");
  assert.ok(db.sizeBytes() <= 64 * 1024);
  W(db, "DELETE FROM t WHERE i <= 3");
  W(db, "INSERT INTO t (b) VALUES (?)", new Uint8Array(4000));
  await db.commitAttempt(1, 1);
  assert.deepEqual(R(db, "SELECT count(*) FROM t").rows, [[i - 2]]);
  assert.equal(db.version().seq, 1, "the engine's bookkeeping fits even when the tenant's quota is used up");
  assert.throws(() => W(db, "INSERT INTO t (b) SELECT b FROM t"), code(ErrorCode.StorageLimit), "a multi-row insert too");
  assert.deepEqual(R(db, "SELECT count(*) FROM t").rows, [[i - 2]]);
  db.close();
});

test("result sets are capped", () => {
  const { db } = fresh({ maxResultBytes: 10_000 });
  W(db, "CREATE TABLE t (s TEXT); WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < 100) INSERT INTO t SELECT printf('%.200c', 'a') FROM c");
  assert.throws(() => R(db, "SELECT s FROM t"), (e: WeftError) => e.code === ErrorCode.StorageLimit && /add LIMIT/.test(e.message));
  assert.equal(R(db, "SELECT s FROM t LIMIT 10").rows.length, 10, "the statement is usable again");
  db.close();
});

test("the authorizer keeps tenant SQL inside its own database and away from the engine's tables", async () => {
  const d = dir();
  const path = join(d, "i.db");
  const db = open(path);
  W(db, "CREATE TABLE t (a); INSERT INTO t VALUES (1)");
  await db.commitAttempt(1, 1);
  const denied = (q: string, why: RegExp) =>
    assert.throws(() => W(db, q), (e: WeftError) => e.code === ErrorCode.StorageDenied && why.test(e.message), q);
  denied(`ATTACH DATABASE '${join(d, "other.db")}' AS o`, /ATTACH is not allowed/);
  denied(`VACUUM INTO '${join(d, "copy.db")}'`, /VACUUM is not allowed/);
  denied("VACUUM", /VACUUM is not allowed/);
  denied(`SELECT 1; ; /* hidden? */ VACUUM INTO '${join(d, "copy2.db")}'`, /VACUUM is not allowed/);
  denied(`; -- leading
     EXPLAIN VACUUM INTO '${join(d, "copy3.db")}'`, /VACUUM is not allowed/);
  denied("PRAGMA journal_mode=DELETE", /PRAGMA journal_mode is not allowed/);
  denied("PRAGMA writable_schema=1", /PRAGMA writable_schema is not allowed/);
  denied("PRAGMA max_page_count=1000000", /PRAGMA max_page_count is not allowed/);
  denied("PRAGMA user_version = 3", /setting PRAGMA user_version/);
  denied("SELECT * FROM _weft_meta", /_weft_meta is reserved for the engine/);
  denied("SELECT * FROM _WEFT_META", /reserved/);
  denied("DELETE FROM _weft_meta", /reserved/);
  denied("CREATE TABLE _weft_mine (x)", /reserved/);
  denied("CREATE TRIGGER x AFTER INSERT ON _weft_meta BEGIN SELECT 1; END", /reserved/);
  denied("ALTER TABLE t RENAME TO _weft_meta2", /reserved/);
  denied("CREATE VIEW v AS SELECT 1; SELECT * FROM v; DROP VIEW v; CREATE VIEW w AS SELECT * FROM _weft_meta; SELECT * FROM w", /reserved/);
  denied("BEGIN", /BEGIN is not allowed/);
  denied("COMMIT", /COMMIT is not allowed/);
  denied("SAVEPOINT s", /SAVEPOINT is not allowed/);
  denied("CREATE TEMP TABLE tt (x)", /temporary objects/);
  denied("CREATE TABLE s (id INTEGER PRIMARY KEY AUTOINCREMENT); UPDATE sqlite_sequence SET seq = 5", /UPDATE on sqlite_sequence/);
  denied("SELECT load_extension('x')", /load_extension/);
  assert.deepEqual(readdirSync(d).sort(), ["i.db", "i.db-shm", "i.db-wal"], "no file was created by ATTACH or VACUUM INTO");
  assert.deepEqual(R(db, "PRAGMA user_version").rows, [[0]]);
  assert.deepEqual(R(db, "SELECT a FROM t").rows, [[1]]);
  assert.equal(db.version().seq, 1);
  W(db, "DROP TABLE s"); // dropping an AUTOINCREMENT table deletes from sqlite_sequence: SQLite's own bookkeeping
  W(db, "PRAGMA defer_foreign_keys = ON");
  assert.equal(raw(path, "PRAGMA journal_mode"), "wal");
  db.close();
  assert.equal(raw(path, "PRAGMA journal_mode"), "wal");
});

test("INSERT OR ROLLBACK ends the attempt: it can no longer commit", async () => {
  const { db } = fresh();
  W(db, "CREATE TABLE t (a UNIQUE); INSERT INTO t VALUES (1)");
  db.begin();
  W(db, "INSERT INTO t VALUES (2)");
  assert.throws(() => W(db, "INSERT OR ROLLBACK INTO t VALUES (1)"), (e: WeftError) => e.details.transactionRolledBack === true);
  assert.throws(() => W(db, "INSERT INTO t VALUES (3)"), code(ErrorCode.InvalidState), "no autocommit writes after the attempt was lost");
  await assert.rejects(db.commitAttempt(1, 1), code(ErrorCode.InvalidState));
  assert.deepEqual(R(db, "SELECT a FROM t").rows, [[1]]);
  db.rollback();
  db.begin();
  W(db, "INSERT INTO t VALUES (3)");
  await db.commitAttempt(1, 1);
  assert.deepEqual(R(db, "SELECT a FROM t").rows, [[1], [3]]);
  db.close();
});

test("a deferred foreign key violation fails the commit and leaves the attempt open", async () => {
  const { db } = fresh();
  W(db, "CREATE TABLE p (id INTEGER PRIMARY KEY); CREATE TABLE c (p INTEGER REFERENCES p(id))");
  assert.throws(() => W(db, "INSERT INTO c VALUES (1)"), (e: WeftError) => e.code === ErrorCode.SqlError && /FOREIGN KEY constraint failed/.test(e.message));
  db.begin();
  W(db, "PRAGMA defer_foreign_keys = ON");
  W(db, "INSERT INTO c VALUES (1)");
  await assert.rejects(db.commitAttempt(1, 1), (e: WeftError) => e.code === ErrorCode.SqlError && /FOREIGN KEY constraint failed/.test(e.message));
  assert.ok(db.inTransaction);
  W(db, "INSERT INTO p VALUES (1)");
  await db.commitAttempt(1, 1);
  assert.deepEqual(R(db, "SELECT p FROM c").rows, [[1]]);
  assert.equal(db.version().seq, 1);
  db.close();
});

test("serialize gives the committed database as one file image", async () => {
  const { db } = fresh();
  W(db, "CREATE TABLE t (a, b BLOB)");
  db.begin();
  W(db, "INSERT INTO t VALUES (?, ?)", "x", new Uint8Array([1, 2, 3]));
  await db.commitAttempt(1, 1);
  db.begin();
  assert.throws(() => db.serialize(), code(ErrorCode.InvalidState));
  db.rollback();
  const target = join(dir(), "image.db");
  writeFileSync(target, db.serialize());
  db.close();
  const db2 = open(target);
  assert.deepEqual(R(db2, "SELECT a, b FROM t").rows, [["x", new Uint8Array([1, 2, 3])]]);
  assert.equal(db2.version().seq, 1);
  db2.close();
});

test(":memory: databases answer reads and autocommit writes, but cannot commit an attempt (nothing to journal)", async () => {
  const db = new InstanceDatabase({ path: ":memory:", maxBytes: 1 << 20 });
  assert.ok(!InstanceDatabase.exists(":memory:"));
  W(db, "CREATE TABLE t (a); INSERT INTO t VALUES (1)");
  db.begin();
  await assert.rejects(db.commitAttempt(1, 1), code(ErrorCode.InvalidState));
  db.rollback();
  assert.deepEqual(R(db, "SELECT a FROM t").rows, [[1]]);
  db.close();
  assert.throws(() => R(db, "SELECT 1"), code(ErrorCode.InvalidState));
});

test("a commit is journaled only when this connection is the file's one writer: with another connection's commit in between, the pages cannot be told apart and the commit is refused", async () => {
  const { db, path } = fresh();
  db.begin();
  W(db, "CREATE TABLE t (a)");
  await db.commitAttempt(1, 1);
  const other = open(path); // a second connection on the same file (a run that should have ended)
  other.begin();
  W(other, "INSERT INTO t VALUES ('other')");
  await other.commitAttempt(2, 9);
  db.begin();
  W(db, "INSERT INTO t VALUES ('mine')");
  await assert.rejects(db.commitAttempt(2, 2), (e: WeftError) => e.code === ErrorCode.InvalidState && /another connection wrote/.test(e.message));
  other.close();
  db.close();
});
