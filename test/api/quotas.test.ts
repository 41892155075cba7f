// Per-tenant quotas over HTTP: creations above the tenant's rate get 429 with Retry-After (and take
// nothing); above its running-instances quota, instances queue and then run, never more at once.
import { test } from "node:test";
import assert from "node:assert/strict";
import { FakeClock } from "../../src/index.ts";
import { expectError, module, serverFor, until } from "./helpers.ts";

const W = "/v1/tenants/acme/workflows";

test("creation rate: over the bucket → 429 with Retry-After, nothing created; the bucket refills with time", { timeout: 20_000 }, async (t) => {
  const clock = new FakeClock(Date.UTC(2026, 0, 1));
  const s = await serverFor(t, { engineOptions: { clock } });
  await s.call("POST", "/v1/tenants", { name: "acme", quotas: { createsPerSecond: 2, createBurst: 3 } });
  await s.call("PUT", `${W}/wf`, module(`await step.sleep("nap", "1 day");`));
  const I = `${W}/wf/instances`;
  for (const id of ["a", "b", "c"]) assert.equal((await s.call("POST", I, { id })).status, 201);
  const over = await s.call("POST", I, { id: "d" });
  expectError(over, 429, "quota_exceeded");
  assert.equal(over.headers.get("retry-after"), "1");
  assert.match(over.body.error.message, /2\/s/);
  expectError(await s.call("GET", `${I}/d`), 404, "not_found");
  const batch = await s.call("POST", `${I}/batch`, { instances: [{ id: "e" }, { id: "f" }, { id: "g" }, { id: "h" }] });
  expectError(batch, 429, "quota_exceeded");
  assert.match(batch.body.error.message, /burst of 3/);
  clock.advance(1000); // +2 tokens
  assert.equal((await s.call("POST", `${I}/batch`, { instances: [{ id: "e" }, { id: "f" }] })).status, 201);
  expectError(await s.call("POST", I, { id: "g" }), 429, "quota_exceeded");
  assert.deepEqual((await s.call("GET", `${I}?direction=asc`)).body.instances.map((x: { id: string }) => x.id), ["a", "b", "c", "e", "f"]);
  // another tenant has its own bucket
  await s.call("POST", "/v1/tenants", { name: "other" });
  await s.call("PUT", "/v1/tenants/other/workflows/wf", module(`return 1;`));
  assert.equal((await s.call("POST", "/v1/tenants/other/workflows/wf/instances", {})).status, 201);
});

test("running-instances quota: the excess queues and runs as others finish, never more at once than the quota", { timeout: 20_000 }, async (t) => {
  let inflight = 0;
  let peak = 0;
  const gates: (() => void)[] = [];
  const work = async () => {
    inflight++;
    peak = Math.max(peak, inflight);
    await new Promise<void>((r) => gates.push(r));
    inflight--;
  };
  const s = await serverFor(t, { engineOptions: { hostFunctions: { work } } });
  await s.call("POST", "/v1/tenants", { name: "acme", quotas: { maxRunningInstances: 2 } });
  await s.call("PUT", `${W}/wf`, { ...module(`await step.do("work", async () => this.env.work()); return "done";`), env: { work: { hostFunction: "work" } } });
  const I = `${W}/wf/instances`;
  await s.call("POST", `${I}/batch`, { instances: Array.from({ length: 5 }, (_, i) => ({ id: `q${i}` })) });
  await until(async () => gates.length === 2, "two instances running");
  const statuses = async () => (await s.call("GET", `${I}?direction=asc`)).body.instances.map((x: { status: string }) => x.status).sort();
  assert.deepEqual(await statuses(), ["queued", "queued", "queued", "running", "running"]);
  while (true) {
    const g = gates.shift();
    if (g) g();
    const st = await statuses();
    if (st.every((x: string) => x === "complete")) break;
    await until(async () => gates.length > 0 || (await statuses()).every((x: string) => x === "complete"), "the next instance to start");
  }
  assert.equal(peak, 2, "never more than the quota at once");
  // raising the quota starts queued instances at once
  await s.call("PATCH", "/v1/tenants/acme", { quotas: { maxRunningInstances: 4 } });
  await s.call("POST", `${I}/batch`, { instances: Array.from({ length: 4 }, (_, i) => ({ id: `r${i}` })) });
  await until(async () => gates.length === 4, "four running");
  for (const g of gates.splice(0)) g();
  await until(async () => (await statuses()).every((x: string) => x === "complete"), "all complete");
  assert.equal(peak, 4);
});
