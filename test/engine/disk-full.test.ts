// A full disk, for real: the data directory lives on a small tmpfs that the test fills up. Every write
// then fails with storage_full (a stable code, a message) and changes nothing; instances whose writes
// failed continue by themselves once space comes back; nothing committed is lost.
// (Mounting needs root, as on the CI machines; elsewhere the test says why it cannot run.)
import { test } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync, statfsSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Engine } from "../../src/index.ts";
import { TENANT, recorder, until, wf } from "./helpers.ts";

function mountTmpfs(mb: number): string | undefined {
  const dir = mkdtempSync(join(tmpdir(), "weft-full-"));
  try {
    execFileSync("mount", ["-t", "tmpfs", "-o", `size=${mb}m`, "tmpfs", dir], { stdio: "pipe" });
    return dir;
  } catch {
    rmSync(dir, { recursive: true, force: true });
    return undefined;
  }
}

/** fill the file system up to the last few KiB */
function fill(dir: string): string {
  const path = join(dir, "filler");
  const s = statfsSync(dir);
  writeFileSync(path, Buffer.alloc(Math.max(0, s.bavail * s.bsize - 4096)));
  try {
    writeFileSync(join(dir, "filler2"), Buffer.alloc(4096 * 2));
  } catch {
    /* full */
  }
  return path;
}

const canMount = process.getuid?.() === 0;

test("disk full: writes answer storage_full and change nothing; stuck instances continue by themselves when space comes back", { skip: canMount ? false : "needs root to mount a tmpfs", timeout: 60_000 }, async (t) => {
  const dir = mountTmpfs(24);
  assert.ok(dir, "mount -t tmpfs failed although running as root");
  t.after(() => {
    execFileSync("umount", ["-l", dir]);
    rmSync(dir, { recursive: true, force: true });
  });
  const rec = recorder();
  const engine = await Engine.open({ dataDir: join(dir, "data"), suspendAfterMs: 50 });
  t.after(() => engine.close());
  await engine.deploy({
    tenant: TENANT, workflow: "w", env: rec.env,
    code: { mainModule: "index.ts", modules: { "index.ts": wf(`
      await step.do("first", async () => { await this.env.hit("first"); return 1; });
      await step.sleep("nap", "200 ms");
      const big = await step.do("big", async () => { await this.env.hit("big"); return "x".repeat(200000); });
      return big.length;`) } },
  });
  const wfb = engine.workflow(TENANT, "w");
  const a = await wfb.create({ id: "a" });
  await until(async () => (await a.status()).status === "waiting", "a to sleep");

  const filler = fill(dir);
  // a create answers storage_full and creates nothing
  const err = await wfb.create({ id: "b", params: { pad: "y".repeat(300000) } }).then(() => undefined, (e: { code?: string; message?: string }) => e);
  assert.equal(err?.code, "storage_full", String(err?.message));
  assert.match(String(err?.message), /full/);
  // a's sleep ends while nothing can be written (not even its claim): it does not error, it waits for room
  await new Promise((r) => setTimeout(r, 800));
  assert.equal((await a.status()).status, "waiting");

  rmSync(filler);
  rmSync(join(dir, "filler2"), { force: true });
  // nothing committed was lost, and a continues without a restart (the loop keeps the test alive:
  // the engine's timers do not hold the process open)
  const s = await until(async () => {
    const st = await a.status();
    return st.status === "complete" || st.status === "errored" ? st : undefined;
  }, "a to finish after space came back", 40_000);
  assert.equal(s.status, "complete", JSON.stringify(s.error));
  assert.equal(s.output, 200000);
  assert.equal(rec.count("first"), 1);
  await assert.rejects(wfb.get("b"), { code: "not_found" });
  const b = await wfb.create({ id: "b" });
  assert.equal((await b.waitFor()).status, "complete");
});

test("disk full over HTTP: 507 storage_full with Retry-After, nothing created; 201 once there is room", { skip: canMount ? false : "needs root to mount a tmpfs", timeout: 60_000 }, async (t) => {
  const { serverFor, module } = await import("../api/helpers.ts");
  const dir = mountTmpfs(24);
  assert.ok(dir, "mount -t tmpfs failed although running as root");
  t.after(() => {
    execFileSync("umount", ["-l", dir]);
    rmSync(dir, { recursive: true, force: true });
  });
  const s = await serverFor(t, { dataDir: join(dir, "data") });
  assert.equal((await s.call("POST", "/v1/tenants", { name: "acme" })).status, 201);
  assert.equal((await s.call("PUT", "/v1/tenants/acme/workflows/w", module(`return 1;`))).status, 200);
  const filler = fill(dir);
  const r = await s.call("POST", "/v1/tenants/acme/workflows/w/instances", { id: "x", params: { pad: "z".repeat(300000) } });
  assert.equal(r.status, 507, r.text);
  assert.equal((r.body as { error: { code: string } }).error.code, "storage_full");
  assert.equal(r.headers.get("retry-after"), "5");
  rmSync(filler);
  rmSync(join(dir, "filler2"), { force: true });
  assert.equal((await s.call("GET", "/v1/tenants/acme/workflows/w/instances/x")).status, 404, "the refused create changed nothing");
  assert.equal((await s.call("POST", "/v1/tenants/acme/workflows/w/instances", { id: "x" })).status, 201);
});
