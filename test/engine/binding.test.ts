// The Workflow binding's less travelled paths: get of an unknown id, delete and deleteBatch (state
// gone, a running instance stopped), metadata and status filters with cursor paging, and the
// status rules of pause/resume/terminate.
import { test } from "node:test";
import assert from "node:assert/strict";
import { open, wf, deploy, TENANT, until } from "./helpers.ts";

const LIMIT = { timeout: 20_000 };
const WAITER = wf(`
    await step.do("a", async () => 1);
    const e = await step.waitForEvent("go", { type: "go" });
    return e.payload;`);

test("get of an unknown id is not_found; ids follow Cloudflare's rules", LIMIT, async (t) => {
  const h = await open(t);
  await deploy(h.engine, "w", WAITER);
  const w = h.engine.workflow(TENANT, "w");
  await assert.rejects(w.get("nope"), (e: { code?: string; message: string }) => e.code === "not_found" && /nope/.test(e.message));
  await assert.rejects(w.create({ id: "x".repeat(101) }), (e: { code?: string }) => e.code === "invalid_name");
  await assert.rejects(w.create({ id: "-leading-dash" }), (e: { code?: string }) => e.code === "invalid_name");
  const ok = await w.create({ id: "_ok-id_1" });
  assert.equal(ok.id, "_ok-id_1");
  const generated = await w.create();
  assert.match(generated.id, /^[0-9a-f-]{36}$/);
});

test("delete removes the instance and its journal, also while it waits; deleteBatch reports per id", LIMIT, async (t) => {
  const h = await open(t);
  await deploy(h.engine, "w", WAITER);
  const w = h.engine.workflow(TENANT, "w");
  const a = await w.create({ id: "a" });
  await w.create({ id: "b" });
  await until(async () => (await a.describe()).steps.length >= 2, "a waits for its event");
  const pk = a.record.pk;
  await a.delete();
  await assert.rejects(w.get("a"), (e: { code?: string }) => e.code === "not_found");
  assert.deepEqual(await h.engine.store.steps(pk), []);
  assert.equal(h.engine.liveRun(pk), undefined);
  const r = await w.deleteBatch(["b", "missing"]);
  assert.deepEqual(r.deleted, [{ id: "b" }]);
  assert.equal(r.errors.length, 1);
  assert.equal(r.errors[0]!.id, "missing");
  // Cloudflare's per-id code and text for an unknown id (workers-sdk binding.ts deleteBatch), then Weft's explanation
  assert.equal(r.errors[0]!.code, 10400);
  assert.match(r.errors[0]!.message, /^workflows\.api\.error\.instance\.not_found: instance "missing" does not exist/);
  assert.deepEqual(await h.engine.store.listInstances({ tenant: TENANT, limit: 10, direction: "asc" }), []);
  // the id is free again only because the instance is gone: a new one starts from scratch
  const again = await w.create({ id: "a" });
  await again.sendEvent({ type: "go", payload: 7 });
  assert.deepEqual(await again.waitFor(), { status: "complete", output: 7 });
});

test("instances are listed by status and metadata, page by page with a cursor", LIMIT, async (t) => {
  const h = await open(t);
  await deploy(h.engine, "w", WAITER);
  const w = h.engine.workflow(TENANT, "w");
  for (let i = 0; i < 7; i++) await w.create({ id: `i${i}`, metadata: { customer: i % 2 ? "odd" : "even" } });
  const done = await w.get("i0");
  await done.sendEvent({ type: "go", payload: 0 });
  await done.waitFor();
  const odd = await h.engine.store.listInstances({ tenant: TENANT, metadata: { customer: "odd" }, limit: 10, direction: "asc" });
  assert.deepEqual(odd.map((r) => r.id), ["i1", "i3", "i5"]);
  const complete = await h.engine.store.listInstances({ tenant: TENANT, status: "complete", limit: 10, direction: "asc" });
  assert.deepEqual(complete.map((r) => r.id), ["i0"]);
  const page1 = await h.engine.store.listInstances({ tenant: TENANT, limit: 3, direction: "desc" });
  const page2 = await h.engine.store.listInstances({ tenant: TENANT, limit: 3, direction: "desc", cursor: page1.at(-1)!.pk });
  assert.deepEqual([...page1, ...page2].map((r) => r.id), ["i6", "i5", "i4", "i3", "i2", "i1"]);
  assert.deepEqual(await h.engine.store.listInstances({ tenant: "someone-else", limit: 10, direction: "asc" }), []);
  await assert.rejects(w.create({ id: "m", metadata: { n: 1 as unknown as string } }), (e: { code?: string }) => e.code === "invalid_argument");
});

test("pause, resume and terminate follow the status rules with precise errors", LIMIT, async (t) => {
  const h = await open(t);
  await deploy(h.engine, "w", WAITER);
  const w = h.engine.workflow(TENANT, "w");
  const a = await w.create({ id: "a" });
  await until(async () => (await a.describe()).steps.length >= 2, "waiting for the event");
  await assert.rejects(a.resume(), (e: { code?: string; message: string }) => e.code === "invalid_state" && /"a"/.test(e.message));
  await a.pause();
  await until(async () => (await a.status()).status === "paused", "paused");
  await assert.rejects(a.pause(), (e: { code?: string }) => e.code === "invalid_state");
  await a.sendEvent({ type: "go", payload: "later" }); // buffered while paused
  assert.equal((await a.status()).status, "paused");
  await a.resume();
  assert.deepEqual(await a.waitFor(), { status: "complete", output: "later" });
  await assert.rejects(a.terminate(), (e: { code?: string; message: string }) => e.code === "invalid_state" && /complete/.test(e.message));
  const b = await w.create({ id: "b" });
  await b.terminate();
  assert.equal((await b.status()).status, "terminated");
  await assert.rejects(b.sendEvent({ type: "go" }), (e: { code?: string }) => e.code === "invalid_state");
  const d = await b.describe();
  assert.equal(d.steps.at(-1)?.type, "termination");
});
