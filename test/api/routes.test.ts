// Every route of the v1 API over a real listening server, with its success and error statuses:
// service routes, tenants and tokens, workflows and versions (deploy, compile errors, code quota,
// secrets, host functions), instances (create, batch, list filters and cursor, describe, actions,
// events, SSE, logs, files, SQL), and the request-level errors (bad JSON, content type, body size).
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { expectError, module, serverFor, until, type TestServer } from "./helpers.ts";

const LIMIT = { timeout: 30_000 };
const W = "/v1/tenants/acme/workflows";

async function tenantWithToken(s: TestServer, name = "acme", quotas?: Record<string, number>): Promise<string> {
  assert.equal((await s.call("POST", "/v1/tenants", { name, ...(quotas ? { quotas } : {}) })).status, 201);
  const tok = await s.call("POST", `/v1/tenants/${name}/tokens`, { name: "ci" });
  assert.equal(tok.status, 201);
  assert.match(tok.body.token, /^weft_[A-Za-z0-9_-]{43}$/, "256 random bits, base64url");
  return tok.body.token as string;
}

const waiter = module(`
    const ev = await step.waitForEvent("go", { type: "go", timeout: "1 hour" });
    await step.do("write", async () => {
      this.ctx.storage.sql.exec("CREATE TABLE IF NOT EXISTS t (v)");
      this.ctx.storage.sql.exec("INSERT INTO t VALUES (?)", JSON.stringify(ev.payload));
      await this.ctx.fs.writeFile("out.json", JSON.stringify(ev.payload));
    });
    console.log("got", JSON.stringify(ev.payload));
    return { got: ev.payload, params: event.payload };`);

test("service routes: healthz, readyz, openapi.json (every route, with request schemas), metrics (admin only)", LIMIT, async (t) => {
  const s = await serverFor(t);
  assert.deepEqual((await s.call("GET", "/healthz", undefined, null)).body, { ok: true });
  assert.deepEqual((await s.call("GET", "/readyz", undefined, null)).body, { ready: true });
  const o = await s.call("GET", "/openapi.json", undefined, null);
  assert.equal(o.body.openapi, "3.1.0");
  const ops = Object.entries(o.body.paths as Record<string, Record<string, { requestBody?: { content: Record<string, { schema: { properties?: object } }> } }>>);
  assert.ok(ops.length >= 20, `${ops.length} paths`);
  const deploy = o.body.paths["/v1/tenants/{tenant}/workflows/{workflow}"].put;
  assert.deepEqual(Object.keys(deploy.requestBody.content["application/json"].schema.properties).sort(), ["className", "egress", "env", "limits", "mainModule", "modules"]);
  expectError(await s.call("GET", "/metrics", undefined, null), 401, "unauthorized");
  const m = await s.call("GET", "/metrics");
  assert.equal(m.status, 200);
  assert.match(m.text, /^weft_instances_created_total 0$/m);
  expectError(await s.call("GET", "/v1/nope"), 404, "not_found");
});

test("authentication: no token and unknown tokens 401 (with WWW-Authenticate); a tenant token on admin routes 403; revoked tokens stop working at once", LIMIT, async (t) => {
  const s = await serverFor(t);
  const r = await s.call("GET", "/v1/tenants", undefined, null);
  expectError(r, 401, "unauthorized");
  assert.match(r.headers.get("www-authenticate") ?? "", /^Bearer/);
  expectError(await s.call("GET", "/v1/tenants", undefined, "weft_" + "A".repeat(43)), 401, "unauthorized");
  expectError(await s.call("GET", "/v1/tenants", undefined, null, { authorization: "Basic Zm9vOmJhcg==" }), 401, "unauthorized");
  const tok = await tenantWithToken(s);
  expectError(await s.call("POST", "/v1/tenants", { name: "evil" }, tok), 403, "forbidden");
  expectError(await s.call("POST", "/v1/tenants/acme/tokens", {}, tok), 403, "forbidden");
  expectError(await s.call("PATCH", "/v1/tenants/acme", { quotas: { maxRunningInstances: 99999 } }, tok), 403, "forbidden");
  assert.deepEqual((await s.call("GET", "/v1/tenants", undefined, tok)).body.tenants.map((x: { name: string }) => x.name), ["acme"]);
  const list = await s.call("GET", "/v1/tenants/acme/tokens");
  assert.equal(list.body.tokens.length, 1);
  assert.equal(list.body.tokens[0].revokedAt, null);
  assert.equal(JSON.stringify(list.body).includes(tok), false, "tokens are never shown again");
  assert.equal((await s.call("DELETE", `/v1/tenants/acme/tokens/${list.body.tokens[0].id}`)).status, 204);
  expectError(await s.call("GET", "/v1/tenants/acme", undefined, tok), 401, "unauthorized");
  expectError(await s.call("DELETE", `/v1/tenants/acme/tokens/${list.body.tokens[0].id}`), 404, "not_found");
  // only hashes are stored
  const db = readFileSync(join(s.dataDir, "weft.db")).toString("latin1") + readFileSync(join(s.dataDir, "weft.db-wal")).toString("latin1");
  assert.equal(db.includes(tok), false);
  assert.equal(db.includes(s.admin), false);
});

test("tenants: create (201, 409 twice, 400 bad name or quotas), get, patch quotas, list", LIMIT, async (t) => {
  const s = await serverFor(t);
  const c = await s.call("POST", "/v1/tenants", { name: "acme", quotas: { maxRunningInstances: 5 } });
  assert.equal(c.status, 201);
  assert.equal(c.body.quotas.maxRunningInstances, 5);
  assert.equal(c.body.quotas.createsPerSecond, 1000, "defaults fill the rest");
  expectError(await s.call("POST", "/v1/tenants", { name: "acme" }), 409, "already_exists");
  expectError(await s.call("POST", "/v1/tenants", { name: "has space" }), 400, "invalid_name");
  expectError(await s.call("POST", "/v1/tenants", { name: "x", quotas: { maxRunningInstances: -1 } }), 400, "invalid_argument");
  expectError(await s.call("POST", "/v1/tenants", { name: "x", extra: 1 }), 400, "invalid_argument");
  expectError(await s.call("POST", "/v1/tenants", {}), 400, "invalid_argument");
  const p = await s.call("PATCH", "/v1/tenants/acme", { quotas: { createsPerSecond: 7 } });
  assert.equal(p.body.quotas.createsPerSecond, 7);
  assert.equal(p.body.quotas.maxRunningInstances, 5);
  assert.equal((await s.call("GET", "/v1/tenants/acme")).body.quotas.createsPerSecond, 7);
  expectError(await s.call("GET", "/v1/tenants/nope"), 404, "not_found");
  assert.deepEqual((await s.call("GET", "/v1/tenants")).body.tenants.map((x: { name: string }) => x.name), ["acme"]);
});

test("workflows: deploy (200, same code same version), compile error 422 at its line, no class 422, code quota 413, list, describe, version with code, delete", LIMIT, async (t) => {
  const s = await serverFor(t);
  const tok = await tenantWithToken(s, "acme", { maxCodeBytes: 2000 });
  const d1 = await s.call("PUT", `${W}/wf`, waiter, tok);
  assert.equal(d1.status, 200, d1.text);
  assert.match(d1.body.version, /^[0-9a-f]{32}$/);
  assert.equal(d1.body.className, "W");
  assert.equal((await s.call("PUT", `${W}/wf`, waiter, tok)).body.version, d1.body.version);
  const bad = await s.call("PUT", `${W}/wf`, { mainModule: "index.ts", modules: { "index.ts": "export const a = 1;\nconst = 2;\n" } }, tok);
  expectError(bad, 422, "compile_error");
  assert.match(bad.body.error.message, /index\.ts:2:/);
  expectError(await s.call("PUT", `${W}/wf`, { mainModule: "index.ts", modules: { "index.ts": "export const x = 1;" } }, tok), 422, "no_workflow_class");
  const big = await s.call("PUT", `${W}/wf`, { mainModule: "index.ts", modules: { "index.ts": waiter.modules["index.ts"] + "//" + "x".repeat(3000) } }, tok);
  expectError(big, 413, "payload_too_large");
  assert.match(big.body.error.message, /quotas\.maxCodeBytes/);
  expectError(await s.call("PUT", `${W}/wf`, { mainModule: "index.ts" }, tok), 400, "invalid_argument");
  expectError(await s.call("PUT", `${W}/bad name`, waiter, tok), 400, "invalid_name");

  const list = await s.call("GET", W, undefined, tok);
  assert.deepEqual(list.body.workflows.map((w: { name: string; latestVersion: string }) => [w.name, w.latestVersion]), [["wf", d1.body.version]]);
  const desc = await s.call("GET", `${W}/wf`, undefined, tok);
  assert.deepEqual(desc.body.versions.map((v: { version: string }) => v.version), [d1.body.version]);
  assert.equal(desc.body.instances.queued, 0);
  const v = await s.call("GET", `${W}/wf/versions/${d1.body.version}`, undefined, tok);
  assert.equal(v.body.modules["index.ts"], waiter.modules["index.ts"]);
  expectError(await s.call("GET", `${W}/wf/versions/nope`, undefined, tok), 404, "not_found");
  expectError(await s.call("GET", `${W}/nope`, undefined, tok), 404, "not_found");

  await s.call("POST", `${W}/wf/instances`, { id: "a" }, tok);
  assert.equal((await s.call("DELETE", `${W}/wf`, undefined, tok)).status, 204);
  expectError(await s.call("GET", `${W}/wf`, undefined, tok), 404, "not_found");
  expectError(await s.call("GET", `${W}/wf/instances/a`, undefined, tok), 404, "not_found");
  expectError(await s.call("DELETE", `${W}/wf`, undefined, tok), 404, "not_found");
});

test("bindings through HTTP: plain values, secrets (sealed at rest, never returned), host functions registered by name", LIMIT, async (t) => {
  const calls: unknown[] = [];
  const s = await serverFor(t, { engineOptions: { hostFunctions: { notify: async (m: unknown) => void calls.push(m) } } });
  const tok = await tenantWithToken(s);
  const src = module(`
    await step.do("notify", async () => this.env.notify("hello " + this.env.NAME));
    return { name: this.env.NAME, key: this.env.API_KEY, n: this.env.LIMITS.n };`);
  const d = await s.call("PUT", `${W}/env`, { ...src, env: { NAME: "acme", LIMITS: { n: 3 }, API_KEY: { secret: "s3cr3t-value" }, notify: { hostFunction: "notify" } } }, tok);
  assert.equal(d.status, 200, d.text);
  const c = await s.call("POST", `${W}/env/instances`, { id: "e1" }, tok);
  assert.equal(c.status, 201);
  const done = await until(async () => {
    const r = await s.call("GET", `${W}/env/instances/e1`, undefined, tok);
    return r.body.status === "complete" ? r : undefined;
  }, "completion");
  assert.deepEqual(done.body.output, { name: "acme", key: "s3cr3t-value", n: 3 }, "the run gets the secret in the clear");
  assert.deepEqual(calls, ["hello acme"]);
  const v = await s.call("GET", `${W}/env/versions/${d.body.version}`, undefined, tok);
  assert.deepEqual(v.body.env, { NAME: "acme", LIMITS: { n: 3 }, API_KEY: { secret: true }, notify: { hostFunction: "notify" } });
  const files = ["weft.db", "weft.db-wal"].map((f) => readFileSync(join(s.dataDir, f)).toString("latin1")).join("");
  // the output of this instance holds it (the workflow returned it on purpose); the version does not
  const versionRows = files.split("s3cr3t-value").length - 1;
  assert.ok(versionRows <= 2, "only in the instance's output (row + its WAL copy), not in the stored version");
  const ver = (await s.call("GET", `${W}/env/versions/${d.body.version}`, undefined, tok)).text;
  assert.equal(ver.includes("s3cr3t"), false);
  const unknown = await s.call("PUT", `${W}/env2`, { ...src, env: { notify: { hostFunction: "missing" } } }, tok);
  expectError(unknown, 400, "invalid_argument");
  assert.match(unknown.body.error.message, /no host function named "missing"/);
});

test("instances: create, duplicate 409, batch all-or-nothing, list with filters and cursor, describe, events to completion, logs, files, SQL", LIMIT, async (t) => {
  const s = await serverFor(t);
  const tok = await tenantWithToken(s);
  await s.call("PUT", `${W}/wf`, waiter, tok);
  const I = `${W}/wf/instances`;
  const c = await s.call("POST", I, { id: "one", params: { n: 1 }, metadata: { customer: "c1" } }, tok);
  assert.equal(c.status, 201, c.text);
  assert.equal(c.body.id, "one");
  expectError(await s.call("POST", I, { id: "one" }, tok), 409, "already_exists");
  expectError(await s.call("POST", I, { id: "bad id!" }, tok), 400, "invalid_name");
  const b = await s.call("POST", `${I}/batch`, { instances: Array.from({ length: 5 }, (_, i) => ({ id: `b${i}`, metadata: { customer: i % 2 ? "c1" : "c2" } })) }, tok);
  assert.equal(b.status, 201);
  assert.equal(b.body.instances.length, 5);
  expectError(await s.call("POST", `${I}/batch`, { instances: [{ id: "new1" }, { id: "b0" }] }, tok), 409, "already_exists");
  expectError(await s.call("GET", `${I}/new1`, undefined, tok), 404, "not_found");
  expectError(await s.call("POST", `${I}/batch`, { instances: [] }, tok), 400, "invalid_argument");
  expectError(await s.call("POST", `${I}/batch`, { instances: Array.from({ length: 101 }, () => ({})) }, tok), 400, "invalid_argument");

  // list: pages of 2 through 6 instances, newest first, and filters
  const seen: string[] = [];
  let cursor: string | null = null;
  do {
    const r: { body: { instances: { id: string }[]; cursor: string | null } } = await s.call("GET", `${I}?limit=2${cursor ? `&cursor=${cursor}` : ""}`, undefined, tok);
    seen.push(...r.body.instances.map((x) => x.id));
    cursor = r.body.cursor;
  } while (cursor);
  assert.deepEqual(seen, ["b4", "b3", "b2", "b1", "b0", "one"]);
  assert.deepEqual((await s.call("GET", `${I}?direction=asc&limit=3`, undefined, tok)).body.instances.map((x: { id: string }) => x.id), ["one", "b0", "b1"]);
  assert.deepEqual((await s.call("GET", `${I}?metadata.customer=c1&direction=asc`, undefined, tok)).body.instances.map((x: { id: string }) => x.id), ["one", "b1", "b3"]);
  const created = Date.parse(c.body.createdAt);
  assert.equal((await s.call("GET", `${I}?createdBefore=${created}`, undefined, tok)).body.instances.length, 0);
  assert.equal((await s.call("GET", `${I}?createdAfter=${new Date(created).toISOString()}`, undefined, tok)).body.instances.length, 6);
  expectError(await s.call("GET", `${I}?status=bogus`, undefined, tok), 400, "invalid_argument");
  expectError(await s.call("GET", `${I}?limit=0`, undefined, tok), 400, "invalid_argument");
  expectError(await s.call("GET", `${I}?cursor=%%%`, undefined, tok), 400, "invalid_argument");
  expectError(await s.call("GET", `${I}?colour=red`, undefined, tok), 400, "invalid_argument");

  await until(async () => (await s.call("GET", `${I}?status=waiting`, undefined, tok)).body.instances.length === 6, "all waiting");
  const ev = await s.call("POST", `${I}/one/events`, { type: "go", payload: { ok: 1 } }, tok);
  assert.equal(ev.status, 202);
  const done = await until(async () => {
    const r = await s.call("GET", `${I}/one`, undefined, tok);
    return r.body.status === "complete" ? r : undefined;
  }, "completion");
  assert.deepEqual(done.body.output, { got: { ok: 1 }, params: { n: 1 } });
  assert.deepEqual(done.body.steps.map((x: { type: string; name: string }) => [x.type, x.name]), [["waitForEvent", "go"], ["step", "write"]]);
  assert.equal(done.body.id, "one");
  expectError(await s.call("POST", `${I}/one/events`, { type: "go" }, tok), 409, "invalid_state");
  expectError(await s.call("POST", `${I}/one/events`, { type: "bad.type" }, tok), 400, "invalid_event_type");
  expectError(await s.call("POST", `${I}/nope/events`, { type: "go" }, tok), 404, "not_found");

  const logs = await s.call("GET", `${I}/one/logs`, undefined, tok);
  assert.deepEqual(logs.body.logs.map((l: { message: string }) => l.message), ['got {"ok":1}']);
  assert.equal((await s.call("GET", `${I}/one/logs?after=${logs.body.logs[0].seq}`, undefined, tok)).body.logs.length, 0);
  const commits = await s.call("GET", `${I}/one/commits`, undefined, tok);
  assert.deepEqual(commits.body.commits.map((x: { message: string }) => x.message.split("\n")[0]), ["write #1"]);
  assert.deepEqual((await s.call("GET", `${I}/one/tree`, undefined, tok)).body.entries, [{ name: "out.json", type: "file", size: 8 }]);
  const f = await fetch(`${s.url}${I}/one/file?path=out.json`, { headers: { authorization: `Bearer ${tok}` } });
  assert.equal(await f.text(), '{"ok":1}');
  expectError(await s.call("GET", `${I}/one/file?path=nope`, undefined, tok), 404, "not_found");
  expectError(await s.call("GET", `${I}/one/file?path=../etc/passwd`, undefined, tok), 400, "invalid_path");
  const q = await s.call("POST", `${I}/one/sql`, { query: "SELECT v FROM t" }, tok);
  assert.deepEqual(q.body.rows, [['{"ok":1}']]);
  expectError(await s.call("POST", `${I}/one/sql`, { query: "DELETE FROM t" }, tok), 400, "storage_read_only");
  expectError(await s.call("POST", `${I}/one/sql`, { query: "SELEC 1" }, tok), 400, "sql_error");
});

test("instance actions: pause, resume, terminate (rollback), restart from a step, delete — and 409 where the status does not allow it", LIMIT, async (t) => {
  const s = await serverFor(t);
  const tok = await tenantWithToken(s);
  await s.call("PUT", `${W}/wf`, waiter, tok);
  const I = `${W}/wf/instances`;
  await s.call("POST", I, { id: "x" }, tok);
  await until(async () => (await s.call("GET", `${I}/x`, undefined, tok)).body.status === "waiting", "waiting");
  const p = await s.call("POST", `${I}/x/pause`, undefined, tok);
  assert.deepEqual(p.body, { id: "x", status: "paused" });
  expectError(await s.call("POST", `${I}/x/pause`, undefined, tok), 409, "invalid_state");
  assert.equal((await s.call("POST", `${I}/x/resume`, undefined, tok)).status, 200);
  await until(async () => (await s.call("GET", `${I}/x`, undefined, tok)).body.status === "waiting", "waiting again");
  await s.call("POST", `${I}/x/events`, { type: "go", payload: 1 }, tok);
  await until(async () => (await s.call("GET", `${I}/x`, undefined, tok)).body.status === "complete", "complete");
  const r = await s.call("POST", `${I}/x/restart`, { from: { name: "write" } }, tok);
  assert.equal(r.status, 200, r.text);
  await until(async () => (await s.call("GET", `${I}/x`, undefined, tok)).body.status === "complete", "complete after restart");
  expectError(await s.call("POST", `${I}/x/restart`, { from: { name: "nope" } }, tok), 404, "not_found");
  expectError(await s.call("POST", `${I}/x/restart`, { from: { name: 5 } }, tok), 400, "invalid_argument");
  await s.call("POST", I, { id: "y" }, tok);
  const term = await s.call("POST", `${I}/y/terminate`, { rollback: true }, tok);
  assert.deepEqual(term.body, { id: "y", status: "terminated" });
  expectError(await s.call("POST", `${I}/y/terminate`, {}, tok), 409, "invalid_state");
  assert.equal((await s.call("DELETE", `${I}/y`, undefined, tok)).status, 204);
  expectError(await s.call("GET", `${I}/y`, undefined, tok), 404, "not_found");
});

test("the event stream (SSE) replays retained events, streams live ones and ends when the instance finishes", LIMIT, async (t) => {
  const s = await serverFor(t);
  const tok = await tenantWithToken(s);
  await s.call("PUT", `${W}/wf`, waiter, tok);
  const I = `${W}/wf/instances`;
  await s.call("POST", I, { id: "sse" }, tok);
  const res = await fetch(`${s.url}${I}/sse/events`, { headers: { authorization: `Bearer ${tok}`, accept: "text/event-stream" } });
  assert.equal(res.status, 200);
  assert.match(res.headers.get("content-type") ?? "", /text\/event-stream/);
  const reader = res.body!.getReader();
  let text = "";
  const types: string[] = [];
  let sent = false;
  for (;;) {
    const { value, done } = await reader.read();
    if (done) break;
    text += new TextDecoder().decode(value);
    types.splice(0, types.length, ...[...text.matchAll(/^event: (.+)$/gm)].map((m) => m[1]!));
    if (!sent && types.includes("wait_started")) {
      sent = true;
      await s.call("POST", `${I}/sse/events`, { type: "go", payload: 2 }, tok);
    }
  }
  assert.ok(types.includes("workflow_queued") && types.includes("wait_started") && types.includes("step_completed"), types.join(","));
  assert.equal(types.at(-1), "workflow_completed", "the stream ends with the final event");
  const ids = [...text.matchAll(/^id: (\d+)$/gm)].map((m) => Number(m[1]));
  assert.deepEqual(ids, [...ids].sort((a, b) => a - b));
  // Last-Event-ID resumes after that event
  const again = await fetch(`${s.url}${I}/sse/events`, { headers: { authorization: `Bearer ${tok}`, "last-event-id": String(ids.at(-2)) } });
  const rest = await again.text();
  assert.deepEqual([...rest.matchAll(/^event: (.+)$/gm)].map((m) => m[1]), ["workflow_completed"]);
});

test("request errors: bad JSON 400 with the position, wrong content type 415, body over the limits 413, params over the payload quota 413", LIMIT, async (t) => {
  const s = await serverFor(t);
  const tok = await tenantWithToken(s, "acme", { maxPayloadBytes: 4096 });
  await s.call("PUT", `${W}/wf`, waiter, tok);
  const I = `${W}/wf/instances`;
  const bad = await s.call("POST", I, '{"id": "x",', tok);
  expectError(bad, 400, "invalid_argument");
  assert.match(bad.body.error.message, /not valid JSON/);
  const ct = await s.call("POST", I, "id=x", tok, { "content-type": "application/x-www-form-urlencoded" });
  assert.equal(ct.status, 415);
  assert.equal(ct.body.error.code, "invalid_argument");
  expectError(await s.call("POST", I, { params: "x".repeat(5000) }, tok), 413, "payload_too_large");
  expectError(await s.call("POST", `${I}/nope/events`, { type: "go", payload: "x".repeat(5000) }, tok), 413, "payload_too_large");
  expectError(await s.call("POST", I, { params: { a: 1 }, id: 5 }, tok), 400, "invalid_argument");
  assert.equal((await s.call("GET", `${I}?direction=asc`, undefined, tok)).body.instances.length, 0, "nothing was created");
});
