// Host side: turns a tenant's modules into one script at deploy time (esbuild), and builds the guest
// runtime bundle once per process. Compile errors come back as file:line:column with esbuild's text.
import { build, type Plugin, type Message } from "esbuild";
import { fileURLToPath } from "node:url";
import { posix } from "node:path";
import { builtinModules } from "node:module";
import { ErrorCode, WeftError } from "../../core/errors.ts";

export interface TenantCode {
  mainModule: string;
  modules: Record<string, string>;
}

const LOADERS: Record<string, "ts" | "js" | "tsx" | "jsx" | "json"> = {
  ".ts": "ts", ".mts": "ts", ".cts": "ts", ".tsx": "tsx", ".js": "js", ".mjs": "js", ".cjs": "js", ".jsx": "jsx", ".json": "json",
};
const RESOLVE_SUFFIXES = ["", ".ts", ".js", ".mts", ".mjs", ".tsx", ".jsx", ".json", "/index.ts", "/index.js"];
export const TENANT_GLOBAL = "__weft_tenant";

/**
 * The modules the runtime offers and what each exports (names of globalThis.__weft_modules). As in
 * workerd, "cloudflare:workers" has the entrypoint classes, env, exports and waitUntil, and
 * "cloudflare:workflows" has NonRetryableError; each also keeps what Weft always offered in all three.
 */
const WEFT_CORE = ["WorkflowEntrypoint", "NonRetryableError", "WorkflowTimeoutError"];
const WORKERS = ["WorkerEntrypoint", "DurableObject", "RpcTarget", "RpcStub", "RpcPromise", "RpcProperty", "ServiceStub", "env", "exports", "waitUntil"];
export const RUNTIME_MODULES: Record<string, string[]> = {
  "cloudflare:workers": [...WEFT_CORE, ...WORKERS],
  "cloudflare:workflows": WEFT_CORE,
  weft: [...WEFT_CORE, ...WORKERS],
};

const NODE_BUILTINS = new Set(builtinModules);
export function isNodeBuiltin(spec: string): boolean {
  return spec.startsWith("node:") || NODE_BUILTINS.has(spec);
}
/** as the message reads in compile.ts and packages.ts (the CLI's bundling) alike */
export function nodeBuiltinText(spec: string): string {
  const what = spec.startsWith("node:") ? `${spec} is a Node.js built-in` : `"${spec}" is the Node.js built-in node:${spec}`;
  return `${what}; the Weft sandbox, like Workers without nodejs_compat, does not offer it`;
}

function normalize(p: string): string {
  return posix.normalize(p.replace(/^\.?\//, ""));
}

function tenantPlugin(code: TenantCode): Plugin {
  const files = new Map<string, string>();
  for (const [name, src] of Object.entries(code.modules)) files.set(normalize(name), src);
  const find = (base: string): string | undefined => {
    for (const suf of RESOLVE_SUFFIXES) {
      const cand = posix.normalize(base.replace(/\.js$/, "") + suf);
      if (files.has(cand)) return cand;
      if (files.has(posix.normalize(base + suf))) return posix.normalize(base + suf);
    }
    return undefined;
  };
  return {
    name: "weft-tenant",
    setup(b) {
      b.onResolve({ filter: /.*/ }, (args) => {
        if (Object.hasOwn(RUNTIME_MODULES, args.path)) return { path: args.path, namespace: "weft-runtime" };
        if (args.kind === "entry-point") return { path: normalize(args.path), namespace: "tenant" };
        if (!args.path.startsWith("./") && !args.path.startsWith("../")) {
          // a bare import: a module deployed under that name (a package `weft deploy` bundled from
          // node_modules, a stand-in for "agents/workflows" or "cloudflare:email"), as workerd resolves it
          const named = args.path.startsWith("/") ? undefined : find(posix.normalize(args.path));
          if (named !== undefined && !named.startsWith("..")) return { path: named, namespace: "tenant" };
          if (isNodeBuiltin(args.path)) return { errors: [{ text: nodeBuiltinText(args.path) }] };
          return {
            errors: [{
              text: `cannot import "${args.path}": no module of that name was deployed; tenant code imports its own modules (relative paths), ` +
                `modules deployed under a bare name, and "cloudflare:workers", "cloudflare:workflows" or "weft" (weft deploy/run bundle npm packages from node_modules)`,
            }],
          };
        }
        const base = posix.join(posix.dirname(args.importer), args.path);
        if (base.startsWith("..")) return { errors: [{ text: `import "${args.path}" leaves the deployed module set` }] };
        const found = find(base);
        if (found !== undefined) return { path: found, namespace: "tenant" };
        return { errors: [{ text: `cannot resolve "${args.path}": no module named ${base} among ${[...files.keys()].join(", ")}` }] };
      });
      b.onLoad({ filter: /.*/, namespace: "tenant" }, (args) => {
        const src = files.get(args.path);
        if (src === undefined) return { errors: [{ text: `module ${args.path} is not among the deployed modules` }] };
        const ext = posix.extname(args.path);
        return { contents: src, loader: LOADERS[ext] ?? "ts" };
      });
      b.onLoad({ filter: /.*/, namespace: "weft-runtime" }, (args) => ({
        contents: "const m = globalThis.__weft_modules;\n" + RUNTIME_MODULES[args.path]!.map((n) => `export const ${n} = m.${n};\n`).join(""),
        loader: "js",
      }));
    },
  };
}

/** esbuild's text, with the runtime's module names as the tenant wrote them and what they offer. */
function messageText(m: Message): string {
  const missing = /^No matching export in "weft-runtime:([^"]+)" for import "([^"]+)"$/.exec(m.text);
  if (missing && Object.hasOwn(RUNTIME_MODULES, missing[1]!)) {
    return `"${missing[1]}" has no export "${missing[2]}" in Weft (it offers ${RUNTIME_MODULES[missing[1]!]!.join(", ")})`;
  }
  return m.text.replace(/"weft-runtime:([^"]+)"/g, '"$1"').replace(/"tenant:([^"]+)"/g, '"$1"');
}

function location(m: Message): string {
  const l = m.location;
  if (!l) return messageText(m);
  return `${l.file.replace(/^(tenant|weft-runtime):/, "")}:${l.line}:${l.column + 1}: ${messageText(m)}`;
}

/**
 * Bundle tenant modules into one IIFE script that leaves its exports on globalThis.__weft_tenant. The
 * script ends with its source map inline (sources: the module names; no sources content), so a stored
 * version carries it to every node; stack traces are mapped back with it when an error is recorded
 * (source-map.ts). Modules that carry an inline map of their own (packages `weft deploy` bundled)
 * are mapped through it to the package's files.
 */
export async function compileTenant(code: TenantCode): Promise<string> {
  if (!Object.hasOwn(code.modules, code.mainModule)) {
    throw new WeftError(ErrorCode.InvalidArgument, `mainModule "${code.mainModule}" is not among the modules (${Object.keys(code.modules).join(", ") || "none"})`, {
      field: "code.mainModule", value: code.mainModule,
    });
  }
  try {
    const out = await build({
      entryPoints: [code.mainModule],
      bundle: true,
      write: false,
      format: "iife",
      globalName: TENANT_GLOBAL,
      platform: "neutral",
      target: "es2022",
      logLevel: "silent",
      charset: "utf8",
      sourcemap: "inline",
      sourcesContent: false,
      outfile: "tenant.js",
      plugins: [tenantPlugin(code)],
    });
    return out.outputFiles[0]!.text;
  } catch (e) {
    const errors = (e as { errors?: Message[] }).errors;
    if (!errors || errors.length === 0) throw e;
    const first = location(errors[0]!);
    throw new WeftError(ErrorCode.CompileError, `code does not compile: ${first}${errors.length > 1 ? ` (and ${errors.length - 1} more)` : ""}`, {
      errors: errors.map((m) => ({
        file: m.location?.file.replace(/^(tenant|weft-runtime):/, ""), line: m.location?.line, column: m.location ? m.location.column + 1 : undefined,
        message: messageText(m), lineText: m.location?.lineText,
      })),
    });
  }
}

let runtimeBundle: Promise<string> | undefined;

/** The guest runtime (src/sandbox/guest/runtime.ts and what it imports), bundled once per process. */
export function guestRuntimeBundle(): Promise<string> {
  runtimeBundle ??= build({
    entryPoints: [fileURLToPath(new URL("../guest/runtime.ts", import.meta.url))],
    bundle: true,
    write: false,
    format: "iife",
    platform: "neutral",
    target: "es2022",
    minify: true,
    logLevel: "silent",
  }).then((r) => r.outputFiles[0]!.text);
  return runtimeBundle;
}
