// npm packages in `weft run` and `weft deploy` (issue 12, item 2): a project directory with a
// package.json and small packages in node_modules written by the test (no downloads). The CLI
// bundles them as wrangler does: the "workerd" export condition, CommonJS named imports, subpath
// imports sharing one copy of a package, type-only imports of a types-only package, a built-in a
// package require()s inside a try; stacks point into the package's files; a Node built-in in the
// tenant's code or in a package, or a package not installed, is a compile error with its file:line.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { mkdtempSync, mkdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { startServer } from "../../src/api/server.ts";

const ROOT = fileURLToPath(new URL("../../", import.meta.url));
const BIN = join(ROOT, "bin/weft.js");
const LIMIT = { timeout: 60_000 };

interface Result {
  code: number | null;
  stdout: string;
  stderr: string;
}

let proj: string;

function weft(args: string[], env: Record<string, string> = {}): Promise<Result> {
  return new Promise((resolve, reject) => {
    const fullEnv: NodeJS.ProcessEnv = { ...process.env, ...env };
    for (const k of ["WEFT_URL", "WEFT_TOKEN", "WEFT_TENANT"]) if (!(k in env)) delete fullEnv[k];
    const child = spawn(process.execPath, [BIN, ...args], { cwd: proj, env: fullEnv, stdio: ["ignore", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d) => (stdout += d));
    child.stderr.on("data", (d) => (stderr += d));
    const timer = setTimeout(() => child.kill("SIGKILL"), 50_000);
    child.on("error", reject);
    child.on("close", (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

function write(rel: string, text: string): void {
  const p = join(proj, rel);
  mkdirSync(join(p, ".."), { recursive: true });
  writeFileSync(p, text);
}

const INDEX = `import { WorkflowEntrypoint, type WorkflowEvent, type WorkflowStep } from "cloudflare:workers";
import { NonRetryableError } from "cloudflare:workflows";
import mime, { create } from "mimetext";
import { count } from "mimetext/counter";
import { shout, fail, hasFs } from "cjs-pkg";
import type { Shape } from "types-only";
import { twice } from "./lib/util";
import { AgentWorkflow } from "agents/workflows";

export class Mailer extends AgentWorkflow {
  async run(event: WorkflowEvent<{ to: string }>, step: WorkflowStep) {
    const composed = await step.do("compose", async () => {
      const shape: Shape = { ok: true };
      return { a: create("hi"), b: mime.create("yo"), count: count(), loud: twice(shout(event.payload.to)), hasFs: hasFs(), shape, agent: this.agentName() };
    });
    let failed = "";
    try {
      await step.do("explode", { retries: { limit: 0, delay: 0 } }, async () => fail());
    } catch (e) {
      failed = (e as Error).message;
    }
    return { ...composed, failed };
  }
}

export default {
  async fetch(req: Request): Promise<Response> {
    return new Response("not used");
  },
};
`;

before(() => {
  proj = mkdtempSync(join(tmpdir(), "weft-pkgs-"));
  write("package.json", JSON.stringify({ name: "proj", type: "module", private: true }));
  write("src/index.ts", INDEX);
  write("src/lib/util.ts", "export const twice = (s: string) => s + s;\n");
  // an ESM package with export conditions (the workerd one is the one wrangler picks) and a subpath
  write("node_modules/mimetext/package.json", JSON.stringify({
    name: "mimetext", version: "1.0.0", type: "module",
    exports: { ".": { workerd: "./worker.js", node: "./node.js", default: "./index.js" }, "./counter": "./counter.js" },
  }));
  write("node_modules/mimetext/worker.js", `import { bump } from "./state.js";\nexport function create(s) { bump(); return "workerd:" + s; }\nexport default { create };\n`);
  write("node_modules/mimetext/node.js", `export function create(s) { return "node:" + s; }\nexport default { create };\n`);
  write("node_modules/mimetext/index.js", `export function create(s) { return "default:" + s; }\nexport default { create };\n`);
  write("node_modules/mimetext/state.js", `let n = 0;\nexport function bump() { n++; }\nexport function get() { return n; }\n`);
  write("node_modules/mimetext/counter.js", `import { get } from "./state.js";\nexport function count() { return get(); }\n`);
  // a CommonJS package: named imports, a built-in it only tries to require, an error thrown at line 6
  write("node_modules/cjs-pkg/package.json", JSON.stringify({ name: "cjs-pkg", version: "1.0.0", main: "index.js" }));
  write("node_modules/cjs-pkg/index.js", [
    `let fs = null;`,
    `try { fs = require("fs"); } catch (e) { fs = null; }`,
    `exports.hasFs = () => fs !== null;`,
    `exports.shout = (s) => s.toUpperCase();`,
    `exports.fail = function fail() {`,
    `  throw new Error("from the package");`,
    `};`,
  ].join("\n") + "\n");
  // a package whose workflow base class extends the runtime's (it imports "cloudflare:workers" itself)
  write("node_modules/agents/package.json", JSON.stringify({ name: "agents", version: "1.0.0", type: "module", exports: { "./workflows": "./workflows.js" } }));
  write("node_modules/agents/workflows.js", `import { WorkflowEntrypoint } from "cloudflare:workers";\nexport class AgentWorkflow extends WorkflowEntrypoint { agentName() { return "agent:" + this.constructor.name; } }\n`);
  // types only: an import type of it must not make the CLI look for JavaScript
  write("node_modules/types-only/package.json", JSON.stringify({ name: "types-only", version: "1.0.0", types: "index.d.ts" }));
  write("node_modules/types-only/index.d.ts", "export interface Shape { ok: boolean }\n");
  // a package that imports a built-in statically
  write("node_modules/badpkg/package.json", JSON.stringify({ name: "badpkg", version: "1.0.0", main: "index.js", type: "module" }));
  write("node_modules/badpkg/index.js", `// reads keys\nimport { randomBytes } from "node:crypto";\nexport const key = () => randomBytes(8);\n`);
  write("src/uses-bad.ts", `import { WorkflowEntrypoint } from "cloudflare:workers";\nimport { key } from "badpkg";\nexport class W extends WorkflowEntrypoint { async run() { return String(key()); } }\n`);
  write("src/bad.ts", `import { WorkflowEntrypoint } from "cloudflare:workers";\nimport { readFileSync } from "node:fs";\nexport class W extends WorkflowEntrypoint { async run() { return readFileSync("x", "utf8"); } }\n`);
  write("src/missing.ts", `import { WorkflowEntrypoint } from "cloudflare:workers";\n\nimport { x } from "not-installed";\nexport class W extends WorkflowEntrypoint { async run() { return x; } }\n`);
});
after(() => rmSync(proj, { recursive: true, force: true }));

type Detail = {
  status: string; output: Record<string, unknown>; error: unknown;
  steps: { name: string; attempts?: { error: { stack?: string } | null }[] }[];
};

test("weft run bundles npm packages from node_modules as wrangler does; a package's stack frames name its files", LIMIT, async () => {
  const r = await weft(["run", "src/index.ts", "--params", JSON.stringify({ to: "ada" })]);
  assert.equal(r.code, 0, `exit ${r.code}\n${r.stdout}\n${r.stderr}`);
  const d = JSON.parse(r.stdout) as Detail;
  assert.equal(d.status, "complete");
  assert.deepEqual(d.output, {
    a: "workerd:hi", b: "workerd:yo", count: 2, loud: "ADAADA", hasFs: false, shape: { ok: true }, agent: "agent:Mailer", failed: "from the package",
  }, "the workerd condition, default and named imports, one copy of the package behind its subpath, fs only tried, a base class from a package");
  const stack = d.steps.find((s) => s.name === "explode")!.attempts![0]!.error!.stack!;
  // (the frame's function name is V8's, from the bundle: esbuild may have renamed it, as here to fail2)
  assert.match(stack, /at fail\d* \(\.\.\/node_modules\/cjs-pkg\/index\.js:6:9\)/, stack);
  assert.match(stack, /\(index\.ts:18:\d+\)/, stack);
  assert.doesNotMatch(stack, /tenant\.js|weft:runtime|packages\.cjs/, stack);
  assert.match(r.stderr, /weft run: not run: export default \(fetch handler\)/);
});

test("weft run: a Node built-in imported by the tenant's code or by a package, or a package not installed, is a compile error at its line", LIMIT, async () => {
  const cases: [string, RegExp][] = [
    ["src/bad.ts", /^code does not compile: bad\.ts:2:30: node:fs is a Node\.js built-in; the Weft sandbox, like Workers without nodejs_compat, does not offer it$/],
    ["src/uses-bad.ts", /^code does not compile: \.\.\/node_modules\/badpkg\/index\.js:2:29: node:crypto is a Node\.js built-in; the Weft sandbox, like Workers without nodejs_compat, does not offer it$/],
    ["src/missing.ts", /^code does not compile: missing\.ts:3:19: cannot resolve "not-installed": it is not installed in node_modules/],
  ];
  await Promise.all(cases.map(async ([file, want]) => {
    const r = await weft(["run", file]);
    assert.equal(r.code, 1, `${file}: exit ${r.code}\n${r.stderr}`);
    assert.equal(r.stdout, "", "no instance ran");
    const e = JSON.parse(r.stderr) as { code: string; message: string; details: { errors: { file: string; line: number }[] } };
    assert.equal(e.code, "compile_error", file);
    assert.match(e.message, want, file);
    assert.ok(e.details.errors[0]!.line > 0);
  }));
});

let server: Awaited<ReturnType<typeof startServer>>;
let dataDir: string;

test("weft deploy sends the bundled packages, says what it bundled and what the server does not run; a built-in deploys nothing", LIMIT, async (t) => {
  dataDir = mkdtempSync(join(tmpdir(), "weft-pkgs-data-"));
  server = await startServer({ dataDir, port: 0, quiet: true, drainMs: 1000 });
  t.after(async () => {
    await server.close();
    rmSync(dataDir, { recursive: true, force: true });
  });
  const env = { WEFT_URL: server.url, WEFT_TOKEN: server.adminToken! };
  const call = async (method: string, path: string, body?: unknown) => {
    const res = await fetch(server.url + path, { method, headers: { authorization: `Bearer ${server.adminToken}`, "content-type": "application/json" }, body: body === undefined ? undefined : JSON.stringify(body) });
    return { status: res.status, body: await res.json().catch(() => undefined) as any };
  };
  assert.equal((await call("POST", "/v1/tenants", { name: "acme" })).status, 201);

  const text = await weft(["deploy", "src/index.ts", "--tenant", "acme", "--workflow", "mailer"], env);
  assert.equal(text.code, 0, text.stderr);
  assert.match(text.stdout, /Bundled from node_modules: agents\/workflows, cjs-pkg, mimetext, mimetext\/counter\n/);
  assert.match(text.stdout, /Not run: export default \(fetch handler\): the default export is a Workers handler \(fetch\)/);
  const j = await weft(["deploy", "src/index.ts", "--tenant", "acme", "--workflow", "mailer", "--json"], env);
  assert.equal(j.code, 0, j.stderr);
  const r = JSON.parse(j.stdout) as { className: string; ignored: { export: string; kind: string }[] };
  assert.equal(r.className, "Mailer");
  assert.deepEqual(r.ignored.map((x) => [x.export, x.kind]), [["default", "fetch handler"]]);
  const version = await call("GET", `/v1/tenants/acme/workflows/mailer/versions/${(r as unknown as { version: string }).version}`);
  assert.deepEqual(Object.keys(version.body.modules).sort(), ["agents/workflows", "cjs-pkg", "index.ts", "lib/util.ts", "mimetext", "mimetext/counter", "node_modules/.weft/packages.cjs"]);
  const created = await call("POST", "/v1/tenants/acme/workflows/mailer/instances", { params: { to: "bo" } });
  assert.equal(created.status, 201);
  let detail: { status: string; output: Record<string, unknown> } | undefined;
  for (let i = 0; i < 400; i++) {
    detail = (await call("GET", `/v1/tenants/acme/workflows/mailer/instances/${created.body.id}`)).body;
    if (detail!.status === "complete" || detail!.status === "errored") break;
    await new Promise((res) => setTimeout(res, 25));
  }
  assert.equal(detail!.status, "complete");
  assert.equal(detail!.output.loud, "BOBO");

  const bad = await weft(["deploy", "src/bad.ts", "--tenant", "acme", "--workflow", "bad"], env);
  assert.equal(bad.code, 1);
  assert.match(bad.stderr, /src\/bad\.ts does not compile; nothing was deployed\.\nsrc\/bad\.ts:2:30: error: node:fs is a Node\.js built-in/);
  assert.equal((await call("GET", "/v1/tenants/acme/workflows/bad")).status, 404, "nothing was deployed");
});
