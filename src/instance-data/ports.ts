// The instance-data ports the engine depends on: each instance's SQL database (ctx.storage.sql) and
// its git-native filesystem (ctx.fs), and the host API that reads both from outside a run. The
// adapters (sql/, fs/, instance-data.ts) implement these; the engine never imports them.
import type { FsChange, FsCommit, FsStat } from "../core/fs-types.ts";
import type { FsLimits } from "../core/limits.ts";
import type { SqlDelta, StoredObject } from "../store/ports.ts";

export type SqlValue = string | number | bigint | null | Uint8Array;
export interface SqlResult { columns: string[]; rows: SqlValue[][]; rowsRead: number; rowsWritten: number }

/** One instance's database as a run uses it (on this thread, or in a SQL worker). */
export interface SqlDatabase {
  readonly inTransaction: boolean;
  /** the open transaction changed something */
  readonly dirty: boolean;
  /** true once the connection is gone (its SQL worker was given up) */
  readonly lost?: boolean;
  exec(query: string, params: SqlValue[], write: boolean, refusal?: string): SqlResult;
  begin(): void;
  savepoint(): void;
  release(): void;
  rollbackTo(): void;
  /**
   * commit the attempt's transaction locally as the database's version `seq`: the pages it changed,
   * for the journal (the commit point; until the journal has them the commit is only local)
   */
  commitAttempt(seq: number, by: number): Promise<SqlDelta>;
  rollback(): void;
  /**
   * the version this copy is at and the run (claim epoch) that committed it (seq 0: none; -1: a
   * database from before versions, not yet adopted)
   */
  version(): { seq: number; by: number };
  sizeBytes(): number;
  serialize(): Uint8Array;
  close(): void;
}

export interface FsCommitResult {
  head: string;
  files: number;
  objects: StoredObject[];
}

/** An instance's working tree during a run: changes of the running attempt, then one commit. */
export interface WorktreePort {
  readFile(names: string[], path: string, at?: string): Promise<Uint8Array>;
  readdir(names: string[], path: string, at?: string): Promise<string[]>;
  stat(names: string[], path: string, at?: string): Promise<FsStat | undefined>;
  writeFile(names: string[], path: string, data: Uint8Array): Promise<void>;
  mkdir(names: string[], path: string, recursive: boolean): Promise<void>;
  rm(names: string[], path: string, recursive: boolean, force: boolean): Promise<void>;
  rename(from: string[], fromPath: string, to: string[], toPath: string): Promise<void>;
  countAll(): Promise<number>;
  rollback(): void;
  commit(step: { name: string; count: number }, atMs: number): Promise<FsCommitResult | null>;
  /** the journal has these objects: they may leave memory */
  persisted(objects: StoredObject[]): void;
  log(limit?: number): Promise<FsCommit[]>;
  diff(a: string, b: string | undefined): Promise<FsChange[]>;
}

/** the repository of one instance for git's HTTP protocol */
export interface RepoSource {
  head(): Promise<string | null>;
  read(oid: string): Promise<{ type: "blob" | "tree" | "commit"; data: Uint8Array } | undefined>;
}

export interface InstanceRef {
  pk: number;
  id: string;
  tenant: string;
  fsHead: string | null;
  fsFiles: number;
  /** the version of its SQL database the store holds, and the run that made it */
  sqlSeq?: number;
  sqlBy?: number;
}

export interface InstanceDataPort {
  hasSql(pk: number): boolean;
  /**
   * A COMMIT on the local copy was given up at its time limit and may still land, at any later
   * time: the copy's version cannot be trusted until rebuildSql() (or removeSql()) replaced it.
   */
  sqlUncertain(pk: number): boolean;
  /** the instance's database for its run's code; statements stop after `timeoutMs` */
  openSql(pk: number, maxBytes: number, timeoutMs?: number): SqlDatabase;
  /** an empty database answering the reads of an instance that never wrote */
  scratchSql(pk: number, timeoutMs?: number): SqlDatabase;
  removeSql(pk: number): void;
  /** remove the SQL databases of instances that no longer exist */
  removeOrphans(exists: (pk: number) => Promise<boolean>): Promise<number>;
  /**
   * Make the local copy of the instance's database the version `seq` the store holds, from the
   * store's pages (a copy that is missing, behind, or ahead by a commit the journal never got).
   * Nothing may have the copy open.
   */
  rebuildSql(pk: number, seq: number): Promise<void>;
  /** a database from before versions were journaled: all its pages, as version 1 (to journal) */
  adoptSql(pk: number): Promise<SqlDelta | null>;
  /** SQL statements given up at their time limit that are still running */
  readonly stuckSql: number;
  putObjects(tenant: string, objects: StoredObject[]): Promise<void>;
  /** the working tree of an instance's filesystem at `head` */
  worktree(tenant: string, head: string | null, files: number, limits: FsLimits): Promise<WorktreePort>;
  seed(tenant: string, files: unknown, limits: FsLimits, at: number): Promise<{ head: string; files: number; objects: StoredObject[] } | null>;
  forkPoint(source: InstanceRef, commit: unknown): Promise<{ head: string | null; files: number }>;
  readFile(inst: InstanceRef, path: string, at?: string): Promise<Uint8Array>;
  readdir(inst: InstanceRef, path?: string, at?: string): Promise<{ name: string; type: FsStat["type"]; size: number }[]>;
  log(inst: InstanceRef, limit?: number): Promise<FsCommit[]>;
  diff(inst: InstanceRef, a: string, b?: string): Promise<FsChange[]>;
  /**
   * read-only SQL on the committed state, in a worker stopped after `timeoutMs`; on a node that does
   * not run the instance (`runningHere` false) a local copy that is missing or stale is rebuilt from
   * the store first, so any node answers
   */
  query(inst: InstanceRef, query: string, params?: SqlValue[], timeoutMs?: number, runningHere?: boolean): Promise<SqlResult>;
  repo(inst: InstanceRef): RepoSource;
  close(): Promise<void>;
}
