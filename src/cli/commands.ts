// The `weft` commands that drive a running `weft serve` over HTTP (docs/http-api.md): a small
// command framework (flags via node:util parseArgs, generated --help, the connection flags
// --url/--token/--json every remote command takes, exit codes 0 ok / 1 failed / 2 usage), then
// `tenants …`, `deploy` and `workflows …`. `instances …` lives in instances.ts, `dev` in dev.ts.
import { parseArgs } from "node:util";
import { readFileSync } from "node:fs";
import { relative, resolve, sep } from "node:path";
import { ApiError, Client, ConnectError, DEFAULT_URL, apiPath } from "./client.ts";
import {
  formatCompileErrors, tenantSummary, tenantsTable, tokensTable, workflowDescribe, workflowsTable,
  type CompileMessage, type Tenant, type TokenInfo, type WorkflowDetail, type WorkflowListItem,
} from "./format.ts";
import { collectModules, InputError, workflowNameFor } from "./modules.ts";
import { rootOf, withPackages } from "./packages.ts";
import { WeftError } from "../core/errors.ts";
import { UsageError } from "./run.ts";

// ---- the framework -------------------------------------------------------------------------------

export interface OptSpec {
  type: "string" | "boolean";
  multiple?: boolean;
  short?: string;
  /** the value's placeholder in help, e.g. "N" */
  arg?: string;
  desc: string;
}

export type Values = Record<string, string | boolean | (string | boolean)[] | undefined>;

export interface Io {
  out: (s: string) => void;
  err: (s: string) => void;
}

export const stdio: Io = { out: (s) => process.stdout.write(s + "\n"), err: (s) => process.stderr.write(s + "\n") };

export interface Ctx {
  /** positionals by name (as declared in Command.args, without "?") */
  args: Record<string, string | undefined>;
  values: Values;
  client: Client;
  json: boolean;
  /** the --tenant value (or WEFT_TENANT); "" when the command takes none */
  tenant: string;
  io: Io;
  /** print a response: raw JSON with --json, else the human form */
  print(response: unknown, human: () => string): void;
  str(name: string): string | undefined;
  list(name: string): string[];
  int(name: string, min: number, max?: number): number | undefined;
  jsonValue(name: string): unknown;
  pairs(name: string): Record<string, string> | undefined;
}

export interface Command {
  /** "instances list" */
  name: string;
  /** positional names; a trailing "?" marks an optional one */
  args: string[];
  summary: string;
  description?: string;
  options: Record<string, OptSpec>;
  /** takes --tenant (required) */
  tenant?: boolean;
  /** takes the connection flags (default true) */
  remote?: boolean;
  examples?: string[];
  run(c: Ctx): Promise<number>;
}

const CONNECTION: Record<string, OptSpec> = {
  url: { type: "string", arg: "URL", desc: `the weft server (env WEFT_URL, default ${DEFAULT_URL})` },
  token: { type: "string", arg: "TOKEN", desc: "the admin token or a tenant token (env WEFT_TOKEN)" },
  json: { type: "boolean", desc: "print the raw JSON response instead of the human form" },
};
const TENANT: Record<string, OptSpec> = { tenant: { type: "string", arg: "TENANT", desc: "the tenant (env WEFT_TENANT)" } };
const HELP_OPT: Record<string, OptSpec> = { help: { type: "boolean", short: "h", desc: "show this help" } };

function allOptions(cmd: Command): Record<string, OptSpec> {
  return { ...cmd.options, ...(cmd.tenant ? TENANT : {}), ...(cmd.remote === false ? {} : CONNECTION), ...HELP_OPT };
}

function usageLine(cmd: Command): string {
  const args = cmd.args.map((a) => (a.endsWith("?") ? `[${a.slice(0, -1)}]` : a)).join(" ");
  return `weft ${cmd.name}${args ? " " + args : ""}${cmd.tenant ? " --tenant TENANT" : ""} [options]`;
}

export function commandHelp(cmd: Command): string {
  const opts = allOptions(cmd);
  const rows = Object.entries(opts).map(([k, o]) => {
    const flag = `${o.short ? `-${o.short}, ` : ""}--${k}${o.type === "string" ? ` ${o.arg ?? "VALUE"}` : ""}${o.multiple ? "..." : ""}`;
    return [flag, o.desc] as const;
  });
  const w = Math.max(...rows.map(([f]) => f.length)) + 2;
  let s = `Usage: ${usageLine(cmd)}\n\n${cmd.summary}`;
  if (cmd.description) s += `\n${cmd.description}`;
  s += "\n\nOptions:\n" + rows.map(([f, d]) => `  ${f.padEnd(w)}${d}`).join("\n");
  if (cmd.examples?.length) s += "\n\nExamples:\n" + cmd.examples.map((e) => `  ${e}`).join("\n");
  return s;
}

export function groupHelp(group: string, summary: string, cmds: Command[]): string {
  const rows = cmds.map((c) => [usageLine(c).replace(/ \[options\]$/, ""), c.summary] as const);
  return `Usage: weft ${group} <command> [options]\n\n${summary}\n\nCommands:\n` +
    rows.map(([u, s]) => `  ${u}\n      ${s}`).join("\n") +
    `\n\nEvery command takes --url URL (env WEFT_URL, default ${DEFAULT_URL}), --token TOKEN (env WEFT_TOKEN) and --json.\n` +
    `weft ${group} <command> --help shows one command's options.`;
}

function makeCtx(cmd: Command, positionals: string[], values: Values, io: Io, env: NodeJS.ProcessEnv): Ctx {
  const names = cmd.args.map((a) => a.replace(/\?$/, ""));
  const required = cmd.args.filter((a) => !a.endsWith("?")).length;
  if (positionals.length < required) {
    const missing = names[positionals.length]!;
    throw new UsageError(`missing ${missing} (usage: ${usageLine(cmd)})`);
  }
  if (positionals.length > names.length) {
    throw new UsageError(`unexpected argument ${JSON.stringify(positionals[names.length])} (usage: ${usageLine(cmd)})`);
  }
  const args: Record<string, string | undefined> = {};
  names.forEach((n, i) => (args[n] = positionals[i]));
  for (const [n, v] of Object.entries(args)) if (v !== undefined && v.trim() === "") throw new UsageError(`${n} must not be empty`);
  let tenant = "";
  if (cmd.tenant) {
    tenant = (values.tenant as string | undefined) ?? env.WEFT_TENANT ?? "";
    if (tenant === "") throw new UsageError("missing --tenant TENANT (or set WEFT_TENANT)");
  }
  let client: Client;
  try {
    client = new Client({ url: (values.url as string | undefined) ?? env.WEFT_URL ?? DEFAULT_URL, token: (values.token as string | undefined) ?? env.WEFT_TOKEN });
  } catch (e) {
    throw new UsageError((e as Error).message);
  }
  const json = values.json === true;
  const str = (name: string) => {
    const v = values[name];
    if (v === undefined) return undefined;
    if (typeof v !== "string") throw new UsageError(`--${name} needs a value`);
    return v;
  };
  const ctx: Ctx = {
    args, values, client, json, tenant, io,
    print(response, human) {
      io.out(json ? JSON.stringify(response ?? {}, null, 2) : human());
    },
    str,
    list: (name) => ((values[name] as string[] | undefined) ?? []).map(String),
    int(name, min, max) {
      const v = str(name);
      if (v === undefined) return undefined;
      const n = Number(v);
      if (!/^-?\d+$/.test(v.trim()) || !Number.isSafeInteger(n) || n < min || (max !== undefined && n > max)) {
        throw new UsageError(`--${name} must be a whole number ${max === undefined ? `≥ ${min}` : `from ${min} to ${max}`}, got ${JSON.stringify(v)}`);
      }
      return n;
    },
    jsonValue(name) {
      const v = str(name);
      return v === undefined ? undefined : parseJsonFlag(`--${name}`, v);
    },
    pairs(name) {
      const items = ctx.list(name);
      if (items.length === 0) return undefined;
      const out: Record<string, string> = {};
      for (const it of items) {
        const eq = it.indexOf("=");
        if (eq <= 0) throw new UsageError(`--${name} expects KEY=VALUE, got ${JSON.stringify(it)}`);
        out[it.slice(0, eq)] = it.slice(eq + 1);
      }
      return out;
    },
  };
  return ctx;
}

export function parseJsonFlag(flag: string, text: string): unknown {
  try {
    return JSON.parse(text);
  } catch (e) {
    const shown = text.length > 60 ? text.slice(0, 57) + "..." : text;
    throw new UsageError(`${flag} is not valid JSON (${(e as Error).message}): ${JSON.stringify(shown)}`);
  }
}

/** Print a failed request: the server's message, or its JSON error body with --json. */
export function reportError(name: string, e: ApiError | ConnectError, io: Io, json: boolean): void {
  if (e instanceof ConnectError) {
    io.err(`weft ${name}: ${e.message}`);
    return;
  }
  if (json) {
    io.err(JSON.stringify(e.toJSON(), null, 2));
    return;
  }
  io.err(`weft ${name}: ${e.message}`);
}

/** Parse and run one command; resolves to the exit code. Usage and request errors are printed here. */
export async function execute(cmd: Command, argv: string[], io: Io = stdio, env: NodeJS.ProcessEnv = process.env): Promise<number> {
  let ctx: Ctx;
  try {
    const options: Record<string, { type: "string" | "boolean"; multiple?: boolean; short?: string }> = {};
    for (const [k, o] of Object.entries(allOptions(cmd))) {
      options[k] = { type: o.type, ...(o.multiple ? { multiple: true } : {}), ...(o.short ? { short: o.short } : {}) };
    }
    let parsed: { values: Values; positionals: string[] };
    try {
      parsed = parseArgs({ args: argv, options, allowPositionals: true, strict: true }) as { values: Values; positionals: string[] };
    } catch (e) {
      throw new UsageError((e as Error).message);
    }
    if (parsed.values.help) {
      io.out(commandHelp(cmd));
      return 0;
    }
    ctx = makeCtx(cmd, parsed.positionals, parsed.values, io, env);
  } catch (e) {
    if (!(e instanceof UsageError)) throw e;
    io.err(`weft ${cmd.name}: ${e.message}\nTry weft ${cmd.name} --help.`);
    return 2;
  }
  try {
    return await cmd.run(ctx);
  } catch (e) {
    if (e instanceof UsageError) {
      io.err(`weft ${cmd.name}: ${e.message}\nTry weft ${cmd.name} --help.`);
      return 2;
    }
    if (e instanceof ApiError || e instanceof ConnectError) {
      reportError(cmd.name, e, io, ctx.json);
      return 1;
    }
    throw e;
  }
}

/** `weft GROUP SUB …`: finds SUB among `cmds` and runs it; group help on --help or no SUB. */
export async function executeGroup(group: string, summary: string, cmds: Command[], argv: string[], io: Io = stdio, env: NodeJS.ProcessEnv = process.env): Promise<number> {
  const [sub, ...rest] = argv;
  if (sub === undefined || sub === "--help" || sub === "-h" || sub === "help") {
    (sub === undefined ? io.err : io.out)(groupHelp(group, summary, cmds));
    return sub === undefined ? 2 : 0;
  }
  const cmd = cmds.find((c) => c.name === `${group} ${sub}`);
  if (!cmd) {
    io.err(`weft ${group}: unknown command ${JSON.stringify(sub)}; one of: ${cmds.map((c) => c.name.slice(group.length + 1)).join(", ")}\nTry weft ${group} --help.`);
    return 2;
  }
  return execute(cmd, rest, io, env);
}

// ---- tenants -------------------------------------------------------------------------------------

const quotaOptions: Record<string, OptSpec> = {
  "max-running": { type: "string", arg: "N", desc: "instances that may run at once; more wait as queued (default 1000)" },
  "creates-per-second": { type: "string", arg: "N", desc: "instance creations per second; over it creates answer 429 (default 1000)" },
  "create-burst": { type: "string", arg: "N", desc: "creations allowed in a burst above the rate (default 2000)" },
  "events-per-second": { type: "string", arg: "N", desc: "events sent per second, per engine node; over it sends answer 429 (default 500)" },
  "event-burst": { type: "string", arg: "N", desc: "events allowed in a burst above the rate (default 1000)" },
};

export const tenantCommands: Command[] = [
  {
    name: "tenants create",
    args: ["NAME"],
    summary: "Create a tenant (admin token).",
    options: quotaOptions,
    examples: ["weft tenants create acme --max-running 50"],
    async run(c) {
      const quotas: Record<string, number> = {};
      const max = c.int("max-running", 1);
      const rate = c.int("creates-per-second", 1);
      const burst = c.int("create-burst", 1);
      if (max !== undefined) quotas.maxRunningInstances = max;
      if (rate !== undefined) quotas.createsPerSecond = rate;
      if (burst !== undefined) quotas.createBurst = burst;
      const eventRate = c.int("events-per-second", 1);
      const eventBurst = c.int("event-burst", 1);
      if (eventRate !== undefined) quotas.eventsPerSecond = eventRate;
      if (eventBurst !== undefined) quotas.eventBurst = eventBurst;
      const body = { name: c.args.NAME!, ...(Object.keys(quotas).length > 0 ? { quotas } : {}) };
      const t = await c.client.request<Tenant>("POST", "/v1/tenants", { body });
      c.print(t, () => `Created ${tenantSummary(t)}.\nIssue a token for it with: weft tenants token ${t.name}`);
      return 0;
    },
  },
  {
    name: "tenants list",
    args: [],
    summary: "List the tenants (a tenant token sees only its own).",
    options: {},
    async run(c) {
      const r = await c.client.get<{ tenants: Tenant[] }>("/v1/tenants");
      c.print(r, () => tenantsTable(r.tenants));
      return 0;
    },
  },
  {
    name: "tenants token",
    args: ["NAME"],
    summary: "Issue a token for tenant NAME (admin token). Prints the token alone on stdout; it is shown only this once.",
    options: { name: { type: "string", arg: "LABEL", desc: "a label for the token (e.g. who or what uses it)" } },
    examples: ["export WEFT_TOKEN=$(weft tenants token acme --name ci)"],
    async run(c) {
      const label = c.str("name");
      const r = await c.client.request<{ id: string; name?: string; token: string; createdAt: string }>(
        "POST", apiPath("v1", "tenants", c.args.NAME!, "tokens"), { body: label === undefined ? {} : { name: label } },
      );
      if (c.json) {
        c.print(r, () => "");
      } else {
        c.io.out(r.token);
        c.io.err(`Token ${r.id} for tenant "${c.args.NAME}" (shown only this once). Revoke it with: weft tenants revoke ${c.args.NAME} ${r.id}`);
      }
      return 0;
    },
  },
  {
    name: "tenants tokens",
    args: ["NAME"],
    summary: "List the tokens of tenant NAME (ids, labels, revocation; never the tokens themselves).",
    options: {},
    async run(c) {
      const r = await c.client.get<{ tokens: TokenInfo[] }>(apiPath("v1", "tenants", c.args.NAME!, "tokens"));
      c.print(r, () => tokensTable(r.tokens));
      return 0;
    },
  },
  {
    name: "tenants revoke",
    args: ["NAME", "TOKEN_ID"],
    summary: "Revoke a token of tenant NAME at once (admin token). TOKEN_ID is the id `weft tenants tokens NAME` lists.",
    options: {},
    async run(c) {
      await c.client.request("DELETE", apiPath("v1", "tenants", c.args.NAME!, "tokens", c.args.TOKEN_ID!));
      c.print(undefined, () => `Revoked token ${c.args.TOKEN_ID} of tenant "${c.args.NAME}".`);
      return 0;
    },
  },
];

// ---- deploy --------------------------------------------------------------------------------------

export interface Bundle {
  mainModule: string;
  modules: Record<string, string>;
  /** absolute paths of the workflow's own files (what `weft dev` watches) */
  files: string[];
  /** the npm packages bundled from node_modules (packages.ts), by the names the code imports */
  packages: string[];
  /** bundling the packages failed (a Node.js built-in, a package not installed): deploying it throws this 422 */
  error?: ApiError;
  /** a module name → the path to show the user (relative to the working directory) */
  localPath(module: string): string;
}

/** Read FILE and the local modules it imports (collectModules) with the npm packages they import, remembering where each came from. */
export async function bundle(file: string): Promise<Bundle> {
  let code: ReturnType<typeof collectModules>;
  try {
    code = collectModules(file);
  } catch (e) {
    if (e instanceof InputError) throw new UsageError(e.message);
    throw e;
  }
  const root = rootOf(file, code.mainModule);
  const abs = (m: string) => resolve(root, m.split("/").join(sep));
  const b: Bundle = {
    mainModule: code.mainModule,
    modules: code.modules,
    files: Object.keys(code.modules).map(abs),
    packages: [],
    localPath: (m) => {
      const p = relative(process.cwd(), abs(m));
      return p === "" || p.startsWith("..") ? abs(m) : p;
    },
  };
  try {
    const withPkgs = await withPackages(code, root);
    b.modules = withPkgs.modules;
    b.packages = withPkgs.packages;
  } catch (e) {
    if (!(e instanceof WeftError)) throw e;
    b.error = new ApiError(422, e.code, e.message, e.details);
  }
  return b;
}

export function readEnvFile(path: string): Record<string, unknown> {
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (e) {
    throw new UsageError(`cannot read --bindings ${path}: ${(e as NodeJS.ErrnoException).code === "ENOENT" ? "no such file" : (e as Error).message}`);
  }
  const env = parseJsonFlag(`--bindings ${path}`, text);
  if (env === null || typeof env !== "object" || Array.isArray(env)) {
    throw new UsageError(`--bindings ${path} must hold a JSON object of bindings, e.g. {"API_URL":"https://…","API_KEY":{"secret":"…"}}`);
  }
  return env as Record<string, unknown>;
}

export interface DeployResult {
  workflow: string;
  version: string;
  className: string;
  createdAt: string;
  /** exports that load but are not run (a Workers fetch handler, WorkerEntrypoint/DurableObject classes); older servers send none */
  ignored?: { export: string; kind: string; why: string }[];
}

/** "Not run: …" lines for the exports the deploy loaded but does not run (empty when none). */
export function ignoredText(r: DeployResult): string {
  return (r.ignored ?? []).map((x) => `\nNot run: ${x.export === "default" ? "export default" : `export ${x.export}`} (${x.kind}): ${x.why}`).join("");
}

export interface DeployInput {
  tenant: string;
  workflow: string;
  className?: string;
  env?: Record<string, unknown>;
}

export async function deployBundle(client: Client, b: Bundle, d: DeployInput): Promise<DeployResult> {
  if (b.error) throw b.error; // found while bundling: nothing goes to the server
  const body: Record<string, unknown> = { mainModule: b.mainModule, modules: b.modules };
  if (d.className !== undefined) body.className = d.className;
  if (d.env !== undefined) body.env = d.env;
  return client.request<DeployResult>("PUT", apiPath("v1", "tenants", d.tenant, "workflows", d.workflow), { body });
}

/** A compile error as file:line:column lines of the user's files; undefined for other errors. */
export function compileErrorText(e: unknown, b: Bundle): string | undefined {
  if (!(e instanceof ApiError) || e.code !== "compile_error") return undefined;
  const errors = (e.details as { errors?: CompileMessage[] }).errors;
  if (!Array.isArray(errors) || errors.length === 0) return e.message;
  return formatCompileErrors(errors, b.localPath);
}

export const deployCommand: Command = {
  name: "deploy",
  args: ["FILE"],
  tenant: true,
  summary: "Deploy the workflow in FILE (.ts or .js, with the local modules it imports) as a new version.",
  description: "New instances run the new version; running instances keep the version they started with.",
  options: {
    workflow: { type: "string", arg: "NAME", desc: "the workflow's name (default: the file's name)" },
    class: { type: "string", arg: "NAME", desc: "the exported WorkflowEntrypoint class, when the file exports several" },
    "bindings": { type: "string", arg: "FILE", desc: 'a JSON object of env bindings: plain values, {"secret":"…"}, {"hostFunction":"…"}, {"workflow":"…"}' },
  },
  examples: ["weft deploy examples/onboarding.ts --tenant acme --workflow onboarding"],
  async run(c) {
    const file = c.args.FILE!;
    const workflow = c.str("workflow") ?? workflowNameFor(file);
    const env = c.str("bindings") === undefined ? undefined : readEnvFile(c.str("bindings")!);
    const b = await bundle(file);
    let r: DeployResult;
    try {
      r = await deployBundle(c.client, b, { tenant: c.tenant, workflow, className: c.str("class"), env });
    } catch (e) {
      const text = c.json ? undefined : compileErrorText(e, b);
      if (text === undefined) throw e;
      c.io.err(`weft deploy: ${file} does not compile; nothing was deployed.\n${text}`);
      return 1;
    }
    c.print(r, () => `Deployed ${workflow} version ${r.version} (class ${r.className}) to tenant "${c.tenant}".` +
      `${b.packages.length ? `\nBundled from node_modules: ${b.packages.join(", ")}` : ""}${ignoredText(r)}\n` +
      `Start an instance with: weft instances create ${workflow} --tenant ${c.tenant}`);
    return 0;
  },
};

// ---- workflows -----------------------------------------------------------------------------------

export const workflowCommands: Command[] = [
  {
    name: "workflows list",
    args: [],
    tenant: true,
    summary: "List the tenant's workflows: latest version and instance counts.",
    options: {},
    async run(c) {
      const r = await c.client.get<{ workflows: WorkflowListItem[] }>(apiPath("v1", "tenants", c.tenant, "workflows"));
      c.print(r, () => workflowsTable(r.workflows, c.tenant));
      return 0;
    },
  },
  {
    name: "workflows describe",
    args: ["WORKFLOW"],
    tenant: true,
    summary: "Show a workflow: its versions and instance counts.",
    options: {},
    async run(c) {
      const r = await c.client.get<WorkflowDetail>(apiPath("v1", "tenants", c.tenant, "workflows", c.args.WORKFLOW!));
      c.print(r, () => workflowDescribe(r));
      return 0;
    },
  },
  {
    name: "workflows delete",
    args: ["WORKFLOW"],
    tenant: true,
    summary: "Delete a workflow with all its versions and all its instances.",
    options: {},
    async run(c) {
      await c.client.request("DELETE", apiPath("v1", "tenants", c.tenant, "workflows", c.args.WORKFLOW!));
      c.print(undefined, () => `🗑️ Deleted workflow "${c.args.WORKFLOW}" of tenant "${c.tenant}" with its versions and instances.`);
      return 0;
    },
  },
];
