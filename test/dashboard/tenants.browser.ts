// Tenants in the dashboard (admin): create one, change its quotas (a bad value is refused before any
// request), issue a token that is shown once and works, revoke it (refused at once); a tenant-token
// session has no Tenants page.
import { test } from "node:test";
import assert from "node:assert/strict";
import { launch, newPage, serve, signIn } from "./browser.ts";

test("tenants page: create, quotas, issue and revoke a token; not for tenant tokens", { timeout: 90_000 }, async (t) => {
  const s = await serve(t);
  const browser = await launch(t);
  const page = await newPage(t, browser);
  await signIn(page, s.url, s.admin);
  await page.getByRole("link", { name: "Tenants" }).click();
  await page.getByLabel("New tenant name").fill("gamma");
  await page.getByRole("button", { name: "Create tenant" }).click();
  await page.waitForURL(/#\/tenants\/gamma$/);
  assert.equal((await s.api("GET", "/v1/tenants/gamma")).name, "gamma");

  // a duplicate: the API's 409 message, nothing changes
  await page.goto(`${s.url}/#/tenants`);
  await page.getByRole("table", { name: "Tenants" }).getByRole("link", { name: "gamma" }).waitFor();
  await page.getByLabel("New tenant name").fill("gamma");
  await page.getByRole("button", { name: "Create tenant" }).click();
  await page.getByRole("alert").filter({ hasText: /already exists|exists/ }).waitFor();

  // quotas: a bad value is refused in the page; a good one is saved
  await page.getByRole("table", { name: "Tenants" }).getByRole("link", { name: "gamma" }).click();
  await page.getByLabel("Running instances").fill("0");
  await page.getByRole("button", { name: "Save quotas" }).click();
  await page.getByRole("alert").filter({ hasText: 'Running instances must be a whole number of at least 1, got "0"' }).waitFor();
  assert.equal((await s.api("GET", "/v1/tenants/gamma")).quotas.maxRunningInstances, 1000, "unchanged");
  await page.getByLabel("Running instances").fill("7");
  await page.getByRole("button", { name: "Save quotas" }).click();
  await page.getByRole("status").filter({ hasText: "Quotas saved." }).waitFor();
  const q = (await s.api("GET", "/v1/tenants/gamma")).quotas;
  assert.equal(q.maxRunningInstances, 7);
  assert.equal(q.createsPerSecond, 1000, "the other quotas keep their values");

  // a token: shown once, it works; revoked, it is refused at once
  await page.getByLabel("Token name").fill("deployer");
  await page.getByRole("button", { name: "Issue token" }).click();
  const token = (await page.getByTestId("issued-token").textContent())!;
  assert.match(token, /^weft_[A-Za-z0-9_-]{43}$/);
  assert.deepEqual(await s.api("GET", "/v1/whoami", undefined, token), { kind: "tenant", tenant: "gamma" });
  await page.locator('tr[data-token="deployer"]').getByText("active").waitFor();
  page.once("dialog", (d) => void d.accept());
  await page.getByRole("button", { name: "Revoke deployer" }).click();
  await page.locator('tr[data-token="deployer"]').getByText(/revoked/).waitFor();
  const r = await fetch(`${s.url}/v1/whoami`, { headers: { authorization: `Bearer ${token}` } });
  assert.equal(r.status, 401, "a revoked token is refused");
  await page.reload();
  await page.getByRole("table", { name: "Tokens of gamma" }).waitFor();
  assert.equal(await page.getByTestId("issued-token").count(), 0, "the token is not shown again");

  // a tenant session: no Tenants link, and the page says why
  const other = (await s.api("POST", "/v1/tenants/gamma/tokens", { name: "ui" })).token as string;
  const tp = await newPage(t, browser);
  await signIn(tp, s.url, other);
  assert.equal(await tp.getByRole("navigation", { name: "Main" }).getByRole("link", { name: "Tenants" }).count(), 0);
  await tp.goto(`${s.url}/#/tenants/gamma`);
  await tp.getByRole("alert").filter({ hasText: "managed with the admin token" }).waitFor();
  assert.equal(await tp.getByRole("button", { name: "Issue token" }).count(), 0);
});
