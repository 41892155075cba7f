// What the dashboard needs from the server, over a real listening server: the page and its assets at
// `/` (content-hashed, with a CSP that allows only this origin), /v1/whoami, the activity buckets of
// the overview chart, the instance id prefix filter, and error stacks in the instance detail.
import { test } from "node:test";
import assert from "node:assert/strict";
import { expectError, module, serverFor, until, type TestServer } from "./helpers.ts";

const LIMIT = { timeout: 30_000 };

async function tenant(s: TestServer, name: string): Promise<string> {
  assert.equal((await s.call("POST", "/v1/tenants", { name })).status, 201);
  return (await s.call("POST", `/v1/tenants/${name}/tokens`, {})).body.token as string;
}

test("GET / serves the dashboard page; its scripts are content-hashed and cached immutably, and only this origin may be used", LIMIT, async (t) => {
  const s = await serverFor(t);
  const page = await fetch(s.url + "/");
  assert.equal(page.status, 200);
  assert.match(page.headers.get("content-type")!, /^text\/html/);
  const csp = page.headers.get("content-security-policy")!;
  assert.match(csp, /default-src 'none'/);
  assert.match(csp, /script-src 'self'/);
  assert.match(csp, /connect-src 'self'/);
  const html = await page.text();
  const js = /src="\/assets\/(app\.[A-Z0-9]{8}\.js)"/.exec(html)?.[1];
  assert.ok(js, `the script referenced by index.html: ${html.slice(0, 500)}`);
  assert.match(html, /<style>[^<]*\.topbar\{/, "the stylesheet is inline");
  assert.doesNotMatch(html, /https?:\/\//, "no external address in the page");
  const a = await fetch(`${s.url}/assets/${js}`);
  assert.equal(a.status, 200);
  assert.match(a.headers.get("content-type")!, /^text\/javascript/);
  assert.match(a.headers.get("cache-control")!, /immutable/);
  const body = await a.text();
  assert.ok(body.length > 10_000, "the entry bundle (preact and the pages)");
  assert.doesNotMatch(body, /cm-lintRange/, "CodeMirror is not in the entry: a chunk loaded by the workflow pages");
  assert.doesNotMatch(body, /(?:cdn|unpkg|jsdelivr|googleapis|cdnjs)\.[a-z]/, "no CDN address");
  const missing = await s.call("GET", "/assets/app.00000000.js", undefined, null);
  expectError(missing, 404, "not_found");
  expectError(await s.call("GET", "/assets/index.html", undefined, null), 404, "not_found");
});

test("GET /v1/whoami: the admin, a tenant's token (with its tenant), no token → 401", LIMIT, async (t) => {
  const s = await serverFor(t);
  const tok = await tenant(s, "acme");
  assert.deepEqual((await s.call("GET", "/v1/whoami")).body, { kind: "admin" });
  assert.deepEqual((await s.call("GET", "/v1/whoami", undefined, tok)).body, { kind: "tenant", tenant: "acme" });
  expectError(await s.call("GET", "/v1/whoami", undefined, null), 401, "unauthorized");
  expectError(await s.call("GET", "/v1/whoami", undefined, "weft_" + "x".repeat(43)), 401, "unauthorized");
});

test("GET /v1/tenants/{t}/activity: creations and endings per bucket, per workflow; bad windows are refused precisely; another tenant's token gets 404", LIMIT, async (t) => {
  const s = await serverFor(t);
  const tok = await tenant(s, "acme");
  const other = await tenant(s, "beta");
  const W = "/v1/tenants/acme/workflows";
  assert.equal((await s.call("PUT", `${W}/ok`, module(`return await step.do("one", async () => 1);`), tok)).status, 200);
  assert.equal((await s.call("PUT", `${W}/bad`, module(`throw new Error("no");`), tok)).status, 200);
  assert.equal((await s.call("PUT", `${W}/slow`, module(`await step.sleep("long", "1 day");`), tok)).status, 200);
  const from = Date.now() - 1000;
  for (let i = 0; i < 3; i++) assert.equal((await s.call("POST", `${W}/ok/instances`, {}, tok)).status, 201);
  assert.equal((await s.call("POST", `${W}/bad/instances`, {}, tok)).status, 201);
  assert.equal((await s.call("POST", `${W}/slow/instances`, {}, tok)).status, 201);
  await until(async () => {
    const l = (await s.call("GET", "/v1/tenants/acme/workflows", undefined, tok)).body.workflows as { name: string; instances: Record<string, number> }[];
    const c = Object.fromEntries(l.map((w) => [w.name, w.instances]));
    return c.ok?.complete === 3 && c.bad?.errored === 1 && c.slow?.waiting === 1;
  }, "3 complete, 1 errored, 1 waiting");
  const to = Date.now() + 60_000;
  const q = `from=${from}&to=${to}&bucket=30`;
  const r = await s.call("GET", `/v1/tenants/acme/activity?${q}`, undefined, tok);
  assert.equal(r.status, 200, r.text);
  assert.equal(r.body.bucketSeconds, 30);
  assert.equal(r.body.buckets.length, Math.ceil((to - from) / 30_000));
  const sum = (k: string) => (r.body.buckets as Record<string, number>[]).reduce((n, b) => n + b[k]!, 0);
  assert.deepEqual({ created: sum("created"), completed: sum("completed"), errored: sum("errored"), terminated: sum("terminated") }, { created: 5, completed: 3, errored: 1, terminated: 0 });
  assert.equal(r.body.buckets[0].at, new Date(from).toISOString(), "buckets start at from");
  const one = await s.call("GET", `/v1/tenants/acme/activity?${q}&workflow=ok`, undefined, tok);
  assert.equal((one.body.buckets as { created: number }[]).reduce((n, b) => n + b.created, 0), 3, "one workflow's instances");
  // a window before everything: all zero
  const before = await s.call("GET", `/v1/tenants/acme/activity?from=${from - 3_600_000}&to=${from - 1}&bucket=600`, undefined, tok);
  assert.ok((before.body.buckets as { created: number }[]).every((b) => b.created === 0));
  // precise refusals
  const e1 = await s.call("GET", `/v1/tenants/acme/activity?from=${to}&to=${from}`, undefined, tok);
  expectError(e1, 400, "invalid_argument");
  assert.match(e1.body.error.message, /from must be before/);
  const e2 = await s.call("GET", `/v1/tenants/acme/activity?from=0&to=${to}&bucket=1`, undefined, tok);
  expectError(e2, 400, "invalid_argument");
  assert.match(e2.body.error.message, /at most 1000/);
  expectError(await s.call("GET", `/v1/tenants/acme/activity?bucket=0`, undefined, tok), 400, "invalid_argument");
  expectError(await s.call("GET", `/v1/tenants/acme/activity?window=1`, undefined, tok), 400, "invalid_argument");
  expectError(await s.call("GET", `/v1/tenants/acme/activity?workflow=${"x".repeat(80)}`, undefined, tok), 400, "invalid_name");
  expectError(await s.call("GET", `/v1/tenants/acme/activity`, undefined, other), 404, "not_found");
});

test("GET …/instances?idPrefix=: instances whose id starts with the prefix, with the other filters and the cursor", LIMIT, async (t) => {
  const s = await serverFor(t);
  const tok = await tenant(s, "acme");
  const W = "/v1/tenants/acme/workflows/w";
  assert.equal((await s.call("PUT", W, module(`await step.sleep("s", "1 day");`), tok)).status, 200);
  for (const id of ["user-1", "user-2", "user-10", "usa-1", "admin-user-1"]) {
    assert.equal((await s.call("POST", `${W}/instances`, { id, metadata: { even: String(id.length % 2 === 0) } }, tok)).status, 201);
  }
  const ids = async (q: string) => ((await s.call("GET", `${W}/instances?${q}`, undefined, tok)).body.instances as { id: string }[]).map((i) => i.id);
  assert.deepEqual(await ids("idPrefix=user-"), ["user-10", "user-2", "user-1"]);
  assert.deepEqual(await ids("idPrefix=us"), ["usa-1", "user-10", "user-2", "user-1"]);
  assert.deepEqual(await ids("idPrefix=user-1"), ["user-10", "user-1"]);
  assert.deepEqual(await ids("idPrefix=nobody"), []);
  assert.deepEqual(await ids("idPrefix=user-&metadata.even=true"), ["user-2", "user-1"]);
  const p1 = await s.call("GET", `${W}/instances?idPrefix=user-&limit=2`, undefined, tok);
  assert.deepEqual(p1.body.instances.map((i: { id: string }) => i.id), ["user-10", "user-2"]);
  assert.deepEqual(await ids(`idPrefix=user-&limit=2&cursor=${p1.body.cursor}`), ["user-1"]);
  expectError(await s.call("GET", `${W}/instances?idPrefix=`, undefined, tok), 400, "invalid_argument");
});

test("the instance detail carries an errored step's stack, for the dashboard's expandable errors", LIMIT, async (t) => {
  const s = await serverFor(t);
  const tok = await tenant(s, "acme");
  const W = "/v1/tenants/acme/workflows/w";
  const body = module(`await step.do("fails", { retries: { limit: 1, delay: "1 second" } }, async () => { throw new Error("boom here"); });`);
  assert.equal((await s.call("PUT", W, body, tok)).status, 200);
  assert.equal((await s.call("POST", `${W}/instances`, { id: "x" }, tok)).status, 201);
  const d = await until(async () => {
    const r = await s.call("GET", `${W}/instances/x`, undefined, tok);
    return r.body.status === "errored" ? r.body : undefined;
  }, "errored", 15_000);
  const step = d.steps.find((x: { name?: string }) => x.name === "fails");
  assert.equal(step.attempts.length, 2, "two attempts");
  for (const a of step.attempts) {
    assert.equal(a.error.message, "boom here");
    assert.match(a.error.stack, /boom here[\s\S]*at /, "a stack with frames");
  }
});
