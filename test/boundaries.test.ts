// The dependency arrows of DESIGN.md's layout, checked on every import in the tree (static and
// dynamic, type-only included unless a rule says otherwise). A file that imports against them fails
// here with the file, the import and the rule it breaks.
import { test } from "node:test";
import assert from "node:assert/strict";
import { readdirSync, readFileSync, statSync } from "node:fs";
import { dirname, join, normalize, relative } from "node:path";
import { fileURLToPath } from "node:url";

const ROOT = join(dirname(fileURLToPath(import.meta.url)), "..");

interface Edge {
  from: string;
  to: string;
  typeOnly: boolean;
}

function files(dir: string): string[] {
  const out: string[] = [];
  for (const name of readdirSync(join(ROOT, dir))) {
    if (name === "node_modules" || name === "dist") continue;
    const rel = join(dir, name);
    if (statSync(join(ROOT, rel)).isDirectory()) out.push(...files(rel));
    else if (/\.(ts|tsx)$/.test(name)) out.push(rel);
  }
  return out;
}

const IMPORT = /(?:^|\n)\s*(import|export)(\s+type)?\b[^;"'`]*?\bfrom\s*["']([^"']+)["']|\bimport\(\s*["']([^"']+)["']\s*\)|(?:^|\n)\s*import\s*["']([^"']+)["']|\brequire\(\s*["']([^"']+)["']\s*\)/g;

function edges(file: string): Edge[] {
  const src = readFileSync(join(ROOT, file), "utf8").replace(/\/\*[^]*?\*\//g, "").replace(/(^|[^:"'`])\/\/[^\n]*/g, "$1");
  const out: Edge[] = [];
  for (const m of src.matchAll(IMPORT)) {
    const spec = m[3] ?? m[4] ?? m[5] ?? m[6]!;
    const to = spec.startsWith(".") ? normalize(join(dirname(file), spec)) : spec;
    out.push({ from: file, to, typeOnly: Boolean(m[2]) });
  }
  return out;
}

const all = [...files("src"), ...files("dashboard")].flatMap(edges);
const under = (p: string, dir: string) => p === dir || p.startsWith(dir + "/");
const local = (e: Edge) => !/^[a-z@]/.test(e.to) || e.to.startsWith("src/") || e.to.startsWith("dashboard/");
const isNode = (e: Edge) => e.to.startsWith("node:");

interface Rule {
  name: string;
  applies: (file: string) => boolean;
  allowed: (e: Edge) => boolean;
}

/** npm packages bundled into the guest runtime: they need nothing of Node (web-streams-polyfill: guest/streams.ts) */
const GUEST_PACKAGES = ["web-streams-polyfill"];

const ADAPTERS = ["src/store/sqlite", "src/store/postgres", "src/sandbox/host", "src/instance-data/sql", "src/instance-data/fs", "src/instance-data/instance-data.ts"];

const RULES: Rule[] = [
  {
    name: "core is pure: no I/O, no node:*, no packages, nothing outside core",
    applies: (f) => under(f, "src/core"),
    allowed: (e) => under(e.to, "src/core"),
  },
  {
    name: "guest code (inside the isolate) imports only core, the protocol, the guest and the packages vetted to run in a bare isolate",
    applies: (f) => under(f, "src/sandbox/guest"),
    allowed: (e) => under(e.to, "src/core") || under(e.to, "src/sandbox/guest") || e.to === "src/sandbox/protocol.ts" || GUEST_PACKAGES.includes(e.to),
  },
  {
    name: "the engine depends on ports, never on adapters (src/main.ts composes them)",
    applies: (f) => under(f, "src/engine"),
    allowed: (e) => !ADAPTERS.some((a) => under(e.to, a)) && !["src/api", "src/cli", "src/main.ts", "src/testing", "src/tenancy"].some((d) => under(e.to, d)),
  },
  {
    name: "the HTTP API is thin: no store adapter, no isolates, no instance-data internals",
    applies: (f) => under(f, "src/api"),
    // git-http.ts is git's smart-HTTP protocol itself, served over the instance-data port's RepoSource
    allowed: (e) => e.to === "src/instance-data/fs/git-http.ts" || !ADAPTERS.some((a) => under(e.to, a)),
  },
  {
    name: "lower layers (store, instance data, sandbox host) never import the engine, the API or the CLI",
    applies: (f) => ["src/store", "src/instance-data", "src/sandbox"].some((d) => under(f, d)),
    allowed: (e) => !["src/engine", "src/api", "src/cli", "src/main.ts", "src/tenancy"].some((d) => under(e.to, d)),
  },
  {
    name: "instance data and the store do not speak the isolate protocol",
    applies: (f) => under(f, "src/instance-data") || under(f, "src/store"),
    allowed: (e) => e.to !== "src/sandbox/protocol.ts",
  },
  {
    name: "the CLI reaches adapters only through the composition root (src/main.ts)",
    applies: (f) => under(f, "src/cli"),
    allowed: (e) => !ADAPTERS.some((a) => under(e.to, a)),
  },
  {
    name: "observability reads the engine through the stats port it defines, never the engine itself",
    applies: (f) => under(f, "src/observability"),
    allowed: (e) => !["src/engine", "src/api", "src/cli", "src/main.ts"].some((d) => under(e.to, d)),
  },
  {
    name: "production code never imports testing/",
    applies: (f) => under(f, "src") && !under(f, "src/testing"),
    allowed: (e) => !under(e.to, "src/testing"),
  },
  {
    name: "the dashboard's UI talks to the HTTP API only: nothing of src/",
    applies: (f) => under(f, "dashboard/src"),
    allowed: (e) => !local(e) || under(e.to, "dashboard/src"),
  },
];

test("import boundaries: every import follows DESIGN.md's arrows", () => {
  const broken: string[] = [];
  for (const rule of RULES) {
    for (const e of all) if (rule.applies(e.from) && !rule.allowed(e)) broken.push(`${e.from} → ${e.to}${e.typeOnly ? " (type)" : ""}: ${rule.name}`);
  }
  assert.deepEqual(broken, []);
});

test("the core rule sees node:* imports (the checker itself works)", () => {
  const core = all.filter((e) => under(e.from, "src/core"));
  assert.ok(core.length > 5, "the core's imports were found");
  assert.equal(core.filter(isNode).length, 0);
  assert.ok(all.some((e) => e.from === "src/main.ts" && e.to === "src/store/sqlite/store.ts"), "main.ts composes the SQLite store");
});

test("the API goes through engine methods, not the store", () => {
  const uses: string[] = [];
  for (const f of files("src/api")) {
    const src = readFileSync(join(ROOT, f), "utf8");
    for (const m of src.matchAll(/engine\.store\.(\w+)/g)) uses.push(`${relative(ROOT, join(ROOT, f))}: engine.store.${m[1]}`);
  }
  assert.deepEqual(uses, []);
});
