// `weft run` end to end: the real CLI as a child process over the examples in examples/ and small
// workflows written to a temp directory; exit codes, the printed instance detail, and usage errors.
import { describe, test, before, after } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { mkdtempSync, mkdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

const ROOT = fileURLToPath(new URL("../../", import.meta.url));
const MAIN = join(ROOT, "src/cli/main.ts");

interface Result {
  code: number | null;
  stdout: string;
  stderr: string;
  ms: number;
}

function weft(args: string[], timeoutMs = 30_000): Promise<Result> {
  return new Promise((resolve, reject) => {
    const t0 = performance.now();
    const child = spawn(process.execPath, [MAIN, ...args], { cwd: ROOT, stdio: ["ignore", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d) => (stdout += d));
    child.stderr.on("data", (d) => (stderr += d));
    const timer = setTimeout(() => child.kill("SIGKILL"), timeoutMs);
    child.on("error", reject);
    child.on("close", (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr, ms: performance.now() - t0 });
    });
  });
}

type Step = { type: string; name: string; count?: number; success?: boolean | null; finished?: boolean; output?: unknown; error?: { name: string; message: string } | null; attempts?: { success: boolean | null }[] };
type Detail = { status: string; output?: Record<string, unknown>; error: { name: string; message: string } | null; steps: Step[] };

function detail(r: Result): Detail {
  try {
    return JSON.parse(r.stdout) as Detail;
  } catch {
    assert.fail(`stdout is not JSON (exit ${r.code}):\n${r.stdout}\nstderr:\n${r.stderr}`);
  }
}

let dir: string;
before(() => {
  dir = mkdtempSync(join(tmpdir(), "weft-cli-test-"));
});
after(() => rmSync(dir, { recursive: true, force: true }));

function file(rel: string, source: string): string {
  const p = join(dir, rel);
  mkdirSync(join(p, ".."), { recursive: true });
  writeFileSync(p, source);
  return p;
}

describe("weft run: examples", { concurrency: 4 }, () => {
  test("onboarding: retries, a one-day sleep and an approval event, with --skip-time", async () => {
    const r = await weft(["run", "examples/onboarding.ts", "--skip-time", "--event", 'approved={"approved":true}', "--params", '{"id":42}']);
    assert.equal(r.code, 0, r.stderr);
    assert.ok(r.ms < 10_000, `took ${r.ms} ms`);
    const d = detail(r);
    assert.equal(d.status, "complete");
    assert.deepEqual(d.output, {
      user: "user-42", accountId: "acct_42", plan: "trial", approved: true, loadedOnAttempt: 3, message: "Welcome aboard, user-42!",
      audit: ["account created", "approved"],
    });
    assert.deepEqual(d.steps.map((s) => [s.type, s.name]), [
      ["step", "load user"], ["step", "create account"], ["sleep", "grace period"], ["waitForEvent", "approval"], ["step", "send welcome"],
    ]);
    assert.deepEqual(d.steps[0]!.attempts!.map((a) => a.success), [false, false, true]);
    assert.equal(d.steps[2]!.finished, true);
    const wait = d.steps[3]!;
    assert.equal(wait.finished, true);
    assert.deepEqual((wait.output as { payload: unknown }).payload, { approved: true });
    assert.match(r.stderr, /creating a trial account for user-42/);
  });

  test("onboarding without the event: the wait times out on the virtual clock and the workflow declines", async () => {
    const r = await weft(["run", "examples/onboarding.ts", "--skip-time"]);
    assert.equal(r.code, 0, r.stderr);
    const d = detail(r);
    assert.equal(d.output!.approved, false);
    const wait = d.steps.find((s) => s.type === "waitForEvent")!;
    assert.equal(wait.error?.name, "WorkflowTimeoutError");
  });

  test("ci-pipeline with failDeploy: exit 1, errored, rollbacks newest first", async () => {
    const r = await weft(["run", "examples/ci-pipeline.ts", "--params", '{"failDeploy":true}']);
    assert.equal(r.code, 1, r.stderr);
    assert.ok(r.ms < 10_000, `took ${r.ms} ms`);
    const d = detail(r);
    assert.equal(d.status, "errored");
    assert.equal(d.error?.name, "DeployRejected");
    assert.match(d.error!.message, /health check failed/);
    const deploy = d.steps.find((s) => s.name === "deploy")!;
    assert.equal(deploy.success, false);
    assert.equal(deploy.attempts!.length, 1, "NonRetryableError stops retries");
    const rollbacks = d.steps.filter((s) => s.type === "rollback");
    assert.deepEqual(rollbacks.map((s) => s.name), ["deploy", "build", "checkout"], "a rollback is named by the step it undoes");
    assert.ok(rollbacks.every((s) => s.success === true));
    assert.deepEqual(d.steps.slice(-3).map((s) => s.type), ["rollback", "rollback", "rollback"]);
    const order = [...r.stderr.matchAll(/rollback: (\w+)/g)].map((m) => m[1]);
    assert.deepEqual(order, ["nothing", "deleted", "removed"]);
  });

  test("ci-pipeline without failDeploy: complete, output lists what ran", async () => {
    const r = await weft(["run", "examples/ci-pipeline.ts", "--params", '{"commit":"9f3c2e1"}']);
    assert.equal(r.code, 0, r.stderr);
    const d = detail(r);
    assert.equal(d.status, "complete");
    assert.deepEqual(d.output!.ran, ["checkout", "build", "test unit", "test integration", "test lint", "deploy"]);
    assert.equal(d.output!.url, "https://9f3c2e1.preview.example.com");
    assert.equal(d.steps.filter((s) => s.type === "rollback").length, 0);
  });

  test("ai-agent: 30 think steps, parallel tool calls, a final answer (real time)", async () => {
    const r = await weft(["run", "examples/ai-agent.ts"]);
    assert.equal(r.code, 0, r.stderr);
    assert.ok(r.ms < 10_000, `took ${r.ms} ms`);
    const d = detail(r);
    assert.equal(d.status, "complete");
    assert.equal(d.steps.length, 30 + 12 + 1);
    assert.deepEqual(d.steps.filter((s) => s.name === "think").map((s) => s.count), Array.from({ length: 30 }, (_, i) => i + 1));
    assert.equal(d.steps.filter((s) => s.name.startsWith("tool ")).length, 12);
    assert.equal(d.output!.toolCalls, 12);
    assert.equal(d.output!.answer, "21. A week has 7 days.");
  });
});

describe("weft run: deploy errors and usage errors", { concurrency: 4 }, () => {
  test("a syntax error: exit 1, compile_error JSON with the line on stderr", async () => {
    const p = file("broken.ts", [
      'import { WorkflowEntrypoint } from "cloudflare:workers";',
      "export class Broken extends WorkflowEntrypoint {",
      "  async run(event, step) {",
      "    const x = ;",
      "  }",
      "}",
    ].join("\n"));
    const r = await weft(["run", p]);
    assert.equal(r.code, 1);
    assert.equal(r.stdout, "");
    const err = JSON.parse(r.stderr) as { code: string; message: string; details: { errors: { file: string; line: number }[] } };
    assert.equal(err.code, "compile_error");
    assert.equal(err.details.errors[0]!.line, 4);
    assert.equal(err.details.errors[0]!.file, "broken.ts");
    assert.match(err.message, /broken\.ts:4:/);
  });

  test("no workflow class: exit 1 with no_workflow_class", async () => {
    const r = await weft(["run", file("empty.ts", "export const x = 1;\n")]);
    assert.equal(r.code, 1);
    assert.equal((JSON.parse(r.stderr) as { code: string }).code, "no_workflow_class");
  });

  test("bad --params JSON: exit 2, the message names --params", async () => {
    const r = await weft(["run", "examples/onboarding.ts", "--params", "{id:42}"]);
    assert.equal(r.code, 2);
    assert.equal(r.stdout, "");
    assert.match(r.stderr, /--params is not valid JSON/);
  });

  test("bad --event values: exit 2, the message names --event", async () => {
    const noEq = await weft(["run", "examples/onboarding.ts", "--event", "approved"]);
    assert.equal(noEq.code, 2);
    assert.match(noEq.stderr, /--event expects TYPE=JSON/);
    const badJson = await weft(["run", "examples/onboarding.ts", "--event", "approved={"]);
    assert.equal(badJson.code, 2);
    assert.match(badJson.stderr, /--event approved is not valid JSON/);
    const badType = await weft(["run", "examples/onboarding.ts", "--event", 'order.paid={}']);
    assert.equal(badType.code, 2);
    assert.match(badType.stderr, /event type "order\.paid" is invalid/);
  });

  test("unknown flag, missing FILE, unreadable FILE, unknown command: exit 2", async () => {
    const unknown = await weft(["run", "examples/onboarding.ts", "--skiptime"]);
    assert.equal(unknown.code, 2);
    assert.match(unknown.stderr, /--skiptime/);
    const missing = await weft(["run"]);
    assert.equal(missing.code, 2);
    assert.match(missing.stderr, /missing FILE/);
    const nofile = await weft(["run", "examples/nope.ts"]);
    assert.equal(nofile.code, 2);
    assert.match(nofile.stderr, /cannot read workflow file examples\/nope\.ts: no such file/);
    const cmd = await weft(["frobnicate"]);
    assert.equal(cmd.code, 2);
    assert.match(cmd.stderr, /unknown command "frobnicate"/);
  });

  test("--help prints usage; serve --help describes the server; bad serve flags exit 2", async () => {
    const help = await weft(["run", "--help"]);
    assert.equal(help.code, 0);
    assert.match(help.stdout, /--skip-time/);
    const top = await weft(["--help"]);
    assert.equal(top.code, 0);
    assert.match(top.stdout, /weft <command>/);
    const serve = await weft(["serve", "--help"]);
    assert.equal(serve.code, 0);
    assert.match(serve.stdout, /admin token/);
    const bad = await weft(["serve", "--port", "99999"]);
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /--port must be an integer from 0 to 65535/);
  });
});

describe("weft run: inputs", { concurrency: 4 }, () => {
  test("local imports are bundled, including from a parent directory; --class picks one of several", async () => {
    file("shared/names.ts", "export const greet = (n: string): string => `hello ${n}`;\n");
    file("app/util.ts", 'export { greet } from "../shared/names.ts";\nexport const twice = (x: number) => x * 2;\n');
    const main = file("app/two-classes.ts", [
      'import { WorkflowEntrypoint } from "cloudflare:workers";',
      'import { greet, twice } from "./util.js";',
      "export class A extends WorkflowEntrypoint {",
      '  async run(event: { payload: { n: number } }, step: any) { return step.do("a", async () => greet(String(twice(event.payload.n)))); }',
      "}",
      "export class B extends WorkflowEntrypoint {",
      '  async run() { return "b"; }',
      "}",
    ].join("\n"));
    const ambiguous = await weft(["run", main]);
    assert.equal(ambiguous.code, 1);
    assert.equal((JSON.parse(ambiguous.stderr) as { code: string }).code, "ambiguous_workflow_class");
    const r = await weft(["run", main, "--class", "A", "--params", '{"n":21}']);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(detail(r).output, "hello 42" as unknown);
  });

  test("an uncaught error: exit 1 with status errored", async () => {
    const p = file("fails.ts", [
      'import { WorkflowEntrypoint } from "cloudflare:workers";',
      'import { NonRetryableError } from "cloudflare:workflows";',
      "export class Fails extends WorkflowEntrypoint {",
      '  async run(_e: unknown, step: any) { await step.do("x", async () => { throw new NonRetryableError("no"); }); }',
      "}",
    ].join("\n"));
    const r = await weft(["run", p]);
    assert.equal(r.code, 1);
    const d = detail(r);
    assert.equal(d.status, "errored");
    assert.equal(d.error?.message, "no");
  });

  test("--skip-time: sleeps inside a loop and retry delays of hours pass at once; events go to successive waits", async () => {
    const p = file("loop.ts", [
      'import { WorkflowEntrypoint } from "cloudflare:workers";',
      "export class Loop extends WorkflowEntrypoint {",
      "  async run(_e: unknown, step: any) {",
      "    const got: unknown[] = [];",
      "    for (let i = 0; i < 3; i++) {",
      '      await step.sleep("tick", "6 hours");',
      '      got.push((await step.waitForEvent("poke", { type: "poke", timeout: "1 day" })).payload);',
      "    }",
      '    const n = await step.do("flaky", { retries: { limit: 4, delay: "1 hour", backoff: "exponential" } }, async (ctx: { attempt: number }) => {',
      '      if (ctx.attempt < 4) throw new Error("not yet");',
      "      return ctx.attempt;",
      "    });",
      "    return { got, n, at: Date.now() };",
      "  }",
      "}",
    ].join("\n"));
    const t0 = Date.now();
    const r = await weft(["run", p, "--skip-time", "--event", "poke=1", "--event", "poke=2", "--event", "poke=3", "--event", "extra={}"]);
    assert.equal(r.code, 0, r.stderr);
    const d = detail(r);
    assert.deepEqual(d.output!.got, [1, 2, 3]);
    assert.equal(d.output!.n, 4);
    const skipped = (d.output!.at as number) - t0;
    assert.ok(skipped >= 18 * 3600_000 + 7 * 3600_000, `virtual time moved ${skipped} ms`);
    assert.match(r.stderr, /--event extra was not sent: the instance never waited for an event of that type/);
  });
});
