// npm packages for `weft deploy`, `weft dev` and `weft run`, bundled on the CLI side as wrangler does
// (esbuild, the "workerd"/"worker"/"browser" export conditions), so the engine receives
// self-contained modules. The tenant's own files go as they are (the engine compiles them, and its
// errors and stacks name them); every package they import becomes one shared CommonJS bundle,
// `node_modules/.weft/packages.cjs` (with its source map inline, so stacks name the package's files),
// and one small module per bare name (`mimetext`, `agents/workflows`) that takes that package from it.
// A Node.js built-in is refused with the importing file:line:column, as Workers without
// nodejs_compat refuse it; a package that only require()s one at run time (inside a try, say) gets
// a module that throws when loaded.
import { build, type Message, type Plugin } from "esbuild";
import { builtinModules } from "node:module";
import { join, posix, relative, resolve as resolvePath, sep } from "node:path";
import { ErrorCode, WeftError } from "../core/errors.ts";
import type { TenantCode } from "../engine/ports.ts";

export const PACKAGES_MODULE = "node_modules/.weft/packages.cjs";
/** what the runtime provides (never bundled); other `cloudflare:` modules are left for the deploy to provide */
const RUNTIME = new Set(["cloudflare:workers", "cloudflare:workflows", "weft"]);
const BUILTINS = new Set(builtinModules);
const CONDITIONS = ["workerd", "worker", "browser"];
const SUFFIXES = ["", ".ts", ".js", ".mts", ".mjs", ".tsx", ".jsx", ".json", "/index.ts", "/index.js"];
const LOADERS: Record<string, "ts" | "js" | "tsx" | "jsx" | "json"> = {
  ".ts": "ts", ".mts": "ts", ".cts": "ts", ".tsx": "tsx", ".js": "js", ".mjs": "js", ".cjs": "js", ".jsx": "jsx", ".json": "json",
};
const PLUGIN = "weft-packages";

/** as the message reads in compile.ts and packages.ts (the CLI's bundling) alike */
function builtinText(spec: string): string {
  const what = spec.startsWith("node:") ? `${spec} is a Node.js built-in` : `"${spec}" is the Node.js built-in node:${spec}`;
  return `${what}; the Weft sandbox, like Workers without nodejs_compat, does not offer it`;
}
const isBuiltin = (spec: string) => spec.startsWith("node:") || BUILTINS.has(spec);
const isBare = (spec: string) => !spec.startsWith("./") && !spec.startsWith("../") && !spec.startsWith("/");

/** esbuild's messages from our plugin as a compile error in the engine's shape (details.errors). */
function compileError(messages: Message[], root: string): WeftError {
  const errors = messages.map((m) => {
    const file = m.location ? relative(root, join(root, m.location.file.replace(/^tenant:/, ""))).split(sep).join("/") : undefined;
    return { file, line: m.location?.line, column: m.location ? m.location.column + 1 : undefined, message: m.text, lineText: m.location?.lineText };
  });
  const e = errors[0]!;
  const where = e.file ? `${e.file}:${e.line}:${e.column}: ` : "";
  return new WeftError(ErrorCode.CompileError, `code does not compile: ${where}${e.message}${errors.length > 1 ? ` (and ${errors.length - 1} more)` : ""}`, { errors });
}

interface Found {
  spec: string;
}

/**
 * The bare specifiers the tenant's modules import at run time (type-only imports are gone by then),
 * each checked to resolve from the project's node_modules. Errors for built-ins and packages that
 * are not installed come with the importing line; other errors (syntax) are the engine's to report.
 */
async function scan(code: TenantCode, root: string): Promise<string[]> {
  const files = new Map(Object.entries(code.modules));
  const specs = new Map<string, Found>();
  const plugin: Plugin = {
    name: PLUGIN,
    setup(b) {
      b.onResolve({ filter: /.*/ }, async (args) => {
        if (args.pluginData?.inner) return undefined;
        if (args.kind === "entry-point") return { path: posix.normalize(args.path.replace(/^\.\//, "")), namespace: "tenant" };
        const spec = args.path;
        if (!isBare(spec)) {
          const base = posix.join(posix.dirname(args.importer), spec);
          for (const suf of SUFFIXES) {
            for (const cand of [posix.normalize(base.replace(/\.js$/, "") + suf), posix.normalize(base + suf)]) {
              if (files.has(cand)) return { path: cand, namespace: "tenant" };
            }
          }
          return { path: spec, external: true }; // the engine names what is missing
        }
        if (RUNTIME.has(spec) || spec.startsWith("cloudflare:")) return { path: spec, external: true };
        if (spec.startsWith("node:")) return { errors: [{ text: builtinText(spec) }] };
        const r = await b.resolve(spec, { kind: args.kind, resolveDir: join(root, posix.dirname(args.importer)), pluginData: { inner: true } });
        if (r.errors.length > 0) {
          if (isBuiltin(spec)) return { errors: [{ text: builtinText(spec) }] };
          return { errors: [{ text: `cannot resolve "${spec}": it is not installed in node_modules (looked up from ${join(root, posix.dirname(args.importer))}); npm install it, or deploy a module of that name` }] };
        }
        if (!specs.has(spec)) specs.set(spec, { spec });
        return { path: spec, external: true };
      });
      b.onLoad({ filter: /.*/, namespace: "tenant" }, (args) => ({
        contents: files.get(args.path), loader: LOADERS[posix.extname(args.path)] ?? "ts", resolveDir: join(root, posix.dirname(args.path)),
      }));
    },
  };
  try {
    await build({
      entryPoints: [code.mainModule], bundle: true, write: false, platform: "browser", conditions: CONDITIONS, format: "esm",
      logLevel: "silent", absWorkingDir: root, plugins: [plugin],
    });
  } catch (e) {
    const errors = ((e as { errors?: Message[] }).errors ?? []).filter((m) => m.pluginName === PLUGIN);
    if (errors.length > 0) throw compileError(errors, root);
    // anything else (a syntax error) is left to the engine, which reports it on the tenant's files
  }
  return [...specs.keys()].sort();
}

/** One CommonJS bundle of every package in `specs`, each a lazy property of its exports. */
async function bundleAll(specs: string[], resolveDir: string, root: string): Promise<string> {
  const entry = "var m = {};\n" +
    specs.map((s) => `Object.defineProperty(m, ${JSON.stringify(s)}, { enumerable: true, get: function () { return require(${JSON.stringify(s)}); } });\n`).join("") +
    "module.exports = m;\n";
  const plugin: Plugin = {
    name: PLUGIN,
    setup(b) {
      b.onResolve({ filter: /.*/ }, async (args) => {
        if (args.pluginData?.inner) return undefined;
        if (args.kind === "entry-point") return { path: "entry", namespace: "weft-packages" };
        const spec = args.path;
        if (RUNTIME.has(spec) || spec.startsWith("cloudflare:")) return { path: spec, external: true };
        if (!isBuiltin(spec)) return undefined;
        // a package may map a built-in away (package.json "browser": { "fs": false }) or have a polyfill installed
        const r = await b.resolve(spec, { kind: args.kind, resolveDir: args.resolveDir, importer: args.importer, pluginData: { inner: true } });
        if (r.errors.length === 0) return { path: r.path, namespace: r.namespace, external: r.external, sideEffects: r.sideEffects };
        if (args.kind === "require-call" || args.kind === "dynamic-import") return { path: spec, namespace: "weft-node-builtin" };
        return { errors: [{ text: builtinText(spec) }] };
      });
      b.onLoad({ filter: /.*/, namespace: "weft-packages" }, () => ({ contents: entry, loader: "js", resolveDir }));
      b.onLoad({ filter: /.*/, namespace: "weft-node-builtin" }, (args) => ({ contents: `throw new Error(${JSON.stringify(builtinText(args.path))});\n`, loader: "js" }));
    },
  };
  try {
    const out = await build({
      entryPoints: ["entry"], bundle: true, write: false, format: "cjs", platform: "browser", conditions: CONDITIONS,
      target: "es2022", charset: "utf8", logLevel: "silent", absWorkingDir: root,
      // the map's sources are relative to the output: put it at the root, so they read node_modules/<pkg>/…
      outfile: join(root, "packages.cjs"), sourcemap: "inline", sourcesContent: false,
      define: { "process.env.NODE_ENV": '"production"' },
      plugins: [plugin],
    });
    return out.outputFiles[0]!.text;
  } catch (e) {
    const errors = (e as { errors?: Message[] }).errors;
    if (!errors || errors.length === 0) throw e;
    throw compileError(errors, root);
  }
}

/**
 * The deploy's modules with the npm packages they import added: unchanged when they import none.
 * `root` is the directory the module names are relative to; packages resolve from the main module's
 * directory upwards, as Node and esbuild look them up.
 */
export async function withPackages(code: TenantCode, root: string): Promise<TenantCode & { packages: string[] }> {
  const specs = (await scan(code, root)).filter((s) => !Object.hasOwn(code.modules, s));
  if (specs.length === 0) return { ...code, packages: [] };
  const text = await bundleAll(specs, join(root, posix.dirname(code.mainModule)), root);
  const modules: Record<string, string> = { ...code.modules, [PACKAGES_MODULE]: text };
  for (const s of specs) {
    let rel = posix.relative(posix.dirname(s), PACKAGES_MODULE);
    if (!rel.startsWith(".")) rel = "./" + rel;
    modules[s] = `// ${s}, bundled by weft from node_modules\nmodule.exports = require(${JSON.stringify(rel)})[${JSON.stringify(s)}];\n`;
  }
  return { mainModule: code.mainModule, modules, packages: specs };
}

/** The directory the module names of `collectModules(file)` are relative to. */
export function rootOf(file: string, mainModule: string): string {
  const main = resolvePath(file);
  const mainRel = mainModule.split("/").join(sep);
  return main.slice(0, main.length - mainRel.length);
}
