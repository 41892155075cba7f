// Loading code as Cloudflare does (issue 12, items 1 and 2): a module written for Workers loads
// unchanged — a default fetch handler, WorkerEntrypoint / DurableObject / RpcTarget classes, `env`
// imported from "cloudflare:workers", type-only imports — and the deploy says what it does not run;
// bare imports resolve to modules deployed under that name, Node built-ins are refused with the
// importing line; compile errors and recorded stacks point at the tenant's files and lines.
import { test } from "node:test";
import assert from "node:assert/strict";
import { TENANT, deploy, open } from "../engine/helpers.ts";
import { WeftError, type Engine } from "../../src/index.ts";
import { expectError, serverFor } from "../api/helpers.ts";

const LIMIT = { timeout: 30_000 };

/** A starter-template-shaped module: a workflow next to a fetch handler, an entrypoint, a DO and an RpcTarget. */
const STARTER = `import { WorkflowEntrypoint, WorkerEntrypoint, DurableObject, RpcTarget, env, waitUntil, WorkflowEvent, WorkflowStep } from "cloudflare:workers";
import type { WorkflowEvent as Ev } from "cloudflare:workers";

type Env = { GREETING: string; MY_WORKFLOW: unknown };
type Params = { name: string };

class Counter extends RpcTarget {
  n = 0;
  add(k: number) { this.n += k; return this.n; }
}

export class Greeter extends WorkerEntrypoint<Env> {
  async greet(name: string) { return \`\${this.env.GREETING}, \${name}\`; }
}

export class Room extends DurableObject<Env> {
  async fetch() { return new Response("room"); }
}

export class MyWorkflow extends WorkflowEntrypoint<Env, Params> {
  async run(event: WorkflowEvent<Params>, step: WorkflowStep) {
    const e: Ev<Params> = event;
    const greeting = await step.do("greet", async () => {
      const c = new Counter();
      c.add(2);
      waitUntil(Promise.resolve());
      // the module-level env is the running instance's bindings
      return { viaImport: env.GREETING, viaThis: this.env.GREETING, count: c.add(3), isTarget: c instanceof RpcTarget, keys: Object.keys(env) };
    });
    const entry = new Greeter({}, this.env);
    return { ...greeting, hello: await entry.greet(e.payload.name) };
  }
}

export default {
  async fetch(req: Request, env: Env): Promise<Response> {
    return Response.json({ ok: true });
  },
};
`;

async function runToEnd(engine: Engine, workflow: string, params?: unknown) {
  const inst = await engine.workflow(TENANT, workflow).create({ params });
  return inst.waitFor();
}

test("a module with a default fetch handler, WorkerEntrypoint, DurableObject and RpcTarget classes loads; the workflow runs; the deploy lists what it does not run", LIMIT, async (t) => {
  const h = await open(t);
  const r = await h.engine.deploy({ tenant: TENANT, workflow: "starter", code: { mainModule: "index.ts", modules: { "index.ts": STARTER } }, env: { GREETING: "Hello" } });
  assert.equal(r.className, "MyWorkflow");
  assert.deepEqual(r.ignored.map((x) => [x.export, x.kind]), [["Greeter", "worker entrypoint"], ["Room", "durable object"], ["default", "fetch handler"]]);
  const fetchHandler = r.ignored.find((x) => x.export === "default")!;
  assert.deepEqual(fetchHandler.handlers, ["fetch"]);
  assert.match(fetchHandler.why, /Workers handler \(fetch\).*runs only the workflow class MyWorkflow/);
  assert.match(r.ignored[1]!.why, /DurableObject/);
  const s = await runToEnd(h.engine, "starter", { name: "Ada" });
  assert.equal(s.status, "complete", JSON.stringify(s.error));
  assert.deepEqual(s.output, { viaImport: "Hello", viaThis: "Hello", count: 5, isTarget: true, keys: ["GREETING"], hello: "Hello, Ada" });
});

test("several workflow classes: the one not chosen is listed as not run, with the className that would run it", LIMIT, async (t) => {
  const h = await open(t);
  const src = `import { WorkflowEntrypoint } from "cloudflare:workers";
export class A extends WorkflowEntrypoint { async run() { return "a"; } }
export class B extends WorkflowEntrypoint { async run() { return "b"; } }
export default { async fetch() { return new Response("x"); }, async scheduled() {} };
export const helper = () => 1;`;
  const r = await h.engine.deploy({ tenant: TENANT, workflow: "two", code: { mainModule: "index.ts", modules: { "index.ts": src } }, className: "B" });
  assert.deepEqual(r.ignored.map((x) => [x.export, x.kind]), [["A", "workflow"], ["default", "fetch handler"]]);
  assert.match(r.ignored[0]!.why, /className "A"/);
  assert.deepEqual(r.ignored[1]!.handlers, ["fetch", "scheduled"]);
  // a handler object without fetch is a worker handler
  const cron = `import { WorkflowEntrypoint } from "cloudflare:workers";
export class A extends WorkflowEntrypoint { async run() { return "a"; } }
export default { async scheduled(controller, env, ctx) {} };`;
  const r2 = await h.engine.deploy({ tenant: TENANT, workflow: "cron", code: { mainModule: "index.ts", modules: { "index.ts": cron } } });
  assert.deepEqual(r2.ignored, [{ export: "default", kind: "worker handler", handlers: ["scheduled"], why: r2.ignored[0]!.why }]);
  assert.equal((await runToEnd(h.engine, "two")).output, "b");
});

test("the HTTP deploy answers with the ignored exports", LIMIT, async (t) => {
  const s = await serverFor(t);
  assert.equal((await s.call("POST", "/v1/tenants", { name: "acme" })).status, 201);
  const r = await s.call("PUT", "/v1/tenants/acme/workflows/starter", { mainModule: "index.ts", modules: { "index.ts": STARTER }, env: { GREETING: "Hi" } });
  assert.equal(r.status, 200, r.text);
  assert.equal(r.body.className, "MyWorkflow");
  assert.deepEqual(r.body.ignored.map((x: { export: string; kind: string }) => `${x.export}:${x.kind}`), ["Greeter:worker entrypoint", "Room:durable object", "default:fetch handler"]);
  const plain = await s.call("PUT", "/v1/tenants/acme/workflows/plain", { mainModule: "index.ts", modules: { "index.ts": `import { WorkflowEntrypoint } from "cloudflare:workers";\nexport class W extends WorkflowEntrypoint { async run() { return 1; } }` } });
  assert.deepEqual(plain.body.ignored, []);
  // a bare import that was not deployed: 422 with the line, never a 5xx
  const bad = await s.call("PUT", "/v1/tenants/acme/workflows/bad", { mainModule: "index.ts", modules: { "index.ts": `import { x } from "left-pad";\nexport const y = x;` } });
  expectError(bad, 422, "compile_error");
  assert.match(bad.body.error.message, /index\.ts:1:19: cannot import "left-pad": no module of that name was deployed/);
});

test("a name cloudflare:workers does not export: a compile error at the import that lists what it offers", LIMIT, async (t) => {
  const h = await open(t);
  const src = `import { WorkflowEntrypoint } from "cloudflare:workers";\nimport { withEnv } from "cloudflare:workers";\nexport class W extends WorkflowEntrypoint { async run() { return withEnv; } }`;
  await assert.rejects(deploy(h.engine, "missing", src), (e: WeftError) => {
    assert.equal(e.code, "compile_error");
    assert.match(e.message, /index\.ts:2:10: "cloudflare:workers" has no export "withEnv" in Weft \(it offers WorkflowEntrypoint, NonRetryableError, .*WorkerEntrypoint, DurableObject, RpcTarget/);
    return true;
  });
});

test("bare imports resolve to modules deployed under that name (a package, a subpath, a cloudflare: stand-in)", LIMIT, async (t) => {
  const h = await open(t);
  const modules = {
    "index.ts": `import { WorkflowEntrypoint } from "cloudflare:workers";
import { AgentWorkflow } from "agents/workflows";
import mime from "mimetext";
import { EmailMessage } from "cloudflare:email";
import { shout } from "./lib/util";
export class W extends AgentWorkflow {
  async run(event, step) {
    return step.do("compose", async () => ({ msg: mime.create(shout("hi")), email: new EmailMessage("a@x", "b@x", "raw").to, agent: this.agent() }));
  }
}`,
    "agents/workflows": `import { WorkflowEntrypoint } from "cloudflare:workers";\nexport class AgentWorkflow extends WorkflowEntrypoint { agent() { return "agent"; } }`,
    "mimetext": `import { helper } from "./mimetext-helper";\nexport default { create: (s) => helper(s) };`,
    "mimetext-helper.js": `export function helper(s) { return "MIME:" + s; }`,
    "cloudflare:email": `export class EmailMessage { constructor(from, to, raw) { this.from = from; this.to = to; this.raw = raw; } }`,
    "lib/util.ts": `export const shout = (s: string) => s.toUpperCase();`,
  };
  const r = await h.engine.deploy({ tenant: TENANT, workflow: "bare", code: { mainModule: "index.ts", modules } });
  assert.equal(r.className, "W");
  const s = await runToEnd(h.engine, "bare");
  assert.equal(s.status, "complete", JSON.stringify(s.error));
  assert.deepEqual(s.output, { msg: "MIME:HI", email: "b@x", agent: "agent" });
});

test("Node built-ins are refused with the importing file:line:column; a failed deploy changes nothing", LIMIT, async (t) => {
  const h = await open(t);
  const good = `import { WorkflowEntrypoint } from "cloudflare:workers";\nexport class W extends WorkflowEntrypoint { async run() { return 1; } }`;
  const v1 = await deploy(h.engine, "node", good);
  for (const [spec, line, col] of [["node:fs", 3, 16], ["fs", 3, 16], ["node:crypto", 3, 16]] as const) {
    const src = `import { WorkflowEntrypoint } from "cloudflare:workers";\n// reads a file\nimport fs from "${spec}";\nexport class W extends WorkflowEntrypoint { async run() { return fs.readFileSync("x"); } }`;
    await assert.rejects(deploy(h.engine, "node", src), (e: WeftError) => {
      assert.equal(e.code, "compile_error");
      const what = spec === "fs" ? `"fs" is the Node.js built-in node:fs` : `${spec} is a Node.js built-in`;
      assert.equal(e.message, `code does not compile: index.ts:${line}:${col}: ${what}; the Weft sandbox, like Workers without nodejs_compat, does not offer it`);
      const [first] = (e.details as { errors: { file: string; line: number; column: number; lineText: string }[] }).errors;
      assert.deepEqual([first!.file, first!.line, first!.column], ["index.ts", line, col]);
      return true;
    });
  }
  assert.equal((await h.engine.latestVersion(TENANT, "node"))!.version, v1, "the refused deploys left the version as it was");
  // a module deployed under a built-in's name is a stand-in the tenant chose: it resolves
  const stand = `import { WorkflowEntrypoint } from "cloudflare:workers";\nimport { Buffer } from "node:buffer";\nexport class W extends WorkflowEntrypoint { async run() { return Buffer.from("x"); } }`;
  await h.engine.deploy({ tenant: TENANT, workflow: "stand", code: { mainModule: "index.ts", modules: { "index.ts": stand, "node:buffer": `export const Buffer = { from: (s) => "buf:" + s };` } } });
  assert.equal((await runToEnd(h.engine, "stand")).output, "buf:x");
});

test("a syntax error names the tenant's file, line and column", LIMIT, async (t) => {
  const h = await open(t);
  const modules = {
    "index.ts": `import { WorkflowEntrypoint } from "cloudflare:workers";\nimport { f } from "./src/steps";\nexport class W extends WorkflowEntrypoint { async run() { return f(); } }`,
    "src/steps.ts": `export function f() {\n  return 1;\n  const = 2;\n}`,
  };
  await assert.rejects(h.engine.deploy({ tenant: TENANT, workflow: "syntax", code: { mainModule: "index.ts", modules } }), (e: WeftError) => {
    assert.equal(e.code, "compile_error");
    assert.match(e.message, /^code does not compile: src\/steps\.ts:3:9: /);
    return true;
  });
});

const STEPS = `// helpers for the workflow
export function parse(s: string): number {
  const n = Number(s);
  if (Number.isNaN(n)) {
    // a comment line or two so that the bundle's lines differ from the source's
    //
    //
    //
    //
    //
    //
    throw new Error(\`not a number: \${s}\`);
  }
  return n;
}
`;

test("an error thrown in a step body records its stack at the tenant's file and line, in the attempt and in the status", LIMIT, async (t) => {
  const h = await open(t);
  const modules = {
    "index.ts": `import { WorkflowEntrypoint } from "cloudflare:workers";
import { parse } from "./src/steps";

export class W extends WorkflowEntrypoint {
  async run(event, step) {
    return await step.do("parse", { retries: { limit: 0, delay: 0 } }, async () => parse("x"));
  }
}`,
    "src/steps.ts": STEPS,
  };
  await h.engine.deploy({ tenant: TENANT, workflow: "stack", code: { mainModule: "index.ts", modules } });
  const inst = await h.engine.workflow(TENANT, "stack").create();
  const s = await inst.waitFor();
  assert.equal(s.status, "errored");
  const d = await inst.describe();
  const step = d.steps.find((x) => x.type === "step" && x.name === "parse") as { error: { stack?: string } | null; attempts: { error: { stack?: string } | null }[] };
  const attempt = step.attempts[0]!.error!;
  for (const [what, stack] of [["attempt", attempt.stack], ["step", step.error?.stack], ["status", d.error?.stack]] as const) {
    assert.ok(stack, `${what} error has a stack`);
    assert.match(stack, /^Error: not a number: x\n/, what);
    assert.match(stack, /\n\s+at parse \(src\/steps\.ts:12:11\)/, `${what}: the throw at src/steps.ts:12:11\n${stack}`);
    assert.match(stack, /\(index\.ts:6:\d+\)/, `${what}: the step body's line in index.ts\n${stack}`);
    assert.doesNotMatch(stack, /tenant\.js|weft:runtime|<anonymous>:1:/, `${what}: no frame of the bundle or the runtime\n${stack}`);
  }
});

test("an error thrown outside steps and one thrown while the module loads point at the tenant's lines", LIMIT, async (t) => {
  const h = await open(t);
  const flow = `import { WorkflowEntrypoint } from "cloudflare:workers";

export class W extends WorkflowEntrypoint {
  async run(event, step) {
    await step.do("ok", async () => 1);
    throw new TypeError("bad input");
  }
}`;
  await h.engine.deploy({ tenant: TENANT, workflow: "outside", code: { mainModule: "src/flow.ts", modules: { "src/flow.ts": flow } } });
  const inst = await h.engine.workflow(TENANT, "outside").create();
  assert.equal((await inst.waitFor()).status, "errored");
  const stack = (await inst.describe()).error?.stack ?? "";
  assert.match(stack, /^TypeError: bad input\n\s+at W\.run \(src\/flow\.ts:6:11\)/, stack);
  assert.doesNotMatch(stack, /tenant\.js|weft:runtime/, stack);

  const loads = `import { WorkflowEntrypoint } from "cloudflare:workers";\nconst config = JSON.parse("{oops");\nexport class W extends WorkflowEntrypoint { async run() { return config; } }`;
  await assert.rejects(deploy(h.engine, "loads", loads), (e: WeftError) => {
    assert.equal(e.code, "compile_error");
    assert.match(e.message, /the workflow module failed while loading: .*JSON.*\(at index\.ts:2:\d+\)/);
    assert.doesNotMatch(String((e.details as { stack?: string }).stack), /tenant\.js/);
    return true;
  });
});
