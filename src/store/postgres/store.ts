// The PostgreSQL store: the shared truth of a cluster of engine nodes (cluster mode). The same
// contract as the embedded store (testing/store-suite.ts), with several writers at once:
// - every write that touches an instance first takes its row lock, in the statement that checks
//   the fence (`UPDATE … WHERE pk = $1 AND epoch = $2`, or `SELECT … FOR UPDATE`): writes of one
//   instance are serialized, a stale run's write is refused, and history numbers (MAX(seq) + 1 under
//   that lock) cannot race;
// - claims take due rows with `FOR UPDATE SKIP LOCKED`: nodes polling at once never wait on, or take,
//   each other's rows;
// - pks, event and log sequence numbers are identities: never handed out twice, also after deletes.
// A commit is durable when it resolves (synchronous_commit, PostgreSQL's default). The pool holds
// `poolSize` connections (default 10): a node's concurrent writes beyond that wait for one.
import pg from "pg";
import { randomBytes } from "node:crypto";
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
import { opsStatement, splitOps } from "./ops.ts";
import { activityBuckets, dec, enc, json, num, stepRow, tenantRow, tokenRow, unjson, versionRow, type Row } from "../rows.ts";
type Db = pg.Pool | pg.PoolClient;

/** a counting semaphore: at most `n` holders at once, the others wait in order */
class Gate {
  private free: number;
  private readonly waiting: (() => void)[] = [];
  constructor(n: number) {
    this.free = n;
  }
  async take(): Promise<void> {
    if (this.free > 0) return void this.free--;
    await new Promise<void>((r) => this.waiting.push(r));
  }
  give(): void {
    const next = this.waiting.shift();
    if (next) next();
    else this.free++;
  }
}

/** deadlock_detected, serialization_failure: the transaction was rolled back and may simply run again */
const TRANSIENT = new Set(["40P01", "40001"]);
/** the first key of the advisory locks on tenants' claim counts ("quot"); the second is the tenant's hash */
const QUOTA_LOCK = 0x71756f74;
/**
 * Claims counted without the lock while more than this many slots are free under a cap: exact as
 * long as fewer claims of one tenant are in flight at once across the cluster (a node has at most a
 * third of its pool in such claims: 3 at the default pool of 10, so up to 21 nodes).
 */
const QUOTA_MARGIN = 64;

const list = (xs: readonly string[]): string => xs.map((x) => `'${x}'`).join(",");
const CLAIMABLE_SQL = list(CLAIMABLE);
const UNFINISHED_SQL = list(UNFINISHED);


/** BIGINT (int8) as a JS number: every value we store (times, pks, counters) is a safe integer */
const TYPES = {
  getTypeParser: ((oid: number, format?: string) => (oid === 20 ? (v: string) => Number(v) : pg.types.getTypeParser(oid, format as "text"))) as typeof pg.types.getTypeParser,
};

/** PostgreSQL's "no room" and "not reachable" errors, as the engine's codes (the rest stay as they are) */
function storageError(e: unknown): unknown {
  if (e instanceof WeftError) return e;
  const x = e as { code?: string; message?: string };
  if (x?.code === "53100") {
    return new WeftError(ErrorCode.StorageFull, `the store could not write: PostgreSQL's disk is full (${x.message}); nothing was changed — free space and retry`, { reason: "full" });
  }
  if (/^(08|57P0)/.test(x?.code ?? "") || /^(ECONNREFUSED|ECONNRESET|EPIPE|ETIMEDOUT|ENOTFOUND)$/.test(x?.code ?? "") || /Connection terminated|connection timeout|is not queryable/i.test(x?.message ?? "")) {
    return new WeftError(ErrorCode.StorageUnavailable, `the store is not reachable: ${x.message ?? x.code}; nothing was changed — the write is retried when PostgreSQL is back`, { reason: x.code ?? "connection" });
  }
  return e;
}

export interface PostgresOptions {
  /** postgres://… (WEFT_POSTGRES_URL) */
  url: string;
  /** the schema Weft's tables live in (default "weft"; made if missing) */
  schema?: string;
  /** connections in this node's pool (default 10) */
  poolSize?: number;
}

export class PostgresStore implements Store {
  readonly kind = "postgres" as const;
  private readonly pool: pg.Pool;
  readonly schema: string;
  private closed = false;
  /**
   * This node's writes of one instance go in the order they were made, as on the embedded store (a
   * run's writes in flight at once — a status, then the next — must not overtake each other on
   * two pool connections); writes of different instances run in parallel.
   */
  private readonly chains = new Map<number, Promise<unknown>>();
  private logChain: Promise<unknown> = Promise.resolve();
  /** the change feed: one LISTEN connection per node, opened by the first watch() */
  private readonly channel: string;
  /** claims with limits in flight (see claim()) */
  private readonly claimGate: Gate;
  /** names this store object in its notifications: its own are not reported back to it */
  private readonly origin: string;
  private readonly url: string;
  private listener?: pg.Client;
  private readonly watchers = new Set<(pk: number, runnable: boolean) => void>();
  private readonly gapWatchers = new Set<() => void>();
  /** the LISTEN loop runs (opened by the first watch(), reopened whenever its connection is lost) */
  private feedOpen = false;
  /** notifications may have been missed since the LISTEN connection was last up: onGap watchers are told once it is back */
  private feedCut = false;
  private listenRetry?: ReturnType<typeof setTimeout>;
  private listenDelayMs = 100;

  private constructor(pool: pg.Pool, schema: string, url: string, poolSize: number) {
    this.pool = pool;
    this.claimGate = new Gate(Math.max(1, Math.floor(poolSize / 3)));
    this.schema = schema;
    this.url = url;
    this.channel = `weft_${schema}`;
    this.origin = randomBytes(6).toString("base64url");
  }

  /** Connect, make the schema if needed and apply the migrations it lacks. */
  static async open(o: PostgresOptions): Promise<PostgresStore> {
    const schema = o.schema ?? "weft";
    if (!/^[a-z_][a-z0-9_]{0,62}$/.test(schema)) throw new WeftError(ErrorCode.InvalidArgument, `postgres schema must be a lower-case SQL name (a-z, 0-9, _), got ${JSON.stringify(schema)}`, { schema });
    const pool = new pg.Pool({ connectionString: o.url, max: o.poolSize ?? 10, options: `-c search_path=${schema}`, types: TYPES });
    pool.on("error", () => undefined); // an idle connection that dies is replaced; the next query reports it
    // a connection that dies while checked out (a transaction between two statements) emits "error"
    // on its client, which the pool listens to only while it is idle: unheard, it would crash the
    // process. Its statement in flight, or the next one, fails instead (storage_unavailable), and the
    // transaction's release drops it.
    pool.on("connect", (client) => void client.on("error", () => undefined));
    try {
      const c = await pool.connect();
      try {
        await c.query(`CREATE SCHEMA IF NOT EXISTS ${schema}`);
        await migrate(c);
      } finally {
        c.release();
      }
    } catch (e) {
      await pool.end();
      throw storageError(e);
    }
    return new PostgresStore(pool, schema, o.url, o.poolSize ?? 10);
  }

  private async q(sql: string, args: unknown[] = [], db: Db = this.pool): Promise<Row[]> {
    if (this.closed) throw new WeftError(ErrorCode.InvalidState, "the store is closed");
    try {
      return (await db.query(sql, args)).rows as Row[];
    } catch (e) {
      throw storageError(e);
    }
  }

  private async one(sql: string, args: unknown[] = [], db: Db = this.pool): Promise<Row | undefined> {
    return (await this.q(sql, args, db))[0];
  }

  /** run `fn` after this node's earlier writes of instance `pk` */
  private serial<T>(pk: number, fn: () => Promise<T>): Promise<T> {
    const prev = this.chains.get(pk) ?? Promise.resolve();
    const p = prev.then(fn, fn);
    const tail = p.catch(() => undefined);
    this.chains.set(pk, tail);
    void tail.then(() => this.chains.get(pk) === tail && this.chains.delete(pk));
    return p;
  }

  /** tell every node's change feed, when this transaction commits, that instance pk changed */
  private async changed(c: Db, pk: number, runnable = false): Promise<void> {
    await c.query(`SELECT pg_notify($1, $2)`, [this.channel, `${pk}:${runnable ? "r" : ""}:${this.origin}`]);
  }

  /**
   * One transaction on one connection; any error rolls it back whole. A deadlock or serialization
   * failure (PostgreSQL chose this transaction as the victim: nothing of it was applied) is tried
   * again, a few times, after a short random pause.
   */
  private async tx<T>(fn: (c: pg.PoolClient) => Promise<T>): Promise<T> {
    for (let attempt = 1; ; attempt++) {
      try {
        return await this.txOnce(fn);
      } catch (e) {
        if (!TRANSIENT.has((e as { code?: string })?.code ?? "") || attempt >= 5) throw e;
        await new Promise((r) => setTimeout(r, Math.random() * 20 * attempt));
      }
    }
  }

  private async txOnce<T>(fn: (c: pg.PoolClient) => Promise<T>): Promise<T> {
    if (this.closed) throw new WeftError(ErrorCode.InvalidState, "the store is closed");
    let c: pg.PoolClient;
    try {
      c = await this.pool.connect();
    } catch (e) {
      throw storageError(e);
    }
    let broken = false;
    let committing = false;
    try {
      await c.query("BEGIN");
      const r = await fn(c);
      committing = true;
      await c.query("COMMIT");
      return r;
    } catch (e) {
      try {
        await c.query("ROLLBACK");
      } catch {
        broken = true;
      }
      const err = storageError(e);
      // the connection was lost with the COMMIT on its way: PostgreSQL may have committed it before
      // it went. Said as it is; the engine retries from what the store holds either way.
      if (committing && (err as WeftError)?.code === ErrorCode.StorageUnavailable) {
        throw new WeftError(ErrorCode.StorageUnavailable, `the store was lost during a commit (${(e as Error)?.message}): the write may or may not have been applied — read it back once PostgreSQL is back before repeating it`, { reason: "commit", outcome: "unknown" });
      }
      throw err;
    } finally {
      c.release(broken);
    }
  }

  // ---- versions ------------------------------------------------------------------------------
  async putVersion(v: VersionRecord): Promise<void> {
    await this.tx(async (c) => {
      await this.q(`INSERT INTO versions (tenant, workflow, version, class_name, bundle, code, config, created_at) VALUES ($1,$2,$3,$4,$5,$6,$7,$8)
                    ON CONFLICT (tenant, workflow, version) DO NOTHING`, [v.tenant, v.workflow, v.version, v.className, v.bundle, JSON.stringify(v.code), JSON.stringify(v.config), v.createdAt], c);
      await this.q(`INSERT INTO workflows (tenant, workflow, latest_version, updated_at) VALUES ($1,$2,$3,$4)
                    ON CONFLICT (tenant, workflow) DO UPDATE SET latest_version = excluded.latest_version, updated_at = excluded.updated_at`, [v.tenant, v.workflow, v.version, v.createdAt], c);
    });
  }


  async getVersion(tenant: string, workflow: string, version: string): Promise<VersionRecord | undefined> {
    return versionRow(await this.one(`SELECT * FROM versions WHERE tenant=$1 AND workflow=$2 AND version=$3`, [tenant, workflow, version]));
  }

  async latestVersion(tenant: string, workflow: string): Promise<VersionRecord | undefined> {
    return versionRow(await this.one(`SELECT v.* FROM workflows w JOIN versions v ON v.tenant = w.tenant AND v.workflow = w.workflow AND v.version = w.latest_version
                                        WHERE w.tenant=$1 AND w.workflow=$2`, [tenant, workflow]));
  }

  async latestVersionId(tenant: string, workflow: string): Promise<string | undefined> {
    return ((await this.one(`SELECT latest_version FROM workflows WHERE tenant=$1 AND workflow=$2`, [tenant, workflow]))?.latest_version as string | undefined) ?? undefined;
  }

  async listVersions(tenant: string, workflow: string): Promise<{ version: string; createdAt: number }[]> {
    return (await this.q(`SELECT version, created_at FROM versions WHERE tenant=$1 AND workflow=$2 ORDER BY created_at DESC`, [tenant, workflow])).map((r) => ({
      version: r.version as string, createdAt: r.created_at as number,
    }));
  }

  async listWorkflows(tenant: string): Promise<{ workflow: string; latestVersion: string; updatedAt: number }[]> {
    return (await this.q(`SELECT workflow, latest_version, updated_at FROM workflows WHERE tenant = $1 ORDER BY workflow`, [tenant])).map((r) => ({
      workflow: r.workflow as string, latestVersion: r.latest_version as string, updatedAt: r.updated_at as number,
    }));
  }

  async deleteWorkflow(tenant: string, workflow: string): Promise<number[]> {
    return this.tx(async (c) => {
      const pks = (await this.q(`SELECT pk FROM instances WHERE tenant = $1 AND workflow = $2`, [tenant, workflow], c)).map((r) => r.pk as number);
      await this.q(`DELETE FROM versions WHERE tenant = $1 AND workflow = $2`, [tenant, workflow], c);
      await this.q(`DELETE FROM workflows WHERE tenant = $1 AND workflow = $2`, [tenant, workflow], c);
      return pks;
    });
  }

  // ---- instances -----------------------------------------------------------------------------
  private instance(r: Row | undefined): InstanceRecord | undefined {
    if (!r) return undefined;
    const raw = r.params;
    let decoded = false;
    let value: unknown;
    const rec: InstanceRecord = {
      pk: r.pk as number, tenant: r.tenant as string, workflow: r.workflow as string, id: r.id as string, version: r.version as string,
      status: r.status as InstanceStatus, params: undefined, metadata: (r.metadata as Record<string, string>) ?? {}, trigger: r.trigger as string,
      createdAt: r.created_at as number, startedAt: num(r.started_at), endedAt: num(r.ended_at),
      modifiedAt: r.modified_at as number, output: dec(r.output), error: unjson<ErrorInfo>(r.error) ?? null,
      wakeAt: num(r.wake_at), readyAt: num(r.ready_at), epoch: r.epoch as number,
      fsHead: (r.fs_head as string) ?? null, fsFiles: (r.fs_files as number) ?? 0, sqlSeq: (r.sql_seq as number) ?? 0, sqlBy: (r.sql_by as number) ?? 0,
    };
    // decoded when first read (as the embedded store does): a claim of many instances decodes none
    Object.defineProperty(rec, "params", {
      enumerable: true, configurable: true,
      get: () => (decoded ? value : ((decoded = true), (value = dec(raw)))),
      set: (v: unknown) => ((decoded = true), (value = v)),
    });
    return rec;
  }

  async createInstances(rows: NewInstance[], objects?: { tenant: string; objects: StoredObject[] }): Promise<InstanceRecord[]> {
    return this.tx(async (c) => {
      if (objects) await this.insertObjects(objects.tenant, objects.objects, c);
      const out: InstanceRecord[] = [];
      for (const n of rows) {
        // a wake-up in the same transaction as its cause: a new instance is due at once
        const r = await this.one(`INSERT INTO instances (tenant, workflow, id, version, status, params, metadata, trigger, created_at, modified_at, epoch, fs_head, fs_files, ready_at)
                                  VALUES ($1,$2,$3,$4,'queued',$5,$6,$7,$8,$8,0,$9,$10,$8) ON CONFLICT DO NOTHING RETURNING pk`,
          [n.tenant, n.workflow, n.id, n.version, n.encodedParams ? Buffer.from(n.encodedParams.buffer, n.encodedParams.byteOffset, n.encodedParams.byteLength) : enc(n.params), JSON.stringify(n.metadata), n.trigger, n.createdAt, n.fsHead ?? null, n.fsFiles ?? 0], c);
        if (!r) {
          throw new WeftError(ErrorCode.AlreadyExists, `instance "${n.id}" already exists in workflow ${n.workflow}; instance ids are unique and never reused`, {
            instanceId: n.id, workflow: n.workflow,
          });
        }
        await this.histMany(c, r.pk as number, [{ type: "workflow_queued", at: n.createdAt }]);
        await this.changed(c, r.pk as number, true);
        const { encodedParams: _e, ...rest } = n;
        out.push({
          pk: r.pk as number, ...rest, status: "queued", startedAt: null, endedAt: null, modifiedAt: n.createdAt, output: undefined, error: null, wakeAt: null, readyAt: n.createdAt, epoch: 0,
          fsHead: n.fsHead ?? null, fsFiles: n.fsFiles ?? 0, sqlSeq: 0, sqlBy: 0,
        });
      }
      return out;
    });
  }

  async getInstance(tenant: string, workflow: string, id: string): Promise<InstanceRecord | undefined> {
    return this.instance(await this.one(`SELECT * FROM instances WHERE tenant=$1 AND workflow=$2 AND id=$3`, [tenant, workflow, id]));
  }

  async getInstanceByPk(pk: number): Promise<InstanceRecord | undefined> {
    return this.instance(await this.one(`SELECT * FROM instances WHERE pk=$1`, [pk]));
  }

  async listInstances(f: ListFilter): Promise<InstanceRecord[]> {
    const args: unknown[] = [f.tenant];
    const p = (v: unknown): string => (args.push(v), `$${args.length}`);
    const where = ["tenant = $1"];
    if (f.workflow) where.push(`workflow = ${p(f.workflow)}`);
    if (f.status) where.push(`status = ${p(f.status)}`);
    if (f.createdAfter !== undefined) where.push(`created_at >= ${p(f.createdAfter)}`);
    if (f.createdBefore !== undefined) where.push(`created_at < ${p(f.createdBefore)}`);
    for (const [k, v] of Object.entries(f.metadata ?? {})) where.push(`metadata ->> ${p(k)} = ${p(v)}`);
    if (f.idPrefix) where.push(`starts_with(id, ${p(f.idPrefix)})`);
    if (f.cursor !== undefined) where.push(f.direction === "asc" ? `pk > ${p(f.cursor)}` : `pk < ${p(f.cursor)}`);
    return (await this.q(`SELECT * FROM instances WHERE ${where.join(" AND ")} ORDER BY pk ${f.direction === "asc" ? "ASC" : "DESC"} LIMIT ${p(f.limit)}`, args)).map((r) => this.instance(r)!);
  }

  async deleteInstance(pk: number): Promise<void> {
    await this.serial(pk, () => this.tx(async (c) => {
      // the row lock first: a run's write in flight finishes before, or finds the instance gone
      await this.q(`SELECT 1 FROM instances WHERE pk = $1 FOR UPDATE`, [pk], c);
      for (const t of ["steps", "attempts", "events", "logs", "history", "sql_pages"]) await this.q(`DELETE FROM ${t} WHERE instance = $1`, [pk], c);
      await this.q(`DELETE FROM instances WHERE pk = $1`, [pk], c);
      await this.changed(c, pk);
    }));
  }

  /** history numbers after the instance's last; the caller holds the instance's row lock */
  private async histMany(c: Db, pk: number, entries: { type: HistoryType; at: number; data?: unknown }[]): Promise<void> {
    await this.q(`INSERT INTO history (instance, seq, type, at, data)
                  SELECT $1::bigint, m.s + x.ord, x.type, x.at, x.data FROM (SELECT COALESCE(MAX(seq), 0) AS s FROM history WHERE instance = $1) m,
                  unnest($2::text[], $3::bigint[], $4::text[]) WITH ORDINALITY AS x(type, at, data, ord)`,
    [pk, entries.map((e) => e.type), entries.map((e) => e.at), entries.map((e) => json(e.data))], c);
  }

  // ---- the run queue -------------------------------------------------------------------------
  async due(now: number, leaseNow: number, limit: number): Promise<DueInstance[]> {
    return (await this.q(`SELECT pk, tenant, workflow, version, ready_at, started_at FROM instances
                          WHERE ready_at IS NOT NULL AND ready_at <= $1 AND (claim_owner IS NULL OR claim_until <= $2) AND status IN (${UNFINISHED_SQL})
                          ORDER BY ready_at, pk LIMIT $3`, [now, leaseNow, limit])).map((r) => ({
      pk: r.pk as number, tenant: r.tenant as string, workflow: r.workflow as string, version: r.version as string, readyAt: r.ready_at as number, fresh: r.started_at === null,
    }));
  }

  async nextReadyAt(after: number, leaseNow: number): Promise<number | null> {
    const r = await this.one(`SELECT MIN(ready_at) AS t FROM instances WHERE ready_at > $1 AND (claim_owner IS NULL OR claim_until <= $2)`, [after, leaseNow]);
    return num(r?.t);
  }

  /**
   * Do the live claims of the instance's tenant or workflow (other than its own) reach the claim's
   * limits? Counted under a lock on the tenant's quota (taken after the row locks, held to commit):
   * two nodes claiming for one tenant at once count one after the other, never both under the cap.
   */
  private async atLimit(c: pg.PoolClient, pk: number, cl: Claim): Promise<boolean> {
    const { tenant, workflow } = (await this.one(`SELECT tenant, workflow FROM instances WHERE pk = $1`, [pk], c))!;
    const count = async () => (await this.one(`SELECT COUNT(*) AS t, COUNT(*) FILTER (WHERE workflow = $1) AS w FROM instances
                               WHERE tenant = $2 AND claim_owner IS NOT NULL AND claim_until > $3 AND pk <> $4`, [workflow, tenant, cl.leaseNow, pk], c))!;
    let r = await count();
    // Far below both caps, claims made at once cannot reach them together: no lock (a lock on every
    // claim serialized all of a tenant's claims through one commit at a time). Near a cap, count again
    // under the tenant's lock.
    const room = Math.min(cl.limits!.tenant - Number(r.t), cl.limits!.workflow - Number(r.w));
    if (room > QUOTA_MARGIN) return false;
    await this.q(`SELECT pg_advisory_xact_lock(${QUOTA_LOCK}, hashtext($1))`, [`${this.schema}/${tenant as string}`], c);
    r = await count();
    return Number(r.t) >= cl.limits!.tenant || Number(r.w) >= cl.limits!.workflow;
  }

  /** claim one instance whose row this transaction has locked (or locks now) */
  private async claimOne(c: pg.PoolClient, pk: number, cl: Claim): Promise<Claimed | "full" | undefined> {
    const r = await this.one(`SELECT status, ready_at, claim_owner, claim_until FROM instances WHERE pk = $1 FOR UPDATE`, [pk], c);
    if (!r || r.ready_at === null || (r.ready_at as number) > cl.now) return undefined;
    if (r.claim_owner !== null && r.claim_owner !== cl.node && (r.claim_until as number) > cl.leaseNow) return undefined;
    const status = r.status as InstanceStatus;
    const settled = CLAIM_SETTLES[status];
    if (settled) {
      // its run is gone: what it was waiting for (the end of the attempts in flight) is over
      await this.q(`UPDATE instances SET status = $1, ready_at = NULL, claim_owner = NULL, claim_until = NULL, epoch = epoch + 1, modified_at = $2 WHERE pk = $3`, [settled, cl.now, pk], c);
      await this.histMany(c, pk, [{ type: "workflow_paused", at: cl.now }]);
      await this.changed(c, pk);
      return undefined;
    }
    if (!isClaimable(status)) return undefined;
    if (cl.limits && (await this.atLimit(c, pk, cl))) return "full";
    const row = (await this.one(`UPDATE instances SET epoch = epoch + 1, status = 'running', claim_owner = $1, claim_until = $2, started_at = COALESCE(started_at, $3), modified_at = $3
                                 WHERE pk = $4 RETURNING *`, [cl.node, cl.leaseUntil, cl.now, pk], c))!;
    await this.histMany(c, pk, [{ type: "workflow_running", at: cl.now, data: { node: cl.node, epoch: row.epoch } }]);
    await this.changed(c, pk);
    return { inst: this.instance(row)!, epoch: row.epoch as number, wakes: row.wakes as number };
  }

  async claim(pk: number, c: Claim): Promise<Claimed | "full" | undefined> {
    // Claims with limits wait for each other on the tenant's quota lock: at most a third of the pool
    // may be in such a claim at once, so a burst of them never takes every connection from the
    // requests this node serves (a batch create waited over 10 s behind 3 nodes' claims).
    if (!c.limits) return this.serial(pk, () => this.tx((t) => this.claimOne(t, pk, c)));
    await this.claimGate.take();
    try {
      return await this.serial(pk, () => this.tx((t) => this.claimOne(t, pk, c)));
    } finally {
      this.claimGate.give();
    }
  }

  async claimDue(c: Claim, limit: number): Promise<Claimed[]> {
    return this.tx(async (t) => {
      // rows another node is claiming right now are skipped, not waited for
      const due = await this.q(`SELECT pk FROM instances WHERE ready_at IS NOT NULL AND ready_at <= $1 AND (claim_owner IS NULL OR claim_owner = $2 OR claim_until <= $3)
                                AND status IN (${UNFINISHED_SQL}) ORDER BY ready_at, pk LIMIT $4 FOR UPDATE SKIP LOCKED`, [c.now, c.node, c.leaseNow, limit], t);
      if (c.limits && due.length > 0) {
        // the tenants' quota locks in one order (name), before any count: two batches never wait on each other in a cycle
        const tenants = await this.q(`SELECT DISTINCT tenant FROM instances WHERE pk = ANY($1::bigint[]) ORDER BY tenant`, [due.map((d) => d.pk)], t);
        for (const r of tenants) await this.q(`SELECT pg_advisory_xact_lock(${QUOTA_LOCK}, hashtext($1))`, [`${this.schema}/${r.tenant as string}`], t);
      }
      const out: Claimed[] = [];
      for (const d of due) {
        const got = await this.claimOne(t, d.pk as number, c);
        if (got && got !== "full") out.push(got);
      }
      return out;
    });
  }

  async extendClaims(node: string, pks: number[], leaseUntil: number): Promise<number[]> {
    if (pks.length === 0) return [];
    // rows locked in pk order (as every multi-row write here): two nodes' writes never wait on each other in a cycle
    return this.tx(async (c) => (await this.q(`UPDATE instances SET claim_until = $1 WHERE pk IN (SELECT pk FROM instances WHERE claim_owner = $2 AND pk = ANY($3::bigint[]) ORDER BY pk FOR UPDATE)
                                               RETURNING pk`, [leaseUntil, node, pks], c)).map((r) => r.pk as number));
  }

  /** the fence and the row lock in one statement: refused (LeaseLost) unless `epoch` still owns the instance */
  private async fenced(c: pg.PoolClient, pk: number, epoch: number): Promise<Row> {
    const r = await this.one(`SELECT epoch, sql_seq FROM instances WHERE pk = $1 AND epoch = $2 FOR UPDATE`, [pk, epoch], c);
    if (!r) {
      const now = await this.one(`SELECT epoch FROM instances WHERE pk = $1`, [pk], c);
      throw new WeftError(ErrorCode.LeaseLost, `instance ${pk}: this run (epoch ${epoch}) no longer owns the instance (now ${now ? String(now.epoch) : "deleted"}); its write was refused`, { pk, epoch });
    }
    return r;
  }

  async release(pk: number, epoch: number, rel: Release, ops: JournalOp[]): Promise<{ readyAt: number | null }> {
    return this.serial(pk, () => this.tx(async (c) => {
      const cur = await this.fenced(c, pk, epoch);
      const done = await this.applyOps(c, pk, ops, cur, rel, true);
      if (done) return done; // (the other nodes were told in its statement)
      const r = (await this.one(`UPDATE instances SET ready_at = CASE WHEN status IN (${CLAIMABLE_SQL}) AND wakes > $1 THEN $2 WHEN status IN (${CLAIMABLE_SQL}) THEN $3::bigint ELSE NULL END,
                                 claim_owner = NULL, claim_until = NULL WHERE pk = $4 RETURNING ready_at`, [rel.seenWakes, rel.now, rel.readyAt, pk], c))!;
      const readyAt = num(r.ready_at);
      await this.changed(c, pk, readyAt !== null && readyAt <= rel.now);
      return { readyAt };
    }));
  }

  async releaseClaims(node: string): Promise<number> {
    return this.tx(async (c) => {
      const pks = (await this.q(`UPDATE instances SET claim_owner = NULL, claim_until = NULL WHERE pk IN (SELECT pk FROM instances WHERE claim_owner = $1 ORDER BY pk FOR UPDATE)
                                 RETURNING pk`, [node], c)).map((r) => r.pk as number);
      for (const pk of pks) await this.changed(c, pk, true); // the other nodes take them at once
      return pks.length;
    });
  }

  async voidClaims(): Promise<number> {
    return (await this.q(`UPDATE instances SET claim_owner = NULL, claim_until = NULL WHERE claim_owner IS NOT NULL RETURNING pk`)).length;
  }

  async fence(pk: number, ops: JournalOp[], readyAt?: number | null): Promise<number> {
    return this.serial(pk, () => this.tx(async (c) => {
      const r = await this.one(`UPDATE instances SET epoch = epoch + 1, claim_owner = NULL, claim_until = NULL WHERE pk = $1 RETURNING epoch, sql_seq`, [pk], c);
      if (!r) throw new WeftError(ErrorCode.NotFound, `instance ${pk} no longer exists`, { pk });
      await this.applyOps(c, pk, ops, r);
      if (readyAt !== undefined) await this.q(`UPDATE instances SET ready_at = $1 WHERE pk = $2`, [readyAt, pk], c);
      await this.changed(c, pk, readyAt !== undefined && readyAt !== null);
      return r.epoch as number;
    }));
  }

  /** the instance's row, locked for this transaction; NotFound when it was deleted */
  private async current(c: pg.PoolClient, pk: number): Promise<Row> {
    const r = await this.one(`SELECT id, status, claim_owner, claim_until FROM instances WHERE pk = $1 FOR UPDATE`, [pk], c);
    if (!r) throw new WeftError(ErrorCode.NotFound, `instance ${pk} does not exist (it was deleted)`, { pk });
    return r;
  }

  async pause(pk: number, now: number, leaseNow: number): Promise<"pausing" | "paused"> {
    return this.serial(pk, () => this.tx(async (c) => {
      const r = await this.current(c, pk);
      checkAction("pause", r.status as InstanceStatus, r.id as string);
      if (r.status === "running" && r.claim_owner !== null && (r.claim_until as number) > leaseNow) {
        await this.q(`UPDATE instances SET status = 'waitingForPause', modified_at = $1 WHERE pk = $2`, [now, pk], c);
        await this.histMany(c, pk, [{ type: "workflow_waiting_for_pause", at: now }]);
        await this.changed(c, pk);
        return "pausing";
      }
      await this.q(`UPDATE instances SET status = 'paused', ready_at = NULL, claim_owner = NULL, claim_until = NULL, epoch = epoch + 1, modified_at = $1 WHERE pk = $2`, [now, pk], c);
      await this.histMany(c, pk, [{ type: "workflow_paused", at: now }]);
      await this.changed(c, pk);
      return "paused";
    }));
  }

  async resume(pk: number, now: number): Promise<"unpaused" | "queued"> {
    return this.serial(pk, () => this.tx(async (c) => {
      const r = await this.current(c, pk);
      checkAction("resume", r.status as InstanceStatus, r.id as string);
      await this.histMany(c, pk, [{ type: "workflow_resumed", at: now }]);
      if (r.status === "waitingForPause") {
        // the run that was pausing goes on (it never stopped): its attempts in flight still commit
        await this.q(`UPDATE instances SET status = 'running', modified_at = $1 WHERE pk = $2`, [now, pk], c);
        await this.changed(c, pk);
        return "unpaused";
      }
      await this.q(`UPDATE instances SET status = 'queued', ready_at = $1, wakes = wakes + 1, epoch = epoch + 1, claim_owner = NULL, claim_until = NULL, modified_at = $1 WHERE pk = $2`, [now, pk], c);
      await this.changed(c, pk, true);
      return "queued";
    }));
  }

  async restart(pk: number, fromSeq: number | undefined, now: number, data: unknown): Promise<void> {
    await this.serial(pk, () => this.tx(async (c) => {
      await this.current(c, pk);
      const cut = (await this.q(`SELECT key, seq, kind FROM steps WHERE instance = $1`, [pk], c))
        .filter((s) => cutByRestart({ seq: s.seq as number, kind: s.kind as StepRecord["kind"] }, fromSeq)).map((s) => s.key as string);
      if (cut.length > 0) {
        await this.q(`DELETE FROM attempts WHERE instance = $1 AND key = ANY($2::text[])`, [pk, cut], c);
        await this.q(`DELETE FROM steps WHERE instance = $1 AND key = ANY($2::text[])`, [pk, cut], c);
      }
      await this.q(`UPDATE instances SET status = 'queued', ended_at = NULL, wake_at = NULL, error = NULL, output = NULL, ready_at = $1, wakes = wakes + 1,
                    epoch = epoch + 1, claim_owner = NULL, claim_until = NULL, modified_at = $1 WHERE pk = $2`, [now, pk], c);
      await this.histMany(c, pk, [{ type: "workflow_restarted", at: now, data }]);
      await this.changed(c, pk, true);
    }));
  }

  /**
   * The ops of one write (the instance's row is locked: `cur`) in one statement (ops.ts); with `rel`,
   * the status op also releases the claim and — `notify` — tells the other nodes in that statement.
   */
  private async applyOps(c: pg.PoolClient, pk: number, ops: JournalOp[], cur: Row, rel?: Release, notify = false): Promise<{ readyAt: number | null } | undefined> {
    const sql = ops.find((o): o is Extract<JournalOp, { op: "sql" }> => o.op === "sql");
    if (sql) checkSqlSeq(cur.sql_seq as number, sql.seq);
    let released: { readyAt: number | null } | undefined;
    for (const part of splitOps(ops)) {
      const st = opsStatement(pk, part, rel, notify ? { channel: this.channel, origin: this.origin } : undefined);
      for (const o of st.objects) await this.insertObjects(o.tenant, o.objects, c);
      if (st.text === "") continue;
      const r = await this.one(st.text, st.args, c);
      if (st.releases) released = { readyAt: num(r?.ready_at) };
    }
    return released;
  }

  async journal(pk: number, epoch: number, ops: JournalOp[]): Promise<JournalResult> {
    return this.serial(pk, () => this.tx(async (c) => {
      // no notification: see ChangeFeedPort.watch (a wait that took a buffered event is the run's own news)
      const cur = await this.fenced(c, pk, epoch);
      await this.applyOps(c, pk, ops, cur);
      // a wait journaled now takes an event buffered before it, in this same transaction
      const waits = ops.some((o) => o.op === "step" && o.kind === "wait" && o.state === "pending");
      const delivered = waits ? await this.match(c, pk, ops.find((o) => o.op === "history")?.at ?? Date.now()) : [];
      return { delivered };
    }));
  }

  async sqlImage(pk: number, fromPgno: number, limit: number): Promise<SqlImagePart> {
    return this.tx(async (c) => {
      // one snapshot for the instance row and its pages
      await c.query("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ");
      const r = await this.one(`SELECT sql_seq, sql_pages, sql_page_size FROM instances WHERE pk = $1`, [pk], c);
      if (!r) return { seq: 0, pageSize: 0, nPages: 0, pages: [] };
      const pages = (await this.q(`SELECT pgno, data FROM sql_pages WHERE instance = $1 AND pgno >= $2 ORDER BY pgno LIMIT $3`, [pk, fromPgno, limit], c))
        .map((p) => ({ pgno: p.pgno as number, data: p.data as Uint8Array }));
      return { seq: r.sql_seq as number, pageSize: (r.sql_page_size as number) ?? 0, nPages: r.sql_pages as number, pages };
    });
  }

  async stepsAndAttempts(pk: number): Promise<{ steps: StepRecord[]; attempts: AttemptRecord[] }> {
    return this.tx(async (c) => {
      await c.query("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ");
      return { steps: await this.steps(pk, c), attempts: await this.attempts(pk, c) };
    });
  }

  async steps(pk: number, db: Db = this.pool): Promise<StepRecord[]> {
    return (await this.q(`SELECT * FROM steps WHERE instance = $1 ORDER BY seq, key`, [pk], db)).map(stepRow);
  }

  async attempts(pk: number, db: Db = this.pool): Promise<AttemptRecord[]> {
    return (await this.q(`SELECT * FROM attempts WHERE instance = $1 ORDER BY key, attempt`, [pk], db)).map((r) => ({
      key: r.key as string, attempt: r.attempt as number, startedAt: r.started_at as number, endedAt: num(r.ended_at),
      success: (r.success as boolean | null) ?? null, error: unjson<ErrorInfo>(r.error) ?? null,
    }));
  }

  // ---- events --------------------------------------------------------------------------------
  /** match buffered events to pending waits (core/journal.ts matchEvents); the caller holds the row lock */
  private async match(c: pg.PoolClient, pk: number, at: number): Promise<DeliveredEvent[]> {
    const waits = (await this.q(`SELECT key, seq, event_type FROM steps WHERE instance = $1 AND kind = 'wait' AND state = 'pending'`, [pk], c))
      .map((w) => ({ key: w.key as string, seq: w.seq as number, eventType: w.event_type as string }));
    if (waits.length === 0) return [];
    const events = await this.q(`SELECT seq, type, payload, created_at FROM events WHERE instance = $1 AND consumed_by IS NULL`, [pk], c);
    if (events.length === 0) return [];
    const byId = new Map(events.map((e) => [e.seq as number, e]));
    const out: DeliveredEvent[] = [];
    for (const m of matchEvents(waits, events.map((e) => ({ id: e.seq as number, type: e.type as string })))) {
      const ev = byId.get(m.event)!;
      const value = { payload: dec(ev.payload), timestamp: ev.created_at as number, type: ev.type as string };
      await this.q(`UPDATE events SET consumed_by = $1 WHERE seq = $2`, [m.wait, m.event], c);
      await this.q(`UPDATE steps SET state = 'complete', value = $1, at = $2 WHERE instance = $3 AND key = $4`, [enc(value), at, pk, m.wait], c);
      await this.histMany(c, pk, [{ type: "wait_completed", at, data: { key: m.wait, type: ev.type } }]);
      out.push({ key: m.wait, value, at });
    }
    return out;
  }

  async addEvent(pk: number, type: string, payload: unknown, at: number, buffer?: EventBuffer): Promise<EventResult> {
    return this.serial(pk, () => this.tx(async (c) => {
      // existence and status under the row lock: an event for an instance deleted (or finished)
      // meanwhile is refused, never stored for whoever comes next
      const r = await this.current(c, pk);
      checkAction("sendEvent", r.status as InstanceStatus, r.id as string);
      const bytes = enc(payload);
      await this.q(`INSERT INTO events (instance, type, payload, created_at) VALUES ($1,$2,$3,$4)`, [pk, type, bytes, at], c);
      const delivered = await this.match(c, pk, at);
      if (buffer && delivered.length === 0) {
        // only an event no wait took fills the buffer: counted with it, checked without it
        const have = (await this.one(`SELECT COUNT(*) AS n, COALESCE(SUM(length(payload)), 0) AS b FROM events WHERE instance = $1 AND consumed_by IS NULL`, [pk], c))!;
        const full = eventBufferFull(r.id as string, { events: Number(have.n) - 1, bytes: Number(have.b) - (bytes?.byteLength ?? 0) }, bytes?.byteLength ?? 0, buffer);
        if (full) throw full; // (the transaction rolls back: nothing stored)
      }
      const w = (delivered.length === 0
        ? await this.one(`SELECT wakes FROM instances WHERE pk = $1`, [pk], c)
        : await this.one(`UPDATE instances SET ready_at = CASE WHEN status IN (${UNFINISHED_SQL}) AND (ready_at IS NULL OR ready_at > $1) THEN $1 ELSE ready_at END,
                          wakes = wakes + 1 WHERE pk = $2 RETURNING wakes`, [at, pk], c))!;
      // a delivery wakes the instance: the node that holds its run (or any node) goes on at once
      await this.changed(c, pk, delivered.length > 0);
      return { delivered, wakes: w.wakes as number };
    }));
  }

  // ---- git objects ---------------------------------------------------------------------------
  private async insertObjects(tenant: string, objects: StoredObject[], c: Db): Promise<void> {
    if (objects.length === 0) return;
    // in oid order: two transactions storing some of the same objects take their index entries in one order
    objects = [...objects].sort((a, b) => (a.oid < b.oid ? -1 : a.oid > b.oid ? 1 : 0));
    await this.q(`INSERT INTO git_objects (tenant, oid, type, data) SELECT $1, * FROM unnest($2::text[], $3::text[], $4::bytea[]) ON CONFLICT DO NOTHING`,
      [tenant, objects.map((o) => o.oid), objects.map((o) => o.type), objects.map((o) => Buffer.from(o.data.buffer, o.data.byteOffset, o.data.byteLength))], c);
  }

  async putObjects(tenant: string, objects: StoredObject[]): Promise<void> {
    if (objects.length > 0) await this.tx((c) => this.insertObjects(tenant, objects, c));
  }

  async readObject(tenant: string, oid: string): Promise<StoredObject | undefined> {
    const r = await this.one(`SELECT type, data FROM git_objects WHERE tenant = $1 AND oid = $2`, [tenant, oid]);
    return r ? { oid, type: r.type as StoredObject["type"], data: r.data as Uint8Array } : undefined;
  }

  // ---- tenants and tokens --------------------------------------------------------------------

  async createTenant(t: TenantRecord): Promise<void> {
    const r = await this.one(`INSERT INTO tenants (name, quotas, created_at) VALUES ($1,$2,$3) ON CONFLICT DO NOTHING RETURNING name`, [t.name, JSON.stringify(t.quotas), t.createdAt]);
    if (!r) throw new WeftError(ErrorCode.AlreadyExists, `tenant "${t.name}" already exists`, { tenant: t.name });
  }

  async getTenant(name: string): Promise<TenantRecord | undefined> {
    return tenantRow(await this.one(`SELECT * FROM tenants WHERE name = $1`, [name]));
  }

  async listTenants(): Promise<TenantRecord[]> {
    return (await this.q(`SELECT * FROM tenants ORDER BY name`)).map((r) => tenantRow(r)!);
  }

  async setTenantQuotas(name: string, quotas: Record<string, number>): Promise<TenantRecord | undefined> {
    return this.tx(async (c) => {
      await this.q(`DELETE FROM create_buckets WHERE tenant = $1`, [name], c);
      return tenantRow(await this.one(`UPDATE tenants SET quotas = $1 WHERE name = $2 RETURNING *`, [JSON.stringify(quotas), name], c));
    });
  }

  async drawCreations(tenant: string, n: number, now: number, rate: number, burst: number): Promise<Draw> {
    return this.tx(async (c) => {
      // a bucket lost in a crash of the database gives a tenant a few creations back: not worth an fsync per request
      await this.q(`SET LOCAL synchronous_commit = off`, [], c);
      await this.q(`INSERT INTO create_buckets (tenant, tokens, at) VALUES ($1, $2, $3) ON CONFLICT (tenant) DO NOTHING`, [tenant, burst, now], c);
      const r = (await this.one(`SELECT tokens, at FROM create_buckets WHERE tenant = $1 FOR UPDATE`, [tenant], c))!;
      const d = drawTokens({ tokens: r.tokens as number, at: r.at as number }, n, now, rate, burst);
      await this.q(`UPDATE create_buckets SET tokens = $1, at = $2 WHERE tenant = $3`, [d.bucket.tokens, d.bucket.at, tenant], c);
      return d;
    });
  }


  async putToken(t: TokenRecord): Promise<void> {
    await this.q(`INSERT INTO tokens (id, tenant, name, hash, created_at, revoked_at) VALUES ($1,$2,$3,$4,$5,$6)`, [t.id, t.tenant, t.name, t.hash, t.createdAt, t.revokedAt]);
  }

  async tokenByHash(hash: string): Promise<TokenRecord | undefined> {
    return tokenRow(await this.one(`SELECT * FROM tokens WHERE hash = $1`, [hash]));
  }

  async listTokens(tenant: string | null): Promise<TokenRecord[]> {
    const rows = tenant === null ? await this.q(`SELECT * FROM tokens WHERE tenant IS NULL ORDER BY created_at`) : await this.q(`SELECT * FROM tokens WHERE tenant = $1 ORDER BY created_at`, [tenant]);
    return rows.map((r) => tokenRow(r)!);
  }

  async revokeToken(tenant: string | null, id: string, at: number): Promise<boolean> {
    return (await this.q(`UPDATE tokens SET revoked_at = $1 WHERE id = $2 AND tenant IS NOT DISTINCT FROM $3 AND revoked_at IS NULL RETURNING id`, [at, id, tenant])).length > 0;
  }

  // ---- logs and history ----------------------------------------------------------------------
  async appendLogs(lines: LogLine[]): Promise<void> {
    if (lines.length === 0) return;
    // one flush at a time: a node's lines keep their order; a line of an instance deleted meanwhile
    // is dropped, never kept for whoever comes next
    const run = () => this.q(`INSERT INTO logs (instance, at, level, message)
                  SELECT l.instance, l.at, l.level, l.message FROM unnest($1::bigint[], $2::bigint[], $3::text[], $4::text[]) WITH ORDINALITY AS l(instance, at, level, message, n)
                  WHERE EXISTS (SELECT 1 FROM instances i WHERE i.pk = l.instance) ORDER BY l.n`,
      [lines.map((l) => l.instance), lines.map((l) => l.at), lines.map((l) => l.level), lines.map((l) => l.message)]);
    const p = this.logChain.then(run, run);
    this.logChain = p.catch(() => undefined);
    await p;
  }

  async logs(pk: number, after: number, limit: number): Promise<(LogLine & { seq: number })[]> {
    return (await this.q(`SELECT seq, instance, at, level, message FROM logs WHERE instance = $1 AND seq > $2 ORDER BY seq LIMIT $3`, [pk, after, limit])).map((r) => ({
      seq: r.seq as number, instance: r.instance as number, at: r.at as number, level: r.level as string, message: r.message as string,
    }));
  }

  async history(pk: number, after: number): Promise<HistoryEvent[]> {
    return (await this.q(`SELECT seq, type, at, data FROM history WHERE instance = $1 AND seq > $2 ORDER BY seq`, [pk, after])).map((r) => ({
      eventId: r.seq as number, type: r.type as string, at: r.at as number, data: unjson(r.data),
    }));
  }

  async activity(q: ActivityQuery): Promise<ActivityBucket[]> {
    const wf = q.workflow !== undefined ? " AND workflow = $6" : "";
    const args = [q.from, q.bucketMs, q.tenant, q.from, q.to, ...(q.workflow !== undefined ? [q.workflow] : [])];
    return activityBuckets(q,
      await this.q(`SELECT ((created_at - $1) / $2)::int AS b, COUNT(*)::int AS n FROM instances WHERE tenant = $3${wf} AND created_at >= $4 AND created_at < $5 GROUP BY b`, args),
      await this.q(`SELECT ((ended_at - $1) / $2)::int AS b, status, COUNT(*)::int AS n FROM instances WHERE tenant = $3${wf} AND ended_at IS NOT NULL AND ended_at >= $4 AND ended_at < $5 GROUP BY b, status`, args));
  }

  async countByStatus(tenant?: string, workflow?: string): Promise<Record<string, number>> {
    const rows = workflow !== undefined && tenant !== undefined
      ? await this.q(`SELECT status, COUNT(*)::int AS n FROM instances WHERE tenant = $1 AND workflow = $2 GROUP BY status`, [tenant, workflow])
      : tenant
        ? await this.q(`SELECT status, COUNT(*)::int AS n FROM instances WHERE tenant = $1 GROUP BY status`, [tenant])
        : await this.q(`SELECT status, COUNT(*)::int AS n FROM instances GROUP BY status`);
    return Object.fromEntries(rows.map((r) => [r.status as string, r.n as number]));
  }

  async ping(): Promise<void> {
    await this.q(`SELECT 1`);
  }

  watch(fn: (pk: number, runnable: boolean) => void): () => void {
    this.watchers.add(fn);
    if (!this.feedOpen) {
      this.feedOpen = true;
      void this.listen();
    }
    return () => void this.watchers.delete(fn);
  }

  onGap(fn: () => void): () => void {
    this.gapWatchers.add(fn);
    return () => void this.gapWatchers.delete(fn);
  }

  /**
   * The LISTEN connection. Lost (PostgreSQL restarted, the connection dropped), it is opened again,
   * a little later each time (100 ms, doubling, at most a second apart); once it listens again the
   * onGap watchers look again at what they wait for, since the commits made while it was away were
   * reported to nobody.
   */
  private async listen(): Promise<void> {
    this.listenRetry = undefined;
    if (this.closed) return;
    const c = new pg.Client({ connectionString: this.url });
    let lost = false;
    // once per connection ("error" and "end" both come when it dies; a late one must not open a second)
    const retry = () => {
      if (lost) return;
      lost = true;
      this.feedCut = true;
      if (this.listener === c) this.listener = undefined;
      c.end().catch(() => undefined);
      if (this.closed || this.listenRetry) return;
      (this.listenRetry = setTimeout(() => void this.listen(), this.listenDelayMs)).unref();
      this.listenDelayMs = Math.min(1000, this.listenDelayMs * 2);
    };
    c.on("error", retry);
    c.on("end", retry);
    c.on("notification", (m) => {
      // "pk:flags:origin" — this process's own commits are known here already
      const [pk, flags, origin] = (m.payload ?? "").split(":");
      if (origin === this.origin) return;
      for (const w of this.watchers) w(Number(pk), flags === "r");
    });
    try {
      await c.connect();
      await c.query(`LISTEN ${this.channel}`);
    } catch {
      return retry();
    }
    if (lost) return;
    if (this.closed) return void c.end().catch(() => undefined);
    this.listener = c;
    this.listenDelayMs = 100;
    if (this.feedCut) {
      this.feedCut = false;
      for (const g of this.gapWatchers) g();
    }
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    if (this.listenRetry) clearTimeout(this.listenRetry);
    const l = this.listener;
    this.listener = undefined;
    await l?.end().catch(() => undefined);
    await this.pool.end();
  }
}
