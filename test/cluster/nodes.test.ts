// Two engine nodes in one process on one PostgreSQL schema: what one node does is seen by the other
// at once — waitFor and subscribe follow an instance run elsewhere, an event sent through one node
// reaches a run that is live (not suspended) on the other without waiting for its suspend, a tenant
// and its deploy made on one are used on the other, and a node that closes lets the other continue
// its instances at once (no lease wait).
import { test } from "node:test";
import assert from "node:assert/strict";
import type { Engine } from "../../src/index.ts";
import { WAITER as SOURCE, enginePair } from "./harness.ts";



/** until the instance's wait is journaled (pending) and a node holds its run */
async function waitingLive(e: Engine, pk: number): Promise<void> {
  for (let i = 0; i < 500; i++) {
    if ((await e.store.steps(pk)).some((x) => x.kind === "wait" && x.state === "pending")) return;
    await new Promise((r) => setTimeout(r, 20));
  }
  assert.fail("the instance never reached its wait");
}

const pair = (t: import("node:test").TestContext) => enginePair(t, { suspendAfterMs: 7_200_000 });

test("an event sent through one node reaches the run live on the other at once; waitFor and subscribe on the other node follow it", { timeout: 30_000 }, async (t) => {
  const { a, b } = await pair(t);
  await a.deploy({ tenant: "acme", workflow: "w", code: { mainModule: "w.ts", modules: { "w.ts": SOURCE } } });
  const inst = await a.workflow("acme", "w").create({ id: "x" });
  // live and waiting in its run (a wait an hour long: the run keeps it)
  await waitingLive(a, inst.record.pk);
  // whichever node took it holds its run live; the other one sends the event and follows it
  const [holder, other] = a.runsHere(inst.record.pk) ? [a, b] : [b, a];
  assert.ok(holder.runsHere(inst.record.pk), "a node holds the run live");
  const onB = await other.workflow("acme", "w").get("x");
  const seen: string[] = [];
  const followed = (async () => {
    for await (const ev of onB.subscribe()) seen.push(ev.type);
  })();
  const done = onB.waitFor();
  const t0 = Date.now();
  await onB.sendEvent({ type: "go", payload: { k: 41 } });
  const s = await done;
  const took = Date.now() - t0;
  assert.equal(s.status, "complete");
  assert.equal(s.output, 42);
  assert.ok(took < 5_000, `delivered to the live run on the other node in ${took} ms (it would have stayed live for the hour)`);
  await followed;
  assert.ok(seen.includes("wait_completed") && seen.at(-1) === "workflow_completed", seen.join(" "));
});

test("a node that closes lets go of its claims: the other node continues its instances at once, not after the lease", { timeout: 30_000 }, async (t) => {
  const { a, b } = await pair(t);
  await a.deploy({ tenant: "acme", workflow: "w", code: { mainModule: "w.ts", modules: { "w.ts": SOURCE } } });
  const inst = await a.workflow("acme", "w").create({ id: "y" });
  await waitingLive(a, inst.record.pk);
  const [holder, other] = a.runsHere(inst.record.pk) ? [a, b] : [b, a];
  await holder.close(); // its run stops; the claim (30 s lease) is let go
  const onB = await other.workflow("acme", "w").get("y");
  const t0 = Date.now();
  await onB.sendEvent({ type: "go", payload: { k: 1 } });
  const s = await onB.waitFor();
  assert.equal(s.output, 2);
  assert.ok(Date.now() - t0 < 10_000, `continued on the other node after ${Date.now() - t0} ms (the lease is 30 s)`);
});

test("a deploy through one node is what the next create through the other runs (no stale version cache); a workflow deleted on one is gone on the other", { timeout: 30_000 }, async (t) => {
  const { a, b } = await pair(t);
  const src = (n: number) => `
import { WorkflowEntrypoint } from "cloudflare:workers";
export class W extends WorkflowEntrypoint { async run() { return ${n}; } }`;
  await a.deploy({ tenant: "acme", workflow: "v", code: { mainModule: "w.ts", modules: { "w.ts": src(1) } } });
  const first = await b.workflow("acme", "v").create({ id: "one" }); // b caches version 1 as the latest
  assert.equal((await first.waitFor()).output, 1);
  const d2 = await a.deploy({ tenant: "acme", workflow: "v", code: { mainModule: "w.ts", modules: { "w.ts": src(2) } } });
  const second = await b.workflow("acme", "v").create({ id: "two" });
  assert.equal(second.record.version, d2.version, "created through b right after a's deploy: the new version");
  assert.equal((await second.waitFor()).output, 2);
  await a.deleteWorkflow("acme", "v");
  await assert.rejects(b.workflow("acme", "v").create({ id: "three" }), (e: { code?: string }) => e.code === "not_found");
});
