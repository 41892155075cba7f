// Builds the dashboard (dashboard/src, Preact + CodeMirror) into dashboard/dist with esbuild: one
// script, one stylesheet and index.html whose asset names carry a content hash. `npm install` runs it
// (the `prepare` script); `weft serve` builds in memory when dist/ is missing. Nothing is fetched at
// run time: every byte comes from node_modules.
import { build } from "esbuild";
import { mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { basename } from "node:path";
import { fileURLToPath } from "node:url";

export interface DashboardAssets {
  /** file name → bytes and content type */
  files: Map<string, { body: Uint8Array; type: string }>;
}

const root = fileURLToPath(new URL(".", import.meta.url));

export async function buildDashboard(o: { minify?: boolean } = {}): Promise<DashboardAssets> {
  const out = await build({
    entryPoints: [root + "src/main.tsx"],
    bundle: true,
    write: false,
    format: "esm",
    platform: "browser",
    target: ["chrome120", "firefox120", "safari17"],
    jsx: "automatic",
    jsxImportSource: "preact",
    minify: o.minify ?? true,
    sourcemap: false,
    // the workflow pages (and CodeMirror with them) are a chunk of their own, loaded on demand
    splitting: true,
    outdir: root + "out",
    entryNames: "app.[hash]",
    chunkNames: "chunk.[hash]",
    metafile: true,
    legalComments: "none",
    logLevel: "silent",
    loader: { ".css": "css" },
  });
  const files = new Map<string, { body: Uint8Array; type: string }>();
  for (const f of out.outputFiles) {
    const name = basename(f.path);
    files.set(name, { body: f.contents, type: name.endsWith(".css") ? "text/css; charset=utf-8" : "text/javascript; charset=utf-8" });
  }
  const entry = Object.entries(out.metafile!.outputs).find(([, o]) => o.entryPoint !== undefined)!;
  const js = basename(entry[0]);
  const css = entry[1].cssBundle ? basename(entry[1].cssBundle) : undefined;
  const html = readFileSync(root + "index.html", "utf8")
    // the stylesheet inline: a script waits for the stylesheets before it, so a separate file would
    // put one more request in front of the first render
    .replace("%CSS%", css ? `<style>${new TextDecoder().decode(files.get(css)!.body)}</style>` : "")
    // the chunks the entry imports statically load in parallel with it, not after it is parsed
    .replace("%JS%", [...entry[1].imports.filter((i) => i.kind === "import-statement").map((i) => `<link rel="modulepreload" href="/assets/${basename(i.path)}">`),
      `<script type="module" src="/assets/${js}"></script>`].join("\n"));
  files.set("index.html", { body: new TextEncoder().encode(html), type: "text/html; charset=utf-8" });
  return { files };
}

/** dashboard/dist: index.html and assets/ */
export async function writeDashboard(dir = root + "dist"): Promise<void> {
  const { files } = await buildDashboard();
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir + "/assets", { recursive: true });
  for (const [name, f] of files) writeFileSync(name === "index.html" ? `${dir}/index.html` : `${dir}/assets/${name}`, f.body);
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const t0 = performance.now();
  await writeDashboard();
  console.log(`dashboard built into dashboard/dist in ${Math.round(performance.now() - t0)} ms`);
}
