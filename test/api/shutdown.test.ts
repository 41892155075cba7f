// `weft serve` as a process: it prints the URL and (first start only) the admin token; SIGTERM lets
// the step attempts running at that moment finish and commit, then exits 0; a second signal stops at
// once, also without losing anything committed. A restart on the same data directory continues.
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { module, until } from "./helpers.ts";

const BIN = fileURLToPath(new URL("../../bin/weft.js", import.meta.url));

function serve(dataDir: string) {
  const child = spawn(process.execPath, [BIN, "serve", "--port", "0", "--data", dataDir, "--drain", "5"], { stdio: ["ignore", "pipe", "pipe"] });
  let out = "";
  child.stdout.on("data", (d: Buffer) => (out += d.toString()));
  child.stderr.on("data", (d: Buffer) => (out += d.toString()));
  const exited = new Promise<{ code: number | null; at: number }>((r) => child.on("exit", (code) => r({ code, at: Date.now() })));
  const started = until(async () => /serving (http:\/\/\S+)/.exec(out)?.[1], "the server to start", 15_000);
  return { child, exited, started, output: () => out };
}

async function api(url: string, token: string, method: string, path: string, body?: unknown) {
  const r = await fetch(url + path, { method, headers: { authorization: `Bearer ${token}`, "content-type": "application/json" }, body: body === undefined ? undefined : JSON.stringify(body) });
  return { status: r.status, body: await r.json().catch(() => undefined) as any };
}

const SRC = module(`
    const a = await step.do("a", async () => "first");
    const b = await step.do("slow", async () => { await new Promise((r) => setTimeout(r, event.payload.ms)); return "slow done"; });
    return { a, b };`);

test("SIGTERM: the running step finishes and commits, exit 0; restart continues; a second signal stops at once without loss", { timeout: 60_000 }, async (t) => {
  const dataDir = mkdtempSync(join(tmpdir(), "weft-serve-"));
  t.after(() => rmSync(dataDir, { recursive: true, force: true }));

  // life 1: first start prints the admin token once
  const l1 = serve(dataDir);
  t.after(() => l1.child.kill("SIGKILL")); // a failed assertion must not leave the server (and this file) running
  const url1 = await l1.started;
  const token = /Admin token[^\n]*\n\n\s+(weft_\S+)/.exec(l1.output())?.[1];
  assert.ok(token, l1.output());
  await api(url1, token, "POST", "/v1/tenants", { name: "acme" });
  assert.equal((await api(url1, token, "PUT", "/v1/tenants/acme/workflows/wf", SRC)).status, 200);
  await api(url1, token, "POST", "/v1/tenants/acme/workflows/wf/instances", { id: "g", params: { ms: 800 } });
  await until(async () => (await api(url1, token, "GET", "/v1/tenants/acme/workflows/wf/instances/g")).body.steps.some((s: { name: string }) => s.name === "slow"), "the slow step to start");
  const termAt = Date.now();
  l1.child.kill("SIGTERM");
  const e1 = await l1.exited;
  assert.equal(e1.code, 0, l1.output());
  assert.ok(e1.at - termAt >= 300, "it waited for the running step");
  assert.match(l1.output(), /SIGTERM: stopping/);

  // life 2: no token printed again; the step committed in life 1 is not run again
  const l2 = serve(dataDir);
  t.after(() => l2.child.kill("SIGKILL"));
  const url2 = await l2.started;
  assert.doesNotMatch(l2.output(), /Admin token/);
  const done = await until(async () => {
    const r = await api(url2, token, "GET", "/v1/tenants/acme/workflows/wf/instances/g");
    return r.body.status === "complete" ? r.body : undefined;
  }, "completion after restart");
  assert.deepEqual(done.output, { a: "first", b: "slow done" });
  const slow = done.steps.find((s: { name: string }) => s.name === "slow");
  assert.ok(Date.parse(slow.end) <= e1.at, "the slow step's result was committed before the first life exited");
  assert.equal(slow.attempts.length, 1);

  // a second signal: stop now, exit 0; committed steps survive, the cut one runs again after restart
  await api(url2, token, "POST", "/v1/tenants/acme/workflows/wf/instances", { id: "h", params: { ms: 30_000 } });
  await until(async () => (await api(url2, token, "GET", "/v1/tenants/acme/workflows/wf/instances/h")).body.steps.some((s: { name: string }) => s.name === "slow"), "h's slow step to start");
  l2.child.kill("SIGTERM");
  await until(async () => /SIGTERM: stopping/.test(l2.output()), "the first signal to be seen");
  l2.child.kill("SIGTERM");
  const e2 = await l2.exited;
  assert.equal(e2.code, 0, l2.output());
  assert.match(l2.output(), /again: stopping now/);

  const l3 = serve(dataDir);
  const url3 = await l3.started;
  t.after(() => l3.child.kill("SIGKILL"));
  const h = (await api(url3, token, "GET", "/v1/tenants/acme/workflows/wf/instances/h")).body;
  assert.equal(h.steps.find((s: { name: string }) => s.name === "a").output, "first", "the committed step survived");
  l3.child.kill("SIGTERM");
  assert.equal((await l3.exited).code, 0);
});

test("an endless SQL statement is stopped at its limit; the server keeps serving and still stops on SIGTERM (nothing lost)", { timeout: 60_000 }, async (t) => {
  const dataDir = mkdtempSync(join(tmpdir(), "weft-serve2-"));
  t.after(() => rmSync(dataDir, { recursive: true, force: true }));
  const l1 = serve(dataDir);
  const url = await l1.started;
  t.after(() => l1.child.kill("SIGKILL"));
  const token = /Admin token[^\n]*\n\n\s+(weft_\S+)/.exec(l1.output())![1]!;
  await api(url, token, "POST", "/v1/tenants", { name: "acme" });
  const endless = module(`
    await step.do("ok", async () => { this.ctx.storage.sql.exec("CREATE TABLE t (x)"); });
    return await step.do("endless", async () => this.ctx.storage.sql.exec("WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c) SELECT count(*) AS n FROM c").one().n);`);
  assert.equal((await api(url, token, "PUT", "/v1/tenants/acme/workflows/wf", { ...endless, limits: { sqlMsPerQuery: 200 } })).status, 200);
  await api(url, token, "POST", "/v1/tenants/acme/workflows/wf/instances", { id: "e" });
  const d = await until(async () => {
    const r = await api(url, token, "GET", "/v1/tenants/acme/workflows/wf/instances/e");
    return r.body.status === "errored" ? r.body : undefined;
  }, "the instance to fail at the statement limit", 20_000);
  assert.match(d.error.message, /longer than 200 ms \(limits\.sqlMsPerQuery\)/);
  assert.equal((await api(url, token, "GET", "/healthz")).status, 200, "the server kept serving");
  l1.child.kill("SIGTERM");
  const e = await l1.exited;
  assert.match(l1.output(), /still running; exiting with SIGKILL \(nothing is lost\)/);
  assert.ok(e.code === null || e.code === 0);
  const l2 = serve(dataDir);
  const url2 = await l2.started;
  t.after(() => l2.child.kill("SIGKILL"));
  assert.equal((await api(url2, token, "GET", "/v1/tenants/acme/workflows/wf/instances/e")).body.status, "errored", "the committed state is there after the restart");
  assert.deepEqual((await api(url2, token, "GET", "/v1/tenants/acme/workflows/wf/instances/e")).body.steps.find((s: { name: string }) => s.name === "ok").success, true);
});
