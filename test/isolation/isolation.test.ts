// Guarantee 3, from inside the sandbox: tenant code that reaches for the host finds nothing of Node
// (every probe runs in the isolate and reports plain values), and tenant code that loops, allocates
// without bound, recurses, floods the console or fetches where it may not is stopped with a clear
// error while another tenant's instances keep completing.
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { types } from "node:util";
import { Engine, ErrorCode, WeftError, type WorkflowLimits } from "../../src/index.ts";
import type { EgressPolicy } from "../../src/index.ts";

let engine: Engine;
let dataDir: string;
const fetched: string[] = [];
let seq = 0;

before(async () => {
  dataDir = mkdtempSync(join(tmpdir(), "weft-isolation-"));
  engine = await Engine.open({
    dataDir,
    fetch: (async (input: string | URL | Request) => {
      fetched.push(String(input instanceof Request ? input.url : input));
      return new Response("allowed", { status: 200 });
    }) as typeof fetch,
  });
});

after(async () => {
  await engine?.close();
  rmSync(dataDir, { recursive: true, force: true });
});

function source(body: string): string {
  return `
import { WorkflowEntrypoint } from "cloudflare:workers";
export class Probe extends WorkflowEntrypoint {
  async run(event, step) {
${body}
  }
}
`;
}

interface RunOptions {
  tenant?: string;
  env?: Record<string, unknown>;
  limits?: Partial<WorkflowLimits>;
  egress?: EgressPolicy;
  timeoutMs?: number;
}

/** Deploy `body` as the run() of a fresh workflow, run one instance to its end, return its status. */
async function run(body: string, o: RunOptions = {}) {
  const tenant = o.tenant ?? "probe";
  const workflow = `w${++seq}`;
  await engine.deploy({ tenant, workflow, code: { mainModule: "index.ts", modules: { "index.ts": source(body) } }, env: o.env, limits: o.limits, egress: o.egress });
  const inst = await engine.workflow(tenant, workflow).create({ id: "x", params: {} });
  const s = await within(inst.waitFor(), o.timeoutMs ?? 20_000, `instance of ${workflow} did not finish`);
  return { ...s, inst };
}

function within<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer!: NodeJS.Timeout;
  return Promise.race([p, new Promise<T>((_, rej) => (timer = setTimeout(() => rej(new Error(`${what} within ${ms} ms`)), ms)))]).finally(() => clearTimeout(timer));
}

/** Run `body` and return the workflow output, which must be complete. */
async function probe(body: string, o: RunOptions = {}): Promise<any> {
  const s = await run(body, o);
  assert.equal(s.status, "complete", `probe errored: ${JSON.stringify(s.error)}`);
  return s.output;
}

// ---- reaching the host ------------------------------------------------------------------------

describe("tenant code cannot reach the host", () => {
  test("typeof process / require / module / Buffer are undefined, globalThis has no Node names", async () => {
    // \`typeof require\` is evaluated through globalThis: the bundler rewrites a bare \`require\` into its
    // own shim (a function that throws "Dynamic require of … is not supported"), checked below
    const out = await probe(`
      const names = Object.getOwnPropertyNames(globalThis);
      const name = "fs";
      let shim;
      try { shim = { value: typeof require(name) }; } catch (e) { shim = { threw: e.message }; }
      return {
        shim,
        process: typeof process, require: typeof globalThis.require, module: typeof module, exports: typeof exports, Buffer: typeof Buffer,
        dirname: typeof __dirname, setImmediate: typeof setImmediate, navigatorProcess: typeof globalThis.navigator?.process,
        suspicious: names.filter((n) => /^(process|require|module|Buffer|global|ivm|_ivm|isolated|__node|internalBinding|Deno|Bun)$/i.test(n)),
      };`);
    assert.deepEqual(out.shim, { threw: 'Dynamic require of "fs" is not supported' });
    delete out.shim;
    assert.deepEqual(out, {
      process: "undefined", require: "undefined", module: "undefined", exports: "undefined", Buffer: "undefined",
      dirname: "undefined", setImmediate: "undefined", navigatorProcess: "undefined", suspicious: [],
    });
  });

  test("the host's storage callback is not on the global object: code cannot act for another instance's storage", async () => {
    const out = await probe(`
      return {
        sync: typeof globalThis.__weft_host_sync, capture: typeof globalThis.__weft_capture_host,
        names: Object.getOwnPropertyNames(globalThis).filter((n) => /host|capture/i.test(n)),
      };`);
    assert.deepEqual(out, { sync: "undefined", capture: "undefined", names: [] });
  });

  test("globalThis.process and globalThis.require are undefined; the global object is the isolate's", async () => {
    const out = await probe(`
      return {
        process: globalThis.process === undefined, require: globalThis.require === undefined,
        viaThisFn: (function () { return this; })() === undefined,
        viaIndirectEval: typeof (0, eval)("this").process,
        global: typeof globalThis.global,
      };`);
    assert.deepEqual(out, { process: true, require: true, viaThisFn: true, viaIndirectEval: "undefined", global: "undefined" });
  });

  test('this.constructor.constructor("return process")() finds no process', async () => {
    const out = await probe(`
      const F = this.constructor.constructor;
      let r;
      try { r = { value: typeof F("return process")() }; } catch (e) { r = { name: e.name, message: e.message }; }
      const g = F("return this")();
      return { r, same: F === Function, gProcess: typeof g.process, gRequire: typeof g.require, hasProcess: "process" in g };`);
    assert.deepEqual(out.r, { name: "ReferenceError", message: "process is not defined" });
    assert.equal(out.same, true, "the Function constructor reachable from tenant objects is the isolate's own");
    assert.equal(out.gProcess, "undefined");
    assert.equal(out.gRequire, "undefined");
    assert.equal(out.hasProcess, false);
  });

  test("the AsyncFunction and GeneratorFunction constructors reach no Node either", async () => {
    const out = await probe(`
      const AF = (async () => {}).constructor;
      const GF = (function* () {}).constructor;
      let a;
      try { a = { value: typeof (await AF("return process")()) }; } catch (e) { a = { name: e.name, message: e.message }; }
      const viaAsync = await AF("return typeof require + ' ' + typeof globalThis.process")();
      const viaGen = GF("yield typeof process; yield typeof require")();
      return { a, viaAsync, viaGen: [viaGen.next().value, viaGen.next().value], afCtor: Object.getPrototypeOf(AF) === Function };`);
    assert.deepEqual(out.a, { name: "ReferenceError", message: "process is not defined" });
    assert.equal(out.viaAsync, "undefined undefined");
    assert.deepEqual(out.viaGen, ["undefined", "undefined"]);
    assert.equal(out.afCtor, true);
  });

  test("Error.prepareStackTrace / call sites yield only isolate objects", async () => {
    const out = await probe(`
      const found = [];
      Error.prepareStackTrace = (err, frames) => frames;
      function deep() { return new Error("x").stack; }
      // a sloppy-mode function (made by the Function constructor) exposes getThis()/getFunction()
      const sloppy = Function("return (function inner() { return new Error('y').stack; })()");
      const frames = [...deep(), ...sloppy()];
      const kinds = [];
      for (const f of Array.isArray(frames) ? frames : []) {
        for (const get of ["getThis", "getFunction", "getTypeName", "getFileName"]) {
          let v;
          try { v = typeof f[get] === "function" ? f[get]() : undefined; } catch (e) { v = undefined; }
          if (v && (typeof v === "object" || typeof v === "function")) {
            try {
              const F = v.constructor && v.constructor.constructor;
              if (typeof F === "function") found.push(F("try { return typeof process } catch { return 'threw' }")());
            } catch { found.push("threw"); }
          }
          if (get === "getFileName" && typeof v === "string") kinds.push(v);
        }
      }
      Error.prepareStackTrace = undefined;
      // captureStackTrace on an object, and a stack from a host-raised error
      const o = {}; Error.captureStackTrace(o);
      let hostErr;
      try { await this.env.boom(); } catch (e) { hostErr = { isError: e instanceof Error, ctorIsIsolates: e.constructor === Error || Object.getPrototypeOf(e.constructor) === Error,
        processViaErr: e.constructor.constructor("return typeof process")(), stackMentionsHost: /node:|\\/work\\/|file:\\/\\//.test(String(e.stack)) }; }
      return { framesWereArray: Array.isArray(frames), found, files: [...new Set(kinds)], captured: typeof o.stack, hostErr };`, {
      env: { boom: async () => { throw new Error("host failure"); } },
    });
    assert.equal(out.framesWereArray, true, "prepareStackTrace received call sites");
    assert.ok(out.found.length > 0, "the probe saw objects behind call sites (getThis/getFunction of a sloppy frame)");
    assert.ok(out.found.every((x: string) => x === "undefined"), `call sites led to ${JSON.stringify(out.found)}`);
    for (const f of out.files) assert.ok(!/^node:|^file:|\/work\//.test(f), `a host file name leaked into a stack frame: ${f}`);
    assert.equal(out.captured, "string");
    assert.equal(out.hostErr.isError, true);
    assert.equal(out.hostErr.ctorIsIsolates, true);
    assert.equal(out.hostErr.processViaErr, "undefined");
    assert.equal(out.hostErr.stackMentionsHost, false, "a host error's stack frames crossed into the sandbox");
  });

  test("a Proxy returned as a step result is copied to plain data inside the isolate; no trap runs on the host", async () => {
    const s = await run(`
      let traps = 0;
      const p = new Proxy({ a: 1 }, { get(t, k) { traps++; return k === "a" ? 1 : undefined; }, ownKeys() { traps++; return ["a"]; },
        getOwnPropertyDescriptor(t, k) { traps++; return { value: 1, enumerable: true, configurable: true, writable: true }; } });
      const fnProxy = new Proxy(function () {}, {});
      let r;
      try { r = await step.do("proxy", { retries: { limit: 0, delay: 0 } }, async () => ({ p, inner: [p] })); } catch (e) { r = { name: e.name, message: e.message }; }
      let f;
      try { f = await step.do("fn-proxy", { retries: { limit: 0, delay: 0 } }, async () => fnProxy); } catch (e) { f = { name: e.name, message: e.message }; }
      const trapsInIsolate = traps;
      return { r, f, trapsInIsolate, replayedIsProxyFree: Object.getPrototypeOf(r.p) === Object.prototype };`);
    assert.equal(s.status, "complete", JSON.stringify(s.error));
    const out = s.output as { r: unknown; f: { name?: string; message?: string }; trapsInIsolate: number; replayedIsProxyFree: boolean };
    // the structured clone ran inside the isolate (through the traps there) and produced plain data
    assert.deepEqual(out.r, { p: { a: 1 }, inner: [{ a: 1 }] });
    assert.ok(out.trapsInIsolate > 0);
    assert.equal(out.replayedIsProxyFree, true);
    assert.match(out.f.message ?? "", /function/i, `a function Proxy was accepted: ${JSON.stringify(out.f)}`);
    const steps = await engine.store.steps(s.inst.record.pk);
    const committed = steps.find((x) => x.name === "proxy")!.value as { p: object; inner: object[] };
    assert.equal(types.isProxy(committed.p), false);
    assert.equal(types.isProxy(committed.inner[0]), false);
    assert.equal(Object.getPrototypeOf(committed.p), Object.prototype);
    assert.equal(steps.find((x) => x.name === "fn-proxy")!.state, "failed");
  });

  test("env host functions' prototype chain is the isolate's: no host Function", async () => {
    const out = await probe(`
      const f = this.env.record;
      const chain = [];
      for (let o = f; o; o = Object.getPrototypeOf(o)) chain.push(o === Function.prototype ? "Function.prototype" : o === Object.prototype ? "Object.prototype" :
        o === Object.getPrototypeOf(async function () {}) ? "AsyncFunction.prototype" : o === f ? "f" : "other");
      const F = Object.getPrototypeOf(f).constructor;
      const F2 = f.constructor.constructor;
      return {
        chain, sameCtor: F === Function, sameFn: F2 === Function,
        viaF: await F("return typeof process")(), viaF2: F2("return typeof require")(),
        props: Object.getOwnPropertyNames(f).sort(), src: /native code/.test(Function.prototype.toString.call(f)),
        nested: typeof this.env.nested.fn, nestedViaCtor: this.env.nested.fn.constructor.constructor("return typeof process")(),
        envFrozen: Object.isFrozen(this.env), plain: this.env.plain,
      };`, { env: { record: async () => 1, nested: { fn: () => 2 }, plain: { a: [1, "b"] } } });
    // a guest function answering a pipelined promise (guest/stubs.ts), of the isolate's own Function
    assert.deepEqual(out.chain, ["f", "Function.prototype", "Object.prototype"]);
    assert.equal(out.sameCtor, true);
    assert.equal(out.sameFn, true);
    assert.equal(out.viaF, "undefined");
    assert.equal(out.viaF2, "undefined");
    assert.equal(out.src, false, "the host function must be a guest wrapper, not a native host reference");
    assert.deepEqual(out.props, ["length", "name"]);
    assert.equal(out.nested, "function");
    assert.equal(out.nestedViaCtor, "undefined");
    assert.equal(out.envFrozen, true);
    assert.deepEqual(out.plain, { a: [1, "b"] });
  });

  test('import("node:fs") does not compile; a computed import() fails at run time', async () => {
    await assert.rejects(
      engine.deploy({ tenant: "probe", workflow: `w${++seq}`, code: { mainModule: "index.ts", modules: { "index.ts": source(`const fs = await import("node:fs"); return typeof fs;`) } } }),
      (e: unknown) => e instanceof WeftError && e.code === ErrorCode.CompileError && /node:fs/.test(e.message),
    );
    await assert.rejects(
      engine.deploy({ tenant: "probe", workflow: `w${++seq}`, code: { mainModule: "index.ts", modules: { "index.ts": `import fs from "fs";\n` + source(`return typeof fs;`) } } }),
      (e: unknown) => e instanceof WeftError && e.code === ErrorCode.CompileError && /"fs"/.test(e.message),
    );
    const out = await probe(`
      const name = ["node", "fs"].join(":");
      const tries = {};
      for (const spec of [name, "fs", "child_process", "file:///etc/passwd"]) {
        try { const m = await import(spec); tries[spec] = { loaded: typeof m, keys: Object.keys(m).slice(0, 3) }; }
        catch (e) { tries[spec] = { threw: String(e && e.name) }; }
      }
      return tries;`);
    for (const [spec, r] of Object.entries(out as Record<string, { threw?: string; loaded?: string }>)) {
      assert.ok(r.threw, `import(${JSON.stringify(spec)}) loaded something: ${JSON.stringify(r)}`);
    }
  });

  test("step results with getters are copied as plain data; nothing callable reaches the host", async () => {
    const s = await run(`
      let reads = 0;
      const sneaky = {
        get x() { reads++; return reads; },
        get self() { return typeof process; },
        nested: { get deep() { return [1, { get y() { return "y"; } }]; } },
      };
      const r1 = await step.do("getters", { retries: { limit: 0, delay: 0 } }, async () => sneaky);
      const readsAfterStep = reads;
      let r2;
      try { r2 = await step.do("fn-inside", { retries: { limit: 0, delay: 0 } }, async () => ({ f: () => 1 })); } catch (e) { r2 = { name: e.name, message: e.message }; }
      let r3;
      try { r3 = await step.do("throwing-getter", { retries: { limit: 0, delay: 0 } }, async () => ({ get boom() { throw new Error("getter ran"); } })); }
      catch (e) { r3 = { name: e.name, message: e.message }; }
      return { r1, readsAfterStep, r1Descriptor: typeof Object.getOwnPropertyDescriptor(r1, "x").get, r2, r3 };`);
    assert.equal(s.status, "complete", JSON.stringify(s.error));
    const out = s.output as any;
    assert.deepEqual(out.r1, { x: out.r1.x, self: "undefined", nested: { deep: [1, { y: "y" }] } });
    assert.equal(typeof out.r1.x, "number");
    assert.equal(out.r1Descriptor, "undefined", "the replayed result is data, not an accessor");
    assert.match(out.r2.message, /function/i);
    assert.match(out.r3.message, /getter ran/);
    const steps = await engine.store.steps(s.inst.record.pk);
    const committed = steps.find((x) => x.name === "getters")!.value as Record<string, unknown>;
    assert.deepEqual(Object.getOwnPropertyDescriptor(committed, "x"), { value: out.r1.x, writable: true, enumerable: true, configurable: true });
    assert.equal(Object.getPrototypeOf(committed), Object.prototype);
    assert.equal(steps.find((x) => x.name === "fn-inside")!.state, "failed");
  });
});

// ---- resource abuse, while another tenant's instances run ------------------------------------------

const GOOD = `
import { WorkflowEntrypoint } from "cloudflare:workers";
export class Good extends WorkflowEntrypoint {
  async run(event, step) {
    let acc = event.payload.n;
    for (let i = 0; i < 5; i++) {
      acc = await step.do("s" + i, async () => acc + i);
      if (i === 2) await step.sleep("breathe", "50 ms");
    }
    return acc;
  }
}
`;
let goodSeq = 0;

/**
 * Start a few instances of tenant "good", run the abusive `body` (tenant "bad") meanwhile, and
 * check the good ones complete within a bounded time while the bad one is being stopped.
 */
async function abuse(body: string, o: RunOptions = {}) {
  const workflow = `good${++goodSeq}`;
  await engine.deploy({ tenant: "good", workflow, code: { mainModule: "index.ts", modules: { "index.ts": GOOD } } });
  const wf = engine.workflow("good", workflow);
  const t0 = performance.now();
  const bad = run(body, { ...o, tenant: "bad" });
  const goods = await Promise.all([0, 1, 2, 3, 4].map((n) => wf.create({ id: `g${n}`, params: { n } })));
  const latencies = await Promise.all(goods.map(async (g) => {
    const s = await within(g.waitFor(), 10_000, `good instance ${g.id} did not complete while tenant "bad" was abusive`);
    assert.equal(s.status, "complete", JSON.stringify(s.error));
    return performance.now() - t0;
  }));
  const b = await bad;
  assert.equal(goods.length, 5);
  for (const [n, g] of goods.entries()) assert.deepEqual((await g.status()).output, n + 0 + 1 + 2 + 3 + 4);
  return { bad: b, goodMaxMs: Math.max(...latencies) };
}

describe("a tenant that abuses resources is stopped and the others keep going", () => {
  test("an infinite loop in a step is stopped at limits.cpuMsPerStep", async (t) => {
    const { bad, goodMaxMs } = await abuse(`
      await step.do("spin", { retries: { limit: 0, delay: 0 } }, async () => { for (;;) {} });
      return "unreachable";`, { limits: { cpuMsPerStep: 200 } });
    t.diagnostic(`good tenant completed within ${goodMaxMs.toFixed(0)} ms; bad: ${bad.error?.message}`);
    assert.equal(bad.status, "errored");
    assert.match(bad.error!.message, /CPU time limit of 200 ms/);
    assert.match(bad.error!.message, /spin/);
  });

  test("a step that overran the CPU limit is retried like any failed attempt", async (t) => {
    const { bad, goodMaxMs } = await abuse(`
      const v = await step.do("spin once", { retries: { limit: 2, delay: "10 ms", backoff: "constant" } }, async (ctx) => {
        if (ctx.attempt === 1) for (;;) {}
        return ctx.attempt * 10;
      });
      return v;`, { limits: { cpuMsPerStep: 200 } });
    t.diagnostic(`good tenant completed within ${goodMaxMs.toFixed(0)} ms`);
    assert.equal(bad.status, "complete", JSON.stringify(bad.error));
    assert.equal(bad.output, 20);
    const attempts = await engine.store.attempts(bad.inst.record.pk);
    assert.deepEqual(attempts.map((a) => [a.attempt, a.success]), [[1, false], [2, true]]);
    assert.match(attempts[0]!.error!.message, /step "spin once" attempt 1 exceeded the CPU time limit of 200 ms/);
  });

  test("an infinite loop outside steps is stopped", async (t) => {
    const { bad, goodMaxMs } = await abuse(`
      await step.do("fine", async () => 1);
      for (;;) {}`, { limits: { cpuMsPerStep: 200 } });
    t.diagnostic(`good tenant completed within ${goodMaxMs.toFixed(0)} ms; bad: ${bad.error?.message}`);
    assert.equal(bad.status, "errored");
    assert.match(bad.error!.message, /outside steps exceeded the CPU time limit/);
  });

  test("unbounded allocation is stopped at limits.memoryMb", async (t) => {
    const { bad, goodMaxMs } = await abuse(`
      await step.do("hog", { retries: { limit: 0, delay: 0 } }, async () => {
        const keep = [];
        for (let i = 0; ; i++) keep.push(new Array(100_000).fill(i));
      });
      return "unreachable";`, { limits: { memoryMb: 32, cpuMsPerStep: 20_000 } });
    t.diagnostic(`good tenant completed within ${goodMaxMs.toFixed(0)} ms; bad: ${bad.error?.message}`);
    assert.equal(bad.status, "errored");
    assert.match(bad.error!.message, /memory limit of 32 MB/);
  });

  test("unbounded allocation in a step that already awaited is charged to that step", async (t) => {
    const { bad, goodMaxMs } = await abuse(`
      await step.do("hog later", { retries: { limit: 0, delay: 0 } }, async () => {
        await new Promise((r) => setTimeout(r, 5)); // the attempt is running when the isolate dies
        const keep = [];
        for (let i = 0; ; i++) keep.push(new Array(100_000).fill(i));
      });
      return "unreachable";`, { limits: { memoryMb: 32, cpuMsPerStep: 20_000 } });
    t.diagnostic(`good tenant completed within ${goodMaxMs.toFixed(0)} ms; bad: ${bad.error?.message}`);
    assert.equal(bad.status, "errored");
    assert.match(bad.error!.message, /step "hog later" attempt 1 exceeded the memory limit of 32 MB/);
  });

  test("deep recursion fails with Maximum call stack", async (t) => {
    const { bad, goodMaxMs } = await abuse(`
      function down(n) { return down(n + 1) + 1; }
      await step.do("recurse", { retries: { limit: 0, delay: 0 } }, async () => down(0));
      return "unreachable";`);
    t.diagnostic(`good tenant completed within ${goodMaxMs.toFixed(0)} ms; bad: ${bad.error?.message}`);
    assert.equal(bad.status, "errored");
    assert.match(bad.error!.message, /Maximum call stack/);
  });

  test("a console flood is capped per activation with a warning line", async (t) => {
    const { bad, goodMaxMs } = await abuse(`
      await step.do("flood", { retries: { limit: 0, delay: 0 } }, async () => { for (let i = 0; i < 200_000; i++) console.log("line", i); return 1; });
      return "done";`, { timeoutMs: 30_000 });
    t.diagnostic(`good tenant completed within ${goodMaxMs.toFixed(0)} ms`);
    assert.ok(bad.status === "complete" || bad.status === "errored", bad.status);
    const pk = bad.inst.record.pk;
    let logs = await engine.store.logs(pk, 0, 1_000_000);
    for (let i = 0; i < 50 && !logs.some((l) => /console output limit/.test(l.message)); i++) {
      await new Promise((r) => setTimeout(r, 20));
      logs = await engine.store.logs(pk, 0, 1_000_000);
    }
    const warnings = logs.filter((l) => /console output limit/.test(l.message));
    const lines = logs.filter((l) => /^line \d+$/.test(l.message));
    t.diagnostic(`${lines.length} console lines kept, ${warnings.length} warning(s): ${warnings[0]?.message}`);
    assert.ok(warnings.length >= 1, "no console output limit warning was logged");
    assert.ok(lines.length <= 1000 * 2, `${lines.length} lines stored`);
    assert.ok(lines.length >= 1, "the first lines of the flood are kept");
    assert.ok(logs.length <= 1000 * 2 + 10, `${logs.length} log rows stored`);
  });

  test("fetch without an egress policy is refused", async (t) => {
    const before = fetched.length;
    const { bad, goodMaxMs } = await abuse(`
      await step.do("call out", { retries: { limit: 0, delay: 0 } }, async () => (await fetch("https://example.com/secret")).text());
      return "unreachable";`);
    t.diagnostic(`good tenant completed within ${goodMaxMs.toFixed(0)} ms; bad: ${bad.error?.message}`);
    assert.equal(bad.status, "errored");
    assert.match(bad.error!.message, /egress/);
    assert.match(bad.error!.message, /example\.com/);
    assert.equal(fetched.length, before, "nothing was fetched");
  });

  test("fetch to a host outside the allow-list is refused, naming the host", async (t) => {
    const before = fetched.length;
    const { bad, goodMaxMs } = await abuse(`
      const tries = {};
      for (const url of ["https://evil.example.net/x", "https://api.example.com.evil.net/", "https://api.example.com@evil.org/", "http://127.0.0.1:8787/v1"]) {
        tries[url] = await step.do("try " + url, { retries: { limit: 0, delay: 0 } }, async () => {
          try { const r = await fetch(url); return { status: r.status }; } catch (e) { return { name: e.name, code: e.code, message: e.message }; }
        });
      }
      const ok = await step.do("allowed", { retries: { limit: 0, delay: 0 } }, async () => (await fetch("https://api.example.com/hello")).text());
      await step.do("denied", { retries: { limit: 0, delay: 0 } }, async () => (await fetch("https://evil.example.net/steal")).text());
      return { tries, ok };`, { egress: { allow: ["api.example.com"] } });
    t.diagnostic(`good tenant completed within ${goodMaxMs.toFixed(0)} ms; bad: ${bad.error?.message}`);
    assert.equal(bad.status, "errored");
    assert.match(bad.error!.message, /evil\.example\.net/);
    assert.match(bad.error!.message, /egress/);
    // the tricky URLs were refused too, each naming its real host; only the allowed host was fetched
    const steps = await engine.store.steps(bad.inst.record.pk);
    const tried = Object.fromEntries(steps.filter((s) => s.name.startsWith("try ")).map((s) => [s.name.slice(4), s.value as { code?: string; message?: string }]));
    assert.deepEqual(Object.keys(tried).sort(), ["http://127.0.0.1:8787/v1", "https://api.example.com.evil.net/", "https://api.example.com@evil.org/", "https://evil.example.net/x"]);
    assert.match(tried["https://evil.example.net/x"]!.message!, /evil\.example\.net/);
    assert.match(tried["https://api.example.com.evil.net/"]!.message!, /api\.example\.com\.evil\.net/);
    // a URL with credentials is refused by the isolate's Request already (a TypeError naming it)
    assert.match(tried["https://api.example.com@evil.org/"]!.message!, /evil\.org/);
    assert.match(tried["http://127.0.0.1:8787/v1"]!.message!, /127\.0\.0\.1/);
    for (const [url, v] of Object.entries(tried)) {
      if (!url.includes("@")) assert.equal(v.code, ErrorCode.EgressDenied, `${url}: ${JSON.stringify(v)}`);
    }
    assert.deepEqual(fetched.slice(before), ["https://api.example.com/hello"]);
    assert.equal(steps.find((s) => s.name === "allowed")!.value, "allowed");
  });
});
