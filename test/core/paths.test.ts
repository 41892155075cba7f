// Paths of ctx.fs (pure): what is allowed, and a precise refusal (rule, path) for everything that
// could leave the instance's root or alias git's own directory on some filesystem.
import { test } from "node:test";
import assert from "node:assert/strict";
import { parsePath, MAX_DEPTH, MAX_NAME_BYTES, MAX_PATH_BYTES } from "../../src/core/paths.ts";
import { WeftError } from "../../src/core/errors.ts";

const rule = (p: unknown, root = false): string => {
  try {
    parsePath(p, "writeFile", root);
    return "ok";
  } catch (e) {
    assert.ok(e instanceof WeftError);
    assert.equal(e.code, "invalid_path");
    assert.match(e.message, /^fs\.writeFile: /);
    return (e.details as { rule: string }).rule;
  }
};

test("ordinary relative paths split into names; one trailing slash is fine", () => {
  assert.deepEqual(parsePath("a/b/c.txt", "x"), ["a", "b", "c.txt"]);
  assert.deepEqual(parsePath("dir/", "x"), ["dir"]);
  assert.deepEqual(parsePath("über café/ño.md", "x"), ["über café", "ño.md"]);
  assert.deepEqual(parsePath(".gitignore", "x"), [".gitignore"], "names that only start like .git are fine");
  assert.deepEqual(parsePath("a/.github/x", "x"), ["a", ".github", "x"]);
  assert.deepEqual(parsePath("", "x", true), [], "the root, where a directory is expected");
  assert.deepEqual(parsePath(".", "x", true), []);
});

test("traversal, absolute paths, NUL and control characters, backslashes and empty names are refused", () => {
  assert.equal(rule("../x"), "dotdot");
  assert.equal(rule("a/../../x"), "dotdot");
  assert.equal(rule("a/.."), "dotdot");
  assert.equal(rule("/etc/passwd"), "absolute");
  assert.equal(rule("a\u0000b"), "nul");
  assert.equal(rule("a\nb"), "control");
  assert.equal(rule("a\u007fb"), "control");
  assert.equal(rule("a\\..\\b"), "backslash");
  assert.equal(rule("a//b"), "empty");
  assert.equal(rule("./a"), "dot");
  assert.equal(rule(""), "root");
  assert.equal(rule("a\ud800b"), "unicode");
  assert.equal(rule(42), "type");
});

test("git's own directory and the names that alias it are refused", () => {
  for (const p of [".git", ".git/config", "a/.GIT/hooks/pre-commit", ".Git", ".git.", ".git ", ".git. .", "git~1/x", "GIT~1"]) {
    assert.equal(rule(p), "git", p);
  }
  assert.equal(rule(".git\u200c"), "git", "zero-width characters HFS+ ignores");
});

test("limits: name and path length, depth", () => {
  assert.equal(rule("x".repeat(MAX_NAME_BYTES)), "ok");
  assert.equal(rule("x".repeat(MAX_NAME_BYTES + 1)), "name");
  assert.equal(rule("é".repeat(MAX_NAME_BYTES / 2 + 1)), "name", "bytes, not characters");
  assert.equal(rule(Array.from({ length: MAX_DEPTH }, () => "d").join("/")), "ok");
  assert.equal(rule(Array.from({ length: MAX_DEPTH + 1 }, () => "d").join("/")), "depth");
  assert.equal(rule(Array.from({ length: 40 }, () => "y".repeat(110)).join("/")), "length");
  assert.ok(40 * 111 > MAX_PATH_BYTES);
});
