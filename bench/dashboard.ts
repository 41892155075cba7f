// The dashboard on a large store: 100,000 instances of one workflow (plus 100 of another), then
// Debian's chromium (playwright-core) loads the instance list and we time its first page: from the
// navigation's start (performance.timeOrigin) to the moment the first row is in the DOM, as the page
// itself records it (a MutationObserver installed before any script). Cold = a fresh browser context
// (no cache: HTML, the bundle, sign-in state from sessionStorage, then the API call); warm = the same
// context navigating again (assets cached, as a user clicking around). Also the API's own first page,
// a status-filtered page, and the overview (counts of 100k by status + the activity chart).
// Seeding: one instance is created through the API, then SQLite copies its row 100,000 times with
// spread creation times and final statuses (complete, errored, terminated, paused), so that no
// instance is runnable and the server starts with nothing to recover.
import { DatabaseSync } from "node:sqlite";
import { chromium, type Browser } from "playwright-core";
import { startServer } from "../src/api/server.ts";
import { median, percentile, tempDir } from "./util.ts";
// the callbacks given to page.evaluate / addInitScript run in the browser, where these exist
declare const window: any, document: any, MutationObserver: any, sessionStorage: any;

export interface DashboardResult {
  n: number;
  seedMs: number;
  apiFirstPageP50Ms: number;
  apiFilteredP50Ms: number;
  coldRenderP50Ms: number;
  coldRenderMaxMs: number;
  warmRenderP50Ms: number;
  filteredRenderP50Ms: number;
  overviewRenderP50Ms: number;
  /** the same fresh-context load on a workflow with 100 instances: what the page costs regardless of the store */
  smallColdRenderP50Ms: number;
  rows: number;
}

const ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync", "--disable-dev-shm-usage"];

const WORKFLOW = `import { WorkflowEntrypoint } from "cloudflare:workers";
export class W extends WorkflowEntrypoint {
  async run(event, step) { return await step.do("one", async () => ({ ok: true, n: event.payload?.n ?? 0 })); }
}`;

async function serveSeeded(n: number, dir: string) {
  let server = await startServer({ dataDir: dir, port: 0, quiet: true });
  const admin = server.adminToken!;
  const api = async (method: string, path: string, body?: unknown) => {
    const r = await fetch(server.url + path, { method, headers: { authorization: `Bearer ${admin}`, "content-type": "application/json" }, body: body === undefined ? undefined : JSON.stringify(body) });
    if (!r.ok) throw new Error(`${method} ${path}: ${r.status} ${await r.text()}`);
    return r.json() as Promise<any>;
  };
  await api("POST", "/v1/tenants", { name: "acme" });
  for (const w of ["big", "small"]) await api("PUT", `/v1/tenants/acme/workflows/${w}`, { mainModule: "index.ts", modules: { "index.ts": WORKFLOW } });
  await api("POST", "/v1/tenants/acme/workflows/big/instances", { id: "template", params: { n: 1 }, metadata: { customer: "c1" } });
  for (;;) {
    const d = await api("GET", "/v1/tenants/acme/workflows/big/instances/template");
    if (d.status === "complete") break;
    await new Promise((r) => setTimeout(r, 20));
  }
  await server.close();
  const t0 = performance.now();
  const db = new DatabaseSync(`${dir}/weft.db`);
  const cols = (db.prepare("SELECT name FROM pragma_table_info('instances') WHERE name NOT IN ('pk','id','status','metadata','created_at','started_at','ended_at','modified_at','workflow')").all() as { name: string }[]).map((c) => c.name);
  const now = Date.now();
  const span = 7 * 24 * 3600_000; // creations spread over the last week
  const seed = (workflow: string, count: number) => db.prepare(`
    WITH RECURSIVE seq(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM seq WHERE n < ?)
    INSERT INTO instances (workflow, id, status, metadata, created_at, started_at, ended_at, modified_at, ${cols.join(", ")})
    SELECT ?, printf('order-%06d', n),
      CASE n % 20 WHEN 0 THEN 'errored' WHEN 1 THEN 'terminated' WHEN 2 THEN 'paused' ELSE 'complete' END,
      json_object('customer', 'c' || (n % 100)),
      ? + n * ?, ? + n * ? + 10, CASE n % 20 WHEN 2 THEN NULL ELSE ? + n * ? + 250 END, ? + n * ? + 250, ${cols.map((c) => `t.${c}`).join(", ")}
    FROM seq, (SELECT * FROM instances WHERE id = 'template') t`)
    .run(count, workflow, now - span, span / count, now - span, span / count, now - span, span / count, now - span, span / count);
  db.exec("BEGIN");
  seed("big", n);
  seed("small", 100);
  db.exec("COMMIT");
  db.close();
  const seedMs = performance.now() - t0;
  server = await startServer({ dataDir: dir, port: 0, quiet: true });
  return { server, admin, seedMs };
}

/** ms from navigation start to the first `selector` in the DOM, as recorded by the page */
async function render(browser: Browser, url: string, admin: string, hashes: string[], selector: string): Promise<{ cold: number; warm: number[]; rows: number }> {
  const ctx = await browser.newContext({ viewport: { width: 1280, height: 800 } });
  await ctx.addInitScript(({ token, sel }) => {
    sessionStorage.setItem("weft.session", JSON.stringify({ token, kind: "admin" }));
    const w = window as unknown as { __first?: number };
    new MutationObserver((_: unknown, obs: { disconnect(): void }) => {
      if (w.__first === undefined && document.querySelector(sel)) (w.__first = performance.now(), obs.disconnect());
    }).observe(document, { subtree: true, childList: true });
  }, { token: admin, sel: selector });
  const page = await ctx.newPage();
  const times: number[] = [];
  let rows = 0;
  for (const h of hashes) {
    // a full navigation each time (not a hash change), so every measurement starts from a new document
    await page.goto("about:blank");
    await page.goto(`${url}/#${h}`);
    await page.locator(selector).first().waitFor({ timeout: 30_000 });
    times.push(await page.evaluate(() => (window as unknown as { __first: number }).__first));
    rows = await page.locator(selector).count();
  }
  await ctx.close();
  return { cold: times[0]!, warm: times.slice(1), rows };
}

export async function dashboardList(n = 100_000, executablePath = process.env.WEFT_CHROMIUM ?? "/usr/bin/chromium"): Promise<DashboardResult> {
  const tmp = tempDir("dashboard");
  const { server, admin, seedMs } = await serveSeeded(n, tmp.dir);
  const browser = await chromium.launch({ executablePath, args: ARGS });
  try {
    const list = "/v1/tenants/acme/workflows/big/instances";
    const timeApi = async (q: string) => {
      const xs: number[] = [];
      for (let i = 0; i < 20; i++) {
        const t0 = performance.now();
        const r = await fetch(`${server.url}${list}${q}`, { headers: { authorization: `Bearer ${admin}` } });
        const body = (await r.json()) as { instances: unknown[] };
        if (body.instances.length !== 50) throw new Error(`expected a page of 50, got ${body.instances.length}`);
        xs.push(performance.now() - t0);
      }
      return median(xs);
    };
    const apiFirstPageP50Ms = await timeApi("?limit=50");
    const apiFilteredP50Ms = await timeApi("?limit=50&status=errored");
    const colds: number[] = [];
    const warms: number[] = [];
    const smallColds: number[] = [];
    let rows = 0;
    // alternating with the 100-instance workflow, so that both see the same machine
    for (let i = 0; i < 5; i++) {
      const r = await render(browser, server.url, admin, Array(4).fill("/t/acme/w/big/instances"), "tr[data-instance]");
      colds.push(r.cold);
      warms.push(...r.warm);
      rows = r.rows;
      smallColds.push((await render(browser, server.url, admin, ["/t/acme/w/small/instances"], "tr[data-instance]")).cold);
    }
    const filtered = await render(browser, server.url, admin, Array(5).fill("/t/acme/w/big/instances?status=errored&meta=customer%3Dc40"), "tr[data-instance]");
    const overview = await render(browser, server.url, admin, Array(5).fill("/"), 'table[aria-label="Workflows of acme"] tbody tr');
    return {
      n, seedMs, apiFirstPageP50Ms, apiFilteredP50Ms, rows,
      coldRenderP50Ms: median(colds), coldRenderMaxMs: percentile(colds, 100), warmRenderP50Ms: median(warms),
      filteredRenderP50Ms: median([filtered.cold, ...filtered.warm]), overviewRenderP50Ms: median([overview.cold, ...overview.warm]), smallColdRenderP50Ms: median(smallColds),
    };
  } finally {
    await browser.close();
    await server.close();
    tmp.remove();
  }
}
