// Tenant SQL runs in worker threads, not on the engine's thread: a statement that runs away (a
// recursive CTE without end, a join of everything with everything) must not stop every other tenant.
// ctx.storage.sql is synchronous, so each call is a synchronous round trip: post on a port, wait on a
// shared flag (Atomics.wait) for at most the statement time limit, take the answer off the port. A
// statement over the limit: the pool stops waiting, gives the worker up (it is terminated; SQLite
// cannot be interrupted from here, so its thread ends when that statement does) and opens a new
// one; the databases that lived on it lose their open transactions, which belonged to step attempts
// that now fail and retry, so nothing half-done is ever committed.
import { Worker } from "node:worker_threads";
import { ErrorCode, WeftError } from "../../core/errors.ts";
import type { SqlResult, SqlValue } from "./database.ts";
import { readCommit, type CommitFrames, type SqlDelta } from "./pages.ts";
import { ANS, REQ, STARTED, readMessage, writeMessage, type SqlAnswer, type SqlCall } from "./sql-worker.ts";

const WORKER = new URL("./sql-worker.ts", import.meta.url);
const STARTUP_MS = 30_000;
const SPIN_MS = 1;
/** given-up workers still running a statement; beyond this, SQL is refused until a restart */
const MAX_ABANDONED = 4;
/** the largest request or answer (a result set is capped at 16 MiB by the database) */
const CHANNEL_BYTES = 17 * 1024 * 1024 + 16;

class Slot {
  readonly worker: Worker;
  readonly buf = new SharedArrayBuffer(CHANNEL_BYTES);
  readonly ints = new Int32Array(this.buf, 0, 4);
  dead = false;
  readonly dbs = new Set<RemoteDatabase>();
  private readonly onKill: (w: Worker) => void;
  constructor(onKill: (w: Worker) => void) {
    this.onKill = onKill;
    this.worker = new Worker(WORKER, { workerData: { weftSql: true, buf: this.buf } });
    this.worker.unref();
    this.worker.on("error", () => this.kill());
  }

  call(c: SqlCall, timeoutMs: number): SqlAnswer {
    if (this.dead) throw lost();
    // starting the worker (loading its modules) is not the statement's time
    if (Atomics.load(this.ints, STARTED) === 0 && Atomics.wait(this.ints, STARTED, 0, STARTUP_MS) === "timed-out") {
      this.kill();
      throw new WeftError(ErrorCode.Internal, `the SQL worker did not start within ${STARTUP_MS} ms`);
    }
    writeMessage(this.buf, this.ints, c);
    Atomics.store(this.ints, ANS, 0);
    Atomics.store(this.ints, REQ, 1);
    Atomics.notify(this.ints, REQ);
    // most statements answer within microseconds: spin first, as waking a sleeping thread costs
    // ~0.2 ms on virtual machines; then sleep until the answer or the limit
    const spinUntil = performance.now() + SPIN_MS;
    while (Atomics.load(this.ints, ANS) === 0 && performance.now() < spinUntil);
    if (Atomics.load(this.ints, ANS) === 0 && Atomics.wait(this.ints, ANS, 0, timeoutMs) === "timed-out") {
      this.kill();
      throw new WeftError(ErrorCode.StorageLimit, `sql.exec ran longer than ${timeoutMs} ms (limits.sqlMsPerQuery) and was stopped; the step's database writes are rolled back. Narrow the query (WHERE, LIMIT) or split the work.`, {
        timeoutMs,
      });
    }
    const a = readMessage<SqlAnswer>(this.buf, this.ints);
    if (typeof (a as { ok?: unknown } | undefined)?.ok !== "boolean") {
      // not an answer (seen once under heavy load in the failover test: the channel held the request
      // itself): nothing about this worker's state can be trusted, so it is given up like a stuck
      // one; the run that asked retries (storage unavailable), it is not the instance's fault
      this.kill();
      throw new WeftError(ErrorCode.StorageUnavailable, `the SQL worker's answer to ${c.op} was not an answer (${JSON.stringify(a)?.slice(0, 80)}); its databases were reset and the run is retried`, { op: c.op });
    }
    return a;
  }

  kill(): void {
    if (this.dead) return;
    this.dead = true;
    for (const d of this.dbs) d.lost = true;
    void this.worker.terminate();
    this.onKill(this.worker);
  }

  /** a clean stop: the worker leaves its loop (terminate() cannot reach a thread blocked in Atomics.wait) */
  async quit(): Promise<void> {
    if (this.dead) return;
    this.dead = true;
    try {
      this.call({ id: 0, op: "quit", args: [] }, 1000);
    } catch {
      /* gone already */
    }
    await this.worker.terminate();
  }
}

function lost(): WeftError {
  return new WeftError(ErrorCode.InvalidState, "the instance's database connection was reset (a statement on its SQL worker outran its time limit); the step attempt's writes are rolled back — retry the step", {});
}

/** Fault injection for tests: the next `times` COMMITs wait `ms` in their worker first (a slow disk). */
export interface SqlFaults {
  commitDelay?: { ms: number; times: number };
}

/** A few SQL worker threads; an instance's database lives on one of them. */
export class SqlPool {
  private readonly slots: (Slot | undefined)[];
  private nextId = 1;
  private readonly faults: SqlFaults;
  constructor(size: number, faults: SqlFaults = {}) {
    this.faults = faults;
    this.slots = Array.from({ length: Math.max(1, size) }, () => undefined);
  }

  private slot(pk: number): Slot {
    if (this.abandoned.size >= MAX_ABANDONED) {
      throw new WeftError(ErrorCode.StorageLimit, `SQL is paused in this process: ${this.abandoned.size} statements that outran limits.sqlMsPerQuery are still running (SQLite cannot be interrupted); restart the engine`, {
        stuck: this.abandoned.size,
      });
    }
    const i = pk % this.slots.length;
    let s = this.slots[i];
    if (!s || s.dead) this.slots[i] = s = new Slot((w) => this.replace(i, w));
    return s;
  }

  /** a worker was given up: start its successor now, so the next call does not wait for it to load */
  private replace(i: number, gone: Worker): void {
    this.abandoned.add(gone);
    gone.once("exit", () => this.abandoned.delete(gone));
    if (this.closed) return;
    this.slots[i] = new Slot((w) => this.replace(i, w));
  }

  /**
   * Given-up workers still inside a statement. The process cannot exit while one runs (Node joins
   * worker threads at exit), so `weft serve` ends itself with SIGKILL then — safe: all is committed.
   */
  get stuck(): number {
    return this.abandoned.size;
  }
  private readonly abandoned = new Set<Worker>();
  private closed = false;

  open(pk: number, path: string, maxBytes: number, timeoutMs: number): RemoteDatabase {
    const slot = this.slot(pk);
    const db = new RemoteDatabase(slot, this.nextId++, path, timeoutMs, this.uncertainPaths, this.faults);
    db.call("open", [path, maxBytes]);
    slot.dbs.add(db);
    return db;
  }

  /**
   * Database files whose COMMIT was given up at the time limit: the abandoned thread may still
   * commit it, at any later time, so the file's version cannot be trusted. Such a file is rebuilt
   * into a new one (its path then names another inode: the late commit can only land in the old,
   * unlinked one) before it is used again; settled() says it was.
   */
  isUncertain(path: string): boolean {
    return this.uncertainPaths.has(path);
  }
  settled(path: string): void {
    this.uncertainPaths.delete(path);
  }
  private readonly uncertainPaths = new Set<string>();

  async close(): Promise<void> {
    this.closed = true;
    await Promise.all(this.slots.map((s) => s?.quit()));
  }
}

/** The main thread's handle on one instance database living in a SQL worker (InstanceDatabase's API). */
export class RemoteDatabase {
  lost = false;
  private tx = false;
  private isDirty = false;
  private closed = false;
  private readonly slot: Slot;
  private readonly id: number;
  private readonly path: string;
  private readonly timeoutMs: number;
  private readonly uncertain: Set<string>;

  private readonly faults: SqlFaults;
  constructor(slot: Slot, id: number, path: string, timeoutMs: number, uncertain: Set<string>, faults: SqlFaults) {
    this.uncertain = uncertain;
    this.faults = faults;
    this.slot = slot;
    this.id = id;
    this.path = path;
    this.timeoutMs = timeoutMs;
  }

  call(op: SqlCall["op"], args: unknown[] = []): unknown {
    if (this.lost) throw lost();
    let a: SqlAnswer;
    try {
      a = this.slot.call({ id: this.id, op, args }, this.timeoutMs);
    } catch (e) {
      // a COMMIT given up may still happen on the abandoned thread, at any later time
      if (op === "commit" && this.lost) this.uncertain.add(this.path);
      throw e;
    }
    this.tx = a.tx;
    if (a.dirty !== undefined) this.isDirty = a.dirty;
    if (!a.tx) this.isDirty = false;
    if (!a.ok) {
      const e = a.error ?? { message: `the SQL worker gave no answer to ${op}; the run is retried`, code: ErrorCode.StorageUnavailable, details: {} };
      throw new WeftError((e.code ?? ErrorCode.Internal) as ErrorCode, e.message, e.details ?? {});
    }
    return a.value;
  }

  get inTransaction(): boolean {
    return !this.lost && this.tx;
  }
  /** as of the last answer (every answer carries it: no round trip) */
  get dirty(): boolean {
    return !this.lost && this.isDirty;
  }
  exec(query: string, params: SqlValue[], write: boolean, refusal?: string): SqlResult {
    return this.call("exec", [query, params, write, refusal]) as SqlResult;
  }
  begin(): void {
    this.call("begin");
  }
  savepoint(): void {
    this.call("savepoint");
  }
  release(): void {
    this.call("release");
  }
  rollbackTo(): void {
    this.call("rollbackTo");
  }
  rollback(): void {
    if (!this.lost) this.call("rollback");
  }
  version(): { seq: number; by: number } {
    return this.call("version") as { seq: number; by: number };
  }
  sizeBytes(): number {
    return this.call("size") as number;
  }
  serialize(): Uint8Array {
    return this.call("serialize") as Uint8Array;
  }

  /** COMMIT in the worker (which finds the commit's frames in the -wal file); the pages are read here, off the loop. */
  async commitAttempt(seq: number, by: number): Promise<SqlDelta> {
    const delay = this.faults.commitDelay;
    const args = delay && delay.times > 0 ? (delay.times--, [seq, by, delay.ms]) : [seq, by];
    return readCommit(`${this.path}-wal`, this.call("commit", args) as CommitFrames, seq, by);
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.slot.dbs.delete(this);
    if (!this.lost && !this.slot.dead) this.call("close");
  }
}
