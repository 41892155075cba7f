// Instance lifecycle around the steps: version pinning, bad input that leaves nothing behind,
// per-workflow concurrency, console capture and the event subscription.
import { test } from "node:test";
import assert from "node:assert/strict";
import { HOUR, START, TENANT, deploy, open, settle, until, wf } from "./helpers.ts";

/** a hung wait fails the test instead of the run */
const LIMIT = { timeout: 20_000 };
import { WeftError, type Engine } from "../../src/index.ts";

async function instanceCount(engine: Engine, workflow?: string): Promise<number> {
  return (await engine.store.listInstances({ tenant: TENANT, workflow, limit: 1000, direction: "asc" })).length;
}

// ---- 15. version pinning ---------------------------------------------------------------------------

test("an instance stays on the version it was created with; new instances use the new version", LIMIT, async (t) => {
  const h = await open(t);
  const code = (tag: string) => wf(`await step.sleep("nap", "1 hour"); return "${tag}";`);
  const v1 = await deploy(h.engine, "pinned", code("v1"));
  const wfb = h.engine.workflow(TENANT, "pinned");
  const old = await wfb.create({ id: "old" });
  await old.waitFor(["waiting"]);
  const v2 = await deploy(h.engine, "pinned", code("v2"));
  assert.notEqual(v2, v1);
  h.clock.advance(HOUR);
  const s = await old.waitFor();
  assert.equal(s.status, "complete");
  assert.equal(s.output, "v1");
  assert.equal((await old.describe()).versionId, v1);

  const fresh = await wfb.create({ id: "fresh" });
  await fresh.waitFor(["waiting"]);
  h.clock.advance(HOUR);
  const s2 = await fresh.waitFor();
  assert.equal(s2.output, "v2");
  assert.equal((await fresh.describe()).versionId, v2);
});

// ---- 16. bad input changes nothing -----------------------------------------------------------------

async function refusedDeploy(engine: Engine, workflow: string, source: string, code: string, className?: string): Promise<WeftError> {
  let caught: unknown;
  await assert.rejects(deploy(engine, workflow, source, className ? { className } : {}), (e) => ((caught = e), true));
  assert.ok(caught instanceof WeftError, `expected a WeftError, got ${String(caught)}`);
  assert.equal(caught.code, code, caught.message);
  assert.deepEqual(await engine.store.listVersions(TENANT, workflow), [], "no version was stored");
  await assert.rejects(engine.workflow(TENANT, workflow).create(), { code: "not_found" });
  return caught;
}

test("deploy: a compile error is reported as file:line:column and stores nothing", LIMIT, async (t) => {
  const h = await open(t);
  const src = [
    `import { WorkflowEntrypoint } from "cloudflare:workers";`,
    `export class W extends WorkflowEntrypoint {`,
    `  async run(event, step) {`,
    `    const x = ;`,
    `  }`,
    `}`,
  ].join("\n");
  const e = await refusedDeploy(h.engine, "broken", src, "compile_error");
  const first = (e.details.errors as { file: string; line: number; column: number }[])[0]!;
  assert.equal(first.file, "index.ts");
  assert.equal(first.line, 4);
  assert.equal(first.column, 15);
  assert.match(e.message, /index\.ts:4:15/);
});

test("deploy: no WorkflowEntrypoint class names what the module exports", LIMIT, async (t) => {
  const h = await open(t);
  const e = await refusedDeploy(h.engine, "noclass", `export const answer = 42; export function helper() { return 1; }`, "no_workflow_class");
  assert.match(e.message, /answer/);
  assert.match(e.message, /helper/);
});

test("deploy: two workflow classes without className is ambiguous; className picks one", LIMIT, async (t) => {
  const h = await open(t);
  const src = `import { WorkflowEntrypoint } from "cloudflare:workers";
    export class First extends WorkflowEntrypoint { async run() { return 1; } }
    export class Second extends WorkflowEntrypoint { async run() { return 2; } }`;
  const e = await refusedDeploy(h.engine, "two", src, "ambiguous_workflow_class");
  assert.match(e.message, /First/);
  assert.match(e.message, /Second/);
  await refusedDeploy(h.engine, "two", src, "no_workflow_class", "Third");
  await deploy(h.engine, "two", src, { className: "Second" });
  const s = await (await h.engine.workflow(TENANT, "two").create()).waitFor();
  assert.equal(s.output, 2);
});

test("create: a duplicate id is refused with already_exists and one instance remains", LIMIT, async (t) => {
  const h = await open(t);
  await deploy(h.engine, "dup", wf(`return event.payload;`));
  const wfb = h.engine.workflow(TENANT, "dup");
  await wfb.create({ id: "same", params: 1 });
  await assert.rejects(wfb.create({ id: "same", params: 2 }), { code: "already_exists" });
  const all = await h.engine.store.listInstances({ tenant: TENANT, limit: 100, direction: "asc" });
  assert.equal(all.length, 1);
  assert.equal(all[0]!.params, 1);
});

test("createBatch: 101 instances, a duplicate inside, or an id that exists creates none", LIMIT, async (t) => {
  const h = await open(t);
  await deploy(h.engine, "batch", wf(`return 1;`));
  const wfb = h.engine.workflow(TENANT, "batch");
  await assert.rejects(wfb.createBatch(Array.from({ length: 101 }, (_, i) => ({ id: `b${i}` }))), { code: "invalid_argument" });
  assert.equal(await instanceCount(h.engine), 0);
  await assert.rejects(wfb.createBatch([{ id: "x1" }, { id: "x2" }, { id: "x1" }]), { code: "already_exists" });
  assert.equal(await instanceCount(h.engine), 0);
  await wfb.create({ id: "taken" });
  await assert.rejects(wfb.createBatch([{ id: "y1" }, { id: "taken" }, { id: "y2" }]), { code: "already_exists" });
  assert.deepEqual((await h.engine.store.listInstances({ tenant: TENANT, limit: 100, direction: "asc" })).map((i) => i.id), ["taken"]);
  const ok = await wfb.createBatch(Array.from({ length: 100 }, (_, i) => ({ id: `ok${i}` })));
  assert.equal(ok.length, 100);
  assert.equal(await instanceCount(h.engine), 101);
});

test("create: oversized params, unserializable params and a bad id are refused and create nothing", LIMIT, async (t) => {
  const h = await open(t);
  await deploy(h.engine, "params", wf(`return 1;`), { limits: { stepResultBytes: 1000 } });
  const wfb = h.engine.workflow(TENANT, "params");
  await assert.rejects(wfb.create({ params: { s: "x".repeat(2000) } }), (e: WeftError) => {
    assert.equal(e.code, "too_large");
    assert.match(e.message, /1000 bytes/);
    return true;
  });
  await assert.rejects(wfb.create({ params: { f: () => 1 } }), (e: WeftError) => {
    assert.equal(e.code, "not_serializable");
    assert.match(e.message, /function/);
    return true;
  });
  await assert.rejects(wfb.create({ id: "a b" }), (e: WeftError) => {
    assert.equal(e.code, "invalid_name");
    assert.match(e.message, /"a b"/);
    return true;
  });
  await assert.rejects(wfb.createBatch([{ id: "fine" }, { params: { big: "y".repeat(2000) } }]), { code: "too_large" });
  assert.equal(await instanceCount(h.engine), 0);
});

// ---- 17. concurrency -------------------------------------------------------------------------------

test("limits.concurrency 1: one instance runs at a time, the others stay queued, then all complete", LIMIT, async (t) => {
  const h = await open(t);
  const gates = new Map<string, () => void>();
  let inFlight = 0;
  let maxInFlight = 0;
  const gate = (id: string) => new Promise<string>((resolve) => {
    inFlight++;
    maxInFlight = Math.max(maxInFlight, inFlight);
    gates.set(id, () => {
      inFlight--;
      gates.delete(id);
      resolve(id);
    });
  });
  await deploy(h.engine, "conc", wf(`return await step.do("work", async () => await this.env.gate(event.instanceId));`),
    { env: { gate }, limits: { concurrency: 1 } });
  const insts = await h.engine.workflow(TENANT, "conc").createBatch([{ id: "q1" }, { id: "q2" }, { id: "q3" }]);
  const released: string[] = [];
  for (let round = 0; round < 3; round++) {
    await until(() => gates.size === 1, `one body in flight (round ${round + 1})`);
    await settle();
    assert.equal(gates.size, 1, "only one instance's step body is in flight");
    const [id, open_] = [...gates][0]!;
    const statuses = await Promise.all(insts.map(async (i) => [i.id, (await i.status()).status] as const));
    for (const [other, st] of statuses) {
      if (other === id) assert.equal(st, "running");
      else if (!released.includes(other)) assert.equal(st, "queued", `${other} waits for the slot`);
    }
    released.push(id);
    open_();
  }
  for (const i of insts) {
    const s = await i.waitFor();
    assert.equal(s.status, "complete");
    assert.equal(s.output, i.id);
  }
  assert.equal(maxInFlight, 1);
});

test("limits.concurrency 1: instances waiting for an event do not hold the slot", LIMIT, async (t) => {
  const h = await open(t);
  await deploy(h.engine, "conc-wait", wf(`
    const ev = await step.waitForEvent("go", { type: "go" });
    return ev.payload;`), { limits: { concurrency: 1 } });
  const insts = await h.engine.workflow(TENANT, "conc-wait").createBatch([{ id: "w1" }, { id: "w2" }, { id: "w3" }]);
  for (const i of insts) await i.waitFor(["waiting"]);
  for (const i of insts) await i.sendEvent({ type: "go", payload: i.id });
  for (const i of insts) assert.deepEqual(await i.waitFor(), { status: "complete", output: i.id });
});

// ---- 18. console -----------------------------------------------------------------------------------

test("console output lands in the instance log with timestamps, once, although the code replays", LIMIT, async (t) => {
  const h = await open(t);
  await deploy(h.engine, "logs", wf(`
    console.log("before", event.payload.n);
    await step.do("a", async () => { console.log("inside a", { k: 1 }); return 1; });
    await step.sleep("nap", "1 hour");
    console.warn("after");
    await step.do("b", async () => 2);
    console.error("end");
    return 1;`));
  const inst = await h.engine.workflow(TENANT, "logs").create({ params: { n: 7 } });
  await inst.waitFor(["waiting"]);
  h.clock.advance(HOUR);
  assert.equal((await inst.waitFor()).status, "complete");
  const pk = inst.record.pk;
  await until(async () => (await h.engine.store.logs(pk, 0, 100)).some((l) => l.message === "end"), "the last log line");
  await settle();
  const lines = await h.engine.store.logs(pk, 0, 100);
  assert.deepEqual(lines.map((l) => [l.level, l.message]), [
    ["info", "before 7"], ["info", "inside a { k: 1 }"], ["warn", "after"], ["error", "end"],
  ]);
  assert.deepEqual(lines.map((l) => l.at), [START, START, START + HOUR, START + HOUR]);
});

// ---- 19. subscribe ---------------------------------------------------------------------------------

test("subscribe() yields the lifecycle in order and ends after workflow_completed", LIMIT, async (t) => {
  const h = await open(t);
  await deploy(h.engine, "sub", wf(`
    await step.do("a", async () => 1);
    await step.sleep("nap", "1 hour");
    return 2;`));
  const inst = await h.engine.workflow(TENANT, "sub").create();
  const seen: { type: string; eventId: number; timestamp: Date }[] = [];
  let ended = false;
  const consumer = (async () => {
    for await (const e of inst.subscribe()) seen.push(e);
    ended = true;
  })();
  await inst.waitFor(["waiting"]);
  h.clock.advance(HOUR);
  assert.equal((await inst.waitFor()).status, "complete");
  await until(() => ended, "the subscription to end");
  await consumer;
  const types = seen.map((e) => e.type);
  const order = ["workflow_queued", "step_started", "step_completed", "sleep_started", "sleep_completed", "workflow_completed"];
  let last = -1;
  for (const type of order) {
    const at = types.indexOf(type, last + 1);
    assert.ok(at > last, `${type} after ${order[order.indexOf(type) - 1] ?? "the start"} in ${types.join(", ")}`);
    last = at;
  }
  assert.equal(types.at(-1), "workflow_completed");
  assert.equal(types.filter((x) => x === "workflow_completed").length, 1);
  for (let i = 1; i < seen.length; i++) assert.ok(seen[i]!.eventId > seen[i - 1]!.eventId, "eventIds increase");
  assert.ok(seen.every((e) => e.timestamp instanceof Date));
  // a subscription opened after the end replays the retained events and ends by itself
  const again: string[] = [];
  for await (const e of inst.subscribe()) again.push(e.type);
  assert.deepEqual(again, types);
});
