// The dashboard end to end in Debian's chromium (playwright-core), against a real `weft serve`:
// sign in; deploy from the editor and see the compile error at its line; deploy the fixed version;
// create an instance; watch it go running → waiting; send its event from the UI; see it complete with
// its output; restart it from a step; a tenant-token session cannot see another tenant. Saves
// screenshots of the overview, the list and the detail (test-results/dashboard/).
import { test } from "node:test";
import assert from "node:assert/strict";
import { statSync } from "node:fs";
import type { Page } from "playwright-core";
import { launch, newPage, screenshot, serve, signIn, statusIs } from "./browser.ts";
// the callbacks given to page.evaluate / addInitScript run in the browser, where these exist
declare const window: any, document: any, MutationObserver: any;

const LIMIT = { timeout: 120_000 };

const FIXED = `import { WorkflowEntrypoint } from "cloudflare:workers";

type Params = { amount: number };

export class Approvals extends WorkflowEntrypoint<unknown, Params> {
  async run(event, step) {
    const doubled = await step.do("prepare", async () => {
      await new Promise((r) => setTimeout(r, 2000)); // long enough to be seen running
      console.log("prepared", event.payload.amount);
      return event.payload.amount * 2;
    });
    const approval = await step.waitForEvent("approval", { type: "approval", timeout: "1 hour" });
    return await step.do("finish", async () => {
      const sql = this.ctx.storage.sql;
      sql.exec("CREATE TABLE IF NOT EXISTS finishes (n INTEGER)");
      sql.exec("INSERT INTO finishes VALUES (1)");
      const finishes = sql.exec("SELECT count(*) AS c FROM finishes").one().c;
      return { doubled, approvedBy: approval.payload.by, finishes };
    });
  }
}
`;
// line 9 does not parse
const BROKEN = FIXED.replace(`console.log("prepared", event.payload.amount);`, `console.log("prepared", event.payload.amount;`);
const BROKEN_LINE = 9;

/** replaces the editor's text (CodeMirror's view is exposed on its container for tests) */
async function setCode(page: Page, code: string): Promise<void> {
  await page.getByLabel("Code editor").evaluate((el, text) => {
    const v = (el as unknown as { cmView: { state: { doc: { length: number } }; dispatch(t: unknown): void } }).cmView;
    v.dispatch({ changes: { from: 0, to: v.state.doc.length, insert: text } });
  }, code);
}

const shownStatuses = (page: Page) => page.evaluate(() => (window as unknown as { __statuses: string[] }).__statuses);

test("the dashboard drives a workflow from deploy to restart, and a tenant session sees only its tenant", LIMIT, async (t) => {
  const s = await serve(t);
  await s.api("POST", "/v1/tenants", { name: "acme" });
  await s.api("POST", "/v1/tenants", { name: "beta" });
  const acmeToken = (await s.api("POST", "/v1/tenants/acme/tokens", { name: "ui" })).token as string;
  // beta's private workflow and instance: the acme session must never see them
  await s.api("PUT", "/v1/tenants/beta/workflows/beta-private", { mainModule: "index.ts", modules: { "index.ts": FIXED } });
  await s.api("POST", "/v1/tenants/beta/workflows/beta-private/instances", { id: "beta-secret-instance", params: { amount: 7 } });

  const browser = await launch(t);
  const page = await newPage(t, browser);
  // every status the instance badge shows, in order (a hash navigation keeps the document)
  await page.addInitScript(() => {
    const w = window as unknown as { __statuses: string[] };
    w.__statuses = [];
    new MutationObserver(() => {
      const s = document.querySelector('[data-testid="instance-status"]')?.getAttribute("data-status");
      if (s && w.__statuses[w.__statuses.length - 1] !== s) w.__statuses.push(s);
    }).observe(document, { subtree: true, childList: true, attributes: true, attributeFilter: ["data-status"] });
  });

  // ---- sign in (a wrong token first: a precise error, still signed out) ------------------------------
  await page.goto(s.url + "/");
  await page.getByLabel("API token").fill("weft_not-a-real-token");
  await page.getByRole("button", { name: "Sign in" }).click();
  await page.getByRole("alert").filter({ hasText: "token" }).waitFor();
  assert.equal(await page.getByTestId("principal").count(), 0, "not signed in");
  await page.getByLabel("API token").fill(s.admin);
  await page.getByLabel("API token").press("Enter");
  assert.equal(await page.getByTestId("principal").textContent(), "admin");
  await page.getByRole("heading", { name: "Tenant acme" }).waitFor();
  await page.getByRole("heading", { name: "Tenant beta" }).waitFor();

  // ---- deploy from the editor: the compile error at its line -----------------------------------------
  await page.goto(`${s.url}/#/new?tenant=acme`);
  await page.getByLabel("Workflow name").fill("approvals");
  await page.getByLabel("Code editor").locator(".cm-content").waitFor();
  await setCode(page, BROKEN);
  await page.getByRole("button", { name: "Deploy", exact: true }).click();
  const alert = page.getByRole("alert").filter({ hasText: `index.ts:${BROKEN_LINE}:` });
  await alert.waitFor();
  const marked = page.locator(`.weft-error-line[data-error-line="${BROKEN_LINE}"]`);
  await marked.waitFor();
  assert.equal((await marked.textContent())!.trim(), BROKEN.split("\n")[BROKEN_LINE - 1]!.trim(), "the marked editor line is the broken one");
  assert.equal(await page.locator(".weft-error-line").count(), 1, "one line marked");
  await screenshot(page, "deploy-compile-error");
  const none = await s.api("GET", "/v1/tenants/acme/workflows");
  assert.deepEqual(none.workflows, [], "a failed deploy changes nothing");

  // ---- fixed in the editor, by keyboard: the error's link puts the cursor at 9:51, type ")" -------------
  await alert.getByRole("button", { name: new RegExp(`index\\.ts:${BROKEN_LINE}:51`) }).click();
  await page.keyboard.type(")");
  assert.equal(await page.getByLabel("Code editor").evaluate((el) => (el as unknown as { cmView: { state: { doc: { toString(): string } } } }).cmView.state.doc.toString()), FIXED);
  assert.equal(await page.locator(".weft-error-line").count(), 0, "editing clears the mark");
  await page.getByRole("button", { name: "Deploy", exact: true }).click();
  await page.waitForURL(/#\/t\/acme\/w\/approvals/);
  const wf = await s.api("GET", "/v1/tenants/acme/workflows/approvals");
  assert.equal(wf.versions.length, 1);
  await page.getByText(wf.latestVersion.slice(0, 7)).first().waitFor(); // the version list shows it

  // ---- create an instance with params and metadata -------------------------------------------------------
  await page.getByRole("tab", { name: "Create instance" }).click();
  await page.getByLabel("Instance id").fill("order-1");
  await page.getByLabel("Params (JSON)").fill('{ "amount": 21 }');
  await page.getByLabel("Metadata (JSON)").fill('{ "team": "blue" }');
  await page.getByRole("button", { name: "Create instance", exact: true }).click();
  await page.waitForURL(/#\/t\/acme\/w\/approvals\/i\/order-1/);

  // ---- running → waiting, seen on the page ------------------------------------------------------------------
  await statusIs(page, "waiting");
  const seen = await shownStatuses(page);
  assert.ok(seen.includes("running") && seen.indexOf("running") < seen.indexOf("waiting"), `statuses shown: ${seen.join(" → ")}`);
  await page.getByRole("list", { name: "Step timeline" }).getByRole("listitem").filter({ hasText: "prepare" }).waitFor();
  await page.getByRole("list", { name: "Step timeline" }).getByRole("listitem").filter({ hasText: "approval" }).waitFor();
  assert.match((await page.getByLabel("Params").textContent())!, /"amount": 21/);

  // ---- the event from the UI (bad JSON first: refused, nothing sent) ----------------------------------------
  await page.getByLabel("Event type").fill("approval");
  await page.getByLabel("Event payload (JSON)").fill('{ "by": ');
  await page.getByRole("button", { name: "Send event" }).click();
  await page.getByText(/payload is not JSON/).waitFor();
  assert.equal((await s.api("GET", "/v1/tenants/acme/workflows/approvals/instances/order-1")).status, "waiting", "nothing sent");
  await page.getByLabel("Event payload (JSON)").fill('{ "by": "dana" }');
  await page.getByRole("button", { name: "Send event" }).click();
  await page.getByRole("status").filter({ hasText: "Event sent" }).waitFor();

  // ---- complete, with its output ------------------------------------------------------------------------------
  await statusIs(page, "complete");
  const output = page.getByLabel("Output");
  await output.waitFor();
  assert.deepEqual(JSON.parse((await output.textContent())!), { doubled: 42, approvedBy: "dana", finishes: 1 });
  await screenshot(page, "instance-detail");

  // ---- restart from a chosen step: "finish" runs again (the database kept its row) --------------------------
  page.once("dialog", (d) => void d.accept());
  await page.getByLabel("Restart from").selectOption({ label: "finish" });
  await page.getByRole("button", { name: "Restart", exact: true }).click();
  await page.waitForFunction(() => {
    const el = document.querySelector('[aria-label="Output"]');
    return el && /"finishes": 2/.test(el.textContent ?? "");
  }, undefined, { timeout: 15_000 });
  await statusIs(page, "complete");
  assert.deepEqual(JSON.parse((await page.getByLabel("Output").textContent())!), { doubled: 42, approvedBy: "dana", finishes: 2 });
  const detail = await s.api("GET", "/v1/tenants/acme/workflows/approvals/instances/order-1");
  assert.equal(detail.steps.find((x: { name: string }) => x.name === "prepare").attempts.length, 1, "the steps before the restart point did not run again");

  // ---- screenshots of the overview and the list -----------------------------------------------------------------
  await page.goto(`${s.url}/#/t/acme/w/approvals/instances`);
  await page.locator('[data-instance="order-1"]').waitFor();
  await screenshot(page, "instance-list");
  await page.goto(`${s.url}/#/`);
  await page.getByRole("heading", { name: "Tenant acme" }).waitFor();
  await page.getByRole("table", { name: "Workflows of acme" }).getByRole("link", { name: "approvals" }).waitFor();
  await page.locator("figure.chart svg").first().waitFor();
  await screenshot(page, "overview");

  // ---- a tenant-token session sees only its tenant --------------------------------------------------------------
  const tp = await newPage(t, browser);
  const seenPaths: { path: string; status: number }[] = [];
  tp.on("response", (r) => seenPaths.push({ path: new URL(r.url()).pathname, status: r.status() }));
  await signIn(tp, s.url, acmeToken);
  assert.equal(await tp.getByTestId("principal").textContent(), "tenant acme");
  await tp.getByRole("heading", { name: "Tenant acme" }).waitFor();
  await tp.getByRole("table", { name: "Workflows of acme" }).getByRole("link", { name: "approvals" }).waitFor();
  assert.equal(await tp.getByRole("heading", { name: "Tenant beta" }).count(), 0, "no beta section");
  // straight to beta's instance: the API answers 404 and the page shows nothing of it
  await tp.goto(`${s.url}/#/t/beta/w/beta-private/i/beta-secret-instance`);
  await tp.getByRole("alert").filter({ hasText: /does not exist|not found/i }).first().waitFor();
  await tp.goto(`${s.url}/#/t/beta/w/beta-private/instances`);
  await tp.getByRole("alert").filter({ hasText: /does not exist|not found/i }).first().waitFor();
  await tp.goto(`${s.url}/#/instances`);
  await tp.getByRole("heading", { name: "Tenant acme" }).waitFor();
  const text = await tp.locator("body").textContent();
  assert.doesNotMatch(text!, /beta-private|beta-secret-instance/, "nothing of beta on the page");
  const betaCalls = seenPaths.filter((p) => p.path.startsWith("/v1/tenants/beta"));
  assert.ok(betaCalls.length > 0 && betaCalls.every((p) => p.status === 404), `beta's API answers 404 to the acme session: ${JSON.stringify(betaCalls)}`);

  for (const n of ["overview", "instance-list", "instance-detail"]) {
    assert.ok(statSync(`test-results/dashboard/${n}.png`).size > 10_000, `${n}.png saved`);
  }
});
