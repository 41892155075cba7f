// A real listening server on a fresh data directory for the API tests, and a small client that
// returns status, headers and parsed body (never throws on 4xx/5xx: the tests assert them).
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { TestContext } from "node:test";
import { testStore } from "../../src/testing/postgres.ts";
import { startServer, type RunningServer, type ServeOptions } from "../../src/api/server.ts";

export interface Reply {
  status: number;
  headers: Headers;
  body: any;
  text: string;
}

export interface TestServer {
  server: RunningServer;
  url: string;
  admin: string;
  dataDir: string;
  call(method: string, path: string, body?: unknown, token?: string | null, headers?: Record<string, string>): Promise<Reply>;
}

export async function serverFor(t: TestContext, opts: Partial<ServeOptions> = {}): Promise<TestServer> {
  const dataDir = mkdtempSync(join(tmpdir(), "weft-api-"));
  const store = testStore();
  const server = await startServer({ dataDir, port: 0, quiet: true, drainMs: 2000, ...opts, engineOptions: { ...store.options, ...opts.engineOptions } });
  t.after(async () => {
    await server.close();
    rmSync(dataDir, { recursive: true, force: true });
    await store.cleanup();
  });
  const admin = server.adminToken!;
  return {
    server, url: server.url, admin, dataDir,
    async call(method, path, body, token = admin, headers = {}) {
      const h: Record<string, string> = { ...headers };
      if (token) h.authorization = `Bearer ${token}`;
      if (body !== undefined && !h["content-type"]) h["content-type"] = "application/json";
      const r = await fetch(server.url + path, { method, headers: h, body: body === undefined ? undefined : typeof body === "string" ? body : JSON.stringify(body) });
      const text = await r.text();
      let parsed: unknown = undefined;
      try {
        parsed = text ? JSON.parse(text) : undefined;
      } catch {
        parsed = undefined;
      }
      return { status: r.status, headers: r.headers, body: parsed, text };
    },
  };
}

/** A module with one workflow class W whose run() body is `body`. */
export function module(body: string): { mainModule: string; modules: Record<string, string> } {
  return {
    mainModule: "index.ts",
    modules: { "index.ts": `import { WorkflowEntrypoint } from "cloudflare:workers";\nexport class W extends WorkflowEntrypoint {\n  async run(event, step) {\n${body}\n  }\n}\n` },
  };
}

/** Poll until `cond` holds (bounded, no fixed sleeps). */
export async function until<T>(cond: () => Promise<T | undefined | false>, what: string, ms = 10_000): Promise<T> {
  const end = performance.now() + ms;
  for (;;) {
    const v = await cond();
    if (v) return v as T;
    if (performance.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

export function expectError(r: Reply, status: number, code: string): void {
  if (r.status !== status || r.body?.error?.code !== code) {
    throw new Error(`expected ${status} ${code}, got ${r.status} ${r.text.slice(0, 300)}`);
  }
  if (typeof r.body.error.message !== "string" || typeof r.body.error.details !== "object") throw new Error(`bad error body ${r.text}`);
}
