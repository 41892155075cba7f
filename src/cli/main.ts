// The `weft` command: subcommand dispatch, help text and exit codes (0 ok, 1 failed, 2 usage).
// `run` is implemented in run.ts, `serve` in serve.ts, `dev` in dev.ts; the commands that drive a
// running server over HTTP in commands.ts (tenants, deploy, workflows) and instances.ts.
import { RUN_HELP, UsageError, parseRunArgs, runCommand } from "./run.ts";

const HELP = `Usage: weft <command> [options]

Run locally:
  run FILE.ts [--params JSON] [--event TYPE=JSON]... [--skip-time] [--class NAME] [--bindings FILE]
                 run a workflow to its end in a temporary embedded engine and print the
                 final instance detail as JSON
  dev FILE.ts [--tenant dev] [--workflow NAME] [--port 8787] [--data DIR]
                 a local server with FILE deployed, redeployed on every save
  serve          the HTTP API (weft serve --help)
  admin-token [--data DIR] [--revoke-others]
                 issue a new admin token from a data directory (a lost one)

Drive a running weft serve (--url / WEFT_URL, --token / WEFT_TOKEN, --json):
  tenants create NAME [--max-running N] [--creates-per-second N]
  tenants list | tenants token NAME [--name LABEL] | tenants tokens NAME
  tenants revoke NAME TOKEN_ID
  deploy FILE.ts --tenant T [--workflow W] [--class C] [--bindings JSON_FILE]
  workflows list --tenant T | workflows describe W --tenant T | workflows delete W --tenant T
  instances list W --tenant T [--status S] [--limit N] [--cursor C] [--reverse]
  instances describe W ID --tenant T          (ID may be "latest")
  instances create W --tenant T [--id ID] [--params JSON] [--metadata K=V]...
  instances pause|resume|delete W ID --tenant T
  instances terminate W ID --tenant T [--rollback]
  instances restart W ID --tenant T [--from-step-name X] [--from-step-count N] [--from-step-type T]
  instances send-event W ID --tenant T --type TYPE [--payload JSON]
  instances logs W ID --tenant T [--follow]

  --tenant may also come from WEFT_TENANT. weft <command> --help shows one command's options.

Options:
  -h, --help     show this help
  -v, --version  print the version

Exit codes: 0 ok, 1 failed (the server refused, or the instance errored), 2 bad usage.`;

const COMMANDS = ["run", "dev", "serve", "admin-token", "tenants", "deploy", "workflows", "instances"];

async function version(): Promise<string> {
  const { readFile } = await import("node:fs/promises");
  const pkg = JSON.parse(await readFile(new URL("../../package.json", import.meta.url), "utf8")) as { version: string };
  return pkg.version;
}

async function dispatch(command: string, rest: string[]): Promise<number> {
  switch (command) {
    case "run": {
      const args = parseRunArgs(rest);
      if (args.help) {
        process.stdout.write(RUN_HELP + "\n");
        return 0;
      }
      return await runCommand(args);
    }
    case "serve":
      return await (await import("./serve.ts")).serveCommand(rest);
    case "admin-token":
      return await (await import("./admin-token.ts")).adminTokenCommand(rest);
    case "dev": {
      const [{ execute }, { devCommand }] = await Promise.all([import("./commands.ts"), import("./dev.ts")]);
      return await execute(devCommand, rest);
    }
    case "deploy": {
      const { execute, deployCommand } = await import("./commands.ts");
      return await execute(deployCommand, rest);
    }
    case "tenants": {
      const { executeGroup, tenantCommands } = await import("./commands.ts");
      return await executeGroup("tenants", "Manage tenants and their tokens (admin token; a tenant token may list its own tenant).", tenantCommands, rest);
    }
    case "workflows": {
      const { executeGroup, workflowCommands } = await import("./commands.ts");
      return await executeGroup("workflows", "List, describe and delete a tenant's workflows.", workflowCommands, rest);
    }
    case "instances": {
      const [{ executeGroup }, { instanceCommands }] = await Promise.all([import("./commands.ts"), import("./instances.ts")]);
      return await executeGroup("instances", "Create, inspect and control a workflow's instances.", instanceCommands, rest);
    }
    default:
      throw new UsageError(`unknown command ${JSON.stringify(command)}; commands: ${COMMANDS.join(", ")} (weft --help)`);
  }
}

export async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  if (command === undefined || command === "help" || command === "--help" || command === "-h") {
    (command === undefined ? process.stderr : process.stdout).write(HELP + "\n");
    return command === undefined ? 2 : 0;
  }
  if (command === "--version" || command === "-v") {
    process.stdout.write((await version()) + "\n");
    return 0;
  }
  try {
    return await dispatch(command, rest);
  } catch (e) {
    if (e instanceof UsageError) {
      const known = COMMANDS.includes(command);
      process.stderr.write(`weft${known ? ` ${command}` : ""}: ${e.message}\n${known ? `Try weft ${command} --help.\n` : ""}`);
      return 2;
    }
    process.stderr.write(`weft: ${(e as Error)?.stack ?? String(e)}\n`);
    return 1;
  }
}

process.exitCode = await main(process.argv.slice(2));
