// Runs INSIDE the isolate: the instance's own storage as tenant code sees it — `ctx.storage.sql`
// with the Durable Objects cursor API, `ctx.storage.transactionSync`, and `ctx.fs`. SQL is
// synchronous (as in Durable Objects), so it goes through the one synchronous host callback; the
// filesystem is asynchronous and goes through commands like fetch. Which step attempt a write
// belongs to, and whether it is allowed at all, is the host's decision: it knows what is running.
import type { FsChange, FsCommit, FsRequest, FsStat, SqlReply, SqlValue, SyncReply, SyncRequest } from "../protocol.ts";

type Row = Record<string, unknown>;
type Call = (req: DistributiveOmit<SyncRequest, "running">) => SyncReply;
type DistributiveOmit<T, K extends PropertyKey> = T extends unknown ? Omit<T, K> : never;

/** Durable Objects' SqlStorageCursor: rows are materialized by the host, consumed here. */
export class SqlStorageCursor implements IterableIterator<Row> {
  readonly columnNames: string[];
  readonly rowsRead: number;
  readonly rowsWritten: number;
  #rows: SqlValue[][];
  #i = 0;
  constructor(r: SqlReply) {
    this.columnNames = r.columns;
    this.rowsRead = r.rowsRead;
    this.rowsWritten = r.rowsWritten;
    this.#rows = r.rows;
  }
  #take(): unknown[] | undefined {
    const row = this.#rows[this.#i];
    if (row === undefined) return undefined;
    this.#i++;
    return row.map(fromSql);
  }
  #object(row: unknown[]): Row {
    const o: Row = {};
    this.columnNames.forEach((c, i) => (o[c] = row[i]));
    return o;
  }
  next(): IteratorResult<Row> {
    const row = this.#take();
    return row ? { done: false, value: this.#object(row) } : { done: true, value: undefined };
  }
  [Symbol.iterator](): this {
    return this;
  }
  toArray(): Row[] {
    const out: Row[] = [];
    for (let r = this.#take(); r; r = this.#take()) out.push(this.#object(r));
    return out;
  }
  one(): Row {
    const left = this.#rows.length - this.#i;
    if (left === 0) throw new Error("Expected exactly one result from SQL query, but got no results.");
    if (left > 1) throw new Error("Expected exactly one result from SQL query, but got multiple results.");
    return this.#object(this.#take()!);
  }
  raw(): IterableIterator<unknown[]> {
    const self = this;
    const it: IterableIterator<unknown[]> = {
      next: () => {
        const row = self.#take();
        return row ? { done: false, value: row } : { done: true, value: undefined };
      },
      [Symbol.iterator]: () => it,
    };
    return it;
  }
}

/** Blobs come back as ArrayBuffer, as in Durable Objects. */
function fromSql(v: SqlValue): unknown {
  if (v instanceof Uint8Array) return v.buffer.slice(v.byteOffset, v.byteOffset + v.byteLength);
  return v;
}

function toSql(v: unknown): unknown {
  if (v instanceof ArrayBuffer) return new Uint8Array(v.slice(0));
  if (ArrayBuffer.isView(v)) return new Uint8Array(v.buffer.slice(v.byteOffset, v.byteOffset + v.byteLength));
  return v; // the host checks every binding and names the bad one
}

export function makeStorage(call: Call, toError: (e: NonNullable<Extract<SyncReply, { ok: false }>["error"]>) => Error) {
  const invoke = (req: DistributiveOmit<SyncRequest, "running">): unknown => {
    const r = call(req);
    if (!r.ok) throw toError(r.error);
    return r.value;
  };
  const sql = Object.freeze({
    exec(query: unknown, ...bindings: unknown[]): SqlStorageCursor {
      if (typeof query !== "string") throw new TypeError(`sql.exec: the query must be a string, got ${typeof query}`);
      return new SqlStorageCursor(invoke({ t: "sql", query, params: bindings.map(toSql) as SqlValue[] }) as SqlReply);
    },
    get databaseSize(): number {
      return invoke({ t: "sqlSize" }) as number;
    },
  });
  function transactionSync<T>(fn: () => T): T {
    if (typeof fn !== "function") throw new TypeError("transactionSync: the argument must be a function");
    invoke({ t: "sqlTx", op: "begin" });
    let out: T;
    try {
      out = fn();
      if (out && typeof (out as { then?: unknown }).then === "function") {
        throw new TypeError("transactionSync: the callback must be synchronous (it returned a promise)");
      }
    } catch (e) {
      invoke({ t: "sqlTx", op: "rollback" });
      throw e;
    }
    invoke({ t: "sqlTx", op: "commit" });
    return out;
  }
  return Object.freeze({ sql, transactionSync });
}

type Ask = (req: FsRequest) => Promise<unknown>;
type At = { at?: unknown };
type ReadOpts = ("utf8" | "utf-8") | ({ encoding?: "utf8" | "utf-8" | null } & At) | undefined;

function path(p: unknown, what: string): string {
  if (typeof p !== "string") throw new TypeError(`fs.${what}: the path must be a string, got ${p === null ? "null" : typeof p}`);
  return p;
}
function atOf(o: unknown): string | undefined {
  if (!o || typeof o !== "object") return undefined;
  const at = (o as At).at;
  if (at === undefined) return undefined;
  if (typeof at !== "string") throw new TypeError(`fs: "at" must be a commit id (string), got ${typeof at}`);
  return at;
}
function bytes(data: unknown): Uint8Array {
  if (typeof data === "string") return new TextEncoder().encode(data);
  if (data instanceof ArrayBuffer) return new Uint8Array(data.slice(0));
  if (ArrayBuffer.isView(data)) return new Uint8Array(data.buffer.slice(data.byteOffset, data.byteOffset + data.byteLength));
  throw new TypeError(`fs.writeFile: data must be a string, ArrayBuffer or typed array, got ${data === null ? "null" : typeof data}`);
}

/** ctx.fs: Node-like names, git underneath (every step that changes files is one commit). */
export function makeFs(ask: Ask) {
  return Object.freeze({
    async readFile(p: unknown, opts?: ReadOpts): Promise<Uint8Array | string> {
      const enc = typeof opts === "string" ? opts : opts?.encoding;
      const data = (await ask({ op: "readFile", path: path(p, "readFile"), at: atOf(opts) })) as Uint8Array;
      return enc === "utf8" || enc === "utf-8" ? new TextDecoder().decode(data) : data;
    },
    async writeFile(p: unknown, data: unknown): Promise<void> {
      await ask({ op: "writeFile", path: path(p, "writeFile"), data: bytes(data) });
    },
    async mkdir(p: unknown, opts?: { recursive?: boolean }): Promise<void> {
      await ask({ op: "mkdir", path: path(p, "mkdir"), recursive: opts?.recursive === true });
    },
    async readdir(p: unknown = ".", opts?: At): Promise<string[]> {
      return (await ask({ op: "readdir", path: path(p, "readdir"), at: atOf(opts) })) as string[];
    },
    async stat(p: unknown, opts?: At) {
      const s = (await ask({ op: "stat", path: path(p, "stat"), at: atOf(opts) })) as FsStat;
      return Object.freeze({ ...s, isFile: () => s.type === "file", isDirectory: () => s.type === "directory" });
    },
    async exists(p: unknown, opts?: At): Promise<boolean> {
      return (await ask({ op: "exists", path: path(p, "exists"), at: atOf(opts) })) as boolean;
    },
    async rm(p: unknown, opts?: { recursive?: boolean; force?: boolean }): Promise<void> {
      await ask({ op: "rm", path: path(p, "rm"), recursive: opts?.recursive === true, force: opts?.force === true });
    },
    async rename(from: unknown, to: unknown): Promise<void> {
      await ask({ op: "rename", from: path(from, "rename"), to: path(to, "rename") });
    },
    async log(opts?: { limit?: number }): Promise<(FsCommit & { date: Date })[]> {
      const list = (await ask({ op: "log", limit: opts?.limit })) as FsCommit[];
      return list.map((c) => ({ ...c, date: new Date(c.at) }));
    },
    async diff(a: unknown, b?: unknown): Promise<FsChange[]> {
      if (typeof a !== "string" || (b !== undefined && typeof b !== "string")) throw new TypeError("fs.diff(a, b?): commit ids must be strings");
      return (await ask({ op: "diff", a, b: b as string | undefined })) as FsChange[];
    },
  });
}
