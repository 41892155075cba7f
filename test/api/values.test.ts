// Every value the journal accepts renders over HTTP (src/api/render.ts), never a 5xx: step outputs,
// the workflow output, params and event payloads that JSON cannot write as they are.
import { test } from "node:test";
import assert from "node:assert/strict";
import { module, serverFor, until } from "./helpers.ts";

test("BigInt, Map, Set, Date, bytes, Error, a sparse array of length 2³¹+1, NaN and undefined render with tags", { timeout: 60_000 }, async (t) => {
  const s = await serverFor(t);
  assert.equal((await s.call("POST", "/v1/tenants", { name: "acme" })).status, 201);
  const src = module(`
    const big = await step.do("big", async () => 2n ** 70n);
    const map = await step.do("map", async () => new Map([["a", 1n], [2, { b: new Set([1, 2]) }]]));
    const odd = await step.do("odd", async () => ({ d: new Date(0), bytes: new Uint8Array([1, 2, 255]), err: new RangeError("no"), nan: NaN, inf: -Infinity, u: undefined, arr: [undefined, 1] }));
    const sparse = await step.do("sparse", async () => { const a = []; a[2 ** 31] = "far"; a[3] = "near"; return a; });
    return { big, sparse };`);
  assert.equal((await s.call("PUT", "/v1/tenants/acme/workflows/v", src)).status, 200);
  assert.equal((await s.call("POST", "/v1/tenants/acme/workflows/v/instances", { id: "x" })).status, 201);
  const r = await until(async () => {
    const x = await s.call("GET", "/v1/tenants/acme/workflows/v/instances/x");
    assert.ok(x.status < 500, `GET answered ${x.status}: ${x.text.slice(0, 300)}`);
    return (x.body as { status: string }).status === "complete" || (x.body as { status: string }).status === "errored" ? x : undefined;
  }, "the instance to finish");
  const d = r.body as { status: string; error: unknown; output: unknown; steps: { name: string; output: unknown }[] };
  assert.equal(d.status, "complete", JSON.stringify(d.error));
  const out = (name: string) => d.steps.find((x) => x.name === name)!.output;
  assert.deepEqual(out("big"), { $bigint: (2n ** 70n).toString() });
  assert.deepEqual(out("map"), { $map: [["a", { $bigint: "1" }], [2, { b: { $set: [1, 2] } }]] });
  assert.deepEqual(out("odd"), {
    d: "1970-01-01T00:00:00.000Z", bytes: { $bytes: "AQL/", type: "Uint8Array" }, err: { $error: { name: "RangeError", message: "no" } },
    nan: null, inf: null, arr: [null, 1],
  });
  assert.deepEqual(out("sparse"), { $sparse: 2 ** 31 + 1, items: { "3": "near", [String(2 ** 31)]: "far" } });
  assert.deepEqual(d.output, { big: { $bigint: (2n ** 70n).toString() }, sparse: { $sparse: 2 ** 31 + 1, items: { "3": "near", [String(2 ** 31)]: "far" } } });
});

test("a BigInt in params and in an event payload renders too", { timeout: 60_000 }, async (t) => {
  const s = await serverFor(t);
  assert.equal((await s.call("POST", "/v1/tenants", { name: "acme" })).status, 201);
  assert.equal((await s.call("PUT", "/v1/tenants/acme/workflows/e", module(`const ev = await step.waitForEvent("w", { type: "go", timeout: "1 hour" }); return ev.payload;`))).status, 200);
  const wf = s.server.engine.workflow("acme", "e");
  const inst = await wf.create({ id: "p", params: { n: 5n } });
  await until(async () => ((await inst.describe()).steps.length > 0 ? true : undefined), "the wait");
  await inst.sendEvent({ type: "go", payload: { m: 7n } });
  await inst.waitFor();
  const x = await s.call("GET", "/v1/tenants/acme/workflows/e/instances/p");
  assert.equal(x.status, 200, x.text);
  const d = x.body as { params: unknown; output: unknown };
  assert.deepEqual(d.params, { n: { $bigint: "5" } });
  assert.deepEqual(d.output, { m: { $bigint: "7" } });
});

test("the renderer: repeated references and cycles (never from the journal, which refuses cycles) do not loop", async () => {
  const { renderValue } = await import("../../src/api/render.ts");
  const o: Record<string, unknown> = { name: "loop" };
  o.self = o;
  const shared = { k: 1 };
  assert.deepEqual(renderValue({ o, a: shared, b: shared }), { o: { name: "loop", self: { $ref: "cycle" } }, a: { k: 1 }, b: { k: 1 } });
  assert.deepEqual(renderValue([1, undefined, () => 1, Symbol("s")]), [1, null, null, null]);
  assert.equal(renderValue(-0), -0);
});
