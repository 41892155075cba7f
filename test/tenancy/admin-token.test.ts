// The admin token's order of writes: announced before its hash is committed, and with --revoke-others
// committed before the others are revoked — whatever step fails (a kill, a closed stdout), the data
// directory keeps a live admin token somebody saw, or none (and the next start makes one).
import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { SqliteStore } from "../../src/store/sqlite/store.ts";
import { Tenancy } from "../../src/tenancy/tenancy.ts";
import { SystemClock } from "../../src/core/clock.ts";
import type { Store } from "../../src/store/ports.ts";

function open(t: { after(fn: () => unknown): void }) {
  const dataDir = mkdtempSync(join(tmpdir(), "weft-tenancy-"));
  const store = new SqliteStore({ dataDir });
  t.after(async () => {
    await store.close();
    rmSync(dataDir, { recursive: true, force: true });
  });
  return store;
}
const tenancy = (store: Store) => new Tenancy(store, new SystemClock(), () => undefined);
const live = async (store: Store) => (await store.listTokens(null)).filter((x) => x.revokedAt === null).length;

test("an announcement that fails (stdout closed) commits nothing: the next open makes a token", async (t) => {
  const store = open(t);
  await assert.rejects(tenancy(store).open(() => { throw new Error("EPIPE"); }), /EPIPE/);
  assert.equal(await live(store), 0);
  let seen: string | undefined;
  const { adminToken } = await tenancy(store).open((tok) => (seen = tok));
  assert.equal(adminToken, seen);
  assert.equal((await tenancy(store).authenticate(seen!))?.kind, "admin");
});

test("--revoke-others killed between the commit and the revocations: the new token and the old ones are live", async (t) => {
  const store = open(t);
  const { adminToken: old } = await tenancy(store).open();
  const dying = new Proxy(store, {
    get: (s, k) => {
      if (k === "revokeToken") return () => Promise.reject(new Error("killed"));
      const v = s[k as keyof Store];
      return typeof v === "function" ? (v as Function).bind(s) : v;
    },
  });
  let fresh: string | undefined;
  await assert.rejects(tenancy(dying).issueAdminToken((tok) => (fresh = tok), true), /killed/);
  assert.equal((await tenancy(store).authenticate(fresh!))?.kind, "admin");
  assert.equal((await tenancy(store).authenticate(old!))?.kind, "admin");
  // run again to the end: only the newest is live
  const last = await tenancy(store).issueAdminToken(undefined, true);
  assert.equal(await live(store), 1);
  assert.equal((await tenancy(store).authenticate(last))?.kind, "admin");
  assert.equal(await tenancy(store).authenticate(fresh!), null);
});
