// The `weft` commands that drive a running server over HTTP, end to end: the real CLI as a child
// process (node bin/weft.js, WEFT_URL/WEFT_TOKEN in its env) against a server started in this
// process. Tenants and tokens, deploy (and its compile errors), workflows, the whole instance life
// cycle, logs (paged and --follow), --json, tenant isolation, usage errors, an unreachable server,
// and `weft dev` (redeploy on save, compile errors, the admin token kept for the next run).
// Argument parsing and the SSE parser are also tested in process, without a server.
import { describe, test, before, after } from "node:test";
import assert from "node:assert/strict";
import { spawn, type ChildProcess } from "node:child_process";
import { mkdtempSync, mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join, relative } from "node:path";
import { fileURLToPath } from "node:url";
import { startServer } from "../../src/api/server.ts";
import { parseSseBlock } from "../../src/cli/client.ts";
import { execute, tenantCommands, deployCommand, type Io } from "../../src/cli/commands.ts";
import { instanceCommands } from "../../src/cli/instances.ts";

const ROOT = fileURLToPath(new URL("../../", import.meta.url));
const BIN = join(ROOT, "bin/weft.js");

interface Result {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** A running child with its output so far. */
interface Child {
  proc: ChildProcess;
  out: { stdout: string; stderr: string };
  done: Promise<Result>;
}

function start(args: string[], env: Record<string, string | undefined> = {}, cwd = ROOT): Child {
  const fullEnv: NodeJS.ProcessEnv = { ...process.env, WEFT_URL: undefined, WEFT_TOKEN: undefined, WEFT_TENANT: undefined, ...env };
  for (const k of Object.keys(fullEnv)) if (fullEnv[k] === undefined) delete fullEnv[k];
  const proc = spawn(process.execPath, [BIN, ...args], { cwd, env: fullEnv, stdio: ["ignore", "pipe", "pipe"] });
  const out = { stdout: "", stderr: "" };
  proc.stdout!.on("data", (d) => (out.stdout += d));
  proc.stderr!.on("data", (d) => (out.stderr += d));
  const timer = setTimeout(() => proc.kill("SIGKILL"), 60_000);
  const done = new Promise<Result>((resolve, reject) => {
    proc.on("error", reject);
    proc.on("close", (code) => {
      clearTimeout(timer);
      resolve({ code, ...out });
    });
  });
  return { proc, out, done };
}

/** Poll `check` (bounded) until it holds; fails with `what` otherwise. */
async function until(check: () => boolean | Promise<boolean>, what: string, timeoutMs = 20_000): Promise<void> {
  const t0 = performance.now();
  while (!(await check())) {
    if (performance.now() - t0 > timeoutMs) assert.fail(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

let dir: string;
let server: Awaited<ReturnType<typeof startServer>>;
let admin: string;
let acmeToken: string;
let acmeTokenId: string;

function weft(args: string[], env: Record<string, string | undefined> = {}): Promise<Result> {
  return start(args, { WEFT_URL: server.url, WEFT_TOKEN: admin, ...env }).done;
}

function ok(r: Result): Result {
  assert.equal(r.code, 0, `exit ${r.code}\nstdout:\n${r.stdout}\nstderr:\n${r.stderr}`);
  return r;
}

function json<T = Record<string, unknown>>(r: Result): T {
  ok(r);
  try {
    return JSON.parse(r.stdout) as T;
  } catch {
    assert.fail(`stdout is not JSON:\n${r.stdout}`);
  }
}

async function statusOf(workflow: string, id: string, tenant = "acme"): Promise<string> {
  return json<{ status: string }>(await weft(["instances", "describe", workflow, id, "--tenant", tenant, "--json"])).status;
}

async function waitStatus(workflow: string, id: string, statuses: string[]): Promise<void> {
  let last = "";
  await until(async () => statuses.includes((last = await statusOf(workflow, id))), `instance ${id} to be ${statuses.join(" or ")} (last ${last})`);
}

const WAITER = `import { WorkflowEntrypoint, type WorkflowEvent, type WorkflowStep } from "cloudflare:workers";
import { greeting } from "./lib/greet.ts";

export class Waiter extends WorkflowEntrypoint<unknown, { who?: string }> {
  async run(event: WorkflowEvent<{ who?: string }>, step: WorkflowStep) {
    const who = await step.do("hello", async () => {
      console.log(greeting(event.payload?.who ?? "nobody"));
      return event.payload?.who ?? "nobody";
    });
    const ev = await step.waitForEvent<{ approved: boolean }>("approval", { type: "approved", timeout: "1 hour" });
    await step.do("record", async () => {
      console.log("approved=" + ev.payload.approved);
      return ev.payload.approved;
    });
    return { who, approved: ev.payload.approved };
  }
}
`;

function write(rel: string, text: string): string {
  const p = join(dir, rel);
  mkdirSync(join(p, ".."), { recursive: true });
  writeFileSync(p, text);
  return p;
}

before(async () => {
  dir = mkdtempSync(join(tmpdir(), "weft-http-cli-"));
  server = await startServer({ dataDir: join(dir, "data"), port: 0, quiet: true });
  assert.ok(server.adminToken, "the first start returns the admin token");
  admin = server.adminToken;
  write("waiter/lib/greet.ts", "export const greeting = (who: string) => `hello ${who}`;\n");
  write("waiter/waiter.ts", WAITER);
});

after(async () => {
  await server?.close();
  rmSync(dir, { recursive: true, force: true });
});

describe("weft against a running server", { concurrency: false, timeout: 180_000 }, () => {
  test("tenants: create, list, token, tokens", async () => {
    const c = ok(await weft(["tenants", "create", "acme", "--max-running", "50", "--creates-per-second", "500"]));
    assert.match(c.stdout, /Created tenant "acme": up to 50 running instances, 500 creates\/s/);
    const again = await weft(["tenants", "create", "acme"]);
    assert.equal(again.code, 1);
    assert.match(again.stderr, /^weft tenants create: .*acme.*already exists/m);
    ok(await weft(["tenants", "create", "other"]));
    const list = json<{ tenants: { name: string; quotas: { maxRunningInstances: number } }[] }>(await weft(["tenants", "list", "--json"]));
    assert.deepEqual(list.tenants.map((t) => t.name).sort(), ["acme", "other"]);
    assert.equal(list.tenants.find((t) => t.name === "acme")!.quotas.maxRunningInstances, 50);
    assert.match(ok(await weft(["tenants", "list"])).stdout, /│ acme +│/);

    const tok = ok(await weft(["tenants", "token", "acme", "--name", "ci"]));
    assert.match(tok.stdout, /^weft_[A-Za-z0-9_-]{43}\n$/, "the token alone on stdout");
    acmeToken = tok.stdout.trim();
    acmeTokenId = /Token (\S+) for tenant "acme"/.exec(tok.stderr)![1]!;
    const tokens = ok(await weft(["tenants", "tokens", "acme"]));
    assert.match(tokens.stdout, new RegExp(`│ ${acmeTokenId} +│ ci +│`));
    assert.doesNotMatch(tokens.stdout, /weft_/);
    // a tenant token sees its own tenant only
    const own = json<{ tenants: { name: string }[] }>(await weft(["tenants", "list", "--json"], { WEFT_TOKEN: acmeToken }));
    assert.deepEqual(own.tenants.map((t) => t.name), ["acme"]);
  });

  test("deploy: examples/onboarding.ts, a file with a local import, --json, compile errors as file:line:column", async () => {
    const d = ok(await weft(["deploy", "examples/onboarding.ts", "--tenant", "acme", "--workflow", "onboarding"]));
    assert.match(d.stdout, /^Deployed onboarding version \S+ \(class Onboarding\) to tenant "acme"\./m);
    const w = json<{ workflow: string; version: string; className: string }>(
      await weft(["deploy", join(dir, "waiter/waiter.ts"), "--tenant", "acme", "--workflow", "waiter", "--json"], { WEFT_TOKEN: acmeToken }),
    );
    assert.equal(w.workflow, "waiter");
    assert.equal(w.className, "Waiter");
    assert.match(w.version, /\S/);
    // --bindings: the bindings go with the version (secrets stored sealed, shown as { secret: true })
    const envFile = write("env/ok.json", JSON.stringify({ GREETING: "hi", KEY: { secret: "s3cret" } }));
    const withEnv = json<{ version: string }>(await weft(["deploy", join(dir, "waiter/waiter.ts"), "--tenant", "acme", "--workflow", "withenv", "--bindings", envFile, "--json"]));
    const res = await fetch(`${server.url}/v1/tenants/acme/workflows/withenv/versions/${withEnv.version}`, { headers: { authorization: `Bearer ${admin}` } });
    assert.deepEqual(((await res.json()) as { env: unknown }).env, { GREETING: "hi", KEY: { secret: true } });
    ok(await weft(["workflows", "delete", "withenv", "--tenant", "acme"]));
    // the default workflow name is the file's
    assert.match(ok(await weft(["deploy", join(dir, "waiter/waiter.ts"), "--tenant", "other"])).stdout, /^Deployed waiter version/m);

    write("broken/lib/bad.ts", "export const x = (1 +;\n");
    write("broken/main.ts", WAITER.replace("./lib/greet.ts", "./lib/bad.ts"));
    const bad = await start(["deploy", "main.ts", "--tenant", "acme", "--workflow", "broken"], { WEFT_URL: server.url, WEFT_TOKEN: admin }, join(dir, "broken")).done;
    assert.equal(bad.code, 1, bad.stderr);
    assert.match(bad.stderr, /main\.ts does not compile; nothing was deployed/);
    assert.match(bad.stderr, /^lib\/bad\.ts:1:\d+: error: /m);
    assert.match(bad.stderr, /^ {2}1 │ export const x = \(1 \+;$/m);
    const badJson = await weft(["deploy", join(dir, "broken/main.ts"), "--tenant", "acme", "--workflow", "broken", "--json"]);
    assert.equal(badJson.code, 1);
    assert.equal((JSON.parse(badJson.stderr) as { error: { code: string } }).error.code, "compile_error");
  });

  test("workflows list and describe", async () => {
    const list = ok(await weft(["workflows", "list", "--tenant", "acme"]));
    assert.match(list.stdout, /│ Name +│ Latest Version +│ Updated +│ Instances +│/);
    assert.match(list.stdout, /│ onboarding +│/);
    assert.match(list.stdout, /│ waiter +│ \S+ +│ .* │ none +│/);
    const d = ok(await weft(["workflows", "describe", "waiter", "--tenant", "acme"]));
    assert.match(d.stdout, /^Workflow Name: +waiter$/m);
    assert.match(d.stdout, /│ \S+ +│ Waiter │ .* │ latest │/);
    const j = json<{ name: string; versions: unknown[] }>(await weft(["workflows", "describe", "waiter", "--tenant", "acme", "--json"]));
    assert.equal(j.versions.length, 1);
  });

  test("instances: create → waiting → send-event → ✅ Completed; describe, list, logs", async () => {
    const c = ok(await weft(["instances", "create", "waiter", "--tenant", "acme", "--id", "i1", "--params", '{"who":"bob"}', "--metadata", "customer=c-17"], { WEFT_TOKEN: acmeToken }));
    assert.equal(c.stdout, '🚀 Workflow instance "i1" has been queued successfully\n');
    await waitStatus("waiter", "i1", ["waiting"]);
    const waiting = ok(await weft(["instances", "describe", "waiter", "i1", "--tenant", "acme"]));
    assert.match(waiting.stdout, /^Status: +⏰ Waiting$/m);
    assert.match(waiting.stdout, /^ {2}Type: +👀 Waiting for event$/m);
    const sent = ok(await weft(["instances", "send-event", "waiter", "i1", "--tenant", "acme", "--type", "approved", "--payload", '{"approved":true}']));
    assert.match(sent.stdout, /The event with type "approved" was sent to instance "i1"/);
    await waitStatus("waiter", "i1", ["complete"]);

    const d = ok(await weft(["instances", "describe", "waiter", "i1", "--tenant", "acme"]));
    assert.match(d.stdout, /^Workflow Name: +waiter$/m);
    assert.match(d.stdout, /^Instance Id: +i1$/m);
    assert.match(d.stdout, /^Status: +✅ Completed$/m);
    assert.match(d.stdout, /^Trigger: +🌎 API$/m);
    assert.match(d.stdout, /^Last Successful Step: +record$/m);
    assert.match(d.stdout, /^Metadata: +customer=c-17$/m);
    assert.match(d.stdout, /^Output: +\{"who":"bob","approved":true\}$/m);
    assert.match(d.stdout, /^ {2}Type: +🎯 Step$/m);
    assert.match(d.stdout, /^ {2}Output: +\{.*"payload":\{"approved":true\}.*$/m);
    assert.match(d.stdout, /│ State +│/);
    assert.match(d.stdout, /✅ Success/);
    // truncation, and `latest`
    const short = ok(await weft(["instances", "describe", "waiter", "latest", "--tenant", "acme", "--truncate-output-limit", "5"]));
    assert.match(short.stdout, /^Output: +\{"who… \(\d+ more characters; --json shows all\)$/m);
    const full = json<{ id: string; status: string; output: unknown; steps: unknown[] }>(await weft(["instances", "describe", "waiter", "i1", "--tenant", "acme", "--json"]));
    assert.deepEqual(full.output, { who: "bob", approved: true });
    assert.equal(full.steps.length, 3);

    const logs = ok(await weft(["instances", "logs", "waiter", "i1", "--tenant", "acme"]));
    assert.match(logs.stdout, /^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d info +hello bob$/m);
    assert.match(logs.stdout, /approved=true$/m);
    const logsJson = json<{ logs: { seq: number; message: string }[] }>(await weft(["instances", "logs", "waiter", "i1", "--tenant", "acme", "--json"]));
    assert.deepEqual(logsJson.logs.map((l) => l.message), ["hello bob", "approved=true"]);
    const after = json<{ logs: { message: string }[] }>(await weft(["instances", "logs", "waiter", "i1", "--tenant", "acme", "--json", "--after", String(logsJson.logs[0]!.seq)]));
    assert.deepEqual(after.logs.map((l) => l.message), ["approved=true"]);

    // list: wrangler's table, --json, pages with a cursor, a status filter
    ok(await weft(["instances", "create", "waiter", "--tenant", "acme", "--id", "i2"]));
    ok(await weft(["instances", "create", "waiter", "--tenant", "acme", "--id", "i3", "--metadata", "customer=c-9"]));
    const table = ok(await weft(["instances", "list", "waiter", "--tenant", "acme"]));
    const lines = table.stdout.split("\n");
    assert.match(lines[1]!, /^│ Instance ID │ Version +│ Created +│ Modified +│ Status +│$/);
    assert.match(table.stdout, /│ i1 +│ \S+ +│ [\d-]+ [\d:]+ │ [\d-]+ [\d:]+ │ ✅ Completed +│/);
    assert.deepEqual(lines.filter((l) => /│ i\d/.test(l)).map((l) => /│ (i\d)/.exec(l)![1]), ["i3", "i2", "i1"], "newest first");
    const rev = ok(await weft(["instances", "list", "waiter", "--tenant", "acme", "--reverse"]));
    assert.deepEqual(rev.stdout.split("\n").filter((l) => /│ i\d/.test(l)).map((l) => /│ (i\d)/.exec(l)![1]), ["i1", "i2", "i3"]);
    const page1 = ok(await weft(["instances", "list", "waiter", "--tenant", "acme", "--limit", "2"]));
    const cursor = /More instances: --cursor (\S+)/.exec(page1.stdout)?.[1];
    assert.ok(cursor, page1.stdout);
    const page2 = json<{ instances: { id: string }[]; cursor: string | null }>(await weft(["instances", "list", "waiter", "--tenant", "acme", "--limit", "2", "--cursor", cursor, "--json"]));
    assert.deepEqual(page2.instances.map((i) => i.id), ["i1"]);
    assert.equal(page2.cursor, null);
    const done = json<{ instances: { id: string }[] }>(await weft(["instances", "list", "waiter", "--tenant", "acme", "--status", "complete", "--json"]));
    assert.deepEqual(done.instances.map((i) => i.id), ["i1"]);
    const byMeta = json<{ instances: { id: string }[] }>(await weft(["instances", "list", "waiter", "--tenant", "acme", "--metadata", "customer=c-9", "--json"]));
    assert.deepEqual(byMeta.instances.map((i) => i.id), ["i3"]);
    assert.match(ok(await weft(["instances", "list", "onboarding", "--tenant", "acme"])).stdout, /No instances of workflow "onboarding"/);
    const counts = ok(await weft(["workflows", "list", "--tenant", "acme"]));
    assert.match(counts.stdout, /│ waiter +│ .* │ (2 waiting, 1 complete|\d+ \w+, .*complete) +│/);
  });

  test("logs --follow prints lines as they come and ends with the instance (exit 0 complete)", async () => {
    ok(await weft(["instances", "create", "waiter", "--tenant", "acme", "--id", "f1", "--params", '{"who":"fay"}']));
    const follow = start(["instances", "logs", "waiter", "f1", "--tenant", "acme", "--follow"], { WEFT_URL: server.url, WEFT_TOKEN: acmeToken });
    await until(() => follow.out.stdout.includes("hello fay"), "the first log line");
    assert.equal(follow.proc.exitCode, null, "still following");
    ok(await weft(["instances", "send-event", "waiter", "f1", "--tenant", "acme", "--type", "approved", "--payload", '{"approved":false}']));
    const r = await follow.done;
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /hello fay\n.*approved=false\n$/);
    assert.match(r.stderr, /Instance "f1" ✅ Completed/);

    // a terminated instance: --follow exits 1
    ok(await weft(["instances", "create", "waiter", "--tenant", "acme", "--id", "f2"]));
    const f2 = start(["instances", "logs", "waiter", "f2", "--tenant", "acme", "--follow"], { WEFT_URL: server.url, WEFT_TOKEN: acmeToken });
    await until(() => f2.out.stdout.includes("hello nobody"), "f2's first line");
    ok(await weft(["instances", "terminate", "waiter", "f2", "--tenant", "acme"]));
    const r2 = await f2.done;
    assert.equal(r2.code, 1);
    assert.match(r2.stderr, /Instance "f2" 🚫 Terminated/);
  });

  test("pause, resume, terminate, restart (from a step), delete", async () => {
    ok(await weft(["instances", "create", "waiter", "--tenant", "acme", "--id", "p1"]));
    await waitStatus("waiter", "p1", ["waiting"]);
    const p = ok(await weft(["instances", "pause", "waiter", "p1", "--tenant", "acme"]));
    assert.match(p.stdout, /^Paused instance "p1"; status: (⏸️ Paused|⏱️ Waiting for Pause)$/m);
    await waitStatus("waiter", "p1", ["paused"]);
    assert.match(ok(await weft(["instances", "describe", "waiter", "p1", "--tenant", "acme"])).stdout, /^Status: +⏸️ Paused$/m);
    const again = await weft(["instances", "pause", "waiter", "p1", "--tenant", "acme"]);
    assert.equal(again.code, 1);
    assert.match(again.stderr, /already paused/);
    const r = json<{ id: string; status: string }>(await weft(["instances", "resume", "waiter", "p1", "--tenant", "acme", "--json"]));
    assert.equal(r.id, "p1");
    await waitStatus("waiter", "p1", ["waiting"]);
    const t = ok(await weft(["instances", "terminate", "waiter", "p1", "--tenant", "acme"]));
    assert.match(t.stdout, /^Terminated instance "p1"; status: 🚫 Terminated$/m);
    const d = ok(await weft(["instances", "describe", "waiter", "p1", "--tenant", "acme"]));
    assert.match(d.stdout, /^Status: +🚫 Terminated$/m);
    assert.match(d.stdout, /^ {2}Type: +🚫 Termination$/m);
    const once = await weft(["instances", "terminate", "waiter", "p1", "--tenant", "acme"]);
    assert.equal(once.code, 1);
    assert.match(once.stderr, /terminated/);

    const rs = ok(await weft(["instances", "restart", "waiter", "p1", "--tenant", "acme", "--from-step-name", "approval", "--from-step-type", "waitForEvent"]));
    assert.match(rs.stdout, /^Restarted instance "p1"; status: /m);
    await waitStatus("waiter", "p1", ["waiting"]);
    ok(await weft(["instances", "send-event", "waiter", "p1", "--tenant", "acme", "--type", "approved", "--payload", '{"approved":true}']));
    await waitStatus("waiter", "p1", ["complete"]);
    ok(await weft(["instances", "restart", "waiter", "p1", "--tenant", "acme"]));
    await waitStatus("waiter", "p1", ["waiting"]);

    const del = ok(await weft(["instances", "delete", "waiter", "p1", "--tenant", "acme"]));
    assert.match(del.stdout, /Deleted instance "p1"/);
    const gone = await weft(["instances", "describe", "waiter", "p1", "--tenant", "acme"]);
    assert.equal(gone.code, 1);
    assert.match(gone.stderr, /^weft instances describe: .*"p1".*(does not exist|not found)/m);
  });

  test("a tenant token cannot see another tenant: the 404 message, exit 1; revoked tokens stop working", async () => {
    const other = { WEFT_TOKEN: acmeToken };
    const wl = await weft(["workflows", "list", "--tenant", "other"], other);
    assert.equal(wl.code, 1);
    assert.match(wl.stderr, /^weft workflows list: .*(not found|does not exist)/m);
    const il = await weft(["instances", "list", "waiter", "--tenant", "other"], other);
    assert.equal(il.code, 1);
    assert.match(il.stderr, /not found|does not exist/);
    const jsonErr = await weft(["instances", "create", "waiter", "--tenant", "other", "--json"], other);
    assert.equal(jsonErr.code, 1);
    assert.equal((JSON.parse(jsonErr.stderr) as { error: { code: string } }).error.code, "not_found");
    // the admin sees it
    ok(await weft(["workflows", "list", "--tenant", "other"]));
    // a tenant token on an admin route
    const adm = await weft(["tenants", "create", "sneaky"], other);
    assert.equal(adm.code, 1);

    const rv = ok(await weft(["tenants", "revoke", "acme", acmeTokenId]));
    assert.match(rv.stdout, new RegExp(`Revoked token ${acmeTokenId} of tenant "acme"`));
    assert.match(ok(await weft(["tenants", "tokens", "acme"])).stdout, new RegExp(`│ ${acmeTokenId} +│ ci +│ [\\d-]+ [\\d:]+ │ [\\d-]+ [\\d:]+ │`));
    const revoked = await weft(["workflows", "list", "--tenant", "acme"], other);
    assert.equal(revoked.code, 1);
    const none = await weft(["workflows", "list", "--tenant", "acme"], { WEFT_TOKEN: undefined });
    assert.equal(none.code, 1);
    assert.match(none.stderr, /pass --token or set WEFT_TOKEN/);
  });

  test("usage errors exit 2 and say what to do", async () => {
    const cases: [string[], RegExp][] = [
      [["instances", "describe", "waiter", "--tenant", "acme"], /missing ID/],
      [["instances", "list", "waiter"], /missing --tenant TENANT \(or set WEFT_TENANT\)/],
      [["instances", "list", "waiter", "--tenant", "acme", "--limit", "0"], /--limit must be a whole number from 1 to 1000/],
      [["instances", "list", "waiter", "--tenant", "acme", "--status", "done"], /--status must be one of/],
      [["instances", "create", "waiter", "--tenant", "acme", "--params", "{nope"], /--params is not valid JSON/],
      [["instances", "create", "waiter", "--tenant", "acme", "--metadata", "novalue"], /--metadata expects KEY=VALUE/],
      [["instances", "send-event", "waiter", "i1", "--tenant", "acme"], /missing --type TYPE/],
      [["instances", "restart", "waiter", "i1", "--tenant", "acme", "--from-step-count", "2"], /need --from-step-name/],
      [["instances", "restart", "waiter", "i1", "--tenant", "acme", "--from-step-name", "a", "--from-step-type", "nap"], /--from-step-type must be one of do, sleep, waitForEvent/],
      [["instances", "list", "waiter", "--tenant", "acme", "--frobnicate"], /Unknown option '--frobnicate'/],
      [["instances", "frob"], /unknown command "frob"/],
      [["instances"], /Usage: weft instances <command>/],
      [["tenants", "revoke", "acme"], /missing TOKEN_ID/],
      [["deploy", "nope.ts", "--tenant", "acme"], /cannot read workflow file nope\.ts: no such file/],
      [["deploy", join(dir, "waiter/waiter.ts"), "--tenant", "acme", "--bindings", write("env/bad.json", "{nope")], /--bindings .*bad\.json is not valid JSON/],
      [["deploy", join(dir, "waiter/waiter.ts"), "--tenant", "acme", "--bindings", write("env/list.json", "[1]")], /must hold a JSON object of bindings/],
      [["workflows", "list", "--tenant", "acme", "--url", "not a url"], /is not a URL/],
      [["frobnicate"], /unknown command "frobnicate"/],
    ];
    await Promise.all(cases.map(async ([args, re]) => {
      const r = await weft(args);
      assert.equal(r.code, 2, `${args.join(" ")}: exit ${r.code}\n${r.stderr}`);
      assert.match(r.stderr, re, args.join(" "));
    }));
  });

  test("--help for every command", async () => {
    const cmds = [
      ["tenants"], ["tenants", "create"], ["tenants", "token"], ["tenants", "revoke"], ["deploy"], ["dev"], ["workflows"], ["workflows", "list"],
      ["instances"], ...["list", "describe", "create", "pause", "resume", "terminate", "restart", "delete", "send-event", "logs"].map((s) => ["instances", s]),
    ];
    await Promise.all(cmds.map(async (c) => {
      const r = ok(await weft([...c, "--help"]));
      assert.match(r.stdout, new RegExp(`^Usage: weft ${c.join(" ")} `), c.join(" "));
    }));
    const top = ok(await weft(["--help"]));
    for (const c of ["dev FILE.ts", "serve", "tenants create", "deploy FILE.ts", "workflows list", "instances list", "instances send-event", "instances logs"]) {
      assert.ok(top.stdout.includes(c), c);
    }
  });
});

test("an unreachable server: the message says so, exit 1", async () => {
  // a port that was free a moment ago
  const port = await new Promise<number>((resolve) => {
    const s = createServer().listen(0, "127.0.0.1", () => {
      const p = (s.address() as { port: number }).port;
      s.close(() => resolve(p));
    });
  });
  const r = await start(["instances", "list", "w", "--tenant", "t"], { WEFT_URL: `http://127.0.0.1:${port}`, WEFT_TOKEN: "x" }).done;
  assert.equal(r.code, 1);
  assert.match(r.stderr, new RegExp(`^weft instances list: cannot reach weft at http://127\\.0\\.0\\.1:${port}: is \`weft serve\` running\\?`, "m"));
});

test("weft dev: serves, deploys, redeploys on save, prints compile errors, keeps the admin token", { timeout: 90_000 }, async () => {
  const devDir = join(dir, "dev");
  mkdirSync(devDir, { recursive: true });
  const helper = join(devDir, "helper.ts");
  writeFileSync(helper, 'export const word = "one";\n');
  writeFileSync(join(devDir, "flow.ts"), `import { WorkflowEntrypoint, type WorkflowStep } from "cloudflare:workers";
import { word } from "./helper.ts";
export class Flow extends WorkflowEntrypoint {
  async run(_e: unknown, step: WorkflowStep) {
    return await step.do("say", async () => word);
  }
}
`);
  const data = join(devDir, "data");
  const dev = start(["dev", "flow.ts", "--port", "0", "--data", data], {}, devDir);
  try {
    await until(() => dev.out.stdout.includes("Ctrl-C stops"), "weft dev to start", 30_000);
    const url = /serving (http:\/\/\S+)/.exec(dev.out.stdout)![1]!;
    const token = /Admin token: (weft_\S+)/.exec(dev.out.stdout)![1]!;
    assert.match(dev.out.stdout, /Tenant "dev", workflow "flow": version \S+/);
    assert.match(dev.out.stdout, new RegExp(`export WEFT_URL=${url.replace(/\./g, "\\.")} WEFT_TOKEN=${token} WEFT_TENANT=dev`));
    assert.match(dev.out.stdout, /Watching flow\.ts and 1 imported file/);
    assert.equal(readFileSync(join(data, "dev-admin-token"), "utf8").trim(), token);
    const env = { WEFT_URL: url, WEFT_TOKEN: token, WEFT_TENANT: "dev" };
    const run = async (id: string) => {
      ok(await start(["instances", "create", "flow", "--id", id], env).done);
      let d: { status: string; output?: unknown } = { status: "" };
      await until(async () => (d = json(await start(["instances", "describe", "flow", id, "--json"], env).done)).status === "complete", `${id} to complete`);
      return d.output;
    };
    assert.equal(await run("a"), "one");

    writeFileSync(helper, 'export const word = "two";\n'); // an imported module changes: a new version
    await until(() => /↻ Deployed flow version \S+/.test(dev.out.stdout), "the redeploy");
    assert.equal(await run("b"), "two");

    writeFileSync(helper, 'export const word = "three" +;\n');
    await until(() => /helper\.ts:1:\d+: error: /.test(dev.out.stderr), "the compile error");
    assert.match(dev.out.stderr, /flow\.ts does not compile; still serving version \S+:/);
    assert.match(dev.out.stderr, /^ {2}1 │ export const word = "three" \+;$/m);
    assert.equal(await run("c"), "two", "the previous version keeps serving");
    assert.equal(json<{ versions: unknown[] }>(await start(["workflows", "describe", "flow", "--json"], env).done).versions.length, 2);

    dev.proc.kill("SIGINT");
    const r = await dev.done;
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr, /weft dev: stopped/);
  } finally {
    dev.proc.kill("SIGKILL");
  }

  // a second run on the same data directory reuses the token it kept, and the tenant
  const dev2 = start(["dev", relative(ROOT, join(devDir, "flow.ts")), "--port", "0", "--data", data, "--workflow", "flow2"]);
  try {
    await until(() => dev2.out.stdout.includes("Ctrl-C stops") || dev2.proc.exitCode !== null, "the second weft dev to start", 30_000);
    assert.match(dev2.out.stdout, /Tenant "dev", workflow "flow2": not deployed yet/, dev2.out.stderr);
    const token = readFileSync(join(data, "dev-admin-token"), "utf8").trim();
    assert.ok(dev2.out.stdout.includes(`Admin token: ${token}`));
    writeFileSync(helper, 'export const word = "four";\n');
    await until(() => /↻ Deployed flow2 version/.test(dev2.out.stdout), "the fixed file to deploy");
    dev2.proc.kill("SIGTERM");
    assert.equal((await dev2.done).code, 0);
  } finally {
    dev2.proc.kill("SIGKILL");
  }
});

describe("argument parsing, in process", () => {
  const capture = (): Io & { lines: string[]; errs: string[] } => {
    const lines: string[] = [];
    const errs: string[] = [];
    return { lines, errs, out: (s) => lines.push(s), err: (s) => errs.push(s) };
  };
  const find = (name: string) => [...tenantCommands, ...instanceCommands, deployCommand].find((c) => c.name === name)!;

  test("usage errors are exit 2 before any request; --help is exit 0 on stdout", async () => {
    const io = capture();
    assert.equal(await execute(find("instances describe"), ["w"], io, {}), 2);
    assert.match(io.errs.join("\n"), /missing ID \(usage: weft instances describe WORKFLOW ID --tenant TENANT \[options\]\)\nTry weft instances describe --help\./);
    const h = capture();
    assert.equal(await execute(find("instances restart"), ["--help"], h, {}), 0);
    assert.match(h.lines[0]!, /--from-step-count N +its Nth occurrence/);
    assert.match(h.lines[0]!, /--url URL +the weft server \(env WEFT_URL, default http:\/\/127\.0\.0\.1:8787\)/);
    const extra = capture();
    assert.equal(await execute(find("tenants list"), ["x"], extra, {}), 2);
    assert.match(extra.errs[0]!, /unexpected argument "x"/);
    const tenantEnv = capture();
    // WEFT_TENANT stands in for --tenant; the request then fails to connect (exit 1), not usage
    assert.equal(await execute(find("instances list"), ["w"], tenantEnv, { WEFT_TENANT: "t", WEFT_URL: "http://127.0.0.1:9" }), 1);
    assert.match(tenantEnv.errs[0]!, /cannot reach weft at http:\/\/127\.0\.0\.1:9/);
  });

  test("Server-Sent Events blocks", () => {
    assert.deepEqual(parseSseBlock('id: 7\nevent: step_completed\ndata: {"a":1}'), { id: "7", event: "step_completed", data: '{"a":1}' });
    assert.deepEqual(parseSseBlock("data: a\ndata: b"), { id: undefined, event: "message", data: "a\nb" });
    assert.equal(parseSseBlock(": keep-alive"), undefined);
  });
});
