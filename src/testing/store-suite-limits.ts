// Conformance cases for what makes quotas hold across nodes: claims that carry limits (a tenant's
// running-instance quota, a workflow's concurrency) counted against every node's live claims, and
// the tenant's creation bucket drawn from in one transaction. Part of runStoreSuite.
import { describe } from "node:test";
import assert from "node:assert/strict";
import type { Claim, Store } from "../store/ports.ts";
import { A, B, C, L0, LEASE, T0, claimAt, complete, mustClaim, row } from "./store-fixtures.ts";

type It = (name: string, fn: (h: { s: Store }) => Promise<void>) => void;

const limited = (c: Claim, tenant: number, workflow = 1_000): Claim => ({ ...c, limits: { tenant, workflow } });

export function limitCases(it: It): void {
  describe("limits across nodes: running-instance quotas, workflow concurrency, creation buckets", () => {
    it("a claim with limits is 'full' once the tenant holds that many live claims (any node's); other tenants, expired and released claims, and the instance's own claim do not count", async ({ s }) => {
      const [a, b, c, d] = await s.createInstances([row("a"), row("b"), row("c"), row("d")]);
      const [g] = await s.createInstances([row("g", T0, { tenant: "globex" })]);
      const ca = await mustClaim(s, a!.pk, limited(claimAt(A, T0), 2));
      await mustClaim(s, b!.pk, limited(claimAt(B, T0), 2));
      assert.equal(await s.claim(c!.pk, limited(claimAt(C, T0), 2)), "full", "two live claims of acme: the third is refused");
      const still = (await s.getInstanceByPk(c!.pk))!;
      assert.equal(still.status, "queued", "a refused claim changes nothing");
      assert.equal(still.epoch, 0);
      await mustClaim(s, g!.pk, limited(claimAt(C, T0), 2)); // globex has none
      // A takes over its own claim on a: a is not counted against itself
      await mustClaim(s, a!.pk, limited(claimAt(A, T0), 2));
      // a's run ends: its claim no longer counts
      await complete(s, a!.pk, { ...ca, epoch: ca.epoch + 1 }, T0 + 1);
      await mustClaim(s, c!.pk, limited(claimAt(C, T0 + 1), 2));
      assert.equal(await s.claim(d!.pk, limited(claimAt(A, T0 + 1), 2)), "full");
      // b's and c's leases expire on the lease clock (no node heartbeats them): they no longer count
      assert.equal(await s.claim(d!.pk, limited(claimAt(A, T0 + 2, L0 + LEASE - 1), 2)), "full");
      await mustClaim(s, d!.pk, limited(claimAt(A, T0 + 2, L0 + LEASE), 2));
    });

    it("a workflow's limit counts the live claims of that workflow only; a claim without limits is never refused", async ({ s }) => {
      const [o1, o2, o3] = await s.createInstances([row("o1"), row("o2"), row("o3")]);
      const [b1] = await s.createInstances([row("b1", T0, { workflow: "billing" })]);
      await mustClaim(s, o1!.pk, limited(claimAt(A, T0), 10, 1));
      assert.equal(await s.claim(o2!.pk, limited(claimAt(B, T0), 10, 1)), "full");
      await mustClaim(s, b1!.pk, limited(claimAt(B, T0), 10, 1));
      await mustClaim(s, o2!.pk, limited(claimAt(B, T0), 10, 2)); // orders holds 1 of 2
      assert.equal(await s.claim(o3!.pk, limited(claimAt(C, T0), 3, 10)), "full", "o1, b1, o2: the tenant holds 3 of 3");
      await mustClaim(s, o3!.pk, claimAt(C, T0));
    });

    it("claims of one tenant made at once from several nodes never exceed its limit together", async ({ s }) => {
      const rows = await s.createInstances(Array.from({ length: 12 }, (_, i) => row(`r${i}`)));
      const nodes = [A, B, C];
      const got = await Promise.all(rows.map((r, i) => s.claim(r.pk, limited(claimAt(nodes[i % 3]!, T0), 5))));
      assert.equal(got.filter((x) => x !== undefined && x !== "full").length, 5, `claims taken: ${got.map((x) => (x === "full" ? "full" : x ? "ok" : "-")).join(" ")}`);
      assert.equal(got.filter((x) => x === "full").length, 7);
    });

    it("drawCreations: one bucket per tenant — the burst, then refused until the rate refills it; all or nothing; a changed quota starts it afresh", async ({ s }) => {
      await s.createTenant({ name: "t1", quotas: { createsPerSecond: 10, createBurst: 20 }, createdAt: T0 });
      await s.createTenant({ name: "t2", quotas: {}, createdAt: T0 });
      let d = await s.drawCreations("t1", 15, T0, 10, 20);
      assert.ok(d.ok);
      assert.equal(d.bucket.tokens, 5);
      d = await s.drawCreations("t1", 6, T0, 10, 20);
      assert.ok(!d.ok, "6 of the 5 left: refused whole");
      assert.equal(d.bucket.tokens, 5, "a refused draw takes nothing");
      assert.ok((await s.drawCreations("t2", 20, T0, 10, 20)).ok, "another tenant's bucket is its own");
      d = await s.drawCreations("t1", 6, T0 + 100, 10, 20); // +1 token in 100 ms
      assert.ok(d.ok);
      assert.equal(Math.round(d.bucket.tokens * 1000) / 1000, 0);
      d = await s.drawCreations("t1", 1, T0 + 50, 10, 20); // another node's clock, a little behind
      assert.ok(!d.ok, "a clock that went back refills nothing");
      d = await s.drawCreations("t1", 20, T0 + 10_000, 10, 20);
      assert.ok(d.ok, "refilled up to the burst, never above it");
      assert.equal(d.bucket.tokens, 0);
      await s.setTenantQuotas("t1", { createsPerSecond: 10, createBurst: 30 });
      assert.ok((await s.drawCreations("t1", 30, T0 + 10_000, 10, 30)).ok, "a new quota: a fresh, full bucket");
    });

    it("draws made at once (from several nodes) take each token once", async ({ s }) => {
      await s.createTenant({ name: "t1", quotas: {}, createdAt: T0 });
      const all = await Promise.all(Array.from({ length: 40 }, () => s.drawCreations("t1", 1, T0, 1, 25)));
      assert.equal(all.filter((d) => d.ok).length, 25);
    });
  });
}
