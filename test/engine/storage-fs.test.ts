// ctx.fs from workflow code, through the engine: Node-like operations, one git commit per step that
// changed files (message = step name and count), reads at a commit, diff, rollback of a failed
// attempt, limits and bad paths (each a clear error, nothing written), seeding with files, forking,
// and the host API that reads an instance's files from outside.
import { TEST_POSTGRES_URL } from "../../src/testing/postgres.ts";
import { test } from "node:test";
import assert from "node:assert/strict";
import { deploy, open, until, wf, SECOND } from "./helpers.ts";
import type { WorkflowInstance } from "../../src/index.ts";

const LIMIT = { timeout: 20_000 };
const text = (b: Uint8Array) => new TextDecoder().decode(b);

test("files: write, read (text and binary), mkdir, readdir, stat, exists, rename, rm — and one commit per step", LIMIT, async (t) => {
  const h = await open(t);
  await deploy(h.engine, "files", wf(`
    const fs = this.ctx.fs;
    await step.do("write", async () => {
      await fs.writeFile("README.md", "# hello\\n");
      await fs.writeFile("bin/data.bin", new Uint8Array([0, 255, 7]));
      await fs.mkdir("empty");
    });
    const first = await step.do("read", async () => ({
      text: await fs.readFile("README.md", "utf8"),
      bin: [...(await fs.readFile("bin/data.bin"))],
      root: await fs.readdir("."),
      stat: await fs.stat("bin/data.bin").then((s) => ({ type: s.type, size: s.size, file: s.isFile() })),
      dir: await fs.stat("bin").then((s) => s.isDirectory()),
      yes: await fs.exists("bin/data.bin"),
      no: await fs.exists("nope"),
    }));
    await step.do("move", async () => {
      await fs.rename("README.md", "docs/README.md");
      await fs.rm("bin", { recursive: true });
    });
    await step.do("nothing", async () => 1);
    await step.do("same again", async () => { await fs.writeFile("docs/README.md", "# hello\\n"); });
    const log = await fs.log();
    const errs = {};
    for (const [name, f] of Object.entries({
      missing: () => fs.readFile("nope"), isDir: () => fs.readFile("docs"), notEmpty: () => step.do("rmdir", { retries: { limit: 0, delay: 1 } }, () => fs.rm("docs")),
      mkdirExists: () => step.do("mk", { retries: { limit: 0, delay: 1 } }, () => fs.mkdir("docs")),
    })) {
      try { await f(); errs[name] = "ok"; } catch (e) { errs[name] = e.code; }
    }
    return { first, log: log.map((c) => ({ message: c.message.split("\\n")[0], step: c.step })), tree: await fs.readdir(""), docs: await fs.readdir("docs"), errs,
      old: await fs.readFile("bin/data.bin", { at: log[1].oid }).then((b) => b.length),
      diff: await fs.diff(log[1].oid, log[0].oid) };`));
  const inst = await h.engine.workflow("acme", "files").create();
  const s = await inst.waitFor();
  assert.equal(s.status, "complete", JSON.stringify(s.error));
  const o = s.output as Record<string, unknown>;
  assert.deepEqual(o.first, {
    text: "# hello\n", bin: [0, 255, 7], root: ["README.md", "bin", "empty"], stat: { type: "file", size: 3, file: true }, dir: true, yes: true, no: false,
  });
  assert.deepEqual(o.log, [
    { message: "move #1", step: { name: "move", count: 1 } },
    { message: "write #1", step: { name: "write", count: 1 } },
  ], "one commit per step that changed files: none for reads, none for a step that wrote what was there");
  assert.deepEqual(o.tree, ["docs", "empty"]);
  assert.deepEqual(o.docs, ["README.md"]);
  assert.deepEqual(o.errs, { missing: "ENOENT", isDir: "EISDIR", notEmpty: "EISDIR", mkdirExists: "EEXIST" });
  assert.equal(o.old, 3, "readFile at an older commit");
  assert.deepEqual(o.diff, [{ path: "README.md", change: "deleted" }, { path: "bin/data.bin", change: "deleted" }, { path: "docs/README.md", change: "added" }]);

  // the host API sees the same
  assert.equal(text(await inst.readFile("docs/README.md")), "# hello\n");
  const commits = await inst.commits();
  assert.deepEqual(commits.map((c) => c.step?.name), ["move", "write"]);
  assert.deepEqual((await inst.listFiles("")).map((e) => `${e.type}:${e.name}`), ["directory:docs", "directory:empty"]);
  assert.deepEqual([...(await inst.readFile("bin/data.bin", { at: commits[1]!.oid }))], [0, 255, 7]);
  await assert.rejects(inst.readFile("docs/README.md", { at: "0".repeat(40) }), /not in this instance's history/);
});

test("a failed attempt's file changes are thrown away; the retry sees the files as they were", LIMIT, async (t) => {
  const h = await open(t);
  await deploy(h.engine, "fretry", wf(`
    const fs = this.ctx.fs;
    await step.do("init", async () => fs.writeFile("n.txt", "0"));
    const seen = await step.do("flaky", { retries: { limit: 1, delay: "1 second", backoff: "constant" } }, async (ctx) => {
      const before = await fs.readFile("n.txt", "utf8");
      await fs.writeFile("n.txt", String(ctx.attempt));
      await fs.writeFile("attempt-" + ctx.attempt, "x");
      if (ctx.attempt === 1) throw new Error("fail once");
      return before;
    });
    return { seen, files: await fs.readdir(""), n: await fs.readFile("n.txt", "utf8"), commits: (await fs.log()).length };`));
  const inst = await h.engine.workflow("acme", "fretry").create();
  await until(async () => (await inst.describe()).steps.some((x) => x.type === "step" && x.name === "flaky" && x.attempts.filter((a) => a.success === false).length >= 1), "the failure"); // failed, not just started
  h.clock.advance(SECOND);
  const s = await inst.waitFor();
  assert.equal(s.status, "complete", JSON.stringify(s.error));
  assert.deepEqual(s.output, { seen: "0", files: ["attempt-2", "n.txt"], n: "2", commits: 2 });
});

test("fs writes outside steps are refused; reads outside steps work", LIMIT, async (t) => {
  const h = await open(t);
  await deploy(h.engine, "fout", wf(`
    await step.do("w", async () => this.ctx.fs.writeFile("a.txt", "A"));
    let code = "", message = "";
    try { await this.ctx.fs.writeFile("b.txt", "B"); } catch (e) { code = e.code; message = e.message; }
    return { read: await this.ctx.fs.readFile("a.txt", "utf8"), code, message, files: await this.ctx.fs.readdir() };`));
  const s = await (await h.engine.workflow("acme", "fout").create()).waitFor();
  assert.equal(s.status, "complete", JSON.stringify(s.error));
  const o = s.output as { read: string; code: string; message: string; files: string[] };
  assert.equal(o.read, "A");
  assert.equal(o.code, "storage_read_only");
  assert.match(o.message, /outside step\.do/);
  assert.deepEqual(o.files, ["a.txt"]);
});

test("bad paths and limits: each a clear error, nothing written", LIMIT, async (t) => {
  const h = await open(t);
  await deploy(h.engine, "fbad", wf(`
    const fs = this.ctx.fs;
    const out = {};
    const bad = ["../escape", "a/../../b", "/etc/passwd", "a\\u0000b", ".git/config", "x/.GIT/hooks", "GIT~1/x", ".git./x", "a\\\\b", "a//b", "", "a/./b"];
    for (const p of bad) {
      try { await step.do("bad " + JSON.stringify(p), { retries: { limit: 3, delay: 1 } }, () => fs.writeFile(p, "x")); out[p] = "written"; } catch (e) { out[p] = e.code; }
    }
    try { await step.do("big", { retries: { limit: 3, delay: 1 } }, () => fs.writeFile("big.bin", new Uint8Array(2049))); out.big = "written"; } catch (e) { out.big = e.code + " " + e.message; }
    try {
      await step.do("many", { retries: { limit: 3, delay: 1 } }, async () => { for (let i = 0; i < 6; i++) await fs.writeFile("f" + i, "x"); });
      out.many = "written";
    } catch (e) { out.many = e.code + " " + e.message; }
    out.files = await fs.readdir("");
    out.commits = (await fs.log()).length;
    return out;`), { limits: { fileBytes: 2048, files: 5 } });
  const inst = await h.engine.workflow("acme", "fbad").create();
  const s = await inst.waitFor();
  assert.equal(s.status, "complete", JSON.stringify(s.error));
  const o = s.output as Record<string, unknown>;
  for (const p of ["../escape", "a/../../b", "/etc/passwd", "a\u0000b", ".git/config", "x/.GIT/hooks", "GIT~1/x", ".git./x", "a\\b", "a//b", "", "a/./b"]) {
    assert.equal(o[p], "invalid_path", `path ${JSON.stringify(p)}`);
  }
  assert.match(o.big as string, /^storage_limit .*2049 bytes.*limit for one file is 2048 bytes \(limits\.fileBytes\)/);
  assert.match(o.many as string, /^storage_limit .*6 files; the limit is 5 files/);
  assert.deepEqual(o.files, [], "nothing of the failed steps remains");
  assert.equal(o.commits, 0);
  const d = await inst.describe();
  for (const st of d.steps) if (st.type === "step") assert.equal(st.attempts.length, 1, `${st.name}: not retried`);
});

test("create with files seeds the filesystem (one 'seed' commit); fork starts from another instance's commit", LIMIT, async (t) => {
  const h = await open(t);
  await deploy(h.engine, "seed", wf(`
    await step.do("edit", async () => this.ctx.fs.writeFile("notes.txt", "edited by " + event.instanceId));
    return { files: await this.ctx.fs.readdir(""), log: (await this.ctx.fs.log()).map((c) => c.message.split("\\n")[0]) };`));
  const w = h.engine.workflow("acme", "seed");
  const a = await w.create({ id: "a", files: { "src/main.ts": "export {}", "notes.txt": "seeded", "logo.bin": new Uint8Array([1, 2]) } });
  const sa = await a.waitFor();
  assert.deepEqual(sa.output, { files: ["logo.bin", "notes.txt", "src"], log: ["edit #1", "seed #1"] });
  const seedCommit = (await a.commits()).at(-1)!.oid;

  const b = await w.create({ id: "b", fork: { instance: "a" } });
  const sb = await b.waitFor();
  assert.deepEqual(sb.output, { files: ["logo.bin", "notes.txt", "src"], log: ["edit #1", "edit #1", "seed #1"] });
  assert.equal(text(await b.readFile("notes.txt")), "edited by b");
  assert.equal(text(await a.readFile("notes.txt")), "edited by a", "the source is unchanged");

  const c = await w.create({ id: "c", fork: { instance: "a", commit: seedCommit } });
  await c.waitFor();
  assert.deepEqual((await c.commits()).map((x) => x.message.split("\n")[0]), ["edit #1", "seed #1"]);

  // bad input changes nothing
  const before = (await w.createBatch([{}])).length;
  assert.equal(before, 1);
  await assert.rejects(w.create({ id: "bad1", files: { "../x": "y" } }), (e: { code: string }) => e.code === "invalid_path");
  await assert.rejects(w.create({ id: "bad2", fork: { instance: "nope" } }), (e: { code: string }) => e.code === "not_found");
  await assert.rejects(w.create({ id: "bad3", fork: { instance: "a", commit: "f".repeat(40) } }), (e: { code: string }) => e.code === "not_found");
  await assert.rejects(w.create({ id: "bad4", files: { a: "1" }, fork: { instance: "a" } }), (e: { code: string }) => e.code === "invalid_argument");
  for (const id of ["bad1", "bad2", "bad3", "bad4"]) await assert.rejects(w.get(id), /does not exist/);

  // another tenant cannot fork (or even find) this tenant's instance
  await deploy(h.engine, "seed", wf(`return 1;`), { tenant: "other" } as never);
  await assert.rejects(h.engine.workflow("other", "seed").create({ id: "x", fork: { instance: "a" } }), (e: { code: string; message: string }) => e.code === "not_found" && /tenant other/.test(e.message));
});

test("identical content is stored once per tenant (content-addressed objects)", LIMIT, async (t) => {
  const h = await open(t);
  await deploy(h.engine, "dedup", wf(`await step.do("w", async () => this.ctx.fs.writeFile("same.txt", "the same 64 bytes of content in every instance ................"));`));
  const w = h.engine.workflow("acme", "dedup");
  const insts: WorkflowInstance[] = await w.createBatch(Array.from({ length: 10 }, () => ({})));
  for (const i of insts) assert.equal((await i.waitFor()).status, "complete");
  // counted in the store's own table, whichever store the run uses
  const count = async (type: string): Promise<number> => {
    if (h.engine.store.kind === "postgres") {
      const pg = (await import("pg")).default;
      const c = new pg.Client({ connectionString: TEST_POSTGRES_URL });
      await c.connect();
      try {
        return Number((await c.query(`SELECT COUNT(*) AS n FROM ${(h.engine.store as unknown as { schema: string }).schema}.git_objects WHERE type = $1`, [type])).rows[0].n);
      } finally {
        await c.end();
      }
    }
    const { DatabaseSync } = await import("node:sqlite");
    const db = new DatabaseSync(`${h.dataDir}/weft.db`, { readOnly: true });
    try {
      return (db.prepare(`SELECT COUNT(*) AS n FROM git_objects WHERE type = ?`).get(type) as { n: number }).n;
    } finally {
      db.close();
    }
  };
  assert.equal(await count("blob"), 1);
  assert.equal(await count("tree"), 1);
});
