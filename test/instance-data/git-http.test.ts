// The read-only smart-HTTP server against the real git client: clone, pull and fetch (with
// negotiation and gzipped requests) from an in-memory repository served by node:http in this
// process, plus the refusals (push, dumb protocol) and malformed requests answered with 4xx.
import { describe, test, before, after } from "node:test";
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { promisify } from "node:util";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, relative } from "node:path";
import { gzipSync } from "node:zlib";
import { randomBytes } from "node:crypto";
import { encodeCommit, encodeTree, hashObject, type GitObject, type ObjectType, type TreeEntry } from "../../src/instance-data/fs/objects.ts";
import { FLUSH, pktLine, readPktLines } from "../../src/instance-data/fs/pack.ts";
import { MAX_REQUEST_BYTES, serveGit, type RepoReader } from "../../src/instance-data/fs/git-http.ts";
import { isWeftError } from "../../src/core/errors.ts";

const execFileAsync = promisify(execFile);

// ---- an in-memory repository ----

type Spec = { [name: string]: string | Uint8Array | { exec: string } | Spec };

class MemRepo implements RepoReader {
  readonly objects = new Map<string, GitObject>();
  headOid: string | null = null;
  private clock = 1_700_000_000;
  async head(): Promise<string | null> {
    return this.headOid;
  }
  async read(oid: string): Promise<GitObject | undefined> {
    return this.objects.get(oid);
  }
  put(type: ObjectType, data: Uint8Array): string {
    const oid = hashObject(type, data);
    this.objects.set(oid, { type, data });
    return oid;
  }
  tree(spec: Spec): string {
    const entries: TreeEntry[] = Object.entries(spec).map(([name, v]) => {
      if (typeof v === "string" || v instanceof Uint8Array) return { name, mode: "100644", oid: this.put("blob", Buffer.from(v)) };
      if (typeof v.exec === "string") return { name, mode: "100755", oid: this.put("blob", Buffer.from(v.exec)) };
      return { name, mode: "40000", oid: this.tree(v as Spec) };
    });
    return this.put("tree", encodeTree(entries));
  }
  commit(spec: Spec, subject: string): string {
    const who = { name: "Weft Test", email: "test@weft.dev", timestamp: (this.clock += 60), tzOffsetMinutes: 60 };
    this.headOid = this.put("commit", encodeCommit({ tree: this.tree(spec), parents: this.headOid ? [this.headOid] : [], author: who, committer: who, message: `${subject}\n` }));
    return this.headOid;
  }
}

// path → content of every file in a spec, for comparing with a checkout
function flatten(spec: Spec, prefix = ""): Map<string, Buffer> {
  const out = new Map<string, Buffer>();
  for (const [name, v] of Object.entries(spec)) {
    const path = prefix + name;
    if (typeof v === "string" || v instanceof Uint8Array) out.set(path, Buffer.from(v));
    else if (typeof v.exec === "string") out.set(path, Buffer.from(v.exec));
    else for (const [p, c] of flatten(v as Spec, `${path}/`)) out.set(p, c);
  }
  return out;
}

function checkout(dir: string): Map<string, Buffer> {
  const out = new Map<string, Buffer>();
  const walk = (d: string) => {
    for (const e of readdirSync(d, { withFileTypes: true })) {
      if (e.name === ".git" && d === dir) continue;
      const p = join(d, e.name);
      if (e.isDirectory()) walk(p);
      else out.set(relative(dir, p), readFileSync(p));
    }
  };
  walk(dir);
  return out;
}

// ---- node:http ⇄ Request/Response adapter, routing /<name>.git/<subpath> ----

interface Exchange {
  method: string;
  subpath: string;
  contentEncoding: string | undefined;
  status: number;
  body: Buffer;
}

function listen(repos: Record<string, RepoReader>, log: Exchange[]): Promise<Server> {
  const server = createServer(async (req, res) => {
    try {
      const url = new URL(req.url ?? "/", `http://${req.headers.host}`);
      const m = /^\/([^/]+)\.git\/(.*)$/.exec(url.pathname);
      const repo = m ? repos[m[1]] : undefined;
      if (!m || !repo) return void res.writeHead(404).end("no such repository\n");
      const chunks: Buffer[] = [];
      for await (const c of req) chunks.push(c as Buffer);
      const headers = new Headers();
      for (const [k, v] of Object.entries(req.headers)) {
        if (v === undefined || k === "transfer-encoding" || k === "connection") continue; // hop-by-hop
        for (const one of [v].flat()) headers.append(k, one);
      }
      const hasBody = req.method !== "GET" && req.method !== "HEAD";
      const request = new Request(url, { method: req.method, headers, body: hasBody ? Buffer.concat(chunks) : undefined });
      const response = await serveGit(request, m[2], repo);
      const body = Buffer.from(await response.arrayBuffer());
      log.push({ method: req.method ?? "", subpath: m[2], contentEncoding: req.headers["content-encoding"], status: response.status, body });
      res.writeHead(response.status, Object.fromEntries(response.headers)).end(body);
    } catch (e) {
      res.writeHead(500).end(String(e));
    }
  });
  return new Promise((resolve) => server.listen(0, "127.0.0.1", () => resolve(server)));
}

// The object count in the pack of an upload-pack response (the header sits in the first band-1 packet).
function packCount(body: Buffer): number | undefined {
  const at = body.indexOf(Buffer.from("PACK\0\0\0\x02", "latin1"));
  return at < 0 ? undefined : body.readUInt32BE(at + 8);
}

// ---- the tests ----

let tmp: string;
let server: Server;
let base: string;
const log: Exchange[] = [];
const repo = new MemRepo();
const empty = new MemRepo();
const long = new MemRepo();
const LONG = 20_000;

async function git(args: string[], cwd = tmp): Promise<{ code: number; stdout: string; stderr: string }> {
  const env = {
    PATH: process.env.PATH, HOME: tmp, LC_ALL: "C", GIT_TERMINAL_PROMPT: "0", GIT_CONFIG_NOSYSTEM: "1",
    GIT_AUTHOR_NAME: "Local", GIT_AUTHOR_EMAIL: "local@example.com", GIT_COMMITTER_NAME: "Local", GIT_COMMITTER_EMAIL: "local@example.com",
  };
  try {
    const { stdout, stderr } = await execFileAsync("git", args, { cwd, env, maxBuffer: 64 << 20 });
    return { code: 0, stdout, stderr };
  } catch (e) {
    const err = e as { code?: number; stdout?: string; stderr?: string };
    return { code: typeof err.code === "number" ? err.code : -1, stdout: err.stdout ?? "", stderr: err.stderr ?? "" };
  }
}

async function ok(args: string[], cwd = tmp): Promise<string> {
  const r = await git(args, cwd);
  assert.equal(r.code, 0, `git ${args.join(" ")} failed:\n${r.stderr}`);
  return r.stdout;
}

function post(body: Uint8Array, headers: Record<string, string> = {}, path = "repo.git/git-upload-pack"): Promise<Response> {
  return fetch(`${base}/${path}`, { method: "POST", body, headers: { "Content-Type": "application/x-git-upload-pack-request", ...headers } });
}

const binary = Uint8Array.from({ length: 3000 }, (_, i) => (i * 7919) % 256);
const spec1: Spec = {
  "README.md": "# Weft\n",
  "empty.txt": "",
  "to-delete.txt": "soon gone\n",
  "run.sh": { exec: "#!/bin/sh\necho hi\n" },
  docs: { guide: { "intro.md": "intro\n" } },
  // incompressible and larger than one side-band packet (65515 bytes)
  assets: { "logo.bin": binary, "random.bin": randomBytes(200_000) },
};
const spec2: Spec = { ...spec1, "héllo wörld ✓.txt": "unicode and spaces\n", docs: { guide: { "intro.md": "intro\n", "more.md": "more\n" } } };
const { "to-delete.txt": _deleted, ...rest2 } = spec2;
const spec3: Spec = { ...rest2, "README.md": "# Weft\n\nUpdated.\n" };
const spec4: Spec = { ...spec3, "new.txt": "added in the fourth commit\n" };
const spec5: Spec = { ...spec4, docs: { guide: { "intro.md": "intro, revised\n", "more.md": "more\n" } } };

before(async () => {
  tmp = mkdtempSync(join(tmpdir(), "weft-git-http-"));
  repo.commit(spec1, "initial");
  repo.commit(spec2, "add unicode file and more docs");
  repo.commit(spec3, "delete a file, update README");
  for (let i = 1; i <= LONG; i++) long.commit({ "n.txt": i % 2 ? "odd\n" : "even\n" }, `commit ${i}`);
  server = await listen({ repo, empty, long }, log);
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
after(async () => {
  await new Promise((resolve) => server.close(resolve));
  rmSync(tmp, { recursive: true, force: true });
});

describe("git smart HTTP with the real git client", () => {
  const clone = () => join(tmp, "clone");

  test("clone gets the last tree byte for byte, the history and a valid repository", async () => {
    const r = await git(["clone", `${base}/repo.git`, clone()]);
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(checkout(clone()), flatten(spec3));
    assert.ok(!checkout(clone()).has("to-delete.txt"));
    assert.ok(statSync(join(clone(), "run.sh")).mode & 0o100, "run.sh is executable");
    assert.equal(await ok(["log", "--format=%s"], clone()), "delete a file, update README\nadd unicode file and more docs\ninitial\n");
    assert.equal((await ok(["rev-parse", "HEAD"], clone())).trim(), repo.headOid);
    assert.equal((await ok(["symbolic-ref", "HEAD"], clone())).trim(), "refs/heads/main");
    await ok(["fsck", "--strict"], clone());
    const upload = log.filter((x) => x.subpath === "git-upload-pack");
    assert.equal(upload.length, 1);
    assert.equal(packCount(upload[0].body), repo.objects.size); // a clone needs every object, once
  });

  test("pull after a new commit sends only the new objects", async () => {
    repo.commit(spec4, "add new.txt");
    log.length = 0;
    await ok(["pull", "--ff-only"], clone());
    assert.equal(readFileSync(join(clone(), "new.txt"), "utf8"), "added in the fourth commit\n");
    assert.deepEqual(checkout(clone()), flatten(spec4));
    const last = log.filter((x) => x.subpath === "git-upload-pack").at(-1)!;
    assert.equal(packCount(last.body), 3); // commit, root tree, new.txt
    await ok(["fsck", "--strict"], clone());
  });

  test("fetch with many local commits negotiates over several gzipped rounds", async () => {
    // 100 commits the server does not know: git sends 16, 16, then 32 haves per round before it
    // reaches the common one, and gzips the requests over 1 KiB.
    let stream = "";
    for (let i = 1; i <= 100; i++) {
      stream += `commit refs/heads/main\ncommitter L <l@x> ${1_800_000_000 + i} +0000\ndata <<END\nlocal ${i}\nEND\n${i === 1 ? "from refs/heads/main^0\n" : ""}\n`;
    }
    const fastImport = execFile("git", ["fast-import", "--quiet"], { cwd: clone(), env: { PATH: process.env.PATH, HOME: tmp, GIT_CONFIG_NOSYSTEM: "1" } });
    const exited = new Promise((resolve) => fastImport.on("exit", resolve));
    fastImport.stdin!.end(stream);
    assert.equal(await exited, 0);
    assert.equal((await ok(["rev-list", "--count", "main"], clone())).trim(), "104");
    const c4 = repo.headOid;
    const c5 = repo.commit(spec5, "revise intro");
    log.length = 0;
    await ok(["fetch"], clone());
    assert.equal((await ok(["rev-parse", "origin/main"], clone())).trim(), c5);
    const posts = log.filter((x) => x.subpath === "git-upload-pack");
    assert.ok(posts.length >= 4, `expected negotiation rounds, got ${posts.length} POSTs`);
    assert.ok(posts.some((x) => x.contentEncoding === "gzip"), "git gzips requests over 1 KiB");
    assert.ok(posts.some((x) => x.body.includes(`ACK ${c4} common`)), "the server found the common commit");
    assert.equal(packCount(posts.at(-1)!.body), 5); // commit, root, docs, guide, intro.md
    assert.ok(posts.slice(0, -1).every((x) => packCount(x.body) === undefined), "rounds before done carry no pack");
    assert.equal(await ok(["show", "origin/main:docs/guide/intro.md"], clone()), "intro, revised\n");
    await ok(["fsck", "--strict"], clone());
  });

  test("an empty repository clones with git's warning", async () => {
    const r = await git(["clone", `${base}/empty.git`, join(tmp, "empty-clone")]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr, /cloned an empty repository/);
    assert.equal((await ok(["rev-list", "--all"], join(tmp, "empty-clone"))).trim(), "");
  });

  test(`a ${LONG}-commit history clones (iterative walks) and a fetch from deep in it is exact`, async () => {
    const dir = join(tmp, "long-clone");
    await ok(["clone", "-q", `${base}/long.git`, dir]);
    assert.equal((await ok(["rev-list", "--count", "HEAD"], dir)).trim(), String(LONG));
    assert.equal(readFileSync(join(dir, "n.txt"), "utf8"), "even\n");
    const tip = long.headOid!;
    const deep = (await ok(["rev-parse", `HEAD~${LONG - 10}`], dir)).trim(); // commit 10
    const res = await fetch(`${base}/long.git/git-upload-pack`, {
      method: "POST",
      headers: { "Content-Type": "application/x-git-upload-pack-request" },
      body: Buffer.concat([pktLine(`want ${tip} multi_ack_detailed\n`), FLUSH, pktLine(`have ${deep}\n`), pktLine("done\n")]),
    });
    // commits 11..LONG; both trees and blobs are in commit 10's snapshot or its child's
    assert.equal(packCount(Buffer.from(await res.arrayBuffer())), LONG - 10 + 2);
  });

  test("push is refused", async () => {
    await ok(["commit", "-q", "--allow-empty", "-m", "try to push"], clone());
    const r = await git(["push", "origin", "HEAD:main"], clone());
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, /403/);
    assert.equal(repo.headOid, (await ok(["rev-parse", "origin/main"], clone())).trim());
  });
});

describe("protocol details and refusals", () => {
  const head = () => repo.headOid!;

  test("advertisement: HEAD and main with capabilities; empty repository", async () => {
    const res = await fetch(`${base}/repo.git/info/refs?service=git-upload-pack`);
    assert.equal(res.status, 200);
    assert.equal(res.headers.get("content-type"), "application/x-git-upload-pack-advertisement");
    assert.equal(res.headers.get("cache-control"), "no-cache");
    const lines = readPktLines(Buffer.from(await res.arrayBuffer())).map((p) => (p === null ? null : Buffer.from(p).toString()));
    assert.deepEqual(lines, [
      "# service=git-upload-pack\n", null,
      `${head()} HEAD\0multi_ack_detailed side-band-64k no-progress symref=HEAD:refs/heads/main agent=weft/1\n`,
      `${head()} refs/heads/main\n`, null,
    ]);
    const e = await fetch(`${base}/empty.git/info/refs?service=git-upload-pack`);
    const elines = readPktLines(Buffer.from(await e.arrayBuffer())).map((p) => (p === null ? null : Buffer.from(p).toString()));
    assert.deepEqual(elines, ["# service=git-upload-pack\n", null, `${"0".repeat(40)} capabilities^{}\0multi_ack_detailed side-band-64k no-progress agent=weft/1\n`, null]);
  });

  test("dumb protocol, receive-pack and unknown paths are refused without 5xx", async () => {
    const cases: [string, string, number, RegExp][] = [
      ["GET", "repo.git/info/refs", 403, /smart HTTP protocol only/],
      ["GET", "repo.git/info/refs?service=git-receive-pack", 403, /read-only/],
      ["GET", "repo.git/info/refs?service=git-frobnicate", 403, /Unsupported service/],
      ["POST", "repo.git/git-receive-pack", 403, /read-only/],
      ["GET", "repo.git/git-upload-pack", 405, /POST/],
      ["GET", "repo.git/objects/info/packs", 404, /Not found/],
      ["GET", "repo.git/HEAD", 200, /^ref: refs\/heads\/main\n$/],
    ];
    for (const [method, path, status, body] of cases) {
      const res = await fetch(`${base}/${path}`, { method, body: method === "POST" ? "0000" : undefined });
      assert.equal(res.status, status, `${method} ${path}`);
      assert.match(await res.text(), body, `${method} ${path}`);
    }
  });

  test("a want that is not ours gets git's ERR line; an older reachable commit is fine", async () => {
    for (const want of ["f".repeat(40), repo.tree(spec1)]) {
      const res = await post(Buffer.concat([pktLine(`want ${want} side-band-64k\n`), FLUSH, pktLine("done\n")]));
      assert.equal(res.status, 200);
      assert.deepEqual(readPktLines(Buffer.from(await res.arrayBuffer())).map((p) => Buffer.from(p!).toString()), [`ERR upload-pack: not our ref ${want}\n`]);
    }
    const first = [...repo.objects].find(([, o]) => o.type === "commit" && Buffer.from(o.data).includes("initial"))![0];
    const res = await post(Buffer.concat([pktLine(`want ${first}\n`), FLUSH, pktLine("done\n")]));
    const body = Buffer.from(await res.arrayBuffer());
    assert.equal(body.subarray(0, 8).toString(), "0008NAK\n");
    assert.equal(body.subarray(8, 12).toString(), "PACK"); // no side-band requested: raw pack
    assert.equal(packCount(body), 1 + 4 + 7); // commit, trees (root, docs, guide, assets), 7 blobs
  });

  test("negotiation rounds: multi_ack_detailed vs plain ACK, and haves exclude objects", async () => {
    const c3 = [...repo.objects].find(([, o]) => o.type === "commit" && Buffer.from(o.data).includes("delete a file"))![0];
    const unknown = "e".repeat(40);
    const round = (caps: string) => Buffer.concat([pktLine(`want ${head()} ${caps}\n`), FLUSH, pktLine(`have ${unknown}\n`), pktLine(`have ${c3}\n`), FLUSH]);
    const text = async (r: Response) => readPktLines(Buffer.from(await r.arrayBuffer())).map((p) => Buffer.from(p!).toString());
    assert.deepEqual(await text(await post(round("multi_ack_detailed"))), [`ACK ${c3} common\n`, "NAK\n"]);
    assert.deepEqual(await text(await post(round("agent=x"))), [`ACK ${c3}\n`]);
    const none = Buffer.concat([pktLine(`want ${head()}\n`), FLUSH, pktLine(`have ${unknown}\n`), FLUSH]);
    assert.deepEqual(await text(await post(none)), ["NAK\n"]);
    // done with the common have, gzipped: the pack holds only what is newer than c3
    const done = Buffer.concat([pktLine(`want ${head()} multi_ack_detailed side-band-64k\n`), FLUSH, pktLine(`have ${c3}\n`), pktLine("done\n"), FLUSH]);
    const res = await post(gzipSync(done), { "Content-Encoding": "gzip" });
    const pkts = readPktLines(Buffer.from(await res.arrayBuffer()));
    assert.equal(Buffer.from(pkts[0]!).toString(), `ACK ${c3} common\n`);
    assert.equal(Buffer.from(pkts[1]!).toString(), `ACK ${c3}\n`);
    assert.equal(pkts.at(-1), null);
    assert.ok(pkts.slice(2, -1).every((p) => p![0] === 1 && p!.length <= 65516));
    const pack = Buffer.concat(pkts.slice(2, -1).map((p) => p!.subarray(1)));
    assert.equal(pack.readUInt32BE(8), 3 + 5); // commit 4 (commit, root, new.txt) + commit 5 (commit, root, docs, guide, intro.md)
  });

  test("an over-long streamed body without Content-Length is cut off with 413", async () => {
    let sent = 0;
    const body = new ReadableStream<Uint8Array>({
      pull(controller) {
        if (sent > 2 * MAX_REQUEST_BYTES) return controller.close(); // never reached: the server stops reading
        sent += 65536;
        controller.enqueue(new Uint8Array(65536).fill(0x30));
      },
    });
    const req = new Request("http://x/repo.git/git-upload-pack", {
      method: "POST", body, duplex: "half", headers: { "Content-Type": "application/x-git-upload-pack-request" },
    } as RequestInit);
    const res = await serveGit(req, "git-upload-pack", repo);
    assert.equal(res.status, 413);
    assert.ok(sent <= MAX_REQUEST_BYTES + 2 * 65536, `read ${sent} bytes`);
  });

  test("a repository missing an object is the server's fault: WeftError(internal), not a 4xx", async () => {
    const broken = new MemRepo();
    broken.commit({ "a.txt": "a\n" }, "one");
    const blobOid = hashObject("blob", Buffer.from("a\n"));
    broken.objects.delete(blobOid);
    const req = new Request("http://x/broken.git/git-upload-pack", {
      method: "POST", headers: { "Content-Type": "application/x-git-upload-pack-request" },
      body: Buffer.concat([pktLine(`want ${broken.headOid}\n`), FLUSH, pktLine("done\n")]),
    });
    await assert.rejects(serveGit(req, "git-upload-pack", broken), (e: unknown) => isWeftError(e, "internal") && (e as Error).message.includes(blobOid));
  });

  test("malformed requests get a precise 4xx", async () => {
    const oid = head();
    const cases: [Uint8Array, Record<string, string>, number, RegExp][] = [
      [Buffer.from("hello"), {}, 400, /Bad pkt-line length "hell" at byte 0/],
      [Buffer.from(""), {}, 400, /Empty request body/],
      [Buffer.from("0032want "), {}, 400, /Truncated pkt-line at byte 0/],
      [Buffer.from("0001"), {}, 400, /must be 0000 or 0004-fff0/],
      [Buffer.concat([pktLine("want nothex\n"), FLUSH]), {}, 400, /pkt-line 1: expected "want <40 lowercase hex digits>", got "want nothex"/],
      [pktLine(`want ${oid}\n`), {}, 400, /not followed by a flush/],
      [Buffer.concat([pktLine(`want ${oid}\n`), pktLine(`want ${oid} side-band\n`), FLUSH]), {}, 400, /only allowed on the first want/],
      [Buffer.concat([pktLine(`want ${oid}\n`), pktLine("deepen 1"), FLUSH]), {}, 400, /deepen is not supported/],
      [Buffer.concat([pktLine(`want ${oid}\n`), FLUSH, pktLine("have 123\n"), FLUSH]), {}, 400, /pkt-line 3: expected "have/],
      [Buffer.concat([pktLine(`want ${oid}\n`), FLUSH, pktLine(`have ${oid}\n`)]), {}, 400, /ends without "done"/],
      [Buffer.concat([pktLine(`want ${oid}\n`), FLUSH, pktLine("done\n"), pktLine("more\n")]), {}, 400, /after the end of the request/],
      [Buffer.from("not gzip at all"), { "Content-Encoding": "gzip" }, 400, /not valid gzip/],
      [Buffer.from("0000"), { "Content-Encoding": "br" }, 415, /Content-Encoding/],
      [Buffer.from("0000"), { "Content-Type": "text/plain" }, 415, /Content-Type/],
      [Buffer.alloc(MAX_REQUEST_BYTES + 1, 0x30), {}, 413, /exceeds/],
      [gzipSync(Buffer.alloc(MAX_REQUEST_BYTES + 1, 0x30)), { "Content-Encoding": "gzip" }, 413, /decompressed/],
    ];
    for (const [body, headers, status, message] of cases) {
      const label = `${JSON.stringify(Buffer.from(body.subarray(0, 40)).toString("latin1"))} ${JSON.stringify(headers)}`;
      const res = await post(body, headers);
      assert.equal(res.status, status, label);
      assert.match(await res.text(), message, label);
    }
    // a request with no wants (the client already has everything) gets an empty answer
    const res = await post(FLUSH);
    assert.equal(res.status, 200);
    assert.equal((await res.arrayBuffer()).byteLength, 0);
  });
});
