// The PostgreSQL (cluster mode) benchmark: `npm run bench -- --postgres[=URL]` (bench/run.ts).
// Against the SQLite figures of the same run:
//  - the floor: one fsync'd PostgreSQL commit (a one-row INSERT, synchronous_commit=on, median), and
//    the server's commit ceiling from 1, 4 and 16 connections at once (group commit), with and
//    without a pg_notify in the transaction (every write of the store notifies its change feed);
//  - step overhead on one node, in this process: the gap between consecutive durable step commits of
//    one instance running 2,000 sequential step.do, exactly as bench/scenarios.ts stepOverhead
//    measures it on SQLite (the store's journal() resolving for a completed step.do), with and
//    without fsync (synchronous_commit=off on the store's connections: the engine + SQL cost);
//  - creations/s (3,000, 100 in flight per node) and steps/s (300 instances × 20 steps, all at once)
//    on 1, 2 and 3 engine nodes: separate processes (bench/pg-node.ts) on one schema, each creating
//    its share of the instances itself, as a node serving its own clients; each node count twice
//    (order 1, 2, 3, 3, 2, 1: a drift of the machine's load favours none), the better one shown;
//  - where the time goes: every statement the engine sends is counted (and, in the step-overhead
//    run, timed) on the client side (round trips, write transactions = commits that wait for an
//    fsync, notifications received), the server's own counters (pg_stat_database xact_commit,
//    pg_stat_wal wal_sync) before and after each phase, and the CPU of the node processes, of their
//    PostgreSQL backends (application_name) and of the whole machine.
// Each measurement has a schema of its own, dropped after it. About 2.5 min on the 2-core box.
import pg from "pg";
import { fork, type ChildProcess } from "node:child_process";
import { cpus } from "node:os";
import { readdirSync, readFileSync } from "node:fs";
import { randomBytes } from "node:crypto";
import { Engine } from "../src/index.ts";
import { PostgresStore } from "../src/store/postgres/store.ts";
import type { JournalOp, JournalResult } from "../src/store/ports.ts";
import { TEST_POSTGRES_URL, dropSchema, testSchema } from "../src/testing/postgres.ts";
import { BODIES, TENANT, deploy, keepAlive, machineBusyMs, median, percentile, sleep, tempDir } from "./util.ts";

// ---- statements and commits, counted in the client ---------------------------------------------
export interface Counts {
  /** every statement sent: one round trip each (BEGIN and COMMIT included) */
  queries: number;
  /** COMMITs of transactions that wrote (INSERT/UPDATE/DELETE, FOR UPDATE, pg_notify): each waits for a WAL fsync */
  writeCommits: number;
  /** COMMITs of read-only transactions */
  readCommits: number;
  /** writing statements outside BEGIN…COMMIT (their own transaction, their own fsync) */
  autoWrites: number;
  /** reading statements outside BEGIN…COMMIT */
  autoReads: number;
  rollbacks: number;
  /** change-feed notifications received (LISTEN) */
  notifications: number;
}
const ZERO: Counts = { queries: 0, writeCommits: 0, readCommits: 0, autoWrites: 0, autoReads: 0, rollbacks: 0, notifications: 0 };
const counted = { ...ZERO };
let installed = false;
/** client-side wait per kind of statement (ms, count), while timing is on */
const timed = new Map<string, { ms: number; n: number }>();
let timing = false;
/** a statement's kind: its verb, its table, FOR UPDATE, pg_notify */
function statementKind(text: string): string {
  const t = text.replace(/\s+/g, " ");
  const verb = (/^\s*(\w+)/.exec(t)?.[1] ?? "?").toUpperCase();
  if (/pg_notify/i.test(t)) return "SELECT pg_notify";
  if (verb === "BEGIN" || verb === "COMMIT" || verb === "ROLLBACK") return verb;
  const table = /\b(?:from|into|update)\s+([a-z_][a-z0-9_.]*)/i.exec(t)?.[1] ?? "";
  const what = /max\(/i.test(t) ? " MAX" : /count\(/i.test(t) ? " COUNT" : "";
  return `${verb}${what} ${table}${/for update/i.test(t) ? " FOR UPDATE" : ""}`.trim();
}
const WRITES = /^\s*(insert|update|delete|create|drop|alter|truncate)\b|for update|pg_notify/i;

/** Count every statement any pg client of this process sends (once per process); snapshot()/since() read the counters. */
export function countStatements(): { snapshot(): Counts; since(c: Counts): Counts; time(on: boolean): Map<string, { ms: number; n: number }> } {
  if (!installed) {
    installed = true;
    const proto = pg.Client.prototype as unknown as { query: (...a: unknown[]) => unknown };
    const orig = proto.query;
    const state = new WeakMap<object, { inTx: boolean; wrote: boolean }>();
    proto.query = function (this: object, ...a: unknown[]) {
      const c = a[0] as string | { text?: string } | undefined;
      const text = (typeof c === "string" ? c : c?.text ?? "").trim();
      let s = state.get(this);
      if (!s) state.set(this, (s = { inTx: false, wrote: false }));
      counted.queries++;
      const head = text.slice(0, 10).toUpperCase();
      if (head.startsWith("BEGIN")) (s.inTx = true), (s.wrote = false);
      else if (head.startsWith("COMMIT")) {
        if (s.wrote) counted.writeCommits++;
        else counted.readCommits++;
        s.inTx = false;
      } else if (head.startsWith("ROLLBACK")) (counted.rollbacks++, (s.inTx = false));
      else if (s.inTx) s.wrote ||= WRITES.test(text);
      else if (WRITES.test(text)) counted.autoWrites++;
      else counted.autoReads++;
      if (!timing) return orig.apply(this, a);
      const kind = statementKind(text);
      const t0 = performance.now();
      const done = () => {
        const e = timed.get(kind) ?? { ms: 0, n: 0 };
        e.ms += performance.now() - t0;
        e.n++;
        timed.set(kind, e);
      };
      const cb = a.findIndex((x) => typeof x === "function"); // pg-pool passes a callback, a client user gets a promise
      if (cb >= 0) {
        const f = a[cb] as (...r: unknown[]) => unknown;
        a[cb] = (...r: unknown[]) => (done(), f(...r));
        return orig.apply(this, a);
      }
      const r = orig.apply(this, a) as Promise<unknown>;
      r?.then?.(done, done);
      return r;
    };
    const emitter = pg.Client.prototype as unknown as { emit: (ev: string, ...a: unknown[]) => boolean };
    const emit = emitter.emit;
    emitter.emit = function (this: object, ev: string, ...a: unknown[]) {
      if (ev === "notification") counted.notifications++;
      return emit.call(this, ev, ...a);
    };
  }
  return {
    snapshot: () => ({ ...counted }),
    since: (c) => Object.fromEntries(Object.entries(counted).map(([k, v]) => [k, v - c[k as keyof Counts]])) as unknown as Counts,
    /** start (clearing what was timed) or stop timing statements; returns what was timed */
    time: (on) => {
      if (on) timed.clear();
      timing = on;
      return new Map(timed);
    },
  };
}
const counter = countStatements();
const sum = (xs: Counts[]): Counts => xs.reduce((a, b) => Object.fromEntries(Object.keys(ZERO).map((k) => [k, a[k as keyof Counts] + b[k as keyof Counts]])) as unknown as Counts, { ...ZERO });
/** commits that wait for an fsync */
const fsyncCommits = (c: Counts) => c.writeCommits + c.autoWrites;

// ---- the server's counters and CPU -------------------------------------------------------------
interface ServerStats { xactCommit: number; walSync: number; walRecords: number; at: number }
async function serverStats(url: string): Promise<ServerStats> {
  const c = new pg.Client({ connectionString: url, application_name: STATS_APP });
  await c.connect();
  try {
    const d = (await c.query(`SELECT xact_commit FROM pg_stat_database WHERE datname = current_database()`)).rows[0];
    const w = (await c.query(`SELECT wal_sync, wal_records FROM pg_stat_wal`)).rows[0];
    return { xactCommit: Number(d.xact_commit), walSync: Number(w.wal_sync), walRecords: Number(w.wal_records), at: performance.now() };
  } finally {
    await c.end();
  }
}
const serverDelta = (a: ServerStats, b: ServerStats) => ({ xactCommit: b.xactCommit - a.xactCommit, walSync: b.walSync - a.walSync, walRecords: b.walRecords - a.walRecords });
/**
 * A backend's statistics reach the shared counters when it exits, or up to ~10 s after it goes idle
 * (PGSTAT_IDLE_INTERVAL): counters are read after the connections that did the work are closed.
 */
const STATS_SETTLE_MS = 300;

/** CPU so far (ms) of every `postgres` process on the machine, by pid */
function postgresCpu(): Map<number, number> {
  const out = new Map<number, number>();
  for (const pid of readdirSync("/proc")) {
    if (!/^\d+$/.test(pid)) continue;
    try {
      const s = readFileSync(`/proc/${pid}/stat`, "utf8");
      const close = s.lastIndexOf(")");
      if (s.slice(s.indexOf("(") + 1, close) !== "postgres") continue;
      const f = s.slice(close + 2).split(" ");
      out.set(Number(pid), ((Number(f[11]) + Number(f[12])) * 1000) / 100); // utime, stime in USER_HZ
    } catch {
      /* gone meanwhile */
    }
  }
  return out;
}

/** the bench's own connections carry this application_name (PGAPPNAME), so their backends can be told from other users' */
export const APP_NAME = `weft-bench-${process.pid}`;
const STATS_APP = `${APP_NAME}-stats`;

export interface PgCpu { ours: number; aux: number; other: number }
/**
 * PostgreSQL's CPU between two postgresCpu() snapshots (ms), split by pg_stat_activity (read while the
 * connections are still open): our backends, the server's own processes (WAL writer, checkpointer…),
 * other clients' backends. A backend that exited in between is not counted.
 */
async function splitPostgresCpu(url: string, before: Map<number, number>, after: Map<number, number>): Promise<PgCpu> {
  const kinds = await withClient(url, async (c) => new Map((await c.query(`SELECT pid, backend_type, application_name FROM pg_stat_activity`)).rows.map((r) => [
    Number(r.pid), r.backend_type !== "client backend" ? "aux" : (r.application_name as string) === APP_NAME ? "ours" : "other",
  ] as const)));
  const out: PgCpu = { ours: 0, aux: 0, other: 0 };
  for (const [pid, ms] of after) out[kinds.get(pid) ?? "other"] += ms - (before.get(pid) ?? 0);
  return out;
}

async function withClient<T>(url: string, fn: (c: pg.Client) => Promise<T>): Promise<T> {
  const c = new pg.Client({ connectionString: url, application_name: STATS_APP });
  await c.connect();
  try {
    return await fn(c);
  } finally {
    await c.end();
  }
}

// ---- 0. the floor: one fsync'd commit, and the server's commit ceiling ---------------------------
export async function pgFsyncFloor(url: string, n = 500): Promise<{ us: number; p99Us: number; commitsPerWalSync: number; roundTripUs: number }> {
  const schema = testSchema("weft_bf");
  try {
    return await withClient(url, async (c) => {
      await c.query(`CREATE SCHEMA ${schema}`);
      await c.query(`CREATE TABLE ${schema}.floor (k BIGSERIAL PRIMARY KEY, v BYTEA)`);
      await c.query(`SET synchronous_commit = on`);
      // a round trip that commits nothing: what every statement of a transaction costs at least
      const rt: number[] = [];
      for (let i = 0; i < n + 20; i++) {
        const t0 = performance.now();
        await c.query(`SELECT $1::int AS x`, [i]);
        if (i >= 20) rt.push((performance.now() - t0) * 1000);
      }
      const payload = Buffer.alloc(32);
      const xs: number[] = [];
      const s0 = await serverStats(url);
      for (let i = 0; i < n + 20; i++) {
        const t0 = performance.now();
        await c.query(`INSERT INTO ${schema}.floor (v) VALUES ($1)`, [payload]);
        if (i >= 20) xs.push((performance.now() - t0) * 1000);
      }
      return { us: median(xs), p99Us: percentile(xs, 99), roundTripUs: median(rt), s0 };
    }).then(async ({ s0, ...r }) => {
      // the connection is closed: its backend has flushed its statistics (an idle one may hold them ~10 s)
      await sleep(STATS_SETTLE_MS);
      const d = serverDelta(s0, await serverStats(url));
      return { ...r, commitsPerWalSync: (n + 20) / Math.max(1, d.walSync) };
    });
  } finally {
    await dropSchema(schema, url);
  }
}

export interface CeilingPoint { connections: number; commitsPerSec: number; walSyncsPerSec: number; machineBusyPct: number }

/**
 * Commits per second from `connections` connections at once for `ms` each (synchronous_commit=on),
 * each transaction BEGIN; INSERT one row; SELECT …; COMMIT, where the SELECT is pg_notify (as in
 * every write of the store: its change feed) or a plain SELECT 1 (the same round trips, no NOTIFY).
 */
export async function pgCommitCeiling(url: string, notify: boolean, connections = [1, 4, 16], ms = 1_500): Promise<CeilingPoint[]> {
  const schema = testSchema("weft_bc");
  await withClient(url, async (c) => {
    await c.query(`CREATE SCHEMA ${schema}`);
    await c.query(`CREATE TABLE ${schema}.t (k BIGSERIAL PRIMARY KEY, v BYTEA)`);
  });
  const out: CeilingPoint[] = [];
  const second = notify ? `SELECT pg_notify('${schema}', 'x')` : `SELECT 1`;
  try {
    for (const n of connections) {
      const clients = await Promise.all(Array.from({ length: n }, async () => {
        const c = new pg.Client({ connectionString: url, application_name: STATS_APP });
        await c.connect();
        await c.query(`SET synchronous_commit = on`);
        return c;
      }));
      const payload = Buffer.alloc(32);
      let commits = 0;
      const s0 = await serverStats(url);
      const b0 = machineBusyMs();
      const t0 = performance.now();
      const end = t0 + ms;
      await Promise.all(clients.map(async (c) => {
        while (performance.now() < end) {
          await c.query("BEGIN");
          await c.query(`INSERT INTO ${schema}.t (v) VALUES ($1)`, [payload]);
          await c.query(second);
          await c.query("COMMIT");
          commits++;
        }
      }));
      const wall = performance.now() - t0;
      const busy = machineBusyMs() - b0;
      await Promise.all(clients.map((c) => c.end()));
      await sleep(STATS_SETTLE_MS);
      const d = serverDelta(s0, await serverStats(url));
      out.push({ connections: n, commitsPerSec: (commits / wall) * 1000, walSyncsPerSec: (d.walSync / wall) * 1000, machineBusyPct: (100 * busy) / (wall * cpus().length) });
    }
    return out;
  } finally {
    await dropSchema(schema, url);
  }
}

// ---- 1. step overhead on one node (in this process), as scenarios.ts stepOverhead on SQLite ------
export interface PgStepOverhead { p50Us: number; p99Us: number; meanUs: number; wallPerStepUs: number; steps: number; perStep: Counts; walSyncsPerStep: number; xactPerStep: number; nodeCpuUs: number; pgCpuUs: number;
  /** client-side wait per step by kind of statement (µs), the most first */
  byKind: { kind: string; perStep: number; usPerStep: number }[] }

export async function pgStepOverhead(url: string, steps = 2_000, synchronousCommit: "on" | "off" = "on"): Promise<PgStepOverhead> {
  const schema = testSchema("weft_bs");
  const tmp = tempDir("pg-steps1");
  const appName = process.env.PGAPPNAME;
  process.env.PGAPPNAME = APP_NAME; // read by every pg connection made from now on: the store's backends are ours
  const store = await PostgresStore.open({ url, schema, poolSize: 10 });
  if (synchronousCommit === "off") {
    // every connection of the store's pool (all of them checked out at once, so none is missed)
    const p = (store as unknown as { pool: pg.Pool }).pool;
    p.on("connect", (c) => void c.query(`SET synchronous_commit = off`));
    const cs = await Promise.all(Array.from({ length: 10 }, () => p.connect()));
    for (const c of cs) await c.query(`SET synchronous_commit = off`);
    for (const c of cs) c.release();
  }
  // when each successful step.do commit is durable (the journal promise resolves), as TimedStore does
  const commits: number[] = [];
  const journal = store.journal.bind(store);
  store.journal = async (pk: number, epoch: number, ops: JournalOp[]): Promise<JournalResult> => {
    const res = await journal(pk, epoch, ops);
    if (ops.some((o) => o.op === "step" && o.kind === "do" && o.state === "complete")) commits.push(performance.now());
    return res;
  };
  const e = await Engine.open({ dataDir: tmp.dir, store, nodeId: "bench-1", secretKey: randomBytes(32).toString("hex") });
  let closed = false;
  try {
    const run = await keepAlive(async () => {
      await deploy(e, "seq", BODIES.nSteps);
      const wf = e.workflow(TENANT, "seq");
      await sleep(200); // the engine's start-up reads are over
      const s0 = await serverStats(url);
      const c0 = counter.snapshot();
      const pg0 = postgresCpu();
      const own0 = process.cpuUsage();
      counter.time(true);
      const t0 = performance.now();
      const inst = await wf.create({ params: { steps } });
      const s = await inst.waitFor();
      const wall = performance.now() - t0;
      const byKind = counter.time(false);
      const own = process.cpuUsage(own0);
      const c = counter.since(c0);
      const cpu = await splitPostgresCpu(url, pg0, postgresCpu());
      if (s.status !== "complete" || s.output !== steps) throw new Error(`PG step overhead run ended ${JSON.stringify(s)}`);
      return { s0, c, wall, byKind, nodeCpuUs: (own.user + own.system) / steps, pgCpuUs: ((cpu.ours + cpu.aux) * 1000) / steps };
    });
    await e.close(); // its connections end: their statistics reach the server's counters
    closed = true;
    await sleep(STATS_SETTLE_MS);
    const d = serverDelta(run.s0, await serverStats(url));
    const gaps: number[] = [];
    for (let i = 1; i < commits.length; i++) gaps.push((commits[i]! - commits[i - 1]!) * 1000);
    const per = Object.fromEntries(Object.entries(run.c).map(([k, v]) => [k, v / steps])) as unknown as Counts;
    return {
      p50Us: percentile(gaps, 50), p99Us: percentile(gaps, 99), meanUs: gaps.reduce((a, b) => a + b, 0) / gaps.length,
      wallPerStepUs: (run.wall / steps) * 1000, steps: commits.length, perStep: per, walSyncsPerStep: d.walSync / steps, xactPerStep: d.xactCommit / steps,
      nodeCpuUs: run.nodeCpuUs, pgCpuUs: run.pgCpuUs,
      byKind: [...run.byKind].map(([kind, v]) => ({ kind, perStep: v.n / steps, usPerStep: (v.ms * 1000) / steps })).sort((a, b) => b.usPerStep - a.usPerStep),
    };
  } finally {
    if (appName === undefined) delete process.env.PGAPPNAME;
    else process.env.PGAPPNAME = appName;
    if (!closed) await e.close();
    tmp.remove();
    await dropSchema(schema, url);
  }
}

// ---- 2. engine nodes as processes --------------------------------------------------------------
type Reply = Record<string, unknown> & { t: "ok" | "error"; message?: string };

class NodeProc {
  private readonly child: ChildProcess;
  private readonly waiting: { resolve(r: Reply): void; reject(e: Error): void }[] = [];
  readonly ready: Promise<Reply>;
  readonly exited: Promise<void>;

  readonly id: string;

  constructor(id: string) {
    this.id = id;
    const script = new URL("./pg-node.ts", import.meta.url).pathname;
    this.child = fork(script, [], { stdio: ["ignore", "inherit", "inherit", "ipc"], env: { ...process.env, PGAPPNAME: APP_NAME } });
    this.ready = new Promise((resolve, reject) => this.waiting.push({ resolve, reject }));
    this.child.on("message", (m: Reply) => {
      const w = this.waiting.shift();
      if (!w) return;
      if (m.t === "error") w.reject(new Error(`node ${this.id}: ${m.message}`));
      else w.resolve(m);
    });
    this.exited = new Promise((r) => this.child.on("exit", () => {
      for (const w of this.waiting.splice(0)) w.reject(new Error(`node ${this.id} exited`));
      r();
    }));
  }

  pid(): number {
    return this.child.pid!;
  }

  send<T = Reply>(m: Record<string, unknown>): Promise<T> {
    return new Promise<Reply>((resolve, reject) => {
      this.waiting.push({ resolve, reject });
      this.child.send(m);
    }) as Promise<T>;
  }

  async exit(): Promise<void> {
    if (this.child.exitCode === null) {
      this.child.send({ t: "exit" });
      const t = setTimeout(() => this.child.kill("SIGKILL"), 10_000);
      await this.exited;
      clearTimeout(t);
    }
  }
}

/** CPU a process has used (ms), from /proc */
function procCpuMs(pid: number): number {
  try {
    const s = readFileSync(`/proc/${pid}/stat`, "utf8");
    const f = s.slice(s.lastIndexOf(")") + 2).split(" ");
    return ((Number(f[11]) + Number(f[12])) * 1000) / 100;
  } catch {
    return NaN;
  }
}

export interface ClusterPhase {
  nodes: number;
  /** first create sent → last instance resolved (created, or complete when waited for), across nodes */
  ms: number;
  perSec: number;
  /** total work (instances created, or steps completed) */
  work: number;
  /** share of the steps each node ran (steps phases) */
  stepsByNode: number[];
  counts: Counts;
  server: { xactCommit: number; walSync: number; walRecords: number };
  /** CPU over the phase (ms): the nodes, every postgres process, the whole machine */
  nodesCpuMs: number;
  postgres: PgCpu;
  machineBusyMs: number;
}

interface ClusterOpts {
  url: string;
  nodes: NodeProc[];
  secretKey: string;
  kind: "creations" | "steps";
  /** creations: instances in all; steps: instances in all, each with `stepsEach` steps */
  n: number;
  inFlight: number;
  stepsEach?: number;
  poolSize?: number;
  progress(msg: string): void;
}

/** one measurement on the first `k` nodes, on a fresh schema dropped after */
async function clusterPhase(k: number, o: ClusterOpts): Promise<ClusterPhase> {
  const schema = testSchema("weft_bk");
  const nodes = o.nodes.slice(0, k);
  const dirs = nodes.map((n) => tempDir(`pg-${n.id}`));
  const open = (i: number) => nodes[i]!.send({ t: "open", url: o.url, schema, nodeId: `${nodes[i]!.id}-${schema}`, secretKey: o.secretKey, dataDir: dirs[i]!.dir, poolSize: o.poolSize, maxActiveRuns: 2_000 });
  try {
    await open(0); // the first one makes the schema and migrates it; then the others
    await Promise.all(nodes.slice(1).map((_, i) => open(i + 1)));
    if (o.kind === "creations") await nodes[0]!.send({ t: "deploy", workflow: "w", body: "sleepDay", limits: { concurrency: 1 } });
    else await nodes[0]!.send({ t: "deploy", workflow: "w", body: "nSteps", limits: { concurrency: o.n } });
    await sleep(300);
    const st0 = await Promise.all(nodes.map((n) => n.send<{ stepsCompleted: number; counts: Counts }>({ t: "stats" })));
    const s0 = await serverStats(o.url);
    const cpu0 = nodes.map((n) => procCpuMs(n.pid()));
    const pg0 = postgresCpu();
    const b0 = machineBusyMs();
    const share = (i: number) => Math.floor(o.n / k) + (i < o.n % k ? 1 : 0);
    const res = await Promise.all(nodes.map((n, i) => n.send<{ t0: number; t1: number }>({
      t: "create", workflow: "w", n: share(i), inFlight: Math.min(o.inFlight, share(i)), idPrefix: `${n.id}-`,
      params: o.kind === "steps" ? { steps: o.stepsEach } : { i }, wait: o.kind === "steps",
    })));
    const ms = Math.max(...res.map((r) => r.t1)) - Math.min(...res.map((r) => r.t0));
    const busy = machineBusyMs() - b0;
    const pg1 = postgresCpu();
    const nodesCpu = nodes.reduce((a, n, i) => a + procCpuMs(n.pid()) - cpu0[i]!, 0);
    const st1 = await Promise.all(nodes.map((n) => n.send<{ stepsCompleted: number; counts: Counts }>({ t: "stats" })));
    const pgCpu = await splitPostgresCpu(o.url, pg0, pg1);
    // the nodes' connections end: their statistics reach the server's counters
    await Promise.all(nodes.map((n) => n.send({ t: "close" })));
    await sleep(STATS_SETTLE_MS);
    const server = serverDelta(s0, await serverStats(o.url));
    const stepsByNode = st1.map((s, i) => s.stepsCompleted - st0[i]!.stepsCompleted);
    const counts = sum(st1.map((s, i) => Object.fromEntries(Object.entries(s.counts).map(([key, v]) => [key, v - st0[i]!.counts[key as keyof Counts]])) as unknown as Counts));
    const work = o.kind === "steps" ? stepsByNode.reduce((a, b) => a + b, 0) : o.n;
    if (o.kind === "steps" && work !== o.n * o.stepsEach!) throw new Error(`expected ${o.n * o.stepsEach!} steps, the nodes counted ${work}`);
    return { nodes: k, ms, perSec: (work / ms) * 1000, work, stepsByNode, counts, server, nodesCpuMs: nodesCpu, postgres: pgCpu, machineBusyMs: busy };
  } finally {
    await Promise.all(nodes.map((n) => n.send({ t: "close" }).catch(() => undefined)));
    for (const d of dirs) d.remove();
    await dropSchema(schema, o.url).catch(() => undefined);
  }
}

// ---- the whole PostgreSQL section of the table --------------------------------------------------
export interface BenchRow { metric: string; value: number; unit: string; kind: "min" | "max" | "none"; target?: number; note: string }

export interface SqliteBaselines {
  fsyncUs: number;
  creationsPerSec: number;
  creationsN: number;
  stepP50Us: number;
  stepP99Us: number;
  stepNormalP50Us: number;
  stepsPerSec: number;
  stepsInstances: number;
  stepsEach: number;
}

export interface PostgresOptions {
  url?: string;
  nodeCounts?: number[];
  creations?: number;
  stepInstances?: number;
  stepsEach?: number;
  /** measurements of each node count (default 2, the second round in reverse order); the table shows the better one */
  rounds?: number;
  progress(msg: string): void;
  sqlite: SqliteBaselines;
}

export async function postgresScenarios(o: PostgresOptions): Promise<{ rows: BenchRow[]; figures: Record<string, number | null>; childCpuMs: number }> {
  const url = o.url ?? TEST_POSTGRES_URL;
  const counts = o.nodeCounts ?? [1, 2, 3];
  const nCreate = o.creations ?? 3_000;
  const nInst = o.stepInstances ?? 300;
  const rounds = o.rounds ?? 2;
  const each = o.stepsEach ?? 20;
  const sq = o.sqlite;
  const rows: BenchRow[] = [];
  const figures: Record<string, number | null> = {};
  const fmt = (x: number, d = 0) => (Number.isFinite(x) ? x.toLocaleString("en-US", { minimumFractionDigits: d, maximumFractionDigits: d }) : "n/a");
  const secs = (ms: number) => `${(ms / 1000).toFixed(1)} s`;
  const cores = cpus().length;
  const version = await withClient(url, async (c) => (await c.query(`SHOW server_version`)).rows[0].server_version as string);

  o.progress("PostgreSQL: fsync floor and commit ceiling");
  const floor = await pgFsyncFloor(url);
  const ceiling = await pgCommitCeiling(url, false);
  const notifyCeiling = await pgCommitCeiling(url, true);
  const highest = (xs: CeilingPoint[]) => xs.reduce((a, b) => (b.commitsPerSec > a.commitsPerSec ? b : a));
  const top = highest(ceiling);
  const topNotify = highest(notifyCeiling);
  figures.pgFsyncCommitUs = floor.us;
  figures.pgCommitCeilingPerSec = top.commitsPerSec;
  figures.pgNotifyCommitCeilingPerSec = topNotify.commitsPerSec;

  o.progress("PostgreSQL: step overhead, one node (fsync, then synchronous_commit=off)");
  const so = await pgStepOverhead(url, 2_000, "on");
  const soOff = await pgStepOverhead(url, 2_000, "off");
  figures.pgStepOverheadP50Us = so.p50Us;
  figures.pgStepOverheadP99Us = so.p99Us;
  figures.pgCommitsPerStep = fsyncCommits(so.perStep);
  figures.pgStatementsPerStep = so.perStep.queries;

  const max = Math.max(...counts);
  o.progress(`PostgreSQL: starting ${max} engine node processes`);
  const nodes = Array.from({ length: max }, (_, i) => new NodeProc(`n${i + 1}`));
  const secretKey = randomBytes(32).toString("hex");
  const creations: ClusterPhase[] = [];
  const stepsRuns: ClusterPhase[] = [];
  let childCpuMs = 0;
  try {
    await Promise.all(nodes.map((n) => n.ready));
    // warm-up of every node process (JIT, module loading) on a schema of its own: none is colder than the others
    o.progress("PostgreSQL: warm-up (all nodes, 100 instances × 5 steps)");
    await clusterPhase(max, { url, nodes, secretKey, kind: "steps", n: 100, inFlight: 100, stepsEach: 5, progress: o.progress });
    // two rounds, the second in reverse order (1, 2, 3, 3, 2, 1): a drift in the machine's load
    // over the run does not favour one node count
    for (let round = 0; round < rounds; round++) {
      for (const k of round % 2 === 0 ? counts : [...counts].reverse()) {
        o.progress(`PostgreSQL: round ${round + 1}/${rounds}, ${k} node(s): creations, then steps/s`);
        creations.push(await clusterPhase(k, { url, nodes, secretKey, kind: "creations", n: nCreate, inFlight: 100, progress: o.progress }));
        stepsRuns.push(await clusterPhase(k, { url, nodes, secretKey, kind: "steps", n: nInst, inFlight: nInst, stepsEach: each, progress: o.progress }));
      }
    }
  } finally {
    for (const n of nodes) childCpuMs += procCpuMs(n.pid()) || 0;
    await Promise.all(nodes.map((n) => n.exit()));
  }

  // ---- rows ----
  const util = (p: ClusterPhase, unit: string) => {
    const ours = p.nodesCpuMs + p.postgres.ours + p.postgres.aux;
    return `CPU: machine ${fmt((100 * p.machineBusyMs) / (p.ms * cores))}% busy (of ${cores} cores) = nodes ${fmt(p.nodesCpuMs / p.ms, 2)} + their postgres backends ${fmt(p.postgres.ours / p.ms, 2)} + postgres server processes ${fmt(p.postgres.aux / p.ms, 2)} + everything else ${fmt(Math.max(0, p.machineBusyMs - ours) / p.ms, 2)} cores (other postgres clients: ${fmt(p.postgres.other / p.ms, 2)}); ${fmt((1000 * p.nodesCpuMs) / p.work)} µs node + ${fmt((1000 * (p.postgres.ours + p.postgres.aux)) / p.work)} µs postgres CPU per ${unit}`;
  };
  const perUnit = (p: ClusterPhase, unit: string) => {
    const c = p.counts;
    return `per ${unit}: ${fmt(c.queries / p.work, 1)} statements, ${fmt(fsyncCommits(c) / p.work, 2)} write commits, ${fmt(c.notifications / p.work, 2)} notifications received by the nodes (client-counted); server-wide: ${fmt(p.server.xactCommit / p.work, 2)} xact_commit (other clients of database included), ${fmt(p.server.walSync / p.work, 2)} WAL fsyncs`;
  };
  rows.push({
    metric: "PG fsync'd commit", value: floor.us, unit: "µs", kind: "none",
    note: `physical floor: PostgreSQL ${version} at ${url.replace(/\/\/[^@]*@/, "//")}, one-row INSERT per transaction, synchronous_commit=on, one connection, median of 500 (p99 ${fmt(floor.p99Us)} µs); ${fmt(floor.commitsPerWalSync, 2)} commits per WAL fsync. A round trip that commits nothing (SELECT $1): p50 ${fmt(floor.roundTripUs)} µs`,
  });
  const points = (xs: CeilingPoint[]) => xs.map((c) => `${c.connections} conn ${fmt(c.commitsPerSec)}/s (${fmt(c.walSyncsPerSec)} WAL fsyncs/s, machine ${fmt(c.machineBusyPct)}% busy)`).join("; ");
  rows.push({
    metric: "PG commit ceiling", value: top.commitsPerSec, unit: "/s", kind: "none",
    note: `BEGIN; INSERT one row; SELECT 1; COMMIT from N connections at once (group commit), 1.5 s each: ${points(ceiling)}`,
  });
  rows.push({
    metric: "PG commit ceiling with pg_notify", value: topNotify.commitsPerSec, unit: "/s", kind: "none",
    note: `the same with SELECT pg_notify(…) in place of SELECT 1, as every write of the store (its change feed): a NOTIFY's commit holds a server-wide lock through its WAL fsync, so such commits do not group: ${points(notifyCeiling)}`,
  });
  rows.push({ metric: "SQLite fsync'd commit", value: sq.fsyncUs, unit: "µs", kind: "none", note: "scenarios.ts fsyncCommit: node:sqlite WAL, synchronous=FULL, 1 tiny insert per txn, median of 500" });
  rows.push({ metric: "PG fsync floor / SQLite fsync floor", value: floor.us / sq.fsyncUs, unit: "×", kind: "none", note: "one durable commit over the socket vs one in-process" });

  rows.push({
    metric: "PG step overhead p50 (1 node)", value: so.p50Us, unit: "µs", kind: "none",
    note: `1 instance, ${so.steps} sequential step.do, gap between consecutive durable step commits (as the SQLite row); p99 ${fmt(so.p99Us)} µs, mean ${fmt(so.meanUs)} µs, wall/step ${fmt(so.wallPerStepUs)} µs. CPU per step: node ${fmt(so.nodeCpuUs)} µs, postgres ${fmt(so.pgCpuUs)} µs. Without fsync (synchronous_commit=off): p50 ${fmt(soOff.p50Us)} µs, p99 ${fmt(soOff.p99Us)} µs`,
  });
  rows.push({
    metric: "  statements per step (1 node)", value: so.perStep.queries, unit: "", kind: "none",
    note: `round trips per step, client-counted: ${fmt(fsyncCommits(so.perStep), 2)} write commits (${fmt(so.perStep.writeCommits, 2)} transactions + ${fmt(so.perStep.autoWrites, 2)} single writes), ${fmt(so.perStep.readCommits, 2)} read-only transactions, ${fmt(so.perStep.autoReads, 2)} single reads; ${fmt(so.perStep.notifications, 2)} notifications received; server-wide: ${fmt(so.xactPerStep, 2)} xact_commit (other clients of the database included), ${fmt(so.walSyncsPerStep, 2)} WAL fsyncs per step`,
  });
  const kinds = (x: PgStepOverhead) => x.byKind.filter((k) => k.perStep >= 0.05).map((k) => `${k.kind}${k.perStep >= 1.05 || k.perStep < 0.95 ? ` ×${fmt(k.perStep, 2)}` : ""} ${fmt(k.usPerStep)}`).join(", ");
  rows.push({
    metric: "  where a step's time goes (1 node)", value: so.byKind.reduce((a, k) => a + k.usPerStep, 0), unit: "µs", kind: "none",
    note: `client-side wait per step for each kind of statement, summed (statements of one step run one after another on one connection; the waitFor read runs beside them), µs per step: ${kinds(so)}. Without fsync: ${kinds(soOff)}`,
  });
  rows.push({ metric: "SQLite step overhead p50", value: sq.stepP50Us, unit: "µs", kind: "none", note: `scenarios.ts stepOverhead(2,000), same run; p99 ${fmt(sq.stepP99Us)} µs; synchronous=normal p50 ${fmt(sq.stepNormalP50Us)} µs` });
  rows.push({ metric: "PG step overhead / SQLite step overhead", value: so.p50Us / sq.stepP50Us, unit: "×", kind: "none", note: `p50s; without fsync on both: ${fmt(soOff.p50Us / sq.stepNormalP50Us, 2)}×` });
  rows.push({ metric: "PG step p50 / PG fsync floor", value: so.p50Us / floor.us, unit: "×", kind: "none", note: `a step costs ${fmt(fsyncCommits(so.perStep), 2)} fsync'd commits and ${fmt(so.perStep.queries, 1)} round trips` });

  // per node count: the better of its measurements (the others in the note)
  const best = (xs: ClusterPhase[], k: number) => xs.filter((p) => p.nodes === k).reduce((a, b) => (b.perSec > a.perSec ? b : a));
  const others = (xs: ClusterPhase[], p: ClusterPhase) => {
    const rest = xs.filter((q) => q.nodes === p.nodes && q !== p);
    return rest.length === 0 ? "" : `; the other measurement${rest.length > 1 ? "s" : ""}: ${rest.map((q) => fmt(q.perSec)).join(", ")}/s`;
  };
  const cpuPer = (p: ClusterPhase) => (1000 * (p.nodesCpuMs + p.postgres.ours + p.postgres.aux)) / p.work;
  const cBest = counts.map((k) => best(creations, k));
  const sBest = counts.map((k) => best(stepsRuns, k));
  rows.push({ metric: "SQLite creations/s", value: sq.creationsPerSec, unit: "/s", kind: "none", note: `scenarios.ts creations: ${fmt(sq.creationsN)} create() resolved (durable), 100 in flight, concurrency 1 + sleep 1 day (the burst queues)` });
  for (const p of cBest) {
    figures[`pgCreationsPerSec${p.nodes}`] = p.perSec;
    rows.push({
      metric: `PG creations/s, ${p.nodes} node${p.nodes > 1 ? "s" : ""}`, value: p.perSec, unit: "/s", kind: "none",
      note: `better of ${rounds}${others(creations, p)}. ${fmt(p.work)} create() resolved (durable) in ${secs(p.ms)}, each node creates its share with 100 in flight (${100 * p.nodes} in all), same workflow as SQLite's; ${perUnit(p, "creation")}; ${util(p, "creation")}`,
    });
  }
  rows.push({ metric: "SQLite steps/s", value: sq.stepsPerSec, unit: "/s", kind: "none", note: `scenarios.ts stepThroughput: ${fmt(sq.stepsInstances)} instances × ${sq.stepsEach} step.do, first create → all complete` });
  for (const p of sBest) {
    figures[`pgStepsPerSec${p.nodes}`] = p.perSec;
    rows.push({
      metric: `PG steps/s, ${p.nodes} node${p.nodes > 1 ? "s" : ""}`, value: p.perSec, unit: "/s", kind: "none",
      note: `better of ${rounds}${others(stepsRuns, p)}. ${fmt(nInst)} instances × ${each} step.do = ${fmt(p.work)} steps in ${secs(p.ms)} (first create → all complete), each node creates ${p.nodes > 1 ? "its share" : "all"} at once and waits; steps run per node: ${p.stepsByNode.map((s) => fmt(s)).join(" / ")}; ${perUnit(p, "step")}; ${util(p, "step")}`,
    });
  }
  const c1 = cBest.find((p) => p.nodes === 1);
  const s1 = sBest.find((p) => p.nodes === 1);
  for (const p of cBest) if (c1 && p !== c1) rows.push({ metric: `creations/s ${p.nodes} nodes / 1 node`, value: p.perSec / c1.perSec, unit: "×", kind: "none", note: `PG, the better measurements; ideal ${p.nodes}.00` });
  for (const p of sBest) if (s1 && p !== s1) rows.push({ metric: `steps/s ${p.nodes} nodes / 1 node`, value: p.perSec / s1.perSec, unit: "×", kind: "none", note: `PG, the better measurements; ideal ${p.nodes}.00` });
  for (const p of sBest) {
    const cpuUs = cpuPer(p);
    if (p.nodes === 1) figures.pgCpuPerStepUs = cpuUs;
    rows.push({
      metric: `PG CPU per step, ${p.nodes} node${p.nodes > 1 ? "s" : ""}`, value: cpuUs, unit: "µs", kind: "none",
      note: `nodes + their postgres backends + server processes in that steps/s run: ${fmt((1000 * p.nodesCpuMs) / p.work)} + ${fmt((1000 * p.postgres.ours) / p.work)} + ${fmt((1000 * p.postgres.aux) / p.work)} µs; ${fmt(p.counts.notifications / p.work, 2)} notifications received per step. ${cores} cores, all ours, would run at most ${fmt((cores * 1e6) / cpuUs)} steps/s like this`,
    });
  }
  if (c1) rows.push({ metric: "PG creations/s 1 node / SQLite", value: c1.perSec / sq.creationsPerSec, unit: "×", kind: "none", note: `same workflow, same 100 in flight (SQLite ${fmt(sq.creationsN)} instances, PG ${fmt(nCreate)})` });
  if (s1) rows.push({ metric: "PG steps/s 1 node / SQLite", value: s1.perSec / sq.stepsPerSec, unit: "×", kind: "none", note: `same body, all instances at once (SQLite ${fmt(sq.stepsInstances)} × ${sq.stepsEach}, PG ${fmt(nInst)} × ${each})` });
  const bestSteps = sBest.reduce((a, b) => (b.perSec > a.perSec ? b : a), sBest[0]!);
  if (bestSteps) {
    const cps = fsyncCommits(bestSteps.counts) / bestSteps.work;
    rows.push({
      metric: "PG write commits/s at best steps/s", value: (bestSteps.perSec * fsyncCommits(bestSteps.counts)) / bestSteps.work, unit: "/s", kind: "none",
      note: `${bestSteps.nodes} node(s): ${fmt(bestSteps.perSec)} steps/s × ${fmt(cps, 2)} write commits per step (each with a NOTIFY), against the measured ceilings of ${fmt(topNotify.commitsPerSec)}/s with pg_notify and ${fmt(top.commitsPerSec)}/s without; server WAL fsyncs ${fmt((bestSteps.server.walSync / bestSteps.ms) * 1000)}/s`,
    });
  }
  return { rows, figures, childCpuMs };
}
