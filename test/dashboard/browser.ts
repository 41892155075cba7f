// Debian's chromium driven by playwright-core for the dashboard tests: a real server on a fresh data
// directory, a browser, and small waits on the page's own state (no fixed sleeps). Screenshots go to
// test-results/dashboard/. The browser tests are *.browser.ts and `npm test` runs them after the rest,
// one at a time: chromium next to the timing-sensitive suites (kill -9 loops, CLI processes) would
// load the 2-core machine for both.
import { mkdirSync } from "node:fs";
import { join } from "node:path";
import type { TestContext } from "node:test";
import { chromium, type Browser, type Page } from "playwright-core";
import type { RunningServer } from "../../src/api/server.ts";
import { serverFor } from "../api/helpers.ts";

export const CHROMIUM = process.env.WEFT_CHROMIUM ?? "/usr/bin/chromium";
export const SHOTS = join(import.meta.dirname, "../../test-results/dashboard");

export async function launch(t: TestContext): Promise<Browser> {
  // the flags keep chromium off the (closed) network: no background fetches, no component updates
  const browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync", "--disable-dev-shm-usage"],
  });
  t.after(() => browser.close());
  return browser;
}

export interface Served {
  server: RunningServer;
  url: string;
  admin: string;
  api(method: string, path: string, body?: unknown, token?: string): Promise<any>;
}

/** the API tests' server (serverFor), with a client that throws on any error status */
export async function serve(t: TestContext): Promise<Served> {
  const s = await serverFor(t, { drainMs: 1000 });
  return {
    server: s.server, url: s.url, admin: s.admin,
    async api(method, path, body, token = s.admin) {
      const r = await s.call(method, path, body, token);
      if (r.status >= 400) throw new Error(`${method} ${path} → ${r.status} ${r.text}`);
      return r.body;
    },
  };
}

/** a page whose console errors and uncaught exceptions fail the test at the end */
export async function newPage(t: TestContext, browser: Browser, viewport = { width: 1280, height: 800 }): Promise<Page> {
  const ctx = await browser.newContext({ viewport });
  const page = await ctx.newPage();
  const problems: string[] = [];
  page.on("pageerror", (e) => problems.push(`page error: ${e.message}`));
  page.on("console", (m) => {
    // a refused request (4xx) shows up as a console error too: the tests provoke those on purpose and
    // assert what the page shows; a 5xx or any script error is a problem
    if (m.type() === "error" && !/Failed to load resource: the server responded with a status of 4\d\d/.test(m.text())) problems.push(`console error: ${m.text()}`);
  });
  t.after(async () => {
    await ctx.close();
    if (problems.length) throw new Error(`the page reported problems:\n${problems.join("\n")}`);
  });
  return page;
}

export async function signIn(page: Page, url: string, token: string): Promise<void> {
  await page.goto(url + "/");
  await page.getByLabel("API token").fill(token);
  await page.getByRole("button", { name: "Sign in" }).click();
  await page.getByTestId("principal").waitFor();
}

export async function screenshot(page: Page, name: string): Promise<string> {
  mkdirSync(SHOTS, { recursive: true });
  const path = join(SHOTS, `${name}.png`);
  await page.screenshot({ path, fullPage: true });
  return path;
}

/** the instance's status as the page shows it, once it equals `status` */
export async function statusIs(page: Page, status: string, timeout = 15_000): Promise<void> {
  await page.locator(`[data-testid="instance-status"][data-status="${status}"]`).waitFor({ timeout });
}
