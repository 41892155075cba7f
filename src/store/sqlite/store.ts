// Embedded store on node:sqlite, in WAL mode. A commit is on disk before any promise that depends on
// it resolves, so it survives kill -9 and power loss: SQLite runs with synchronous=NORMAL (which in
// WAL mode syncs everything except the WAL after each commit; checkpoints run on a thread of their own, checkpointer.ts) and the store itself fdatasyncs the WAL
// file on libuv's thread pool before acknowledging — the durability of synchronous=FULL, without
// blocking the event loop for the fsync: never inline, not even for a lone commit (on a slow disk
// one inline fdatasync held the loop 6.7 s, and every tenant with it). Writes from the same event-loop turn are grouped into one
// transaction, and every transaction committed while an fsync is in flight shares the next one
// (group commit).
import { DatabaseSync, type StatementSync } from "node:sqlite";
import { mkdirSync, openSync, closeSync, fdatasync, fstatSync } from "node:fs";
import { join } from "node:path";
import { ErrorCode, WeftError, type ErrorInfo } from "../../core/errors.ts";
import { CLAIMABLE, CLAIM_SETTLES, UNFINISHED, checkAction, isClaimable, type InstanceStatus } from "../../core/status.ts";
import { checkSqlSeq, cutByRestart, matchEvents, type HistoryType } from "../../core/journal.ts";
import { drawTokens, type Draw } from "../../core/rate.ts";
import { eventBufferFull, type EventBuffer } from "../../core/limits.ts";
import type {
  ActivityBucket, ActivityQuery, AttemptRecord, Claim, Claimed, DeliveredEvent, DueInstance, EventResult, StoredObject, TenantRecord, TokenRecord, HistoryEvent, InstanceRecord, JournalOp,
  JournalResult, ListFilter, LogLine, NewInstance, Release, SqlImagePart, StepRecord, Store, VersionRecord,
} from "../ports.ts";
import { migrate } from "./migrations.ts";
import { CHECKPOINT_BYTES, Checkpointer } from "./checkpointer.ts";
import { activityBuckets, dec, enc, json, stepRow, tenantRow, tokenRow, unjson, versionRow, type Row } from "../rows.ts";

const list = (xs: readonly string[]): string => xs.map((x) => `'${x}'`).join(",");
const CLAIMABLE_SQL = list(CLAIMABLE);
const UNFINISHED_SQL = list(UNFINISHED);

/** SQLite's "no room" errors (SQLITE_FULL 13, and an I/O error writing, SQLITE_IOERR 10): the store is full, not broken */
function storageError(e: unknown): unknown {
  const x = e as { errcode?: number; code?: string; message?: string };
  const primary = typeof x?.errcode === "number" ? x.errcode & 0xff : undefined;
  if (primary === 13 || /database or disk is full|SQLITE_FULL/i.test(x?.message ?? "")) {
    return new WeftError(ErrorCode.StorageFull, `the store could not write: the disk (or the database's space) is full (${x.message}); nothing was changed — free space and retry`, { reason: "full" });
  }
  if (primary === 10 && /disk I\/O error/i.test(x?.message ?? "")) {
    return new WeftError(ErrorCode.StorageFull, `the store could not write: ${x.message}; nothing was changed — check the disk and retry`, { reason: "io" });
  }
  return e;
}


export interface SqliteOptions {
  dataDir: string;
  /** "full" (default): fsync every commit; "normal": survives process crashes, not power loss */
  synchronous?: "full" | "normal";
  /** the WAL's fsync, off the event loop (default: fs.fdatasync on libuv's pool; fault injection replaces it) */
  sync?: (fd: number, done: (err: Error | null) => void) => void;
}

export class SqliteStore implements Store {
  readonly kind = "sqlite" as const;
  private readonly db: DatabaseSync;
  private readonly stmts = new Map<string, StatementSync>();
  private queue: { fn: () => unknown; atomic: boolean; resolve: (v: unknown) => void; reject: (e: unknown) => void }[] = [];
  private scheduled = false;
  private closed = false;

  private readonly durable: boolean;
  private readonly walPath: string;
  private walFd?: number;
  private syncing = false;
  private syncWaiters: (() => void)[] = [];
  private readonly fsync: (fd: number, done: (err: Error | null) => void) => void;
  /** the checkpoint thread, started the first time the WAL needs one */
  checkpointer?: Checkpointer;
  private readonly file: string;
  private lastWalLook = 0;

  constructor(opts: SqliteOptions) {
    mkdirSync(opts.dataDir, { recursive: true });
    const file = join(opts.dataDir, "weft.db");
    this.walPath = file + "-wal";
    this.durable = opts.synchronous !== "normal";
    this.fsync = opts.sync ?? fdatasync;
    this.db = new DatabaseSync(file);
    // checkpoints off the engine's thread (checkpointer.ts); the WAL is cut back to 64 MiB when rewound
    this.db.exec(`PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA wal_autocheckpoint=0; PRAGMA journal_size_limit=67108864; PRAGMA busy_timeout=5000; PRAGMA foreign_keys=OFF;`);
    migrate(this.db);
    this.file = file;
  }

  /**
   * Acknowledge `done` once everything committed so far is on disk. The fsync runs on the thread
   * pool and the event loop keeps preparing the next group; commits made while one is in flight
   * share the next.
   */
  private afterSync(done: () => void): void {
    if (!this.durable) return done();
    this.walFd ??= openSync(this.walPath, "r");
    this.syncWaiters.push(done);
    if (this.syncing) return; // the fsync after the one in flight takes these too
    this.syncing = true;
    const waiters = this.syncWaiters;
    this.syncWaiters = [];
    this.fsync(this.walFd, (err) => {
      this.syncing = false;
      if (err) throw err; // a failed fsync leaves durability unknown: crash rather than acknowledge
      for (const w of waiters) w();
      if (this.syncWaiters.length > 0) this.afterSync(this.syncWaiters.pop()!);
    });
  }

  /** At most every 100 ms after a commit: a WAL past CHECKPOINT_BYTES is checkpointed off this thread. */
  private lookAtWal(): void {
    const now = performance.now();
    if (now - this.lastWalLook < 100) return;
    this.lastWalLook = now;
    try {
      this.walFd ??= openSync(this.walPath, "r");
      if (fstatSync(this.walFd).size > CHECKPOINT_BYTES) (this.checkpointer ??= new Checkpointer(this.file)).request();
    } catch {
      /* no WAL file yet */
    }
  }

  private q(sql: string): StatementSync {
    if (this.closed) throw new WeftError(ErrorCode.InvalidState, "the store is closed");
    let s = this.stmts.get(sql);
    if (!s) {
      s = this.db.prepare(sql);
      this.stmts.set(sql, s);
    }
    return s;
  }

  /**
   * Queue a write; it commits with everything else queued in this turn. A write either fails with a
   * WeftError before it changes anything (fencing and existence checks come first), or, when it may
   * fail half-way (`atomic`), runs in a savepoint of its own. Any other error rolls the batch back.
   */
  private write<T>(fn: () => T, atomic = false): Promise<T> {
    if (this.closed) return Promise.reject(new WeftError(ErrorCode.InvalidState, "the store is closed"));
    return new Promise<T>((resolve, reject) => {
      this.queue.push({ fn, atomic, resolve: resolve as (v: unknown) => void, reject });
      if (!this.scheduled) {
        this.scheduled = true;
        setImmediate(() => this.flush());
      }
    });
  }

  private flush(): void {
    this.scheduled = false;
    const batch = this.queue;
    this.queue = [];
    if (batch.length === 0) return;
    const results: { ok: boolean; v: unknown }[] = [];
    try {
      this.q("BEGIN IMMEDIATE").run();
      for (const item of batch) {
        if (item.atomic) this.q("SAVEPOINT w").run();
        try {
          results.push({ ok: true, v: item.fn() });
          if (item.atomic) this.q("RELEASE w").run();
        } catch (e) {
          if (item.atomic) {
            this.q("ROLLBACK TO w").run();
            this.q("RELEASE w").run();
          } else if (!(e instanceof WeftError)) {
            throw e;
          }
          results.push({ ok: false, v: e });
        }
      }
      this.q("COMMIT").run();
    } catch (e) {
      try {
        this.db.exec("ROLLBACK");
      } catch {
        /* nothing open */
      }
      const err = storageError(e);
      for (const item of batch) item.reject(err);
      return;
    }
    this.lookAtWal();
    const settle = () => batch.forEach((item, i) => (results[i]!.ok ? item.resolve(results[i]!.v) : item.reject(results[i]!.v)));
    try {
      this.afterSync(settle);
    } catch (e) {
      // committed, but whether it is on disk is unknown (the WAL could not be opened or synced):
      // every write of the batch fails rather than hang or be acknowledged
      const err = new WeftError(ErrorCode.StorageFull, `the store could not make its writes durable: ${(e as Error).message}`, { reason: "sync" });
      for (const item of batch) item.reject(err);
    }
  }

  // ---- versions ------------------------------------------------------------------------------
  async putVersion(v: VersionRecord): Promise<void> {
    await this.write(() => {
      this.q(`INSERT INTO versions (tenant, workflow, version, class_name, bundle, code, config, created_at) VALUES (?,?,?,?,?,?,?,?)
              ON CONFLICT (tenant, workflow, version) DO NOTHING`).run(v.tenant, v.workflow, v.version, v.className, v.bundle, JSON.stringify(v.code), JSON.stringify(v.config), v.createdAt);
      this.q(`INSERT INTO workflows (tenant, workflow, latest_version, updated_at) VALUES (?,?,?,?)
              ON CONFLICT (tenant, workflow) DO UPDATE SET latest_version = excluded.latest_version, updated_at = excluded.updated_at`).run(v.tenant, v.workflow, v.version, v.createdAt);
    });
  }


  async getVersion(tenant: string, workflow: string, version: string): Promise<VersionRecord | undefined> {
    return versionRow(this.q(`SELECT * FROM versions WHERE tenant=? AND workflow=? AND version=?`).get(tenant, workflow, version) as Row | undefined);
  }

  async latestVersion(tenant: string, workflow: string): Promise<VersionRecord | undefined> {
    const w = this.q(`SELECT latest_version FROM workflows WHERE tenant=? AND workflow=?`).get(tenant, workflow) as Row | undefined;
    return w ? this.getVersion(tenant, workflow, w.latest_version as string) : undefined;
  }

  async latestVersionId(tenant: string, workflow: string): Promise<string | undefined> {
    return ((this.q(`SELECT latest_version FROM workflows WHERE tenant=? AND workflow=?`).get(tenant, workflow) as Row | undefined)?.latest_version as string | undefined) ?? undefined;
  }

  async listVersions(tenant: string, workflow: string): Promise<{ version: string; createdAt: number }[]> {
    return (this.q(`SELECT version, created_at FROM versions WHERE tenant=? AND workflow=? ORDER BY created_at DESC`).all(tenant, workflow) as Row[]).map((r) => ({
      version: r.version as string, createdAt: r.created_at as number,
    }));
  }

  // ---- instances -----------------------------------------------------------------------------
  private instance(r: Row | undefined): InstanceRecord | undefined {
    if (!r) return undefined;
    const rec = this.instanceRow(r);
    // params are decoded when first read, not with the row: a claim of a hundred instances with large
    // params then costs no decoding inside its transaction (each run decodes its own as it starts)
    const raw = r.params;
    let decoded = false;
    let value: unknown;
    Object.defineProperty(rec, "params", {
      enumerable: true, configurable: true,
      get: () => (decoded ? value : ((decoded = true), (value = dec(raw)))),
      set: (v: unknown) => ((decoded = true), (value = v)),
    });
    return rec;
  }

  private instanceRow(r: Row): InstanceRecord {
    return {
      pk: r.pk as number, tenant: r.tenant as string, workflow: r.workflow as string, id: r.id as string, version: r.version as string,
      status: r.status as InstanceStatus, params: undefined, metadata: unjson(r.metadata) ?? {}, trigger: r.trigger as string,
      createdAt: r.created_at as number, startedAt: (r.started_at as number) ?? null, endedAt: (r.ended_at as number) ?? null,
      modifiedAt: r.modified_at as number, output: dec(r.output), error: unjson<ErrorInfo>(r.error) ?? null,
      wakeAt: (r.wake_at as number) ?? null, readyAt: (r.ready_at as number) ?? null, epoch: r.epoch as number,
      fsHead: (r.fs_head as string) ?? null, fsFiles: (r.fs_files as number) ?? 0, sqlSeq: (r.sql_seq as number) ?? 0, sqlBy: (r.sql_by as number) ?? 0,
    };
  }

  async createInstances(rows: NewInstance[], objects?: { tenant: string; objects: StoredObject[] }): Promise<InstanceRecord[]> {
    return this.write(() => {
      const out: InstanceRecord[] = [];
      if (objects) this.insertObjects(objects.tenant, objects.objects);
      // a wake-up in the same transaction as its cause: a new instance is due at once
      const ins = this.q(`INSERT INTO instances (tenant, workflow, id, version, status, params, metadata, trigger, created_at, modified_at, epoch, fs_head, fs_files, ready_at)
                          VALUES (?,?,?,?, 'queued', ?,?,?,?,?, 0, ?, ?, ?) ON CONFLICT DO NOTHING RETURNING pk`);
      for (const n of rows) {
        const r = ins.get(n.tenant, n.workflow, n.id, n.version, n.encodedParams ?? enc(n.params), JSON.stringify(n.metadata), n.trigger, n.createdAt, n.createdAt, n.fsHead ?? null, n.fsFiles ?? 0, n.createdAt) as Row | undefined;
        if (!r) {
          throw new WeftError(ErrorCode.AlreadyExists, `instance "${n.id}" already exists in workflow ${n.workflow}; instance ids are unique and never reused`, {
            instanceId: n.id, workflow: n.workflow,
          });
        }
        this.hist(r.pk as number, "workflow_queued", n.createdAt);
        const { encodedParams: _e, ...rest } = n;
        out.push({
          pk: r.pk as number, ...rest, status: "queued", startedAt: null, endedAt: null, modifiedAt: n.createdAt, output: undefined, error: null, wakeAt: null, readyAt: n.createdAt, epoch: 0,
          fsHead: n.fsHead ?? null, fsFiles: n.fsFiles ?? 0, sqlSeq: 0, sqlBy: 0,
        });
      }
      return out;
    }, rows.length > 1 || objects !== undefined);
  }

  async getInstance(tenant: string, workflow: string, id: string): Promise<InstanceRecord | undefined> {
    return this.instance(this.q(`SELECT * FROM instances WHERE tenant=? AND workflow=? AND id=?`).get(tenant, workflow, id) as Row | undefined);
  }

  async getInstanceByPk(pk: number): Promise<InstanceRecord | undefined> {
    return this.instance(this.q(`SELECT * FROM instances WHERE pk=?`).get(pk) as Row | undefined);
  }

  async listInstances(f: ListFilter): Promise<InstanceRecord[]> {
    const where = ["tenant = ?"];
    const args: (string | number)[] = [f.tenant];
    if (f.workflow) (where.push("workflow = ?"), args.push(f.workflow));
    if (f.status) (where.push("status = ?"), args.push(f.status));
    if (f.createdAfter !== undefined) (where.push("created_at >= ?"), args.push(f.createdAfter));
    if (f.createdBefore !== undefined) (where.push("created_at < ?"), args.push(f.createdBefore));
    for (const [k, v] of Object.entries(f.metadata ?? {})) (where.push("json_extract(metadata, ?) = ?"), args.push(`$.${JSON.stringify(k)}`, v));
    // a range on the (tenant, workflow, id) unique index; substr keeps it exact for any characters
    if (f.idPrefix) (where.push("id >= ? AND substr(id, 1, ?) = ?"), args.push(f.idPrefix, f.idPrefix.length, f.idPrefix));
    if (f.cursor !== undefined) (where.push(f.direction === "asc" ? "pk > ?" : "pk < ?"), args.push(f.cursor));
    const sql = `SELECT * FROM instances WHERE ${where.join(" AND ")} ORDER BY pk ${f.direction === "asc" ? "ASC" : "DESC"} LIMIT ?`;
    args.push(f.limit);
    return (this.db.prepare(sql).all(...args) as Row[]).map((r) => this.instance(r)!);
  }

  async deleteInstance(pk: number): Promise<void> {
    await this.write(() => {
      // one transaction: a run that still holds the instance finds it gone at its next write (fenced)
      for (const t of ["steps", "attempts", "events", "logs", "history", "sql_pages"]) this.q(`DELETE FROM ${t} WHERE instance=?`).run(pk);
      this.q(`DELETE FROM instances WHERE pk=?`).run(pk);
    });
  }

  /**
   * History sequence numbers: the next ones after the instance's last, in the write's transaction.
   * Race-free here because SQLite writes one transaction at a time (BEGIN IMMEDIATE); a store with
   * concurrent writers numbers under a lock on the instance row instead. (Measured: a counter column
   * on instances cost an UPDATE per write, ~10% of steps/s.)
   */
  private histMany(pk: number, entries: { type: HistoryType; at: number; data?: unknown }[]): void {
    const r = this.q(`SELECT COALESCE(MAX(seq), 0) AS s FROM history WHERE instance = ?`).get(pk) as Row;
    const ins = this.q(`INSERT INTO history (instance, seq, type, at, data) VALUES (?,?,?,?,?)`);
    let seq = r.s as number;
    for (const e of entries) ins.run(pk, ++seq, e.type, e.at, json(e.data));
  }

  private hist(pk: number, type: HistoryType, at: number, data?: unknown): void {
    this.histMany(pk, [{ type, at, data }]);
  }

  // ---- the run queue -------------------------------------------------------------------------
  async due(now: number, leaseNow: number, limit: number): Promise<DueInstance[]> {
    return (this.q(`SELECT pk, tenant, workflow, version, ready_at, started_at FROM instances
                    WHERE ready_at IS NOT NULL AND ready_at <= ? AND (claim_owner IS NULL OR claim_until <= ?) AND status IN (${UNFINISHED_SQL})
                    ORDER BY ready_at, pk LIMIT ?`).all(now, leaseNow, limit) as Row[]).map((r) => ({
      pk: r.pk as number, tenant: r.tenant as string, workflow: r.workflow as string, version: r.version as string, readyAt: r.ready_at as number, fresh: r.started_at === null,
    }));
  }

  async nextReadyAt(after: number, leaseNow: number): Promise<number | null> {
    const r = this.q(`SELECT MIN(ready_at) AS t FROM instances WHERE ready_at > ? AND (claim_owner IS NULL OR claim_until <= ?)`).get(after, leaseNow) as Row;
    return (r.t as number) ?? null;
  }

  /** do the live claims of the instance's tenant or workflow (other than its own) reach the claim's limits? */
  private atLimit(pk: number, c: Claim): boolean {
    const { tenant, workflow } = this.q(`SELECT tenant, workflow FROM instances WHERE pk = ?`).get(pk) as { tenant: string; workflow: string };
    const r = this.q(`SELECT COUNT(*) AS t, COALESCE(SUM(workflow = ?), 0) AS w FROM instances
                      WHERE tenant = ? AND claim_owner IS NOT NULL AND claim_until > ? AND pk <> ?`).get(workflow, tenant, c.leaseNow, pk) as Row;
    return (r.t as number) >= c.limits!.tenant || (r.w as number) >= c.limits!.workflow;
  }

  private claimOne(pk: number, c: Claim): Claimed | "full" | undefined {
    const r = this.q(`SELECT status, ready_at, claim_owner, claim_until FROM instances WHERE pk = ?`).get(pk) as Row | undefined;
    if (!r || r.ready_at === null || (r.ready_at as number) > c.now) return undefined;
    if (r.claim_owner !== null && r.claim_owner !== c.node && (r.claim_until as number) > c.leaseNow) return undefined;
    const status = r.status as InstanceStatus;
    const settled = CLAIM_SETTLES[status];
    if (settled) {
      // its run is gone: what it was waiting for (the end of the attempts in flight) is over
      this.q(`UPDATE instances SET status = ?, ready_at = NULL, claim_owner = NULL, claim_until = NULL, epoch = epoch + 1, modified_at = ? WHERE pk = ?`).run(settled, c.now, pk);
      this.hist(pk, "workflow_paused", c.now);
      return undefined;
    }
    if (!isClaimable(status)) return undefined;
    if (c.limits && this.atLimit(pk, c)) return "full";
    const row = this.q(`UPDATE instances SET epoch = epoch + 1, status = 'running', claim_owner = ?, claim_until = ?, started_at = COALESCE(started_at, ?), modified_at = ?
                        WHERE pk = ? RETURNING *`).get(c.node, c.leaseUntil, c.now, c.now, pk) as Row;
    this.hist(pk, "workflow_running", c.now, { node: c.node, epoch: row.epoch });
    return { inst: this.instance(row)!, epoch: row.epoch as number, wakes: row.wakes as number };
  }

  async claim(pk: number, c: Claim): Promise<Claimed | "full" | undefined> {
    return this.write(() => this.claimOne(pk, c));
  }

  async claimDue(c: Claim, limit: number): Promise<Claimed[]> {
    return this.write(() => {
      const out: Claimed[] = [];
      for (const d of this.q(`SELECT pk FROM instances WHERE ready_at IS NOT NULL AND ready_at <= ? AND (claim_owner IS NULL OR claim_owner = ? OR claim_until <= ?)
                              AND status IN (${UNFINISHED_SQL}) ORDER BY ready_at, pk LIMIT ?`).all(c.now, c.node, c.leaseNow, limit) as Row[]) {
        const got = this.claimOne(d.pk as number, c);
        if (got && got !== "full") out.push(got);
      }
      return out;
    });
  }

  async extendClaims(node: string, pks: number[], leaseUntil: number): Promise<number[]> {
    if (pks.length === 0) return [];
    return this.write(() => (this.q(`UPDATE instances SET claim_until = ? WHERE claim_owner = ? AND pk IN (SELECT value FROM json_each(?)) RETURNING pk`)
      .all(leaseUntil, node, JSON.stringify(pks)) as Row[]).map((r) => r.pk as number));
  }

  private fenced(pk: number, epoch: number): void {
    const r = this.q(`SELECT epoch FROM instances WHERE pk = ?`).get(pk) as Row | undefined;
    if (!r || r.epoch !== epoch) {
      throw new WeftError(ErrorCode.LeaseLost, `instance ${pk}: this run (epoch ${epoch}) no longer owns the instance (now ${r ? String(r.epoch) : "deleted"}); its write was refused`, { pk, epoch });
    }
  }

  async release(pk: number, epoch: number, rel: Release, ops: JournalOp[]): Promise<{ readyAt: number | null }> {
    return this.write(() => {
      this.fenced(pk, epoch);
      const done = this.applyOps(pk, ops, rel);
      if (done) return done;
      const r = this.q(`UPDATE instances SET ready_at = CASE WHEN status IN (${CLAIMABLE_SQL}) AND wakes > ? THEN ? WHEN status IN (${CLAIMABLE_SQL}) THEN ? ELSE NULL END,
              claim_owner = NULL, claim_until = NULL WHERE pk = ? RETURNING ready_at`).get(rel.seenWakes, rel.now, rel.readyAt, pk) as Row;
      return { readyAt: (r.ready_at as number) ?? null };
    });
  }

  async releaseClaims(node: string): Promise<number> {
    return this.write(() => Number(this.q(`UPDATE instances SET claim_owner = NULL, claim_until = NULL WHERE claim_owner = ?`).run(node).changes));
  }

  async voidClaims(): Promise<number> {
    return this.write(() => Number(this.q(`UPDATE instances SET claim_owner = NULL, claim_until = NULL WHERE claim_owner IS NOT NULL`).run().changes));
  }

  async fence(pk: number, ops: JournalOp[], readyAt?: number | null): Promise<number> {
    return this.write(() => {
      const r = this.q(`UPDATE instances SET epoch = epoch + 1, claim_owner = NULL, claim_until = NULL WHERE pk = ? RETURNING epoch`).get(pk) as Row | undefined;
      if (!r) throw new WeftError(ErrorCode.NotFound, `instance ${pk} no longer exists`, { pk });
      this.applyOps(pk, ops);
      if (readyAt !== undefined) this.q(`UPDATE instances SET ready_at = ? WHERE pk = ?`).run(readyAt, pk);
      return r.epoch as number;
    });
  }

  private current(pk: number): Row {
    const r = this.q(`SELECT id, status, claim_owner, claim_until FROM instances WHERE pk = ?`).get(pk) as Row | undefined;
    if (!r) throw new WeftError(ErrorCode.NotFound, `instance ${pk} does not exist (it was deleted)`, { pk });
    return r;
  }

  async pause(pk: number, now: number, leaseNow: number): Promise<"pausing" | "paused"> {
    return this.write(() => {
      const r = this.current(pk);
      checkAction("pause", r.status as InstanceStatus, r.id as string);
      if (r.status === "running" && r.claim_owner !== null && (r.claim_until as number) > leaseNow) {
        this.q(`UPDATE instances SET status = 'waitingForPause', modified_at = ? WHERE pk = ?`).run(now, pk);
        this.hist(pk, "workflow_waiting_for_pause", now);
        return "pausing";
      }
      this.q(`UPDATE instances SET status = 'paused', ready_at = NULL, claim_owner = NULL, claim_until = NULL, epoch = epoch + 1, modified_at = ? WHERE pk = ?`).run(now, pk);
      this.hist(pk, "workflow_paused", now);
      return "paused";
    });
  }

  async resume(pk: number, now: number): Promise<"unpaused" | "queued"> {
    return this.write(() => {
      const r = this.current(pk);
      checkAction("resume", r.status as InstanceStatus, r.id as string);
      this.hist(pk, "workflow_resumed", now);
      if (r.status === "waitingForPause") {
        // the run that was pausing goes on (it never stopped): its attempts in flight still commit
        this.q(`UPDATE instances SET status = 'running', modified_at = ? WHERE pk = ?`).run(now, pk);
        return "unpaused";
      }
      this.q(`UPDATE instances SET status = 'queued', ready_at = ?, wakes = wakes + 1, epoch = epoch + 1, claim_owner = NULL, claim_until = NULL, modified_at = ? WHERE pk = ?`).run(now, now, pk);
      return "queued";
    });
  }

  async restart(pk: number, fromSeq: number | undefined, now: number, data: unknown): Promise<void> {
    await this.write(() => {
      this.current(pk);
      const cut = (this.q(`SELECT key, seq, kind FROM steps WHERE instance = ?`).all(pk) as Row[])
        .filter((s) => cutByRestart({ seq: s.seq as number, kind: s.kind as StepRecord["kind"] }, fromSeq)).map((s) => s.key as string);
      if (cut.length > 0) {
        const keys = JSON.stringify(cut);
        this.q(`DELETE FROM attempts WHERE instance = ? AND key IN (SELECT value FROM json_each(?))`).run(pk, keys);
        this.q(`DELETE FROM steps WHERE instance = ? AND key IN (SELECT value FROM json_each(?))`).run(pk, keys);
      }
      this.q(`UPDATE instances SET status = 'queued', ended_at = NULL, wake_at = NULL, error = NULL, output = NULL, ready_at = ?, wakes = wakes + 1,
              epoch = epoch + 1, claim_owner = NULL, claim_until = NULL, modified_at = ? WHERE pk = ?`).run(now, now, pk);
      this.hist(pk, "workflow_restarted", now, data);
    });
  }

  /** the ops of one write; with `rel`, the status op also releases the claim (returned: the new readyAt) */
  private applyOps(pk: number, ops: JournalOp[], rel?: Release): { readyAt: number | null } | undefined {
    let released: { readyAt: number | null } | undefined;
    // checks first: a write fails before it changes anything (see write())
    const sql = ops.find((o): o is Extract<JournalOp, { op: "sql" }> => o.op === "sql");
    if (sql) checkSqlSeq((this.q(`SELECT sql_seq FROM instances WHERE pk = ?`).get(pk) as Row).sql_seq as number, sql.seq);
    // a write's history entries take their numbers in one step (one counter update for all of them)
    const history = ops.filter((o): o is Extract<JournalOp, { op: "history" }> => o.op === "history");
    if (history.length > 0) this.histMany(pk, history);
    for (const o of ops) {
      switch (o.op) {
        case "step":
          this.q(`INSERT INTO steps (instance, key, kind, seq, name, count, state, value, error, at, started_at, due_at, attempts, config, event_type)
                  VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)
                  ON CONFLICT (instance, key) DO UPDATE SET state=excluded.state, value=excluded.value, error=excluded.error, at=excluded.at,
                    due_at=excluded.due_at, attempts=excluded.attempts WHERE steps.state = 'pending'`).run(
            pk, o.key, o.kind, o.seq, o.name, o.count, o.state, enc(o.value), json(o.error), o.at ?? null, o.startedAt, o.dueAt ?? null, o.attempts, json(o.config), o.eventType ?? null,
          );
          break;
        case "attempt":
          this.q(`INSERT OR REPLACE INTO attempts (instance, key, attempt, started_at, ended_at, success, error) VALUES (?,?,?,?,?,?,?)`).run(
            pk, o.key, o.attempt, o.startedAt, o.endedAt, o.success === null ? null : o.success ? 1 : 0, json(o.error),
          );
          break;
        case "status": {
          const sets = ["status = ?", "modified_at = ?"];
          const args: unknown[] = [o.status, Date.now()];
          if (o.wakeAt !== undefined) (sets.push("wake_at = ?"), args.push(o.wakeAt));
          if (o.output !== undefined) (sets.push("output = ?"), args.push(enc(o.output)));
          if (o.error !== undefined) (sets.push("error = ?"), args.push(json(o.error)));
          if (o.endedAt !== undefined) (sets.push("ended_at = ?"), args.push(o.endedAt));
          if (o.startedAt !== undefined) (sets.push("started_at = COALESCE(started_at, ?)"), args.push(o.startedAt));
          if (rel) {
            // the release in the same statement: a wake-up the run has not acted on (an event delivered
            // after it read the journal) makes the instance due at once, whatever the run asked for;
            // paused and finished instances wait for none
            if (isClaimable(o.status)) (sets.push("ready_at = CASE WHEN wakes > ? THEN ? ELSE ? END"), args.push(rel.seenWakes, rel.now, rel.readyAt));
            else sets.push("ready_at = NULL");
            sets.push("claim_owner = NULL", "claim_until = NULL");
            const r = this.q(`UPDATE instances SET ${sets.join(", ")} WHERE pk = ? RETURNING ready_at`).get(...(args as (string | number | null | Uint8Array)[]), pk) as Row;
            released = { readyAt: (r.ready_at as number) ?? null };
          } else {
            this.q(`UPDATE instances SET ${sets.join(", ")} WHERE pk = ?`).run(...(args as (string | number | null | Uint8Array)[]), pk);
          }
          break;
        }
        case "objects":
          this.insertObjects(o.tenant, o.objects);
          break;
        case "fs":
          this.q(`UPDATE instances SET fs_head = ?, fs_files = ? WHERE pk = ?`).run(o.head, o.files, pk);
          break;
        case "sql": {
          const put = this.q(`INSERT OR REPLACE INTO sql_pages (instance, pgno, data) VALUES (?,?,?)`);
          for (const p of o.pages) if (p.pgno <= o.nPages) put.run(pk, p.pgno, p.data);
          this.q(`DELETE FROM sql_pages WHERE instance = ? AND pgno > ?`).run(pk, o.nPages);
          this.q(`UPDATE instances SET sql_seq = ?, sql_by = ?, sql_pages = ?, sql_page_size = ? WHERE pk = ?`).run(o.seq, o.by, o.nPages, o.pageSize, pk);
          break;
        }
        case "history":
          break; // numbered and written above
      }
    }
    return released;
  }

  async journal(pk: number, epoch: number, ops: JournalOp[]): Promise<JournalResult> {
    return this.write(() => {
      this.fenced(pk, epoch);
      this.applyOps(pk, ops);
      // a wait journaled now takes an event buffered before it, in this same transaction
      const waits = ops.some((o) => o.op === "step" && o.kind === "wait" && o.state === "pending");
      return { delivered: waits ? this.match(pk, ops.find((o) => o.op === "history")?.at ?? Date.now()) : [] };
    });
  }

  async sqlImage(pk: number, fromPgno: number, limit: number): Promise<SqlImagePart> {
    const r = this.q(`SELECT sql_seq, sql_pages, sql_page_size FROM instances WHERE pk = ?`).get(pk) as Row | undefined;
    if (!r) return { seq: 0, pageSize: 0, nPages: 0, pages: [] };
    const pages = (this.q(`SELECT pgno, data FROM sql_pages WHERE instance = ? AND pgno >= ? ORDER BY pgno LIMIT ?`).all(pk, fromPgno, limit) as Row[])
      .map((p) => ({ pgno: p.pgno as number, data: p.data as Uint8Array }));
    return { seq: r.sql_seq as number, pageSize: (r.sql_page_size as number) ?? 0, nPages: r.sql_pages as number, pages };
  }

  async steps(pk: number): Promise<StepRecord[]> {
    return (this.q(`SELECT * FROM steps WHERE instance = ? ORDER BY seq, key`).all(pk) as Row[]).map(stepRow);
  }

  async stepsAndAttempts(pk: number): Promise<{ steps: StepRecord[]; attempts: AttemptRecord[] }> {
    // both reads run in this turn: no write can come between them
    const [steps, attempts] = [this.steps(pk), this.attempts(pk)];
    return { steps: await steps, attempts: await attempts };
  }

  async attempts(pk: number): Promise<AttemptRecord[]> {
    return (this.q(`SELECT * FROM attempts WHERE instance = ? ORDER BY key, attempt`).all(pk) as Row[]).map((r) => ({
      key: r.key as string, attempt: r.attempt as number, startedAt: r.started_at as number, endedAt: (r.ended_at as number) ?? null,
      success: r.success === null ? null : r.success === 1, error: unjson<ErrorInfo>(r.error) ?? null,
    }));
  }

  // ---- events --------------------------------------------------------------------------------
  /** match buffered events to pending waits (core/journal.ts matchEvents) and deliver them */
  private match(pk: number, at: number): DeliveredEvent[] {
    const waits = (this.q(`SELECT key, seq, event_type FROM steps WHERE instance = ? AND kind = 'wait' AND state = 'pending'`).all(pk) as Row[])
      .map((w) => ({ key: w.key as string, seq: w.seq as number, eventType: w.event_type as string }));
    if (waits.length === 0) return [];
    const events = this.q(`SELECT seq, type, payload, created_at FROM events WHERE instance = ? AND consumed_by IS NULL`).all(pk) as Row[];
    if (events.length === 0) return [];
    const byId = new Map(events.map((e) => [e.seq as number, e]));
    const out: DeliveredEvent[] = [];
    for (const m of matchEvents(waits, events.map((e) => ({ id: e.seq as number, type: e.type as string })))) {
      const ev = byId.get(m.event)!;
      const value = { payload: dec(ev.payload), timestamp: ev.created_at as number, type: ev.type as string };
      this.q(`UPDATE events SET consumed_by = ? WHERE seq = ?`).run(m.wait, m.event);
      this.q(`UPDATE steps SET state = 'complete', value = ?, at = ? WHERE instance = ? AND key = ?`).run(enc(value), at, pk, m.wait);
      this.hist(pk, "wait_completed", at, { key: m.wait, type: ev.type });
      out.push({ key: m.wait, value, at });
    }
    return out;
  }

  async addEvent(pk: number, type: string, payload: unknown, at: number, buffer?: EventBuffer): Promise<EventResult> {
    return this.write(() => {
      // existence and status in the same transaction: an event for an instance deleted (or finished)
      // meanwhile is refused, never stored for whoever comes next
      const r = this.current(pk);
      checkAction("sendEvent", r.status as InstanceStatus, r.id as string);
      const bytes = enc(payload);
      this.q(`INSERT INTO events (instance, type, payload, created_at) VALUES (?,?,?,?)`).run(pk, type, bytes, at);
      const delivered = this.match(pk, at);
      if (buffer && delivered.length === 0) {
        // only an event no wait took fills the buffer: counted with it, checked without it
        const have = this.q(`SELECT COUNT(*) AS n, COALESCE(SUM(length(payload)), 0) AS b FROM events WHERE instance = ? AND consumed_by IS NULL`).get(pk) as Row;
        const full = eventBufferFull(r.id as string, { events: Number(have.n) - 1, bytes: Number(have.b) - (bytes?.byteLength ?? 0) }, bytes?.byteLength ?? 0, buffer);
        if (full) throw full; // (the transaction rolls back: nothing stored)
      }
      // the wake-up, in the delivery's transaction (a paused instance stays out of the run queue:
      // its resume makes it due); an event no wait took wakes nothing, and the count stays
      const w = (delivered.length === 0
        ? this.q(`SELECT wakes FROM instances WHERE pk = ?`).get(pk)
        : this.q(`UPDATE instances SET ready_at = CASE WHEN status IN (${UNFINISHED_SQL}) AND (ready_at IS NULL OR ready_at > ?) THEN ? ELSE ready_at END,
                  wakes = wakes + 1 WHERE pk = ? RETURNING wakes`).get(at, at, pk)) as Row;
      return { delivered, wakes: w.wakes as number };
    }, buffer !== undefined); // atomic: a refusal (buffer full) undoes the insert
  }

  // ---- git objects ---------------------------------------------------------------------------
  private insertObjects(tenant: string, objects: StoredObject[]): void {
    const s = this.q(`INSERT INTO git_objects (tenant, oid, type, data) VALUES (?,?,?,?) ON CONFLICT DO NOTHING`);
    for (const o of objects) s.run(tenant, o.oid, o.type, o.data);
  }

  async putObjects(tenant: string, objects: StoredObject[]): Promise<void> {
    if (objects.length > 0) await this.write(() => this.insertObjects(tenant, objects));
  }

  async readObject(tenant: string, oid: string): Promise<StoredObject | undefined> {
    const r = this.q(`SELECT type, data FROM git_objects WHERE tenant = ? AND oid = ?`).get(tenant, oid) as Row | undefined;
    return r ? { oid, type: r.type as StoredObject["type"], data: r.data as Uint8Array } : undefined;
  }

  // ---- tenants and tokens --------------------------------------------------------------------

  async createTenant(t: TenantRecord): Promise<void> {
    await this.write(() => {
      const r = this.q(`INSERT INTO tenants (name, quotas, created_at) VALUES (?,?,?) ON CONFLICT DO NOTHING RETURNING name`).get(t.name, JSON.stringify(t.quotas), t.createdAt);
      if (!r) throw new WeftError(ErrorCode.AlreadyExists, `tenant "${t.name}" already exists`, { tenant: t.name });
    });
  }

  async getTenant(name: string): Promise<TenantRecord | undefined> {
    return tenantRow(this.q(`SELECT * FROM tenants WHERE name = ?`).get(name) as Row | undefined);
  }

  async listTenants(): Promise<TenantRecord[]> {
    return (this.q(`SELECT * FROM tenants ORDER BY name`).all() as Row[]).map((r) => tenantRow(r)!);
  }

  async setTenantQuotas(name: string, quotas: Record<string, number>): Promise<TenantRecord | undefined> {
    return this.write(() => {
      this.q(`DELETE FROM create_buckets WHERE tenant = ?`).run(name);
      return tenantRow(this.q(`UPDATE tenants SET quotas = ? WHERE name = ? RETURNING *`).get(JSON.stringify(quotas), name) as Row | undefined);
    });
  }

  async drawCreations(tenant: string, n: number, now: number, rate: number, burst: number): Promise<Draw> {
    return this.write(() => {
      const r = this.q(`SELECT tokens, at FROM create_buckets WHERE tenant = ?`).get(tenant) as Row | undefined;
      const d = drawTokens(r && { tokens: r.tokens as number, at: r.at as number }, n, now, rate, burst);
      this.q(`INSERT INTO create_buckets (tenant, tokens, at) VALUES (?,?,?) ON CONFLICT (tenant) DO UPDATE SET tokens = excluded.tokens, at = excluded.at`).run(tenant, d.bucket.tokens, d.bucket.at);
      return d;
    });
  }


  async putToken(t: TokenRecord): Promise<void> {
    await this.write(() => {
      this.q(`INSERT INTO tokens (id, tenant, name, hash, created_at, revoked_at) VALUES (?,?,?,?,?,?)`).run(t.id, t.tenant, t.name, t.hash, t.createdAt, t.revokedAt);
    });
  }

  async tokenByHash(hash: string): Promise<TokenRecord | undefined> {
    return tokenRow(this.q(`SELECT * FROM tokens WHERE hash = ?`).get(hash) as Row | undefined);
  }

  async listTokens(tenant: string | null): Promise<TokenRecord[]> {
    const rows = tenant === null ? this.q(`SELECT * FROM tokens WHERE tenant IS NULL ORDER BY created_at`).all() : this.q(`SELECT * FROM tokens WHERE tenant = ? ORDER BY created_at`).all(tenant);
    return (rows as Row[]).map((r) => tokenRow(r)!);
  }

  async revokeToken(tenant: string | null, id: string, at: number): Promise<boolean> {
    return this.write(() => {
      const r = this.q(`UPDATE tokens SET revoked_at = ? WHERE id = ? AND tenant IS ? AND revoked_at IS NULL RETURNING id`).get(at, id, tenant);
      return r !== undefined;
    });
  }

  async listWorkflows(tenant: string): Promise<{ workflow: string; latestVersion: string; updatedAt: number }[]> {
    return (this.q(`SELECT workflow, latest_version, updated_at FROM workflows WHERE tenant = ? ORDER BY workflow`).all(tenant) as Row[]).map((r) => ({
      workflow: r.workflow as string, latestVersion: r.latest_version as string, updatedAt: r.updated_at as number,
    }));
  }

  async deleteWorkflow(tenant: string, workflow: string): Promise<number[]> {
    return this.write(() => {
      const pks = (this.q(`SELECT pk FROM instances WHERE tenant = ? AND workflow = ?`).all(tenant, workflow) as Row[]).map((r) => r.pk as number);
      this.q(`DELETE FROM versions WHERE tenant = ? AND workflow = ?`).run(tenant, workflow);
      this.q(`DELETE FROM workflows WHERE tenant = ? AND workflow = ?`).run(tenant, workflow);
      return pks;
    });
  }

  // ---- logs and history ----------------------------------------------------------------------
  async appendLogs(lines: LogLine[]): Promise<void> {
    if (lines.length === 0) return;
    await this.write(() => {
      // a line of an instance deleted meanwhile is dropped, never kept for whoever comes next
      const s = this.q(`INSERT INTO logs (instance, at, level, message) SELECT ?1, ?2, ?3, ?4 WHERE EXISTS (SELECT 1 FROM instances WHERE pk = ?1)`);
      for (const l of lines) s.run(l.instance, l.at, l.level, l.message);
    });
  }

  async logs(pk: number, after: number, limit: number): Promise<(LogLine & { seq: number })[]> {
    return (this.q(`SELECT seq, instance, at, level, message FROM logs WHERE instance = ? AND seq > ? ORDER BY seq LIMIT ?`).all(pk, after, limit) as Row[]).map((r) => ({
      seq: r.seq as number, instance: r.instance as number, at: r.at as number, level: r.level as string, message: r.message as string,
    }));
  }

  async history(pk: number, after: number): Promise<HistoryEvent[]> {
    return (this.q(`SELECT seq, type, at, data FROM history WHERE instance = ? AND seq > ? ORDER BY seq`).all(pk, after) as Row[]).map((r) => ({
      eventId: r.seq as number, type: r.type as string, at: r.at as number, data: unjson(r.data),
    }));
  }

  async activity(q: ActivityQuery): Promise<ActivityBucket[]> {
    const wf = q.workflow !== undefined ? " AND workflow = ?" : "";
    const args = q.workflow !== undefined ? [q.tenant, q.workflow] : [q.tenant];
    return activityBuckets(q,
      this.db.prepare(`SELECT CAST((created_at - ?) / ? AS INTEGER) AS b, COUNT(*) AS n FROM instances WHERE tenant = ?${wf} AND created_at >= ? AND created_at < ? GROUP BY b`)
        .all(q.from, q.bucketMs, ...args, q.from, q.to) as Row[],
      this.db.prepare(`SELECT CAST((ended_at - ?) / ? AS INTEGER) AS b, status, COUNT(*) AS n FROM instances WHERE tenant = ?${wf} AND ended_at IS NOT NULL AND ended_at >= ? AND ended_at < ? GROUP BY b, status`)
        .all(q.from, q.bucketMs, ...args, q.from, q.to) as Row[]);
  }

  async countByStatus(tenant?: string, workflow?: string): Promise<Record<string, number>> {
    const rows = (workflow !== undefined && tenant !== undefined
      ? this.q(`SELECT status, COUNT(*) AS n FROM instances WHERE tenant = ? AND workflow = ? GROUP BY status`).all(tenant, workflow)
      : tenant
        ? this.q(`SELECT status, COUNT(*) AS n FROM instances WHERE tenant = ? GROUP BY status`).all(tenant)
        : this.q(`SELECT status, COUNT(*) AS n FROM instances GROUP BY status`).all()) as Row[];
    return Object.fromEntries(rows.map((r) => [r.status as string, r.n as number]));
  }

  async ping(): Promise<void> {
    this.q(`SELECT 1`).get();
  }

  watch(): () => void {
    return () => undefined; // one process: its engine knows its own changes
  }

  onGap(): () => void {
    return () => undefined; // no feed to cut
  }

  async close(): Promise<void> {
    if (this.closed) return;
    if (this.queue.length) this.flush();
    while (this.syncing || this.syncWaiters.length > 0) await new Promise<void>((r) => this.afterSync(r));
    this.closed = true;
    await this.checkpointer?.close();
    if (this.walFd !== undefined) closeSync(this.walFd);
    this.db.close();
  }
}
