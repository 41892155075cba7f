// Test support: a private PostgreSQL server, for tests that stop, crash or restart the database (the
// machine's shared server at 127.0.0.1:5432, which other suites use at the same time, is never
// touched). It is a fresh cluster (initdb) in a temporary directory, trusting local connections,
// listening on 127.0.0.1 on a free port (and on a socket in its own directory), fsync on (the
// default: a crash restart loses nothing committed). The server binaries are Debian's
// (/usr/lib/postgresql/<version>/bin, the newest found) or WEFT_TEST_PG_BIN; missing ones are an
// error that says so, never a silent skip. As root (initdb refuses root) the server runs as the
// `postgres` user, through runuser.
//
//   const pg = await startPgServer();   // pg.url: postgres://postgres@127.0.0.1:<port>/postgres
//   await pg.stop({ mode: "immediate" }); … await pg.start();   // or pg.restart({ mode, downMs })
//   await pg.cleanup();                 // stops it and removes its directory
import { execFile, spawnSync } from "node:child_process";
import { appendFileSync, chownSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";

export type StopMode = "smart" | "fast" | "immediate";

export interface PgServer {
  /** postgres://postgres@127.0.0.1:<port>/postgres */
  readonly url: string;
  readonly port: number;
  /** the temporary directory (data in ./data, the server log in ./server.log) */
  readonly dir: string;
  /** is the server meant to be up (start() succeeded, no stop() since)? */
  readonly running: boolean;
  /** start it again (pg_ctl start -w: resolves once it accepts connections; after an immediate stop, after its crash recovery) */
  start(): Promise<void>;
  /** pg_ctl stop -w -m <mode>: "immediate" is a crash (no checkpoint; the next start recovers from the WAL), "fast" a clean shutdown; default fast */
  stop(o?: { mode?: StopMode }): Promise<void>;
  /** stop, stay down for `downMs` (default 0), start again */
  restart(o?: { mode?: StopMode; downMs?: number }): Promise<void>;
  /** the server log so far (for failure messages) */
  log(): string;
  /** stop (immediate) and remove the directory; safe to call twice */
  cleanup(): Promise<void>;
}

/** the directory of initdb and pg_ctl: WEFT_TEST_PG_BIN, or the newest /usr/lib/postgresql/<version>/bin */
export function findPgBin(): string {
  const want = ["initdb", "pg_ctl", "postgres"];
  const explicit = process.env.WEFT_TEST_PG_BIN;
  if (explicit) {
    const missing = want.filter((b) => !existsSync(join(explicit, b)));
    if (missing.length > 0) throw new Error(`WEFT_TEST_PG_BIN=${explicit} lacks ${missing.join(", ")}: point it at a PostgreSQL server's bin directory`);
    return explicit;
  }
  const root = "/usr/lib/postgresql";
  const versions = existsSync(root) ? readdirSync(root).filter((v) => /^\d+(\.\d+)?$/.test(v)).sort((a, b) => Number(b) - Number(a)) : [];
  for (const v of versions) {
    const bin = join(root, v, "bin");
    if (want.every((b) => existsSync(join(bin, b)))) return bin;
  }
  throw new Error(
    `this test needs the PostgreSQL server binaries (initdb, pg_ctl, postgres) to run a private server it can restart, and found none: ` +
    `looked in ${root}/<version>/bin (${versions.length ? `versions there: ${versions.join(", ")}, each lacking one` : "no versions there"}). ` +
    `Install the server (Debian: apt-get install postgresql) or set WEFT_TEST_PG_BIN to the directory holding initdb and pg_ctl.`,
  );
}

/** a TCP port nobody listens on right now on 127.0.0.1 */
function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once("error", reject);
    s.listen(0, "127.0.0.1", () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}

export async function startPgServer(o: { settings?: Record<string, string | number> } = {}): Promise<PgServer> {
  const bin = findPgBin();
  const asRoot = process.getuid?.() === 0;
  let uid = -1;
  let gid = -1;
  if (asRoot) {
    const id = spawnSync("id", ["-u", "postgres"], { encoding: "utf8" });
    const g = spawnSync("id", ["-g", "postgres"], { encoding: "utf8" });
    if (id.status !== 0 || g.status !== 0) throw new Error("running as root, this test runs the PostgreSQL server as the user `postgres` (initdb refuses root), and there is no such user: create it (Debian's postgresql package does)");
    uid = Number(id.stdout.trim());
    gid = Number(g.stdout.trim());
  }
  const dir = mkdtempSync(join(tmpdir(), "weft-pg-"));
  const data = join(dir, "data");
  const logFile = join(dir, "server.log");
  mkdirSync(data, { mode: 0o700 });
  if (asRoot) {
    chownSync(dir, uid, gid);
    chownSync(data, uid, gid);
  }
  const run = (tool: string, args: string[], timeoutMs = 60_000): Promise<string> => new Promise((resolve, reject) => {
    const [cmd, argv] = asRoot ? ["runuser", ["-u", "postgres", "--", join(bin, tool), ...args]] : [join(bin, tool), args];
    execFile(cmd, argv, { timeout: timeoutMs, encoding: "utf8", cwd: dir }, (err, stdout, stderr) => {
      if (err) reject(new Error(`${tool} ${args.join(" ")} failed: ${err.message}\n${stdout}\n${stderr}`));
      else resolve(stdout);
    });
  });
  let cleaned = false;
  let running = false;
  // the test process may die before cleanup: the server must not outlive it
  const onExit = () => {
    if (running) spawnSync(asRoot ? "runuser" : join(bin, "pg_ctl"), asRoot ? ["-u", "postgres", "--", join(bin, "pg_ctl"), "stop", "-D", data, "-m", "immediate", "-w"] : ["stop", "-D", data, "-m", "immediate", "-w"], { stdio: "ignore" });
    if (!cleaned) rmSync(dir, { recursive: true, force: true });
  };
  process.once("exit", onExit);
  try {
    // --no-sync only for initdb's own files: the running server fsyncs (fsync = on, the default)
    await run("initdb", ["-D", data, "-U", "postgres", "-A", "trust", "-E", "UTF8", "--no-sync", "--locale=C"]);
    const port = await freePort();
    const settings: Record<string, string | number> = {
      listen_addresses: "'127.0.0.1'", port, unix_socket_directories: `'${dir}'`, fsync: "on", max_connections: 100,
      shared_buffers: "'32MB'", logging_collector: "off", log_min_messages: "warning", ...o.settings,
    };
    const conf = Object.entries(settings).map(([k, v]) => `${k} = ${v}`).join("\n");
    // (postgresql.conf is the postgres user's file already: appending keeps its owner)
    appendFileSync(join(data, "postgresql.conf"), `\n# weft test server\n${conf}\n`);
    const start = async () => {
      await run("pg_ctl", ["start", "-D", data, "-l", logFile, "-w", "-t", "60"]);
      running = true;
    };
    const stop = async (so: { mode?: StopMode } = {}) => {
      await run("pg_ctl", ["stop", "-D", data, "-m", so.mode ?? "fast", "-w", "-t", "60"]);
      running = false;
    };
    await start();
    const server: PgServer = {
      url: `postgres://postgres@127.0.0.1:${port}/postgres`,
      port, dir,
      get running() { return running; },
      start,
      stop,
      async restart(ro = {}) {
        await stop({ mode: ro.mode });
        if (ro.downMs) await new Promise((r) => setTimeout(r, ro.downMs));
        await start();
      },
      log: () => (existsSync(logFile) ? readFileSync(logFile, "utf8") : ""),
      async cleanup() {
        if (cleaned) return;
        if (running) await stop({ mode: "immediate" }).catch(() => undefined);
        cleaned = true;
        process.off("exit", onExit);
        rmSync(dir, { recursive: true, force: true });
      },
    };
    return server;
  } catch (e) {
    onExit();
    cleaned = true;
    process.off("exit", onExit);
    throw e;
  }
}
