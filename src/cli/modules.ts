// `weft run` input: reads a workflow file and the local modules it imports (relative specifiers,
// followed recursively) into the `{ mainModule, modules }` shape Engine.deploy takes. Module names are
// relative to the deepest directory that holds them all, so `../shared.ts` imports keep working.
// Bare specifiers ("cloudflare:workers", npm packages) are left to the compiler to accept or reject.
import { readFileSync, statSync } from "node:fs";
import { basename, dirname, extname, relative, resolve, sep } from "node:path";
import type { TenantCode } from "../engine/ports.ts";

/** `from "x"`, `import "x"`, `import("x")`; false hits in comments only add files, never fail. */
const SPECIFIER = /(?:\bfrom\s*|\bimport\s*\(?\s*)["']([^"'\n]+)["']/g;
/** The same candidates, in the same order, that the deploy-time bundler tries. */
const SUFFIXES = ["", ".ts", ".js", ".mts", ".mjs", ".tsx", ".jsx", ".json", "/index.ts", "/index.js"];
const MAX_MODULES = 1000;

export class InputError extends Error {}

function isFile(p: string): boolean {
  try {
    return statSync(p).isFile();
  } catch {
    return false;
  }
}

function resolveLocal(importer: string, spec: string): string | undefined {
  const base = resolve(dirname(importer), spec);
  for (const suf of SUFFIXES) {
    for (const cand of [base.replace(/\.js$/, "") + suf, base + suf]) if (isFile(cand)) return cand;
  }
  return undefined;
}

export function localSpecifiers(source: string): string[] {
  const out: string[] = [];
  for (const m of source.matchAll(SPECIFIER)) {
    const spec = m[1]!;
    if (spec.startsWith("./") || spec.startsWith("../")) out.push(spec);
  }
  return out;
}

/** Collect FILE and every local module it reaches. Throws InputError when FILE cannot be read. */
export function collectModules(file: string): TenantCode {
  const main = resolve(file);
  let mainSource: string;
  try {
    if (!statSync(main).isFile()) throw new Error("it is not a regular file");
    mainSource = readFileSync(main, "utf8");
  } catch (e) {
    const why = (e as NodeJS.ErrnoException).code === "ENOENT" ? "no such file" : (e as Error).message;
    throw new InputError(`cannot read workflow file ${file}: ${why}`);
  }
  const sources = new Map<string, string>([[main, mainSource]]);
  const todo = [main];
  while (todo.length > 0) {
    const importer = todo.pop()!;
    for (const spec of localSpecifiers(sources.get(importer)!)) {
      const target = resolveLocal(importer, spec);
      if (target === undefined || sources.has(target)) continue; // unresolved: the compiler reports it
      if (sources.size >= MAX_MODULES) throw new InputError(`${file} reaches more than ${MAX_MODULES} local modules`);
      sources.set(target, readFileSync(target, "utf8"));
      todo.push(target);
    }
  }
  const root = commonDir([...sources.keys()]);
  const name = (p: string) => relative(root, p).split(sep).join("/");
  const modules: Record<string, string> = {};
  for (const [p, src] of sources) modules[name(p)] = src;
  return { mainModule: name(main), modules };
}

function commonDir(paths: string[]): string {
  let dir = dirname(paths[0]!);
  for (const p of paths) {
    for (;;) {
      const rel = relative(dir, p);
      if (rel !== ".." && !rel.startsWith(".." + sep)) break;
      const up = dirname(dir);
      if (up === dir) break;
      dir = up;
    }
  }
  return dir;
}

/** A workflow name (^[a-zA-Z0-9_][a-zA-Z0-9-_]*$, ≤ 64 chars) from the file name. */
export function workflowNameFor(file: string): string {
  const stem = basename(file, extname(file)).replace(/[^a-zA-Z0-9_-]/g, "_").slice(0, 64);
  if (stem === "") return "workflow";
  return stem.startsWith("-") ? "_" + stem.slice(1) : stem;
}
