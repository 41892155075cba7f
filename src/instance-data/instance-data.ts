// The engine's side of instance data: where each instance's SQL database lives, the git objects
// (shared per tenant, in the store) its filesystem is made of, and the host API that reads both
// from outside a run — files at any commit, the commit list, read-only SQL, and the repository for
// git's HTTP protocol. Seeding (create with files) and forking (create from another instance's
// commit) build or point at commits here.
import { copyFileSync, existsSync, mkdirSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { DatabaseSync } from "node:sqlite";
import { join } from "node:path";
import { ErrorCode, WeftError } from "../core/errors.ts";
import { parsePath } from "../core/paths.ts";
import { DEFAULT_LIMITS, fsLimits, type FsLimits } from "../core/limits.ts";
import type { FsChange, FsCommit, FsStat } from "../core/fs-types.ts";
import { InstanceDatabase } from "./sql/database.ts";
import { SqlPool, type SqlFaults } from "./sql/pool.ts";
import { splitImage, writeDatabaseFile, type SqlDelta } from "./sql/pages.ts";
import { queryInWorker } from "./sql/query-worker.ts";
import { Worktree, type ObjectSource } from "./fs/worktree.ts";
import type { InstanceDataPort, InstanceRef as InstanceRecord, RepoSource, SqlDatabase, SqlResult, SqlValue, WorktreePort } from "./ports.ts";
import type { ObjectsPort, StoredObject } from "../store/ports.ts";

export type FileInput = string | Uint8Array;

/** pages read from the store at a time when a database is rebuilt (4 MiB of 4 KiB pages) */
const PART_PAGES = 1024;

export class InstanceData implements InstanceDataPort {
  private readonly store: ObjectsPort & { getInstanceByPk(pk: number): Promise<{ fsHead: string | null } | undefined> };
  private readonly dir: string;
  /** worker threads that run tenant SQL (never the engine's thread) */
  private readonly pool: SqlPool;
  constructor(store: InstanceData["store"], dataDir: string, sqlWorkers = 2, faults: SqlFaults = {}) {
    this.pool = new SqlPool(sqlWorkers, faults);
    this.store = store;
    this.dir = join(dataDir, "sql");
  }

  // ---- SQL files ------------------------------------------------------------------------------
  /** One file per instance, made on its first write: an instance that never writes has none. */
  sqlPath(pk: number): string {
    return join(this.dir, `${pk}.sqlite`);
  }

  hasSql(pk: number): boolean {
    return InstanceDatabase.exists(this.sqlPath(pk));
  }

  sqlUncertain(pk: number): boolean {
    return this.pool.isUncertain(this.sqlPath(pk));
  }

  /** The instance's database for its run's code, in a SQL worker; statements stop after `timeoutMs`. */
  openSql(pk: number, maxBytes: number, timeoutMs = DEFAULT_LIMITS.sqlMsPerQuery): SqlDatabase {
    mkdirSync(this.dir, { recursive: true });
    return this.pool.open(pk, this.sqlPath(pk), maxBytes, timeoutMs);
  }

  /** an empty database answering the reads of an instance that never wrote (no file is made) */
  scratchSql(pk: number, timeoutMs = DEFAULT_LIMITS.sqlMsPerQuery): SqlDatabase {
    return this.pool.open(pk, ":memory:", 64 * 1024, timeoutMs);
  }

  close(): Promise<void> {
    return this.pool.close();
  }

  /** SQL statements given up at their time limit that are still running (see SqlPool.stuck) */
  get stuckSql(): number {
    return this.pool.stuck;
  }

  putObjects(tenant: string, objects: StoredObject[]): Promise<void> {
    return this.store.putObjects(tenant, objects);
  }

  /**
   * SQL databases of instances that no longer exist (a run of a deleted instance that was still
   * starting could make one after the delete): removed, so no instance data outlives its instance.
   */
  async removeOrphans(exists: (pk: number) => Promise<boolean>): Promise<number> {
    let names: string[];
    try {
      names = readdirSync(this.dir);
    } catch {
      return 0;
    }
    let removed = 0;
    for (const pk of new Set(names.map((n) => /^(\d+)\.sqlite/.exec(n)?.[1]).filter((x) => x !== undefined).map(Number))) {
      if (await exists(pk)) continue;
      this.removeSql(pk);
      removed++;
    }
    return removed;
  }

  removeSql(pk: number): void {
    const p = this.sqlPath(pk);
    for (const f of [p, p + "-wal", p + "-shm"]) rmSync(f, { force: true });
    this.pool.settled(p); // the next file at this path is a new one
  }

  /** rebuilds of one instance's copy run one at a time (two runs' starts, or a run and a read) */
  private readonly rebuilding = new Map<number, Promise<void>>();

  async rebuildSql(pk: number, seq: number): Promise<void> {
    const prev = this.rebuilding.get(pk) ?? Promise.resolve();
    const p = prev.then(() => this.rebuildNow(pk, seq), () => this.rebuildNow(pk, seq));
    const tail = p.catch(() => undefined);
    this.rebuilding.set(pk, tail);
    void tail.then(() => this.rebuilding.get(pk) === tail && this.rebuilding.delete(pk));
    try {
      return await p;
    } catch (e) {
      if (e instanceof WeftError) throw e;
      // the local disk, not the instance: its run is tried again (as when the store cannot write)
      throw new WeftError(ErrorCode.StorageUnavailable, `the local copy of instance ${pk}'s database could not be rebuilt: ${(e as Error).message}; retried`, { pk });
    }
  }

  private async rebuildNow(pk: number, seq: number): Promise<void> {
    const first = await this.store.sqlImage(pk, 1, PART_PAGES);
    if (first.seq !== seq) {
      throw new WeftError(ErrorCode.LeaseLost, `the store holds version ${first.seq} of instance ${pk}'s database, not ${seq}: another run changed it; this run stops`, { pk, seq, stored: first.seq });
    }
    if (seq === 0) return this.removeSql(pk); // (removeSql: settled)
    const store = this.store;
    async function* parts(): AsyncGenerator<{ pgno: number; data: Uint8Array }[]> {
      let part = first;
      for (;;) {
        yield part.pages;
        if (part.pages.length < PART_PAGES) return;
        part = await store.sqlImage(pk, part.pages[part.pages.length - 1]!.pgno + 1, PART_PAGES);
        if (part.seq !== seq) throw new WeftError(ErrorCode.LeaseLost, `instance ${pk}'s database changed in the store while it was read (version ${seq} → ${part.seq}); this run stops`, { pk, seq });
      }
    }
    await writeDatabaseFile(this.sqlPath(pk), first.pageSize, first.nPages, parts());
    this.pool.settled(this.sqlPath(pk)); // a new file: a late commit on the old one cannot reach it
  }

  /**
   * A database made before commits were journaled (tables, no version): its pages as version 1,
   * stamped on a copy (the original stays as it is until the journal has them).
   */
  async adoptSql(pk: number): Promise<SqlDelta | null> {
    const path = this.sqlPath(pk);
    if (!existsSync(path)) return null;
    const copy = `${path}.adopting`;
    for (const suffix of ["", "-wal"]) {
      rmSync(copy + suffix, { force: true });
      if (existsSync(path + suffix)) copyFileSync(path + suffix, copy + suffix);
    }
    try {
      const db = new DatabaseSync(copy);
      try {
        db.exec("CREATE TABLE IF NOT EXISTS _weft_meta (k TEXT PRIMARY KEY, v) WITHOUT ROWID; INSERT OR REPLACE INTO _weft_meta (k, v) VALUES ('seq', 1), ('by', 0); PRAGMA wal_checkpoint(TRUNCATE)");
      } finally {
        db.close();
      }
      const img = splitImage(readFileSync(copy));
      return { seq: 1, by: 0, ...img, pages: img.pages.map((p) => ({ pgno: p.pgno, data: p.data.slice() })) };
    } finally {
      for (const suffix of ["", "-wal", "-shm"]) rmSync(copy + suffix, { force: true });
    }
  }

  // ---- git objects ----------------------------------------------------------------------------
  worktree(tenant: string, head: string | null, files: number, limits: FsLimits): Promise<WorktreePort> {
    return Worktree.open(this.reader(tenant), head, files, limits);
  }

  reader(tenant: string): ObjectSource {
    return { read: (oid) => this.store.readObject(tenant, oid) };
  }

  private async committed(inst: InstanceRecord): Promise<Worktree> {
    return Worktree.open(this.reader(inst.tenant), inst.fsHead, inst.fsFiles, fsLimits(undefined));
  }

  /** The first commit of an instance created with { files }. Checked before anything is written. */
  async seed(tenant: string, files: unknown, limits: FsLimits, at: number): Promise<{ head: string; files: number; objects: StoredObject[] } | null> {
    if (files === undefined) return null;
    if (!files || typeof files !== "object" || Array.isArray(files)) {
      throw new WeftError(ErrorCode.InvalidArgument, "create: files must be an object { [path]: string | Uint8Array }", { field: "files" });
    }
    const entries = Object.entries(files as Record<string, unknown>);
    if (entries.length > limits.files) {
      throw new WeftError(ErrorCode.StorageLimit, `create: ${entries.length} files given; the limit is ${limits.files} files per instance (limits.files)`, { files: entries.length, limit: limits.files });
    }
    const wt = await Worktree.open(this.reader(tenant), null, 0, limits);
    for (const [path, content] of entries) {
      const names = parsePath(path, "create files");
      if (typeof content !== "string" && !(content instanceof Uint8Array)) {
        throw new WeftError(ErrorCode.InvalidArgument, `create: files[${JSON.stringify(path)}] must be a string or Uint8Array, got ${content === null ? "null" : typeof content}`, { field: `files.${path}` });
      }
      await wt.writeFile(names, path, typeof content === "string" ? new TextEncoder().encode(content) : content);
    }
    return wt.commit({ name: "seed", count: 1 }, at);
  }

  /** The commit a forked instance starts from: the source's head, or a commit of its history. */
  async forkPoint(source: InstanceRecord, commit: unknown): Promise<{ head: string | null; files: number }> {
    if (commit === undefined) return { head: source.fsHead, files: source.fsFiles };
    if (typeof commit !== "string") throw new WeftError(ErrorCode.InvalidArgument, "create: fork.commit must be a commit id (string)", { field: "fork.commit" });
    const wt = await this.committed(source);
    const log = await wt.log(Number.MAX_SAFE_INTEGER);
    if (!log.some((c) => c.oid === commit)) {
      throw new WeftError(ErrorCode.NotFound, `create: commit ${JSON.stringify(commit)} is not in the history of instance "${source.id}"`, { field: "fork.commit", commit });
    }
    const at = await Worktree.open(this.reader(source.tenant), commit, 0, fsLimits(undefined));
    return { head: commit, files: await at.countAll() };
  }

  // ---- host API: read an instance's data from outside -----------------------------------------
  async readFile(inst: InstanceRecord, path: string, at?: string): Promise<Uint8Array> {
    return (await this.committed(inst)).readFile(parsePath(path, "readFile"), path, at);
  }

  async readdir(inst: InstanceRecord, path = "", at?: string): Promise<{ name: string; type: FsStat["type"]; size: number }[]> {
    const wt = await this.committed(inst);
    const names = parsePath(path, "readdir", true);
    const out = [];
    for (const name of await wt.readdir(names, path, at)) {
      const s = (await wt.stat([...names, name], `${path}/${name}`, at))!;
      out.push({ name, type: s.type, size: s.size });
    }
    return out;
  }

  async log(inst: InstanceRecord, limit?: number): Promise<FsCommit[]> {
    return (await this.committed(inst)).log(limit);
  }

  async diff(inst: InstanceRecord, a: string, b?: string): Promise<FsChange[]> {
    return (await this.committed(inst)).diff(a, b);
  }

  /**
   * Read-only SQL on the instance's database (committed state; never blocks its run), in a worker
   * thread stopped after `timeoutMs`: one tenant's long query never holds up the process.
   */
  async query(inst: InstanceRecord, query: string, params: SqlValue[] = [], timeoutMs = 10_000, runningHere = false): Promise<SqlResult> {
    // another node ran it (or this one's copy is old): the store's version first
    for (let ref = inst, tries = 0; !runningHere && (ref.sqlSeq ?? 0) > 0 && !this.localIs(ref) && tries < 3; tries++) {
      try {
        await this.rebuildSql(ref.pk, ref.sqlSeq!);
      } catch (e) {
        if ((e as WeftError).code !== ErrorCode.LeaseLost) throw e;
        const now = await this.store.getInstanceByPk(ref.pk);
        if (!now) break;
        ref = { ...ref, ...(now as Partial<InstanceRecord>) };
      }
    }
    const path = this.hasSql(inst.pk) ? this.sqlPath(inst.pk) : ":memory:";
    return queryInWorker({ path, query, params, refusal: "this is a read-only query from outside the instance" }, timeoutMs);
  }

  /** is the local copy the store's version of the instance's database? */
  private localIs(inst: InstanceRecord): boolean {
    if (!this.hasSql(inst.pk) || this.sqlUncertain(inst.pk)) return false;
    let db: DatabaseSync | undefined;
    try {
      db = new DatabaseSync(this.sqlPath(inst.pk));
      const meta = db.prepare("SELECT k, v FROM _weft_meta WHERE k IN ('seq', 'by')").all() as { k: string; v: number }[];
      const m = new Map(meta.map((r) => [r.k, Number(r.v)]));
      return m.get("seq") === inst.sqlSeq && (m.get("by") ?? 0) === (inst.sqlBy ?? 0);
    } catch {
      return false;
    } finally {
      db?.close();
    }
  }

  /** The instance's repository for git's HTTP protocol (its only branch: main). */
  repo(inst: InstanceRecord): RepoSource {
    const read = this.reader(inst.tenant);
    return {
      head: async () => (await this.store.getInstanceByPk(inst.pk))?.fsHead ?? null,
      read: async (oid) => {
        const o = await read.read(oid);
        return o ? { type: o.type, data: o.data } : undefined;
      },
    };
  }
}
