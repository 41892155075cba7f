// Git's object model for per-instance repositories: blobs, trees and commits, their canonical
// encodings and their SHA-1 ids. Pure (only node:crypto for hashing): no storage, no transport.
// The encodings are byte-for-byte what git writes, so an id computed here is the id git computes
// (`git hash-object`, `git mktree`, `git commit-tree`) and `git fsck --strict` accepts the objects.

import { createHash } from "node:crypto";
import { ErrorCode, WeftError } from "../../core/errors.ts";

export type ObjectType = "blob" | "tree" | "commit";

/** One object; `data` is its content WITHOUT git's "<type> <size>\0" header. */
export interface GitObject {
  type: ObjectType;
  data: Uint8Array;
}

/** The id of the empty tree (`git hash-object -t tree /dev/null`). */
export const EMPTY_TREE_OID = "4b825dc642cb6eb9a060e54bf8d69288fbee4904";

const OID = /^[0-9a-f]{40}$/;
const utf8 = new TextEncoder();
const text = new TextDecoder();

/** True for a lowercase 40-hex-digit SHA-1 id (git never prints uppercase ids). */
export function isOid(value: unknown): value is string {
  return typeof value === "string" && OID.test(value);
}

function checkOid(value: unknown, what: string): string {
  if (!isOid(value)) {
    throw new WeftError(ErrorCode.InvalidArgument, `${what} must be a 40-digit lowercase hex SHA-1, got ${JSON.stringify(value)}`, { value });
  }
  return value;
}

/** Hex SHA-1 of "<type> <length>\0" + data: the object's id, as `git hash-object -t <type>` prints it. */
export function hashObject(type: ObjectType, data: Uint8Array): string {
  return createHash("sha1").update(`${type} ${data.length}\0`).update(data).digest("hex");
}

// ---- trees ----------------------------------------------------------------------------------

/** A tree entry. Only regular files, executables and directories: no symlinks or submodules. */
export interface TreeEntry {
  name: string;
  mode: "100644" | "100755" | "40000";
  oid: string;
}

const MODES = new Set(["100644", "100755", "40000"]);

// Git sorts entries by the bytes of their names, a directory comparing as if its name ended in "/"
// (so "a.b" < "a/" < "a0"). A tree in any other order gets a different id and fails fsck.
function sortKey(e: TreeEntry): Buffer {
  return Buffer.from(e.mode === "40000" ? `${e.name}/` : e.name, "utf8");
}

// Names git itself refuses to check out; `fsck --strict` flags them (".git" in any case too).
function checkName(name: unknown): string {
  const bad =
    typeof name !== "string" ? "it is not a string"
    : name === "" ? "it is empty"
    : name === "." || name === ".." ? "it is a relative path component"
    : name.toLowerCase() === ".git" ? "it is reserved by git"
    : /[/\0]/.test(name) ? 'it contains "/" or a NUL byte'
    : undefined;
  if (bad) throw new WeftError(ErrorCode.InvalidArgument, `Invalid tree entry name ${JSON.stringify(name)}: ${bad}`, { name });
  return name as string;
}

/** Canonical tree content: entries sorted the way git sorts them, each `mode name\0<20-byte id>`. */
export function encodeTree(entries: readonly TreeEntry[]): Uint8Array {
  const names = new Set<string>();
  const keyed = entries.map((e) => {
    checkName(e.name);
    if (!MODES.has(e.mode)) throw new WeftError(ErrorCode.InvalidArgument, `Invalid mode ${JSON.stringify(e.mode)} for tree entry ${JSON.stringify(e.name)}; use 100644, 100755 or 40000`, { name: e.name, mode: e.mode });
    checkOid(e.oid, `The id of tree entry ${JSON.stringify(e.name)}`);
    // A file and a directory with the same name are duplicates too (fsck: duplicateEntries).
    if (names.has(e.name)) throw new WeftError(ErrorCode.InvalidArgument, `Duplicate tree entry name ${JSON.stringify(e.name)}`, { name: e.name });
    names.add(e.name);
    return { e, key: sortKey(e) };
  });
  keyed.sort((a, b) => Buffer.compare(a.key, b.key));
  const parts: Uint8Array[] = [];
  for (const { e } of keyed) {
    parts.push(utf8.encode(`${e.mode} ${e.name}\0`), Buffer.from(e.oid, "hex"));
  }
  return Buffer.concat(parts);
}

/** Parses tree content. Throws InvalidArgument on anything encodeTree would not produce. */
export function decodeTree(data: Uint8Array): TreeEntry[] {
  const entries: TreeEntry[] = [];
  let pos = 0;
  while (pos < data.length) {
    const space = data.indexOf(0x20, pos);
    const nul = space < 0 ? -1 : data.indexOf(0, space + 1);
    if (space < 0 || nul < 0 || nul + 21 > data.length) {
      throw new WeftError(ErrorCode.InvalidArgument, `Truncated tree entry at byte ${pos}`, { offset: pos });
    }
    const mode = text.decode(data.subarray(pos, space));
    const name = text.decode(data.subarray(space + 1, nul));
    if (!MODES.has(mode)) {
      throw new WeftError(ErrorCode.InvalidArgument, `Unsupported mode ${JSON.stringify(mode)} for tree entry ${JSON.stringify(name)} at byte ${pos}`, { offset: pos, mode });
    }
    const oid = Buffer.from(data.subarray(nul + 1, nul + 21)).toString("hex");
    entries.push({ name, mode: mode as TreeEntry["mode"], oid });
    pos = nul + 21;
  }
  return entries;
}

// ---- commits --------------------------------------------------------------------------------

export interface Signature {
  name: string;
  email: string;
  /** seconds since the epoch */
  timestamp: number;
  /** offset from UTC in minutes, e.g. -330 for -0530 */
  tzOffsetMinutes: number;
}

export interface CommitInfo {
  tree: string;
  parents: string[];
  author: Signature;
  committer: Signature;
  /** everything after the blank line, verbatim (git itself ends messages with "\n") */
  message: string;
}

const MAX_TZ = 99 * 60 + 59; // git's format has two digits of hours

function encodeSignature(s: Signature, role: string): string {
  for (const [field, value] of [["name", s.name], ["email", s.email]] as const) {
    // "<", ">" and newlines would make the ident line ambiguous.
    if (typeof value !== "string" || /[<>\n\0]/.test(value)) {
      throw new WeftError(ErrorCode.InvalidArgument, `The ${role} ${field} ${JSON.stringify(value)} must be a string without "<", ">", newlines or NUL`, { role, field, value });
    }
  }
  if (!Number.isSafeInteger(s.timestamp) || s.timestamp < 0) {
    throw new WeftError(ErrorCode.InvalidArgument, `The ${role} timestamp must be a non-negative integer number of seconds, got ${s.timestamp}`, { role, timestamp: s.timestamp });
  }
  const tz = s.tzOffsetMinutes;
  if (!Number.isInteger(tz) || Math.abs(tz) > MAX_TZ) {
    throw new WeftError(ErrorCode.InvalidArgument, `The ${role} time zone offset must be an integer number of minutes within ±${MAX_TZ}, got ${tz}`, { role, tzOffsetMinutes: tz });
  }
  const abs = Math.abs(tz);
  const hhmm = String(Math.floor(abs / 60)).padStart(2, "0") + String(abs % 60).padStart(2, "0");
  return `${s.name} <${s.email}> ${s.timestamp} ${tz < 0 ? "-" : "+"}${hhmm}`;
}

const IDENT = /^(.*) <([^<>]*)> (\d+) ([+-])(\d\d)(\d\d)$/;

function decodeSignature(line: string, role: string): Signature {
  const m = IDENT.exec(line);
  if (!m) throw new WeftError(ErrorCode.InvalidArgument, `Malformed ${role} line in commit: ${JSON.stringify(line)}`, { role, line });
  const minutes = Number(m[5]) * 60 + Number(m[6]);
  return { name: m[1], email: m[2], timestamp: Number(m[3]), tzOffsetMinutes: m[4] === "-" ? -minutes : minutes };
}

/** Commit content exactly as git writes it: tree, parents, author, committer, blank line, message. */
export function encodeCommit(c: CommitInfo): Uint8Array {
  const lines = [`tree ${checkOid(c.tree, "The commit's tree")}`];
  for (const p of c.parents) lines.push(`parent ${checkOid(p, "A commit parent")}`);
  lines.push(`author ${encodeSignature(c.author, "author")}`, `committer ${encodeSignature(c.committer, "committer")}`);
  if (typeof c.message !== "string") throw new WeftError(ErrorCode.InvalidArgument, "The commit message must be a string", {});
  return utf8.encode(`${lines.join("\n")}\n\n${c.message}`);
}

/** Parses commit content. Headers encodeCommit does not write (gpgsig, encoding, …) are skipped. */
export function decodeCommit(data: Uint8Array): CommitInfo {
  const s = text.decode(data);
  const end = s.indexOf("\n\n");
  if (end < 0) throw new WeftError(ErrorCode.InvalidArgument, "Malformed commit: no blank line after the headers", {});
  let tree: string | undefined;
  const parents: string[] = [];
  let author: Signature | undefined;
  let committer: Signature | undefined;
  for (const line of s.slice(0, end).split("\n")) {
    if (line.startsWith(" ")) continue; // continuation of a multi-line header (gpgsig)
    const sp = line.indexOf(" ");
    const key = sp < 0 ? line : line.slice(0, sp);
    const value = sp < 0 ? "" : line.slice(sp + 1);
    if (key === "tree" && tree === undefined) tree = checkOid(value, "The commit's tree");
    else if (key === "parent") parents.push(checkOid(value, "A commit parent"));
    else if (key === "author" && !author) author = decodeSignature(value, "author");
    else if (key === "committer" && !committer) committer = decodeSignature(value, "committer");
  }
  if (!tree || !author || !committer) {
    throw new WeftError(ErrorCode.InvalidArgument, "Malformed commit: the tree, author or committer header is missing", {});
  }
  return { tree, parents, author, committer, message: s.slice(end + 2) };
}
