// Shared setup for the HTTP API tests: a real listening server on a fresh data directory, a tiny JSON
// client over global fetch, the workflow the tests deploy, bounded polling, and a fingerprint of a
// tenant's whole state as the admin sees it through the API (to prove that a request changed nothing).
import { testStore } from "../../src/testing/postgres.ts";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import assert from "node:assert/strict";
import { startServer, type RunningServer } from "../../src/api/server.ts";

export interface TestServer {
  url: string;
  adminToken: string;
  server: RunningServer;
  dataDir: string;
  close(): Promise<void>;
}

export async function startTestServer(prefix = "weft-api-"): Promise<TestServer> {
  const dataDir = mkdtempSync(join(tmpdir(), prefix));
  const store = testStore();
  const server = await startServer({ dataDir, port: 0, quiet: true, drainMs: 2_000, engineOptions: store.options });
  assert.ok(server.adminToken, "a fresh data directory gives the admin token");
  return {
    url: server.url,
    adminToken: server.adminToken,
    server,
    dataDir,
    async close() {
      await server.close();
      rmSync(dataDir, { recursive: true, force: true });
      await store.cleanup();
    },
  };
}

export interface Reply {
  status: number;
  headers: Headers;
  /** parsed JSON when the response is JSON, else the text */
  body: unknown;
  text: string;
}

export interface CallOptions {
  token?: string | null;
  body?: unknown;
  query?: Record<string, string>;
  headers?: Record<string, string>;
}

/** One request with a Bearer token (or none) and an optional JSON body; reads the whole response. */
export async function call(base: string, method: string, path: string, o: CallOptions = {}): Promise<Reply> {
  const headers: Record<string, string> = { ...o.headers };
  if (o.token) headers.authorization = `Bearer ${o.token}`;
  let body: string | undefined;
  if (o.body !== undefined) {
    body = JSON.stringify(o.body);
    headers["content-type"] ??= "application/json";
  }
  const qs = o.query && Object.keys(o.query).length > 0 ? "?" + new URLSearchParams(o.query).toString() : "";
  const res = await fetch(base + path + qs, { method, headers, body });
  const text = await res.text();
  let parsed: unknown = text;
  if ((res.headers.get("content-type") ?? "").includes("json") && text.length > 0) {
    try {
      parsed = JSON.parse(text);
    } catch {
      parsed = text;
    }
  }
  return { status: res.status, headers: res.headers, body: parsed, text };
}

/** A client bound to a server and a token; `ok` asserts the expected status and returns the body. */
export function client(base: string, token: string | null) {
  const c = {
    call: (method: string, path: string, o: Omit<CallOptions, "token"> = {}) => call(base, method, path, { ...o, token }),
    async ok<T = any>(method: string, path: string, status: number, o: Omit<CallOptions, "token"> = {}): Promise<T> {
      const r = await c.call(method, path, o);
      assert.equal(r.status, status, `${method} ${path} answered ${r.status}, expected ${status}: ${r.text.slice(0, 500)}`);
      return r.body as T;
    },
  };
  return c;
}
export type Client = ReturnType<typeof client>;

/** `{ error: { code, message, details } }` with the right types, and nothing else at the top. */
export function isErrorBody(body: unknown): body is { error: { code: string; message: string; details: Record<string, unknown> } } {
  if (!body || typeof body !== "object" || Array.isArray(body)) return false;
  if (Object.keys(body).join() !== "error") return false;
  const e = (body as { error: unknown }).error as Record<string, unknown> | null;
  return !!e && typeof e === "object" && typeof e.code === "string" && e.code.length > 0 && typeof e.message === "string" && e.message.length > 0 &&
    !!e.details && typeof e.details === "object" && !Array.isArray(e.details);
}

/**
 * The workflow of these tests: waits for an event "go", then writes a file in a step (one commit of
 * the instance's filesystem), logs, and returns.
 */
export const WORKFLOW_SOURCE = `
import { WorkflowEntrypoint } from "cloudflare:workers";
export class Waiter extends WorkflowEntrypoint {
  async run(event, step) {
    console.log("started", event.payload);
    const go = await step.waitForEvent("go", { type: "go", timeout: "365 days" });
    await step.do("write", async () => {
      await this.ctx.fs.writeFile("out.txt", "done " + JSON.stringify(go.payload ?? null));
      console.log("wrote out.txt");
    });
    return { ok: true, got: go.payload ?? null };
  }
}
`;

export const DEPLOY_BODY = { mainModule: "index.ts", modules: { "index.ts": WORKFLOW_SOURCE } };

/** Polls until `check` returns a value (not undefined), within `ms` of real time. */
export async function until<T>(what: string, check: () => Promise<T | undefined>, ms = 15_000): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const v = await check();
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

export const instancesPath = (tenant: string, workflow: string) => `/v1/tenants/${tenant}/workflows/${workflow}/instances`;

/** Waits until the instance's status is one of `statuses` (as `c` sees it). */
export async function waitStatus(c: Client, tenant: string, workflow: string, id: string, statuses: string[]): Promise<any> {
  return until(`${tenant}/${workflow}/${id} to be ${statuses.join(" or ")}`, async () => {
    const d = await c.ok("GET", `${instancesPath(tenant, workflow)}/${encodeURIComponent(id)}`, 200);
    return statuses.includes(d.status) ? d : undefined;
  });
}

/** Creates an instance and brings it to "waiting", "paused" or "complete" through the API. */
export async function instanceIn(c: Client, tenant: string, workflow: string, id: string, state: "waiting" | "paused" | "complete"): Promise<void> {
  const base = instancesPath(tenant, workflow);
  await c.ok("POST", base, 201, { body: { id, params: { n: id }, metadata: { role: state } } });
  await waitStatus(c, tenant, workflow, id, ["waiting"]);
  if (state === "paused") {
    await c.ok("POST", `${base}/${id}/pause`, 200);
    await waitStatus(c, tenant, workflow, id, ["paused"]);
  } else if (state === "complete") {
    await c.ok("POST", `${base}/${id}/events`, 202, { body: { type: "go", payload: { from: "test" } } });
    await waitStatus(c, tenant, workflow, id, ["complete"]);
  }
}

/**
 * Everything the admin can see of a tenant through the API: the tenant and its quotas, its tokens, its
 * workflows with every version (code included), and every instance with its detail (status, steps,
 * output), its file commits and its number of log lines. Two equal fingerprints: nothing changed.
 */
export async function fingerprint(admin: Client, tenant: string): Promise<unknown> {
  const T = `/v1/tenants/${encodeURIComponent(tenant)}`;
  const out: Record<string, unknown> = {};
  out.tenant = await admin.ok("GET", T, 200);
  out.tokens = await admin.ok("GET", `${T}/tokens`, 200);
  const { workflows } = await admin.ok<{ workflows: { name: string }[] }>("GET", `${T}/workflows`, 200);
  out.workflows = workflows;
  const details: Record<string, unknown> = {};
  for (const w of workflows) {
    const W = `${T}/workflows/${encodeURIComponent(w.name)}`;
    const wf = await admin.ok<{ versions: { version: string }[] }>("GET", W, 200);
    const versions: unknown[] = [];
    for (const v of wf.versions) versions.push(await admin.ok("GET", `${W}/versions/${encodeURIComponent(v.version)}`, 200));
    const instances: unknown[] = [];
    let cursor: string | null = null;
    do {
      const page: { instances: { id: string }[]; cursor: string | null } = await admin.ok("GET", `${W}/instances`, 200, {
        query: { direction: "asc", limit: "1000", ...(cursor ? { cursor } : {}) },
      });
      for (const s of page.instances) {
        const I = `${W}/instances/${encodeURIComponent(s.id)}`;
        const logs = await admin.ok<{ logs: unknown[] }>("GET", `${I}/logs`, 200, { query: { limit: "1000" } });
        instances.push({
          summary: s,
          detail: await admin.ok("GET", I, 200),
          commits: await admin.ok("GET", `${I}/commits`, 200),
          logs: logs.logs.length,
        });
      }
      cursor = page.cursor;
    } while (cursor);
    details[w.name] = { workflow: wf, versions, instances };
  }
  out.details = details;
  return out;
}
