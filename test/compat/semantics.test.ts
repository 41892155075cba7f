// Semantics of Cloudflare Workflows that Weft differed on (issue 12, items 4–11), each written from
// the reference (../shared/reference/cloudflare-workflows.md) or from Cloudflare's engine
// (github.com/cloudflare/workers-sdk, packages/workflows-shared/src and its tests), cited per test.
// Time is the virtual clock of the engine harness: nothing waits for real.
import { test } from "node:test";
import assert from "node:assert/strict";
import {
  HOUR, MINUTE, SECOND, TENANT, deploy, describeUntil, ms, open, recorder, settle, stepsOf, until, wf,
} from "../engine/helpers.ts";
import { serverFor, module } from "../api/helpers.ts";

const LIMIT = { timeout: 30_000 };

/** A host function that blocks until released (as many times as needed). */
function gate() {
  let release!: () => void;
  let p = new Promise<void>((r) => (release = r));
  return {
    fn: () => p,
    open() {
      release();
      p = Promise.resolve();
    },
  };
}

// ---- 4. step.do inside step.do -------------------------------------------------------------------

// Reference 1.9 (rules-of-workflows, "Promise.race/Promise.any: wrap the race itself in a step.do")
// and the docs' example: the race is a step.do whose body races two nested step.do calls.
test("item 4: the docs' race inside a step.do works on the first run and on every replay", LIMIT, async (t) => {
  const h = await open(t);
  const rec = recorder();
  const src = wf(`
    const winner = await step.do("race", async () => {
      return await Promise.race([
        step.do("slow runner", async () => { await this.env.hit("slow"); await this.env.wait(); return "slow"; }),
        step.do("fast runner", async () => { await this.env.hit("fast"); return "fast"; }),
      ]);
    });
    await step.sleep("rest", "2 hours");
    const after = await step.do("after", async () => { await this.env.hit("after"); return winner + "!"; });
    await step.sleep("rest again", "1 hour");
    return { winner, after };`);
  const slow = gate();
  const env = { ...rec.env, wait: slow.fn };
  await deploy(h.engine, "race", src, { env });
  const inst = await h.engine.workflow(TENANT, "race").create({ id: "r1" });
  await describeUntil(inst, "the race step to complete", (d) => stepsOf(d, "race")[0]?.success === true);
  slow.open();
  await inst.waitFor(["waiting"]);

  for (let i = 0; i < 2; i++) {
    await h.reopen();
    await deploy(h.engine, "race", src, { env });
    h.clock.advance(2 * HOUR);
    const again = await h.engine.workflow(TENANT, "race").get("r1");
    if (i === 0) await describeUntil(again, "the second sleep", (d) => d.status === "waiting" && d.steps.some((s) => s.type === "sleep" && s.name === "rest again"));
  }
  const s = await (await h.engine.workflow(TENANT, "race").get("r1")).waitFor();
  assert.equal(s.status, "complete", JSON.stringify(s.error));
  assert.deepEqual(s.output, { winner: "fast", after: "fast!" });
  assert.deepEqual(rec.calls.sort(), ["after", "fast", "slow"], "each body ran once over three replays");
  const d = await (await h.engine.workflow(TENANT, "race").get("r1")).describe();
  assert.deepEqual(stepsOf(d).map((x) => x.name).sort(), ["after", "fast runner", "race", "slow runner"], "nested steps are steps of their own in the detail");
});

// Cloudflare's engine keys every step by name + count (workers-sdk context.ts: `${hash(name)}-${count}`,
// counters restart with each run() invocation), so a nested step that completed is found again by a
// later attempt of its parent. Weft counts a nested call's occurrences within each attempt of its
// parent: the same on every run, however the attempts fall across engine restarts.
test("item 4: a nested step that completed is not run again by its parent's next attempt, nor after a restart", LIMIT, async (t) => {
  const h = await open(t);
  const rec = recorder();
  const src = wf(`
    const r = await step.do("order", { retries: { limit: 2, delay: "1 minute", backoff: "constant" } }, async (ctx) => {
      await this.env.hit("order " + ctx.attempt);
      const charge = await step.do("charge card", async () => { await this.env.hit("charge"); return "ch_" + ctx.attempt; });
      const mail = await step.do("mail", async () => { await this.env.hit("mail " + ctx.attempt); return "m"; });
      if (ctx.attempt < 3) throw new Error("ship failed " + ctx.attempt);
      return { charge, mail, attempt: ctx.attempt };
    });
    // a top-level step with a nested step's name is a step of its own
    const top = await step.do("charge card", async () => { await this.env.hit("top charge"); return "top"; });
    await step.sleep("nap", "1 hour");
    return { r, top };`);
  await deploy(h.engine, "nested-retry", src, { env: rec.env });
  const inst = await h.engine.workflow(TENANT, "nested-retry").create({ id: "n1" });
  await describeUntil(inst, "attempt 1 to fail", (d) => stepsOf(d, "order")[0]?.attempts.length === 1 && stepsOf(d, "order")[0]!.attempts[0]!.success === false);
  // attempt 2 in the same run of the instance
  h.clock.advance(MINUTE);
  await describeUntil(inst, "attempt 2 to fail", (d) => stepsOf(d, "order")[0]?.attempts.length === 2 && stepsOf(d, "order")[0]!.attempts[1]!.success === false);
  // the engine goes down during the retry delay: attempt 3 runs in a replay
  await h.reopen();
  await deploy(h.engine, "nested-retry", src, { env: rec.env });
  h.clock.advance(MINUTE);
  let again = await h.engine.workflow(TENANT, "nested-retry").get("n1");
  await describeUntil(again, "the nap", (d) => d.status === "waiting" && d.steps.some((x) => x.type === "sleep"));
  await h.reopen();
  await deploy(h.engine, "nested-retry", src, { env: rec.env });
  h.clock.advance(HOUR);
  again = await h.engine.workflow(TENANT, "nested-retry").get("n1");
  const s = await again.waitFor();
  assert.equal(s.status, "complete", JSON.stringify(s.error));
  assert.deepEqual(s.output, { r: { charge: "ch_1", mail: "m", attempt: 3 }, top: "top" });
  assert.deepEqual(rec.calls, ["order 1", "charge", "mail 1", "order 2", "order 3", "top charge"],
    "charge card and mail ran once (attempts 2 and 3 got their results); the top-level step ran its own body");
});

test("item 4: a step.do made after an await in a step body is nested too (async context across awaits)", LIMIT, async (t) => {
  const h = await open(t);
  const rec = recorder();
  const src = wf(`
    const helper = async (n) => { await this.env.hit("helper " + n); return await step.do("inner " + n, async () => n * 10); };
    const v = await step.do("outer", async () => {
      await this.env.hit("outer");
      const [a, b] = await Promise.all([helper(1), helper(2)]);
      const c = await fetchLike().then(() => step.do("in then", async () => 3));
      return a + b + c;
    });
    await step.sleep("nap", "1 hour");
    return v;`, `const fetchLike = () => Promise.resolve(1);`);
  await deploy(h.engine, "nested-await", src, { env: rec.env });
  const inst = await h.engine.workflow(TENANT, "nested-await").create({ id: "a1" });
  await inst.waitFor(["waiting"]);
  await h.reopen();
  await deploy(h.engine, "nested-await", src, { env: rec.env });
  h.clock.advance(HOUR);
  const s = await (await h.engine.workflow(TENANT, "nested-await").get("a1")).waitFor();
  assert.equal(s.status, "complete", JSON.stringify(s.error));
  assert.equal(s.output, 33);
  assert.deepEqual(rec.calls, ["outer", "helper 1", "helper 2"]);
});

// ---- 5. ctx.config is the body's copy --------------------------------------------------------------

// Reference 1.3 (step context: ctx.config is the step's config, handed to the callback); workers-sdk
// context.ts builds a fresh `toEngineStepConfig(config)` for each attempt, so the body cannot reach
// the engine's policy.
test("item 5: a body that changes ctx.config does not change the retry policy", LIMIT, async (t) => {
  const h = await open(t);
  const rec = recorder();
  await deploy(h.engine, "cfg", wf(`
    try {
      await step.do("greedy", { retries: { limit: 2, delay: "1 second", backoff: "constant" }, timeout: "1 minute" }, async (ctx) => {
        await this.env.hit({ attempt: ctx.attempt, limit: ctx.config.retries.limit, timeout: ctx.config.timeout });
        ctx.config.retries.limit = 100;
        ctx.config.retries.delay = 1;
        ctx.config.timeout = 1;
        throw new Error("no");
      });
    } catch (e) { return e.message; }`), { env: rec.env });
  const inst = await h.engine.workflow(TENANT, "cfg").create();
  for (let i = 1; i <= 2; i++) {
    await describeUntil(inst, `attempt ${i} to fail`, (d) => stepsOf(d, "greedy")[0]?.attempts.length === i && stepsOf(d, "greedy")[0]!.attempts[i - 1]!.success === false);
    h.clock.advance(SECOND);
  }
  const s = await inst.waitFor();
  assert.deepEqual(s, { status: "complete", output: "no" });
  assert.deepEqual(rec.calls, [1, 2, 3].map((attempt) => ({ attempt, limit: 2, timeout: "1 minute" })), "3 attempts, each seeing the configured values");
  const step = stepsOf(await inst.describe(), "greedy")[0]!;
  assert.deepEqual(step.config, { retries: { limit: 2, delay: "1 second", backoff: "constant" }, timeout: "1 minute" });
  assert.equal(step.attempts.length, 3);
});

// ---- 6. restart from a step name without a type ---------------------------------------------------

// workers-sdk lib/restart.ts (resolveGroupKeysToWipe): `stepTypeToEvent[param.type ?? "do"]` — a
// name alone means the step.do of that name, never a sleep or waitForEvent of the same name.
test("item 6: restart({ from: { name } }) without a type restarts from the step.do, not a sleep of that name", LIMIT, async (t) => {
  const h = await open(t);
  const rec = recorder();
  let n = 0;
  await deploy(h.engine, "restart-type", wf(`
    await step.sleep("x", "1 hour");
    const v = await step.do("x", async () => { await this.env.hit("x"); return await this.env.next(); });
    return v;`), { env: { ...rec.env, next: async () => ++n } });
  const inst = await h.engine.workflow(TENANT, "restart-type").create();
  await inst.waitFor(["waiting"]);
  h.clock.advance(HOUR);
  assert.deepEqual(await inst.waitFor(), { status: "complete", output: 1 });

  await inst.restart({ from: { name: "x" } });
  const s = await inst.waitFor(["complete", "errored", "waiting"]);
  assert.deepEqual(s, { status: "complete", output: 2 }, "the sleep's result is kept: no new hour of waiting");
  assert.deepEqual(rec.calls, ["x", "x"]);

  await inst.restart({ from: { name: "x", type: "sleep" } });
  assert.equal((await inst.waitFor(["complete", "errored", "waiting"])).status, "waiting", "type sleep restarts from the sleep");
  await assert.rejects(inst.restart({ from: { name: "x", type: "step" as never } }), { code: "invalid_argument" });
  await assert.rejects(inst.restart({ from: { name: "nope" } }), { code: "not_found" });
});

// ---- 7. real randomness inside step bodies ----------------------------------------------------------

// Reference 1.9 (rules: "Math.random()" outside steps can run many times; a step is where a nonce or
// an idempotency key is made): values drawn in a body must differ every time the body runs; only
// code outside steps is replay-stable (DESIGN.md, tenant contract).
test("item 7: a step body re-run after restart() draws new random values (UUID, getRandomValues, Math.random)", LIMIT, async (t) => {
  const h = await open(t);
  const src = wf(`
    const outside = [Math.random(), crypto.randomUUID()];
    const body = await step.do("draw", async () => {
      const before = [crypto.randomUUID(), Array.from(crypto.getRandomValues(new Uint8Array(16))), Math.random()];
      await this.env.tick();
      const after = [crypto.randomUUID(), Array.from(crypto.getRandomValues(new Uint32Array(4))), Math.random()];
      return { before, after };
    });
    return { outside, body };`);
  await deploy(h.engine, "rnd", src, { env: { tick: async () => undefined } });
  const inst = await h.engine.workflow(TENANT, "rnd").create();
  const first = (await inst.waitFor()).output as { outside: unknown[]; body: { before: unknown[]; after: unknown[] } };
  await inst.restart();
  const second = (await inst.waitFor()).output as typeof first;
  assert.deepEqual(second.outside, first.outside, "outside steps: the same values on every run of the instance");
  for (const part of ["before", "after"] as const) {
    for (let i = 0; i < 3; i++) assert.notDeepEqual(second.body[part][i], first.body[part][i], `${part}[${i}] was drawn again`);
  }
  assert.match(String(first.body.before[0]), /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
  // and two instances created alike never share a body's draws
  const other = await h.engine.workflow(TENANT, "rnd").create();
  const third = (await other.waitFor()).output as typeof first;
  assert.notEqual(third.body.before[0], first.body.before[0]);
});

// ---- 8. status(), create() without params, status after resume()/restart() -------------------------

// workers-sdk workflows-shared/src/binding.ts, status(): `output: workflowOutput ?? null`.
test("item 8: status() has output null while the instance runs and when it errored", LIMIT, async (t) => {
  const h = await open(t);
  const g = gate();
  await deploy(h.engine, "out-null", wf(`
    await step.do("blocked", async () => { await this.env.wait(); });
    if (event.payload.fail) throw new Error("boom");
    return "done";`), { env: { wait: g.fn } });
  const wfb = h.engine.workflow(TENANT, "out-null");
  const a = await wfb.create({ params: { fail: false } });
  const b = await wfb.create({ params: { fail: true } });
  await until(async () => (await a.status()).status === "running" && (await b.status()).status === "running", "both running");
  assert.deepEqual(await a.status(), { status: "running", output: null });
  g.open();
  assert.deepEqual(await a.waitFor(), { status: "complete", output: "done" });
  assert.deepEqual(await b.waitFor(), { status: "errored", error: { name: "Error", message: "boom" }, output: null });
  const d = await b.describe();
  assert.equal(d.output, null);
});

// workers-sdk workflows-shared/src/binding.ts: `create({ id = crypto.randomUUID(), params = {} } = {})`.
test("item 8: create() without params gives event.payload {}", LIMIT, async (t) => {
  const h = await open(t);
  await deploy(h.engine, "no-params", wf(`return { payload: event.payload, isObject: typeof event.payload === "object" && event.payload !== null };`));
  for (const inst of [await h.engine.workflow(TENANT, "no-params").create(), await h.engine.workflow(TENANT, "no-params").create({ id: "x" })]) {
    assert.deepEqual(await inst.waitFor(), { status: "complete", output: { payload: {}, isObject: true } });
    assert.deepEqual((await inst.describe()).params, {});
  }
  const [batched] = await h.engine.workflow(TENANT, "no-params").createBatch([{}]);
  assert.deepEqual((await batched!.waitFor()).output, { payload: {}, isObject: true });
});

// Reference 1.7 (statuses: `queued` = waiting on the concurrency limit); the local engine sets the
// instance running as its new run starts (workers-sdk engine.ts, init → workflowRunningHandler).
test("item 8: right after resume() and restart() the status is running, unless a concurrency limit queues it", LIMIT, async (t) => {
  const h = await open(t);
  const g = gate();
  await deploy(h.engine, "resume-status", wf(`
    await step.sleep("nap", "1 hour");
    await step.do("work", async () => { await this.env.wait(); });
    return "ok";`), { env: { wait: g.fn }, limits: { concurrency: 1 } });
  const wfb = h.engine.workflow(TENANT, "resume-status");
  const inst = await wfb.create();
  await inst.waitFor(["waiting"]);
  await inst.pause();
  assert.equal((await inst.status()).status, "paused");
  h.clock.advance(2 * HOUR);
  await inst.resume();
  assert.equal((await inst.status()).status, "running", "resume() → running");

  await inst.restart();
  assert.equal((await inst.status()).status, "running", "restart() → running");
  await inst.waitFor(["waiting"]);
  h.clock.advance(HOUR);
  await describeUntil(inst, "work to start", (d) => stepsOf(d, "work")[0]?.attempts.length === 1);

  // the one slot is taken: a second instance resumed now really is queued
  const other = await wfb.create();
  await settle();
  assert.equal((await other.status()).status, "queued");
  await other.pause();
  await other.resume();
  assert.equal((await other.status()).status, "queued", "held back by the concurrency limit");
  g.open();
  assert.equal((await inst.waitFor()).status, "complete");
  await other.waitFor(["waiting"]);
});

// The HTTP views (src/api): the instance detail has output null until the instance completes (the
// local explorer's instance route: `output: successLog?.metadata?.result ?? null`), params {} when
// created without, and resume answers the status Cloudflare reports.
test("item 8: the HTTP API's instance detail and resume answer as Cloudflare's", LIMIT, async (t) => {
  const s = await serverFor(t);
  assert.equal((await s.call("POST", "/v1/tenants", { name: "acme" })).status, 201);
  const base = "/v1/tenants/acme/workflows/w";
  assert.equal((await s.call("PUT", base, module(`await step.sleep("nap", "1 hour"); return 1;`))).status, 200);
  const created = await s.call("POST", `${base}/instances`, {});
  assert.equal(created.status, 201, created.text);
  const id = created.body.id as string;
  let d = await s.call("GET", `${base}/instances/${id}`);
  for (let i = 0; i < 200 && d.body.status !== "waiting"; i++) d = await s.call("GET", `${base}/instances/${id}`);
  assert.equal(d.body.status, "waiting");
  assert.ok("output" in d.body, "output is in the detail");
  assert.equal(d.body.output, null);
  assert.deepEqual(d.body.params, {});
  assert.equal((await s.call("POST", `${base}/instances/${id}/pause`)).body.status, "paused");
  const resumed = await s.call("POST", `${base}/instances/${id}/resume`);
  assert.notEqual(resumed.body.status, "queued");
  assert.ok(["running", "waiting"].includes(resumed.body.status), resumed.text);
});

// ---- 9. waitForEvent timeouts ----------------------------------------------------------------------

// workers-sdk packages/workflows-shared/tests/engine.test.ts, "waitForEvent should not deliver events
// to timed-out events with the same type": three waits of 500 ms for one type; the 2nd times out;
// an event sent after that goes to the 3rd (issue workers-sdk#11740, fixed in #12985).
test("item 9: a 500 ms waitForEvent times out, and a timed-out waiter never swallows a later event", LIMIT, async (t) => {
  const h = await open(t);
  await deploy(h.engine, "stale-waiter", wf(`
    const results = [];
    for (let i = 1; i <= 3; i++) {
      try {
        const e = await step.waitForEvent("my-event-waiter-" + i, { type: "my-event", timeout: 500 });
        results.push({ iteration: i, received: true, payload: e.payload });
      } catch (err) {
        results.push({ iteration: i, received: false, error: err.name });
      }
    }
    return { results };`));
  const inst = await h.engine.workflow(TENANT, "stale-waiter").create();
  const waits = async (n: number) => describeUntil(inst, `wait ${n} to start`, (d) => d.steps.filter((s) => s.type === "waitForEvent").length >= n);
  await waits(1);
  await inst.sendEvent({ type: "my-event", payload: { iteration: 1 } });
  await waits(2);
  h.clock.advance(500);
  await waits(3);
  await inst.sendEvent({ type: "my-event", payload: { iteration: 3 } });
  const s = await inst.waitFor();
  assert.deepEqual(s.output, {
    results: [
      { iteration: 1, received: true, payload: { iteration: 1 } },
      { iteration: 2, received: false, error: "WorkflowTimeoutError" },
      { iteration: 3, received: true, payload: { iteration: 3 } },
    ],
  });
  const w2 = (await inst.describe()).steps.find((x) => x.type === "waitForEvent" && x.name === "my-event-waiter-2")!;
  assert.equal(ms((w2 as { end: string }).end) - ms((w2 as { start: string }).start), 500, "timed out after 500 ms");
});

// workers-sdk context.ts, waitForEvent: `if (!options.timeout) options.timeout = "24 hours"`.
test("item 9: waitForEvent takes duration strings and numbers below a second; no or zero timeout is 24 hours", LIMIT, async (t) => {
  const h = await open(t);
  await deploy(h.engine, "wait-timeouts", wf(`
    const out = [];
    for (const timeout of [250, "750 ms", "2 seconds", 0, undefined]) {
      const t0 = Date.now();
      try { await step.waitForEvent("w", timeout === undefined ? { type: "t" } : { type: "t", timeout }); out.push("event"); }
      catch (e) { out.push(Date.now() - t0); }
    }
    try { await step.waitForEvent("bad", { type: "t", timeout: "366 days" }); } catch (e) { out.push(e.code); }
    return out;`));
  const inst = await h.engine.workflow(TENANT, "wait-timeouts").create();
  const upTo = async (n: number) => describeUntil(inst, `wait ${n}`, (d) => d.steps.filter((s) => s.type === "waitForEvent").length >= n);
  for (const [n, step] of [[1, 250], [2, 750], [3, 2000], [4, 24 * HOUR], [5, 24 * HOUR]] as const) {
    await upTo(n);
    await settle();
    h.clock.advance(step - 1);
    await settle();
    assert.equal((await inst.describe()).steps.filter((s) => s.type === "waitForEvent").length, n, `wait ${n} still waits 1 ms before its timeout`);
    h.clock.advance(1);
  }
  const s = await inst.waitFor();
  assert.deepEqual(s.output, [250, 750, 2000, 24 * HOUR, 24 * HOUR, "invalid_duration"]);
});

// ---- 10. step config as strict as the reference ------------------------------------------------------

// workers-sdk lib/validators.ts (STEP_CONFIG_SCHEMA: retries { delay, limit } required, backoff
// optional) and context.ts's message for a config it refuses.
test("item 10: a retries object without limit or delay is refused with the reference's message", LIMIT, async (t) => {
  const h = await open(t);
  const rec = recorder();
  await deploy(h.engine, "strict-cfg", wf(`
    const out = [];
    for (const retries of [{ limit: 3 }, { delay: "1 second" }, { backoff: "linear" }]) {
      try { await step.do("s " + JSON.stringify(retries), { retries }, async () => { await this.env.hit(1); }); out.push("ran"); }
      catch (e) { out.push(e.message); }
    }
    out.push(await step.do("full", { retries: { limit: 3, delay: "1 second" } }, async () => "ran"));
    return out;`), { env: rec.env });
  const s = await (await h.engine.workflow(TENANT, "strict-cfg").create()).waitFor();
  const out = s.output as string[];
  assert.equal(out.length, 4);
  assert.match(out[0]!, /^Step config for "s \{\\?"limit\\?":3\}" is in a invalid format\. See https:\/\/developers\.cloudflare\.com\/workflows\/build\/sleeping-and-retrying\/ — .*retries\.delay is required/);
  assert.match(out[1]!, /^Step config for .* is in a invalid format\. See https:\/\/developers\.cloudflare\.com\/workflows\/build\/sleeping-and-retrying\/ — .*retries\.limit is required/);
  assert.match(out[2]!, /retries\.limit is required/);
  assert.equal(out[3], "ran");
  assert.deepEqual(rec.calls, [], "no refused step ran its body");
});

// ---- 11. rollback handlers ----------------------------------------------------------------------------

// workers-sdk lib/rollback.ts (executeRollbacks: "LIFO; halts on first failure", the handler gets
// `ctx: structuredClone(entry.stepContext)` — the step's own { step: { name, count }, attempt, config }
// — `error: triggerError`, `output`, and the deprecated `stepName`); engine.ts readEligibleRollbackStepsDesc
// (every step with a rollback that started, newest start first). Reference 1.3 (rollback / saga).
test("item 11: rollback handlers get the step's own context, run newest first and stop at the first failure", LIMIT, async (t) => {
  const h = await open(t);
  const rec = recorder();
  await deploy(h.engine, "saga", wf(`
    const undo = (failing) => ({
      rollback: async ({ ctx, error, output, stepName }) => {
        await this.env.hit({ name: ctx.step.name, count: ctx.step.count, attempt: ctx.attempt, limit: ctx.config.retries.limit, error: error.message, output, stepName });
        if (failing) throw new Error("cannot undo " + ctx.step.name);
      },
      rollbackConfig: { retries: { limit: 0, delay: 1 } },
    });
    const cfg = { retries: { limit: 1, delay: "1 second", backoff: "constant" } };
    await step.do("reserve", async () => "r1", undo(false));
    await step.do("charge", cfg, async (ctx) => { if (ctx.attempt === 1) throw new Error("flaky"); return "c1"; }, undo(true));
    await step.do("charge", async () => "c2", undo(false));
    await step.do("ship", { retries: { limit: 0, delay: 1 } }, async () => { throw new Error("no truck"); }, undo(false));`), { env: rec.env });
  const inst = await h.engine.workflow(TENANT, "saga").create();
  await describeUntil(inst, "charge's first attempt to fail", (d) => stepsOf(d, "charge")[0]?.attempts.length === 1);
  h.clock.advance(SECOND);
  const s = await inst.waitFor();
  assert.equal(s.status, "errored");
  assert.equal(s.error!.message, "no truck");
  assert.deepEqual(rec.calls, [
    { name: "ship", count: 1, attempt: 1, limit: 0, error: "no truck", output: undefined, stepName: "ship-1" },
    { name: "charge", count: 2, attempt: 1, limit: 5, error: "no truck", output: "c2", stepName: "charge-2" },
    { name: "charge", count: 1, attempt: 2, limit: 1, error: "no truck", output: "c1", stepName: "charge-1" },
  ], "newest first; the failed charge-1 handler stops the chain: reserve is not rolled back");
  const rollbacks = (await inst.describe()).steps.filter((x) => x.type === "rollback");
  assert.deepEqual(rollbacks.map((r) => [r.type === "rollback" && r.name, r.type === "rollback" && r.success]), [["ship", true], ["charge", true], ["charge", false]]);
});

test("item 11: a rollback handler cannot start steps (Cloudflare: Cannot execute steps during rollback phase)", LIMIT, async (t) => {
  const h = await open(t);
  const rec = recorder();
  await deploy(h.engine, "rb-steps", wf(`
    await step.do("a", async () => 1, { rollback: async () => {
      try { await step.do("inside", async () => 2); await this.env.hit("ran"); } catch (e) { await this.env.hit(e.message); }
    } });
    throw new Error("fail");`), { env: rec.env });
  const s = await (await h.engine.workflow(TENANT, "rb-steps").create()).waitFor();
  assert.equal(s.status, "errored");
  assert.equal(rec.calls.length, 1);
  assert.match(String(rec.calls[0]), /^Cannot execute steps during rollback phase/);
});
