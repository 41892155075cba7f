import { test } from "node:test";
import assert from "node:assert/strict";
import vm from "node:vm";
import { ErrorCode, WeftError } from "../../src/core/errors.ts";
import { checkSerializable } from "../../src/core/values.ts";

const WHERE = 'step "load user" result';

function refused(value: unknown, path: string, kind: string, ...snippets: string[]) {
  assert.throws(() => checkSerializable(value, WHERE), (e: unknown) => {
    assert.ok(e instanceof WeftError);
    assert.equal(e.code, ErrorCode.NotSerializable);
    assert.deepEqual(e.details, { where: WHERE, path, kind });
    assert.ok(e.message.startsWith(`${WHERE} is not serializable: `), e.message);
    assert.ok(e.message.includes("structured-clone values (no functions, symbols or cycles)"), e.message);
    for (const s of snippets) assert.ok(e.message.includes(s), e.message);
    return true;
  });
}

test("structured-clone values pass", () => {
  const shared = { a: 1 };
  class Point { x = 1; y = 2; }
  const ok: unknown[] = [
    undefined, null, true, 0, -0, NaN, 1n, "s",
    new Date(), /re/g, new ArrayBuffer(8), new Uint8Array(4), new Float64Array(2), new DataView(new ArrayBuffer(2)),
    new Map<unknown, unknown>([["k", { v: [1, 2] }], [{ key: 1 }, new Set([1, "2"])]]),
    new Set([1, 2]), [1, [2, [3]]], [, , 1], new Error("boom"), new TypeError("t", { cause: { x: 1 } }),
    { nested: { deep: { list: [shared, shared], again: shared } } }, new Point(), Object.create(null),
  ];
  for (const v of ok) checkSerializable(v, WHERE);
  assert.deepEqual(structuredClone(ok).length, ok.length); // sanity: all really are clonable
});

test("functions are refused with their path", () => {
  refused({ user: { callback: () => 1 } }, "result.user.callback", "function",
    `${WHERE} is not serializable: a function at result.user.callback; values must be`);
  refused({ items: [0, 1, 2, { cb() {} }] }, "result.items[3].cb", "function");
  refused(() => 1, "result", "function");
  refused({ "odd key": () => 1 }, 'result["odd key"]', "function");
});

test("Map keys and values, Set values are walked", () => {
  refused(new Map([["k", () => 1]]), "result<map value>", "function");
  refused(new Map([[() => 1, "v"]]), "result<map key>", "function");
  refused({ m: new Map([["k", { f: () => 1 }]]) }, "result.m<map value>.f", "function");
  refused(new Set([1, Symbol("s")]), "result<set value>", "symbol");
});

test("symbols as values and as keys", () => {
  refused({ s: Symbol("x") }, "result.s", "symbol", "a symbol at");
  refused({ [Symbol("tag")]: 1 }, "result[Symbol(tag)]", "symbol", "symbol-keyed property");
});

test("weak collections and promises", () => {
  refused({ w: new WeakMap() }, "result.w", "WeakMap");
  refused({ w: new WeakSet() }, "result.w", "WeakSet");
  refused({ w: new WeakRef({}) }, "result.w", "WeakRef");
  const p = Promise.resolve(1);
  refused({ p }, "result.p", "Promise", "await");
});

test("cycles are refused, shared references are not", () => {
  const a: Record<string, unknown> = { name: "a" };
  a.self = a;
  refused(a, "result.self", "cycle");
  const list: unknown[] = [1];
  list.push({ back: list });
  refused(list, "result[1].back", "cycle");
  const m = new Map<string, unknown>();
  m.set("me", m);
  refused(m, "result<map value>", "cycle");
  const shared = { x: 1 };
  checkSerializable({ a: shared, b: shared, c: [shared, { d: shared }] }, WHERE);
});

test("error causes are walked", () => {
  refused(new Error("x", { cause: { f: () => 1 } }), "result.cause.f", "function");
});

test("deep nesting is refused without overflowing the stack", () => {
  let deep: unknown = 1;
  for (let i = 0; i < 100_000; i++) deep = { d: deep };
  assert.throws(() => checkSerializable(deep, WHERE), (e: unknown) => {
    assert.ok(e instanceof WeftError);
    assert.equal(e.code, ErrorCode.NotSerializable);
    assert.equal(e.details.kind, "depth");
    assert.ok(e.message.includes("1000"), e.message);
    assert.ok(e.message.length < 600, "path is shortened in the message");
    return true;
  });
  let ok: unknown = 1;
  for (let i = 0; i < 1000; i++) ok = { d: ok };
  checkSerializable(ok, WHERE);
});

test("works on values from another realm", () => {
  const foreign = vm.runInNewContext(`({
    date: new Date(0), map: new Map([["k", 1]]), set: new Set([1]), bytes: new Uint8Array(2), err: new Error("e"),
    bad: new Map([["k", function () {}]]), weak: new WeakMap(), p: Promise.resolve(1),
  })`);
  const { bad, weak, p, ...good } = foreign;
  checkSerializable(good, WHERE);
  refused({ bad }, "result.bad<map value>", "function");
  refused({ weak }, "result.weak", "WeakMap");
  refused({ p }, "result.p", "Promise");
});

test("spoofed toStringTag does not make an object look like a Map", () => {
  class FakeMap { get [Symbol.toStringTag]() { return "Map"; } f = () => 1; }
  refused(new FakeMap(), "result.f", "function");
});

test("path root falls back to 'value' when where does not end in a word", () => {
  assert.throws(() => checkSerializable({ f() {} }, 'step "x":'), (e: WeftError) => e.details.path === "value.f");
});
