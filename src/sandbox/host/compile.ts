// Host side: turns a tenant's modules into one script at deploy time (esbuild), and builds the guest
// runtime bundle once per process. Compile errors come back as file:line:column with esbuild's text.
import { build, type Plugin, type Message } from "esbuild";
import { fileURLToPath } from "node:url";
import { posix } from "node:path";
import { ErrorCode, WeftError } from "../../core/errors.ts";

export interface TenantCode {
  mainModule: string;
  modules: Record<string, string>;
}

const RUNTIME_SPECIFIERS = new Set(["cloudflare:workers", "cloudflare:workflows", "weft"]);
const LOADERS: Record<string, "ts" | "js" | "tsx" | "jsx" | "json"> = {
  ".ts": "ts", ".mts": "ts", ".cts": "ts", ".tsx": "tsx", ".js": "js", ".mjs": "js", ".cjs": "js", ".jsx": "jsx", ".json": "json",
};
const RESOLVE_SUFFIXES = ["", ".ts", ".js", ".mts", ".mjs", ".tsx", ".jsx", ".json", "/index.ts", "/index.js"];
export const TENANT_GLOBAL = "__weft_tenant";

function normalize(p: string): string {
  return posix.normalize(p.replace(/^\.?\//, ""));
}

function tenantPlugin(code: TenantCode): Plugin {
  const files = new Map<string, string>();
  for (const [name, src] of Object.entries(code.modules)) files.set(normalize(name), src);
  return {
    name: "weft-tenant",
    setup(b) {
      b.onResolve({ filter: /.*/ }, (args) => {
        if (RUNTIME_SPECIFIERS.has(args.path)) return { path: args.path, namespace: "weft-runtime" };
        if (args.kind === "entry-point") return { path: normalize(args.path), namespace: "tenant" };
        if (!args.path.startsWith("./") && !args.path.startsWith("../")) {
          return {
            errors: [{ text: `cannot import "${args.path}": tenant code may import only its own modules (relative paths) and "cloudflare:workers", "cloudflare:workflows" or "weft"` }],
          };
        }
        const base = posix.join(posix.dirname(args.importer), args.path);
        if (base.startsWith("..")) return { errors: [{ text: `import "${args.path}" leaves the deployed module set` }] };
        for (const suf of RESOLVE_SUFFIXES) {
          const cand = posix.normalize(base.replace(/\.js$/, "") + suf);
          if (files.has(cand)) return { path: cand, namespace: "tenant" };
          if (files.has(posix.normalize(base + suf))) return { path: posix.normalize(base + suf), namespace: "tenant" };
        }
        return { errors: [{ text: `cannot resolve "${args.path}": no module named ${base} among ${[...files.keys()].join(", ")}` }] };
      });
      b.onLoad({ filter: /.*/, namespace: "tenant" }, (args) => {
        const src = files.get(args.path);
        if (src === undefined) return { errors: [{ text: `module ${args.path} is not among the deployed modules` }] };
        const ext = posix.extname(args.path);
        return { contents: src, loader: LOADERS[ext] ?? "ts" };
      });
      b.onLoad({ filter: /.*/, namespace: "weft-runtime" }, () => ({
        contents:
          "const m = globalThis.__weft_modules;\n" +
          "export const WorkflowEntrypoint = m.WorkflowEntrypoint;\n" +
          "export const NonRetryableError = m.NonRetryableError;\n" +
          "export const WorkflowTimeoutError = m.WorkflowTimeoutError;\n",
        loader: "js",
      }));
    },
  };
}

function location(m: Message): string {
  const l = m.location;
  if (!l) return m.text;
  return `${l.file.replace(/^(tenant|weft-runtime):/, "")}:${l.line}:${l.column + 1}: ${m.text}`;
}

/** Bundle tenant modules into one IIFE script that leaves its exports on globalThis.__weft_tenant. */
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
        message: m.text, lineText: m.location?.lineText,
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
