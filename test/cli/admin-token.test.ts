// A kill during the very first start never locks the admin out: the admin token is printed before
// its hash is committed, and `weft admin-token --data DIR` issues a new one from the data directory.
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

const BIN = fileURLToPath(new URL("../../bin/weft.js", import.meta.url));
const TOKEN = /Admin token[^\n]*\n\n\s+(weft_\S+)/;

function weft(args: string[], env: Record<string, string> = {}) {
  const child = spawn(process.execPath, [BIN, ...args], { stdio: ["ignore", "pipe", "pipe"], env: { ...process.env, ...env } });
  let out = "";
  child.stdout.on("data", (d: Buffer) => (out += d.toString()));
  child.stderr.on("data", (d: Buffer) => (out += d.toString()));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((r) => child.on("exit", (code, signal) => r({ code, signal })));
  return { child, exited, output: () => out };
}

async function serving(dataDir: string, t: { after(fn: () => unknown): void }) {
  const s = weft(["serve", "--port", "0", "--data", dataDir]);
  t.after(() => s.child.kill("SIGKILL"));
  const deadline = Date.now() + 15_000;
  for (;;) {
    const url = /serving (http:\/\/\S+)/.exec(s.output())?.[1];
    if (url) return { ...s, url };
    if (s.child.exitCode !== null || Date.now() > deadline) throw new Error(`the server did not start:\n${s.output()}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

async function adminOk(url: string, token: string): Promise<number> {
  return (await fetch(`${url}/v1/tenants`, { headers: { authorization: `Bearer ${token}` } })).status;
}

for (const point of ["before-admin-token-commit", "after-admin-token-commit"]) {
  test(`first start killed ${point.replace(/-/g, " ")}: the operator still gets in`, { timeout: 60_000 }, async (t) => {
    const dataDir = mkdtempSync(join(tmpdir(), "weft-admin-"));
    t.after(() => rmSync(dataDir, { recursive: true, force: true }));
    const first = weft(["serve", "--port", "0", "--data", dataDir], { WEFT_CRASH_AT: point });
    const { signal } = await first.exited;
    assert.equal(signal, "SIGKILL", first.output());
    const printed = TOKEN.exec(first.output())?.[1];
    assert.ok(printed, `the token was printed before the kill:\n${first.output()}`);
    const second = await serving(dataDir, t);
    const again = TOKEN.exec(second.output())?.[1];
    if (point === "before-admin-token-commit") {
      // its hash never made it: the next start makes (and prints) a new one, and only that one works
      assert.ok(again, second.output());
      assert.equal(await adminOk(second.url, again), 200);
      assert.equal(await adminOk(second.url, printed), 401);
    } else {
      assert.equal(again, undefined, "a committed token is not replaced");
      assert.equal(await adminOk(second.url, printed), 200);
    }
  });
}

test("weft admin-token --data DIR: a new admin token from the data directory; --revoke-others revokes the rest", { timeout: 60_000 }, async (t) => {
  const dataDir = mkdtempSync(join(tmpdir(), "weft-admin-"));
  t.after(() => rmSync(dataDir, { recursive: true, force: true }));
  const s = await serving(dataDir, t);
  const original = TOKEN.exec(s.output())![1]!;
  const issue = async (...more: string[]) => {
    const a = weft(["admin-token", "--data", dataDir, ...more]);
    const { code } = await a.exited;
    assert.equal(code, 0, a.output());
    return a.output().trim();
  };
  const fresh = await issue();
  assert.match(fresh, /^weft_\S+$/);
  assert.equal(await adminOk(s.url, fresh), 200);
  assert.equal(await adminOk(s.url, original), 200);
  const only = await issue("--revoke-others");
  assert.equal(await adminOk(s.url, only), 200);
  // revoked by another process: the server stops trusting each token's cached check within a
  // second of that check (each token's own second: both are polled)
  const revokedAt = Date.now();
  const refusedBy = revokedAt + 3000;
  const statuses = async () => [await adminOk(s.url, fresh), await adminOk(s.url, original)];
  let status = await statuses();
  while (status.some((x) => x !== 401) && Date.now() < refusedBy) {
    await new Promise((r) => setTimeout(r, 100));
    status = await statuses();
  }
  assert.deepEqual(status, [401, 401], "both revoked tokens refused");
  assert.ok(Date.now() - revokedAt < 2500, `refused within the recheck second (took ${Date.now() - revokedAt} ms)`);
  const bad = weft(["admin-token", "--data", join(dataDir, "nope")]);
  assert.equal((await bad.exited).code, 2);
  assert.match(bad.output(), /not a weft data directory/);
});

test("first start killed after the commit and its output lost: weft admin-token --data DIR with no server running gets the operator in", { timeout: 60_000 }, async (t) => {
  const dataDir = mkdtempSync(join(tmpdir(), "weft-admin-"));
  t.after(() => rmSync(dataDir, { recursive: true, force: true }));
  const first = weft(["serve", "--port", "0", "--data", dataDir], { WEFT_CRASH_AT: "after-admin-token-commit" });
  assert.equal((await first.exited).signal, "SIGKILL", first.output());
  const unseen = TOKEN.exec(first.output())?.[1]; // committed, but say nobody read it
  assert.ok(unseen, first.output());
  // the recovery works from the data directory alone: nothing is listening
  const a = weft(["admin-token", "--data", dataDir, "--revoke-others"]);
  assert.equal((await a.exited).code, 0, a.output());
  const fresh = a.output().trim();
  assert.match(fresh, /^weft_\S+$/);
  const s = await serving(dataDir, t);
  assert.equal(TOKEN.exec(s.output()), null, "the data directory has an admin token: no new one is made");
  assert.equal(await adminOk(s.url, fresh), 200);
  assert.equal(await adminOk(s.url, unseen), 401, "--revoke-others revoked the unseen one");
});
