// The git object layer and pack/pkt-line framing, checked against the real git (/usr/bin/git):
// ids equal what git computes, objects written as loose files pass `git fsck --strict`, and a
// packfile we write is accepted by `git index-pack`.
import { describe, test, before, after } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { deflateSync } from "node:zlib";
import {
  EMPTY_TREE_OID, decodeCommit, decodeTree, encodeCommit, encodeTree, hashObject,
  type CommitInfo, type GitObject, type ObjectType, type TreeEntry,
} from "../../src/instance-data/fs/objects.ts";
import { FLUSH, pktLine, readPktLines, sideBand, writePack } from "../../src/instance-data/fs/pack.ts";
import { isWeftError } from "../../src/core/errors.ts";

let tmp: string;
let env: NodeJS.ProcessEnv;

function git(cwd: string, args: string[], input?: string | Uint8Array): Buffer {
  return execFileSync("git", args, { cwd, env, input, stdio: ["pipe", "pipe", "pipe"] });
}
const gitText = (cwd: string, args: string[], input?: string | Uint8Array) => git(cwd, args, input).toString("utf8");

function newBareRepo(name: string): string {
  const dir = join(tmp, name);
  git(tmp, ["init", "-q", "--bare", dir]);
  return dir;
}

// Loose object format: objects/<2 hex>/<38 hex>, zlib("<type> <size>\0" + data).
function writeLoose(repo: string, obj: GitObject): string {
  const oid = hashObject(obj.type, obj.data);
  mkdirSync(join(repo, "objects", oid.slice(0, 2)), { recursive: true });
  const raw = Buffer.concat([Buffer.from(`${obj.type} ${obj.data.length}\0`), obj.data]);
  writeFileSync(join(repo, "objects", oid.slice(0, 2), oid.slice(2)), deflateSync(raw));
  return oid;
}

const blob = (s: string | Uint8Array): GitObject => ({ type: "blob", data: typeof s === "string" ? Buffer.from(s) : s });
const sig = (timestamp: number, tzOffsetMinutes = 0, name = "Ada Lovelace", email = "ada@example.com") => ({ name, email, timestamp, tzOffsetMinutes });
const assertInvalid = (fn: () => unknown, pattern: RegExp) =>
  assert.throws(fn, (e: unknown) => isWeftError(e, "invalid_argument") && pattern.test((e as Error).message));

before(() => {
  tmp = mkdtempSync(join(tmpdir(), "weft-git-objects-"));
  env = { PATH: process.env.PATH, HOME: tmp, GIT_CONFIG_NOSYSTEM: "1", LC_ALL: "C" };
});
after(() => rmSync(tmp, { recursive: true, force: true }));

describe("hashObject", () => {
  const bytes = Uint8Array.from({ length: 256 }, (_, i) => i);
  for (const [label, content] of [["empty", ""], ["text", "hello\n"], ["unicode", "ünïcødé ✓"], ["all bytes", bytes]] as const) {
    test(`equals git hash-object for ${label} content`, () => {
      const data = typeof content === "string" ? Buffer.from(content) : content;
      const expected = gitText(tmp, ["hash-object", "--stdin", "-t", "blob"], data).trim();
      assert.equal(hashObject("blob", data), expected);
    });
  }
  test("the empty tree id", () => {
    assert.equal(hashObject("tree", encodeTree([])), EMPTY_TREE_OID);
    assert.equal(gitText(tmp, ["hash-object", "--stdin", "-t", "tree"], "").trim(), EMPTY_TREE_OID);
  });
});

describe("trees", () => {
  test("sort like git mktree: a.b, then the directory a, then a0", () => {
    const repo = newBareRepo("mktree.git");
    const file = hashObject("blob", Buffer.from("x"));
    const entries: TreeEntry[] = [
      { name: "a0", mode: "100644", oid: file },
      { name: "a", mode: "40000", oid: EMPTY_TREE_OID },
      { name: "a.b", mode: "100755", oid: file },
    ];
    const data = encodeTree(entries);
    assert.deepEqual(decodeTree(data).map((e) => e.name), ["a.b", "a", "a0"]);
    const mktree = `100644 blob ${file}\ta0\n040000 tree ${EMPTY_TREE_OID}\ta\n100755 blob ${file}\ta.b\n`;
    const expected = gitText(repo, ["mktree", "--missing"], mktree).trim();
    assert.equal(hashObject("tree", data), expected);
    // and git's own bytes decode to the same entries
    const raw = git(repo, ["cat-file", "tree", expected]);
    assert.deepEqual(decodeTree(raw), decodeTree(data));
  });

  test("round-trip with unicode and spaces in names", () => {
    const entries: TreeEntry[] = [
      { name: "with space.txt", mode: "100644", oid: "1".repeat(40) },
      { name: "ünï", mode: "40000", oid: "2".repeat(40) },
      { name: "Z", mode: "100755", oid: "3".repeat(40) },
    ];
    const decoded = decodeTree(encodeTree(entries));
    assert.deepEqual(new Set(decoded.map((e) => JSON.stringify(e))), new Set(entries.map((e) => JSON.stringify(e))));
    assert.deepEqual(decoded.map((e) => e.name), ["Z", "with space.txt", "ünï"]); // byte order
  });

  test("rejects names and entries git would not accept", () => {
    const oid = "a".repeat(40);
    assertInvalid(() => encodeTree([{ name: "a/b", mode: "100644", oid }]), /"\/"/);
    assertInvalid(() => encodeTree([{ name: "", mode: "100644", oid }]), /empty/);
    assertInvalid(() => encodeTree([{ name: "..", mode: "40000", oid }]), /relative/);
    assertInvalid(() => encodeTree([{ name: ".GIT", mode: "40000", oid }]), /reserved/);
    assertInvalid(() => encodeTree([{ name: "x", mode: "100664" as "100644", oid }]), /mode/);
    assertInvalid(() => encodeTree([{ name: "x", mode: "100644", oid: "A".repeat(40) }]), /hex/);
    assertInvalid(() => encodeTree([{ name: "x", mode: "100644", oid }, { name: "x", mode: "40000", oid }]), /Duplicate/);
    assertInvalid(() => decodeTree(Buffer.from("100644 truncated")), /Truncated/);
    assertInvalid(() => decodeTree(Buffer.concat([Buffer.from("120000 link\0"), Buffer.alloc(20)])), /Unsupported mode/);
  });
});

describe("commits", () => {
  const info: CommitInfo = {
    tree: EMPTY_TREE_OID,
    parents: ["1".repeat(40), "2".repeat(40)],
    author: sig(1_700_000_000, -330, "Zoë Ünicode"),
    committer: sig(1_700_000_123, 90),
    message: "Subject line\n\nBody with ünïcode.\n",
  };

  test("formats exactly like git and round-trips", () => {
    const data = encodeCommit(info);
    assert.equal(
      Buffer.from(data).toString("utf8"),
      `tree ${EMPTY_TREE_OID}\nparent ${"1".repeat(40)}\nparent ${"2".repeat(40)}\n` +
        "author Zoë Ünicode <ada@example.com> 1700000000 -0530\n" +
        "committer Ada Lovelace <ada@example.com> 1700000123 +0130\n\nSubject line\n\nBody with ünïcode.\n",
    );
    assert.deepEqual(decodeCommit(data), info);
    const root = { ...info, parents: [], message: "" };
    assert.deepEqual(decodeCommit(encodeCommit(root)), root);
  });

  test("has the id git commit-tree gives", () => {
    const repo = newBareRepo("commit-tree.git");
    git(repo, ["hash-object", "-w", "-t", "tree", "--stdin"], "");
    const run = (args: string[]) =>
      execFileSync("git", args, {
        cwd: repo,
        env: {
          ...env,
          GIT_AUTHOR_NAME: "Zoë Ünicode", GIT_AUTHOR_EMAIL: "zoe@example.com", GIT_AUTHOR_DATE: "1700000000 -0530",
          GIT_COMMITTER_NAME: "Bot", GIT_COMMITTER_EMAIL: "bot@example.com", GIT_COMMITTER_DATE: "1700000100 +0000",
        },
      }).toString().trim();
    const first = run(["commit-tree", EMPTY_TREE_OID, "-m", "first"]);
    const second = run(["commit-tree", EMPTY_TREE_OID, "-p", first, "-m", "second"]);
    const author = sig(1_700_000_000, -330, "Zoë Ünicode", "zoe@example.com");
    const committer = sig(1_700_000_100, 0, "Bot", "bot@example.com");
    const mine1 = hashObject("commit", encodeCommit({ tree: EMPTY_TREE_OID, parents: [], author, committer, message: "first\n" }));
    const mine2 = hashObject("commit", encodeCommit({ tree: EMPTY_TREE_OID, parents: [mine1], author, committer, message: "second\n" }));
    assert.equal(mine1, first);
    assert.equal(mine2, second);
    assert.deepEqual(decodeCommit(git(repo, ["cat-file", "commit", second])).parents, [first]);
  });

  test("rejects values that would corrupt the ident line", () => {
    assertInvalid(() => encodeCommit({ ...info, author: sig(1, 0, "Eve <evil>") }), /author name/);
    assertInvalid(() => encodeCommit({ ...info, committer: sig(1, 0, "Bob", "b\n@x") }), /committer email/);
    assertInvalid(() => encodeCommit({ ...info, author: sig(1.5) }), /timestamp/);
    assertInvalid(() => encodeCommit({ ...info, author: sig(1, 6000) }), /time zone/);
    assertInvalid(() => encodeCommit({ ...info, tree: "nope" }), /tree/);
    assertInvalid(() => decodeCommit(Buffer.from("tree x\n")), /blank line/);
    assertInvalid(() => decodeCommit(Buffer.from(`tree ${EMPTY_TREE_OID}\n\nmsg`)), /missing/);
  });
});

// A small repository built here, written as loose objects into a bare repository.
function buildRepo(): { objects: GitObject[]; head: string; files: Record<string, string> } {
  const objects: GitObject[] = [];
  const put = (o: GitObject) => (objects.push(o), hashObject(o.type, o.data));
  const readme = put(blob("# readme\n"));
  const empty = put(blob(""));
  const bin = put(blob(Uint8Array.from([0, 1, 2, 255, 0, 10])));
  const sub = put({ type: "tree", data: encodeTree([{ name: "empty", mode: "100644", oid: empty }, { name: "bin.dat", mode: "100755", oid: bin }]) });
  const root = put({ type: "tree", data: encodeTree([{ name: "README.md", mode: "100644", oid: readme }, { name: "dir", mode: "40000", oid: sub }]) });
  const c1 = put({ type: "commit", data: encodeCommit({ tree: root, parents: [], author: sig(1_700_000_000), committer: sig(1_700_000_000), message: "first\n" }) });
  const root2 = put({ type: "tree", data: encodeTree([{ name: "README.md", mode: "100644", oid: readme }]) });
  const head = put({ type: "commit", data: encodeCommit({ tree: root2, parents: [c1], author: sig(1_700_000_060, 120), committer: sig(1_700_000_060, 120), message: "remove dir\n" }) });
  return { objects, head, files: { root, sub, c1, readme } };
}

describe("loose objects in a real repository", () => {
  test("git fsck --strict accepts them and cat-file shows them", () => {
    const repo = newBareRepo("loose.git");
    const { objects, head, files } = buildRepo();
    for (const o of objects) writeLoose(repo, o);
    writeFileSync(join(repo, "refs/heads/main"), `${head}\n`);
    writeFileSync(join(repo, "HEAD"), "ref: refs/heads/main\n");
    git(repo, ["fsck", "--strict", "--no-dangling"]);
    assert.equal(gitText(repo, ["cat-file", "-p", `${files.c1}^{tree}`]),
      `100644 blob ${files.readme}\tREADME.md\n040000 tree ${files.sub}\tdir\n`);
    assert.equal(gitText(repo, ["cat-file", "-p", "main:README.md"]), "# readme\n");
    assert.deepEqual(git(repo, ["cat-file", "blob", "main~1:dir/bin.dat"]), Buffer.from([0, 1, 2, 255, 0, 10]));
    assert.equal(gitText(repo, ["log", "--format=%s|%ad", "--date=raw", "main"]), "remove dir|1700000060 +0200\nfirst|1700000000 +0000\n");
  });

  test("fsck notices a corrupted object (the check above can fail)", () => {
    const repo = newBareRepo("corrupt.git");
    const oid = writeLoose(repo, blob("good"));
    writeFileSync(join(repo, "objects", oid.slice(0, 2), oid.slice(2)), deflateSync(Buffer.from("blob 4\0evil")));
    assert.throws(() => git(repo, ["fsck", "--strict"]));
  });
});

describe("packfile", () => {
  test("git index-pack accepts it and finds every object", () => {
    const repo = newBareRepo("pack.git");
    const { objects } = buildRepo();
    // a blob large enough that its size needs several header bytes
    const big = blob(Buffer.alloc(300_000, "x"));
    const pack = writePack([...objects, big]);
    const packPath = join(tmp, "test.pack");
    writeFileSync(packPath, pack);
    git(repo, ["index-pack", "-o", join(tmp, "test.idx"), packPath]);
    const listed = gitText(repo, ["verify-pack", "-v", join(tmp, "test.idx")]);
    const ids = new Map<string, ObjectType>();
    for (const line of listed.split("\n")) {
      const m = /^([0-9a-f]{40}) (blob|tree|commit) /.exec(line);
      if (m) ids.set(m[1], m[2] as ObjectType);
    }
    const expected = new Map([...objects, big].map((o) => [hashObject(o.type, o.data), o.type] as const));
    assert.deepEqual(ids, expected);
  });

  test("an empty pack is well-formed", () => {
    const pack = writePack([]);
    assert.equal(pack.length, 32);
    assert.equal(Buffer.from(pack.subarray(0, 12)).toString("hex"), "5041434b0000000200000000");
  });
});

describe("pkt-lines", () => {
  test("frames and parses", () => {
    assert.equal(Buffer.from(pktLine("want x\n")).toString(), "000bwant x\n");
    assert.equal(Buffer.from(FLUSH).toString(), "0000");
    const body = Buffer.concat([pktLine("a\n"), FLUSH, pktLine(Uint8Array.of(1, 2)), FLUSH]);
    assert.deepEqual(readPktLines(body).map((p) => (p === null ? null : Buffer.from(p).toString("hex"))), ["610a", null, "0102", null]);
    assertInvalid(() => readPktLines(Buffer.from("zzzz")), /Bad pkt-line length "zzzz" at byte 0/);
    assertInvalid(() => readPktLines(Buffer.from("0000000a12")), /Truncated pkt-line at byte 4/);
    assertInvalid(() => readPktLines(Buffer.from("0001")), /must be 0000 or 0004-fff0/);
    assertInvalid(() => readPktLines(Buffer.from("00")), /Truncated pkt-line length/);
    assertInvalid(() => pktLine(Buffer.alloc(65517)), /at most 65516/);
  });

  test("side-band splits into band-1 packets of at most 65515 data bytes", () => {
    const data = Buffer.alloc(65515 * 2 + 7, 7);
    const pkts = readPktLines(Buffer.concat(sideBand(1, data)));
    assert.deepEqual(pkts.map((p) => p!.length), [65516, 65516, 8]);
    assert.ok(pkts.every((p) => p![0] === 1));
    assert.deepEqual(Buffer.concat(pkts.map((p) => p!.subarray(1))), data);
  });
});
