// The embedded store checkpoints its WAL on a thread of its own (store/sqlite/checkpointer.ts), never
// inside a COMMIT on the engine's thread: past CHECKPOINT_BYTES of WAL the checkpoint thread starts
// and copies the WAL into the database file; the store stays whole across it and after a reopen.
import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { DatabaseSync } from "node:sqlite";
import { SqliteStore } from "../../src/store/sqlite/store.ts";
import { CHECKPOINT_BYTES } from "../../src/store/sqlite/checkpointer.ts";

const version = (i: number, bundle: string) => ({
  tenant: "t", workflow: "w", version: `v${i}`, className: "W", bundle,
  code: { mainModule: "m.js", modules: { "m.js": "export class W {}" } },
  config: { limits: { memoryMb: 64, cpuMsPerStep: 1000, steps: 1000, stepResultBytes: 1 << 20, concurrency: 10, sqlBytes: 1 << 20, fileBytes: 1 << 20, files: 100 }, egress: { allow: [], handler: false }, env: {} },
  createdAt: i,
});

test("the WAL is checkpointed by the checkpoint thread, not by a COMMIT: small writes start no thread; past 16 MiB of WAL one runs, the data file takes the pages, and everything reads back", async (t) => {
  const dir = mkdtempSync(join(tmpdir(), "weft-ckpt-"));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const store = new SqliteStore({ dataDir: dir });
  t.after(() => store.close());
  await store.putVersion(version(0, "small"));
  const checkpoints = () => (store as { checkpointer?: { done: number } }).checkpointer?.done;
  assert.equal(checkpoints(), undefined, "a small WAL starts no checkpoint thread");
  const dbBytes0 = statSync(join(dir, "weft.db")).size;
  const big = "x".repeat(1024 * 1024);
  // 24 MiB in 24 commits, spread over > 100 ms so the store looks at its WAL more than once
  for (let i = 1; i <= 24; i++) {
    await store.putVersion(version(i, big + i));
    await new Promise((r) => setTimeout(r, 10));
  }
  assert.ok(statSync(join(dir, "weft.db-wal")).size > CHECKPOINT_BYTES || checkpoints() !== undefined);
  const deadline = Date.now() + 20_000;
  while ((checkpoints() ?? 0) < 1 && Date.now() < deadline) {
    await store.putVersion(version(100, "tick")); // a commit: the store looks at its WAL again
    await new Promise((r) => setTimeout(r, 50));
  }
  assert.ok((checkpoints() ?? 0) >= 1, "the checkpoint thread ran");
  assert.ok(statSync(join(dir, "weft.db")).size > dbBytes0 + 20 * 1024 * 1024, "the data file took the WAL's pages");
  // the main connection never checkpoints by itself
  for (let i = 1; i <= 24; i++) assert.equal((await store.getVersion("t", "w", `v${i}`))?.bundle, big + i);
  await store.close();
  // reopened (the close checkpointed what was left and removed the WAL): all there
  const db = new DatabaseSync(join(dir, "weft.db"));
  t.after(() => db.close());
  assert.equal((db.prepare("SELECT COUNT(*) AS n FROM versions").get() as { n: number }).n, 26);
});
