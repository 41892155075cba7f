// A dashboard playground: `node dashboard/dev.ts [port]` starts weft serve on a fresh data directory
// with the dashboard rebuilt on every page load (WEFT_DASHBOARD_DEV=1), two tenants, a few workflows
// and instances in every status, and prints the URL and tokens as one JSON line. Everything goes
// through the HTTP API, like a platform would do it.
import { mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { startServer } from "../src/api/server.ts";

process.env.WEFT_DASHBOARD_DEV ??= "1";
const port = Number(process.argv[2] ?? 8790);
const dataDir = mkdtempSync(join(tmpdir(), "weft-dash-"));
const server = await startServer({ dataDir, port, quiet: true });
const admin = server.adminToken!;

async function call(method: string, path: string, body?: unknown, token = admin): Promise<any> {
  const r = await fetch(server.url + path, { method, headers: { authorization: `Bearer ${token}`, "content-type": "application/json" }, body: body === undefined ? undefined : JSON.stringify(body) });
  const text = await r.text();
  if (!r.ok) throw new Error(`${method} ${path}: ${r.status} ${text}`);
  return text ? JSON.parse(text) : undefined;
}

const onboarding = readFileSync(new URL("../examples/onboarding.ts", import.meta.url), "utf8");
const flaky = `import { WorkflowEntrypoint, NonRetryableError } from "cloudflare:workers";
export class Flaky extends WorkflowEntrypoint {
  async run(event, step) {
    const n = await step.do("count", async () => (event.payload?.n ?? 1) * 2);
    await step.sleep("nap", "1 second");
    await step.do("maybe fail", { retries: { limit: 2, delay: "1 second" } }, async (ctx) => {
      console.log("attempt", ctx.attempt);
      if (event.payload?.fail) throw new Error("the downstream service said no (attempt " + ctx.attempt + ")");
      return n;
    });
    return { n };
  }
}
`;
const files = `import { WorkflowEntrypoint } from "cloudflare:workers";
export class Files extends WorkflowEntrypoint {
  async run(event, step) {
    await step.do("write", async () => {
      this.ctx.storage.sql.exec("CREATE TABLE IF NOT EXISTS notes (id INTEGER PRIMARY KEY, body TEXT)");
      this.ctx.storage.sql.exec("INSERT INTO notes (body) VALUES (?), (?)", "first", "second");
      await this.ctx.fs.writeFile("README.md", "# hello\\n");
      await this.ctx.fs.writeFile("src/index.ts", "export const x = 1;\\n");
    });
    await step.do("edit", async () => { await this.ctx.fs.writeFile("README.md", "# hello, again\\n"); });
    await step.waitForEvent("go", { type: "go", timeout: "1 hour" });
    return "done";
  }
}
`;
const tenants: Record<string, string> = {};
for (const t of ["acme", "beta"]) {
  await call("POST", "/v1/tenants", { name: t });
  tenants[t] = (await call("POST", `/v1/tenants/${t}/tokens`, { name: "dev" })).token;
  await call("PUT", `/v1/tenants/${t}/workflows/onboarding`, { mainModule: "onboarding.ts", modules: { "onboarding.ts": onboarding } });
  await call("PUT", `/v1/tenants/${t}/workflows/flaky`, { mainModule: "index.ts", modules: { "index.ts": flaky } });
  await call("PUT", `/v1/tenants/${t}/workflows/files`, { mainModule: "index.ts", modules: { "index.ts": files } });
  for (let i = 0; i < 5; i++) await call("POST", `/v1/tenants/${t}/workflows/onboarding/instances`, { id: `user-${i}`, params: { id: i, grace: "2 seconds" }, metadata: { customer: i % 2 ? "big" : "small" } });
  for (let i = 0; i < 4; i++) await call("POST", `/v1/tenants/${t}/workflows/flaky/instances`, { id: `run-${i}`, params: { n: i, fail: i % 2 === 1 } });
  await call("POST", `/v1/tenants/${t}/workflows/files/instances`, { id: "repo-1" });
}
console.log(JSON.stringify({ url: server.url, admin, tenants, dataDir }));
for (const s of ["SIGINT", "SIGTERM"]) process.on(s, () => void server.close().then(() => process.exit(0)));
