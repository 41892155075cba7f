// Paths of an instance's filesystem (ctx.fs): the one place that decides which names are allowed.
// Pure. A path is relative to the instance's root, "/"-separated, and must stay inside it on any
// machine that checks the repository out: no "..", no absolute paths, no NUL or control characters,
// no backslashes (a separator on Windows), and no name that git would treat as its own directory
// (".git" and the spellings that alias it on case-insensitive, NTFS or HFS+ filesystems).
import { ErrorCode, WeftError } from "./errors.ts";

export const MAX_PATH_BYTES = 4096;
export const MAX_NAME_BYTES = 255;
export const MAX_DEPTH = 64;

const utf8 = new TextEncoder();

function refuse(op: string, path: string, rule: string, why: string): never {
  const shown = JSON.stringify(path.length > 200 ? path.slice(0, 200) + "…" : path);
  throw new WeftError(ErrorCode.InvalidPath, `fs.${op}: the path ${shown} is not allowed: ${why}`, { path, rule });
}

/** ".git" and its aliases: ".GIT", ".git." / ".git " (NTFS strips them), "git~1" (the 8.3 short name). */
function isGitDir(name: string): boolean {
  const n = name.toLowerCase().replace(/[. ]+$/, "").replace(/[\u200c-\u200f\u202a-\u202e\u206a-\u206f\ufeff]/g, "");
  return n === ".git" || n === "git~1";
}

/**
 * Split a path into its names. "" and "." name the root (returns []) when `root` is allowed;
 * one trailing "/" is accepted ("dir/").
 */
export function parsePath(path: unknown, op: string, root = false): string[] {
  if (typeof path !== "string") throw new WeftError(ErrorCode.InvalidPath, `fs.${op}: the path must be a string, got ${path === null ? "null" : typeof path}`, { rule: "type" });
  if (path === "" || path === "." || path === "./") {
    if (root) return [];
    refuse(op, path, "root", "it names the root directory; give a file or directory inside it");
  }
  if (path.includes("\0")) refuse(op, path, "nul", "it contains a NUL byte");
  if (/[\u0001-\u001f\u007f]/.test(path)) refuse(op, path, "control", "it contains a control character");
  if (!path.isWellFormed()) refuse(op, path, "unicode", "it is not well-formed Unicode (a lone surrogate)");
  if (path.startsWith("/")) refuse(op, path, "absolute", "absolute paths are refused; paths are relative to the instance's root");
  if (path.includes("\\")) refuse(op, path, "backslash", "backslashes are refused (a path separator on Windows); use \"/\"");
  if (utf8.encode(path).length > MAX_PATH_BYTES) refuse(op, path, "length", `it is longer than ${MAX_PATH_BYTES} bytes`);
  const trimmed = path.endsWith("/") ? path.slice(0, -1) : path;
  const names = trimmed.split("/");
  if (names.length > MAX_DEPTH) refuse(op, path, "depth", `it is more than ${MAX_DEPTH} directories deep`);
  for (const n of names) {
    if (n === "") refuse(op, path, "empty", "it has an empty name (\"//\")");
    if (n === "..") refuse(op, path, "dotdot", "\"..\" is refused: paths cannot leave the instance's root");
    if (n === ".") refuse(op, path, "dot", "\".\" names are refused; write the path without them");
    if (isGitDir(n)) refuse(op, path, "git", `"${n}" is git's own directory name and cannot be used`);
    if (utf8.encode(n).length > MAX_NAME_BYTES) refuse(op, path, "name", `the name "${n.slice(0, 40)}…" is longer than ${MAX_NAME_BYTES} bytes`);
  }
  return names;
}
