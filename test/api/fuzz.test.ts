// A property test of the HTTP API against a real listening server: thousands of random and malformed
// requests — odd methods, paths built from the real route templates (/openapi.json plus the git route)
// with segments replaced by arbitrary strings (unicode, emoji, "..", %2e%2e, %2f, %00, very long,
// empty), junk query strings, bodies that are bad JSON, wrong types, huge (over 1 MiB: 413), deeply
// nested, with __proto__ keys, the wrong Content-Type, and random Authorization headers mixed with
// valid admin and tenant tokens.
//
// Properties: no response is a 5xx (nor a hang, nor a dropped connection); every 4xx has the error
// body { error: { code, message, details } }; the server stays up (/healthz after every batch); and a
// refused request changes nothing — the tenant "pristine" is only ever sent requests that must be
// refused (no valid token for it, another tenant's, or a poisoned body), or reads, so its
// fingerprint (tenant, tokens, workflows and versions, every instance's detail, commits and logs) is
// the same at the end as at the start. The tenant "play" takes everything else, valid or not, with its
// own token and the admin's; its state may change (it is restored between batches).
//
// Reproducible: the seed is fixed and printed (FUZZ_SEED overrides it, FUZZ_RUNS the number of
// batches). Violations are collected over the whole run, not stopped at the first, so the report lists
// every kind of failure found, each with its exact request. What the fuzz found is pinned down after it
// by small deterministic tests (deep JSON, 413 on a chunked upload, backslash paths, tree/file of a
// missing path, a long SQL query stalling the server).
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import http from "node:http";
import net from "node:net";
import { spawn } from "node:child_process";
import fc from "fast-check";
import { DEPLOY_BODY, call, client, fingerprint, instanceIn, isErrorBody, startTestServer, type Client, type TestServer } from "./fixtures.ts";

const SEED = Number(process.env.FUZZ_SEED ?? 20260611);
const BATCH = 50;
const RUNS = Number(process.env.FUZZ_RUNS ?? 160); // 160 × 50 = 8,000 requests
const CONCURRENCY = 8;
const MIN_REQUESTS = process.env.FUZZ_RUNS ? Math.floor(RUNS * BATCH * 0.99) : 5_000; // FUZZ_RUNS (debugging) scales it
const REQUEST_TIMEOUT_MS = 15_000;
const MiB = 1024 * 1024;

// ---- the world -------------------------------------------------------------------------------------

let srv: TestServer;
let admin: Client;
let agent: http.Agent;
let templates: Template[];
const tok: Record<"pristine" | "play" | "revoked", { id: string; token: string }> = {} as never;
const real = {
  pristine: { workflow: "wf", version: "", ids: ["i-waiting", "i-paused", "i-complete"] },
  play: { workflow: "wf", version: "", ids: ["p-waiting", "p-complete"] },
};

interface Template {
  key: string;
  method: string;
  path: string;
  params: string[];
}

const GIT_TEMPLATE: Template = { key: "GIT /v1/tenants/{tenant}/workflows/{workflow}/instances/{id}/repo.git/{gitPath}", method: "GET", path: "/v1/tenants/{tenant}/workflows/{workflow}/instances/{id}/repo.git/{gitPath}", params: ["tenant", "workflow", "id", "gitPath"] };

before(async () => {
  srv = await startTestServer("weft-api-fuzz-");
  admin = client(srv.url, srv.adminToken);
  agent = new http.Agent({ keepAlive: true, maxSockets: CONCURRENCY });
  for (const name of ["pristine", "play"] as const) {
    await admin.ok("POST", "/v1/tenants", 201, { body: { name } });
    tok[name] = await admin.ok("POST", `/v1/tenants/${name}/tokens`, 201, { body: { name: `${name}-main` } });
  }
  tok.revoked = await admin.ok("POST", "/v1/tenants/pristine/tokens", 201, { body: { name: "pristine-revoked" } });
  await admin.ok("DELETE", `/v1/tenants/pristine/tokens/${tok.revoked.id}`, 204);
  const p = client(srv.url, tok.pristine.token);
  real.pristine.version = (await p.ok("PUT", "/v1/tenants/pristine/workflows/wf", 200, { body: DEPLOY_BODY })).version;
  await instanceIn(p, "pristine", "wf", "i-waiting", "waiting");
  await instanceIn(p, "pristine", "wf", "i-paused", "paused");
  await instanceIn(p, "pristine", "wf", "i-complete", "complete");
  const q = client(srv.url, tok.play.token);
  real.play.version = (await q.ok("PUT", "/v1/tenants/play/workflows/wf", 200, { body: DEPLOY_BODY })).version;
  await instanceIn(q, "play", "wf", "p-waiting", "waiting");
  await instanceIn(q, "play", "wf", "p-complete", "complete");

  const doc = await client(srv.url, null).ok("GET", "/openapi.json", 200);
  templates = [];
  for (const [path, methods] of Object.entries(doc.paths as Record<string, Record<string, unknown>>)) {
    for (const method of Object.keys(methods)) {
      templates.push({ key: `${method.toUpperCase()} ${path}`, method: method.toUpperCase(), path, params: [...path.matchAll(/\{([^}]+)\}/g)].map((m) => m[1]!) });
    }
  }
  templates.push(GIT_TEMPLATE, { ...GIT_TEMPLATE, method: "POST" });
});

after(async () => {
  agent?.destroy();
  await srv?.close();
});

// ---- what is generated --------------------------------------------------------------------------------

type Family = "play" | "pristine-unauthorized" | "pristine-poison" | "pristine-read" | "raw";
type AuthKind =
  | "none" | "admin" | "play" | "pristine" | "revoked" | "junk" | "bearer-junk" | "bearer-lower-admin" | "basic-admin" | "basic-play"
  | "weft-random" | "too-long" | "admin-suffix" | "no-scheme-admin" | "double-bearer";
type BodyKind =
  | "none" | "valid" | "wrong-type" | "extra-key" | "proto" | "random-json" | "bad-json" | "non-object" | "null" | "deep" | "huge"
  | "empty" | "bad-utf8" | "bom";

interface Spec {
  family: Family;
  route: number;
  method: number;
  segs: { kind: number; junk: string; mode: number }[];
  tenant: number;
  auth: AuthKind;
  authJunk: string;
  query: number;
  queryJunk: [string, string][];
  body: BodyKind;
  json: unknown;
  junk: string;
  depth: number;
  huge: number;
  chunked: boolean;
  ctype: number;
  salt: number;
}

const ODD_METHODS = ["OPTIONS", "HEAD", "TRACE", "PROPFIND", "MKCOL", "LOCK", "PURGE", "QUERY", "SEARCH", "FOO", "GETT", "M-SEARCH"];
const STD_METHODS = ["GET", "POST", "PUT", "PATCH", "DELETE"];
const SPECIAL_SEGMENTS = [
  "", ".", "..", "%2e%2e", "%2E%2E", ".%2e", "%2f", "%2F", "a%2fb", "%00", "a%00b", "%", "%zz", "%e2%82", "%ff%fe", "%c0%ae%c0%ae",
  "..%2f..%2f", "%2e%2e%2f%2e%2e%2fpristine", "a b", "🙂", "%F0%9F%99%82", "__proto__", "constructor", "prototype", "toString", "null",
  "undefined", "NaN", "-1", "0", "1e999", "wf", "WF", "wf ", "x".repeat(300), "y".repeat(4000), "*", "~", "'", "\"", ";", "$(id)",
  "repo.git", "info", "refs", "batch", "events", "%3F", "%23", "a;b=c", "A".repeat(64), "A".repeat(65), "tok_AAAAAAAAAAAA",
];
const CONTENT_TYPES = [
  "application/json", "application/json", "application/json", "application/json; charset=utf-8", "APPLICATION/JSON", "application/vnd.api+json",
  "text/plain", "", "application/x-www-form-urlencoded", "multipart/form-data; boundary=xyz", "application/jsonx", "json", "application/xml",
  "application/json; charset=utf-16", "text/json",
];

const junkString = fc.oneof(
  fc.string({ maxLength: 40 }),
  fc.string({ unit: "grapheme", maxLength: 20 }),
  fc.string({ unit: "binary", maxLength: 20 }),
  fc.string({ unit: "grapheme-ascii", maxLength: 60 }),
  fc.constantFrom(...SPECIAL_SEGMENTS),
);

const jsonValue = fc.jsonValue({ maxDepth: 4 });

const specArb: fc.Arbitrary<Spec> = fc.record({
  family: fc.constantFrom<Family>("play", "play", "play", "play", "play", "pristine-unauthorized", "pristine-unauthorized", "pristine-poison", "pristine-poison", "pristine-read", "raw"),
  route: fc.nat(),
  method: fc.nat(99),
  segs: fc.array(fc.record({ kind: fc.nat(99), junk: junkString, mode: fc.nat(9) }), { minLength: 5, maxLength: 5 }),
  tenant: fc.nat(99),
  auth: fc.constantFrom<AuthKind>(
    "none", "admin", "admin", "admin", "play", "play", "play", "pristine", "revoked", "junk", "bearer-junk", "bearer-lower-admin", "basic-admin",
    "basic-play", "weft-random", "too-long", "admin-suffix", "no-scheme-admin", "double-bearer",
  ),
  authJunk: fc.string({ unit: "grapheme-ascii", maxLength: 60 }),
  query: fc.nat(99),
  queryJunk: fc.array(fc.tuple(junkString, junkString), { maxLength: 4 }),
  body: fc.constantFrom<BodyKind>(
    "none", "valid", "valid", "valid", "valid", "wrong-type", "wrong-type", "wrong-type", "extra-key", "proto", "proto", "random-json", "bad-json",
    "bad-json", "non-object", "null", "deep", "deep", "huge", "empty", "bad-utf8", "bom",
  ),
  json: jsonValue,
  junk: fc.string({ maxLength: 80 }),
  depth: fc.constantFrom(10, 100, 500, 1000, 1500, 2000, 3000, 10_000, 100_000),
  huge: fc.integer({ min: MiB + 1, max: 2 * MiB }),
  chunked: fc.boolean(),
  ctype: fc.nat(99),
  salt: fc.nat(),
});

// ---- building a concrete request --------------------------------------------------------------------

/** A small PRNG seeded from the spec, for the route-specific choices (reproducible with the seed). */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Percent-encoding modes: strict (encodeURIComponent), loose (keeps % . and most punctuation), verbatim. */
function encodeSeg(raw: string, mode: number): string {
  const s = raw.toWellFormed();
  if (mode <= 5) return encodeURIComponent(s);
  const loose = (ch: string) => (/^[A-Za-z0-9._~!$&'()*+,;=:@%-]$/.test(ch) ? ch : encodeURIComponent(ch).replace(/%25/g, "%"));
  if (mode <= 8) return [...s].map((ch) => { try { return loose(ch); } catch { return "%EF%BF%BD"; } }).join("");
  // verbatim, but still ASCII and without / ? # (the client refuses the rest, and those change the shape)
  return [...s].map((ch) => (/^[\x21-\x7e]$/.test(ch) && !"/?#".includes(ch) ? ch : "_")).join("");
}

function safeEncode(s: string): string {
  try {
    return encodeURIComponent(s);
  } catch {
    return "%EF%BF%BD"; // lone surrogates
  }
}

const VALID: Record<string, (r: () => number, s: Spec, target: "play" | "pristine") => Record<string, unknown>> = {
  "POST /v1/tenants": (r) => ({ name: `t${Math.floor(r() * 1e6)}`, ...(r() < 0.3 ? { quotas: { maxRunningInstances: 1 + Math.floor(r() * 100) } } : {}) }),
  "PATCH /v1/tenants/{tenant}": (r) => ({ quotas: { [pick(r, ["maxRunningInstances", "createsPerSecond", "createBurst", "maxCodeBytes", "maxPayloadBytes"])]: 1 + Math.floor(r() * 5_000_000) } }),
  "POST /v1/tenants/{tenant}/tokens": (r) => (r() < 0.5 ? {} : { name: `n${Math.floor(r() * 1000)}` }),
  "PUT /v1/tenants/{tenant}/workflows/{workflow}": (r, s) => pick(r, [
    DEPLOY_BODY,
    { mainModule: "index.ts", modules: { "index.ts": String(s.junk) } },
    { mainModule: "index.ts", modules: { "index.ts": DEPLOY_BODY.modules["index.ts"] + `\n// ${s.salt}` }, env: { A: { secret: "s" }, B: s.json ?? null } },
    { mainModule: "main.js", modules: { "index.ts": "export {}" } },
    { mainModule: "index.ts", modules: { "index.ts": DEPLOY_BODY.modules["index.ts"] }, env: { H: { hostFunction: "nope" } } },
    { mainModule: "index.ts", modules: { "index.ts": DEPLOY_BODY.modules["index.ts"] }, limits: { memoryMb: Math.floor(r() * 1e6) - 10 } },
  ]),
  "POST /v1/tenants/{tenant}/workflows/{workflow}/instances": (r, s, target) => pick(r, [
    {},
    { params: s.json },
    { id: `x${s.salt % 1000}`, metadata: { k: "v" } },
    { files: { "a.txt": "x", [s.junk || "b"]: "y" } },
    { fork: { instance: pick(r, real[target].ids) } },
    { fork: { instance: pick(r, real[target].ids), commit: s.junk.slice(0, 60) } },
    { id: s.junk.slice(0, 100) || "z" },
  ]),
  "POST /v1/tenants/{tenant}/workflows/{workflow}/instances/batch": (r, s) => ({ instances: Array.from({ length: pick(r, [1, 2, 3, 101]) }, (_, i) => (i === 0 ? { params: s.json } : {})) }),
  "POST /v1/tenants/{tenant}/workflows/{workflow}/instances/batch/delete": (r, s, target) => ({ instances: pick(r, [[pick(r, real[target].ids)], [pick(r, real[target].ids), s.junk.slice(0, 300) || "x"], [], Array.from({ length: 101 }, (_, i) => `d${i}`)]) }),
  "POST /v1/tenants/{tenant}/workflows/{workflow}/instances/{id}/terminate": (r) => pick(r, [{}, { rollback: true }, { rollback: false }]),
  "POST /v1/tenants/{tenant}/workflows/{workflow}/instances/{id}/restart": (r, s) => pick(r, [{}, { from: { name: "write" } }, { from: { name: "go", type: "waitForEvent" } }, { from: { name: s.junk || "n", count: 2 } }]),
  "POST /v1/tenants/{tenant}/workflows/{workflow}/instances/{id}/events": (r, s) => pick(r, [{ type: "go" }, { type: "other", payload: s.json }, { type: s.junk || "t" }]),
  "POST /v1/tenants/{tenant}/workflows/{workflow}/instances/{id}/sql": (r, s) => pick(r, [
    { query: "select 1" }, { query: "select * from sqlite_master" }, { query: "select ?1, ?2", params: [1, "a"] }, { query: "delete from x" },
    { query: "create table t (x)" }, { query: s.junk || "?" }, { query: "select ?", params: [true] }, { query: "attach database 'x' as y" },
    { query: "pragma writable_schema = 1" }, { query: "select zeroblob(10)" },
  ]),
};

/** For each body field: a value of a type it does not accept (a typed field: any other JSON type is wrong). */
const TYPED_FIELDS: Record<string, Record<string, "string" | "boolean" | "object" | "array" | "number">> = {
  "POST /v1/tenants": { name: "string", quotas: "object" },
  "PATCH /v1/tenants/{tenant}": { quotas: "object" },
  "POST /v1/tenants/{tenant}/tokens": { name: "string" },
  "PUT /v1/tenants/{tenant}/workflows/{workflow}": { mainModule: "string", modules: "object", className: "string", limits: "object", egress: "object", env: "object" },
  "POST /v1/tenants/{tenant}/workflows/{workflow}/instances": { id: "string", metadata: "object", files: "object", fork: "object" },
  "POST /v1/tenants/{tenant}/workflows/{workflow}/instances/batch": { instances: "array" },
  "POST /v1/tenants/{tenant}/workflows/{workflow}/instances/batch/delete": { instances: "array" },
  "POST /v1/tenants/{tenant}/workflows/{workflow}/instances/{id}/terminate": { rollback: "boolean" },
  "POST /v1/tenants/{tenant}/workflows/{workflow}/instances/{id}/restart": { from: "object" },
  "POST /v1/tenants/{tenant}/workflows/{workflow}/instances/{id}/events": { type: "string" },
  "POST /v1/tenants/{tenant}/workflows/{workflow}/instances/{id}/sql": { query: "string", params: "array" },
};
/** The request body limit of each route with a body, for the default quotas (1 MiB unless said). */
const BODY_LIMIT: Record<string, number> = {
  "PUT /v1/tenants/{tenant}/workflows/{workflow}": 6 * MiB,
  "POST /v1/tenants/{tenant}/workflows/{workflow}/instances/batch": 64 * MiB,
};

const typeOf = (v: unknown) => (v === null ? "null" : Array.isArray(v) ? "array" : typeof v);
const WRONG_VALUES: unknown[] = [null, 0, -1, 1.5, 1e308, true, false, "", "x", [], [1, "a"], {}, { a: 1 }, "🙂".repeat(10)];

function pick<T>(r: () => number, xs: readonly T[]): T {
  return xs[Math.floor(r() * xs.length)]!;
}

function nested(depth: number, obj: boolean): string {
  return obj ? '{"a":'.repeat(depth) + "1" + "}".repeat(depth) : "[".repeat(depth) + "1" + "]".repeat(depth);
}

interface Built {
  family: Family;
  template: string;
  method: string;
  path: string;
  headers: Record<string, string>;
  body: Buffer | undefined;
  chunked: boolean;
  auth: AuthKind;
  bodyKind: BodyKind;
  /** the request must be refused (4xx): it targets pristine without a valid token for it, or is poisoned */
  mustRefuse: boolean;
  describe(): string;
}

/**
 * Whether the request names pristine, as the server will see it (dot segments resolved, segments
 * decoded): in the path only, or (conservatively, for the guard) anywhere in the path and query.
 */
function touchesPristine(path: string, withQuery: boolean): boolean {
  let pathname: string;
  try {
    pathname = new URL(path, "http://h").pathname;
  } catch {
    pathname = path.split("?")[0]!;
  }
  const segs = withQuery ? [...pathname.split("/"), ...path.split(/[/?&=]/)] : pathname.split("/");
  return segs.some((s) => {
    let d = s;
    try {
      d = decodeURIComponent(s);
    } catch { /* keep it raw */ }
    return d.toLowerCase().includes("pristine") || s.toLowerCase().includes("pristine");
  });
}

function authHeader(kind: AuthKind, junk: string): string | undefined {
  const printable = (s: string) => s.replace(/[^\x20-\x7e]/g, "");
  switch (kind) {
    case "none": return undefined;
    case "admin": return `Bearer ${srv.adminToken}`;
    case "play": return `Bearer ${tok.play.token}`;
    case "pristine": return `Bearer ${tok.pristine.token}`;
    case "revoked": return `Bearer ${tok.revoked.token}`;
    case "junk": return printable(junk);
    case "bearer-junk": return `Bearer ${printable(junk)}`;
    case "bearer-lower-admin": return `bearer   ${srv.adminToken}`;
    case "basic-admin": return `Basic ${Buffer.from(`u:${srv.adminToken}`).toString("base64")}`;
    case "basic-play": return `Basic ${Buffer.from(`${printable(junk)}:${tok.play.token}`).toString("base64")}`;
    case "weft-random": return `Bearer weft_${Buffer.from(printable(junk).padEnd(32, "x").slice(0, 32)).toString("base64url")}`;
    case "too-long": return `Bearer ${"weft_" + "A".repeat(5000)}`;
    case "admin-suffix": return `Bearer ${srv.adminToken}x`;
    case "no-scheme-admin": return srv.adminToken;
    case "double-bearer": return `Bearer ${tok.play.token} ${srv.adminToken}`;
  }
}
/** the tokens a header carries in a form some route may accept (conservative) */
function grants(kind: AuthKind): "admin" | "pristine" | "play" | "nothing" {
  if (["admin", "bearer-lower-admin", "basic-admin"].includes(kind)) return "admin";
  if (kind === "pristine") return "pristine";
  if (["play", "basic-play"].includes(kind)) return "play";
  return "nothing";
}
const REFUSED_AUTH: AuthKind[] = ["none", "play", "revoked", "junk", "bearer-junk", "weft-random", "too-long", "admin-suffix", "no-scheme-admin", "double-bearer"];

function build(s: Spec): Built {
  const r = prng(s.salt);
  const bodyRoutes = templates.filter((t) => VALID[t.key] !== undefined);
  let family = s.family;
  let t: Template;
  if (family === "pristine-poison") t = bodyRoutes[s.route % bodyRoutes.length]!;
  else if (family === "pristine-read") {
    const reads = templates.filter((x) => x.method === "GET" && x.params.includes("tenant"));
    t = reads[s.route % reads.length]!;
  } else t = templates[s.route % templates.length]!;
  const target: "play" | "pristine" = family === "play" || family === "raw" ? "play" : "pristine";

  // the method
  let method: string;
  if (family === "pristine-poison") method = t.method;
  else if (family === "pristine-read") method = s.method < 85 ? "GET" : "HEAD";
  else if (s.method < 70) method = t.method;
  else if (s.method < 88) method = STD_METHODS[s.method % STD_METHODS.length]!;
  else method = ODD_METHODS[s.method % ODD_METHODS.length]!;

  // the path: real values, or junk in their place
  const junkTenant = family === "play" || family === "raw";
  let pi = 0;
  let path = t.path.replace(/\{([^}]+)\}/g, (_, name: string) => {
    const seg = s.segs[pi++ % s.segs.length]!;
    const realProb = family === "pristine-poison" ? 100 : family.startsWith("pristine") ? 80 : 65;
    if (name === "tenant") {
      if (!junkTenant || s.tenant < 70) return target;
      if (s.tenant < 80) return pick(r, ["nosuch", "pristine2", "PLAY", "play "].map(safeEncode));
    } else if (seg.kind < realProb) {
      switch (name) {
        case "workflow": return real[target].workflow;
        case "id": return pick(r, real[target].ids);
        case "version": return pick(r, [real.pristine.version, real.play.version]);
        case "tokenId": return pick(r, [tok.pristine.id, tok.play.id, tok.revoked.id]);
        case "gitPath": return pick(r, ["info/refs?service=git-upload-pack", "git-upload-pack", "HEAD", "info/refs?service=git-receive-pack", "objects/info/packs"]);
      }
    }
    if (SPECIAL_SEGMENTS.includes(seg.junk) && seg.mode >= 4) return seg.junk.replace(/[^\x21-\x7e]/g, (c) => safeEncode(c)).replace(/[?#/]/g, (c) => safeEncode(c));
    return encodeSeg(seg.junk, seg.mode);
  });
  if (family === "raw") {
    // no template: a path of junk segments
    path = "/" + s.segs.slice(0, 1 + (s.route % 5)).map((g) => encodeSeg(g.junk, g.mode)).join("/");
    if (s.route % 3 === 0) path = "/v1" + path;
  }

  // the query
  const qp: string[] = [];
  if (s.query >= 40 && /\/(tree|file)$/.test(t.path) && s.query % 3 === 0) {
    // the data routes: paths and commits that exist, do not, or go through a file
    qp.push(`path=${encodeURIComponent(pick(r, ["out.txt", "nope", "out.txt/x", "out.txt/", "dir/", ".", "./", "..", "a/../b", "🙂", "é/x", "%", "\\", "a".repeat(300)]))}`);
    if (s.query % 2 === 0) qp.push(`at=${pick(r, ["0".repeat(40), "f".repeat(40), "zz", "", "HEAD", "g".repeat(40), "0".repeat(64)])}`);
  } else if (s.query >= 40) {
    const keys = ["limit", "cursor", "status", "direction", "createdAfter", "createdBefore", "metadata.k", "after", "path", "at", "service", "__proto__", "constructor"];
    for (const [k, v] of s.queryJunk) {
      const key = s.query % 2 === 0 ? pick(r, keys) : k;
      qp.push(`${encodeSeg(key, s.query % 10)}=${encodeSeg(v, (s.query >> 3) % 10)}`);
    }
    if (s.query >= 95) qp.push(pick(r, ["%", "%zz", "a=%e2%82", "limit=1&limit=2", "=", "&&&", "limit=99999999999999999999", `q=${"x".repeat(6000)}`, "limit=0", "limit=-1", "cursor=%00"]));
  }
  if (qp.length > 0) path += (path.includes("?") ? "&" : "?") + qp.join("&");

  // the body
  let bodyKind = s.body;
  const routeKey = t.key;
  const valid = VALID[routeKey];
  const limit = BODY_LIMIT[routeKey] ?? MiB;
  if (family === "pristine-poison") {
    // only bodies that are refused whatever else: wrong Content-Type, bad JSON, not an object, a wrong type, an unknown key, too large
    const poisons: BodyKind[] = ["wrong-type", "extra-key", "proto", "bad-json", "non-object", "bad-utf8"];
    if (limit <= MiB) poisons.push("huge");
    if (!poisons.includes(bodyKind)) bodyKind = poisons[s.salt % poisons.length]!;
  }
  let text: string | Buffer | undefined;
  const base = valid ? valid(r, s, target) : { x: s.json };
  switch (bodyKind) {
    case "none": text = undefined; break;
    case "empty": text = ""; break;
    case "valid": text = JSON.stringify(base); break;
    case "wrong-type": {
      const fields = TYPED_FIELDS[routeKey] ?? { x: "string" };
      const field = pick(r, Object.keys(fields));
      const wrong = WRONG_VALUES.filter((v) => typeOf(v) !== fields[field]);
      text = JSON.stringify({ ...base, [field]: pick(r, wrong) });
      break;
    }
    case "extra-key": text = JSON.stringify({ ...base, [`unexpected${s.junk}`]: s.json ?? 1 }); break;
    case "proto": {
      const inner = JSON.stringify(base).slice(1, -1);
      const proto = pick(r, ['"__proto__":{"admin":true}', '"__proto__":{"rollback":true,"quotas":{}}', '"constructor":{"prototype":{"x":1}}', '"__proto__":null', '"__proto__":[]']);
      text = `{${proto}${inner ? "," + inner : ""}}`;
      break;
    }
    case "random-json": text = JSON.stringify(s.json) ?? "null"; break;
    case "bad-json": {
      const j = JSON.stringify(base);
      text = pick(r, [j.slice(0, Math.max(1, j.length - 1)), j + ",", `{'a':1}`, "{", "}", "NaN", "undefined", `{"a":}`, "{" + s.junk + ",", `${j} trailing`, '{"a":1,}', "[1,2", "\u0000"]);
      break;
    }
    case "non-object": text = pick(r, ["[]", "[{}]", "0", "1e999", '"text"', "true", "false", JSON.stringify([base])]); break;
    case "null": text = "null"; break;
    case "deep": {
      // most often where the route takes arbitrary JSON (params, payload, env), else anywhere
      const deep = nested(s.depth, s.salt % 2 === 0);
      const j = JSON.stringify(base);
      if (s.salt % 5 !== 0 && routeKey.endsWith("/instances")) text = `{"params":${deep}}`;
      else if (s.salt % 5 !== 0 && routeKey.endsWith("/batch")) text = `{"instances":[{"params":${deep}}]}`;
      else if (s.salt % 5 !== 0 && routeKey.endsWith("/events")) text = `{"type":"t","payload":${deep}}`;
      else if (s.salt % 5 !== 0 && routeKey.startsWith("PUT")) text = `{"mainModule":"index.ts","modules":{"index.ts":"export {}"},"env":{"D":${deep}}}`;
      else {
        const field = pick(r, ["params", "payload", "metadata", "quotas", "env", "json", "top"]);
        text = field === "top" || j === "{}" ? deep : `{${j.slice(1, -1)}${j.length > 2 ? "," : ""}"${field}":${deep}}`;
      }
      break;
    }
    case "huge": {
      const n = s.huge;
      text = pick(r, [
        JSON.stringify("x".repeat(n)),
        `{"a":"${"x".repeat(n)}`,
        family === "pristine-poison" ? JSON.stringify("y".repeat(n)) : JSON.stringify({ ...base, [routeKey.endsWith("events") ? "payload" : "params"]: "y".repeat(n) }),
      ]);
      break;
    }
    case "bad-utf8": text = Buffer.concat([Buffer.from('{"type":"'), Buffer.from([0xff, 0xfe, 0xc0, 0xae, 0xed, 0xa0, 0x80]), Buffer.from('"')]); break;
    case "bom": text = "\uFEFF" + JSON.stringify(base); break;
  }
  const body = text === undefined ? undefined : Buffer.isBuffer(text) ? text : Buffer.from(text);

  // headers
  const headers: Record<string, string> = {};
  let auth = s.auth;
  if (family === "pristine-unauthorized") auth = REFUSED_AUTH[s.salt % REFUSED_AUTH.length]!;
  if (family === "pristine-poison") auth = routeKey.startsWith("PATCH") || routeKey.includes("/tokens") ? "admin" : s.salt % 2 ? "admin" : "pristine";
  if (family === "pristine-read" && grants(auth) === "nothing" && s.salt % 2) auth = "pristine";
  if (family === "play" && s.salt % 10 < 5) auth = s.salt % 3 === 0 ? "admin" : "play"; // half the time, a token that may act on play
  // the guard: a request that names pristine and carries a token that may write to it, is either a read,
  // a poisoned request of its family, or loses its token
  const reads = method === "GET" || method === "HEAD";
  const pristine = touchesPristine(path, true);
  if (pristine && (grants(auth) === "admin" || grants(auth) === "pristine") && !reads && family !== "pristine-poison") auth = "none";
  // the body names pristine (a fork, a name): no writing token for such bodies either, outside the poison family
  if (!pristine && family !== "pristine-poison" && body && body.includes("pristine") && !reads) auth = auth === "admin" ? "play" : auth;
  const mustRefuse = touchesPristine(path, false) && !reads;
  const a = authHeader(auth, s.authJunk);
  if (a !== undefined) headers.authorization = a;
  const ct = CONTENT_TYPES[s.ctype % CONTENT_TYPES.length]!;
  if (body !== undefined) {
    if (s.ctype < 75) headers["content-type"] = "application/json";
    else if (ct) headers["content-type"] = ct;
  }
  if (family === "pristine-poison" && bodyKind === "bad-utf8" && !headers["content-type"]) headers["content-type"] = "application/json";
  if (s.salt % 17 === 0) headers["last-event-id"] = s.junk.replace(/[^\x20-\x7e]/g, "");
  if (s.salt % 13 === 0) headers.accept = "text/event-stream";

  const chunked = s.chunked && body !== undefined;
  return {
    family, template: family === "raw" ? "(a path of junk segments)" : t.key, method, path, headers, body, chunked, auth, bodyKind, mustRefuse,
    describe() {
      const b = body === undefined ? "(no body)" : body.length > 300 ? `${body.subarray(0, 200).toString()}… (${body.length} bytes)` : body.toString();
      const h = { ...headers, ...(headers.authorization ? { authorization: `<${auth}>` } : {}) };
      return `[${family}] ${method} ${path.length > 400 ? path.slice(0, 400) + `… (${path.length} chars)` : path} headers=${JSON.stringify(h)}${chunked ? " (chunked)" : ""} body=${JSON.stringify(b)}`;
    },
  };
}

// ---- sending ------------------------------------------------------------------------------------------

interface Answer {
  status: number;
  headers: http.IncomingHttpHeaders;
  text: string;
  error?: string;
}

function send(b: Built): Promise<Answer> {
  const u = new URL(srv.url);
  return new Promise((resolve) => {
    let done = false;
    const finish = (a: Answer) => {
      if (!done) {
        done = true;
        clearTimeout(timer);
        resolve(a);
      }
    };
    const headers: Record<string, string> = { ...b.headers };
    if (b.body !== undefined && !b.chunked) headers["content-length"] = String(b.body.length);
    // explicit: Node's client does not chunk a GET, DELETE, OPTIONS… body by default (it would send it unframed)
    if (b.body !== undefined && b.chunked) headers["transfer-encoding"] = "chunked";
    let req: http.ClientRequest;
    try {
      // a method Node's HTTP parser does not know is refused by the parser itself (400, connection closed):
      // send it on a connection of its own, so that no keep-alive request shares its fate
      const parserKnows = http.METHODS.includes(b.method);
      // a chunked body over the limit: on a connection of its own too, because the server drops the
      // connection after its 413 while announcing keep-alive (see the regression test below)
      const own = !parserKnows || (b.chunked && b.body !== undefined && b.body.length > MiB);
      req = http.request({ host: u.hostname, port: u.port, method: b.method, path: b.path, headers, agent: own ? false : agent }, (res) => {
        const sse = (res.headers["content-type"] ?? "").includes("text/event-stream");
        const chunks: Buffer[] = [];
        let size = 0;
        res.on("data", (c: Buffer) => {
          size += c.length;
          if (size < 64 * 1024) chunks.push(c);
          if (sse) res.destroy(); // a live stream: the status and type are what is checked
        });
        const end = () => finish({ status: res.statusCode ?? 0, headers: res.headers, text: Buffer.concat(chunks).toString("utf8") });
        res.on("end", end);
        res.on("close", end);
        res.on("error", end);
        if (sse) setTimeout(() => res.destroy(), 200);
      });
    } catch (e) {
      resolve({ status: -1, headers: {}, text: "", error: `the client refused to send it: ${(e as Error).message}` });
      return;
    }
    const timer = setTimeout(() => {
      req.destroy();
      finish({ status: 0, headers: {}, text: "", error: `no response within ${REQUEST_TIMEOUT_MS} ms` });
    }, REQUEST_TIMEOUT_MS);
    req.on("error", (e) => finish({ status: 0, headers: {}, text: "", error: `${(e as NodeJS.ErrnoException).code ?? ""} ${e.message}` }));
    if (b.body === undefined) req.end();
    else if (b.chunked) {
      for (let i = 0; i < b.body.length; i += 64 * 1024) req.write(b.body.subarray(i, i + 64 * 1024));
      req.end();
    } else req.end(b.body);
  });
}

async function pool<T>(items: T[], n: number, f: (x: T) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(Array.from({ length: n }, async () => {
    while (next < items.length) await f(items[next++]!);
  }));
}

// ---- checking -----------------------------------------------------------------------------------------

const isGitPath = (path: string) => /\/repo\.git\//.test(path.split("?")[0]!);

/** What is wrong with this answer, if anything (a short reason, for grouping). */
function violation(b: Built, a: Answer): string | null {
  if (a.status === -1) return null; // the client itself would not send it: not a request
  if (!http.METHODS.includes(b.method)) {
    // not HTTP as Node's parser knows it: it answers 400 and closes (or resets while the body is still sent)
    return a.status === 400 || (a.status === 0 && /ECONNRESET|EPIPE/.test(a.error ?? "")) ? null : `an unknown method answered ${a.status} ${a.error ?? ""}`;
  }
  if (a.status === 0) return `no response (${a.error})`;
  if (a.status >= 500) return `status ${a.status}`;
  if (b.mustRefuse && a.status < 400) return `a request that must be refused answered ${a.status}`;
  if (a.status >= 400 && b.method !== "HEAD" && !isGitPath(b.path)) {
    let body: unknown;
    try {
      body = JSON.parse(a.text);
    } catch {
      body = undefined;
    }
    if (!isErrorBody(body)) return `a ${a.status} without the error body`;
  }
  return null;
}

// ---- the property ---------------------------------------------------------------------------------------

test(`fuzz: ${RUNS} batches of ${BATCH} random and malformed requests (seed ${SEED}): no 5xx, the error shape, the server stays up, refused requests change nothing`, { timeout: 600_000 }, async (t) => {
  const before = await fingerprint(admin, "pristine");
  let sent = 0;
  let notSendable = 0;
  const statuses = new Map<number, number>();
  const families = new Map<string, number>();
  const found = new Map<string, { count: number; example: string }>();
  const started = Date.now();

  await fc.assert(
    fc.asyncProperty(fc.array(specArb, { minLength: BATCH, maxLength: BATCH }), async (specs) => {
      const batch = specs.map(build);
      await pool(batch, CONCURRENCY, async (b) => {
        const a = await send(b);
        if (a.status === -1) {
          notSendable++;
          return;
        }
        sent++;
        statuses.set(a.status, (statuses.get(a.status) ?? 0) + 1);
        families.set(b.family, (families.get(b.family) ?? 0) + 1);
        const v = violation(b, a);
        if (v) {
          let code = "";
          try {
            code = (JSON.parse(a.text) as { error?: { code?: string } }).error?.code ?? "";
          } catch { /* not JSON */ }
          // one kind for every path with a backslash (the HTTP adapter answers those itself)
          const key = b.path.split("?")[0]!.includes("\\") ? `${v} | a backslash in the path` : `${v} | ${b.method} ${b.template} | ${b.bodyKind} | ${code}`;
          const f = found.get(key) ?? { count: 0, example: `${b.describe()}\n      → ${a.status} ${a.error ?? (a.text.slice(0, 300) || `(empty body) ${JSON.stringify(a.headers)}`)}` };
          f.count++;
          found.set(key, f);
        }
      });
      // the server is up, and play is restored for the next batch (pristine is never touched)
      const h = await client(srv.url, null).call("GET", "/healthz");
      assert.equal(h.status, 200, `the server is down after a batch: /healthz answered ${h.status}`);
      await restorePlay();
      return true;
    }),
    { numRuns: RUNS, seed: SEED, endOnFailure: true, verbose: 2 },
  );

  const seconds = ((Date.now() - started) / 1000).toFixed(1);
  t.diagnostic(`seed ${SEED}: ${sent} requests sent in ${seconds} s (${notSendable} refused by the client itself)`);
  t.diagnostic(`by family: ${JSON.stringify(Object.fromEntries(families))}`);
  t.diagnostic(`statuses: ${JSON.stringify(Object.fromEntries([...statuses].sort((x, y) => x[0] - y[0])))}`);

  assert.ok(sent >= MIN_REQUESTS, `at least ${MIN_REQUESTS} requests were sent (${sent})`);
  const ready = await client(srv.url, null).call("GET", "/readyz");
  assert.equal(ready.status, 200, "the server is still ready");
  assert.deepEqual(await fingerprint(admin, "pristine"), before, "pristine, which was only sent refused requests and reads, is unchanged");
  const report = [...found].map(([k, f]) => `  ${f.count} × ${k}\n    e.g. ${f.example}`).join("\n");
  assert.equal(found.size, 0, `seed ${SEED}: ${[...found.values()].reduce((n, f) => n + f.count, 0)} violations of ${found.size} kinds:\n${report}`);
});

/** Between batches: play gets its default quotas back, its workflow, and a live token. */
async function restorePlay(): Promise<void> {
  await admin.ok("PATCH", "/v1/tenants/play", 200, {
    body: { quotas: { maxRunningInstances: 1000, createsPerSecond: 1000, createBurst: 2000, maxCodeBytes: 5 * MiB, maxPayloadBytes: MiB } },
  });
  await admin.ok("PUT", "/v1/tenants/play/workflows/wf", 200, { body: DEPLOY_BODY });
  const probe = await client(srv.url, tok.play.token).call("GET", "/v1/tenants/play");
  if (probe.status !== 200) tok.play = await admin.ok("POST", "/v1/tenants/play/tokens", 201, { body: { name: "play-again" } });
}

// ---- what the fuzz found, as precise regression tests -------------------------------------------------

/** A tenant of its own for the regression tests (the fuzz may have deleted play's instances). */
let reg: Promise<{ token: string }> | undefined;
function regTenant(): Promise<{ token: string }> {
  reg ??= (async () => {
    await admin.ok("POST", "/v1/tenants", 201, { body: { name: "nest" } });
    const token = (await admin.ok("POST", "/v1/tenants/nest/tokens", 201, { body: {} })).token as string;
    const nest = client(srv.url, token);
    await nest.ok("PUT", "/v1/tenants/nest/workflows/wf", 200, { body: DEPLOY_BODY });
    await instanceIn(nest, "nest", "wf", "n-waiting", "waiting");
    await instanceIn(nest, "nest", "wf", "n-complete", "complete");
    return { token };
  })();
  return reg;
}

test("found by the fuzz: deeply nested JSON (params, payload, env, metadata) is a 400, never a 500, and changes nothing", async () => {
  const nestToken = (await regTenant()).token;
  const before = await fingerprint(admin, "nest");
  const I = "/v1/tenants/nest/workflows/wf/instances";
  const failures: string[] = [];
  for (const depth of [2_000, 5_000, 100_000]) {
    for (const obj of [false, true]) {
      const deep = nested(depth, obj);
      for (const [method, path, body] of [
        ["POST", I, `{"params":${deep}}`],
        ["POST", `${I}/batch`, `{"instances":[{"params":${deep}}]}`],
        ["POST", `${I}/n-waiting/events`, `{"type":"go","payload":${deep}}`],
        ["PUT", "/v1/tenants/nest/workflows/wf", `{"mainModule":"index.ts","modules":{"index.ts":${JSON.stringify(DEPLOY_BODY.modules["index.ts"])}},"env":{"DEEP":${deep}}}`],
        ["POST", I, `{"metadata":${deep}}`],
      ] as const) {
        const res = await fetch(srv.url + path, { method, headers: { authorization: `Bearer ${nestToken}`, "content-type": "application/json" }, body });
        const text = await res.text();
        let parsed: unknown;
        try {
          parsed = JSON.parse(text);
        } catch { /* not JSON */ }
        if (res.status !== 400 || !isErrorBody(parsed)) {
          failures.push(`${method} ${path} with ${obj ? "objects" : "arrays"} nested ${depth} deep (${body.length} bytes: ${body.slice(0, 40)}…) → ${res.status} ${text.slice(0, 160)}`);
        }
      }
    }
  }
  assert.deepEqual(await fingerprint(admin, "nest"), before, "the refused requests changed nothing");
  assert.deepEqual(failures, [], "deeply nested JSON answers 400 with the error body");
});

test("found by the fuzz: after a 413 for a chunked body over the limit, the connection stays usable or the 413 says Connection: close", async () => {
  const nestToken = (await regTenant()).token;
  const u = new URL(srv.url);
  const sock = net.connect(Number(u.port), u.hostname);
  await new Promise<void>((resolve, reject) => sock.once("connect", resolve).once("error", reject));
  let received = "";
  let closed = false;
  sock.on("data", (d) => (received += d.toString("latin1")));
  sock.on("close", () => (closed = true));
  sock.on("error", () => {});
  // an ordinary chunked upload of 2 MiB to a route with a 1 MiB limit, written in full like any client
  sock.write(`POST /v1/tenants/nest/workflows/wf/instances/n-waiting/events HTTP/1.1\r\nHost: ${u.host}\r\nAuthorization: Bearer ${nestToken}\r\n` +
    "Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n");
  const chunk = `{"type":"go","payload":"${"x".repeat(64 * 1024)}`;
  for (let i = 0; i < 32 && !closed; i++) {
    sock.write(`${Buffer.byteLength(chunk).toString(16)}\r\n${chunk}\r\n`);
    await new Promise((r) => setTimeout(r, 2));
  }
  if (!closed) sock.write("0\r\n\r\n");
  const deadline = Date.now() + 5_000;
  while (!/\r\n\r\n/.test(received) && Date.now() < deadline && !closed) await new Promise((r) => setTimeout(r, 10));
  const head = received.split("\r\n\r\n")[0] ?? "";
  assert.match(head, /^HTTP\/1\.1 413 /, `the upload is refused with 413: ${head}`);
  const announcesClose = /\r\nconnection: close/i.test(head);
  if (!announcesClose) {
    // it said keep-alive: the next request on this connection must be answered
    await new Promise((r) => setTimeout(r, 100));
    const mark = received.length;
    if (!closed) sock.write(`GET /healthz HTTP/1.1\r\nHost: ${u.host}\r\n\r\n`);
    const until = Date.now() + 3_000;
    while (!/HTTP\/1\.1 200/.test(received.slice(mark)) && Date.now() < until && !closed) await new Promise((r) => setTimeout(r, 10));
    sock.destroy();
    assert.match(received.slice(mark), /HTTP\/1\.1 200/,
      `the 413 announced keep-alive (${JSON.stringify(head.split("\r\n").find((l) => /^connection:/i.test(l)))}) but the next request on the connection got no answer (connection ${closed ? "closed by the server" : "open"})`);
  } else sock.destroy();
});

test("found by the fuzz: a backslash in the path gets a 4xx with the error body", async () => {
  const nestToken = (await regTenant()).token;
  const u = new URL(srv.url);
  const failures: string[] = [];
  for (const path of ["/v1/tenants/nest\\x", "/v1/tenants/nest/workflows/wf\\..\\x/instances", "/\\", "/healthz\\"]) {
    const a = await new Promise<{ status: number; text: string; type: string }>((resolve, reject) => {
      const req = http.request({ host: u.hostname, port: u.port, path, method: "GET", headers: { authorization: `Bearer ${nestToken}` }, agent: false }, (res) => {
        let text = "";
        res.on("data", (c) => (text += c));
        res.on("end", () => resolve({ status: res.statusCode ?? 0, text, type: String(res.headers["content-type"] ?? "") }));
      });
      req.on("error", reject);
      req.end();
    });
    let body: unknown;
    try {
      body = JSON.parse(a.text);
    } catch { /* not JSON */ }
    if (a.status < 400 || a.status >= 500 || !isErrorBody(body)) failures.push(`GET ${path} → ${a.status} content-type=${JSON.stringify(a.type)} body=${JSON.stringify(a.text)}`);
  }
  assert.deepEqual(failures, [], "every 4xx has the error body (docs/http-api.md, Errors)");
});

test("found while fuzzing: a long read-only SQL query of one tenant does not stall the server for everyone", { timeout: 60_000 }, async (t) => {
  const nestToken = (await regTenant()).token;
  // the probe runs in another process: this one (which also runs the server) would be blocked with it
  const probe = spawn(process.execPath, ["--input-type=module", "-e", `
    const url = process.argv[1];
    let stop = false, max = 0, n = 0;
    process.stdin.on("data", () => { stop = true; });
    console.log("ready");
    while (!stop) {
      const t = Date.now();
      await fetch(url + "/healthz").then((r) => r.text());
      max = Math.max(max, Date.now() - t); n++;
      await new Promise((r) => setTimeout(r, 20));
    }
    console.log(JSON.stringify({ max, n }));
    process.exit(0);
  `, srv.url], { stdio: ["pipe", "pipe", "inherit"] });
  let out = "";
  probe.stdout.on("data", (d) => (out += d));
  const exited = new Promise<void>((r) => probe.on("exit", () => r()));
  while (!out.includes("ready")) await new Promise((r) => setTimeout(r, 10));
  await new Promise((r) => setTimeout(r, 300));
  const started = Date.now();
  const q = await call(srv.url, "POST", "/v1/tenants/nest/workflows/wf/instances/n-complete/sql", {
    token: nestToken,
    body: { query: "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < 20000000) SELECT count(*) FROM c" },
  });
  const took = Date.now() - started;
  await new Promise((r) => setTimeout(r, 300));
  probe.stdin.write("stop\n");
  await exited;
  const { max, n } = JSON.parse(out.slice(out.indexOf("{"))) as { max: number; n: number };
  t.diagnostic(`the query answered ${q.status} after ${took} ms; /healthz probed ${n} times, slowest ${max} ms`);
  assert.ok(q.status < 500, `the query answers (${q.status})`);
  assert.ok(max < 1_000, `/healthz stayed responsive while one tenant's SQL query ran (${took} ms): its slowest answer took ${max} ms`);
});

test("found by the fuzz: tree and file of a path that does not exist or goes through a file answer 404/400, not 500", async () => {
  const nestToken = (await regTenant()).token;
  const nest = client(srv.url, nestToken);
  const I = "/v1/tenants/nest/workflows/wf/instances/n-complete";
  assert.equal(await nest.ok<string>("GET", `${I}/file`, 200, { query: { path: "out.txt" } }).then((t) => typeof t), "string", "the instance has out.txt");
  const failures: string[] = [];
  for (const [route, path] of [
    ["tree", "nope"], ["tree", "no/such/dir"], ["tree", "🙂"], ["tree", "out.txt"], ["tree", "out.txt/x"], ["tree", "out.txt/"],
    ["file", "nope"], ["file", "out.txt/x"], ["file", "no/such/file"],
  ] as const) {
    const r = await nest.call("GET", `${I}/${route}`, { query: { path } });
    if (r.status !== 404 && r.status !== 400) failures.push(`GET ${I}/${route}?path=${encodeURIComponent(path)} → ${r.status} ${r.text.slice(0, 160)}`);
    else assert.ok(isErrorBody(r.body), `${route} ${path}: error body`);
  }
  assert.deepEqual(failures, [], "a missing directory, or a file used as a directory, is a client's mistake (404 or 400)");
});
