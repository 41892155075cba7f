// The Cloudflare-style examples in examples/cloudflare/, each run twice: through `weft run` (the CLI
// as a child process, as a developer runs them) and through the library (Engine.open + deploy +
// create + waitFor, as a platform embeds Weft), asserting what Cloudflare Workflows would give:
// outputs, statuses, attempts, timeouts, events and rollbacks (../shared/reference/cloudflare-workflows.md).
// The library runs use the engine's virtual clock (test/engine/helpers.ts), so days pass at once;
// the retries example runs in real time (its delays are milliseconds and a timeout must really cut
// off an attempt).
import { describe, test, after } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { cpSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { Buffer } from "node:buffer";
import { SystemClock, workflowBinding, type WorkflowInstance } from "../../src/index.ts";
import { localBindings } from "../../examples/cloudflare/d1-r2/local-bindings.ts";
import type { InstanceDetail, StepDetail } from "../../src/engine/describe.ts";
import { collectModules } from "../../src/cli/modules.ts";
import { withPackages } from "../../src/cli/packages.ts";
import { HOUR, MINUTE, SECOND, START, TENANT, describeUntil, open, stepsOf, type Harness } from "../engine/helpers.ts";

const DAY_MS = 24 * HOUR;

const ROOT = fileURLToPath(new URL("../../", import.meta.url));
const MAIN = join(ROOT, "src/cli/main.ts");
const EX = join(ROOT, "examples/cloudflare");
const LIMIT = { timeout: 60_000 };

const temps: string[] = [];
after(() => {
  for (const d of temps) rmSync(d, { recursive: true, force: true });
});

// ---- weft run ----------------------------------------------------------------------------------

interface Result {
  code: number | null;
  stdout: string;
  stderr: string;
  ms: number;
}

function weft(args: string[], timeoutMs = 40_000): Promise<Result> {
  return new Promise((resolve, reject) => {
    const t0 = performance.now();
    const child = spawn(process.execPath, [MAIN, "run", ...args], { cwd: ROOT, stdio: ["ignore", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d) => (stdout += d));
    child.stderr.on("data", (d) => (stderr += d));
    const timer = setTimeout(() => child.kill("SIGKILL"), timeoutMs);
    child.on("error", reject);
    child.on("close", (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr, ms: performance.now() - t0 });
    });
  });
}

type Out = Record<string, any>;

function detailOf(r: Result): InstanceDetail & { output: Out } {
  try {
    return JSON.parse(r.stdout);
  } catch {
    assert.fail(`stdout is not JSON (exit ${r.code}):\n${r.stdout}\nstderr:\n${r.stderr}`);
  }
}

const example = (name: string) => join("examples/cloudflare", name, "src/index.ts");
const shape = (d: InstanceDetail) => d.steps.map((s) => `${s.type}:${"name" in s ? s.name : ""}`);
const attempts = (d: InstanceDetail, name: string) => stepsOf(d, name)[0]!.attempts.map((a) => (a.success ? "ok" : a.error?.name));
const rollbacks = (d: InstanceDetail) => d.steps.filter((s): s is Extract<StepDetail, { type: "rollback" }> => s.type === "rollback");

/** The npm example copied to a temp dir with node_modules/tiny-mime installed from its packages/ (what `npm install` makes of the file: dependency). */
function npmProject(install = true): string {
  const dir = mkdtempSync(join(tmpdir(), "weft-npm-example-"));
  temps.push(dir);
  cpSync(join(EX, "npm-dependency"), dir, { recursive: true });
  if (install) cpSync(join(dir, "packages/tiny-mime"), join(dir, "node_modules/tiny-mime"), { recursive: true });
  return dir;
}

const expectedInvoice = (cartId: string, email: string) =>
  [
    `From: =?utf-8?B?${Buffer.from("Tierbedarf Müller").toString("base64")}?= <shop@example.com>`,
    `To: <${email}>`,
    `Subject: =?utf-8?B?${Buffer.from(`Ihre Rechnung für ${cartId}`).toString("base64")}?=`,
    "MIME-Version: 1.0",
    "Content-Type: text/plain; charset=utf-8",
    "Content-Transfer-Encoding: 8bit",
    "",
    "Katzenbaum: 89.99 EUR",
    "Leckerli: 4.50 EUR",
    "Total: 94.49 EUR",
    "",
  ].join("\r\n");

describe("examples/cloudflare through weft run", { concurrency: 3 }, () => {
  test("starter: the sign-off arrives, the report is published; the fetch handler is reported as not run", LIMIT, async () => {
    const r = await weft([example("starter"), "--skip-time", "--params", '{"customer":"Acme Corp"}', "--event", 'review={"approved":true,"reviewer":"ada"}']);
    assert.equal(r.code, 0, r.stderr);
    const d = detailOf(r);
    assert.equal(d.status, "complete");
    assert.deepEqual(d.output, {
      customer: "Acme Corp", published: true, reviewer: "ada",
      contents: ["1. q3-invoices", "2. q3-contracts", "3. q3-payroll"], ignored: ["scratch.txt"],
      url: `https://reports.example.com/Acme%20Corp/${d.id}.html`,
    });
    assert.deepEqual(shape(d), ["step:collect documents", "waitForEvent:wait for sign-off", "step:render report", "sleep:wait for the CDN cache to expire", "step:publish report"]);
    assert.match(r.stderr, /not run: export default \(fetch handler\)/);
  });

  test("starter: nobody signs off within the hour: waitForEvent throws, the instance errors with WorkflowTimeoutError", LIMIT, async () => {
    const r = await weft([example("starter"), "--skip-time", "--params", '{"customer":"Acme Corp"}']);
    assert.equal(r.code, 1, r.stderr);
    const d = detailOf(r);
    assert.equal(d.status, "errored");
    assert.equal(d.error?.name, "WorkflowTimeoutError");
    const wait = d.steps.find((s) => s.type === "waitForEvent")!;
    assert.equal(wait.type === "waitForEvent" && wait.error?.name, "WorkflowTimeoutError");
    assert.equal(Date.parse(wait.end!) - Date.parse(wait.start), HOUR, "the wait lasted its timeout");
    assert.equal(d.steps.length, 2, "no step after the wait ran");
  });

  test("rules of workflows: one charge despite a retry, parallel and dynamically named steps, a cached race winner", LIMIT, async () => {
    const r = await weft([example("rules-of-workflows"), "--skip-time"]);
    assert.equal(r.code, 0, r.stderr);
    const d = detailOf(r);
    const o = d.output;
    assert.deepEqual(o.lines, [{ sku: "api-calls", amountCents: 26000 }, { sku: "storage-gb", amountCents: 1950 }, { sku: "seats", amountCents: 2700 }]);
    assert.equal(o.totalCents, 30650);
    assert.deepEqual(o.charge, { chargeId: "ch_cus_42_1", customerId: "cus_42", amountCents: 30650, attempt: 2, alreadyCharged: true, timesCharged: 1 });
    assert.deepEqual(attempts(d, "charge cus_42 for 2026-09"), ["Error", "ok"]);
    assert.match(o.receiptNo, /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    assert.deepEqual(o.courier, { courier: "B", priceCents: 420 });
    assert.deepEqual(o.mailed, { receiptNo: o.receiptNo, courier: "B", to: "Ada Lovelace" });
    assert.deepEqual(stepsOf(d).map((s) => s.name).filter((n) => n.startsWith("price ")), ["price api-calls", "price storage-gb", "price seats"]);
    assert.equal(stepsOf(d, "quote from courier A")[0]!.success, true, "the slower nested step also completed");
    assert.equal(r.stderr.match(/billing cus_42 for 2026-09/g)?.length, 1);
    assert.equal(r.stderr.match(/mailing receipt/g)?.length, 1);
  });

  test("retries: ctx.attempt picks the fallback, a hung attempt times out, NonRetryableError is not retried (real time)", LIMIT, async () => {
    const r = await weft([example("retries")]);
    assert.equal(r.code, 0, r.stderr);
    assert.ok(r.ms < 20_000, `took ${r.ms} ms`);
    const d = detailOf(r);
    assert.deepEqual(d.output.stock, { endpoint: "fallback", attempt: 4, items: { "sku-1": 12, "sku-2": 0, "sku-3": 7 } });
    assert.deepEqual(d.output.prices, { attempt: 2, currency: "EUR", timeout: "1 second" });
    assert.equal(d.output.storefront, "skipped (AuthError: the storefront rejected the API token)");
    assert.deepEqual(attempts(d, "fetch stock levels"), ["Error", "Error", "Error", "ok"]);
    assert.deepEqual(attempts(d, "fetch prices"), ["WorkflowTimeoutError", "ok"]);
    assert.deepEqual(attempts(d, "push to storefront"), ["AuthError"]);
    const logged = [...r.stderr.matchAll(/\{"step":.*\}/g)].map((m) => JSON.parse(m[0]));
    assert.deepEqual(logged.map((l) => [l.attempt, l.endpoint, l.retryLimit, l.count]), [[1, "primary", 5, 1], [2, "primary", 5, 1], [3, "primary", 5, 1], [4, "fallback", 5, 1]]);
  });

  test("retries, strict: the uncaught NonRetryableError fails the instance with its own name and message", LIMIT, async () => {
    const r = await weft([example("retries"), "--params", '{"strict":true}']);
    assert.equal(r.code, 1, r.stderr);
    const d = detailOf(r);
    assert.equal(d.status, "errored");
    assert.deepEqual([d.error?.name, d.error?.message], ["AuthError", "the storefront rejected the API token"]);
    assert.deepEqual(attempts(d, "push to storefront"), ["AuthError"]);
  });

  test("human approval: the manager approves, the claim is reimbursed", LIMIT, async () => {
    const r = await weft([example("human-approval"), "--skip-time", "--params", '{"employee":"sam","amountCents":4250,"description":"train"}',
      "--event", 'expense-decision={"approved":true,"approver":"maria"}']);
    assert.equal(r.code, 0, r.stderr);
    const d = detailOf(r);
    assert.deepEqual(d.output, { ref: `EXP-${d.id.slice(0, 8).toUpperCase()}`, status: "reimbursed", by: "maria", escalated: false, payout: { amountCents: 4250, to: "sam", batch: "next-payroll" } });
    assert.deepEqual(shape(d), ["step:file the claim", "waitForEvent:wait for the manager", "step:schedule the reimbursement"]);
  });

  test("human approval: no decision at all: the first timeout escalates, the second (uncaught) errors the instance", LIMIT, async () => {
    const r = await weft([example("human-approval"), "--skip-time", "--params", '{"employee":"sam","amountCents":4250,"description":"train"}']);
    assert.equal(r.code, 1, r.stderr);
    const d = detailOf(r);
    assert.equal(d.status, "errored");
    assert.equal(d.error?.name, "WorkflowTimeoutError");
    assert.deepEqual(shape(d), ["step:file the claim", "waitForEvent:wait for the manager", "step:escalate to finance", "waitForEvent:wait for finance"]);
    const waits = d.steps.filter((s): s is Extract<StepDetail, { type: "waitForEvent" }> => s.type === "waitForEvent");
    assert.deepEqual(waits.map((w) => [w.error?.name, Date.parse(w.end!) - Date.parse(w.start)]), [["WorkflowTimeoutError", 3 * DAY_MS], ["WorkflowTimeoutError", DAY_MS]]);
    assert.match(r.stderr, /no decision in 3 days \(WorkflowTimeoutError\), escalating/);
  });

  test("npm dependency: the package in node_modules is bundled with the workerd condition", LIMIT, async () => {
    const dir = npmProject();
    const r = await weft([join(dir, "src/index.ts"), "--params", '{"cartId":"cart-7","email":"kim@example.com"}']);
    assert.equal(r.code, 0, r.stderr);
    const d = detailOf(r);
    assert.equal(d.output.bundled, "workerd", "the workerd build of the package, not its node:buffer one");
    assert.equal(d.output.raw, expectedInvoice("cart-7", "kim@example.com"));
    assert.deepEqual(d.output.sent, { to: "kim@example.com", bytes: Buffer.byteLength(expectedInvoice("cart-7", "kim@example.com")) });
  });

  test("npm dependency, not installed: a compile error that names the package and the line", LIMIT, async () => {
    const dir = npmProject(false);
    const r = await weft([join(dir, "src/index.ts")]);
    assert.equal(r.code, 1);
    const err = JSON.parse(r.stderr) as { code: string; message: string };
    assert.equal(err.code, "compile_error");
    assert.match(err.message, /index\.ts:6:\d+: cannot resolve "tiny-mime": it is not installed in node_modules.*npm install it/);
  });

  test("schedule: each reminder is sent at the moment step.sleepUntil named, then a two-day grace period", LIMIT, async () => {
    const r = await weft([example("schedule"), "--skip-time", "--params", '{"email":"kim@example.com"}']);
    assert.equal(r.code, 0, r.stderr);
    const d = detailOf(r);
    const o = d.output;
    assert.deepEqual(o.sent.map((s: Out) => s.kind), ["getting started tips", "trial ends in 3 days", "trial ended"]);
    for (const s of o.sent) assert.equal(s.sentAt, s.scheduledFor, `${s.kind} sent on time`);
    const tips = new Date(o.sent[0].scheduledFor);
    assert.deepEqual([tips.getUTCDay(), tips.getUTCHours(), tips.getUTCMinutes()], [1, 9, 0], "a Monday, 09:00 UTC");
    assert.ok(tips.getTime() > Date.parse(d.start!) && tips.getTime() - Date.parse(d.start!) <= 7 * DAY_MS);
    assert.equal(o.trialEnds, new Date(Date.parse(d.start!) + 14 * DAY_MS).toISOString());
    assert.equal(o.downgrade.at, new Date(Date.parse(o.trialEnds) + 2 * DAY_MS).toISOString());
    assert.deepEqual(d.steps.filter((s) => s.type === "sleep").map((s) => s.type === "sleep" && s.finished), [true, true, true, true]);
  });

  test("d1-r2: orders read from D1 with prepare().bind(), written to R2, recorded with batch(), read back", LIMIT, async () => {
    const r = await weft([example("d1-r2"), "--bindings", "examples/cloudflare/d1-r2/local-bindings.ts", "--params", '{"day":"2026-09-30"}']);
    assert.equal(r.code, 0, r.stderr);
    const d = detailOf(r);
    assert.deepEqual(d.output, {
      day: "2026-09-30",
      summary: { orders: 3, cents: 17249 },
      exported: { key: "exports/orders-2026-09-30.csv", size: 57, etag: '"57-29"', reused: false },
      recorded: { exportRows: 1, ordersMarked: 3 },
      check: { contentType: "text/csv", rows: 3, header: "id,customer,total_cents" },
    });
  });

  test("d1-r2: a day without orders is a NonRetryableError: one attempt, errored", LIMIT, async () => {
    const r = await weft([example("d1-r2"), "--bindings", "examples/cloudflare/d1-r2/local-bindings.ts", "--params", '{"day":"2026-01-01"}']);
    assert.equal(r.code, 1, r.stderr);
    const d = detailOf(r);
    assert.deepEqual([d.error?.name, d.error?.message], ["NothingToExport", "no orders on 2026-01-01"]);
    assert.deepEqual(attempts(d, "count the day's orders"), ["NothingToExport"]);
  });

  test("d1-r2 without --bindings: the step fails on the missing binding; a missing bindings file is a usage error", LIMIT, async () => {
    const none = await weft([example("d1-r2"), "--skip-time"]);
    assert.equal(none.code, 1);
    assert.match(detailOf(none).error!.message, /prepare|undefined/);
    const missing = await weft([example("d1-r2"), "--bindings", "examples/cloudflare/d1-r2/nope.ts"]);
    assert.equal(missing.code, 2);
    assert.match(missing.stderr, /cannot read --bindings examples\/cloudflare\/d1-r2\/nope\.ts: no such file/);
  });

  test("fan-out: createBatch in a step starts a child per image, each reports back with sendEvent", LIMIT, async () => {
    const r = await weft([example("fan-out"), "--skip-time", "--bindings", "examples/cloudflare/fan-out/local-bindings.ts"]);
    assert.equal(r.code, 0, r.stderr);
    const d = detailOf(r);
    assert.deepEqual(d.output.children, [1, 2, 3].map((i) => `${d.id}-${i}`));
    assert.deepEqual(d.output.thumbnails, ["cat", "dog", "owl"].map((n) => ({ image: `${n}.jpg`, thumbnail: `${n}-200.webp`, width: 200 })));
    for (const st of d.output.statuses) assert.ok(st === "complete" || st === "running", `${st}: ${r.stdout.slice(0, 6000)}`);
    assert.deepEqual(shape(d), ["step:start one instance per image", "waitForEvent:collect thumbnail 1", "waitForEvent:collect thumbnail 2", "waitForEvent:collect thumbnail 3", "step:check the children"]);
  });

  test("saga: everything books and the trip is charged", LIMIT, async () => {
    const r = await weft([example("saga-rollback"), "--skip-time", "--event", "confirm={}"]);
    assert.equal(r.code, 0, r.stderr);
    const d = detailOf(r);
    assert.deepEqual(d.output, { traveler: "Kim", bookings: ["FL-1", "HT-1", "CR-1", "PAY-1"], stillBooked: [true, true, true, true] });
    assert.equal(rollbacks(d).length, 0);
  });

  test("saga: the car is unavailable: the failed step and every earlier one are compensated, newest first", LIMIT, async () => {
    const r = await weft([example("saga-rollback"), "--skip-time", "--params", '{"failAt":"car"}']);
    assert.equal(r.code, 1, r.stderr);
    const d = detailOf(r);
    assert.equal(d.status, "errored");
    assert.deepEqual([d.error?.name, d.error?.message], ["Unavailable", "no car available in Lisbon"]);
    assert.deepEqual(attempts(d, "reserve car"), ["Unavailable"], "NonRetryableError: one attempt");
    assert.deepEqual(rollbacks(d).map((s) => [s.name, s.success]), [["reserve car", true], ["reserve hotel", true], ["reserve flight", true]]);
    assert.deepEqual([...r.stderr.matchAll(/rollback: (.*)/g)].map((m) => m[1]), [
      'no car booking to cancel (step "reserve car", attempt 1)', "cancelled hotel HT-1", "cancelled flight FL-1",
    ]);
  });

  test("saga: the traveler never confirms: the wait's timeout fails the workflow and the bookings are undone", LIMIT, async () => {
    const r = await weft([example("saga-rollback"), "--skip-time"]);
    assert.equal(r.code, 1, r.stderr);
    const d = detailOf(r);
    assert.equal(d.error?.name, "WorkflowTimeoutError");
    assert.deepEqual(rollbacks(d).map((s) => s.name), ["reserve car", "reserve hotel", "reserve flight"]);
    assert.equal(stepsOf(d, "charge card").length, 0);
  });
});

// ---- the library -------------------------------------------------------------------------------

async function deployExample(h: Harness, name: string, workflow = name) {
  return h.engine.deploy({ tenant: TENANT, workflow, code: collectModules(join(EX, name, "src/index.ts")) });
}

async function logs(h: Harness, inst: WorkflowInstance): Promise<string[]> {
  return (await h.engine.logs(inst.record, 0, 1000)).map((l) => l.message);
}

const hasStep = (type: string, name: string) => (d: InstanceDetail) => d.steps.some((s) => s.type === type && "name" in s && s.name === name);

describe("examples/cloudflare through the library", { concurrency: 3 }, () => {
  test("starter: deploy reports the fetch handler as ignored; an event sent before the wait is delivered", LIMIT, async (t) => {
    const h = await open(t);
    const r = await deployExample(h, "starter", "reports");
    assert.equal(r.className, "QuarterlyReport");
    assert.deepEqual(r.ignored.map((x) => [x.export, x.kind, x.handlers]), [["default", "fetch handler", ["fetch"]]]);
    const wf = h.engine.workflow(TENANT, "reports");

    const inst = await wf.create({ id: "report-1", params: { customer: "Acme Corp", documents: ["a.pdf", "b.doc", "c.pdf"] } });
    await inst.sendEvent({ type: "review", payload: { approved: true, reviewer: "grace" } }); // buffered until the wait
    await describeUntil(inst, "the CDN sleep", hasStep("sleep", "wait for the CDN cache to expire"));
    h.clock.advance(5 * MINUTE);
    const s = await inst.waitFor();
    assert.equal(s.status, "complete", JSON.stringify(s.error));
    assert.deepEqual(s.output, {
      customer: "Acme Corp", published: true, reviewer: "grace", contents: ["1. a", "2. c"], ignored: ["b.doc"],
      url: "https://reports.example.com/Acme%20Corp/report-1.html",
    });

    const rejected = await wf.create({ id: "report-2", params: { customer: "Beta" } });
    await describeUntil(rejected, "the wait", hasStep("waitForEvent", "wait for sign-off"));
    await rejected.sendEvent({ type: "review", payload: { approved: false, reviewer: "grace" } });
    assert.deepEqual((await rejected.waitFor()).output, { customer: "Beta", published: false, reviewer: "grace" });

    const silent = await wf.create({ id: "report-3", params: { customer: "Gamma" } });
    await describeUntil(silent, "the wait", hasStep("waitForEvent", "wait for sign-off"));
    h.clock.advance(HOUR);
    const timedOut = await silent.waitFor();
    assert.equal(timedOut.status, "errored");
    assert.equal(timedOut.error?.name, "WorkflowTimeoutError");
    assert.equal(timedOut.output, null);
  });

  test("rules of workflows: the state built from step results survives an engine restart during the sleep", LIMIT, async (t) => {
    const h = await open(t);
    await deployExample(h, "rules-of-workflows", "billing");
    let inst = await h.engine.workflow(TENANT, "billing").create({ id: "bill-1", params: { customerId: "cus_7", period: "2026-10" } });
    await describeUntil(inst, "the charge's first attempt to fail", (d) => stepsOf(d, "charge cus_7 for 2026-10")[0]?.attempts[0]?.success === false);
    h.clock.advance(10 * SECOND);
    await describeUntil(inst, "the dispute-window sleep", hasStep("sleep", "wait out the dispute window"));
    // the process goes away: in-memory state is gone, the journal is not
    await h.reopen();
    h.clock.advance(2 * HOUR);
    inst = await h.engine.workflow(TENANT, "billing").get("bill-1");
    const s = await inst.waitFor();
    assert.equal(s.status, "complete", JSON.stringify(s.error));
    const o = s.output as Out;
    assert.equal(o.customer, "Customer cus_7");
    assert.deepEqual(o.lines, [{ sku: "api-calls", amountCents: 24000 }, { sku: "storage-gb", amountCents: 1800 }, { sku: "seats", amountCents: 2700 }]);
    assert.deepEqual(o.charge, { chargeId: "ch_cus_7_1", customerId: "cus_7", amountCents: 28500, attempt: 2, alreadyCharged: true, timesCharged: 1 });
    assert.deepEqual(o.mailed, { receiptNo: o.receiptNo, courier: "B", to: "Customer cus_7" }, "the receipt number and the race winner from before the restart");
    const lines = await logs(h, inst);
    assert.equal(lines.filter((l) => l === "billing cus_7 for 2026-10").length, 1);
    assert.equal(lines.filter((l) => l.startsWith("mailing receipt")).length, 1);
  });

  test("retries: attempts, timeout and NonRetryableError on the engine's real clock", LIMIT, async (t) => {
    const h = await open(t, { clock: new SystemClock() });
    await deployExample(h, "retries", "inventory");
    const wf = h.engine.workflow(TENANT, "inventory");
    const [ok, strict] = await Promise.all([wf.create({ params: { token: "valid-token" } }), wf.create({ params: { strict: true } })]);
    const [a, b] = await Promise.all([ok.waitFor(), strict.waitFor()]);
    assert.equal(a.status, "complete", JSON.stringify(a.error));
    assert.deepEqual(a.output, {
      stock: { endpoint: "fallback", attempt: 4, items: { "sku-1": 12, "sku-2": 0, "sku-3": 7 } },
      prices: { attempt: 2, currency: "EUR", timeout: "1 second" },
      storefront: "pushed 3 SKUs",
    });
    const d = await ok.describe();
    assert.deepEqual(attempts(d, "fetch prices"), ["WorkflowTimeoutError", "ok"]);
    const hung = stepsOf(d, "fetch prices")[0]!.attempts[0]!;
    const took = Date.parse(hung.end!) - Date.parse(hung.start);
    assert.ok(took >= 1000 && took < 2500, `the hung attempt was cut off after ${took} ms`);
    assert.equal(b.status, "errored");
    assert.deepEqual([b.error?.name, b.error?.message], ["AuthError", "the storefront rejected the API token"]);
  });

  test("human approval: a decision sent after the first timeout reaches the finance wait", LIMIT, async (t) => {
    const h = await open(t);
    await deployExample(h, "human-approval", "expenses");
    const wf = h.engine.workflow(TENANT, "expenses");

    const early = await wf.create({ id: "claim-1", params: { employee: "sam", amountCents: 1200, description: "taxi" } });
    await early.sendEvent({ type: "expense-decision", payload: { approved: true, approver: "maria" } });
    assert.deepEqual((await early.waitFor()).output, { ref: "EXP-CLAIM-1", status: "reimbursed", by: "maria", escalated: false, payout: { amountCents: 1200, to: "sam", batch: "next-payroll" } });

    const late = await wf.create({ id: "claim-2", params: { employee: "lee", amountCents: 99900, description: "laptop" } });
    await describeUntil(late, "the manager's wait", hasStep("waitForEvent", "wait for the manager"));
    h.clock.advance(3 * DAY_MS);
    await describeUntil(late, "the finance wait", hasStep("waitForEvent", "wait for finance"));
    await late.sendEvent({ type: "expense-decision", payload: { approved: false, approver: "finance", note: "over budget" } });
    const s = await late.waitFor();
    assert.equal(s.status, "complete", JSON.stringify(s.error));
    assert.deepEqual(s.output, { ref: "EXP-CLAIM-2", status: "rejected", by: "finance", note: "over budget", escalated: true });
    const d = await late.describe();
    const manager = d.steps.find((x) => x.type === "waitForEvent" && x.name === "wait for the manager")!;
    assert.equal(manager.type === "waitForEvent" && manager.error?.name, "WorkflowTimeoutError");
  });

  test("npm dependency: the CLI's bundler makes the modules, the library deploys and runs them", LIMIT, async (t) => {
    const h = await open(t);
    const dir = npmProject();
    const code = await withPackages(collectModules(join(dir, "src/index.ts")), dir);
    assert.deepEqual(code.packages, ["tiny-mime"]);
    await h.engine.deploy({ tenant: TENANT, workflow: "invoices", code });
    const inst = await h.engine.workflow(TENANT, "invoices").create({ params: { cartId: "cart-9", email: "jo@example.com" } });
    const s = await inst.waitFor();
    assert.equal(s.status, "complete", JSON.stringify(s.error));
    const o = s.output as Out;
    assert.equal(o.bundled, "workerd");
    assert.equal(o.raw, expectedInvoice("cart-9", "jo@example.com"));
    assert.equal(o.totalCents, 9449);
  });

  test("schedule: the instance waits until each sleepUntil date, then runs at that moment", LIMIT, async (t) => {
    const h = await open(t); // the clock starts at 2026-01-01T00:00Z, a Thursday
    await deployExample(h, "schedule", "trials");
    const inst = await h.engine.workflow(TENANT, "trials").create({ params: { email: "kim@example.com", trialDays: 14 } });
    const tips = Date.UTC(2026, 0, 5, 9); // Monday 09:00 UTC
    const soon = Date.UTC(2026, 0, 12, 9);
    const ended = START + 14 * DAY_MS;
    await describeUntil(inst, "the first sleepUntil", hasStep("sleep", 'wait for "getting started tips"'));
    h.clock.advanceTo(tips - MINUTE);
    await new Promise((r) => setTimeout(r, 50));
    assert.equal((await inst.status()).status, "waiting");
    assert.equal(stepsOf(await inst.describe(), 'send "getting started tips"').length, 0, "not sent a minute early");
    h.clock.advanceTo(tips);
    await describeUntil(inst, "the second sleepUntil", hasStep("sleep", 'wait for "trial ends in 3 days"'));
    h.clock.advanceTo(soon);
    await describeUntil(inst, "the third sleepUntil", hasStep("sleep", 'wait for "trial ended"'));
    h.clock.advanceTo(ended);
    await describeUntil(inst, "the grace period", hasStep("sleep", "grace period"));
    h.clock.advance(2 * DAY_MS);
    const s = await inst.waitFor();
    assert.equal(s.status, "complete", JSON.stringify(s.error));
    const iso = (ms: number) => new Date(ms).toISOString();
    assert.deepEqual(s.output, {
      email: "kim@example.com",
      trialEnds: iso(ended),
      sent: [
        { kind: "getting started tips", scheduledFor: iso(tips), sentAt: iso(tips) },
        { kind: "trial ends in 3 days", scheduledFor: iso(soon), sentAt: iso(soon) },
        { kind: "trial ended", scheduledFor: iso(ended), sentAt: iso(ended) },
      ],
      downgrade: { email: "kim@example.com", plan: "free", at: iso(ended + 2 * DAY_MS) },
    });
  });

  test("d1-r2: the platform's D1 and R2 objects in env; a second export of the day reuses the object", LIMIT, async (t) => {
    const h = await open(t);
    const { DB, EXPORTS, db } = localBindings();
    await h.engine.deploy({ tenant: TENANT, workflow: "exports", code: collectModules(join(EX, "d1-r2/src/index.ts")), env: { DB, EXPORTS } });
    const wf = h.engine.workflow(TENANT, "exports");
    const first = await (await wf.create({ params: { day: "2026-09-30" } })).waitFor();
    assert.equal(first.status, "complete", JSON.stringify(first.error));
    assert.deepEqual((first.output as Out).exported, { key: "exports/orders-2026-09-30.csv", size: 57, etag: '"57-29"', reused: false });
    assert.equal(EXPORTS.objects.get("exports/orders-2026-09-30.csv")!.body, "id,customer,total_cents\n2,ada,4999\n3,sam,250\n4,lee,12000\n");
    assert.deepEqual(db.prepare("SELECT day, r2_key, rows FROM exports").all().map((r) => ({ ...r })), [{ day: "2026-09-30", r2_key: "exports/orders-2026-09-30.csv", rows: 3 }]);
    assert.deepEqual(db.prepare("SELECT id FROM orders WHERE exported = 1 ORDER BY id").all().map((r) => r.id), [2, 3, 4]);
    const again = await (await wf.create({ params: { day: "2026-09-30" } })).waitFor();
    assert.deepEqual((again.output as Out).exported.reused, true);
    assert.deepEqual((again.output as Out).recorded, { exportRows: 1, ordersMarked: 3 });
    assert.equal(db.prepare("SELECT COUNT(*) AS n FROM exports").get()!.n, 1, "the upsert kept one row");
  });

  test("fan-out: a Workflow binding to the tenant's own workflow; the children are instances of their own", LIMIT, async (t) => {
    const h = await open(t);
    await h.engine.deploy({ tenant: TENANT, workflow: "thumbs", code: collectModules(join(EX, "fan-out/src/index.ts")), env: { THUMBNAILS: workflowBinding("thumbs") } });
    const wf = h.engine.workflow(TENANT, "thumbs");
    const parent = await wf.create({ id: "batch-1", params: { images: ["b.png", "a.jpg"] } });
    const s = await parent.waitFor();
    assert.equal(s.status, "complete", JSON.stringify(s.error));
    assert.deepEqual((s.output as Out).children, ["batch-1-1", "batch-1-2"]);
    assert.deepEqual((s.output as Out).thumbnails, [{ image: "a.jpg", thumbnail: "a-200.webp", width: 200 }, { image: "b.png", thumbnail: "b-200.webp", width: 200 }]);
    const child = await (await wf.get("batch-1-2")).waitFor();
    assert.deepEqual([child.status, child.output], ["complete", { image: "a.jpg", thumbnail: "a-200.webp", width: 200 }]);
    assert.deepEqual((await (await wf.get("batch-1-1")).describe()).params, { role: "image", image: "b.png", parentId: "batch-1" });
  });

  test("saga: a failed payment compensates everything; terminate({ rollback: true }) compensates, terminate() does not", LIMIT, async (t) => {
    const h = await open(t);
    await deployExample(h, "saga-rollback", "trips");
    const wf = h.engine.workflow(TENANT, "trips");

    const failing = await wf.create({ id: "trip-1", params: { traveler: "Ana", city: "Porto", failAt: "payment" } });
    await failing.sendEvent({ type: "confirm", payload: {} });
    const f = await failing.waitFor();
    assert.equal(f.status, "errored");
    assert.deepEqual([f.error?.name, f.error?.message], ["Unavailable", "no payment available in Porto"]);
    const fd = await describeUntil(failing, "four rollbacks", (d) => rollbacks(d).length === 4);
    assert.deepEqual(rollbacks(fd).map((s) => [s.name, s.success]), [["charge card", true], ["reserve car", true], ["reserve hotel", true], ["reserve flight", true]]);
    assert.deepEqual((await logs(h, failing)).filter((l) => l.startsWith("rollback: ")), [
      "rollback: nothing was charged", 'rollback: cancelled car CR-1 (step "reserve car", attempt 1)', "rollback: cancelled hotel HT-1", "rollback: cancelled flight FL-1",
    ]);

    const undone = await wf.create({ id: "trip-2", params: { traveler: "Bo" } });
    await describeUntil(undone, "the confirmation wait", hasStep("waitForEvent", "wait for the traveler to confirm"));
    await undone.terminate({ rollback: true });
    const ud = await describeUntil(undone, "three rollbacks", (d) => d.status === "terminated" && rollbacks(d).filter((s) => s.success).length === 3);
    assert.deepEqual(rollbacks(ud).map((s) => s.name), ["reserve car", "reserve hotel", "reserve flight"]);

    const kept = await wf.create({ id: "trip-3", params: { traveler: "Cy" } });
    await describeUntil(kept, "the confirmation wait", hasStep("waitForEvent", "wait for the traveler to confirm"));
    await kept.terminate();
    assert.equal((await kept.waitFor()).status, "terminated");
    await new Promise((r) => setTimeout(r, 100));
    assert.deepEqual(rollbacks(await kept.describe()), [], "the engine does not roll back on a plain terminate");
  });
});
