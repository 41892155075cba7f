// The stored env's markers mean one thing everywhere: encode, open for a run, redact for the API, guest env.
import { test } from "node:test";
import assert from "node:assert/strict";
import { envMarker, fnMarker, mapEnv, secretMarker } from "../../src/core/env-codec.ts";
import { encodeEnv } from "../../src/engine/deploy-rules.ts";
import { SecretValue, redactEnv } from "../../src/engine/secrets.ts";

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
