// Issue 13, the events row: 50,000 events sent to one instance that never waits for them, then
// 100 × 1 MiB, were all accepted (50,293 rows, 100 MiB stored for one instance, canary p99 4.8×).
// Now the instance's buffer holds at most limits.bufferedEvents events and limits.bufferedEventBytes
// bytes that no wait has taken; beyond, sendEvent is refused (429 over HTTP), nothing stored.
// (Run alone, not next to other test files: npm test runs test/noisy/*.noisy.ts after the rest, as
// the canary's latency is the measurement.)
import { test } from "node:test";
import assert from "node:assert/strict";
import { ErrorCode, type WeftError } from "../../src/core/errors.ts";
import { spawn } from "node:child_process";
import { startServer } from "../../src/api/server.ts";
import { canaryLoop, deployCanary, openEngine, rssMiB } from "./canary.ts";

const NEVER_WAITS = `
import { WorkflowEntrypoint } from "cloudflare:workers";
export class N extends WorkflowEntrypoint { async run(event, step) { await step.sleep("long", "1 day"); return "woke"; } }`;

test("50,000 events to an instance that never waits, then 100 × 1 MiB: the buffer stops at its limits with a clear error (429 over HTTP), nothing more is stored; the canary's latency is reported", { timeout: 180_000 }, async (t) => {
  const engine = await openEngine(t);
  await deployCanary(engine);
  await engine.deploy({ tenant: "evil", workflow: "sink", code: { mainModule: "n.ts", modules: { "n.ts": NEVER_WAITS } } });
  await canaryLoop(engine, 30);
  const base = await canaryLoop(engine, 150);
  const rss0 = rssMiB();
  const sink = await engine.workflow("evil", "sink").create({ id: "sink" });
  const big = await engine.workflow("evil", "sink").create({ id: "big" });
  const results = { ok: 0, refused: 0, other: [] as string[] };
  const send = async (inst: typeof sink, payload: unknown) => {
    try {
      await inst.sendEvent({ type: "spam", payload });
      results.ok++;
    } catch (e) {
      if ((e as WeftError).code === ErrorCode.QuotaExceeded) results.refused++;
      else results.other.push(String((e as Error).message));
    }
  };
  const flood = (async () => {
    for (let i = 0; i < 50_000; i += 100) await Promise.all(Array.from({ length: 100 }, (_, j) => send(sink, { i: i + j })));
    const mib = "x".repeat(1024 * 1024 - 16);
    for (let i = 0; i < 100; i++) await send(big, mib);
  })();
  const next = await canaryLoop(engine, 150, flood);
  await flood;
  assert.deepEqual(results.other, []);
  assert.equal(results.ok, 1000 + 16, "1,000 small events, then 16 of just under 1 MiB (the 16 MiB buffer)");
  assert.equal(results.refused, 50_000 - 1000 + 100 - 16);
  // what is stored: exactly the buffers' limits
  await assert.rejects(sink.sendEvent({ type: "spam", payload: 0 }), (e: WeftError) => e.code === ErrorCode.QuotaExceeded && /already holds 1000 events that no step\.waitForEvent has taken; the limit is 1000 \(limits\.bufferedEvents\)/.test(e.message));
  t.diagnostic(`canary alone p50 ${base.p50Ms.toFixed(2)} ms p99 ${base.p99Ms.toFixed(2)} ms; next to the flood p50 ${next.p50Ms.toFixed(2)} p99 ${next.p99Ms.toFixed(2)} ms (${(next.p99Ms / base.p99Ms).toFixed(2)}×, ${next.runs} runs); loop max delay ${next.maxLoopDelayMs.toFixed(0)} ms; RSS ${rss0.toFixed(0)} → ${rssMiB().toFixed(0)} MiB`);
  // NOT YET MET for this row (issue 13, measured 2026-12-03): the refusals are cheap but each still
  // is a store transaction, so 100 sends in flight at a time from one tenant queue ahead of the
  // canary's writes (canary p99 ~20× its baseline) and the 1 MiB payloads leave RSS +240 MiB for a
  // while. Needs a per-tenant event rate (as the creation rate) — reported here, not asserted yet.
  assert.ok(next.maxLoopDelayMs < 250, `the event loop stalled ${next.maxLoopDelayMs.toFixed(0)} ms`);

  // over HTTP: 429 with the limit named and a Retry-After
  const server = await startServer({ engine, port: 0, quiet: true });
  t.after(() => server.close());
  const admin = { authorization: `Bearer ${server.adminToken}`, "content-type": "application/json" };
  assert.equal((await fetch(`${server.url}/v1/tenants`, { method: "POST", headers: admin, body: JSON.stringify({ name: "evil" }) })).status, 201);
  const r = await fetch(`${server.url}/v1/tenants/evil/workflows/sink/instances/sink/events`, {
    method: "POST", headers: { authorization: `Bearer ${server.adminToken}`, "content-type": "application/json" }, body: JSON.stringify({ type: "spam", payload: 1 }),
  });
  assert.equal(r.status, 429, await r.clone().text());
  assert.ok(r.headers.get("retry-after"));
  const body = (await r.json()) as { error: { code: string; details: { field: string } } };
  assert.deepEqual([body.error.code, body.error.details.field], ["quota_exceeded", "limits.bufferedEvents"]);
});

test("the same flood over HTTP from a tenant's token: sends past the tenant's event rate are refused (429, quotas.eventsPerSecond), the buffer holds at its limit, the loop never stalls; the canary's latency is reported", { timeout: 180_000 }, async (t) => {
  const engine = await openEngine(t);
  await deployCanary(engine);
  const server = await startServer({ engine, port: 0, quiet: true });
  t.after(() => server.close());
  const admin = { authorization: `Bearer ${server.adminToken}`, "content-type": "application/json" };
  assert.equal((await fetch(`${server.url}/v1/tenants`, { method: "POST", headers: admin, body: JSON.stringify({ name: "evil" }) })).status, 201);
  const tok = (await (await fetch(`${server.url}/v1/tenants/evil/tokens`, { method: "POST", headers: admin, body: "{}" })).json()) as { token: string };
  await engine.deploy({ tenant: "evil", workflow: "sink", code: { mainModule: "n.ts", modules: { "n.ts": NEVER_WAITS } } });
  await engine.workflow("evil", "sink").create({ id: "sink" });
  await canaryLoop(engine, 30);
  const base = await canaryLoop(engine, 150);
  // the flood comes from another process, as a tenant's clients would: 50,000 sends, 50 in flight
  const client = spawn(process.execPath, ["--input-type=module", "-e", `
    const [url, token] = process.argv.slice(1);
    const counts = {};
    let next = 0;
    const one = async () => { while (next < 50000) { next++;
      const r = await fetch(url, { method: "POST", headers: { authorization: "Bearer " + token, "content-type": "application/json" }, body: JSON.stringify({ type: "spam", payload: next }) });
      const b = await r.json(); const k = r.status + " " + (b.error ? b.error.details.quota ?? b.error.details.field : "ok"); counts[k] = (counts[k] ?? 0) + 1;
    } };
    await Promise.all(Array.from({ length: 50 }, one));
    process.stdout.write(JSON.stringify(counts));`, `${server.url}/v1/tenants/evil/workflows/sink/instances/sink/events`, tok.token], { stdio: ["ignore", "pipe", "inherit"] });
  let out = "";
  const t0 = performance.now();
  client.stdout.on("data", (d) => (out += d));
  const done = new Promise<void>((res) => client.on("exit", () => res()));
  const next = await canaryLoop(engine, 150, done);
  await done;
  const counts = JSON.parse(out) as Record<string, number>;
  t.diagnostic(`over HTTP: ${JSON.stringify(counts)}; canary p99 ${base.p99Ms.toFixed(2)} ms alone, ${next.p99Ms.toFixed(2)} ms next to the flood (${(next.p99Ms / base.p99Ms).toFixed(2)}×, ${next.runs} runs); loop max ${next.maxLoopDelayMs.toFixed(0)} ms`);
  assert.equal(Object.values(counts).reduce((a, b) => a + b, 0), 50_000);
  // what passed the rate: at most its burst plus the rate for the flood's duration (500/s, 1,000)
  const passed = 50_000 - (counts["429 eventsPerSecond"] ?? 0);
  const seconds = (performance.now() - t0) / 1000;
  assert.ok(passed <= 1000 + 500 * seconds + 50, `${passed} sends passed the rate in ${seconds.toFixed(1)} s`);
  assert.ok((counts["202 ok"] ?? 0) <= 1000, "at most the buffer is stored");
  assert.ok(next.maxLoopDelayMs < 100, `the event loop stalled ${next.maxLoopDelayMs.toFixed(0)} ms`);
  // NOT YET MET (measured 2026-12-04: canary p99 ~20× next to the flood; ~10× since the rate refuses
  // before the body is read): each request still costs the engine's thread its HTTP parsing,
  // authentication and routing, and the canary's steps queue behind 50 requests in flight. Needs the
  // HTTP front off the engine's thread, or a per-tenant share of it — reported, not asserted.
});
