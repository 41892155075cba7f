// `weft serve` (= `npm start`): the HTTP API on the embedded engine. Prints the URL, and on the data
// directory's first start the admin token (once: only its hash is kept). SIGTERM/SIGINT: stop
// accepting, let running step attempts finish (up to --drain seconds), close, exit 0. A second signal
// stops at once — also without loss: every committed result was on disk before it was acknowledged.
import { parseArgs } from "node:util";
import { writeSync } from "node:fs";
import { startServer } from "../api/server.ts";

/**
 * Test hook: WEFT_CRASH_AT names a point of the first start where the process kills itself with
 * SIGKILL (before-admin-token-commit, after-admin-token-commit); test/cli/admin-token.test.ts.
 */
function crashPoint(name: string): void {
  if (process.env.WEFT_CRASH_AT === name) process.kill(process.pid, "SIGKILL");
}

export const SERVE_HELP = `Usage: weft serve [options]

Serves the HTTP API (docs/http-api.md) on the embedded engine, or as one node of a cluster.

Options:
  --host HOST      address to listen on (default 127.0.0.1, env WEFT_HOST)
  --port PORT      port (default 8787, env WEFT_PORT; 0 = any free port)
  --data DIR       data directory (default ./weft-data, env WEFT_DATA); in a cluster, this node's
                   local copies of instance data (each node its own)
  --drain SECONDS  on SIGTERM/SIGINT, how long running step attempts may finish (default 10)
  --postgres URL   cluster mode: the shared PostgreSQL store (env WEFT_POSTGRES_URL); every node
                   on the same database and schema shares all instances
  --schema NAME    the PostgreSQL schema of Weft's tables (default weft, env WEFT_POSTGRES_SCHEMA)
  --node ID        this node's id in claims (default: a random one per start, env WEFT_NODE_ID)
  --lease SECONDS  how long a claim holds without a heartbeat (default 30, env WEFT_LEASE_SECONDS):
                   a node that dies is taken over after at most this long
  -h, --help       show this help

The first start on a data directory prints the admin token once; keep it (WEFT_TOKEN for the CLI).
Lost it (or a first start was killed before you saw it)? weft admin-token --data DIR issues a new one.
Secrets in deploys are sealed with WEFT_SECRET_KEY (32 bytes, hex or base64) or <data>/secret.key;
a cluster needs WEFT_SECRET_KEY, the same on every node.`;

export async function serveCommand(argv: string[]): Promise<number> {
  let values;
  try {
    ({ values } = parseArgs({
      args: argv,
      options: {
        host: { type: "string" }, port: { type: "string" }, data: { type: "string" }, drain: { type: "string" }, help: { type: "boolean", short: "h" },
        postgres: { type: "string" }, schema: { type: "string" }, node: { type: "string" }, lease: { type: "string" },
      },
      strict: true, allowPositionals: false,
    }));
  } catch (e) {
    process.stderr.write(`weft serve: ${(e as Error).message}\nTry weft serve --help.\n`);
    return 2;
  }
  if (values.help) {
    process.stdout.write(SERVE_HELP + "\n");
    return 0;
  }
  const port = Number(values.port ?? process.env.WEFT_PORT ?? 8787);
  const drain = Number(values.drain ?? 10);
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    process.stderr.write(`weft serve: --port must be an integer from 0 to 65535, got ${JSON.stringify(values.port ?? process.env.WEFT_PORT)}\n`);
    return 2;
  }
  if (!Number.isFinite(drain) || drain < 0) {
    process.stderr.write(`weft serve: --drain must be a number of seconds ≥ 0, got ${JSON.stringify(values.drain)}\n`);
    return 2;
  }
  const dataDir = values.data ?? process.env.WEFT_DATA ?? "./weft-data";
  const postgres = values.postgres ?? process.env.WEFT_POSTGRES_URL;
  const schema = values.schema ?? process.env.WEFT_POSTGRES_SCHEMA;
  const lease = Number(values.lease ?? process.env.WEFT_LEASE_SECONDS ?? 30);
  if (!Number.isFinite(lease) || lease < 0.5 || lease > 3600) {
    process.stderr.write(`weft serve: --lease must be a number of seconds from 0.5 to 3600, got ${JSON.stringify(values.lease ?? process.env.WEFT_LEASE_SECONDS)}\n`);
    return 2;
  }
  if (schema !== undefined && !postgres) {
    process.stderr.write(`weft serve: --schema needs --postgres URL (the embedded store has no schemas)\n`);
    return 2;
  }
  const engineOptions = {
    leaseMs: Math.round(lease * 1000),
    nodeId: values.node ?? process.env.WEFT_NODE_ID,
    ...(postgres ? { postgres: { url: postgres, schema } } : {}),
  };
  // A new admin token is printed before its hash is committed (one synchronous write, so a kill
  // right after it still leaves the text in the pipe): a kill at any point never leaves a data
  // directory with an admin token nobody saw. It comes before the "serving" line, so whoever waits
  // for that line has the token already.
  const announce = (token: string) => {
    writeSync(1, `\nAdmin token (shown once; only its hash is stored):\n\n  ${token}\n\nUse it with the CLI:  export WEFT_TOKEN=${token}\n` +
      `(lost it? weft admin-token --data ${dataDir} issues a new one, with or without the server running)\n\n`);
    crashPoint("before-admin-token-commit");
  };
  let server;
  try {
    server = await startServer({ host: values.host ?? process.env.WEFT_HOST ?? "127.0.0.1", port, dataDir, drainMs: drain * 1000, announceAdminToken: announce, engineOptions });
  } catch (e) {
    const err = e as { code?: string; message?: string };
    if (err.code === "storage_unavailable" || err.code === "invalid_argument") {
      process.stderr.write(`weft serve: ${err.message}\n`);
      return 1;
    }
    throw e;
  }
  if (server.adminToken) crashPoint("after-admin-token-commit");
  const where = postgres ? `cluster node ${server.engine.node} on PostgreSQL schema ${schema ?? "weft"}, local data: ${dataDir}` : `data: ${dataDir}`;
  process.stdout.write(`weft is serving ${server.url} (${where})\n` + (server.adminToken ? `export WEFT_URL=${server.url}\n` : ""));
  return new Promise<number>((resolve) => {
    let signals = 0;
    const stop = (sig: string) => {
      signals++;
      if (signals === 1) {
        process.stdout.write(`\n${sig}: stopping (running steps may finish for up to ${drain} s; send it again to stop now)\n`);
        server.close().then(() => {
          // a statement stopped at its time limit may still run in its thread: Node would wait for it
          // at exit, forever if it never ends. Everything is committed by now, so end the process hard.
          if (server.engine.data.stuckSql > 0) {
            process.stdout.write(`${server.engine.data.stuckSql} SQL statement(s) stopped at their time limit are still running; exiting with SIGKILL (nothing is lost)\n`);
            process.kill(process.pid, "SIGKILL");
          }
          resolve(0);
        }, (e) => {
          process.stderr.write(`weft serve: stopping failed: ${(e as Error).message}\n`);
          resolve(1);
        });
      } else {
        // nothing committed can be lost: stop now (the engine closes its store on exit of close())
        process.stdout.write(`${sig} again: stopping now\n`);
        void server.engine.close().finally(() => process.exit(0));
      }
    };
    process.on("SIGTERM", () => stop("SIGTERM"));
    process.on("SIGINT", () => stop("SIGINT"));
  });
}
