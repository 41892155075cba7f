// The tenant-isolation matrix of the HTTP API: tenant A's token against every route of tenant B's
// resources answers 404 — exactly as if B did not exist — and changes nothing.
//
// The routes are enumerated from GET /openapi.json (paths × methods), so a route added to the API
// without a case here fails the test instead of going unchecked. Every `{tenant}` route is called with
// alpha's token on beta's real resources (a waiting, a paused and a complete instance with a file
// commit, the real version id and token id) with a body that is valid: the same request with beta's
// own token (the admin's for admin-only routes) succeeds on a twin resource. A fingerprint of beta
// (and of alpha) taken by the admin before and after is identical. Also: the git route, no token and
// a revoked token (401 on every route with auth), and tenant-less routes seen by a tenant token.
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import {
  DEPLOY_BODY, WORKFLOW_SOURCE, call, client, fingerprint, instanceIn, isErrorBody, startTestServer, waitStatus,
  type Client, type Reply, type TestServer,
} from "./fixtures.ts";

type InstanceRole = "waiting" | "paused" | "complete";

/** How to call one route: the instance it targets, its query and body, what success looks like. */
interface RouteCase {
  /** which instance `{id}` names (routes with `{id}`) */
  instance?: InstanceRole;
  query?: Record<string, string>;
  body?: unknown;
  /** admin-only route: the proof of success runs with the admin's token, not beta's */
  admin?: boolean;
  /** the status the route answers its rightful caller */
  ok: number;
}

// Bodies that would change something if they were accepted for beta (the fingerprint would see it).
const ALPHA_SOURCE = WORKFLOW_SOURCE + "\n// deployed with alpha's token\n";

/** Every route with `{tenant}` in its path. A route missing here fails the test. */
const TENANT_ROUTES: Record<string, RouteCase> = {
  "GET /v1/tenants/{tenant}": { ok: 200 },
  "PATCH /v1/tenants/{tenant}": { admin: true, body: { quotas: { maxCodeBytes: 4_000_000, maxPayloadBytes: 500_000 } }, ok: 200 },
  "POST /v1/tenants/{tenant}/tokens": { admin: true, body: { name: "minted-by-alpha" }, ok: 201 },
  "GET /v1/tenants/{tenant}/tokens": { admin: true, ok: 200 },
  "DELETE /v1/tenants/{tenant}/tokens/{tokenId}": { admin: true, ok: 204 },
  "GET /v1/tenants/{tenant}/activity": { query: { bucket: "600" }, ok: 200 },
  "GET /v1/tenants/{tenant}/workflows": { ok: 200 },
  "PUT /v1/tenants/{tenant}/workflows/{workflow}": { body: { mainModule: "index.ts", modules: { "index.ts": ALPHA_SOURCE } }, ok: 200 },
  "GET /v1/tenants/{tenant}/workflows/{workflow}": { ok: 200 },
  "DELETE /v1/tenants/{tenant}/workflows/{workflow}": { ok: 204 },
  "GET /v1/tenants/{tenant}/workflows/{workflow}/versions/{version}": { ok: 200 },
  "POST /v1/tenants/{tenant}/workflows/{workflow}/instances": { body: { id: "made-by-alpha", params: { x: 1 }, metadata: { by: "alpha" } }, ok: 201 },
  "GET /v1/tenants/{tenant}/workflows/{workflow}/instances": { query: { limit: "10", direction: "asc" }, ok: 200 },
  "POST /v1/tenants/{tenant}/workflows/{workflow}/instances/batch": { body: { instances: [{ id: "batch-by-alpha-1" }, { id: "batch-by-alpha-2", params: [1] }] }, ok: 201 },
  "POST /v1/tenants/{tenant}/workflows/{workflow}/instances/batch/delete": { body: { instances: ["i-waiting", "i-complete"] }, ok: 200 },
  "GET /v1/tenants/{tenant}/workflows/{workflow}/instances/{id}": { instance: "waiting", ok: 200 },
  "DELETE /v1/tenants/{tenant}/workflows/{workflow}/instances/{id}": { instance: "complete", ok: 204 },
  "POST /v1/tenants/{tenant}/workflows/{workflow}/instances/{id}/pause": { instance: "waiting", ok: 200 },
  "POST /v1/tenants/{tenant}/workflows/{workflow}/instances/{id}/resume": { instance: "paused", ok: 200 },
  "POST /v1/tenants/{tenant}/workflows/{workflow}/instances/{id}/terminate": { instance: "waiting", body: { rollback: false }, ok: 200 },
  "POST /v1/tenants/{tenant}/workflows/{workflow}/instances/{id}/restart": { instance: "complete", body: { from: { name: "write" } }, ok: 200 },
  "POST /v1/tenants/{tenant}/workflows/{workflow}/instances/{id}/events": { instance: "waiting", body: { type: "go", payload: { by: "alpha" } }, ok: 202 },
  "GET /v1/tenants/{tenant}/workflows/{workflow}/instances/{id}/events": { instance: "complete", ok: 200 },
  "GET /v1/tenants/{tenant}/workflows/{workflow}/instances/{id}/logs": { instance: "complete", query: { limit: "10" }, ok: 200 },
  "GET /v1/tenants/{tenant}/workflows/{workflow}/instances/{id}/commits": { instance: "complete", query: { limit: "10" }, ok: 200 },
  "GET /v1/tenants/{tenant}/workflows/{workflow}/instances/{id}/tree": { instance: "complete", query: { path: "" }, ok: 200 },
  "GET /v1/tenants/{tenant}/workflows/{workflow}/instances/{id}/file": { instance: "complete", query: { path: "out.txt" }, ok: 200 },
  "POST /v1/tenants/{tenant}/workflows/{workflow}/instances/{id}/sql": { instance: "complete", body: { query: "select 1 as one" }, ok: 200 },
};

/** The routes without `{tenant}`: what a tenant token (alpha's) gets from them. */
const OTHER_ROUTES: Record<string, { auth: boolean; body?: unknown; alpha: number }> = {
  "GET /healthz": { auth: false, alpha: 200 },
  "GET /readyz": { auth: false, alpha: 200 },
  "GET /metrics": { auth: true, alpha: 403 },
  "POST /v1/tenants": { auth: true, body: { name: "made-by-alpha" }, alpha: 403 },
  "GET /v1/tenants": { auth: true, alpha: 200 },
  "GET /v1/whoami": { auth: true, alpha: 200 },
};

const PARAMS = new Set(["tenant", "workflow", "id", "version", "tokenId"]);

interface Op {
  key: string;
  method: string;
  path: string;
  params: string[];
  auth: boolean;
  hasBody: boolean;
  /** the JSON schema of the request body */
  schema: any;
}

const ALPHA_SECRET = "alpha-secret-4f1c";
let alphaCommit = "";
let srv: TestServer;
let admin: Client;
let ops: Op[];
const tokens: Record<string, { id: string; token: string }> = {};
/** beta's real resources */
const B = { tenant: "beta", workflow: "wf", version: "", instances: {} as Record<InstanceRole, string> };

before(async () => {
  srv = await startTestServer("weft-api-isolation-");
  admin = client(srv.url, srv.adminToken);
  for (const name of ["alpha", "beta"]) await admin.ok("POST", "/v1/tenants", 201, { body: { name } });
  tokens.alpha = await admin.ok("POST", "/v1/tenants/alpha/tokens", 201, { body: { name: "alpha-main" } });
  tokens.beta = await admin.ok("POST", "/v1/tenants/beta/tokens", 201, { body: { name: "beta-main" } });
  tokens.betaRevoked = await admin.ok("POST", "/v1/tenants/beta/tokens", 201, { body: { name: "beta-revoked" } });
  const beta = client(srv.url, tokens.beta!.token);
  B.version = (await beta.ok("PUT", "/v1/tenants/beta/workflows/wf", 200, { body: DEPLOY_BODY })).version;
  B.instances = { waiting: "i-waiting", paused: "i-paused", complete: "i-complete" };
  for (const [role, id] of Object.entries(B.instances)) await instanceIn(beta, "beta", "wf", id, role as InstanceRole);
  // alpha has a workflow of the same name: a mix-up of tenants would find something
  const alpha = client(srv.url, tokens.alpha!.token);
  await alpha.ok("PUT", "/v1/tenants/alpha/workflows/wf", 200, { body: DEPLOY_BODY });
  await instanceIn(alpha, "alpha", "wf", "a-waiting", "waiting");
  await alpha.ok("POST", "/v1/tenants/alpha/workflows/wf/instances", 201, { body: { id: "a-secret" } });
  await waitStatus(alpha, "alpha", "wf", "a-secret", ["waiting"]);
  await alpha.ok("POST", "/v1/tenants/alpha/workflows/wf/instances/a-secret/events", 202, { body: { type: "go", payload: ALPHA_SECRET } });
  await waitStatus(alpha, "alpha", "wf", "a-secret", ["complete"]);
  alphaCommit = (await alpha.ok("GET", "/v1/tenants/alpha/workflows/wf/instances/a-secret/commits", 200)).commits[0].oid;

  const doc = await client(srv.url, null).ok("GET", "/openapi.json", 200);
  ops = [];
  for (const [path, methods] of Object.entries(doc.paths as Record<string, Record<string, any>>)) {
    for (const [method, op] of Object.entries(methods)) {
      const params = [...path.matchAll(/\{([^}]+)\}/g)].map((m) => m[1]!);
      ops.push({
        key: `${method.toUpperCase()} ${path}`, method: method.toUpperCase(), path, params,
        auth: Array.isArray(op.security) && op.security.length > 0,
        hasBody: op.requestBody !== undefined,
        schema: op.requestBody?.content?.["application/json"]?.schema,
      });
    }
  }
});

after(async () => {
  await srv?.close();
});

function fill(op: Op, values: Record<string, string>): string {
  return op.path.replace(/\{([^}]+)\}/g, (_, name: string) => {
    const v = values[name];
    if (v === undefined) throw new Error(`${op.key}: no value for {${name}}`);
    return encodeURIComponent(v);
  });
}

/** beta's real resources for this route */
function betaValues(c: RouteCase): Record<string, string> {
  return { tenant: B.tenant, workflow: B.workflow, version: B.version, tokenId: tokens.beta!.id, id: c.instance ? B.instances[c.instance] : "" };
}

async function send(op: Op, c: { query?: Record<string, string>; body?: unknown }, values: Record<string, string>, token: string | null): Promise<Reply> {
  return call(srv.url, op.method, fill(op, values), { token, query: c.query, body: c.body });
}

function assertNotFound(r: Reply, what: string): void {
  assert.equal(r.status, 404, `${what}: expected 404, got ${r.status} ${r.text.slice(0, 300)}`);
  assert.ok(isErrorBody(r.body), `${what}: the 404 has the error body shape: ${r.text.slice(0, 300)}`);
  assert.equal((r.body as { error: { code: string } }).error.code, "not_found", what);
}

function assertUnauthorized(r: Reply, what: string): void {
  assert.equal(r.status, 401, `${what}: expected 401, got ${r.status} ${r.text.slice(0, 300)}`);
  assert.ok(isErrorBody(r.body), `${what}: the 401 has the error body shape: ${r.text.slice(0, 300)}`);
  assert.equal((r.body as { error: { code: string } }).error.code, "unauthorized", what);
}

/** A light check that a body fits the route's JSON schema (top-level keys, required, types). */
function fitsSchema(body: unknown, schema: any, where: string): void {
  assert.ok(schema && typeof schema === "object", `${where}: the route documents a JSON body schema`);
  assert.equal(schema.type, "object", `${where}: the body schema is an object`);
  assert.ok(body && typeof body === "object" && !Array.isArray(body), `${where}: the body is an object`);
  const props = schema.properties ?? {};
  for (const k of schema.required ?? []) assert.ok(k in (body as object), `${where}: the body has the required "${k}"`);
  for (const [k, v] of Object.entries(body as object)) {
    assert.ok(k in props || schema.additionalProperties !== false, `${where}: the schema knows "${k}"`);
    const t = props[k]?.type;
    if (t === "object" || t === "array" || t === "string" || t === "boolean") {
      assert.equal(Array.isArray(v) ? "array" : typeof v, t, `${where}: "${k}" is of type ${t}`);
    }
  }
}

/** Everything the admin can see, of both tenants, plus the tenant list. */
async function world(): Promise<unknown> {
  return { tenants: await admin.ok("GET", "/v1/tenants", 200), beta: await fingerprint(admin, "beta"), alpha: await fingerprint(admin, "alpha") };
}

test("every route of the API is covered by this matrix (enumerated from /openapi.json)", () => {
  assert.ok(ops.length >= 25, `the OpenAPI document lists the routes (${ops.length})`);
  const unknown: string[] = [];
  for (const op of ops) {
    for (const p of op.params) if (!PARAMS.has(p)) unknown.push(`${op.key}: path parameter {${p}} has no value in this test`);
    const isTenant = op.params.includes("tenant");
    const c = isTenant ? TENANT_ROUTES[op.key] : OTHER_ROUTES[op.key];
    if (!c) {
      unknown.push(`${op.key}: a route without a case in ${isTenant ? "TENANT_ROUTES" : "OTHER_ROUTES"} — add one`);
      continue;
    }
    if (isTenant) {
      const tc = c as RouteCase;
      assert.ok(op.auth, `${op.key}: a tenant's route requires auth`);
      assert.equal(tc.body !== undefined, op.hasBody, `${op.key}: the case has a body exactly when the route takes one`);
      if (op.hasBody) fitsSchema(tc.body, op.schema, op.key);
      assert.equal(tc.instance !== undefined, op.params.includes("id"), `${op.key}: the case names an instance exactly when the path has {id}`);
    } else {
      assert.equal((c as { auth: boolean }).auth, op.auth, `${op.key}: auth as documented`);
    }
  }
  for (const key of [...Object.keys(TENANT_ROUTES), ...Object.keys(OTHER_ROUTES)]) {
    if (!ops.some((o) => o.key === key)) unknown.push(`${key}: a case for a route that /openapi.json does not list`);
  }
  assert.deepEqual(unknown, []);
});

test("alpha's token on every route of beta's resources: 404 as if beta did not exist, and nothing changes", async () => {
  const before = await world();
  const alpha = tokens.alpha!.token;
  let exercised = 0;
  const failures: string[] = [];
  for (const op of ops.filter((o) => o.params.includes("tenant"))) {
    const c = TENANT_ROUTES[op.key]!;
    const real = betaValues(c);
    try {
      const r = await send(op, c, real, alpha);
      assertNotFound(r, `alpha → ${op.method} ${fill(op, real)}`);

      // the same answer as for a tenant that does not exist (with its name in place of beta's) ...
      const ghost = await send(op, c, { ...real, tenant: "ghost" }, alpha);
      assert.equal(ghost.status, r.status, `${op.key}: same status as for a tenant that does not exist`);
      assert.equal(ghost.text.replaceAll("ghost", "beta"), r.text, `${op.key}: same body as for a tenant that does not exist`);
      // ... and as for resources of beta that do not exist: no existence oracle
      const other = op.params.filter((p) => p !== "tenant");
      if (other.length > 0) {
        const missing = await send(op, c, { ...real, ...Object.fromEntries(other.map((p) => [p, `no-such-${p}`])) }, alpha);
        assert.equal(missing.status, r.status, `${op.key}: same status for beta's real and missing resources`);
        assert.equal(missing.text, r.text, `${op.key}: same body for beta's real and missing resources`);
      }

      // a lowercase scheme changes nothing
      const lower = await call(srv.url, op.method, fill(op, real), {
        query: c.query, body: c.body, headers: { authorization: `bearer ${alpha}` },
      });
      assertNotFound(lower, `alpha (lowercase bearer) → ${op.key}`);
    } catch (e) {
      failures.push(`${op.key}: ${(e as Error).message.split("\n")[0]}`);
    }
    exercised++;
  }
  const after = await world();
  assert.deepEqual(failures, [], "every route answers alpha 404, as for a tenant that does not exist");
  assert.deepEqual(after, before, "beta's and alpha's state is unchanged");
  assert.equal(exercised, Object.keys(TENANT_ROUTES).length, "every tenant route was exercised");
});

test("the requests alpha sent would succeed for beta: the same request with beta's token (admin's for admin routes) on a twin", async () => {
  const betaC = client(srv.url, tokens.beta!.token);
  let n = 0;
  const proven: string[] = [];
  for (const op of ops.filter((o) => o.params.includes("tenant"))) {
    const c = TENANT_ROUTES[op.key]!;
    // a twin of every resource the route names: a fresh workflow (deployed by beta), a fresh instance
    // in the role's state, a fresh token
    const v: Record<string, string> = { tenant: "beta", workflow: "", version: "", id: "", tokenId: "" };
    if (op.params.includes("workflow")) {
      v.workflow = `twin-${++n}`;
      v.version = (await betaC.ok("PUT", `/v1/tenants/beta/workflows/${v.workflow}`, 200, { body: DEPLOY_BODY })).version;
      if (c.instance) {
        v.id = `twin-${c.instance}-${n}`;
        await instanceIn(betaC, "beta", v.workflow, v.id, c.instance);
      }
    }
    if (op.params.includes("tokenId")) v.tokenId = (await admin.ok("POST", "/v1/tenants/beta/tokens", 201, { body: { name: `twin-${++n}` } })).id;
    const token = c.admin ? srv.adminToken : tokens.beta!.token;
    const r = await send(op, c, v, token);
    assert.equal(r.status, c.ok, `${c.admin ? "admin" : "beta"} → ${op.method} ${fill(op, v)}: expected ${c.ok}, got ${r.status} ${r.text.slice(0, 300)}`);
    if (c.admin) {
      // and beta's own token is refused there for lack of rights, not for a bad request
      const rb = await send(op, c, v, tokens.beta!.token);
      assert.equal(rb.status, 403, `beta → ${op.key}: an admin-only route answers 403 to the tenant: ${rb.text.slice(0, 200)}`);
    }
    proven.push(op.key);
  }
  assert.deepEqual(proven.sort(), Object.keys(TENANT_ROUTES).sort());
});

test("the routes without a tenant, seen with alpha's token: no other tenant shows, admin routes are 403", async () => {
  const alpha = client(srv.url, tokens.alpha!.token);
  for (const op of ops.filter((o) => !o.params.includes("tenant"))) {
    const c = OTHER_ROUTES[op.key]!;
    const r = await alpha.call(op.method, op.path, { body: c.body });
    assert.equal(r.status, c.alpha, `alpha → ${op.key}: ${r.text.slice(0, 200)}`);
    if (r.status >= 400) assert.ok(isErrorBody(r.body), `${op.key}: error body shape`);
  }
  const list = await alpha.ok<{ tenants: { name: string }[] }>("GET", "/v1/tenants", 200);
  assert.deepEqual(list.tenants.map((t) => t.name), ["alpha"], "a tenant token lists only its own tenant");
  const metrics = await alpha.call("GET", "/metrics");
  assert.ok(!metrics.text.includes("beta"), "the 403 of /metrics says nothing of beta");
});

test("git: alpha's token (Bearer or Basic) on beta's repository answers 404; beta's answers 200; no token 401", async () => {
  const before = await world();
  const repo = `/v1/tenants/beta/workflows/wf/instances/${B.instances.complete}/repo.git`;
  const refs = `${repo}/info/refs?service=git-upload-pack`;
  const basic = (tok: string, user = "git") => `Basic ${Buffer.from(`${user}:${tok}`).toString("base64")}`;
  const alpha = tokens.alpha!.token;

  const ok = await call(srv.url, "GET", refs, { headers: { authorization: basic(tokens.beta!.token) } });
  assert.equal(ok.status, 200, `beta (Basic) → info/refs: ${ok.text.slice(0, 200)}`);
  assert.match(ok.text, /# service=git-upload-pack/);
  const okBearer = await call(srv.url, "GET", refs, { token: tokens.beta!.token });
  assert.equal(okBearer.status, 200, "beta (Bearer) → info/refs");

  for (const [how, headers] of [
    ["Bearer", { authorization: `Bearer ${alpha}` }],
    ["Basic", { authorization: basic(alpha) }],
    ["Basic, user beta", { authorization: basic(alpha, "beta") }],
  ] as const) {
    const r = await call(srv.url, "GET", refs, { headers });
    assert.equal(r.status, 404, `alpha (${how}) → GET info/refs: ${r.status} ${r.text.slice(0, 200)}`);
    assert.ok(!r.text.includes("git-upload-pack"), "no advertisement leaks");
    // the same as a repository that does not exist
    const ghost = await call(srv.url, "GET", refs.replace(B.instances.complete, "no-such-instance"), { headers });
    assert.equal(ghost.status, r.status);
    assert.equal(ghost.text, r.text, "the same answer as for a repository that does not exist");
    const post = await fetch(`${srv.url}${repo}/git-upload-pack`, {
      method: "POST", headers: { ...headers, "content-type": "application/x-git-upload-pack-request" }, body: "0000",
    });
    assert.equal(post.status, 404, `alpha (${how}) → POST git-upload-pack`);
    await post.arrayBuffer();
  }
  const none = await call(srv.url, "GET", refs);
  assert.equal(none.status, 401, "no credentials → 401 (git then asks for them)");
  assert.ok(none.headers.get("www-authenticate"), "a 401 names the scheme");
  assert.deepEqual(await world(), before, "nothing changed");
});

test("no token, a malformed Authorization and an unknown token: 401 on every route with auth, and nothing changes", async () => {
  const before = await world();
  let n = 0;
  for (const op of ops.filter((o) => o.auth)) {
    const isTenant = op.params.includes("tenant");
    const c = isTenant ? TENANT_ROUTES[op.key]! : { body: OTHER_ROUTES[op.key]!.body, query: undefined };
    const url = isTenant ? fill(op, betaValues(c as RouteCase)) : op.path;
    for (const [how, headers] of [
      ["no Authorization", {}],
      ["empty Bearer", { authorization: "Bearer " }],
      ["Basic with the admin token", { authorization: `Basic ${Buffer.from(`x:${srv.adminToken}`).toString("base64")}` }],
      ["the token without a scheme", { authorization: tokens.beta!.token }],
      ["an unknown token", { authorization: `Bearer weft_${"A".repeat(43)}` }],
      ["beta's token with a character changed", { authorization: `Bearer ${tokens.beta!.token.slice(0, -1)}${tokens.beta!.token.endsWith("A") ? "B" : "A"}` }],
    ] as const) {
      const r = await call(srv.url, op.method, url, { query: c.query, body: c.body, headers });
      assertUnauthorized(r, `${how} → ${op.method} ${url}`);
      assert.match(r.headers.get("www-authenticate") ?? "", /Bearer/i, `${op.key}: the 401 names the scheme`);
      n++;
    }
  }
  assert.ok(n >= 6 * 25);
  assert.deepEqual(await world(), before, "nothing changed");
});

test("a revoked token: 401 on every route with auth (and on the git route, no access), at once", async () => {
  const t = tokens.betaRevoked!;
  const betaC = client(srv.url, t.token);
  await betaC.ok("GET", "/v1/tenants/beta/workflows/wf", 200); // it worked
  await admin.ok("DELETE", `/v1/tenants/beta/tokens/${t.id}`, 204);
  const before = await world();
  for (const op of ops.filter((o) => o.auth)) {
    const isTenant = op.params.includes("tenant");
    const c = isTenant ? TENANT_ROUTES[op.key]! : { body: OTHER_ROUTES[op.key]!.body, query: undefined };
    const url = isTenant ? fill(op, betaValues(c as RouteCase)) : op.path;
    assertUnauthorized(await call(srv.url, op.method, url, { token: t.token, query: c.query, body: c.body }), `revoked → ${op.method} ${url}`);
  }
  // the git route: no access with it (the status is the subject of the next test)
  const refs = `/v1/tenants/beta/workflows/wf/instances/${B.instances.complete}/repo.git/info/refs?service=git-upload-pack`;
  for (const authorization of [`Bearer ${t.token}`, `Basic ${Buffer.from(`git:${t.token}`).toString("base64")}`]) {
    const r = await call(srv.url, "GET", refs, { headers: { authorization } });
    assert.ok(r.status === 401 || r.status === 404, `revoked (${authorization.split(" ")[0]}) → git info/refs: no access, got ${r.status}`);
    assert.ok(!r.text.includes("git-upload-pack"), "no advertisement");
  }
  // revoking again: 404, the token is no longer live
  const again = await admin.call("DELETE", `/v1/tenants/beta/tokens/${t.id}`);
  assertNotFound(again, "revoking a revoked token");
  assert.deepEqual(await world(), before, "nothing changed");
});

test("git: an unknown or revoked token answers 401 like every other route (docs: 401 = missing or unknown token), not 404", async () => {
  const t = await admin.ok("POST", "/v1/tenants/beta/tokens", 201, { body: { name: "git-revoked" } });
  const refs = `/v1/tenants/beta/workflows/wf/instances/${B.instances.complete}/repo.git/info/refs?service=git-upload-pack`;
  const basic = (tok: string) => `Basic ${Buffer.from(`git:${tok}`).toString("base64")}`;
  assert.equal((await call(srv.url, "GET", refs, { headers: { authorization: basic(t.token) } })).status, 200, "the token works before it is revoked");
  await admin.ok("DELETE", `/v1/tenants/beta/tokens/${t.id}`, 204);
  const failures: string[] = [];
  for (const [how, authorization] of [
    ["revoked, Basic", basic(t.token)],
    ["revoked, Bearer", `Bearer ${t.token}`],
    ["unknown, Basic", basic(`weft_${"A".repeat(43)}`)],
    ["unknown, Bearer", `Bearer weft_${"A".repeat(43)}`],
  ] as const) {
    const r = await call(srv.url, "GET", refs, { headers: { authorization } });
    if (r.status !== 401) failures.push(`${how} → GET ${refs}: ${r.status} ${JSON.stringify(r.text.trim())}`);
    else assert.match(r.headers.get("www-authenticate") ?? "", /Basic/i, "git is asked for credentials again");
  }
  assert.deepEqual(failures, [], "the git route answers 401 to a token that is not (or no longer) valid, so git asks for credentials again");
});

test("references to alpha's data inside beta's own requests (fork source, commit ids) find nothing", async () => {
  assert.match(alphaCommit, /^[0-9a-f]{40}$/, "alpha's instance has a file commit");
  const beta = client(srv.url, tokens.beta!.token);
  const before = await world();
  const I = "/v1/tenants/beta/workflows/wf/instances";
  const leaks: string[] = [];
  const check = (what: string, r: Reply, expected: number[]) => {
    if (!expected.includes(r.status)) leaks.push(`${what}: ${r.status} ${r.text.slice(0, 200)}`);
    if (r.text.includes(ALPHA_SECRET)) leaks.push(`${what}: alpha's data in the answer`);
  };
  // fork from alpha's instance (by its id, with and without alpha's commit), alone and in a batch
  check("create with fork of alpha's instance", await beta.call("POST", I, { body: { id: "fork-1", fork: { instance: "a-secret", workflow: "wf" } } }), [404]);
  check("create with fork of alpha's instance at alpha's commit", await beta.call("POST", I, { body: { id: "fork-2", fork: { instance: "a-secret", workflow: "wf", commit: alphaCommit } } }), [404]);
  check("batch with fork of alpha's instance", await beta.call("POST", `${I}/batch`, { body: { instances: [{ id: "fork-3", fork: { instance: "a-secret" } }] } }), [404]);
  // fork from beta's own instance, but at alpha's commit
  check("create with fork of beta's instance at alpha's commit", await beta.call("POST", I, { body: { id: "fork-4", fork: { instance: B.instances.complete, commit: alphaCommit } } }), [400, 404]);
  // read beta's own instance's files at alpha's commit
  const own = `${I}/${B.instances.complete}`;
  check("tree at alpha's commit", await beta.call("GET", `${own}/tree`, { query: { path: "", at: alphaCommit } }), [400, 404]);
  check("file at alpha's commit", await beta.call("GET", `${own}/file`, { query: { path: "out.txt", at: alphaCommit } }), [400, 404]);
  // and the SQL route cannot reach another instance's database
  const sql = await beta.call("POST", `${own}/sql`, { body: { query: "select name from pragma_database_list" } });
  check("sql database list", sql, [200, 400]);
  assert.deepEqual(leaks, [], "nothing of alpha is reachable from beta's requests");
  assert.deepEqual(await world(), before, "and nothing was created");
});
