// Quotas hold for the cluster, not per node: two engine nodes on one PostgreSQL schema never run
// more of a tenant's instances at once than its running-instance quota, nor more of a workflow's
// than its concurrency limit (each node alone would allow the whole quota: together, twice it), and
// share one creation bucket (two nodes do not allow twice the rate). The excess waits and runs when
// room is made, on whichever node.
import { test } from "node:test";
import assert from "node:assert/strict";
import { hostFunction, type EngineOptions } from "../../src/index.ts";
import { startServer } from "../../src/api/server.ts";
import { VirtualClock } from "../../src/core/virtual-clock.ts";
import { enginePair } from "./harness.ts";

const SOURCE = `
import { WorkflowEntrypoint } from "cloudflare:workers";
export class W extends WorkflowEntrypoint {
  async run(event, step) {
    const n = await step.do("hold", async () => this.env.gate(event.instanceId));
    return n;
  }
}`;

/** the step body's host function: counts bodies running at once across both nodes until opened */
function gate() {
  let running = 0;
  let max = 0;
  let open!: () => void;
  const opened = new Promise<void>((r) => (open = r));
  const changes: (() => void)[] = [];
  return {
    get running() {
      return running;
    },
    get max() {
      return max;
    },
    open,
    fn: async (_id: unknown) => {
      running++;
      max = Math.max(max, running);
      for (const c of changes.splice(0)) c();
      await opened;
      running--;
      return max;
    },
    /** until `cond` holds (checked whenever a body starts, and every 20 ms for the nodes' side) */
    async until(cond: () => boolean, what: string, ms = 20_000): Promise<void> {
      const end = Date.now() + ms;
      while (!cond()) {
        if (Date.now() > end) assert.fail(`timed out: ${what} (running ${running}, max ${max})`);
        await new Promise<void>((r) => {
          changes.push(r);
          setTimeout(r, 20);
        });
      }
    },
  };
}

const pair = (t: import("node:test").TestContext, hostFunctions: Record<string, (...a: unknown[]) => unknown>, more: Partial<EngineOptions> = {}) =>
  enginePair(t, { hostFunctions, ...more }, "weft_q");

async function runCapped(t: import("node:test").TestContext, cap: { tenant?: number; workflow?: number }): Promise<void> {
  const g = gate();
  const { a, b } = await pair(t, { gate: g.fn });
  const limit = (cap.tenant ?? cap.workflow)!;
  if (cap.tenant) for (const e of [a, b]) e.setTenantConcurrency("acme", cap.tenant);
  await a.deploy({
    tenant: "acme", workflow: "w", code: { mainModule: "w.ts", modules: { "w.ts": SOURCE } },
    env: { gate: hostFunction("gate") }, limits: { concurrency: cap.workflow ?? 1000 },
  });
  const N = 12;
  const handles = await a.workflow("acme", "w").createBatch(Array.from({ length: N }, (_, i) => ({ id: `i${i}` })));
  // both nodes see the instances due (the change feed); the cap is reached, and a node was refused
  // a claim because of the other node's runs (it holds instances back for the cluster's limit)
  await g.until(() => g.running === limit && a.stats().held + b.stats().held > 0, `${limit} bodies running and a claim refused for the cluster's limit`).catch(async (e) => {
    const st = await Promise.all(handles.map((h) => h.status()));
    throw new Error(`${(e as Error).message}; instances: ${JSON.stringify(st.map((x) => [x.status, x.error?.message]))}; stats a ${JSON.stringify(a.stats())} b ${JSON.stringify(b.stats())}`);
  });
  const runningOn = { a: a.stats().activeRuns, b: b.stats().activeRuns };
  assert.equal(g.max, limit, `never more than ${limit} at once (running on a: ${runningOn.a}, on b: ${runningOn.b})`);
  g.open();
  const outs = await Promise.all(handles.map((h) => h.waitFor()));
  assert.deepEqual(outs.map((s) => s.status), Array(N).fill("complete"));
  assert.equal(g.max, limit, `at most ${limit} bodies ran at once across both nodes, from start to end`);
}

test("a tenant's running-instance quota holds across nodes: two nodes never run more than the quota together; the rest runs once room is made", { timeout: 90_000 }, async (t) => {
  await runCapped(t, { tenant: 3 });
});

test("a workflow's concurrency limit holds across nodes", { timeout: 90_000 }, async (t) => {
  await runCapped(t, { workflow: 2 });
});

test("one creation bucket for the cluster: a tenant's burst spent through two nodes is spent on both (429 on either)", { timeout: 60_000 }, async (t) => {
  const clock = new VirtualClock(); // the bucket refills on engine time: nothing refills while the test runs
  const { a, b } = await pair(t, {}, { clock });
  let admin = "";
  const sa = await startServer({ engine: a, port: 0, quiet: true, announceAdminToken: (tok) => (admin = tok) });
  const sb = await startServer({ engine: b, port: 0, quiet: true });
  t.after(async () => {
    await sa.close();
    await sb.close();
  });
  assert.ok(admin, "the first node made the admin token");
  const call = async (base: string, method: string, path: string, body?: unknown) => {
    const r = await fetch(base + path, { method, headers: { authorization: `Bearer ${admin}`, "content-type": "application/json" }, body: body === undefined ? undefined : JSON.stringify(body) });
    return { status: r.status, body: (await r.json()) as Record<string, any> };
  };
  assert.equal((await call(sa.url, "POST", "/v1/tenants", { name: "acme", quotas: { createsPerSecond: 1, createBurst: 4 } })).status, 201);
  const d = await call(sb.url, "PUT", "/v1/tenants/acme/workflows/w", { mainModule: "w.ts", modules: { "w.ts": `import { WorkflowEntrypoint } from "cloudflare:workers"; export class W extends WorkflowEntrypoint { async run() { return 1; } }` } });
  assert.equal(d.status, 200, JSON.stringify(d.body));
  const make = (base: string, id: string) => call(base, "POST", "/v1/tenants/acme/workflows/w/instances", { id });
  const made = [await make(sa.url, "1"), await make(sb.url, "2"), await make(sa.url, "3"), await make(sb.url, "4")];
  assert.deepEqual(made.map((r) => r.status), [201, 201, 201, 201]);
  for (const base of [sa.url, sb.url]) {
    const r = await make(base, `over-${base === sa.url ? "a" : "b"}`);
    assert.equal(r.status, 429, `the 5th creation (through ${base === sa.url ? "a" : "b"}) is over the burst of 4 the two nodes share: ${JSON.stringify(r.body)}`);
    assert.equal(r.body.error.code, "quota_exceeded");
    assert.equal(r.body.error.details.quota, "createsPerSecond");
  }
  clock.advance(1000); // one more token, for the cluster
  assert.equal((await make(sb.url, "5")).status, 201);
  assert.equal((await make(sa.url, "6")).status, 429);
});
