// Read-only git smart-HTTP server (upload-pack, protocol v0/v1) over one repository whose only
// branch is refs/heads/main. Speaks web-standard Request/Response so any router can mount it.
// Clients asking for protocol v2 (git >= 2.26 does by default) get the v0 advertisement and fall
// back, as they do against servers without v2. Pushing and the dumb protocol are refused.
//
// Negotiation implements multi_ack_detailed (without "ready"/no-done): over stateless HTTP it is
// the only mode in which the client replays the commits we ACKed as common in its final request,
// so it is what lets a fetch receive only the new objects instead of the whole history.

import { gunzipSync } from "node:zlib";
import { ErrorCode, WeftError, isWeftError } from "../../core/errors.ts";
import { decodeCommit, decodeTree, isOid, type CommitInfo, type GitObject, type ObjectType } from "./objects.ts";
import { FLUSH, pktLine, readPktLines, sideBand, writePack } from "./pack.ts";

export interface RepoReader {
  /** the commit the repository's only branch (refs/heads/main) points at; null for an empty repository */
  head(): Promise<string | null>;
  read(oid: string): Promise<GitObject | undefined>;
}

/** Largest upload-pack request body accepted, before and after gzip decoding. */
export const MAX_REQUEST_BYTES = 1 << 20;

const ZERO_OID = "0".repeat(40);
const CAPABILITIES = "multi_ack_detailed side-band-64k no-progress symref=HEAD:refs/heads/main agent=weft/1";
// git's upload-pack omits symref when HEAD is unborn; so do we.
const EMPTY_CAPABILITIES = "multi_ack_detailed side-band-64k no-progress agent=weft/1";
const READ_ONLY = "This repository is read-only: only fetching and cloning (git-upload-pack) are allowed.";

/** Serve git's smart HTTP protocol (upload-pack only, protocol v0/v1) for one repository.
 *  `subpath` is what follows `…/repo.git/` in the URL: "info/refs", "git-upload-pack", "HEAD".
 *  Bad requests get 4xx responses; a repository that is missing or has malformed objects throws
 *  WeftError(Internal) — that is the server's fault, for the caller to report. */
export async function serveGit(req: Request, subpath: string, repo: RepoReader): Promise<Response> {
  switch (subpath) {
    case "info/refs": {
      if (req.method !== "GET") return plain(405, "Use GET for info/refs.", { Allow: "GET" });
      const service = new URL(req.url).searchParams.get("service");
      if (service === "git-upload-pack") return advertise(repo);
      if (service === null) {
        return plain(403, "This repository is read-only and served over git's smart HTTP protocol only; the dumb protocol is not supported. Use git 1.6.6 or later.");
      }
      if (service === "git-receive-pack") return plain(403, READ_ONLY);
      return plain(403, `Unsupported service ${JSON.stringify(service)}. ${READ_ONLY}`);
    }
    case "git-upload-pack":
      if (req.method !== "POST") return plain(405, "Use POST for git-upload-pack.", { Allow: "POST" });
      return uploadPack(req, repo);
    case "git-receive-pack":
      return plain(403, READ_ONLY);
    case "HEAD":
      // Harmless and what `git http-backend` serves: the symbolic ref, even for an empty repository.
      if (req.method !== "GET") return plain(405, "Use GET for HEAD.", { Allow: "GET" });
      return new Response("ref: refs/heads/main\n", { headers: { "Content-Type": "text/plain", "Cache-Control": "no-cache" } });
    default:
      return plain(404, `Not found: ${JSON.stringify(subpath)} (this server answers info/refs and git-upload-pack).`);
  }
}

function plain(status: number, message: string, headers: Record<string, string> = {}): Response {
  return new Response(`${message}\n`, { status, headers: { "Content-Type": "text/plain; charset=utf-8", "Cache-Control": "no-cache", ...headers } });
}

function gitResponse(kind: "advertisement" | "result", parts: Uint8Array[]): Response {
  return new Response(Buffer.concat(parts), {
    headers: { "Content-Type": `application/x-git-upload-pack-${kind}`, "Cache-Control": "no-cache" },
  });
}

function internal(message: string, details: Record<string, unknown>): WeftError {
  return new WeftError(ErrorCode.Internal, message, details);
}

async function advertise(repo: RepoReader): Promise<Response> {
  const head = await repo.head();
  if (head !== null && !isOid(head)) throw internal(`The repository's head ${JSON.stringify(head)} is not a SHA-1 id`, { head });
  const parts = [pktLine("# service=git-upload-pack\n"), FLUSH];
  if (head === null) {
    parts.push(pktLine(`${ZERO_OID} capabilities^{}\0${EMPTY_CAPABILITIES}\n`));
  } else {
    parts.push(pktLine(`${head} HEAD\0${CAPABILITIES}\n`), pktLine(`${head} refs/heads/main\n`));
  }
  parts.push(FLUSH);
  return gitResponse("advertisement", parts);
}

// ---- request --------------------------------------------------------------------------------

interface UploadRequest {
  wants: string[];
  caps: Set<string>;
  haves: string[];
  /** false: a negotiation round, answered with ACK/NAK only; true: send the pack */
  done: boolean;
}

async function readBody(req: Request): Promise<Uint8Array | Response> {
  const tooLarge = plain(413, `Request body exceeds ${MAX_REQUEST_BYTES} bytes.`);
  if (Number(req.headers.get("content-length")) > MAX_REQUEST_BYTES) return tooLarge;
  const chunks: Uint8Array[] = [];
  let total = 0;
  if (req.body) {
    const reader = req.body.getReader();
    try {
      for (;;) {
        const { done, value } = await reader.read();
        if (done) break;
        total += value.length;
        if (total > MAX_REQUEST_BYTES) {
          await reader.cancel().catch(() => {});
          return tooLarge;
        }
        chunks.push(value);
      }
    } catch (e) {
      return plain(400, `Could not read the request body: ${(e as Error).message}`);
    }
  }
  const body = Buffer.concat(chunks);
  const encoding = (req.headers.get("content-encoding") ?? "").trim().toLowerCase();
  if (encoding === "" || encoding === "identity") return body;
  if (encoding !== "gzip" && encoding !== "x-gzip") return plain(415, `Unsupported Content-Encoding ${JSON.stringify(encoding)}; use gzip or none.`);
  try {
    return gunzipSync(body, { maxOutputLength: MAX_REQUEST_BYTES });
  } catch (e) {
    if ((e as { code?: string }).code === "ERR_BUFFER_TOO_LARGE") return plain(413, `Request body exceeds ${MAX_REQUEST_BYTES} bytes once decompressed.`);
    return plain(400, `Request body is not valid gzip: ${(e as Error).message}`);
  }
}

function bad(message: string): never {
  throw new WeftError(ErrorCode.InvalidArgument, message, {});
}

function clip(s: string): string {
  return JSON.stringify(s.length > 80 ? `${s.slice(0, 80)}…` : s);
}

const UNSUPPORTED = /^(shallow|deepen|deepen-since|deepen-not|filter) /;

function unexpected(n: number, expected: string, line: string): never {
  const why = UNSUPPORTED.test(line) ? ` (${line.split(" ")[0]} is not supported: the server does not advertise it)` : "";
  bad(`pkt-line ${n}: expected ${expected}, got ${clip(line)}${why}`);
}

// A v0 request: want lines (capabilities on the first), flush, have lines, then "done" (send the
// pack) or a flush (one negotiation round). Over HTTP, git follows "done" with a flush.
function parseRequest(body: Uint8Array): UploadRequest {
  const pkts = readPktLines(body);
  if (pkts.length === 0) bad("Empty request body: expected want lines and a flush packet");
  const lines = pkts.map((p) => (p === null ? null : Buffer.from(p).toString("utf8").replace(/\n$/, "")));
  const r: UploadRequest = { wants: [], caps: new Set(), haves: [], done: false };
  let i = 0;
  for (; i < lines.length && lines[i] !== null; i++) {
    const line = lines[i] as string;
    const m = /^want ([0-9a-f]{40})(?: (.*))?$/.exec(line);
    if (!m) unexpected(i + 1, '"want <40 lowercase hex digits>"', line);
    if (m[2] !== undefined) {
      if (r.wants.length > 0) bad(`pkt-line ${i + 1}: capabilities are only allowed on the first want line`);
      for (const cap of m[2].split(" ")) if (cap) r.caps.add(cap);
    }
    r.wants.push(m[1]);
  }
  if (i === lines.length) bad("The want lines are not followed by a flush packet");
  i++;
  const onlyFlushesAfter = (at: number) => {
    const extra = lines.findIndex((l, j) => j > at && l !== null);
    if (extra >= 0) bad(`pkt-line ${extra + 1}: unexpected ${clip(lines[extra] as string)} after the end of the request`);
  };
  if (r.wants.length === 0) {
    onlyFlushesAfter(i - 1); // nothing wanted (the client has everything): nothing to answer
    return r;
  }
  for (; i < lines.length; i++) {
    const line = lines[i];
    if (line === null || line === "done") {
      r.done = line === "done";
      onlyFlushesAfter(i);
      return r;
    }
    const m = /^have ([0-9a-f]{40})$/.exec(line);
    if (!m) unexpected(i + 1, '"have <40 lowercase hex digits>" or "done"', line);
    r.haves.push(m[1]);
  }
  bad('The request ends without "done" or a flush packet after the have lines');
}

// ---- objects --------------------------------------------------------------------------------

// Reads through the RepoReader, caching parsed commits (walks visit them more than once).
class Objects {
  readonly repo: RepoReader;
  readonly commits = new Map<string, { info: CommitInfo; obj: GitObject }>();
  constructor(repo: RepoReader) {
    this.repo = repo;
  }
  async get(oid: string, type: ObjectType, context: string): Promise<GitObject> {
    const obj = await this.repo.read(oid);
    if (!obj) throw internal(`The repository is missing ${type} ${oid} (${context})`, { oid, type });
    if (obj.type !== type) throw internal(`Object ${oid} is a ${obj.type}, expected a ${type} (${context})`, { oid, type, actual: obj.type });
    return obj;
  }
  /** undefined when the repository has no such commit */
  async maybeCommit(oid: string): Promise<CommitInfo | undefined> {
    const hit = this.commits.get(oid);
    if (hit) return hit.info;
    const obj = await this.repo.read(oid);
    if (!obj || obj.type !== "commit") return undefined;
    try {
      const info = decodeCommit(obj.data);
      this.commits.set(oid, { info, obj });
      return info;
    } catch (e) {
      throw internal(`Commit ${oid} in the repository is malformed: ${(e as Error).message}`, { oid });
    }
  }
  async commit(oid: string, context: string): Promise<CommitInfo> {
    const info = await this.maybeCommit(oid);
    if (!info) await this.get(oid, "commit", context); // throws the precise error
    return info as CommitInfo;
  }
  async tree(oid: string, context: string): Promise<{ obj: GitObject; entries: ReturnType<typeof decodeTree> }> {
    const obj = await this.get(oid, "tree", context);
    try {
      return { obj, entries: decodeTree(obj.data) };
    } catch (e) {
      throw internal(`Tree ${oid} in the repository is malformed: ${(e as Error).message}`, { oid });
    }
  }
}

// The first want that is not a commit reachable from the head (the only ref we advertise). Wants
// other than the head itself happen when the branch moved between advertisement and request.
async function firstNotOurs(store: Objects, wants: string[], head: string | null): Promise<string | undefined> {
  const pending = new Set(wants.filter((w) => w !== head));
  if (pending.size === 0) return undefined;
  if (head === null) return wants[0];
  // Objects we do not have, or that are not commits, are rejected without walking the history.
  for (const w of wants) if (pending.has(w) && !(await store.maybeCommit(w))) return w;
  const seen = new Set([head]);
  const stack = [head];
  while (stack.length > 0 && pending.size > 0) {
    const oid = stack.pop() as string;
    pending.delete(oid);
    for (const p of (await store.commit(oid, "walking history from the head")).parents) {
      if (!seen.has(p)) {
        seen.add(p);
        stack.push(p);
      }
    }
  }
  return wants.find((w) => pending.has(w));
}

// Commits reachable from `wants` but not from `common`, plus the "edge": commits the client has
// that are parents of ones we send. Newest-first walk (git's): history reachable from the haves
// is painted uninteresting before the walk from the wants gets there, and it stops once only
// uninteresting commits are queued, so it costs the new history, not all of it. Clock skew can
// only make it send commits the client already has, never omit one.
async function commitsToSend(store: Objects, wants: string[], common: string[]): Promise<{ send: string[]; edges: string[] }> {
  const uninteresting = new Set(common);
  const seen = new Set<string>();
  const queued = new Set<string>();
  const queue: string[] = [];
  const time = (oid: string) => store.commits.get(oid)?.info.committer.timestamp ?? 0;
  const push = async (oid: string) => {
    await store.commit(oid, "walking history");
    seen.add(oid);
    if (!queued.has(oid)) {
      queued.add(oid);
      queue.push(oid);
    }
  };
  for (const oid of [...common, ...wants]) if (!seen.has(oid)) await push(oid);
  const emitted: string[] = [];
  while (queue.some((oid) => !uninteresting.has(oid))) {
    let best = 0; // the queue is as wide as the history has parallel branches: a scan is enough
    for (let i = 1; i < queue.length; i++) if (time(queue[i]) > time(queue[best])) best = i;
    const oid = queue[best];
    queue[best] = queue[queue.length - 1];
    queue.pop();
    queued.delete(oid);
    const { parents } = await store.commit(oid, "walking history");
    if (uninteresting.has(oid)) {
      // Re-queues a parent already emitted so the mark reaches its ancestors too.
      for (const p of parents) {
        if (uninteresting.has(p)) continue;
        uninteresting.add(p);
        await push(p);
      }
    } else {
      emitted.push(oid);
      for (const p of parents) if (!seen.has(p)) await push(p);
    }
  }
  const send = emitted.filter((oid) => !uninteresting.has(oid));
  const edges = new Set<string>();
  for (const oid of send) for (const p of store.commits.get(oid)!.info.parents) if (uninteresting.has(p)) edges.add(p);
  return { send, edges: [...edges] };
}

// Every object to pack: the commits, then the trees and blobs they reach that are not in the trees
// of the edge commits (the client has those snapshots in full). Iterative: no recursion depth.
async function objectsToSend(store: Objects, wants: string[], common: string[]): Promise<GitObject[]> {
  const { send, edges } = await commitsToSend(store, wants, common);
  const skip = new Set<string>();
  const stack: string[] = [];
  for (const e of edges) stack.push((await store.commit(e, "edge commit")).tree);
  while (stack.length > 0) {
    const oid = stack.pop() as string;
    if (skip.has(oid)) continue;
    skip.add(oid);
    for (const entry of (await store.tree(oid, "tree the client has")).entries) {
      if (entry.mode === "40000") stack.push(entry.oid);
      else skip.add(entry.oid);
    }
  }
  const out: GitObject[] = [];
  for (const oid of send) out.push(store.commits.get(oid)!.obj);
  for (const oid of send) stack.push(store.commits.get(oid)!.info.tree);
  while (stack.length > 0) {
    const oid = stack.pop() as string;
    if (skip.has(oid)) continue;
    skip.add(oid);
    const { obj, entries } = await store.tree(oid, "reachable from a wanted commit");
    out.push(obj);
    for (const entry of entries) {
      if (skip.has(entry.oid)) continue;
      if (entry.mode === "40000") stack.push(entry.oid);
      else {
        skip.add(entry.oid);
        out.push(await store.get(entry.oid, "blob", `${entry.name} in tree ${oid}`));
      }
    }
  }
  return out;
}

// ---- upload-pack ----------------------------------------------------------------------------

async function uploadPack(req: Request, repo: RepoReader): Promise<Response> {
  const type = (req.headers.get("content-type") ?? "").split(";")[0].trim().toLowerCase();
  if (type !== "application/x-git-upload-pack-request") {
    return plain(415, `Expected Content-Type application/x-git-upload-pack-request, got ${clip(type)}.`);
  }
  const body = await readBody(req);
  if (body instanceof Response) return body;
  let r: UploadRequest;
  try {
    r = parseRequest(body);
  } catch (e) {
    if (isWeftError(e, ErrorCode.InvalidArgument)) return plain(400, `Malformed upload-pack request: ${e.message}`);
    throw e;
  }
  if (r.wants.length === 0) return gitResponse("result", []);

  const store = new Objects(repo);
  const notOurs = await firstNotOurs(store, r.wants, await repo.head());
  // git answers this in-band with status 200; the client prints "remote error: …".
  if (notOurs) return gitResponse("result", [pktLine(`ERR upload-pack: not our ref ${notOurs}\n`)]);

  const multiAck = r.caps.has("multi_ack_detailed");
  const out: Uint8Array[] = [];
  const common: string[] = [];
  for (const have of r.haves) {
    if (common.includes(have) || !(await store.maybeCommit(have))) continue; // unknown: not common
    common.push(have);
    if (multiAck) out.push(pktLine(`ACK ${have} common\n`));
    else if (common.length === 1) out.push(pktLine(`ACK ${have}\n`)); // without multi_ack: the first only
  }
  if (!r.done) {
    // A round without "done": the client sends more haves (replaying the common ones) next time.
    if (multiAck || common.length === 0) out.push(pktLine("NAK\n"));
    return gitResponse("result", out);
  }
  if (common.length === 0) out.push(pktLine("NAK\n"));
  else if (multiAck) out.push(pktLine(`ACK ${common[common.length - 1]}\n`));

  const pack = writePack(await objectsToSend(store, r.wants, common));
  if (r.caps.has("side-band-64k") || r.caps.has("side-band")) {
    out.push(...sideBand(1, pack, r.caps.has("side-band-64k") ? 65515 : 995), FLUSH);
  } else {
    out.push(pack);
  }
  return gitResponse("result", out);
}
