// Serves the web dashboard (dashboard/) at `/`: index.html and content-hashed assets. The files come
// from dashboard/dist, which `npm install` builds (the `prepare` script); when it is missing (a
// checkout without an install) the server builds them once in memory. The dashboard itself talks to
// the HTTP API only, with the signed-in token; nothing here reads the engine.
import { existsSync, readFileSync, readdirSync } from "node:fs";
import { fileURLToPath } from "node:url";
import type { Hono } from "hono";

type Assets = Map<string, { body: Uint8Array; type: string }>;

const DIST = fileURLToPath(new URL("../../dashboard/dist/", import.meta.url));
const TYPES: Record<string, string> = { html: "text/html; charset=utf-8", js: "text/javascript; charset=utf-8", css: "text/css; charset=utf-8" };

function fromDist(): Assets | null {
  if (!existsSync(DIST + "index.html")) return null;
  const files: Assets = new Map();
  files.set("index.html", { body: readFileSync(DIST + "index.html"), type: TYPES.html! });
  for (const f of readdirSync(DIST + "assets")) files.set(f, { body: readFileSync(DIST + "assets/" + f), type: TYPES[f.split(".").pop()!] ?? "application/octet-stream" });
  return files;
}

let built: Promise<Assets> | undefined;
function assets(): Promise<Assets> {
  built ??= (async () => {
    const d = fromDist();
    if (d) return d;
    const { buildDashboard } = await import("../../dashboard/build.ts");
    return (await buildDashboard()).files;
  })();
  return built;
}

// the page may only load its own script and style and talk to this origin
const CSP = "default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; connect-src 'self'; img-src 'self' data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

export function mountDashboard(app: Hono): void {
  app.get("/", async (c) => {
    // WEFT_DASHBOARD_DEV=1: rebuild from dashboard/src on every page load (working on the dashboard)
    if (process.env.WEFT_DASHBOARD_DEV === "1") built = import("../../dashboard/build.ts").then(async (m) => (await m.buildDashboard({ minify: false })).files);
    const index = (await assets()).get("index.html")!;
    return c.body(index.body as Uint8Array<ArrayBuffer>, 200, { "content-type": index.type, "cache-control": "no-cache", "content-security-policy": CSP, "x-content-type-options": "nosniff", "referrer-policy": "no-referrer" });
  });
  app.get("/assets/:file", async (c) => {
    const f = (await assets()).get(c.req.param("file"));
    if (!f || c.req.param("file") === "index.html") return c.notFound();
    // names carry a content hash: a new build is a new name
    return c.body(f.body as Uint8Array<ArrayBuffer>, 200, { "content-type": f.type, "cache-control": "public, max-age=31536000, immutable", "x-content-type-options": "nosniff" });
  });
}
