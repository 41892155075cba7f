// `weft dev FILE.ts`: a local server in this process (startServer), a tenant, the file deployed as a
// workflow, and a redeploy on every save of the file or a local module it imports (fs.watch on their
// directories, debounced; a compile error is printed as file:line:column and the previous version
// keeps serving). The admin token is printed; the data directory's first start is the only time the
// server returns it, so it is kept in <data>/dev-admin-token for later `weft dev` runs.
import { mkdirSync, readFileSync, watch, writeFileSync, type FSWatcher } from "node:fs";
import { basename, dirname, join, relative, resolve } from "node:path";
import { ApiError, Client } from "./client.ts";
import {
  bundle, compileErrorText, deployBundle, ignoredText, readEnvFile, reportError, type Bundle, type Command, type Ctx,
} from "./commands.ts";
import { workflowNameFor } from "./modules.ts";
import { UsageError } from "./run.ts";

export const DEV_TOKEN_FILE = "dev-admin-token";
const DEBOUNCE_MS = 100;

function clock(): string {
  const d = new Date();
  return [d.getHours(), d.getMinutes(), d.getSeconds()].map((n) => String(n).padStart(2, "0")).join(":");
}

function shown(p: string): string {
  const r = relative(process.cwd(), p);
  return r === "" || r.startsWith("..") ? p : r;
}

/** The admin token of `dataDir`: the one the server just created (saved), or the saved one. */
function adminToken(dataDir: string, fresh: string | null): string | undefined {
  const file = join(dataDir, DEV_TOKEN_FILE);
  if (fresh) {
    writeFileSync(file, fresh + "\n", { mode: 0o600 });
    return fresh;
  }
  try {
    return readFileSync(file, "utf8").trim() || undefined;
  } catch {
    return undefined;
  }
}

/** Watches the directories of a set of files; calls `onChange` (debounced) when one of the files changes. */
class FileWatcher {
  private readonly watchers = new Map<string, FSWatcher>();
  private files = new Set<string>();
  private timer: NodeJS.Timeout | undefined;
  private readonly onChange: () => void;

  constructor(onChange: () => void) {
    this.onChange = onChange;
  }

  /** Watch exactly `files` (absolute paths) from now on. */
  set(files: string[]): void {
    this.files = new Set(files);
    const dirs = new Set(files.map((f) => dirname(f)));
    for (const [dir, w] of this.watchers) {
      if (!dirs.has(dir)) {
        w.close();
        this.watchers.delete(dir);
      }
    }
    for (const dir of dirs) {
      if (this.watchers.has(dir)) continue;
      // a directory, not the file: editors that save by rename would leave a file watcher on the old inode
      const w = watch(dir, { persistent: false }, (_event, name) => {
        if (name === null || this.files.has(join(dir, name.toString()))) this.kick();
      });
      w.on("error", () => undefined);
      this.watchers.set(dir, w);
    }
  }

  private kick(): void {
    clearTimeout(this.timer);
    this.timer = setTimeout(this.onChange, DEBOUNCE_MS);
  }

  close(): void {
    clearTimeout(this.timer);
    for (const w of this.watchers.values()) w.close();
    this.watchers.clear();
  }
}

export const devCommand: Command = {
  name: "dev",
  args: ["FILE"],
  remote: false,
  summary: "Serve FILE as a workflow on a local weft server, redeploying it on every save.",
  description:
    "Starts the server in this process, creates the tenant if needed, deploys FILE, prints the URL and the admin\n" +
    "token, then watches FILE and the local modules it imports: each save deploys a new version (a compile error\n" +
    "is printed with its file:line:column, and the version before it keeps serving). Ctrl-C stops.",
  options: {
    tenant: { type: "string", arg: "TENANT", desc: "the tenant to deploy into, created if needed (default dev)" },
    workflow: { type: "string", arg: "NAME", desc: "the workflow's name (default: the file's name)" },
    class: { type: "string", arg: "NAME", desc: "the exported WorkflowEntrypoint class, when the file exports several" },
    "bindings": { type: "string", arg: "FILE", desc: "a JSON object of env bindings (watched too)" },
    port: { type: "string", arg: "PORT", desc: "the port to listen on (default 8787; 0 picks a free one)" },
    host: { type: "string", arg: "HOST", desc: "the address to listen on (default 127.0.0.1)" },
    data: { type: "string", arg: "DIR", desc: "the data directory (default .weft-dev)" },
    verbose: { type: "boolean", desc: "let the server log requests" },
  },
  examples: ["weft dev examples/onboarding.ts", "weft dev src/flow.ts --workflow flow --port 0 --data /tmp/weft-dev"],
  run: runDev,
};

async function runDev(c: Ctx): Promise<number> {
  const file = c.args.FILE!;
  const tenant = c.str("tenant") ?? "dev";
  const workflow = c.str("workflow") ?? workflowNameFor(file);
  const port = c.int("port", 0, 65535) ?? 8787;
  const host = c.str("host") ?? "127.0.0.1";
  const dataDir = resolve(c.str("data") ?? ".weft-dev");
  const envFile = c.str("bindings");
  const className = c.str("class");
  let b: Bundle = await bundle(file);
  const readEnv = () => (envFile === undefined ? undefined : readEnvFile(envFile));
  let env = readEnv();
  const { io } = c;

  mkdirSync(dataDir, { recursive: true });
  const { startServer } = await import("../api/server.ts");
  let server: Awaited<ReturnType<typeof startServer>>;
  try {
    server = await startServer({ dataDir, host, port, quiet: c.values.verbose !== true });
  } catch (e) {
    const code = (e as NodeJS.ErrnoException)?.code;
    if (code === "EADDRINUSE") {
      io.err(`weft dev: ${host}:${port} is already in use (another weft serve or weft dev?). Stop it, or pick another port with --port (0: any free one).`);
      return 1;
    }
    if (code === "EACCES" || code === "EADDRNOTAVAIL") {
      io.err(`weft dev: cannot listen on ${host}:${port} (${code}). Pick another --host or --port.`);
      return 1;
    }
    throw e;
  }
  let watcher: FileWatcher | undefined;
  let stop: (() => void) | undefined;
  const stopped = new Promise<void>((r) => (stop = r));
  const onSignal = () => stop!();
  process.once("SIGINT", onSignal);
  process.once("SIGTERM", onSignal);
  try {
    const token = adminToken(dataDir, server.adminToken);
    if (token === undefined) {
      io.err(
        `weft dev: the data directory ${shown(dataDir)} was first started outside weft dev, so its admin token is not in ` +
          `${shown(join(dataDir, DEV_TOKEN_FILE))}. Write the admin token into that file, or pick another --data directory.`,
      );
      return 1;
    }
    const client = new Client({ url: server.url, token });
    try {
      await client.request("POST", "/v1/tenants", { body: { name: tenant } });
    } catch (e) {
      if (!(e instanceof ApiError && e.status === 409)) {
        if (e instanceof ApiError && e.status === 401) {
          io.err(`weft dev: the admin token in ${shown(join(dataDir, DEV_TOKEN_FILE))} is not accepted by the server; ` +
            `remove that file and the data directory ${shown(dataDir)}, or pick another --data directory.`);
          return 1;
        }
        if (e instanceof ApiError) reportError("dev", e, io, false);
        else throw e;
        return 1;
      }
    }

    let serving: string | undefined;
    let announced = false; // the banner is out: later deploys print a line each
    let lastDeployed = "";
    const deploy = async (): Promise<void> => {
      const fingerprint = JSON.stringify([b.mainModule, b.modules, env ?? null]);
      if (fingerprint === lastDeployed) return;
      const t0 = performance.now();
      try {
        const r = await deployBundle(client, b, { tenant, workflow, className, env });
        lastDeployed = fingerprint;
        serving = r.version;
        if (announced) io.out(`[${clock()}] ↻ Deployed ${workflow} version ${r.version} (${Math.round(performance.now() - t0)} ms)`);
        const notRun = ignoredText(r);
        if (notRun) io.out(notRun.slice(1));
      } catch (e) {
        lastDeployed = fingerprint; // the same broken code is not deployed again until it changes
        const text = compileErrorText(e, b);
        const still = serving === undefined ? "nothing is deployed yet" : `still serving version ${serving}`;
        if (text !== undefined) io.err(`[${clock()}] ✘ ${shown(resolve(file))} does not compile; ${still}:\n${text}`);
        else if (e instanceof ApiError) io.err(`[${clock()}] ✘ deploy failed (${still}): ${e.message}`);
        else throw e;
      }
    };
    await deploy();

    const url = server.url;
    io.out(`weft dev: serving ${url} (data in ${shown(dataDir)})`);
    io.out(`Admin token: ${token}   (kept in ${shown(join(dataDir, DEV_TOKEN_FILE))})`);
    io.out(`Tenant "${tenant}", workflow "${workflow}": ${serving === undefined ? "not deployed yet (fix the error above and save)" : `version ${serving}`}`);
    io.out("");
    io.out("Try:");
    io.out(`  export WEFT_URL=${url} WEFT_TOKEN=${token} WEFT_TENANT=${tenant}`);
    io.out(`  weft instances create ${workflow} --params '{}'`);
    io.out(`  weft instances describe ${workflow} latest`);
    io.out("");
    announced = true;

    // redeploys run one at a time; saves during one are picked up right after it
    let running: Promise<void> | undefined;
    let again = false;
    const redeploy = async (): Promise<void> => {
      try {
        b = await bundle(file);
        env = readEnv();
      } catch (e) {
        if (!(e instanceof UsageError)) throw e;
        io.err(`[${clock()}] ✘ ${e.message}; ${serving === undefined ? "nothing is deployed yet" : `still serving version ${serving}`}`);
        return;
      }
      watcher!.set(watched());
      await deploy();
    };
    const onChange = () => {
      if (running) {
        again = true;
        return;
      }
      running = (async () => {
        do {
          again = false;
          await redeploy().catch((e) => io.err(`[${clock()}] ✘ redeploy failed: ${(e as Error)?.message ?? e}`));
        } while (again);
        running = undefined;
      })();
    };
    const watched = () => [...b.files, ...(envFile === undefined ? [] : [resolve(envFile)])];
    watcher = new FileWatcher(onChange);
    watcher.set(watched());
    const others = b.files.length - 1;
    io.out(`Watching ${basename(file)}${others > 0 ? ` and ${others} imported file${others > 1 ? "s" : ""}` : ""} for changes; every save redeploys. Ctrl-C stops.`);

    await stopped;
    await running;
    return 0;
  } finally {
    process.off("SIGINT", onSignal);
    process.off("SIGTERM", onSignal);
    watcher?.close();
    await server.close();
    io.err("weft dev: stopped.");
  }
}
