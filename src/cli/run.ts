// `weft run FILE.ts`: parses its flags, deploys the file (and the local modules it imports) into a
// temporary embedded engine, runs one instance to its end, prints the final instance detail as JSON
// on stdout and returns the exit code (0 complete, 1 errored/terminated or not deployable).
import { parseArgs } from "node:util";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { extname, join, resolve } from "node:path";
import { pathToFileURL } from "node:url";
import { validateEventType } from "../core/ids.ts";
import { WeftError } from "../core/errors.ts";
import type { Engine } from "../main.ts";
import type { WorkflowInstance } from "../engine/binding.ts";
import { collectModules, InputError, workflowNameFor } from "./modules.ts";
import { rootOf, withPackages } from "./packages.ts";
import { EventFeeder, runRealTime, runSkipTime, type QueuedEvent } from "./drive.ts";

export const RUN_HELP = `Usage: weft run FILE.ts [options]

Runs the workflow in FILE.ts (with the local modules and the npm packages from node_modules it
imports) in a temporary embedded engine until the instance ends, then prints the instance detail
(status, output, error, steps) as JSON.
Exit code: 0 when the instance completed, 1 when it errored or was terminated, or the code did not
deploy (the error is printed on stderr as JSON { code, message, details }), 2 for bad usage.

Options:
  --params JSON       the instance params (event.payload), e.g. --params '{"id":42}'
  --event TYPE=JSON   send an event of TYPE with payload JSON when the instance first waits for TYPE;
                      repeat for more events (several of one type go to successive waits, in order)
  --skip-time         run on a virtual clock: sleeps, retry delays and wait timeouts pass instantly
  --class NAME        the exported WorkflowEntrypoint class to run, when the file exports several
  --bindings FILE     the workflow's env: a JSON object (plain values, {"secret":"…"}, {"workflow":"…"}),
                      or a .ts/.js module whose default export is the env object, or a function
                      ({ workflow }) => env, so local stand-ins for KV/D1/R2 bindings (host objects
                      and functions running in this process) can be given, as wrangler dev does
  -h, --help          show this help

Console output of the workflow is printed on stderr.`;

export class UsageError extends Error {}

export interface RunArgs {
  file: string;
  params: unknown;
  events: QueuedEvent[];
  skipTime: boolean;
  className?: string;
  bindings?: string;
  help: boolean;
}

function parseJson(flag: string, text: string): unknown {
  try {
    return JSON.parse(text);
  } catch (e) {
    const shown = text.length > 60 ? text.slice(0, 57) + "..." : text;
    throw new UsageError(`${flag} is not valid JSON (${(e as Error).message}): ${JSON.stringify(shown)}`);
  }
}

function parseEvent(text: string): QueuedEvent {
  const eq = text.indexOf("=");
  if (eq < 0) throw new UsageError(`--event expects TYPE=JSON (e.g. --event approved='{"ok":true}'), got ${JSON.stringify(text)}`);
  const type = text.slice(0, eq);
  try {
    validateEventType(type);
  } catch (e) {
    throw new UsageError(`--event ${JSON.stringify(text)}: ${(e as Error).message}`);
  }
  return { type, payload: parseJson(`--event ${type}`, text.slice(eq + 1)) };
}

export function parseRunArgs(argv: string[]): RunArgs {
  let parsed: ReturnType<typeof parseRun>;
  try {
    parsed = parseRun(argv);
  } catch (e) {
    throw new UsageError((e as Error).message);
  }
  const { values, positionals } = parsed;
  if (values.help) return { file: "", params: undefined, events: [], skipTime: false, help: true };
  if (positionals.length === 0) throw new UsageError("missing FILE: the workflow's .ts or .js file (weft run FILE.ts)");
  if (positionals.length > 1) throw new UsageError(`unexpected argument ${JSON.stringify(positionals[1])}: weft run takes one FILE`);
  const params = values.params === undefined ? undefined : parseJson("--params", values.params);
  const events = (values.event ?? []).map(parseEvent);
  if (values.class !== undefined && values.class.trim() === "") throw new UsageError("--class needs a class name");
  if (values.bindings !== undefined && values.bindings.trim() === "") throw new UsageError("--bindings needs a FILE");
  return { file: positionals[0]!, params, events, skipTime: values["skip-time"] === true, className: values.class, bindings: values.bindings, help: false };
}

function parseRun(argv: string[]) {
  return parseArgs({
    args: argv,
    allowPositionals: true,
    strict: true,
    options: {
      params: { type: "string" },
      event: { type: "string", multiple: true },
      "skip-time": { type: "boolean" },
      class: { type: "string" },
      bindings: { type: "string" },
      help: { type: "boolean", short: "h" },
    },
  });
}

/**
 * `--bindings FILE`: a JSON object of env bindings (as `weft deploy --bindings`), or a module whose
 * default export is the env (or a function of { workflow } that returns it, possibly async).
 */
export async function loadBindings(file: string, workflow: string): Promise<Record<string, unknown>> {
  const isObject = (v: unknown): v is Record<string, unknown> => v !== null && typeof v === "object" && !Array.isArray(v);
  const ext = extname(file).toLowerCase();
  if (ext === ".json") {
    let text: string;
    try {
      text = readFileSync(file, "utf8");
    } catch (e) {
      throw new UsageError(`cannot read --bindings ${file}: ${(e as NodeJS.ErrnoException).code === "ENOENT" ? "no such file" : (e as Error).message}`);
    }
    const env = parseJson(`--bindings ${file}`, text);
    if (!isObject(env)) throw new UsageError(`--bindings ${file} must hold a JSON object of bindings, e.g. {"API_URL":"https://…"}`);
    const { SecretValue, WorkflowBindingRef } = await import("../engine/secrets.ts");
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(env)) {
      const keys = isObject(v) ? Object.keys(v) : [];
      if (isObject(v) && keys.length === 1 && typeof v.secret === "string") out[k] = new SecretValue(v.secret);
      else if (isObject(v) && keys.length === 1 && typeof v.hostFunction === "string") {
        throw new UsageError(`--bindings ${file}: ${k} names a host function, but weft run registers none; give the function in a .ts/.js bindings module instead`);
      } else if (isObject(v) && typeof v.workflow === "string" && keys.every((x) => x === "workflow")) out[k] = new WorkflowBindingRef(v.workflow);
      else out[k] = v;
    }
    return out;
  }
  if (![".ts", ".mts", ".js", ".mjs"].includes(ext)) throw new UsageError(`--bindings ${file}: expected a .json file or a .ts/.js module`);
  if (!existsSync(file)) throw new UsageError(`cannot read --bindings ${file}: no such file`);
  let mod: { default?: unknown };
  try {
    mod = await import(pathToFileURL(resolve(file)).href);
  } catch (e) {
    throw new UsageError(`--bindings ${file} failed to load: ${(e as Error).message}`);
  }
  const env = typeof mod.default === "function" ? await (mod.default as (c: { workflow: string }) => unknown)({ workflow }) : mod.default;
  if (!isObject(env)) throw new UsageError(`--bindings ${file} must export default an object of bindings (or a function returning one)`);
  return env;
}

export interface RunIo {
  out: (s: string) => void;
  err: (s: string) => void;
}

const defaultIo: RunIo = { out: (s) => process.stdout.write(s + "\n"), err: (s) => process.stderr.write(s + "\n") };

function errorJson(e: unknown): string {
  if (e instanceof WeftError) return JSON.stringify(e.toJSON(), null, 2);
  return JSON.stringify({ code: "internal", message: (e as Error)?.message ?? String(e), details: {} }, null, 2);
}

/** Run `weft run` with parsed arguments; resolves to the process exit code. */
export async function runCommand(args: RunArgs, io: RunIo = defaultIo): Promise<number> {
  let code: ReturnType<typeof collectModules>;
  try {
    code = collectModules(args.file);
  } catch (e) {
    if (e instanceof InputError) throw new UsageError(e.message);
    throw e;
  }
  try {
    code = await withPackages(code, rootOf(args.file, code.mainModule)); // npm packages from node_modules
  } catch (e) {
    io.err(errorJson(e));
    return 1;
  }
  // loaded here, not at the top: usage errors and --help do not pay for the engine, isolates and esbuild
  const [{ Engine }, { VirtualClock }] = await Promise.all([import("../main.ts"), import("../core/virtual-clock.ts")]);
  const dataDir = mkdtempSync(join(tmpdir(), "weft-run-"));
  const clock = args.skipTime ? new VirtualClock(Date.now()) : undefined;
  let engine: Engine | undefined;
  const cleanup = async () => {
    await engine?.close().catch(() => undefined);
    rmSync(dataDir, { recursive: true, force: true });
  };
  const onSignal = () => void cleanup().finally(() => process.exit(130));
  process.once("SIGINT", onSignal);
  process.once("SIGTERM", onSignal);
  try {
    engine = await Engine.open({ dataDir, clock, synchronous: "normal" });
    const workflow = workflowNameFor(args.file);
    const env = args.bindings === undefined ? undefined : await loadBindings(args.bindings, workflow);
    let inst: WorkflowInstance;
    try {
      const deployed = await engine.deploy({ tenant: "local", workflow, code, className: args.className, env });
      for (const x of deployed.ignored) io.err(`weft run: not run: ${x.export === "default" ? "export default" : `export ${x.export}`} (${x.kind}): ${x.why}`);
      inst = await engine.workflow("local", workflow).create({ params: args.params });
    } catch (e) {
      io.err(errorJson(e));
      return 1;
    }
    const feeder = new EventFeeder(engine, inst, args.events);
    try {
      if (clock) await runSkipTime(engine, inst, clock, feeder);
      else await runRealTime(inst, feeder);
    } catch (e) {
      io.err(`weft run: ${(e as Error).message}`); // gave up (--skip-time): print where the instance stands
    }
    await feeder.poll();
    await printLogs(engine, inst, io);
    for (const f of feeder.failures) io.err(`weft run: ${f}`);
    for (const u of feeder.unsent()) {
      io.err(`weft run: --event ${u.type} was not sent${u.count > 1 ? ` (${u.count} times)` : ""}: the instance never waited for an event of that type`);
    }
    const detail = await inst.describe();
    io.out(JSON.stringify(detail, null, 2));
    return detail.status === "complete" ? 0 : 1;
  } finally {
    process.off("SIGINT", onSignal);
    process.off("SIGTERM", onSignal);
    await cleanup();
  }
}

async function printLogs(engine: Engine, inst: WorkflowInstance, io: RunIo): Promise<void> {
  await new Promise((r) => setImmediate(r)); // the engine flushes captured console lines a turn later
  await new Promise((r) => setImmediate(r));
  let after = 0;
  for (;;) {
    const lines = await engine.logs(inst.record, after, 1000);
    for (const l of lines) io.err(`[${l.level}] ${l.message}`);
    if (lines.length < 1000) return;
    after = lines[lines.length - 1]!.seq;
  }
}
