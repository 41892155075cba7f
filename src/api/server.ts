// `weft serve`: the composition root of the service. Opens the engine on the data directory (or takes
// one an embedding application made), the tenancy layer, metrics and JSON logs, and serves the HTTP
// API on @hono/node-server. On the data directory's first start it makes the admin token and returns it
// (the caller prints it once; only its hash is kept). close(): stop accepting, answer /readyz with 503,
// let running step attempts finish within a deadline, then close the engine — every result committed
// is on disk before it was acknowledged, so stopping at any point loses nothing.
import { getRequestListener } from "@hono/node-server";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import type { Server } from "node:http";
import { readFileSync } from "node:fs";
import type { Logger } from "pino";
import { Engine } from "../main.ts";
import type { EngineOptions } from "../engine/config.ts";
import { Tenancy } from "../tenancy/tenancy.ts";
import { createMetrics } from "../observability/metrics.ts";
import { createLogger } from "../observability/log.ts";
import { createApp } from "./app.ts";

export interface ServeOptions {
  /** data directory of the embedded store (default ./weft-data) */
  dataDir?: string;
  host?: string;
  /** 0: any free port */
  port?: number;
  /** an engine the embedding application opened (its hostFunctions are offered to HTTP deploys) */
  engine?: Engine;
  /** more engine options when the server opens the engine */
  engineOptions?: Partial<EngineOptions>;
  logger?: Logger;
  /** no request/lifecycle logs (tests) */
  quiet?: boolean;
  /** how long close() lets running step attempts finish (ms, default 10 s) */
  drainMs?: number;
  /** called with a new admin token before its hash is committed (weft serve prints it there) */
  announceAdminToken?: (token: string) => void;
}

export interface RunningServer {
  url: string;
  /** the admin token, only on the data directory's first start */
  adminToken: string | null;
  engine: Engine;
  close(): Promise<void>;
}

function packageVersion(): string {
  try {
    return (JSON.parse(readFileSync(new URL("../../package.json", import.meta.url), "utf8")) as { version: string }).version;
  } catch {
    return "0.0.0";
  }
}

export async function startServer(o: ServeOptions = {}): Promise<RunningServer> {
  const log = o.logger ?? createLogger({ level: o.quiet ? "silent" : "info" });
  let ready = false;
  const engine = o.engine ?? (await Engine.open({ dataDir: o.dataDir ?? "./weft-data", logger: log.child({ component: "engine" }), ...o.engineOptions }));
  const ownEngine = !o.engine;
  const tenancy = new Tenancy(engine.store, engine.clock, (tenant, q) => engine.setTenantConcurrency(tenant, q.maxRunningInstances));
  const { adminToken } = await tenancy.open(o.announceAdminToken);
  const stopFollowing = tenancy.follow();
  const metrics = createMetrics(engine);
  const { app } = createApp({
    engine, tenancy, ready: () => ready, version: packageVersion(),
    metrics: async () => ({ contentType: metrics.contentType, body: await metrics.render() }),
    log: (msg, err) => log.error({ err }, msg),
  });
  // requests the adapter refuses before routing (a backslash in the path, …) get the error body too
  const listener = getRequestListener(app.fetch, {
    errorHandler: (err: unknown) => Response.json(
      { error: { code: "invalid_argument", message: `the request cannot be served: ${(err as Error)?.message ?? String(err)}`, details: {} } },
      { status: 400 },
    ),
  });
  const server: Server = createServer(listener);
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(o.port ?? 8787, o.host ?? "127.0.0.1", () => resolve());
  });
  server.keepAliveTimeout = 65_000;
  const addr = server.address() as AddressInfo;
  const host = addr.family === "IPv6" ? `[${addr.address}]` : addr.address;
  const url = `http://${host}:${addr.port}`;
  ready = true;
  log.info({ url, dataDir: o.dataDir }, "weft serving");

  let closing: Promise<void> | undefined;
  return {
    url, adminToken, engine,
    close: () => {
      closing ??= (async () => {
        ready = false;
        stopFollowing();
        const stopped = new Promise<void>((r) => server.close(() => r()));
        server.closeIdleConnections();
        await engine.drain(o.drainMs ?? 10_000);
        server.closeAllConnections(); // streams (SSE) end here
        await stopped;
        metrics.close();
        if (ownEngine) await engine.close();
        log.info("weft stopped");
      })();
      return closing;
    },
  };
}
