// The `weft` command: subcommand dispatch, help text and exit codes (0 ok, 1 failed, 2 usage).
// `run` is implemented in run.ts; `serve` and the HTTP client commands arrive with the control plane.
import { RUN_HELP, UsageError, parseRunArgs, runCommand } from "./run.ts";

const HELP = `Usage: weft <command> [options]

Commands:
  run FILE.ts [--params JSON] [--event TYPE=JSON]... [--skip-time] [--class NAME]
                 run a workflow to its end in a temporary embedded engine and print the
                 final instance detail as JSON (see weft run --help)
  serve          the HTTP API and dashboard (not available yet)
  deploy, instances
                 manage a running weft serve over HTTP (not available yet)

Options:
  -h, --help     show this help (weft <command> --help for one command)
  -v, --version  print the version`;

const LATER = new Set(["serve", "deploy", "instances"]);

async function version(): Promise<string> {
  const { readFile } = await import("node:fs/promises");
  const pkg = JSON.parse(await readFile(new URL("../../package.json", import.meta.url), "utf8")) as { version: string };
  return pkg.version;
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
    if (command === "run") {
      const args = parseRunArgs(rest);
      if (args.help) {
        process.stdout.write(RUN_HELP + "\n");
        return 0;
      }
      return await runCommand(args);
    }
    if (LATER.has(command)) {
      process.stderr.write(
        `weft ${command}: not available yet. The HTTP API (weft serve, deploy, instances) arrives with the control-plane ` +
          `issue. Until then, embed the engine (import { Engine } from "weft") or try a workflow with weft run FILE.ts.\n`,
      );
      return 1;
    }
    throw new UsageError(`unknown command ${JSON.stringify(command)}; commands: run, serve, deploy, instances (weft --help)`);
  } catch (e) {
    if (e instanceof UsageError) {
      process.stderr.write(`weft${command === "run" ? " run" : ""}: ${e.message}\n${command === "run" ? "Try weft run --help.\n" : ""}`);
      return 2;
    }
    process.stderr.write(`weft: ${(e as Error)?.stack ?? String(e)}\n`);
    return 1;
  }
}

process.exitCode = await main(process.argv.slice(2));
