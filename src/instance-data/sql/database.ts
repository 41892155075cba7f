// One workflow instance's own SQLite database: the host side of `ctx.storage.sql`, the Durable
// Objects-style SQL API that tenant code calls synchronously from inside its sandbox. What it owns:
// - Atomicity with steps. A step attempt's SQL runs in one SQLite transaction (begin() …
//   commitAttempt()). commitAttempt() stamps the database's next version (a hidden _weft_meta row)
//   in that SAME transaction, commits it, and hands back the pages the commit changed (read from
//   the -wal file: pages.ts). The engine journals those pages with the step's result: the journal
//   is the one commit point, and this file is a copy that can be rebuilt from the store. A commit
//   the journal never got (a crash in between) is undone by that rebuild: the version stamped here
//   is then ahead of the store's (instance-data.ts reconcileSql).
// - Durability comes from the journal: WAL + synchronous=NORMAL here, no fdatasync of our own.
// - Containment: an authorizer keeps tenant SQL inside this one file (no ATTACH, no VACUUM [INTO],
//   no PRAGMA that changes settings or touches files, no transaction control, no temp objects) and
//   away from the engine's _weft_* tables. It also classifies each statement as read or write while
//   it is prepared, so writes where they are not allowed are refused before they run.
// - The size limit. SQLITE_FULL (from max_page_count) rolls back the WHOLE transaction when the
//   failing statement has no statement journal (a one-row INSERT has none), so the limit is our own
//   check after each write, undone through a per-statement savepoint; max_page_count stays, with
//   headroom, as the hard cap for one runaway statement.
import { DatabaseSync, constants as C, type SQLInputValue, type StatementSync } from "node:sqlite";
import { existsSync, mkdirSync } from "node:fs";
import { dirname } from "node:path";
import { ErrorCode, WeftError } from "../../core/errors.ts";
import { commitAfter, readCommit, walCursor, type CommitFrames, type SqlDelta, type WalCursor } from "./pages.ts";

export type SqlValue = string | number | bigint | null | Uint8Array;
export interface SqlResult { columns: string[]; rows: SqlValue[][]; rowsRead: number; rowsWritten: number }
export interface InstanceDatabaseOptions {
  /** file path, or ":memory:" */
  path: string;
  /** size limit of the database in bytes */
  maxBytes: number;
  /** cap on the bytes of one result set returned by exec (default 16 MiB) */
  maxResultBytes?: number;
}
/** What the engine uses of a database, wherever it lives (here, or in a SQL worker: pool.ts). */
export type SqlDatabase = Pick<InstanceDatabase, "exec" | "begin" | "inTransaction" | "dirty" | "savepoint" | "release" | "rollbackTo" | "commitAttempt" | "rollback" | "version" | "sizeBytes" | "serialize" | "close"> & {
  /** true once the connection is gone (its SQL worker was given up) */
  readonly lost?: boolean;
};

type Row = Record<string, unknown>;
interface Tok { k: "word" | "param" | "other"; v: string; at: number }
/** a prepared statement: the first one of the query text it is cached under, and the text after it (next) */
interface Entry { stmt: StatementSync; sql: string; next: string; nParams: number; writes: boolean; ddl: boolean }

const CACHE_MAX = 64;
const HEADROOM_BYTES = 16 * 1024 * 1024;
const ACTION: Record<number, string> = Object.fromEntries(Object.entries(C).filter(([k]) => !/CHANGESET|_(OK|DENY|IGNORE)$/.test(k)).map(([k, v]) => [v, k.slice(7)]));
const codes = (re: RegExp): Set<number> => new Set(Object.keys(ACTION).map(Number).filter((c) => re.test(ACTION[c])));
/** actions that change the database: CREATE_*, DROP_* (incl. virtual tables), INSERT, UPDATE, DELETE, ALTER_TABLE, REINDEX, ANALYZE */
const WRITE = codes(/^(CREATE_(?!TEMP)|DROP_(?!TEMP)|INSERT$|UPDATE$|DELETE$|ALTER_TABLE$|REINDEX$|ANALYZE$)/);
const TEMP = codes(/^(CREATE|DROP)_TEMP_/);
// PRAGMAs for tenants: those whose argument is what they inspect; those that may only be read; those that may also be set (a write)
const PRAGMA_INSPECT = new Set(["table_info", "table_xinfo", "table_list", "index_list", "index_info", "index_xinfo", "foreign_key_list", "foreign_key_check", "integrity_check", "quick_check"]);
const PRAGMA_READ = new Set(["page_size", "page_count", "freelist_count", "data_version", "user_version"]);
const PRAGMA_SET = new Set(["defer_foreign_keys", "foreign_keys"]);
/** statements whose own bookkeeping writes sqlite_master / sqlite_sequence / sqlite_stat1 */
const DDL = new Set(["CREATE", "DROP", "ALTER", "ANALYZE", "REINDEX"]);

const short = (sql: string): string => (sql.length > 200 ? `${sql.slice(0, 200)}…` : sql).trim();
/**
 * SQLite's tokens, as far as needed here: whitespace and comments (group 1, skipped), strings and
 * quoted names (one "other" token each), parameters (group 2), words (group 3), single characters.
 */
const TOKEN = /(\s+|--[^\n]*|\/\*[^]*?(?:\*\/|$))|'(?:[^']|'')*'?|"(?:[^"]|"")*"?|`(?:[^`]|``)*`?|\[[^\]]*\]?|(\?\d*|[:@$][\w$\u0080-\uffff]+)|([\w$\u0080-\uffff]+)|[^]/y;
function* lex(s: string, i = 0): Generator<Tok> {
  const re = new RegExp(TOKEN);
  for (re.lastIndex = i; re.lastIndex < s.length; ) {
    const at = re.lastIndex;
    const m = re.exec(s)!;
    if (!m[1]) yield { k: m[2] ? "param" : m[3] ? "word" : "other", v: m[0], at };
  }
}

/** index of the first token at or after i that is not a `;` (whitespace and comments skipped) */
function skipBlank(s: string, i: number): number {
  for (const t of lex(s, i)) if (t.k !== "other" || t.v !== ";") return t.at;
  return s.length;
}

/** the statement's verb (CREATE, SELECT, VACUUM …), looking through EXPLAIN [QUERY PLAN] */
function verbOf(s: string): string {
  const w: string[] = [];
  for (const t of lex(s, skipBlank(s, 0))) if (t.k !== "word" || w.push(t.v.toUpperCase()) === 4) break;
  return w[w[0] !== "EXPLAIN" ? 0 : w[1] === "QUERY" && w[2] === "PLAN" ? 3 : 1] ?? "";
}

function bindValue(v: unknown, i: number): SQLInputValue {
  if (v === null || typeof v === "string" || typeof v === "number" || v instanceof Uint8Array) return v;
  if (typeof v === "boolean") return v ? 1 : 0;
  if (typeof v === "bigint" && v >= -(2n ** 63n) && v < 2n ** 63n) return v;
  const what = typeof v === "bigint" ? "a bigint outside the 64-bit range" : v === undefined ? "undefined"
    : typeof v === "object" ? `an object (${v.constructor?.name ?? "null prototype"})` : `a ${typeof v}`;
  throw new WeftError(ErrorCode.InvalidArgument, `binding ${i + 1} is ${what}: SQL values must be a string, number, bigint, boolean, null or Uint8Array`, { position: i + 1 });
}

export class InstanceDatabase {
  static exists(path: string): boolean {
    return path !== ":memory:" && existsSync(path);
  }

  private readonly db: DatabaseSync;
  private readonly path: string;
  private readonly maxBytes: number;
  private readonly maxResultBytes: number;
  private readonly wal: boolean;
  private readonly pageSize: number;
  private readonly limitPages: number;
  private readonly headroom: number;
  private readonly cache = new Map<string, Entry>();
  private readonly sysCache = new Map<string, StatementSync>();
  private cap = 0; // max_page_count as set
  /** where the last commit ends in the -wal file: the next commit's frames follow */
  private cursor: WalCursor | undefined;
  private closed = false;
  // for the authorizer: running our own statement; the statement's kind; what it found
  private internal = false;
  private ddl = false;
  private readOnly = false;
  private readOnlyHit = false;
  private collect: string[] | null = null;
  private denied: string | null = null;
  // the attempt: begun by us; rolled back under us by SQLite (why); changes/schema at begin(); net changes at each savepoint()
  private tx = false;
  private aborted: string | null = null;
  private base = { changes: 0, schema: 0 };
  private sps: number[] = [];

  constructor(opts: InstanceDatabaseOptions) {
    if (!Number.isSafeInteger(opts.maxBytes) || opts.maxBytes <= 0) throw new WeftError(ErrorCode.InvalidArgument, `maxBytes must be a positive integer, got ${opts.maxBytes}`, { maxBytes: opts.maxBytes });
    ({ path: this.path, maxBytes: this.maxBytes, maxResultBytes: this.maxResultBytes = 16 * 1024 * 1024 } = opts);
    if (this.path !== ":memory:") mkdirSync(dirname(this.path), { recursive: true });
    this.db = new DatabaseSync(this.path, { enableForeignKeyConstraints: true, allowExtension: false });
    try {
      this.db.enableDefensive(true);
      this.wal = (this.db.prepare("PRAGMA journal_mode=WAL").get() as Row).journal_mode === "wal";
      // without WAL (":memory:", or a filesystem without shared memory) nothing can commit: see commitSync
      this.db.exec(`PRAGMA synchronous=NORMAL; PRAGMA foreign_keys=ON`);
      if (this.wal) this.cursor = walCursor(`${this.path}-wal`);
      this.pageSize = (this.db.prepare("PRAGMA page_size").get() as Row).page_size as number;
      this.limitPages = Math.max(1, Math.floor(this.maxBytes / this.pageSize));
      this.headroom = Math.max(this.limitPages, Math.ceil(HEADROOM_BYTES / this.pageSize));
      this.db.setAuthorizer((code, a1, a2) => this.authorize(code, a1, a2));
      this.fitCap();
    } catch (e) {
      this.db.close();
      throw e;
    }
  }

  get inTransaction(): boolean {
    return !this.closed && this.db.isTransaction;
  }

  /** did the open transaction change rows or schema? (what rollbackTo() or a failed statement undid does not count) */
  get dirty(): boolean {
    if (!this.inTransaction) return false;
    const s = this.stats();
    return s.changes !== this.base.changes || s.schema !== this.base.schema;
  }

  exec(query: string, params: SqlValue[], write: boolean, refusal = "this statement writes to the database, which is not allowed here"): SqlResult {
    this.assertOpen();
    if (typeof query !== "string" || !Array.isArray(params)) throw new WeftError(ErrorCode.InvalidArgument, "exec() takes a query string and an array of bindings");
    const binds = params.map(bindValue);
    let result: SqlResult | undefined;
    for (let rest = query, first = true; rest; first = false) {
      const e = this.prepare(rest, write, refusal);
      if (first && e.next && binds.length > 0) throw new WeftError(ErrorCode.InvalidArgument, `bindings can only be used with a single statement, but this query has several; run them one at a time: ${short(query)}`, { query });
      if (e.nParams !== binds.length) throw new WeftError(ErrorCode.InvalidArgument, `the statement has ${e.nParams} parameter(s) but ${binds.length} binding(s) were given: ${short(e.sql)}`, { query: e.sql, expected: e.nParams, given: binds.length });
      result = this.run(e, binds, write, refusal);
      rest = e.next;
    }
    // a write outside a transaction committed on its own: our commit, so the next one follows it
    if (write && this.wal && !this.db.isTransaction) this.cursor = walCursor(`${this.path}-wal`);
    return result!;
  }

  begin(): void {
    this.assertOpen();
    if (this.aborted) throw this.abortedError();
    if (this.db.isTransaction) return;
    this.guard("BEGIN IMMEDIATE", () => this.sys("BEGIN IMMEDIATE")); // SQLITE_BUSY if another process has the file open
    this.mark();
    this.tx = true;
  }

  /**
   * Without an open transaction the savepoint starts one that the outermost release() commits: a
   * read-only transactionSync(). Writes are refused in it (run()): they belong in begin()'s.
   */
  savepoint(): void {
    this.assertOpen();
    if (this.aborted) throw this.abortedError();
    if (!this.db.isTransaction) this.mark();
    this.sys("SAVEPOINT weft_sp");
    this.sps.push(this.stats().changes - this.base.changes);
  }

  release(): void {
    this.popSavepoint();
    this.sys("RELEASE weft_sp");
  }

  /** undo everything since the innermost savepoint() and close it (ROLLBACK TO + RELEASE) */
  rollbackTo(): void {
    const net = this.popSavepoint();
    this.undo("weft_sp");
    this.base.changes = this.stats().changes - net;
  }

  /**
   * Commit the attempt's transaction as the database's version `seq` and hand back the pages it
   * changed (to be journaled with the step's result: until then the commit is only local).
   */
  async commitAttempt(seq: number, by: number): Promise<SqlDelta> {
    return readCommit(`${this.path}-wal`, this.commitSync(seq, by), seq, by);
  }

  /** The commit, and where its page images are in the -wal file (the SQL worker's half of commitAttempt). */
  commitSync(seq: number, by: number): CommitFrames {
    this.assertOpen();
    if (this.aborted) throw this.abortedError();
    if (!this.wal) throw new WeftError(ErrorCode.InvalidState, `the instance database ${this.path} is not in WAL mode: its commits cannot be journaled`, { path: this.path });
    if (this.db.isTransaction && !this.tx) throw new WeftError(ErrorCode.InvalidState, "commitAttempt() inside a savepoint() taken outside the step attempt");
    this.begin();
    this.sys("SAVEPOINT weft_commit");
    let stamped = false;
    let raised = false;
    try {
      this.guard("stamping the database version", () => {
        if (!this.metaTable) {
          // WITHOUT ROWID: one b-tree to touch per commit (a rowid table adds its key index)
          this.sys("CREATE TABLE IF NOT EXISTS _weft_meta (k TEXT PRIMARY KEY, v) WITHOUT ROWID");
          this.metaTable = true;
        }
        // the engine's bookkeeping is not the tenant's quota: make room for it under the hard cap
        // (only near the cap: a pragma per commit costs more than the check)
        const need = this.stats().pages + 16;
        if (need > this.cap) (this.setCap(need), (raised = true));
        this.sys("INSERT OR REPLACE INTO _weft_meta (k, v) VALUES ('seq', ?), ('by', ?)", seq, by);
        this.sys("RELEASE weft_commit");
        stamped = true;
        this.sys("COMMIT"); // may fail (a deferred foreign key violation): the transaction then stays open
      });
    } catch (e) {
      if (!stamped && this.db.isTransaction) this.undo("weft_commit");
      throw e;
    } finally {
      if (raised) this.fitCap();
    }
    this.tx = false;
    this.sps = [];
    const r = commitAfter(`${this.path}-wal`, this.cursor);
    this.cursor = r.cursor;
    return r.commit;
  }

  /**
   * The version this copy of the database is at, and which run (its claim's epoch) committed it: a
   * version number alone could name another node's commit of the same number. seq 0: nothing was
   * ever committed; -1: tables but no version (made before commits were journaled: to be adopted).
   */
  version(): { seq: number; by: number } {
    this.assertOpen();
    if (this.hasMeta()) {
      const m = new Map(this.sys("SELECT k, v FROM _weft_meta WHERE k IN ('seq', 'by')").map((r) => [r.k, Number(r.v)]));
      return { seq: m.get("seq") ?? 0, by: m.get("by") ?? 0 };
    }
    return { seq: this.sys("SELECT 1 FROM sqlite_master LIMIT 1").length > 0 ? -1 : 0, by: 0 };
  }

  rollback(): void {
    this.assertOpen();
    if (this.db.isTransaction) this.sys("ROLLBACK");
    this.tx = false;
    this.sps = [];
    this.aborted = null;
  }

  sizeBytes(): number {
    this.assertOpen();
    return this.stats().pages * this.pageSize;
  }

  /** The committed database as one standalone file image (marked rollback-journal, so it also loads in memory). */
  serialize(): Uint8Array {
    this.assertOpen();
    if (this.db.isTransaction) throw new WeftError(ErrorCode.InvalidState, "cannot serialize during a step attempt: its writes are not committed");
    const b = this.internally(() => this.db.serialize("main"));
    if (b.length >= 20 && b[18] === 2) b[18] = b[19] = 1;
    return b;
  }

  /** an open attempt is rolled back (by SQLite) */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.cache.clear();
    this.sysCache.clear();
    this.db.close();
  }

  // ---- tenant statements -----------------------------------------------------------------------
  private prepare(rest: string, write: boolean, refusal: string): Entry {
    const hit = this.cache.get(rest);
    if (hit) { this.cache.delete(rest); this.cache.set(rest, hit); return hit; } // (re-inserted: the least recently used goes first)
    if (skipBlank(rest, 0) === rest.length) throw new WeftError(ErrorCode.InvalidArgument, "the query contains no SQL statement", { query: rest });
    const verb = verbOf(rest);
    // VACUUM makes no authorizer call at all, and VACUUM INTO writes a file anywhere: refused by its text
    if (verb === "VACUUM") throw new WeftError(ErrorCode.StorageDenied, `VACUUM is not allowed (VACUUM INTO would write a file outside the instance database): ${short(rest)}`, { query: rest });
    this.ddl = DDL.has(verb);
    this.readOnly = !write; // refuse already here: a PRAGMA's setting takes effect while it is prepared
    this.collect = [];
    let stmt: StatementSync;
    let writes: string[];
    try {
      stmt = this.db.prepare(rest); // prepares the FIRST statement and silently ignores the rest: see sourceSQL
    } catch (e) {
      throw this.readOnlyHit ? new WeftError(ErrorCode.StorageReadOnly, `${refusal}: ${short(rest)}`, { query: rest }) : this.sqlError(e, rest);
    } finally {
      writes = this.collect;
      this.resetAuth();
    }
    const sql = stmt.sourceSQL; // the text SQLite consumed, through the first statement's `;`
    if (!rest.startsWith(sql)) throw new WeftError(ErrorCode.Internal, `cannot delimit the statement: ${short(rest)}`, { query: rest });
    let nParams = 0;
    for (const t of lex(sql)) {
      if (t.k === "param") {
        if (t.v === "?") nParams++;
        else if (t.v[0] === "?") nParams = Math.max(nParams, Number(t.v.slice(1)));
        else throw new WeftError(ErrorCode.InvalidArgument, `named parameter ${t.v} is not supported: use ? placeholders (bindings are positional)`, { query: sql });
      }
    }
    // ALTER TABLE … RENAME TO: the authorizer is not told the new name
    if (verb === "ALTER" && /_weft_/i.test(sql)) throw new WeftError(ErrorCode.StorageDenied, `names starting with _weft_ are reserved for the engine: ${short(sql)}`, { query: sql });
    stmt.setReturnArrays(true);
    stmt.setReadBigInts(true); // integers beyond 2^53 stay exact; run() turns the others back into numbers
    const e: Entry = { stmt, sql, next: rest.slice(skipBlank(rest, sql.length)), nParams, writes: writes.length > 0 || verb === "REINDEX", ddl: DDL.has(verb) };
    if (verb !== "PRAGMA") this.cache.set(rest, e); // (a PRAGMA's setting is applied when it is prepared, not when it runs)
    if (this.cache.size > CACHE_MAX) this.cache.delete(this.cache.keys().next().value!);
    return e;
  }

  /**
   * rowsRead is the number of rows returned: node:sqlite does not expose SQLite's scan counters, so
   * rows examined and filtered out are not counted. rowsWritten is total_changes() across the
   * statement (rows written by triggers count too).
   */
  private run(e: Entry, binds: SQLInputValue[], write: boolean, refusal: string): SqlResult {
    if (e.writes && !write) throw new WeftError(ErrorCode.StorageReadOnly, `${refusal}: ${short(e.sql)}`, { query: e.sql });
    if (e.writes && this.aborted) throw this.abortedError();
    if (e.writes && !this.tx && this.db.isTransaction) throw new WeftError(ErrorCode.InvalidState, `a write inside a savepoint() taken outside the step attempt would commit on its own: begin() first: ${short(e.sql)}`, { query: e.sql });
    const before = e.writes ? this.stats() : null;
    if (before) this.sys("SAVEPOINT weft_stmt");
    this.ddl = e.ddl; // the authorizer runs again if SQLite re-prepares the statement after a schema change
    this.readOnly = !write;
    try {
      const rows: SqlValue[][] = [];
      let bytes = 0;
      const it = e.stmt.iterate(...binds) as unknown as Iterator<SqlValue[]> & { return(): unknown };
      try {
        for (let r = it.next(); !r.done; r = it.next()) {
          const row = r.value;
          for (let i = 0; i < row.length; i++) {
            const v = row[i];
            bytes += typeof v === "string" ? Buffer.byteLength(v) : v instanceof Uint8Array ? v.byteLength : 8;
            if (typeof v === "bigint" && v >= Number.MIN_SAFE_INTEGER && v <= Number.MAX_SAFE_INTEGER) row[i] = Number(v);
          }
          if (bytes > this.maxResultBytes) throw new WeftError(ErrorCode.StorageLimit, `the result is larger than ${this.maxResultBytes} bytes: add LIMIT (or select fewer columns) and page through it: ${short(e.sql)}`, { limitBytes: this.maxResultBytes, query: e.sql });
          rows.push(row);
        }
      } finally {
        it.return(); // resets the statement, also when we stopped early
      }
      const columns = e.stmt.columns().map((c) => c.name); // read after running: SELECT * may have been re-prepared
      let rowsWritten = 0;
      if (before) {
        const after = this.stats();
        if (after.pages > this.limitPages && after.pages > before.pages) throw this.full(e.sql);
        this.sys("RELEASE weft_stmt");
        rowsWritten = after.changes - before.changes;
      }
      return { columns, rows, rowsRead: rows.length, rowsWritten };
    } catch (err) {
      if (before && this.db.isTransaction) {
        this.undo("weft_stmt");
        this.base.changes += this.stats().changes - before.changes;
      }
      const we = this.readOnlyHit ? new WeftError(ErrorCode.StorageReadOnly, `${refusal}: ${short(e.sql)}`, { query: e.sql }) : this.sqlError(err, e.sql);
      if (!this.tx || this.db.isTransaction) throw we;
      // SQLite rolled the whole transaction back (SQLITE_FULL without a statement journal, INSERT OR ROLLBACK, RAISE(ROLLBACK))
      this.aborted = we.message;
      this.tx = false;
      this.sps = [];
      throw new WeftError(we.code, `${we.message} (SQLite rolled back the step's whole transaction: this attempt can no longer commit)`, { ...we.details, transactionRolledBack: true });
    } finally {
      this.resetAuth();
    }
  }

  private authorize(code: number, a1: string | null, a2: string | null): number {
    if (this.internal) return C.SQLITE_OK;
    const deny = (why: string): number => ((this.denied ??= why), C.SQLITE_DENY);
    const action = ACTION[code] ?? `action ${code}`;
    if (code === C.SQLITE_ATTACH || code === C.SQLITE_DETACH) return deny(`${action} is not allowed: an instance can only use its own database`);
    if (code === C.SQLITE_TRANSACTION || code === C.SQLITE_SAVEPOINT) return deny(`${code === C.SQLITE_SAVEPOINT ? `${a1} SAVEPOINT` : a1} is not allowed: each step attempt already runs in a transaction; use ctx.storage.transactionSync()`);
    if (TEMP.has(code)) return deny(`temporary objects are not supported (${action} ${a1}): they would not survive a restart`);
    if (code === C.SQLITE_FUNCTION) return a2?.toLowerCase() === "load_extension" ? deny("load_extension() is not allowed") : C.SQLITE_OK;
    let write = WRITE.has(code);
    if (code === C.SQLITE_PRAGMA) {
      const p = (a1 ?? "").toLowerCase();
      if (PRAGMA_SET.has(p)) write = a2 !== null;
      else if (PRAGMA_READ.has(p) && a2 !== null) return deny(`setting PRAGMA ${p} is not allowed (it may only be read)`);
      else if (!PRAGMA_READ.has(p) && !PRAGMA_INSPECT.has(p)) return deny(`PRAGMA ${p} is not allowed: only ${[...PRAGMA_INSPECT, ...PRAGMA_READ].join(", ")} (to read) and ${[...PRAGMA_SET].join(", ")} are`);
    }
    // which arguments name a table, index, trigger or view (READ/UPDATE: a2 is a column; ALTER: a1 is the database)
    const names = code === C.SQLITE_READ || code === C.SQLITE_UPDATE ? [a1] : code === C.SQLITE_ALTER_TABLE || code === C.SQLITE_PRAGMA ? [a2] : [a1, a2];
    const reserved = names.find((n) => n?.toLowerCase().startsWith("_weft_"));
    if (reserved) return deny(`${reserved} is reserved for the engine: tables named _weft_* cannot be read or changed (${action})`);
    // writes to sqlite_* are SQLite's own bookkeeping in DDL (sqlite_master, sqlite_sequence on DROP TABLE …), never the tenant's
    const dml = code === C.SQLITE_INSERT || code === C.SQLITE_UPDATE || code === C.SQLITE_DELETE;
    if (dml && !this.ddl && a1?.toLowerCase().startsWith("sqlite_")) return deny(`${action} on ${a1} is not allowed: sqlite_* tables are SQLite's own`);
    if (write && this.readOnly) this.readOnlyHit = true;
    else if (write) this.collect?.push(`${action} ${a1}`);
    return write && this.readOnly ? C.SQLITE_DENY : C.SQLITE_OK;
  }

  private resetAuth(): void {
    this.ddl = this.readOnly = this.readOnlyHit = false;
    this.collect = this.denied = null;
  }

  // ---- internal statements: they bypass the tenant rules ------------------------------------------
  private internally<T>(fn: () => T): T {
    const was = this.internal;
    this.internal = true;
    try { return fn(); } finally { this.internal = was; }
  }

  private sys(sql: string, ...args: SQLInputValue[]): Row[] {
    return this.internally(() => {
      let s = this.sysCache.get(sql);
      if (!s) this.sysCache.set(sql, (s = this.db.prepare(sql)));
      return s.all(...args) as Row[];
    });
  }

  private undo(savepoint: string): void {
    this.sys(`ROLLBACK TO ${savepoint}`);
    this.sys(`RELEASE ${savepoint}`);
  }

  /** a new transaction: what dirty compares against */
  private mark(): void {
    const s = this.stats();
    this.base = { changes: s.changes, schema: s.schema };
    this.sps = [];
  }

  private stats(): { changes: number; pages: number; schema: number } {
    const r = this.sys(`SELECT total_changes() AS c, (SELECT page_count FROM pragma_page_count()) AS p, (SELECT schema_version FROM pragma_schema_version()) AS s`)[0];
    return { changes: r.c as number, pages: r.p as number, schema: r.s as number };
  }

  private metaTable = false;
  private hasMeta(): boolean {
    this.metaTable ||= this.sys("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = '_weft_meta'").length > 0;
    return this.metaTable;
  }

  /** max_page_count: the limit (or the current size, if larger) plus headroom */
  private fitCap(): void {
    this.cap = 0;
    this.setCap(Math.max(this.limitPages, this.stats().pages) + this.headroom);
  }

  private setCap(pages: number): void {
    if (pages <= this.cap) return;
    this.internally(() => this.db.exec(`PRAGMA max_page_count=${pages}`));
    this.cap = pages;
  }

  private popSavepoint(): number {
    this.assertOpen();
    if (this.aborted) throw this.abortedError();
    const net = this.sps.pop();
    if (net === undefined) throw new WeftError(ErrorCode.InvalidState, "no savepoint() is open");
    return net;
  }

  // ---- errors -----------------------------------------------------------------------------------
  private guard<T>(what: string, fn: () => T, code?: ErrorCode): T {
    try { return fn(); } catch (e) {
      throw code ? new WeftError(code, `the result of ${what} cannot be recorded: ${(e as Error).message}`) : this.sqlError(e, what);
    }
  }

  private sqlError(e: unknown, sql: string): WeftError {
    if (e instanceof WeftError) return e;
    if (this.denied) return new WeftError(ErrorCode.StorageDenied, `${this.denied}: ${short(sql)}`, { query: sql });
    const err = e as { message?: string; errcode?: number };
    if (err.errcode === 13) return this.full(sql); // SQLITE_FULL: the hard cap
    return new WeftError(ErrorCode.SqlError, `${err.message ?? String(e)}: ${short(sql)}`, { query: sql });
  }

  private full(sql: string): WeftError {
    return new WeftError(ErrorCode.StorageLimit, `the instance database is full: this write would grow it past its limit of ${this.maxBytes} bytes (limits.sqlBytes); delete data or raise the limit: ${short(sql)}`, { limitBytes: this.maxBytes, query: sql });
  }

  private abortedError(): WeftError {
    return new WeftError(ErrorCode.InvalidState, `the step attempt's transaction was rolled back by SQLite after an error (${this.aborted}); it cannot commit: roll back and retry the attempt`);
  }

  private assertOpen(): void {
    if (this.closed) throw new WeftError(ErrorCode.InvalidState, "the instance database is closed");
  }
}
