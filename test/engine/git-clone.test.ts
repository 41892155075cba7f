// The real git client against an instance's repository, served by the git route over a small local
// HTTP server: `git clone` gives the same files as ctx.fs after the last step, `git log` shows one
// commit per file-changing step with the step names, fsck is clean, and the route is authorized per
// tenant (no token: 401; another tenant's token: 404, as for a repository that does not exist).
import { test } from "node:test";
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { promisify } from "node:util";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, relative } from "node:path";
import { deploy, open, wf } from "./helpers.ts";
import { gitRoute } from "../../src/api/git-route.ts";
import type { Engine } from "../../src/index.ts";

const git = promisify(execFile);
const TOKENS: Record<string, string> = { "token-acme": "acme", "token-other": "other" };

async function serve(engine: Engine) {
  const route = gitRoute(engine, (token, tenant) => token !== null && TOKENS[token] === tenant);
  const server = createServer(async (req, res) => {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const headers = new Headers();
    for (const [k, v] of Object.entries(req.headers)) if (v !== undefined && k !== "connection" && k !== "transfer-encoding") for (const one of [v].flat()) headers.append(k, one);
    const hasBody = req.method !== "GET" && req.method !== "HEAD";
    const response = await route(new Request(`http://${req.headers.host}${req.url}`, { method: req.method, headers, body: hasBody ? Buffer.concat(chunks) : undefined }));
    res.writeHead(response.status, Object.fromEntries(response.headers)).end(Buffer.from(await response.arrayBuffer()));
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  return { server, port: (server.address() as AddressInfo).port };
}

function walk(dir: string): string[] {
  return readdirSync(dir).flatMap((n) => {
    const p = join(dir, n);
    if (n === ".git") return [];
    return statSync(p).isDirectory() ? walk(p) : [p];
  });
}

test("git clone of an instance's repository gives ctx.fs's files and one commit per file-changing step", { timeout: 30_000 }, async (t) => {
  const h = await open(t);
  await deploy(h.engine, "repo", wf(`
    const fs = this.ctx.fs;
    await step.do("scaffold", async () => {
      await fs.writeFile("README.md", "# Report\\n");
      await fs.writeFile("src/app.ts", "export const x = 1;\\n");
      await fs.writeFile("data/blob.bin", new Uint8Array(Array.from({ length: 3000 }, (_, i) => (i * 7) % 256)));
    });
    await step.do("compute", async () => 42);
    await step.do("edit", async () => {
      await fs.writeFile("src/app.ts", "export const x = 2;\\n");
      await fs.writeFile("notes/über café.txt", "unicode name");
      await fs.rm("data", { recursive: true });
    });
    await step.do("edit", async () => { await fs.writeFile("CHANGELOG", "v2\\n"); });
    const out = {};
    const visit = async (dir) => {
      for (const name of await fs.readdir(dir)) {
        const p = dir ? dir + "/" + name : name;
        if ((await fs.stat(p)).isDirectory()) await visit(p);
        else out[p] = [...(await fs.readFile(p))];
      }
    };
    await visit("");
    return out;`));
  const inst = await h.engine.workflow("acme", "repo").create({ id: "r1" });
  const s = await inst.waitFor();
  assert.equal(s.status, "complete", JSON.stringify(s.error));
  const expected = s.output as Record<string, number[]>;

  const { server, port } = await serve(h.engine);
  t.after(() => server.close());
  const dir = mkdtempSync(join(tmpdir(), "weft-clone-"));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const env = { ...process.env, GIT_TERMINAL_PROMPT: "0", GIT_CONFIG_NOSYSTEM: "1", HOME: dir, GIT_ASKPASS: "/bin/false" };
  const base = `127.0.0.1:${port}/v1/tenants/acme/workflows/repo/instances/r1/repo.git`;

  await git("git", ["clone", "-q", `http://weft:token-acme@${base}`, join(dir, "c")], { env });
  const files: Record<string, number[]> = {};
  for (const p of walk(join(dir, "c"))) files[relative(join(dir, "c"), p)] = [...readFileSync(p)];
  assert.deepEqual(Object.keys(files).sort(), Object.keys(expected).sort());
  assert.deepEqual(files, expected, "byte for byte what ctx.fs had after the last step");

  const log = await git("git", ["-C", join(dir, "c"), "log", "--format=%s"], { env });
  assert.deepEqual(log.stdout.trim().split("\n"), ["edit #2", "edit #1", "scaffold #1"], "one commit per file-changing step (none for 'compute')");
  await git("git", ["-C", join(dir, "c"), "fsck", "--strict"], { env });

  // authorization per tenant
  await assert.rejects(git("git", ["clone", "-q", `http://${base}`, join(dir, "anon")], { env }), /401|Authentication failed|could not read Username/i);
  await assert.rejects(git("git", ["clone", "-q", `http://weft:token-other@${base}`, join(dir, "other")], { env }), /not found|404/i);
  await assert.rejects(git("git", ["clone", "-q", `http://weft:token-acme@127.0.0.1:${port}/v1/tenants/acme/workflows/repo/instances/nope/repo.git`, join(dir, "nope")], { env }), /not found|404/i);
  const direct = await fetch(`http://${base}/info/refs?service=git-upload-pack`, { headers: { authorization: "Bearer token-other" } });
  assert.equal(direct.status, 404);
  const push = await fetch(`http://${base}/info/refs?service=git-receive-pack`, { headers: { authorization: "Bearer token-acme" } });
  assert.equal(push.status, 403, "read-only");
});
