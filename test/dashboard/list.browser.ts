// The instance list and the overview in chromium: server-side pages (Next/Previous over a cursor),
// filters (status, id prefix, metadata, time range) that land in the API query, live updates of the
// first page, bulk terminate, the overview's failures-first order and counts; keyboard-only sign-in;
// no horizontal overflow at phone width.
import { test } from "node:test";
import assert from "node:assert/strict";
import { launch, newPage, serve, signIn } from "./browser.ts";
// the callbacks given to page.evaluate / addInitScript run in the browser, where these exist
declare const document: any;

const LIMIT = { timeout: 90_000 };
const SLEEPER = `import { WorkflowEntrypoint } from "cloudflare:workers";
export class S extends WorkflowEntrypoint { async run(e, step) { await step.sleep("long", "1 day"); } }`;
const FAILER = `import { WorkflowEntrypoint } from "cloudflare:workers";
export class F extends WorkflowEntrypoint { async run() { throw new Error("always"); } }`;

test("instance list: pages, filters, live updates, bulk terminate; overview: failures first", LIMIT, async (t) => {
  const s = await serve(t);
  await s.api("POST", "/v1/tenants", { name: "acme" });
  await s.api("PUT", "/v1/tenants/acme/workflows/sleepy", { mainModule: "i.ts", modules: { "i.ts": SLEEPER } });
  await s.api("PUT", "/v1/tenants/acme/workflows/failing", { mainModule: "i.ts", modules: { "i.ts": FAILER } });
  const batch = Array.from({ length: 60 }, (_, i) => ({ id: `job-${String(i).padStart(2, "0")}`, metadata: { shard: String(i % 3) } }));
  await s.api("POST", "/v1/tenants/acme/workflows/sleepy/instances/batch", { instances: batch });
  await s.api("POST", "/v1/tenants/acme/workflows/failing/instances", { id: "f-1" });

  const browser = await launch(t);
  const page = await newPage(t, browser);
  const apiQueries: URLSearchParams[] = [];
  page.on("request", (r) => {
    const u = new URL(r.url());
    if (u.pathname === "/v1/tenants/acme/workflows/sleepy/instances" && r.method() === "GET") apiQueries.push(u.searchParams);
  });
  // keyboard only: focus the token field, type, Enter
  await page.goto(s.url + "/");
  await page.keyboard.press("Tab");
  assert.equal(await page.evaluate(() => document.activeElement?.id), "token", "the token field takes the first Tab");
  await page.keyboard.type(s.admin);
  await page.keyboard.press("Enter");
  await page.getByTestId("principal").waitFor();

  // overview: the failing workflow comes first, with its errored count
  await page.getByRole("table", { name: "Workflows of acme" }).waitFor();
  const rows = page.getByRole("table", { name: "Workflows of acme" }).locator("tbody tr");
  await page.waitForFunction(() => document.querySelector('table[aria-label="Workflows of acme"] tbody tr')?.getAttribute("data-failures") === "yes");
  assert.deepEqual(await rows.locator("td:first-child a").allTextContents(), ["failing", "sleepy"]);

  // the list: 50 of 61 on the first page, newest first; Next shows the other 10; Previous goes back
  await page.goto(`${s.url}/#/t/acme/w/sleepy/instances`);
  await page.locator("tr[data-instance]").first().waitFor();
  assert.equal(await page.locator("tr[data-instance]").count(), 50, "one server page");
  assert.equal(await page.locator("tr[data-instance]").first().getAttribute("data-instance"), "job-59");
  assert.equal(apiQueries[0]!.get("limit"), "50", "the server pages");
  await page.getByRole("button", { name: "Next" }).click();
  await page.locator('tr[data-instance="job-09"]').waitFor();
  assert.equal(await page.locator("tr[data-instance]").count(), 10);
  assert.ok(await page.getByRole("button", { name: "Next" }).isDisabled(), "no page after the last");
  await page.getByRole("button", { name: "Previous" }).click();
  await page.locator('tr[data-instance="job-59"]').waitFor();

  // live: an instance created elsewhere appears on the first page without a reload
  await s.api("POST", "/v1/tenants/acme/workflows/sleepy/instances", { id: "job-live", metadata: { shard: "9" } });
  await page.locator('tr[data-instance="job-live"]').waitFor({ timeout: 10_000 });

  // a live refresh does not reset a filter the reader is still typing (no Enter yet)
  await page.getByLabel("Instance id starts with").fill("job-");
  // two refreshes after the typing: the first one's response has been rendered when the second is asked for
  const seen = apiQueries.length;
  while (apiQueries.length < seen + 2) await page.waitForRequest((r) => new URL(r.url()).pathname === "/v1/tenants/acme/workflows/sleepy/instances");
  assert.equal(await page.getByLabel("Instance id starts with").inputValue(), "job-", "the typed text survives the refresh");
  assert.equal(apiQueries[apiQueries.length - 1]!.get("idPrefix"), null, "not applied before Enter");

  // filters: id prefix + metadata go to the API; the URL keeps them
  await page.getByLabel("Instance id starts with").fill("job-1");
  await page.getByLabel("Instance id starts with").press("Enter");
  await page.waitForFunction(() => document.querySelectorAll("tr[data-instance]").length === 10);
  assert.deepEqual((await page.locator("tr[data-instance]").evaluateAll((els) => els.map((e) => e.getAttribute("data-instance")))).sort(),
    Array.from({ length: 10 }, (_, i) => `job-1${i}`));
  await page.getByLabel("Metadata (key=value, …)").fill("shard=1");
  await page.getByLabel("Metadata (key=value, …)").press("Enter");
  await page.waitForFunction(() => document.querySelectorAll("tr[data-instance]").length === 4); // job-10, 13, 16, 19
  const last = apiQueries[apiQueries.length - 1]!;
  assert.equal(last.get("idPrefix"), "job-1");
  assert.equal(last.get("metadata.shard"), "1");
  assert.match(page.url(), /id=job-1/);
  assert.match(page.url(), /meta=shard%3D1|meta=shard=1/);
  // a malformed metadata filter: a precise message, no request
  const before = apiQueries.length;
  await page.getByLabel("Metadata (key=value, …)").fill("shard");
  await page.getByLabel("Metadata (key=value, …)").press("Enter");
  await page.getByRole("alert").filter({ hasText: 'metadata filter "shard" is not KEY=VALUE' }).waitFor();
  assert.equal(apiQueries.length, before, "nothing sent");
  await page.getByLabel("Metadata (key=value, …)").fill("");
  await page.getByLabel("Metadata (key=value, …)").press("Enter");
  await page.getByLabel("Instance id starts with").fill("");
  await page.getByLabel("Instance id starts with").press("Enter");
  await page.locator('tr[data-instance="job-live"]').waitFor();

  // time range: created before the first creation → nothing
  await page.getByLabel("Created before").fill("2001-01-01T00:00:00");
  await page.getByText("No instances match.").waitFor();
  assert.ok(apiQueries[apiQueries.length - 1]!.get("createdBefore")!.startsWith("2001-01-01") || apiQueries[apiQueries.length - 1]!.get("createdBefore")!.startsWith("2000-12-31"));
  await page.getByLabel("Created before").fill("");
  await page.locator('tr[data-instance="job-live"]').waitFor();

  // status filter + bulk terminate of two waiting instances
  await page.getByLabel("Status").selectOption("waiting");
  await page.locator('tr[data-instance="job-58"]').waitFor();
  await page.getByLabel("Select job-58").check();
  await page.getByLabel("Select job-57").check();
  page.once("dialog", (d) => void d.accept());
  await page.getByRole("button", { name: "Terminate selected (2)" }).click();
  await page.getByRole("status").filter({ hasText: "Terminated 2 of 2." }).waitFor();
  for (const id of ["job-58", "job-57"]) assert.equal((await s.api("GET", `/v1/tenants/acme/workflows/sleepy/instances/${id}`)).status, "terminated");
  assert.equal((await s.api("GET", "/v1/tenants/acme/workflows/sleepy/instances/job-56")).status, "waiting", "only the selected ones");
  await page.waitForFunction(() => !document.querySelector('tr[data-instance="job-58"]'), undefined, { timeout: 10_000 });
  await page.getByLabel("Status").selectOption("terminated");
  await page.locator('tr[data-instance="job-58"]').waitFor();
  assert.ok(await page.getByLabel("Select job-58").isDisabled(), "a finished instance cannot be selected");
});

test("phone width: the overview, the list, the detail and the workflow pages fit 390 px without horizontal scrolling", LIMIT, async (t) => {
  const s = await serve(t);
  await s.api("POST", "/v1/tenants", { name: "acme" });
  await s.api("PUT", "/v1/tenants/acme/workflows/sleepy", { mainModule: "i.ts", modules: { "i.ts": SLEEPER } });
  await s.api("POST", "/v1/tenants/acme/workflows/sleepy/instances", { id: "a-rather-long-instance-id-0001", metadata: { customer: "someone-with-a-long-name" } });
  const browser = await launch(t);
  const page = await newPage(t, browser, { width: 390, height: 844 });
  await signIn(page, s.url, s.admin);
  const overflow = () => page.evaluate(() => document.documentElement.scrollWidth - document.documentElement.clientWidth);
  await page.getByRole("heading", { name: "Tenant acme" }).waitFor();
  assert.equal(await overflow(), 0, "overview");
  await page.goto(`${s.url}/#/t/acme/w/sleepy/instances`);
  await page.locator("tr[data-instance]").first().waitFor();
  assert.equal(await overflow(), 0, "list (the table scrolls inside its own box)");
  await page.goto(`${s.url}/#/t/acme/w/sleepy/i/a-rather-long-instance-id-0001`);
  await page.locator('[data-testid="instance-status"][data-status="waiting"]').waitFor();
  assert.equal(await overflow(), 0, "detail");
  await page.goto(`${s.url}/#/t/acme/w/sleepy`);
  await page.locator(".cm-editor").first().waitFor();
  assert.equal(await overflow(), 0, "workflow with its code");
  await page.getByRole("tab", { name: "Deploy" }).click();
  await page.getByLabel("Code editor").waitFor();
  assert.equal(await overflow(), 0, "the deploy editor");
});
