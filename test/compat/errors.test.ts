// Errors carry Cloudflare's texts (issue 12, item 12): code and tools written for Cloudflare Workflows
// match on them, so each Weft error that means the same begins with the reference's text, exactly,
// then ": " and Weft's own explanation; its `code` and HTTP status stay Weft's. The texts come from
// Cloudflare's engine and binding (github.com/cloudflare/workers-sdk, packages/workflows-shared/src:
// binding.ts, engine.ts, lib/errors.ts) and are cited per test; each is checked through the library
// binding and through the HTTP API, and all of them once more from tenant code in the isolate through
// the env Workflow binding (the last test).
import { test } from "node:test";
import assert from "node:assert/strict";
import { TENANT, deploy, open, wf } from "../engine/helpers.ts";
import { workflowBinding } from "../../src/index.ts";
import { serverFor, module, until, type TestServer } from "../api/helpers.ts";

const LIMIT = { timeout: 30_000 };

type Err = { code?: string; message: string };

/** The rejection of `p` (it must reject). */
async function refusal(p: Promise<unknown>): Promise<Err> {
  try {
    await p;
  } catch (e) {
    return e as Err;
  }
  throw new Error("expected a rejection");
}

/** `message` begins with the reference's exact text, and Weft's explanation follows it. */
function startsWithText(message: string, text: string, explanation: RegExp): void {
  assert.ok(message.startsWith(text), `the message begins with Cloudflare's text ${JSON.stringify(text)}: ${JSON.stringify(message)}`);
  assert.equal(message.slice(text.length, text.length + 2), ": ", `Weft's explanation follows after ": ": ${JSON.stringify(message)}`);
  assert.match(message.slice(text.length + 2), explanation, "Weft's explanation is still there");
}

// A workflow that waits for an event ("go"), completes with its payload, or errors when params.fail.
const WAITER = `
    if (event.payload.fail) throw new Error("asked to fail");
    await step.do("a", async () => 1);
    const e = await step.waitForEvent("go", { type: "go" });
    return e.payload;`;

async function library(t: Parameters<typeof open>[0]) {
  const h = await open(t);
  await deploy(h.engine, "w", wf(WAITER));
  return { h, w: h.engine.workflow(TENANT, "w") };
}

const BASE = `/v1/tenants/${TENANT}/workflows/w`;

async function http(t: Parameters<typeof open>[0]): Promise<TestServer> {
  const s = await serverFor(t);
  assert.equal((await s.call("POST", "/v1/tenants", { name: TENANT })).status, 201);
  const d = await s.call("PUT", BASE, module(WAITER));
  assert.equal(d.status, 200, d.text);
  return s;
}

async function statusOf(s: TestServer, id: string, statuses: string[]): Promise<void> {
  await until(async () => statuses.includes((await s.call("GET", `${BASE}/instances/${id}`)).body?.status), `${id} in ${statuses.join("/")}`);
}

/** An HTTP error reply: its status, Weft's code, and its message (checked by the caller). */
function httpError(r: { status: number; body: any; text: string }, status: number, code: string): string {
  assert.equal(r.status, status, r.text);
  assert.equal(r.body?.error?.code, code, r.text);
  return r.body.error.message as string;
}

// ---- instance.not_found --------------------------------------------------------------------------

// binding.ts get(): `throw new Error("instance.not_found")` when the instance's status cannot be read;
// miniflare's wrapped binding (workers/workflows/wrapped-binding.worker.ts) calls get() before every
// instance method, so a deleted instance answers the same; the local explorer maps exactly this text
// to a 404 (local-explorer/resources/workflows.ts). Weft: code not_found (404).
test("instance.not_found: get() of an unknown id, a deleted instance's methods, an invalid id (library, HTTP)", LIMIT, async (t) => {
  const TEXT = "instance.not_found";
  const { w } = await library(t);

  const unknown = await refusal(w.get("nope"));
  assert.equal(unknown.code, "not_found");
  startsWithText(unknown.message, TEXT, /^instance "nope" does not exist in workflow "w" of tenant "acme"$/);

  const a = await w.create({ id: "a" });
  await a.waitFor(["waiting"]);
  await a.delete();
  for (const [what, call] of [["status", () => a.status()], ["pause", () => a.pause()], ["terminate", () => a.terminate()], ["sendEvent", () => a.sendEvent({ type: "go" })]] as const) {
    const e = await refusal(call());
    assert.equal(e.code, "not_found", what);
    startsWithText(e.message, TEXT, /^instance "a" does not exist in workflow "w" of tenant "acme" \(it was deleted\)$/);
  }
  // Cloudflare's get() does not check the id: one no instance can have is not found either
  const invalid = await refusal(w.get("#invalid!"));
  assert.equal(invalid.code, "invalid_name", "Weft's code stays the precise one");
  startsWithText(invalid.message, TEXT, /^instance id "#invalid!" is invalid: it must match/);

  const s = await http(t);
  for (const [method, path] of [["GET", "nope"], ["POST", "nope/pause"], ["POST", "nope/terminate"], ["POST", "nope/events"], ["DELETE", "nope"]] as const) {
    const body = path.endsWith("events") ? { type: "go" } : path.endsWith("terminate") ? {} : undefined;
    const m = httpError(await s.call(method, `${BASE}/instances/${path}`, body), 404, "not_found");
    startsWithText(m, TEXT, /^instance "nope" does not exist in workflow "w" of tenant "acme"$/);
  }
  const bad = httpError(await s.call("GET", `${BASE}/instances/${encodeURIComponent("#invalid!")}`), 400, "invalid_name");
  startsWithText(bad, TEXT, /^instance id "#invalid!" is invalid/);
});

// ---- Cannot terminate instance since its on a finite state ----------------------------------------

// engine.ts changeInstanceStatus("terminate"): on Terminated, Complete or Errored,
// createWorkflowError("Cannot terminate instance since its on a finite state", "instance.cannot_terminate"),
// whose message is `(${code}) ${message}` (lib/errors.ts createWorkflowError). Weft: invalid_state (409).
test("terminate of a finished instance: (instance.cannot_terminate) Cannot terminate instance since its on a finite state (library, HTTP)", LIMIT, async (t) => {
  const TEXT = "(instance.cannot_terminate) Cannot terminate instance since its on a finite state";
  const { w } = await library(t);
  const done = await w.create({ id: "done" });
  await done.waitFor(["waiting"]);
  await done.sendEvent({ type: "go", payload: 1 });
  assert.equal((await done.waitFor()).status, "complete");
  const failed = await w.create({ id: "failed", params: { fail: true } });
  assert.equal((await failed.waitFor()).status, "errored");
  const stopped = await w.create({ id: "stopped" });
  await stopped.terminate();
  assert.equal((await stopped.status()).status, "terminated");
  for (const [inst, status] of [[done, "complete"], [failed, "errored"], [stopped, "terminated"]] as const) {
    const e = await refusal(inst.terminate());
    assert.equal(e.code, "invalid_state");
    startsWithText(e.message, TEXT, new RegExp(`^instance "${inst.id}" is ${status}; only instances that have not finished can be terminated$`));
    assert.equal((await inst.status()).status, status, "nothing changed");
  }

  const s = await http(t);
  assert.equal((await s.call("POST", `${BASE}/instances`, { id: "f", params: { fail: true } })).status, 201);
  await statusOf(s, "f", ["errored"]);
  const m = httpError(await s.call("POST", `${BASE}/instances/f/terminate`, {}), 409, "invalid_state");
  startsWithText(m, TEXT, /^instance "f" is errored; only instances that have not finished can be terminated$/);
});

// ---- not found in execution history --------------------------------------------------------------

// engine.ts changeInstanceStatus("restart") with `from` not in the history (lib/restart.ts
// resolveGroupKeysToWipe: name, type default "do", count default 1): lib/errors.ts stepNotFoundError,
// `(instance.cannot_restart) Step "${name}" not found in execution history`. Weft: not_found (404).
test("restart from a step not in the history: (instance.cannot_restart) Step \"…\" not found in execution history (library, HTTP)", LIMIT, async (t) => {
  const text = (name: string) => `(instance.cannot_restart) Step "${name}" not found in execution history`;
  const { w } = await library(t);
  const a = await w.create({ id: "a" });
  await a.waitFor(["waiting"]);
  const missing = await refusal(a.restart({ from: { name: "nope" } }));
  assert.equal(missing.code, "not_found");
  startsWithText(missing.message, text("nope"), /^instance "a" has no do step "nope" \(occurrence 1\) in its history$/);
  // "a" is a do step: as a sleep, or its second occurrence, it is not in the history
  const asSleep = await refusal(a.restart({ from: { name: "a", type: "sleep" } }));
  startsWithText(asSleep.message, text("a"), /^instance "a" has no sleep step "a" \(occurrence 1\) in its history$/);
  const second = await refusal(a.restart({ from: { name: "a", count: 2 } }));
  startsWithText(second.message, text("a"), /^instance "a" has no do step "a" \(occurrence 2\) in its history$/);
  assert.equal((await a.status()).status, "waiting", "nothing changed");

  const s = await http(t);
  assert.equal((await s.call("POST", `${BASE}/instances`, { id: "x" })).status, 201);
  await statusOf(s, "x", ["waiting"]);
  const m = httpError(await s.call("POST", `${BASE}/instances/x/restart`, { from: { name: "nope", type: "waitForEvent" } }), 404, "not_found");
  startsWithText(m, text("nope"), /^instance "x" has no waitForEvent step "nope" \(occurrence 1\) in its history$/);
});

// ---- batchCreate should have at least 1 instance ---------------------------------------------------

// binding.ts createBatch([]): `new Error("WorkflowError: batchCreate should have at least 1 instance")`
// (the message itself starts with "WorkflowError: "; workers-sdk tests/binding.test.ts "should throw
// error for empty batch" matches that whole text). Weft: invalid_argument (400).
test("createBatch([]): WorkflowError: batchCreate should have at least 1 instance (library, HTTP)", LIMIT, async (t) => {
  const TEXT = "WorkflowError: batchCreate should have at least 1 instance";
  const { h, w } = await library(t);
  const e = await refusal(w.createBatch([]));
  assert.equal(e.code, "invalid_argument");
  startsWithText(e.message, TEXT, /^createBatch takes 1 to 100 instances, got none$/);
  assert.deepEqual(await h.engine.store.listInstances({ tenant: TENANT, limit: 10, direction: "asc" }), []);

  const s = await http(t);
  const m = httpError(await s.call("POST", `${BASE}/instances/batch`, { instances: [] }), 400, "invalid_argument");
  startsWithText(m, TEXT, /^createBatch takes 1 to 100 instances, got none$/);
  assert.deepEqual((await s.call("GET", `${BASE}/instances`)).body.instances, []);
  // the document still says 1 to 100
  const doc = (await s.call("GET", "/openapi.json", undefined, null)).body;
  const schema = doc.paths["/v1/tenants/{tenant}/workflows/{workflow}/instances/batch"].post.requestBody.content["application/json"].schema;
  assert.equal(schema.properties.instances.minItems, 1);
  assert.equal(schema.properties.instances.maxItems, 100);
});

// ---- Workflow instance has invalid id --------------------------------------------------------------

// binding.ts create(): `throw new WorkflowError("Workflow instance has invalid id")` for an id that is
// not ^[a-zA-Z0-9_][a-zA-Z0-9-_]*$ of at most 100 characters (lib/validators.ts isValidWorkflowInstanceId;
// tests/binding.test.ts uses "#invalid!"); createBatch() creates each entry with create(). Weft: invalid_name (400).
test("create() with an invalid id: Workflow instance has invalid id (library, HTTP)", LIMIT, async (t) => {
  const TEXT = "Workflow instance has invalid id";
  const { w } = await library(t);
  const one = await refusal(w.create({ id: "#invalid!" }));
  assert.equal(one.code, "invalid_name");
  startsWithText(one.message, TEXT, /^instance id "#invalid!" is invalid: it must match .*\("#" at position 1 is not allowed\)$/);
  const long = await refusal(w.create({ id: "x".repeat(101) }));
  startsWithText(long.message, TEXT, /at most 100 characters \(it is 101 characters long\)$/);
  const batch = await refusal(w.createBatch([{ id: "fine" }, { id: "-dash" }]));
  assert.equal(batch.code, "invalid_name");
  startsWithText(batch.message, TEXT, /^createBatch\[1\]: instance id "-dash" is invalid: .*\(it starts with "-"\)$/);
  await assert.rejects(w.get("fine"), { code: "not_found" }, "a refused batch creates nothing");

  const s = await http(t);
  const m = httpError(await s.call("POST", `${BASE}/instances`, { id: "#invalid!" }), 400, "invalid_name");
  startsWithText(m, TEXT, /^instance id "#invalid!" is invalid/);
  const mb = httpError(await s.call("POST", `${BASE}/instances/batch`, { instances: [{ id: "ok" }, { id: "no way" }] }), 400, "invalid_name");
  startsWithText(mb, TEXT, /^createBatch\[1\]: instance id "no way" is invalid/);
});

// ---- deleteBatch ---------------------------------------------------------------------------------

// binding.ts deleteBatch({ instances }) (miniflare's binding: deleteBatch(ids)): refused as a whole
// with createWorkflowError texts — not an array "(body) Provided argument is invalid", over 100 "(body)
// batchDeleteInstances only supports 100 instances at a time", none "(body) batchDeleteInstances should
// have at least 1 instance", an id that is not addressable (lib/validators.ts, cron ids allowed)
// "(instance.invalid_id) Instance ID is invalid"; otherwise each distinct id is deleted once and every id
// given is reported in order: { deleted: { id }[], errors: { id, code, message }[] } with code 10400
// "workflows.api.error.instance.not_found" for an unknown id and 10001
// "workflows.api.error.internal_server" for any other failure (miniflare test/plugins/workflows
// "delete multiple workflows": [delete-1, cron id, delete-2, delete-1] → deleted ×3, errors ×1).
const NOT_FOUND = "workflows.api.error.instance.not_found";
const CRON_ID = "*/30 * * * *-1786001400000";

function checkShape(r: unknown): asserts r is { deleted: { id: string }[]; errors: { id: string; code: number; message: string }[] } {
  assert.deepEqual(Object.keys(r as object).sort(), ["deleted", "errors"]);
  const o = r as { deleted: object[]; errors: object[] };
  for (const d of o.deleted) assert.deepEqual(Object.keys(d), ["id"]);
  for (const e of o.errors) assert.deepEqual(Object.keys(e).sort(), ["code", "id", "message"]);
}

test("deleteBatch: Cloudflare's result shape — each id once, duplicates and unknown ids reported per id given (library, HTTP)", LIMIT, async (t) => {
  const { h, w } = await library(t);
  const a = await w.create({ id: "a" });
  await w.create({ id: "b" });
  await a.waitFor(["waiting"]);
  const deletes: string[] = [];
  const real = h.engine.deleteInstance.bind(h.engine);
  h.engine.deleteInstance = async (r) => (deletes.push(r.id), real(r));

  const r = await w.deleteBatch(["a", "missing", "b", "a", CRON_ID, "missing"]);
  checkShape(r);
  assert.deepEqual(r.deleted, [{ id: "a" }, { id: "b" }, { id: "a" }]);
  assert.deepEqual(r.errors.map((e) => [e.id, e.code]), [["missing", 10400], [CRON_ID, 10400], ["missing", 10400]]);
  startsWithText(r.errors[0]!.message, NOT_FOUND, /^instance "missing" does not exist in workflow "w" of tenant "acme"$/);
  startsWithText(r.errors[1]!.message, NOT_FOUND, /^instance "\*\/30 \* \* \* \*-1786001400000" does not exist .* \(no instance can have this id: /);
  assert.deepEqual(deletes.sort(), ["a", "b"], "each distinct id is deleted once");
  await assert.rejects(w.get("a"), (e: Err) => e.message.startsWith("instance.not_found"));

  // any other failure: 10001, without the internal error's text
  const c = await w.create({ id: "c" });
  h.engine.deleteInstance = async () => { throw new Error("disk on fire"); };
  const broken = await w.deleteBatch(["c"]);
  checkShape(broken);
  assert.deepEqual(broken.deleted, []);
  assert.equal(broken.errors[0]!.code, 10001);
  startsWithText(broken.errors[0]!.message, "workflows.api.error.internal_server", /^the deletion failed; the engine logged the details$/);
  assert.ok(!broken.errors[0]!.message.includes("disk on fire"));
  h.engine.deleteInstance = real;
  assert.equal((await w.get("c")).id, c.id, "c was not deleted");

  const s = await http(t);
  for (const id of ["d1", "d2"]) assert.equal((await s.call("POST", `${BASE}/instances`, { id })).status, 201);
  const hr = await s.call("POST", `${BASE}/instances/batch/delete`, { instances: ["d1", CRON_ID, "d2", "d1"] });
  assert.equal(hr.status, 200, hr.text);
  checkShape(hr.body);
  assert.deepEqual(hr.body.deleted, [{ id: "d1" }, { id: "d2" }, { id: "d1" }]);
  assert.deepEqual(hr.body.errors.map((e: { id: string; code: number }) => [e.id, e.code]), [[CRON_ID, 10400]]);
  startsWithText(hr.body.errors[0].message, NOT_FOUND, /does not exist in workflow "w" of tenant "acme"/);
  httpError(await s.call("GET", `${BASE}/instances/d1`), 404, "not_found");
});

test("deleteBatch refused as a whole with Cloudflare's texts, nothing deleted (library, HTTP)", LIMIT, async (t) => {
  const { w } = await library(t);
  await w.create({ id: "keep" });
  const cases: [unknown, string, string, RegExp][] = [
    ["keep", "(body) Provided argument is invalid", "invalid_argument", /^deleteBatch takes an array of instance ids, got string$/],
    [[], "(body) batchDeleteInstances should have at least 1 instance", "invalid_argument", /^deleteBatch takes 1 to 100 ids, got none$/],
    [["keep", ...Array.from({ length: 100 }, (_, i) => `i${i}`)], "(body) batchDeleteInstances only supports 100 instances at a time", "invalid_argument", /^deleteBatch takes at most 100 ids, got 101$/],
    [["keep", ""], "(instance.invalid_id) Instance ID is invalid", "invalid_name", /^deleteBatch\[1\] is "": an instance id is/],
    [["keep", "a!"], "(instance.invalid_id) Instance ID is invalid", "invalid_name", /^deleteBatch\[1\] is "a!"/],
    [["keep", 7], "(instance.invalid_id) Instance ID is invalid", "invalid_name", /^deleteBatch\[1\] is number/],
  ];
  for (const [ids, text, code, why] of cases) {
    const e = await refusal(w.deleteBatch(ids as string[]));
    assert.equal(e.code, code, text);
    startsWithText(e.message, text, why);
  }
  assert.equal((await w.get("keep")).id, "keep", "keep was not deleted");

  const s = await http(t);
  assert.equal((await s.call("POST", `${BASE}/instances`, { id: "keep" })).status, 201);
  for (const [ids, text, code, why] of cases.slice(1, 5)) {
    const m = httpError(await s.call("POST", `${BASE}/instances/batch/delete`, { instances: ids }), 400, code);
    startsWithText(m, text, why);
  }
  assert.equal((await s.call("GET", `${BASE}/instances/keep`)).status, 200, "keep was not deleted");
});

// ---- from tenant code -----------------------------------------------------------------------------

// The same texts reach tenant code that calls this.env.MY_WORKFLOW (Cloudflare's Workflow binding in
// env, over the engine's binding of the run's own tenant), and deleteBatch gives it the same shape.
test("tenant code in the isolate sees the same texts through the env Workflow binding, and deleteBatch's shape", LIMIT, async (t) => {
  const { h, w } = await library(t);
  const done = await w.create({ id: "done" });
  await done.waitFor(["waiting"]);
  await done.sendEvent({ type: "go", payload: 1 });
  await done.waitFor();
  await w.create({ id: "gone" });
  await deploy(h.engine, "probe", wf(`
    return await step.do("probe", async () => {
      const out = {};
      const msg = async (k, f) => { try { await f(); out[k] = "no error"; } catch (e) { out[k] = e.message; } };
      await msg("get", () => this.env.W.get("ghost"));
      await msg("create", () => this.env.W.create({ id: "#invalid!" }));
      await msg("createBatch", () => this.env.W.createBatch([]));
      const done = await this.env.W.get("done");
      await msg("terminate", () => done.terminate());
      await msg("restart", () => done.restart({ from: { name: "nope" } }));
      await msg("deleteBatchEmpty", () => this.env.W.deleteBatch([]));
      out.deleteBatch = await this.env.W.deleteBatch(["gone", "missing", "gone"]);
      return out;
    });`), { env: { W: workflowBinding("w") } });
  const s = await (await h.engine.workflow(TENANT, "probe").create({ id: "p" })).waitFor();
  assert.equal(s.status, "complete", JSON.stringify(s.error));
  const out = s.output as Record<string, string> & { deleteBatch: unknown };
  startsWithText(out.get!, "instance.not_found", /^instance "ghost" does not exist in workflow "w" of tenant "acme"$/);
  startsWithText(out.create!, "Workflow instance has invalid id", /^instance id "#invalid!" is invalid/);
  startsWithText(out.createBatch!, "WorkflowError: batchCreate should have at least 1 instance", /^createBatch takes 1 to 100 instances, got none$/);
  startsWithText(out.terminate!, "(instance.cannot_terminate) Cannot terminate instance since its on a finite state", /^instance "done" is complete/);
  startsWithText(out.restart!, `(instance.cannot_restart) Step "nope" not found in execution history`, /^instance "done" has no do step "nope"/);
  startsWithText(out.deleteBatchEmpty!, "(body) batchDeleteInstances should have at least 1 instance", /^deleteBatch takes 1 to 100 ids, got none$/);
  checkShape(out.deleteBatch);
  assert.deepEqual(out.deleteBatch.deleted, [{ id: "gone" }, { id: "gone" }]);
  assert.deepEqual(out.deleteBatch.errors.map((e) => [e.id, e.code]), [["missing", 10400]]);
  startsWithText(out.deleteBatch.errors[0]!.message, NOT_FOUND, /^instance "missing" does not exist in workflow "w" of tenant "acme"$/);
  await assert.rejects(w.get("gone"), (e: Err) => e.message.startsWith("instance.not_found"));
});
