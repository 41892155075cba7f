// Secrets with a shared store: no node-local key file (another node could not open them); the
// explicit key is required and then works.
import { test } from "node:test";
import assert from "node:assert/strict";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { randomBytes } from "node:crypto";
import { Engine, secret } from "../../src/index.ts";
import { SqliteStore } from "../../src/store/sqlite/store.ts";
import type { Store } from "../../src/store/ports.ts";
import { wf } from "./helpers.ts";

function shared(dataDir: string): Store {
  // a store that says it is shared (as the PostgreSQL adapter does); SQLite does the persisting
  const s = new SqliteStore({ dataDir });
  return new Proxy(s, { get: (t, p, r) => (p === "kind" ? "postgres" : typeof Reflect.get(t, p, r) === "function" ? (Reflect.get(t, p, r) as (...a: unknown[]) => unknown).bind(t) : Reflect.get(t, p, r)) }) as Store;
}

const code = { mainModule: "index.ts", modules: { "index.ts": wf(`return await step.do("k", async () => this.env.KEY.length);`) } };

test("a shared store without WEFT_SECRET_KEY refuses to seal a secret, and makes no key file", async (t) => {
  const dataDir = mkdtempSync(join(tmpdir(), "weft-key-"));
  t.after(() => rmSync(dataDir, { recursive: true, force: true }));
  const saved = process.env.WEFT_SECRET_KEY;
  delete process.env.WEFT_SECRET_KEY;
  t.after(() => void (saved !== undefined && (process.env.WEFT_SECRET_KEY = saved)));
  const engine = await Engine.open({ dataDir, store: shared(dataDir) });
  t.after(() => engine.close());
  await assert.rejects(engine.deploy({ tenant: "t", workflow: "w", code, env: { KEY: secret("s3cret") } }), (e: { code?: string; message?: string }) => {
    assert.equal(e.code, "invalid_state");
    assert.match(String(e.message), /WEFT_SECRET_KEY/);
    return true;
  });
  assert.equal(existsSync(join(dataDir, "secret.key")), false);
});

test("a shared store with an explicit key seals and opens secrets", async (t) => {
  const dataDir = mkdtempSync(join(tmpdir(), "weft-key-"));
  t.after(() => rmSync(dataDir, { recursive: true, force: true }));
  const engine = await Engine.open({ dataDir, store: shared(dataDir), secretKey: randomBytes(32).toString("base64") });
  t.after(() => engine.close());
  await engine.deploy({ tenant: "t", workflow: "w", code, env: { KEY: secret("s3cret") } });
  const s = await (await engine.workflow("t", "w").create()).waitFor();
  assert.equal(s.output, 6);
  assert.equal(existsSync(join(dataDir, "secret.key")), false);
});
