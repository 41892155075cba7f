// One run's view of its instance's storage: the SQL database and the filesystem's working tree, and
// which step attempt owns the changes in flight. A write belongs to the one attempt that is running
// when it is made; writes with no attempt running (code outside steps: they would repeat on every
// replay) or with several running (no way to tell whose they are) are refused before they change
// anything. An attempt's changes become durable exactly when its result does, in one journal
// transaction (the one commit point): the new git objects and the head move; the pages its SQL
// commit changed in the local copy of the instance database (sql/pages.ts). A local SQL commit the
// journal never got (the process died in between, or the write was fenced) is undone when the next
// run starts: its copy is ahead of the store's version and is rebuilt from the store (prepare()).
// A failed, timed-out or abandoned attempt rolls back both.
import { ErrorCode, WeftError, toErrorInfo, type ErrorInfo } from "../core/errors.ts";
import { parsePath } from "../core/paths.ts";
import type { FsRequest, SqlValue, SyncReply, SyncRequest } from "../sandbox/protocol.ts";
import type { FsCommitResult, InstanceDataPort, SqlDatabase, WorktreePort } from "../instance-data/ports.ts";
import type { InstanceRecord, JournalOp, StepRecord } from "../store/ports.ts";
import { DEFAULT_LIMITS, fsLimits } from "../core/limits.ts";

const WRITES = new Set<FsRequest["op"]>(["writeFile", "mkdir", "rm", "rename"]);
/** errors that a retry cannot fix */
const FINAL = new Set<string>([ErrorCode.StorageLimit, ErrorCode.StorageDenied, ErrorCode.InvalidPath]);

export interface StorageLimits {
  sqlBytes?: number;
  sqlMsPerQuery?: number;
  fileBytes?: number;
  files?: number;
}

/** a storage error as the guest sees it: a plain Error with its code; final when a retry cannot fix it */
export function errorReply(err: unknown): ErrorInfo {
  const info = toErrorInfo(err, FINAL.has((err as { code?: string })?.code ?? ""));
  if (info.name === "WeftError") info.name = "Error";
  return info;
}

export class RunStorage {
  private db?: SqlDatabase;
  private scratch?: SqlDatabase;
  private wt?: Promise<WorktreePort>;
  private fsChain: Promise<unknown> = Promise.resolve();
  /** the attempt (`key#attempt`) whose SQL transaction / working-tree changes are open */
  private sqlOwner?: string;
  /** set from the end of an attempt that wrote SQL until its commit is on disk */
  private sqlCommitting = false;
  /** attempts with changes in the working tree not yet committed or rolled back */
  private readonly fsWriters = new Set<string>();
  /** attempts whose changes were thrown away: their queued writes are dropped */
  private readonly fsAborted = new Set<string>();
  private txDepth = 0;
  /** the version of the instance database this run's commits build on (the store's, at the start) */
  private sqlSeq: number;
  private sqlBy: number;
  /** this run's claim epoch: it stamps the run's commits */
  private readonly epoch: number;
  private readonly data: InstanceDataPort;
  private readonly inst: InstanceRecord;
  private readonly limits: StorageLimits;
  private readonly running: () => [string, number][];

  constructor(data: InstanceDataPort, inst: InstanceRecord, epoch: number, limits: StorageLimits, running: () => [string, number][]) {
    this.epoch = epoch;
    this.data = data;
    this.inst = inst;
    this.limits = limits;
    this.running = running;
    this.sqlSeq = inst.sqlSeq;
    this.sqlBy = inst.sqlBy;
  }

  /**
   * Before the run's code: the local copy of the instance database is the version the store holds.
   * A copy that is ahead (a commit the journal never got), behind or missing is rebuilt from the
   * store's pages. Returns journal ops when a database from before versions must be adopted first
   * (the caller journals them and calls prepare() again).
   */
  async prepare(): Promise<JournalOp[]> {
    const pk = this.inst.pk;
    if (this.data.sqlUncertain(pk)) {
      // a commit given up on this copy may still land: its version says nothing yet (a new file does)
      await this.data.rebuildSql(pk, this.sqlSeq);
      return [];
    }
    if (!this.data.hasSql(pk)) {
      if (this.sqlSeq > 0) await this.data.rebuildSql(pk, this.sqlSeq);
      return [];
    }
    const v = this.database(false)!.version();
    // the same number from the same run: the same commit (a stale run may have made another of that number)
    if (v.seq === this.sqlSeq && v.by === this.sqlBy) return [];
    this.db!.close();
    this.db = undefined;
    if (v.seq === -1 && this.sqlSeq === 0) {
      const d = await this.data.adoptSql(pk);
      if (d) return [{ op: "sql", ...d }];
    }
    await this.data.rebuildSql(pk, this.sqlSeq);
    return [];
  }

  /** the journal has the adopted database (prepare()): its version is the store's now */
  adopted(v: { seq: number; by: number }): void {
    this.sqlSeq = v.seq;
    this.sqlBy = v.by;
  }

  /** The attempt a write made now belongs to, or why it is refused. */
  private writer(what: string, guestView?: [string, number][]): string {
    const r = guestView ?? this.running();
    if (r.length === 1) {
      const [key, attempt] = r[0]!;
      // The guest's view can be behind the host's: an activation running on the isolate's thread may
      // still run a body whose attempt timed out here (its changes were already thrown away). Such a
      // write belongs to no attempt and would otherwise land in the next one's changes.
      if (guestView && this.aborted.has(`${key}#${attempt}`)) {
        throw new WeftError(ErrorCode.StorageReadOnly, `${what}: step attempt ${attempt} is no longer running (it timed out or was abandoned), so its write is refused; the step's next attempt starts from the state before it`, { reason: "attempt_ended" });
      }
      return `${key}#${attempt}`;
    }
    if (r.length === 0) {
      throw new WeftError(ErrorCode.StorageReadOnly, `${what}: writes outside step.do are refused — code outside steps runs again on every replay, so its writes would repeat. Move the write into a step.do callback (reads outside steps are fine).`, { reason: "outside_step" });
    }
    throw new WeftError(ErrorCode.StorageReadOnly, `${what}: ${r.length} steps are running at once (${r.map(([k]) => k.split(":").slice(2).join(":")).join(", ")}), so this write cannot be tied to one of them. Run steps that write storage one at a time, not in Promise.all.`, { reason: "concurrent_steps" });
  }

  private sqlWriter(running: [string, number][]): string {
    const w = this.writer("sql.exec", running);
    if (this.sqlCommitting) {
      throw new WeftError(ErrorCode.StorageReadOnly, `sql.exec: the previous step's database writes are still being committed; this write cannot join them. Retry it (the step's retry does) or await the other step first.`, { reason: "committing" });
    }
    return w;
  }

  private sqlMs(): number {
    return this.limits.sqlMsPerQuery ?? DEFAULT_LIMITS.sqlMsPerQuery;
  }

  private sqlLimit(): number {
    return this.limits.sqlBytes ?? DEFAULT_LIMITS.sqlBytes;
  }

  /** attempts whose open SQL transaction was lost with its worker (they must not commit) */
  private readonly sqlLost = new Set<string>();

  /** the run ended: a late call of its code (an activation still in flight) opens nothing again */
  private closed = false;

  private database(create: boolean): SqlDatabase | undefined {
    if (this.closed) throw new WeftError(ErrorCode.InvalidState, "the instance's run has ended: its storage is closed (a late call of its code is refused)", { reason: "run_ended" });
    if (this.db?.lost) {
      // its SQL worker was given up (a statement outran its limit — maybe another instance's on the
      // same worker): what was open is gone, start afresh; the attempt whose writes were open must
      // not commit as if they were there (commitAttempt)
      if (this.sqlOwner) this.sqlLost.add(this.sqlOwner);
      this.sqlOwner = undefined;
      this.txDepth = 0;
      this.db = undefined;
    }
    if (!this.db && (create || this.data.hasSql(this.inst.pk))) this.db = this.data.openSql(this.inst.pk, this.sqlLimit(), this.sqlMs());
    return this.db;
  }

  /** Answer a synchronous ctx.storage call from the run's code. */
  onSync(req: SyncRequest): SyncReply {
    try {
      return { ok: true, value: this.sync(req) };
    } catch (err) {
      return { ok: false, error: errorReply(err) };
    }
  }

  private sync(req: SyncRequest): unknown {
    if (req.t === "sqlSize") return this.database(false)?.sizeBytes() ?? 0;
    if (req.t === "sqlTx") return this.tx(req.op, req.running);
    let w: string | undefined;
    let refusal: string | undefined;
    try {
      w = this.sqlWriter(req.running);
    } catch (e) {
      refusal = (e as Error).message;
    }
    if (w === undefined) {
      // reads only; an instance that never wrote has no file, and its reads see an empty database
      const db = this.database(false) ?? (this.scratch = this.scratch && !this.scratch.lost ? this.scratch : this.data.scratchSql(this.inst.pk, this.sqlMs()));
      return db.exec(req.query, req.params as SqlValue[], false, refusal);
    }
    // the SQL worker opens the attempt's transaction with its first write (no extra round trip)
    const db = this.database(true)!;
    this.sqlOwner = w;
    return db.exec(req.query, req.params as SqlValue[], true);
  }

  private tx(op: "begin" | "commit" | "rollback", running: [string, number][]): null {
    if (op === "begin") {
      let w: string | undefined;
      try {
        w = this.sqlWriter(running);
      } catch {
        /* a read-only transaction */
      }
      const db = this.database(w !== undefined);
      if (db) {
        if (w !== undefined && !db.inTransaction) {
          db.begin();
          this.sqlOwner = w;
        }
        db.savepoint();
      }
      this.txDepth++;
      return null;
    }
    if (this.txDepth === 0) throw new WeftError(ErrorCode.InvalidState, `transactionSync: no transaction is open`);
    this.txDepth--;
    if (!this.db) return null;
    if (op === "rollback") this.db.rollbackTo(); // rolls back and releases
    else this.db.release();
    return null;
  }

  // ---- filesystem -------------------------------------------------------------------------------
  private worktree(): Promise<WorktreePort> {
    this.wt ??= this.data.worktree(this.inst.tenant, this.inst.fsHead, this.inst.fsFiles, fsLimits(this.limits));
    return this.wt;
  }

  /** One ctx.fs call. Ops run in the order the code made them; a write is tied to its attempt now. */
  fs(req: FsRequest, guestView?: [string, number][]): Promise<unknown> {
    let w: string | undefined;
    try {
      if (this.closed) throw new WeftError(ErrorCode.InvalidState, "the instance's run has ended: its storage is closed (a late call of its code is refused)", { reason: "run_ended" });
      if (WRITES.has(req.op)) w = this.writer(`fs.${req.op}`, guestView);
      if (req.op === "rename") (parsePath(req.from, "rename"), parsePath(req.to, "rename"));
      else if ("path" in req) parsePath(req.path, req.op, req.op === "readdir" || req.op === "stat" || req.op === "exists");
    } catch (e) {
      return Promise.reject(e);
    }
    if (w) this.fsWriters.add(w);
    const op = this.fsChain.then(async () => {
      const wt = await this.worktree();
      if (w && this.fsAborted.has(w)) throw new WeftError(ErrorCode.InvalidState, `fs.${req.op}: its step attempt ended before the write was applied; the write is dropped`);
      return this.apply(wt, req);
    });
    this.fsChain = op.catch(() => undefined);
    return op;
  }

  private async apply(wt: WorktreePort, req: FsRequest): Promise<unknown> {
    switch (req.op) {
      case "readFile":
        return wt.readFile(parsePath(req.path, "readFile"), req.path, req.at);
      case "readdir":
        return wt.readdir(parsePath(req.path, "readdir", true), req.path, req.at);
      case "stat": {
        const s = await wt.stat(parsePath(req.path, "stat", true), req.path, req.at);
        if (!s) {
          const e = new Error(`ENOENT: no such file or directory, stat '${req.path}'`) as Error & { code: string };
          e.code = "ENOENT";
          throw e;
        }
        return s;
      }
      case "exists":
        return (await wt.stat(parsePath(req.path, "exists", true), req.path, req.at)) !== undefined;
      case "writeFile":
        return wt.writeFile(parsePath(req.path, "writeFile"), req.path, req.data);
      case "mkdir":
        return wt.mkdir(parsePath(req.path, "mkdir"), req.path, req.recursive);
      case "rm":
        return wt.rm(parsePath(req.path, "rm"), req.path, req.recursive, req.force);
      case "rename":
        return wt.rename(parsePath(req.from, "rename"), req.from, parsePath(req.to, "rename"), req.to);
      case "log":
        return wt.log(req.limit);
      case "diff":
        return wt.diff(req.a, req.b);
    }
  }

  // ---- attempts ---------------------------------------------------------------------------------
  /** Did this attempt change storage (so its commit must go through commitAttempt)? */
  owns(key: string, attempt: number): boolean {
    const w = `${key}#${attempt}`;
    return this.sqlOwner === w || this.fsWriters.has(w);
  }

  /**
   * Seal the attempt's changes with its result: the journal ops to add to the step's commit (SQL
   * pages, git objects, head). Everything that decides what belongs to this attempt happens before
   * the first await.
   */
  async commitAttempt(rec: StepRecord & { state: "complete" }, attempt: number): Promise<JournalOp[]> {
    const w = `${rec.key}#${attempt}`;
    const db = this.db;
    if (this.sqlLost.delete(w) || (this.sqlOwner === w && (db === undefined || db.lost === true))) {
      // its open transaction went with a lost SQL worker: committing the step now would journal its
      // result without the rows it wrote (seen: a crash test's count one row short). The attempt
      // fails here and the run replays, which runs the step again on a fresh connection.
      if (this.sqlOwner === w) this.sqlOwner = undefined;
      throw new WeftError(ErrorCode.StorageUnavailable, `step "${rec.name}": the instance database's connection was reset while this attempt's writes were open (its SQL worker was given up); they are gone, so the step runs again`, { reason: "sql_lost" });
    }
    const sql = this.sqlOwner === w && db !== undefined && db.inTransaction;
    if (this.sqlOwner === w) this.sqlOwner = undefined;
    if (sql) this.sqlCommitting = true;
    try {
      const ops: JournalOp[] = [];
      let fs: FsCommitResult | null = null;
      if (this.fsWriters.delete(w)) {
        // in the queue: after this attempt's own operations, before any later attempt's
        const sealed = this.fsChain.then(async () => (await this.worktree()).commit({ name: rec.name, count: rec.count }, rec.at!));
        this.fsChain = sealed.catch(() => undefined);
        fs = await sealed;
        if (fs) ops.push({ op: "objects", tenant: this.inst.tenant, objects: fs.objects }, { op: "fs", head: fs.head, files: fs.files });
      }
      if (fs) {
        const objects = fs.objects;
        this.afterJournal.set(rec.key, () => void this.worktree().then((wt) => wt.persisted(objects)));
      }
      if (!sql) return ops;
      this.txDepth = 0;
      if (!db.dirty) {
        db.rollback(); // only read: nothing to make durable
        return ops;
      }
      // the run ended while the files were sealed (close() rolls the transaction back): a commit
      // now would land after another run of this node may have checked the copy's version
      if (this.closed) throw new WeftError(ErrorCode.InvalidState, "the instance's run ended before its step's database writes were committed; they are rolled back", { reason: "run_ended" });
      // the local commit; the store's version moves when the journal has the pages (in order: the
      // journal writes of a run are applied one after another, and a stale version is refused)
      const seq = this.sqlSeq + 1;
      const delta = db.commitAttempt(seq, this.epoch);
      this.committing = delta.then(() => undefined, () => undefined);
      ops.push({ op: "sql", ...(await delta) });
      this.sqlSeq = seq;
      this.sqlBy = this.epoch;
      return ops;
    } finally {
      if (sql) this.sqlCommitting = false;
    }
  }

  /** called by the run once the journal holds the step */
  journaled(key: string): void {
    this.afterJournal.get(key)?.();
    this.afterJournal.delete(key);
  }
  private readonly afterJournal = new Map<string, () => void>();
  /** attempts whose changes were thrown away: a late write of theirs is refused (writer) */
  private readonly aborted = new Set<string>();
  private committing: Promise<void> = Promise.resolve();

  /** Throw away the attempt's changes (it failed, timed out, or the run is stopping). */
  abortAttempt(key: string, attempt: number): void {
    const w = `${key}#${attempt}`;
    this.aborted.add(w);
    this.sqlLost.delete(w);
    if (this.sqlOwner === w) {
      this.sqlOwner = undefined;
      this.txDepth = 0;
      this.db?.rollback();
    }
    if (this.fsWriters.delete(w)) {
      this.fsAborted.add(w);
      this.fsChain = this.fsChain.then(async () => (await this.worktree()).rollback()).catch(() => undefined);
    }
  }

  /** The run is over: roll back whatever is open and let go of the database (after a commit in flight). */
  close(): void {
    this.closed = true;
    this.sqlOwner = undefined;
    this.fsWriters.clear();
    const db = this.db;
    this.db = undefined;
    this.scratch?.close();
    this.scratch = undefined;
    if (!db) return;
    void this.committing.catch(() => undefined).then(() => {
      // the run is over: a connection that is going away anyway (its worker stopped) changes nothing
      try {
        db.rollback();
      } catch {
        /* gone */
      }
      try {
        db.close();
      } catch {
        /* gone */
      }
    });
  }
}
