// env bindings shaped like Cloudflare's (issue 12, item 13): host objects whose methods are callable
// again from the isolate (stubs, with D1's synchronous-looking `prepare(sql).bind(…).all()` chains),
// KV-, D1- and R2-shaped bindings written from Cloudflare's binding APIs (Workers KV: get/put/list/
// delete; D1: prepare/bind/first/all/run/batch/exec; R2: get → R2ObjectBody with text()/json()), a
// Workflow binding to the tenant's own workflows (reference §1.6 and §1.7), and hostile tenant values.
// Time is the virtual clock of the engine harness.
import { test } from "node:test";
import assert from "node:assert/strict";
import { DatabaseSync } from "node:sqlite";
import { HOUR, SECOND, TENANT, deploy, open, until, wf } from "../engine/helpers.ts";
import { serverFor, module } from "../api/helpers.ts";
import { ErrorCode, WeftError, hostFunction, workflowBinding } from "../../src/index.ts";
import { HostObjects } from "../../src/engine/host-objects.ts";

const LIMIT = { timeout: 30_000 };

// ---- bindings as a platform writes them (host side) --------------------------------------------

/** Workers KV's shape over a Map (values are strings; get(key, "json") parses). */
class MapKV {
  readonly map = new Map<string, string>(); // an own data property: never visible to the tenant
  calls = 0;
  async get(key: string, type?: string | { type?: string }): Promise<unknown> {
    this.calls++;
    const v = this.map.get(key);
    if (v === undefined) return null;
    const t = typeof type === "string" ? type : type?.type;
    return t === "json" ? JSON.parse(v) : v;
  }
  async put(key: string, value: unknown): Promise<void> {
    this.calls++;
    this.map.set(key, typeof value === "string" ? value : JSON.stringify(value));
  }
  async delete(key: string): Promise<void> {
    this.map.delete(key);
  }
  async list(o: { prefix?: string; limit?: number } = {}): Promise<{ keys: { name: string }[]; list_complete: boolean }> {
    const keys = [...this.map.keys()].filter((k) => k.startsWith(o.prefix ?? "")).sort().slice(0, o.limit ?? 1000).map((name) => ({ name }));
    return { keys, list_complete: true };
  }
  boom(): never {
    throw new TypeError("kv exploded");
  }
  async fail(): Promise<never> {
    throw Object.assign(new Error("KV PUT failed: 429 Too Many Requests"), { code: "kv_rate" });
  }
  throwsString(): never {
    throw "plain string thrown"; // eslint-disable-line no-throw-literal
  }
  weird(): unknown {
    return new WeakMap();
  }
  get sizeGetter(): number {
    this.calls += 1000; // must never run: getters are not methods
    return this.map.size;
  }
}

/** D1's shape (prepare → statement, bind → statement, first/all/run/raw; batch, exec) over node:sqlite. */
class SqliteD1 {
  readonly db: DatabaseSync;
  constructor(db: DatabaseSync) {
    this.db = db;
  }
  prepare(sql: string): SqliteStatement {
    return new SqliteStatement(this.db, sql, []);
  }
  async batch(stmts: SqliteStatement[]): Promise<unknown[]> {
    if (!Array.isArray(stmts) || !stmts.every((s) => s instanceof SqliteStatement)) throw new TypeError("batch() takes prepared statements");
    this.db.exec("BEGIN");
    try {
      const out = stmts.map((s) => s.runSync());
      this.db.exec("COMMIT");
      return out;
    } catch (e) {
      this.db.exec("ROLLBACK");
      throw e;
    }
  }
  async exec(sql: string): Promise<{ count: number; duration: number }> {
    this.db.exec(sql);
    return { count: sql.split(";").filter((x) => x.trim()).length, duration: 0 };
  }
}

class SqliteStatement {
  private readonly db: DatabaseSync;
  private readonly sql: string;
  private readonly values: unknown[];
  constructor(db: DatabaseSync, sql: string, values: unknown[]) {
    this.db = db;
    this.sql = sql;
    this.values = values;
  }
  bind(...values: unknown[]): SqliteStatement {
    return new SqliteStatement(this.db, this.sql, values);
  }
  async first(column?: string): Promise<unknown> {
    const row = this.db.prepare(this.sql).get(...(this.values as never[])) as Record<string, unknown> | undefined;
    if (!row) return null;
    return column === undefined ? { ...row } : row[column];
  }
  async all(): Promise<{ results: unknown[]; success: true; meta: { rows_read: number } }> {
    const rows = this.db.prepare(this.sql).all(...(this.values as never[])).map((r) => ({ ...r }));
    return { results: rows, success: true, meta: { rows_read: rows.length } };
  }
  async run(): Promise<unknown> {
    return this.runSync();
  }
  async raw(): Promise<unknown[][]> {
    const st = this.db.prepare(this.sql);
    return st.all(...(this.values as never[])).map((r) => Object.values(r));
  }
  runSync(): { success: true; meta: { changes: number; last_row_id: number } } {
    const r = this.db.prepare(this.sql).run(...(this.values as never[]));
    return { success: true, meta: { changes: Number(r.changes), last_row_id: Number(r.lastInsertRowid) } };
  }
}

/** R2's get(key) → null | R2ObjectBody-shaped plain object: metadata by value, body readers as methods. */
function memoryR2() {
  const objects = new Map<string, { body: string; uploaded: Date }>();
  return {
    objects,
    binding: {
      async put(key: string, body: string) {
        objects.set(key, { body, uploaded: new Date(Date.UTC(2026, 0, 2)) });
        return { key, size: body.length };
      },
      async get(key: string) {
        const o = objects.get(key);
        if (!o) return null;
        return {
          key, size: o.body.length, etag: `"${o.body.length}"`, uploaded: o.uploaded, httpMetadata: { contentType: "application/json" },
          text: async () => o.body,
          json: async () => JSON.parse(o.body),
          arrayBuffer: async () => new TextEncoder().encode(o.body).buffer,
        };
      },
    },
  };
}

// ---- KV ----------------------------------------------------------------------------------------

test("a KV-shaped binding (a class instance over a host Map): put, get, get json, list, delete from steps", LIMIT, async (t) => {
  const h = await open(t);
  const kv = new MapKV();
  const src = wf(`
    await step.do("put", async () => {
      await this.env.KV.put("user:1", "ada");
      await this.env.KV.put("user:2", JSON.stringify({ name: "bob" }));
      await this.env.KV.put("other", "x");
    });
    const got = await step.do("get", async () => ({
      one: await this.env.KV.get("user:1"),
      two: await this.env.KV.get("user:2", "json"),
      twoTyped: await this.env.KV.get("user:2", { type: "json" }),
      none: await this.env.KV.get("nope"),
    }));
    const listed = await step.do("list", async () => this.env.KV.list({ prefix: "user:" }));
    await step.do("delete", async () => this.env.KV.delete("other"));
    const counter = await step.do("counter", async () => { const inc = await this.env.makeCounter(); await inc(); return await inc(); });
    return { got, listed, methods: Object.keys(this.env.KV).sort(), hiddenMap: this.env.KV.map === undefined, counter };`);
  let n = 0;
  await deploy(h.engine, "kv", src, { env: { KV: kv, makeCounter: () => () => ++n } });
  const s = await (await h.engine.workflow(TENANT, "kv").create({ id: "k1" })).waitFor();
  assert.equal(s.status, "complete", JSON.stringify(s.error));
  assert.deepEqual(s.output, {
    got: { one: "ada", two: { name: "bob" }, twoTyped: { name: "bob" }, none: null },
    listed: { keys: [{ name: "user:1" }, { name: "user:2" }], list_complete: true },
    methods: ["boom", "delete", "fail", "get", "list", "put", "throwsString", "weird"],
    hiddenMap: true,
    counter: 2,
  });
  assert.deepEqual([...kv.map.keys()].sort(), ["user:1", "user:2"], "the host Map holds what the workflow put and deleted");
  assert.ok(kv.calls < 1000, "the getter was never called");
});

test("a host object registered by name (hostFunction(\"kv\"), HTTP { hostFunction }) is a stub too, also after a restart without a re-deploy", LIMIT, async (t) => {
  const kv = new MapKV();
  const h = await open(t, { hostFunctions: { kv } });
  const src = wf(`
    await step.do("put", async () => this.env.KV.put("a", "1"));
    await step.sleep("nap", "1 hour");
    return await step.do("get", async () => [await this.env.KV.get("a"), Object.keys(this.env.KV).includes("get")]);`);
  await deploy(h.engine, "named", src, { env: { KV: hostFunction("kv") } });
  const inst = await h.engine.workflow(TENANT, "named").create({ id: "n1" });
  await inst.waitFor(["waiting"]);
  await h.reopen(); // no deploy: the object is found by its name
  h.clock.advance(HOUR);
  const s = await (await h.engine.workflow(TENANT, "named").get("n1")).waitFor();
  assert.equal(s.status, "complete", JSON.stringify(s.error));
  assert.deepEqual(s.output, ["1", true]);

  const srv = await serverFor(t, { engineOptions: { hostFunctions: { kv } } });
  assert.equal((await srv.call("POST", "/v1/tenants", { name: "acme" })).status, 201);
  const d = await srv.call("PUT", "/v1/tenants/acme/workflows/named", { ...module(`return await step.do("get", async () => this.env.KV.get("a"));`), env: { KV: { hostFunction: "kv" } } });
  assert.equal(d.status, 200, d.text);
  const v = await srv.call("GET", `/v1/tenants/acme/workflows/named/versions/${d.body.version}`);
  assert.deepEqual(v.body.env, { KV: { hostFunction: "kv" } });
  const c = await srv.call("POST", "/v1/tenants/acme/workflows/named/instances", { id: "i1" });
  assert.equal(c.status, 201, c.text);
  const done = await until(async () => {
    const r = await srv.call("GET", "/v1/tenants/acme/workflows/named/instances/i1");
    return r.body?.status === "complete" ? r.body : undefined;
  }, "the HTTP instance to complete");
  assert.equal(done.output, "1");
});

// ---- D1 ----------------------------------------------------------------------------------------

test("a D1-shaped binding on a real node:sqlite database: prepare(sql).bind(…).first()/all()/run(), batch, exec, a statement reused", LIMIT, async (t) => {
  const h = await open(t);
  const db = new DatabaseSync(":memory:");
  t.after(() => db.close());
  const src = wf(`
    await step.do("schema", async () => { await this.env.DB.exec("CREATE TABLE users (id INTEGER PRIMARY KEY, name TEXT NOT NULL)"); });
    const inserted = await step.do("insert", async () => (await this.env.DB.prepare("INSERT INTO users (name) VALUES (?)").bind("ada").run()).meta);
    const batch = await step.do("batch", async () => {
      const ins = this.env.DB.prepare("INSERT INTO users (name) VALUES (?)");
      const r = await this.env.DB.batch([ins.bind("bob"), ins.bind("cy"), this.env.DB.prepare("UPDATE users SET name = upper(name) WHERE id = ?").bind(1)]);
      return r.map((x) => x.meta.changes);
    });
    const all = await step.do("all", async () => (await this.env.DB.prepare("SELECT id, name FROM users WHERE id > ? ORDER BY id").bind(1).all()).results);
    const first = await step.do("first", async () => this.env.DB.prepare("SELECT name FROM users WHERE id = ?").bind(2).first("name"));
    const row = await step.do("first row", async () => this.env.DB.prepare("SELECT * FROM users WHERE id = ?").bind(1).first());
    const missing = await step.do("none", async () => this.env.DB.prepare("SELECT * FROM users WHERE id = ?").bind(99).first());
    const raw = await step.do("raw", async () => this.env.DB.prepare("SELECT id, name FROM users ORDER BY id").raw());
    const count = this.env.DB.prepare("SELECT count(*) AS n FROM users"); // made once, outside steps
    const n1 = await step.do("count", async () => (await count.first()).n);
    const error = await step.do("bad sql", async () => {
      try { await this.env.DB.prepare("SELECT * FROM nowhere").all(); return "no error"; } catch (e) { return e.message; }
    });
    return { inserted, batch, all, first, row, missing, raw, n1, error };`);
  await deploy(h.engine, "d1", src, { env: { DB: new SqliteD1(db) } });
  const s = await (await h.engine.workflow(TENANT, "d1").create({ id: "d1" })).waitFor();
  assert.equal(s.status, "complete", JSON.stringify(s.error));
  assert.deepEqual(s.output, {
    inserted: { changes: 1, last_row_id: 1 },
    batch: [1, 1, 1],
    all: [{ id: 2, name: "bob" }, { id: 3, name: "cy" }],
    first: "bob",
    row: { id: 1, name: "ADA" },
    missing: null,
    raw: [[1, "ADA"], [2, "bob"], [3, "cy"]],
    n1: 3,
    error: "no such table: nowhere",
  });
  assert.deepEqual(db.prepare("SELECT name FROM users ORDER BY id").all().map((r) => r.name), ["ADA", "bob", "cy"], "the host's database holds the rows");
});

// ---- R2 ----------------------------------------------------------------------------------------

test("an R2-shaped binding: get(key) gives an object whose metadata is there at once and whose text()/json() read the body", LIMIT, async (t) => {
  const h = await open(t);
  const r2 = memoryR2();
  const src = wf(`
    await step.do("put", async () => this.env.BUCKET.put("report.json", JSON.stringify({ ok: true, n: 3 })));
    return await step.do("read", async () => {
      const obj = await this.env.BUCKET.get("report.json");
      return {
        key: obj.key, size: obj.size, etag: obj.etag, uploaded: obj.uploaded.toISOString(), type: obj.httpMetadata.contentType,
        text: await obj.text(), json: await obj.json(), bytes: new Uint8Array(await obj.arrayBuffer()).length,
        chained: await this.env.BUCKET.get("report.json").text(),
        size2: await this.env.BUCKET.get("report.json").size,
        missing: await this.env.BUCKET.get("nothing"),
        frozen: Object.isFrozen(obj),
      };
    });`);
  await deploy(h.engine, "r2", src, { env: { BUCKET: r2.binding } });
  const s = await (await h.engine.workflow(TENANT, "r2").create({ id: "r1" })).waitFor();
  assert.equal(s.status, "complete", JSON.stringify(s.error));
  const body = JSON.stringify({ ok: true, n: 3 });
  assert.deepEqual(s.output, {
    key: "report.json", size: body.length, etag: `"${body.length}"`, uploaded: "2026-01-02T00:00:00.000Z", type: "application/json",
    text: body, json: { ok: true, n: 3 }, bytes: body.length, chained: body, size2: body.length, missing: null, frozen: true,
  });
  assert.equal(r2.objects.get("report.json")?.body, body);
});

// ---- Workflow binding --------------------------------------------------------------------------

const CHILD = wf(`
  const ev = await step.waitForEvent("go", { type: "go", timeout: "1 hour" });
  return { n: event.payload.n * ev.payload.k };`);

test("a Workflow binding: a step creates a child instance, sends it an event and waits on its status; createBatch, get, terminate", LIMIT, async (t) => {
  const h = await open(t);
  await deploy(h.engine, "child", CHILD);
  const parent = wf(`
    const id = await step.do("spawn", async () => {
      const inst = await this.env.CHILD.create({ id: "kid-1", params: { n: 21 } });
      return inst.id;
    });
    const first = await step.do("poke", async () => {
      const c = await this.env.CHILD.get(id);
      const before = (await c.status()).status;
      await c.sendEvent({ type: "go", payload: { k: 2 } });
      return before;
    });
    const done = await step.do("wait for the child", { retries: { limit: 30, delay: "1 second", backoff: "constant" } }, async () => {
      const st = await (await this.env.CHILD.get(id)).status();
      if (st.status !== "complete") throw new Error("child is " + st.status);
      return st;
    });
    const batch = await step.do("batch", async () => {
      const list = await this.env.CHILD.createBatch([{ id: "kid-2", params: { n: 1 } }, { id: "kid-3", params: { n: 2 } }]);
      await list[1].terminate();
      return list.map((i) => i.id);
    });
    const unknown = await step.do("unknown", async () => {
      try { await this.env.CHILD.get("no-such-kid"); return "found"; } catch (e) { return e.message; }
    });
    return { id, first, output: done.output, batch, unknown };`);
  await deploy(h.engine, "parent", parent, { env: { CHILD: workflowBinding("child") } });
  const p = await h.engine.workflow(TENANT, "parent").create({ id: "p1" });
  const s = await until(async () => {
    h.clock.advance(SECOND);
    const st = await p.status();
    return ["complete", "errored"].includes(st.status) ? st : undefined;
  }, "the parent to finish");
  assert.equal(s.status, "complete", JSON.stringify(s.error));
  const out = s.output as { id: string; first: string; output: unknown; batch: string[]; unknown: string };
  assert.equal(out.id, "kid-1");
  assert.ok(["queued", "running", "waiting"].includes(out.first), out.first);
  assert.deepEqual(out.output, { n: 42 });
  assert.deepEqual(out.batch, ["kid-2", "kid-3"]);
  assert.match(out.unknown, /no-such-kid/);
  const kid = await h.engine.workflow(TENANT, "child").get("kid-1");
  assert.deepEqual((await kid.status()).output, { n: 42 }, "the child ran in the parent's tenant");
  assert.equal((await (await h.engine.workflow(TENANT, "child").get("kid-3")).status()).status, "terminated");
  assert.notEqual((await (await h.engine.workflow(TENANT, "child").get("kid-2")).status()).status, "terminated");
});

test("a Workflow binding reaches the run's own tenant only: the same binding deployed for another tenant never sees acme's workflow", LIMIT, async (t) => {
  const h = await open(t);
  await deploy(h.engine, "child", CHILD);
  const src = wf(`return await step.do("spawn", async () => {
    try { await this.env.CHILD.create({ id: "x" }); return "created"; } catch (e) { return e.message; }
  });`);
  await h.engine.deploy({ tenant: "globex", workflow: "parent", code: { mainModule: "index.ts", modules: { "index.ts": src } }, env: { CHILD: workflowBinding("child") } });
  const s = await (await h.engine.workflow("globex", "parent").create({ id: "g1" })).waitFor();
  assert.equal(s.status, "complete", JSON.stringify(s.error));
  assert.match(String(s.output), /child.*globex|globex.*child/, String(s.output));
  await assert.rejects(h.engine.workflow(TENANT, "child").get("x"), /does not exist|not_found|not found/i, "nothing was created in acme");
});

test("a Workflow binding to another tenant's workflow is refused at deploy, in the library and over HTTP, with a precise error", LIMIT, async (t) => {
  const h = await open(t);
  await assert.rejects(
    deploy(h.engine, "parent", wf(`return 1;`), { env: { OTHER: workflowBinding("billing", { tenant: "globex" }) } }),
    (e: unknown) => e instanceof WeftError && e.code === ErrorCode.Forbidden &&
      e.message === `env.OTHER: a Workflow binding reaches only the deploying tenant's own workflows; workflow "billing" of tenant "globex" cannot be bound by a deploy of tenant "acme"`,
  );
  await assert.rejects(deploy(h.engine, "parent", wf(`return 1;`), { env: { BAD: workflowBinding("globex/billing") } }), (e: unknown) => e instanceof WeftError && /^env\.BAD: /.test(e.message));
  // the same tenant named explicitly is fine
  await deploy(h.engine, "parent", wf(`return 1;`), { env: { SELF: workflowBinding("parent", { tenant: TENANT }) } });

  const s = await serverFor(t);
  assert.equal((await s.call("POST", "/v1/tenants", { name: "acme" })).status, 201);
  const refused = await s.call("PUT", "/v1/tenants/acme/workflows/parent", { ...module(`return 1;`), env: { OTHER: { workflow: "billing", tenant: "globex" } } });
  assert.equal(refused.status, 403, refused.text);
  assert.equal(refused.body.error.code, "forbidden");
  assert.match(refused.body.error.message, /env\.OTHER: a Workflow binding reaches only the deploying tenant's own workflows/);
  const ok = await s.call("PUT", "/v1/tenants/acme/workflows/parent", { ...module(`return 1;`), env: { CHILD: { workflow: "child" } } });
  assert.equal(ok.status, 200, ok.text);
  const v = await s.call("GET", `/v1/tenants/acme/workflows/parent/versions/${ok.body.version}`);
  assert.deepEqual(v.body.env, { CHILD: { workflow: "child" } });
});

// ---- hostile tenant values ---------------------------------------------------------------------

test("hostile: a stub kept in a module-level variable is refused in another run; made-up and foreign handles name nothing", LIMIT, async (t) => {
  const h = await open(t, { maxContextsPerIsolate: 1 });
  const r2 = memoryR2();
  await r2.binding.put("k", "secret body");
  const src = wf(`
    if (event.payload.role === "owner") {
      await step.do("keep", async () => { globalThis.leakedObj = await this.env.BUCKET.get("k"); globalThis.leakedEnv = this.env; });
      await step.waitForEvent("hold", { type: "never", timeout: "1 hour" });
      return "owner";
    }
    return await step.do("use", async () => {
      const out = [];
      for (const f of [() => globalThis.leakedObj.text(), () => globalThis.leakedEnv.KV.get("k")]) {
        try { out.push(await f()); } catch (e) { out.push(e.message); }
      }
      out.push(await this.env.BUCKET.get("k").text());
      return out;
    });`);
  await deploy(h.engine, "leak", src, { env: { BUCKET: r2.binding, KV: new MapKV() } });
  const owner = await h.engine.workflow(TENANT, "leak").create({ id: "owner", params: { role: "owner" } });
  await until(async () => (await owner.describe()).steps.some((x) => x.type === "waitForEvent" || (x as { name?: string }).name === "hold"), "the owner to hold its stub");
  const s = await (await h.engine.workflow(TENANT, "leak").create({ id: "thief", params: { role: "thief" } })).waitFor();
  assert.equal(s.status, "complete", JSON.stringify(s.error));
  const [a, b, own] = s.output as string[];
  assert.match(a!, /env\.BUCKET\.get\(\)\.text\(\): this stub belongs to another run/);
  assert.match(b!, /env\.KV\.get\(\): this stub belongs to another run/);
  assert.equal(own, "secret body", "the thief's own binding works");

  // the host's tables: a handle of another run's table, or a made-up one, names nothing
  const secretObj = { read: () => "the other run's secret" };
  const mk = () => new HostObjects({ limit: 10, root: async () => undefined, callFn: async () => ({ value: secretObj }) });
  const a1 = mk(), b1 = mk();
  const r = await a1.invoke({ t: "hostCall", id: 1, fn: "open", args: [] });
  const h1 = r.stubs![0]!.h;
  assert.equal((await a1.invoke({ t: "stubCall", id: 2, handle: h1, method: "read", args: [] })).value, "the other run's secret");
  for (const handle of [h1, "1", h1.replace(/\d+$/, "2"), "env:whatever", "__proto__", "constructor"]) {
    await assert.rejects(b1.invoke({ t: "stubCall", id: 3, handle, method: "read", args: [] }), (e: unknown) => e instanceof WeftError && e.code === ErrorCode.NotFound, handle);
  }
  await assert.rejects(b1.invoke({ t: "hostCall", id: 4, fn: "f", args: [null], refs: [{ path: [0], h: h1 }] }), (e: unknown) => e instanceof WeftError && e.code === ErrorCode.NotFound);
  await assert.rejects(a1.invoke({ t: "hostCall", id: 5, fn: "f", args: ["not null"], refs: [{ path: [0], h: h1 }] }), /names no position/);
  a1.clear();
  await assert.rejects(a1.invoke({ t: "stubCall", id: 6, handle: h1, method: "read", args: [] }), /no host object/, "released when the run ends");
});

test("hostile: constructor, __proto__, then, toString and getters are never reached; a Proxy is asked only for the names called", LIMIT, async (t) => {
  const h = await open(t);
  const asked: (string | symbol)[] = [];
  let constructed = 0;
  class Target {
    secret = "own data";
    constructor() {
      constructed++;
    }
    hello() {
      return "hi";
    }
  }
  const target = new Target();
  const proxy = new Proxy({}, { get: (_t, k) => (asked.push(k), k === "greet" ? (n: string) => `hello ${n}` : undefined) });
  const src = wf(`
    return await step.do("probe", async () => {
      const P = this.env.P, T = this.env.T;
      const out = {
        proxyConstructor: typeof P.constructor, proxyProto: typeof P.__proto__, proxyThen: typeof P.then, proxyToString: typeof P.toString,
        greet: await P.greet("ada"),
        tKeys: Object.keys(T), tSecret: T.secret === undefined, hello: await T.hello(),
        tConstructorIsGuests: T.constructor === Object,
      };
      try { await P.missing(); } catch (e) { out.missing = e.message; }
      try { await T.secretMethod(); } catch (e) { out.tMissing = e.message; }
      return out;
    });`);
  await deploy(h.engine, "probe", src, { env: { P: proxy, T: target } });
  const s = await (await h.engine.workflow(TENANT, "probe").create({ id: "p1" })).waitFor();
  assert.equal(s.status, "complete", JSON.stringify(s.error));
  assert.deepEqual(s.output, {
    proxyConstructor: "undefined", proxyProto: "undefined", proxyThen: "undefined", proxyToString: "undefined",
    greet: "hello ada", tKeys: ["hello"], tSecret: true, hello: "hi", tConstructorIsGuests: true,
    missing: `env.P: "missing" is not a method of this host object`, tMissing: "T.secretMethod is not a function",
  });
  assert.deepEqual(asked.filter((k) => typeof k === "string").sort(), ["greet", "missing"], "the Proxy was asked for nothing else");
  assert.equal(constructed, 1, "the host constructor never ran again");

  // the host refuses those names whatever a stub asks for
  const objs = new HostObjects({ limit: 10, root: async () => undefined, callFn: async () => ({ value: new MapKV() }) });
  const { stubs } = await objs.invoke({ t: "hostCall", id: 1, fn: "kv", args: [] });
  assert.deepEqual(stubs![0]!.methods!.sort(), ["boom", "delete", "fail", "get", "list", "put", "throwsString", "weird"]);
  for (const m of ["constructor", "__proto__", "prototype", "then", "toString", "valueOf", "hasOwnProperty", "__lookupGetter__", "__defineGetter__"]) {
    await assert.rejects(objs.invoke({ t: "stubCall", id: 2, handle: stubs![0]!.h, method: m, args: [] }), new RegExp(`"${m.replace(/\$/g, "\\$")}" is never callable through a stub`), m);
  }
  for (const m of ["map", "sizeGetter", "calls", "nope", ""]) {
    await assert.rejects(objs.invoke({ t: "stubCall", id: 3, handle: stubs![0]!.h, method: m, args: [] }), /is not (a method of this host object|callable)/, m);
  }
});

test("hostile: a host method that throws gives the guest an Error with its name and message; non-cloneable args and results are refused precisely", LIMIT, async (t) => {
  const h = await open(t);
  const kv = new MapKV();
  const src = wf(`
    return await step.do("probe", async () => {
      const out = {};
      const catching = async (k, f) => { try { await f(); out[k] = "no error"; } catch (e) { out[k] = { name: e.name, message: e.message, code: e.code }; } };
      await catching("sync", () => this.env.KV.boom());
      await catching("async", () => this.env.KV.fail());
      await catching("string", () => this.env.KV.throwsString());
      await catching("fnArg", () => this.env.KV.put("k", () => 1));
      await catching("symbolArg", () => this.env.KV.put("k", Symbol("s")));
      await catching("result", () => this.env.KV.weird());
      out.after = await this.env.KV.get("k");
      return out;
    });`);
  await deploy(h.engine, "throws", src, { env: { KV: kv } });
  const s = await (await h.engine.workflow(TENANT, "throws").create({ id: "t1" })).waitFor();
  assert.equal(s.status, "complete", JSON.stringify(s.error));
  const out = s.output as Record<string, { name: string; message: string; code?: string }>;
  assert.deepEqual(out.sync, { name: "TypeError", message: "kv exploded", code: undefined });
  assert.deepEqual(out.async, { name: "Error", message: "KV PUT failed: 429 Too Many Requests", code: "kv_rate" });
  assert.equal(out.string!.message, "plain string thrown");
  assert.equal(out.fnArg!.code, "not_serializable");
  assert.match(out.fnArg!.message, /^env\.KV\.put\(\) arguments is not serializable: a function at arguments\[1\]/);
  assert.match(out.symbolArg!.message, /^env\.KV\.put\(\) arguments is not serializable: a symbol at arguments\[1\]/);
  assert.equal(out.result!.code, "not_serializable");
  assert.match(out.result!.message, /^env\.KV\.weird\(\) returned a value that cannot cross into the isolate/);
  assert.equal(out.after as unknown, null, "the refused puts never reached the host");
  assert.equal(kv.map.size, 0);
  // the engine goes on: another instance runs
  assert.equal((await (await h.engine.workflow(TENANT, "throws").create({ id: "t2" })).waitFor()).status, "complete");
});

test("hostile: a run holds at most limits.hostObjects host objects (a precise error), released when the run ends", LIMIT, async (t) => {
  const h = await open(t);
  const db = new DatabaseSync(":memory:");
  t.after(() => db.close());
  const src = wf(`
    const many = async (n) => {
      const out = [];
      for (let i = 0; i < n; i++) {
        try { await this.env.DB.prepare("SELECT " + i + " AS v").first("v"); out.push(i); } catch (e) { out.push(e.message); break; }
      }
      return out;
    };
    const before = await step.do("before", async () => many(8));
    await step.sleep("the run ends", "1 hour");
    const after = await step.do("after", async () => many(3));
    return { before, after };`);
  await deploy(h.engine, "handles", src, { env: { DB: new SqliteD1(db) }, limits: { hostObjects: 5 } });
  const inst = await h.engine.workflow(TENANT, "handles").create({ id: "h1" });
  await inst.waitFor(["waiting"]);
  h.clock.advance(HOUR);
  const s = await inst.waitFor();
  assert.equal(s.status, "complete", JSON.stringify(s.error));
  const out = s.output as { before: unknown[]; after: unknown[] };
  assert.deepEqual(out.before.slice(0, 5), [0, 1, 2, 3, 4]);
  assert.equal(out.before[5], `env.DB.prepare() returned a host object, but this run already holds 5 host objects (limits.hostObjects): they are released only when the run ends (when the instance sleeps, waits or finishes). Reuse host objects (prepare a statement once and bind it again), or raise limits.hostObjects`);
  assert.deepEqual(out.after, [0, 1, 2], "a new run has a fresh table");
  await assert.rejects(deploy(h.engine, "handles", src, { limits: { hostObjects: 0 } }), /limits\.hostObjects must be an integer from 1 to 1000000/);
});
