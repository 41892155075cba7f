// The Prometheus exposition of one engine: exact counter values, status gauges and histogram
// counts after a known workload, parsed from the text (not just "the name appears").
import { test } from "node:test";
import assert from "node:assert/strict";
import { register as globalRegister } from "prom-client";
import { createMetrics } from "../../src/observability/metrics.ts";
import { TENANT, deploy, open, wf } from "../engine/helpers.ts";

const LIMIT = { timeout: 30_000 };

/** Samples of the exposition text: `name{labels} value` → value, keyed by the name plus sorted labels. */
function parse(text: string): Map<string, number> {
  const out = new Map<string, number>();
  for (const line of text.split("\n")) {
    if (line === "" || line.startsWith("#")) continue;
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    assert.ok(m, `not a sample line: ${line}`);
    const labels = m[2] ? [...m[2].matchAll(/([a-zA-Z_]\w*)="((?:[^"\\]|\\.)*)"/g)].map(([, k, v]) => `${k}=${v}`).sort() : [];
    out.set(key(m[1]!, labels), Number(m[3]));
  }
  return out;
}

function key(name: string, labels: string[] | Record<string, string> = []): string {
  const l = Array.isArray(labels) ? labels : Object.entries(labels).map(([k, v]) => `${k}=${v}`).sort();
  return l.length ? `${name}{${l.join(",")}}` : name;
}

function value(samples: Map<string, number>, name: string, labels: Record<string, string> = {}): number {
  const k = key(name, labels);
  const v = samples.get(k);
  assert.ok(v !== undefined, `no sample ${k}`);
  return v;
}

test("metrics: counters, status gauges and attempt histogram after a known workload", LIMIT, async (t) => {
  const h = await open(t);
  const m = createMetrics(h.engine);
  t.after(() => m.close());

  // host function that moves the engine clock: its step attempt lasts exactly 2 s
  const tick = async () => void h.clock.advance(2000);
  await deploy(h.engine, "two", wf(`const a = await step.do("a", async () => 1); const b = await step.do("b", async () => 2); return a + b;`));
  await deploy(h.engine, "slow", wf(`return await step.do("slow", async () => { await this.env.tick(); return 1; });`), { env: { tick } });
  await deploy(h.engine, "bad", wf(`await step.do("boom", async () => { throw new NonRetryableError("no"); }); return 1;`));
  await deploy(h.engine, "nap", wf(`await step.sleep("nap", "1 hour"); return 1;`));

  const two = h.engine.workflow(TENANT, "two");
  const done = await Promise.all([two.create(), two.create(), two.create()]);
  for (const i of done) assert.equal((await i.waitFor()).status, "complete");
  const slow = await h.engine.workflow(TENANT, "slow").create();
  assert.equal((await slow.waitFor()).status, "complete");
  const bad = await h.engine.workflow(TENANT, "bad").create();
  assert.equal((await bad.waitFor()).status, "errored");
  const naps = await h.engine.workflow(TENANT, "nap").createBatch([{}, {}]);
  for (const i of naps) await i.waitFor(["waiting"]);

  const text = await m.render();
  assert.match(m.contentType, /^text\/plain; version=0\.0\.4/);
  const s = parse(text);

  // counters mirrored from engine.metrics: 3 + 1 + 1 + 2 instances; 6 + 1 completed steps, 1 failed
  assert.equal(value(s, "weft_instances_created_total"), 7);
  assert.equal(value(s, "weft_step_attempts_started_total"), 8);
  assert.equal(value(s, "weft_steps_completed_total"), 7);
  assert.equal(value(s, "weft_steps_failed_total"), 1);
  assert.equal(value(s, "weft_preemptions_total"), 0);

  // status gauges from the store; every known status is present
  assert.equal(value(s, "weft_instances", { status: "complete" }), 4);
  assert.equal(value(s, "weft_instances", { status: "errored" }), 1);
  assert.equal(value(s, "weft_instances", { status: "waiting" }), 2);
  for (const st of ["queued", "running", "paused", "terminated", "waitingForPause"]) assert.equal(value(s, "weft_instances", { status: st }), 0, st);
  assert.equal(value(s, "weft_pending_timers"), 2);
  assert.equal(value(s, "weft_queue_depth"), 0);
  assert.equal(value(s, "weft_active_runs"), h.engine.stats().activeRuns);
  assert.equal(value(s, "weft_isolates"), h.engine.stats().isolates);
  assert.ok(value(s, "weft_isolates") >= 1);
  assert.ok(value(s, "weft_isolate_heap_bytes") > 100_000, "the isolates' V8 heap in use");
  assert.equal(value(s, "weft_isolate_contexts"), h.engine.stats().contexts);

  // attempt histogram: counts per tenant/workflow/outcome; the FakeClock makes durations exact
  const H = "weft_step_attempt_duration_seconds";
  const lbl = (workflow: string, outcome: string, more: Record<string, string> = {}) => ({ tenant: TENANT, workflow, outcome, ...more });
  assert.equal(value(s, `${H}_count`, lbl("two", "ok")), 6);
  assert.equal(value(s, `${H}_sum`, lbl("two", "ok")), 0);
  assert.equal(value(s, `${H}_bucket`, lbl("two", "ok", { le: "0.001" })), 6);
  assert.equal(value(s, `${H}_count`, lbl("slow", "ok")), 1);
  assert.equal(value(s, `${H}_sum`, lbl("slow", "ok")), 2);
  assert.equal(value(s, `${H}_bucket`, lbl("slow", "ok", { le: "1" })), 0);
  assert.equal(value(s, `${H}_bucket`, lbl("slow", "ok", { le: "2.5" })), 1);
  assert.equal(value(s, `${H}_bucket`, lbl("slow", "ok", { le: "600" })), 1);
  assert.equal(value(s, `${H}_bucket`, lbl("slow", "ok", { le: "+Inf" })), 1);
  assert.equal(value(s, `${H}_count`, lbl("bad", "error")), 1);
  assert.equal(s.has(key(`${H}_count`, lbl("bad", "ok"))), false);
  assert.equal(s.has(key(`${H}_count`, lbl("nap", "ok"))), false, "a sleep is not a step attempt");

  // process metrics from prom-client's defaults, in this registry
  assert.ok(value(s, "process_resident_memory_bytes") > 0);
  assert.ok(text.includes("# TYPE nodejs_heap_size_used_bytes gauge"));

  // nothing went to prom-client's global register
  assert.equal((await globalRegister.metrics()).trim(), "");

  // counters follow the engine between scrapes
  const more = await two.create();
  await more.waitFor();
  const s2 = parse(await m.render());
  assert.equal(value(s2, "weft_instances_created_total"), 8);
  assert.equal(value(s2, "weft_steps_completed_total"), 9);
  assert.equal(value(s2, "weft_instances", { status: "complete" }), 5);
  assert.equal(value(s2, `${H}_count`, lbl("two", "ok")), 8);

  // close() stops observing attempts; scrapes still work
  m.close();
  const after = await two.create();
  await after.waitFor();
  const s3 = parse(await m.render());
  assert.equal(value(s3, `${H}_count`, lbl("two", "ok")), 8);
  assert.equal(value(s3, "weft_steps_completed_total"), 11);
  assert.equal(h.engine.events.listenerCount("attempt"), 0);
});

test("metrics: two engines keep separate registries", LIMIT, async (t) => {
  const a = await open(t);
  const b = await open(t);
  const ma = createMetrics(a.engine);
  const mb = createMetrics(b.engine);
  t.after(() => (ma.close(), mb.close()));
  assert.notEqual(ma.registry, mb.registry);
  await deploy(a.engine, "one", wf(`return await step.do("x", async () => 1);`));
  await (await a.engine.workflow(TENANT, "one").create()).waitFor();
  assert.equal(value(parse(await ma.render()), "weft_instances_created_total"), 1);
  assert.equal(value(parse(await mb.render()), "weft_instances_created_total"), 0);
});
