// Shared pieces of the cluster tests: engine node processes (test/cluster/node.ts), an HTTP client
// that retries on the nodes that are up, polling without fixed sleeps, the side-effect log, and the
// per-instance checks made from the store alone (SQL database rebuilt from its pages).
import assert from "node:assert/strict";
import type { TestContext } from "node:test";
import { spawn, type ChildProcess } from "node:child_process";
import { appendFileSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { randomBytes } from "node:crypto";
import { fileURLToPath } from "node:url";
import { DatabaseSync } from "node:sqlite";
import type { PostgresStore } from "../../src/store/postgres/store.ts";
import { Engine, type EngineOptions } from "../../src/index.ts";
import { TEST_POSTGRES_URL, dropSchema, testSchema } from "../../src/testing/postgres.ts";
import { writeDatabaseFile } from "../../src/instance-data/sql/pages.ts";

export const NODE_SCRIPT = fileURLToPath(new URL("./node.ts", import.meta.url));
export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export interface NodeProc {
  id: string;
  child: ChildProcess;
  /** the node's base URL once it listens (a "(exited: …)" text if it died first) */
  url: Promise<string>;
  /** the admin token, printed by the node that made the schema's first one (null on the others) */
  admin: Promise<string | null>;
  exited: Promise<unknown>;
  alive(): boolean;
  /** everything the node printed (stdout and stderr) */
  output(): string;
}

export interface NodeArgs {
  url: string;
  schema: string;
  dataDir: string;
  id: string;
  effects: string;
  leaseMs: number;
  env?: Record<string, string>;
}

/** one engine node: `weft serve --postgres` plus the `effect` host function (node.ts) */
export function spawnNode(a: NodeArgs): NodeProc {
  const child = spawn(process.execPath, [NODE_SCRIPT, a.url, a.schema, a.dataDir, a.id, a.effects, String(a.leaseMs)], {
    stdio: ["ignore", "pipe", "pipe"], env: { ...process.env, ...a.env },
  });
  let out = "";
  let found!: (v: string) => void;
  const url = new Promise<string>((r) => (found = r));
  child.stdout!.on("data", (d: Buffer) => {
    out += d.toString();
    const m = /listening (\S+)/.exec(out);
    if (m) found(m[1]!);
  });
  child.stderr!.on("data", (d: Buffer) => (out += d.toString()));
  // WEFT_CLUSTER_LOGDIR: every node's output also goes to <dir>/<id>.log (to debug a failure)
  const logDir = process.env.WEFT_CLUSTER_LOGDIR;
  if (logDir) for (const s of [child.stdout!, child.stderr!]) s.on("data", (d: Buffer) => appendFileSync(join(logDir, `${a.id}.log`), d));
  const exited = new Promise((r) => child.on("exit", r));
  void exited.then(() => found(`(exited: ${out})`));
  const admin = url.then(() => /admin (\S+)/.exec(out)?.[1] ?? null);
  return { id: a.id, child, url, admin, exited, alive: () => child.exitCode === null && child.signalCode === null, output: () => out };
}

/** poll `probe` until it returns a value other than undefined; fails with `what` after `timeoutMs` */
export async function until<T>(what: string | (() => string), timeoutMs: number, probe: () => Promise<T | undefined> | T | undefined, everyMs = 50): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await probe();
    if (v !== undefined) return v;
    if (Date.now() > deadline) assert.fail(`${typeof what === "string" ? what : what()} (not within ${timeoutMs} ms)`);
    await sleep(everyMs);
  }
}

/** `p`, or a failure with `what` if it has not settled within `ms` (the timer is cleared either way) */
export async function within<T>(ms: number, p: Promise<T>, what: () => string): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  try {
    return await Promise.race([p, new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new assert.AssertionError({ message: `${what()} (not within ${ms} ms)` })), ms)))]);
  } finally {
    clearTimeout(timer);
  }
}

export interface ApiAnswer { status: number; body: any }

/**
 * The HTTP API of a set of nodes. `call` goes to the given node, or to a random live one; an answer
 * of 5xx or no answer is tried again (on any live node) until `retryMs` have passed.
 */
export function apiOf(nodes: () => (NodeProc | undefined)[], token: () => string | null, retryMs = 20_000) {
  const once = async (u: string, method: string, path: string, body?: unknown): Promise<ApiAnswer> => {
    const r = await fetch(u + path, {
      method, headers: { authorization: `Bearer ${token()}`, "content-type": "application/json" },
      body: body === undefined ? undefined : JSON.stringify(body), signal: AbortSignal.timeout(10_000),
    });
    const text = await r.text();
    return { status: r.status, body: text ? JSON.parse(text) : undefined };
  };
  const call = async (method: string, path: string, body?: unknown, on?: NodeProc): Promise<ApiAnswer> => {
    const deadline = Date.now() + retryMs;
    let last: unknown;
    for (;;) {
      const alive = on ? [on] : nodes().filter((n): n is NodeProc => !!n && n.alive());
      const n = alive[Math.floor(Math.random() * alive.length)];
      try {
        if (!n) throw new Error("no live node");
        const r = await once(await n.url, method, path, body);
        if (r.status < 500) return r;
        last = new Error(`${r.status} ${JSON.stringify(r.body)}`);
      } catch (e) {
        last = e;
      }
      if (Date.now() > deadline) throw last;
      await sleep(100);
    }
  };
  return { call, once };
}

/** the side-effect log (node.ts): per "instance/step", the nonces of its body's executions in order */
export function readEffects(file: string): Map<string, string[]> {
  const runs = new Map<string, string[]>();
  for (const line of readFileSync(file, "utf8").split("\n").filter(Boolean)) {
    const e = JSON.parse(line) as { instance: string; step: string; nonce: string };
    const k = `${e.instance}/${e.step}`;
    runs.set(k, [...(runs.get(k) ?? []), e.nonce]);
  }
  return runs;
}

/** how many step bodies ran so far (lines in the side-effect log) */
export function effectCount(file: string): number {
  try {
    return readFileSync(file, "utf8").split("\n").filter(Boolean).length;
  } catch {
    return 0;
  }
}

/** the instance's SQL database as the store holds it (rebuilt from its pages, no node's copy), queried read-only */
export async function storedRows<T>(store: PostgresStore, pk: number, file: string, sql: string): Promise<T[]> {
  const part = await store.sqlImage(pk, 1, 100_000);
  await writeDatabaseFile(file, part.pageSize, part.nPages, (async function* () { yield part.pages; })());
  const db = new DatabaseSync(file, { readOnly: true });
  try {
    return db.prepare(sql).all() as T[];
  } finally {
    db.close();
  }
}

/** a node's readiness: 200, 503, or 0 when it does not answer */
export async function readyz(n: NodeProc): Promise<number> {
  try {
    const r = await fetch((await n.url) + "/readyz", { signal: AbortSignal.timeout(5_000) });
    await r.text();
    return r.status;
  } catch {
    return 0;
  }
}

const TERMINAL = new Set(["workflow_completed", "workflow_errored", "workflow_terminated"]);

/**
 * An instance's Server-Sent Events stream on one node, read as EventSource does: a stream that ends
 * or fails before the instance's end (its node could not reach the store) is opened again after
 * 200 ms with Last-Event-ID, so no event is missed or repeated. `types`: the event types in order;
 * `ended`: resolves once the instance's last event came (or once closed); `reconnects`: how often
 * it was reopened.
 */
export function sseTypes(url: string, token: string, path: string): { types: string[]; ended: Promise<void>; reconnects(): number; close(): void } {
  const ac = new AbortController();
  const types: string[] = [];
  let lastId: string | undefined;
  let reconnects = 0;
  const ended = (async () => {
    for (;;) {
      try {
        const r = await fetch(url + path, { headers: { authorization: `Bearer ${token}`, accept: "text/event-stream", ...(lastId ? { "last-event-id": lastId } : {}) }, signal: ac.signal });
        if (r.status !== 200) {
          const text = await r.text();
          if (r.status < 500) throw new Error(`SSE ${path}: ${r.status} ${text}`);
        } else {
          const dec = new TextDecoder();
          let buf = "";
          for await (const chunk of r.body as unknown as AsyncIterable<Uint8Array>) {
            buf += dec.decode(chunk, { stream: true });
            let i: number;
            while ((i = buf.indexOf("\n\n")) >= 0) {
              const frame = buf.slice(0, i);
              buf = buf.slice(i + 2);
              const ev = /^event: ?(.*)$/m.exec(frame)?.[1];
              const id = /^id: ?(.*)$/m.exec(frame)?.[1];
              if (id) lastId = id;
              if (ev) types.push(ev);
              if (ev && TERMINAL.has(ev)) return;
            }
          }
        }
      } catch (e) {
        if (ac.signal.aborted) return;
        if (/^SSE /.test((e as Error).message)) throw e;
      }
      if (ac.signal.aborted) return;
      reconnects++;
      await sleep(200);
    }
  })();
  return { types, ended, reconnects: () => reconnects, close: () => ac.abort() };
}

export const dataDir = (root: string, slot: number) => join(root, `node${slot}`);

/**
 * Two engine nodes in this process on one new PostgreSQL schema (nodes "a" and "b", one secret key),
 * closed and dropped after the test. `more`: options for both (hostFunctions, clock, suspendAfterMs…).
 */
export async function enginePair(t: TestContext, more: Partial<EngineOptions> = {}, prefix = "weft_n"): Promise<{ a: Engine; b: Engine }> {
  const schema = testSchema(prefix);
  const root = mkdtempSync(join(tmpdir(), "weft-pair-"));
  const common = { postgres: { url: TEST_POSTGRES_URL, schema }, secretKey: randomBytes(32).toString("hex"), leaseMs: 30_000, ...more };
  const a = await Engine.open({ ...common, dataDir: join(root, "a"), nodeId: "a" });
  const b = await Engine.open({ ...common, dataDir: join(root, "b"), nodeId: "b" });
  t.after(async () => {
    await a.close().catch(() => undefined);
    await b.close().catch(() => undefined);
    rmSync(root, { recursive: true, force: true });
    await dropSchema(schema);
  });
  return { a, b };
}

/**
 * The cluster tests' workflow: a schema step, `steps` steps that each call the `effect` host
 * function, write a row and a file (a 1 s sleep after the second), an event wait, a count of the rows.
 * `bodyMs`: each body also waits that long (bodies in flight when a fault strikes).
 */
export function jobSource(steps: number, bodyMs = 0): string {
  return `
import { WorkflowEntrypoint } from "cloudflare:workers";
export class Job extends WorkflowEntrypoint {
  async run(event, step) {
    const cfg = { retries: { limit: 50, delay: "100 ms", backoff: "constant" } };
    await step.do("schema", cfg, async () => { this.ctx.storage.sql.exec("CREATE TABLE IF NOT EXISTS t (step INTEGER, nonce TEXT)"); });
    const nonces = [];
    for (let i = 1; i <= ${steps}; i++) {
      const r = await step.do("s" + i, cfg, async () => {
        const nonce = await this.env.effect(event.instanceId, "s" + i);
        ${bodyMs > 0 ? `await new Promise((r) => setTimeout(r, ${bodyMs}));` : ""}
        this.ctx.storage.sql.exec("INSERT INTO t VALUES (?, ?)", i, nonce);
        await this.ctx.fs.writeFile("s" + i + ".txt", nonce);
        return { nonce };
      });
      nonces.push(r.nonce);
      if (i === 2) await step.sleep("nap", "1 second");
    }
    const ev = await step.waitForEvent("go", { type: "go", timeout: "1 hour" });
    const n = await step.do("count", async () => this.ctx.storage.sql.exec("SELECT COUNT(*) AS n FROM t").one().n);
    return { n, k: ev.payload.k, nonces };
  }
}`;
}

/** a step, then an event wait an hour long (a run that stays live, waiting), then their sum */
export const WAITER = `
import { WorkflowEntrypoint } from "cloudflare:workers";
export class W extends WorkflowEntrypoint {
  async run(event, step) {
    const a = await step.do("a", async () => 1);
    const ev = await step.waitForEvent("go", { type: "go", timeout: "1 hour" });
    return a + ev.payload.k;
  }
}`;

/**
 * One job instance's output checked against the side-effect log: a row per step, its own event, and
 * for each step the committed result is the last execution of its body. Returns 1 if some body ran more than once.
 */
export function checkJob(i: number, output: unknown, steps: number, runs: Map<string, string[]>): number {
  const out = output as { n: number; k: number; nonces: string[] };
  assert.equal(out.n, steps, `i${i}: one row per step`);
  assert.equal(out.k, i, `i${i}: its own event`);
  let reran = 0;
  for (let st = 1; st <= steps; st++) {
    const execs = runs.get(`i${i}/s${st}`) ?? [];
    assert.equal(execs[execs.length - 1], out.nonces[st - 1], `i${i} s${st}: the committed result is the last execution of its body (none after it): ${execs.join(", ")}`);
    if (execs.length > 1) reran++;
  }
  return reran;
}
