// As a newcomer would: a fresh clone of this repository, `npm install && npm start` (in the
// background), then the CLI deploys examples/onboarding.ts, creates an instance, sends its event and
// sees it complete. Everything comes from the npm registry (or its cache); nothing else is fetched.
import { test } from "node:test";
import assert from "node:assert/strict";
import { execFile, spawn } from "node:child_process";
import { promisify } from "node:util";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

const run = promisify(execFile);
const ROOT = fileURLToPath(new URL("../..", import.meta.url));

async function until<T>(f: () => Promise<T | undefined>, what: string, ms: number): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = await f().catch(() => undefined);
    if (v) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

test("a fresh clone: npm install && npm start, then the CLI deploys onboarding, creates, signals and sees it complete", { timeout: 300_000 }, async (t) => {
  const dir = mkdtempSync(join(tmpdir(), "weft-newcomer-"));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  await run("git", ["clone", "-q", ROOT, dir]);
  const npmEnv = { ...process.env, npm_config_audit: "false", npm_config_fund: "false", npm_config_prefer_offline: "true" };
  await run("npm", ["install"], { cwd: dir, env: npmEnv, maxBuffer: 64 * 1024 * 1024 });

  const server = spawn("npm", ["start"], { cwd: dir, env: { ...npmEnv, WEFT_PORT: "0" }, stdio: ["ignore", "pipe", "pipe"], detached: true });
  let out = "";
  server.stdout.on("data", (d: Buffer) => (out += d.toString()));
  server.stderr.on("data", (d: Buffer) => (out += d.toString()));
  const exited = new Promise<number | null>((r) => server.on("exit", (code) => r(code)));
  t.after(() => {
    try {
      process.kill(-server.pid!, "SIGKILL");
    } catch {
      /* gone */
    }
  });
  const url = await until(async () => /serving (http:\/\/\S+)/.exec(out)?.[1], `npm start to serve:\n${out}`, 60_000);
  const admin = /Admin token[^\n]*\n\n\s+(weft_\S+)/.exec(out)?.[1];
  assert.ok(admin, out);
  // npm install built the dashboard (the prepare script): `/` serves it from dashboard/dist
  assert.ok(existsSync(join(dir, "dashboard/dist/index.html")), "npm install built dashboard/dist");
  const page = await (await fetch(url + "/")).text();
  const script = /src="(\/assets\/app\.[A-Z0-9]+\.js)"/.exec(page)?.[1];
  assert.ok(script, `the dashboard page at /: ${page.slice(0, 300)}`);
  assert.equal((await fetch(url + script)).status, 200);

  const weft = async (args: string[], token = admin) => {
    const r = await run(process.execPath, ["bin/weft.js", ...args], { cwd: dir, env: { ...process.env, WEFT_URL: url, WEFT_TOKEN: token } });
    return r.stdout;
  };
  await weft(["tenants", "create", "acme"]);
  const tenantToken = (await weft(["tenants", "token", "acme"])).trim();
  assert.match(tenantToken, /^weft_/);
  const deployed = await weft(["deploy", "examples/onboarding.ts", "--tenant", "acme", "--workflow", "onboarding"], tenantToken);
  assert.match(deployed, /[0-9a-f]{32}/);
  const created = await weft(["instances", "create", "onboarding", "--tenant", "acme", "--id", "user-42", "--params", '{"id":42,"grace":"1 second"}'], tenantToken);
  assert.match(created, /user-42/);
  // the flaky lookup retries (2 s, then 4 s), the grace period passes: then it waits for approval
  await until(async () => {
    const d = JSON.parse(await weft(["instances", "describe", "onboarding", "user-42", "--tenant", "acme", "--json"], tenantToken));
    return d.status === "waiting" && d.steps.some((s: { type: string }) => s.type === "waitForEvent") ? d : undefined;
  }, "the instance to wait for its approval", 60_000);
  await weft(["instances", "send-event", "onboarding", "user-42", "--tenant", "acme", "--type", "approved", "--payload", '{"approved":true}'], tenantToken);
  const shown = await until(async () => {
    const s = await weft(["instances", "describe", "onboarding", "user-42", "--tenant", "acme"], tenantToken);
    return /Completed/.test(s) ? s : undefined;
  }, "completion", 30_000);
  assert.match(shown, /✅ Completed/);
  const d = JSON.parse(await weft(["instances", "describe", "onboarding", "user-42", "--tenant", "acme", "--json"], tenantToken));
  assert.equal(d.output.message, "Welcome aboard, user-42!");
  assert.deepEqual(d.output.audit, ["account created", "approved"]);

  // the server itself (npm's child: its pid is in the JSON log) drains and exits 0; npm then exits 0 too
  const pid = Number(/"pid":(\d+)[^\n]*"msg":"weft serving"/.exec(out)?.[1]);
  process.kill(pid, "SIGTERM");
  assert.equal(await exited, 0, out);
  assert.match(out, /"msg":"weft stopped"/, out);
});
