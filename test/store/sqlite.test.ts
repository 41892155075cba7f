// The storage conformance suite (src/testing/store-suite.ts) against the embedded SQLite store: a
// fresh data directory per test, removed afterwards; reopen() is a new SqliteStore on the same
// directory (what a process that crashed and started again sees).
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { SqliteStore } from "../../src/store/sqlite/store.ts";
import type { Store } from "../../src/store/ports.ts";
import { runStoreSuite } from "../../src/testing/store-suite.ts";

const dirs = new WeakMap<Store, string>();
const openOn = (dir: string): Store => {
  const s = new SqliteStore({ dataDir: dir });
  dirs.set(s, dir);
  return s;
};

runStoreSuite({
  name: "sqlite",
  async open() {
    return openOn(mkdtempSync(join(tmpdir(), "weft-store-")));
  },
  async reopen(prev) {
    const dir = dirs.get(prev)!;
    await prev.close();
    return openOn(dir);
  },
  async close(store) {
    const dir = dirs.get(store);
    await store.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
  },
});
