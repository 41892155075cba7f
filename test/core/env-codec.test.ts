// The stored env's markers mean one thing everywhere: encode, open for a run, redact for the API, guest env.
import { test } from "node:test";
import assert from "node:assert/strict";
import { envMarker, fnMarker, mapEnv, objMarker, secretMarker, workflowMarker } from "../../src/core/env-codec.ts";
import { encodeEnv } from "../../src/engine/deploy-rules.ts";
import { HostFunctionRef, SecretValue, WorkflowBindingRef, redactEnv } from "../../src/engine/secrets.ts";

test("a marker is an object with exactly its one string key; anything else is a plain value", () => {
  assert.deepEqual(envMarker(fnMarker("a.b")), { kind: "fn", path: "a.b" });
  assert.deepEqual(envMarker(secretMarker("xyz")), { kind: "secret", sealed: "xyz" });
  for (const v of [{ __weftFn: 1 }, { __weftFn: "p", other: 1 }, { __weftSecret: null }, [fnMarker("x")], "x", null, { __proto__: null }]) {
    assert.equal(envMarker(v), undefined, JSON.stringify(v));
  }
});

test("mapEnv replaces markers at any depth with their paths, copies the rest, and seals when asked", () => {
  const stored = { a: 1, nested: { f: fnMarker("nested.f"), list: [secretMarker("s0"), "plain", { deep: fnMarker("nested.list[2].deep") }] }, lookalike: { __weftFn: "x", extra: true } };
  const seen: string[] = [];
  const out = mapEnv(stored, (m, path) => (seen.push(`${m.kind}@${path}`), `<${m.kind}>`), true) as typeof stored & Record<string, unknown>;
  assert.deepEqual(seen, ["fn@nested.f", "secret@nested.list[0]", "fn@nested.list[2].deep"]);
  assert.deepEqual(out, { a: 1, nested: { f: "<fn>", list: ["<secret>", "plain", { deep: "<fn>" }] }, lookalike: { __weftFn: "x", extra: true } });
  assert.ok(Object.isFrozen(out) && Object.isFrozen(out.nested.list), "sealed");
  assert.notEqual(out.lookalike, stored.lookalike, "a copy");
});

test("encode → redact round trip: what deploy stores is what the API names", () => {
  const fns = new Map();
  const stored = encodeEnv({ KEY: new SecretValue("hunter2"), call: () => 1, cfg: { n: 2 } }, "", { fns, seal: (p) => `sealed(${p.length})`, host: () => () => 0 });
  assert.deepEqual(stored, { KEY: secretMarker("sealed(7)"), call: fnMarker("call"), cfg: { n: 2 } });
  assert.deepEqual(redactEnv(stored), { KEY: { secret: true }, call: { function: "call" }, cfg: { n: 2 } });
  assert.deepEqual([...fns.keys()], ["call"]);
});

test("host objects and Workflow bindings: their markers, and what the API names them", () => {
  assert.deepEqual(envMarker(objMarker("DB", ["prepare", "batch"])), { kind: "obj", path: "DB", methods: ["prepare", "batch"] });
  assert.deepEqual(envMarker(objMarker("P", null)), { kind: "obj", path: "P", methods: null });
  assert.deepEqual(envMarker(workflowMarker("child")), { kind: "workflow", workflow: "child" });
  for (const v of [{ __weftObj: "DB" }, { __weftObj: { path: "DB" } }, { __weftObj: { path: "DB", methods: [1] } }, { __weftWorkflow: 3 }, { __weftWorkflow: "x", tenant: "y" }]) {
    assert.equal(envMarker(v), undefined, JSON.stringify(v));
  }
  class D1 { prepare() { return 1; } }
  const fns = new Map();
  const objects = new Map<string, object>();
  const stored = encodeEnv({ DB: new D1(), CHILD: new WorkflowBindingRef("child"), KV: new HostFunctionRef("kv") }, "", {
    fns, objects, tenant: "acme", seal: (p) => p, host: () => ({ get() { return 1; } }),
  });
  assert.deepEqual(stored, { DB: objMarker("DB", ["prepare"]), CHILD: workflowMarker("child"), KV: objMarker("KV", ["get"]) });
  assert.deepEqual([...objects.keys()], ["DB"], "a named object is found by its name, not kept by path");
  assert.deepEqual(redactEnv(stored, { KV: "kv" }), { DB: { object: "DB" }, CHILD: { workflow: "child" }, KV: { hostFunction: "kv" } });
  assert.throws(() => encodeEnv({ X: new WorkflowBindingRef("child", "globex") }, "", { fns, tenant: "acme", seal: (p) => p, host: () => () => 0 }), /env\.X: a Workflow binding reaches only the deploying tenant's own workflows/);
});
