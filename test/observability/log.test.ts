// JSON logs: every line is one JSON object with level/time/msg, and secret-named fields never reach
// the output, wherever they sit (top level, headers, nested bodies, arrays, errors, child bindings).
import { test } from "node:test";
import assert from "node:assert/strict";
import { PassThrough, Writable } from "node:stream";
import { closeSync, mkdtempSync, openSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Engine } from "../../src/index.ts";
import { CENSOR, TRUNCATED, censorSecrets, createLogger, isSecretKey } from "../../src/observability/log.ts";

function memory(): { stream: Writable; lines(): Record<string, unknown>[]; text(): string } {
  let text = "";
  const stream = new Writable({
    write(chunk, _enc, cb) {
      text += String(chunk);
      cb();
    },
  });
  return {
    stream,
    text: () => text,
    lines: () => text.split("\n").filter((l) => l !== "").map((l) => JSON.parse(l) as Record<string, unknown>),
  };
}

const SECRETS = ["tok-top", "Bearer hdr-1", "Bearer hdr-2", "body-secret", "pw-in-array", "err-secret", "child-token", "env-secret", "cookie-1", "key-1", "sess-tok"];

test("log: secret-named fields are [Redacted] everywhere; the line is JSON with level, time and msg", () => {
  const m = memory();
  const log = createLogger({ destination: m.stream });
  const req = {
    method: "POST", url: "/v1/tenants/acme/workflows/w", tokenId: "tok_123",
    headers: { authorization: "Bearer hdr-1", host: "localhost", cookie: "cookie-1", "X-Api-Key": "key-1" },
    body: { env: { DB: { secret: "env-secret" }, PLAIN: 1 }, users: [{ name: "a", password: "pw-in-array" }], sessionToken: "sess-tok" },
  };
  const before = structuredClone(req);
  log.info({ token: "tok-top", req, res: { statusCode: 201 }, tokens: [{ id: "t1", name: "ci" }] }, "request done");
  log.warn({ headers: { Authorization: "Bearer hdr-2" }, body: { secret: "body-secret", note: "kept" } }, "second");
  const err = Object.assign(new Error("boom"), { secret: "err-secret", code: "E_X" });
  log.error({ err }, "failed");
  log.child({ token: "child-token", tenant: "acme" }).info("from child");

  const text = m.text();
  for (const s of SECRETS) assert.ok(!text.includes(s), `secret ${JSON.stringify(s)} reached the log:\n${text}`);

  const lines = m.lines();
  assert.equal(lines.length, 4);
  for (const l of lines) {
    assert.equal(typeof l.level, "string");
    assert.equal(typeof l.time, "number");
    assert.ok(Math.abs((l.time as number) - Date.now()) < 60_000);
    assert.equal(typeof l.msg, "string");
  }
  const [a, b, c, d] = lines as any[];
  assert.equal(a.level, "info");
  assert.equal(a.msg, "request done");
  assert.equal(a.token, CENSOR);
  assert.equal(a.req.headers.authorization, CENSOR);
  assert.equal(a.req.headers.cookie, CENSOR);
  assert.equal(a.req.headers["X-Api-Key"], CENSOR);
  assert.equal(a.req.headers.host, "localhost");
  assert.equal(a.req.body.env.DB.secret, CENSOR);
  assert.equal(a.req.body.env.PLAIN, 1);
  assert.deepEqual(a.req.body.users, [{ name: "a", password: CENSOR }]);
  assert.equal(a.req.body.sessionToken, CENSOR);
  assert.equal(a.req.tokenId, "tok_123", "an id of a token is not a secret");
  assert.deepEqual(a.tokens, [{ id: "t1", name: "ci" }], "a list named tokens (ids and names) is kept");
  assert.equal(a.res.statusCode, 201);
  assert.deepEqual(req, before, "the caller's objects are not changed");

  assert.equal(b.level, "warn");
  assert.equal(b.headers.Authorization, CENSOR);
  assert.equal(b.body.secret, CENSOR);
  assert.equal(b.body.note, "kept");

  assert.equal(c.level, "error");
  assert.equal(c.err.message, "boom");
  assert.equal(c.err.type, "Error");
  assert.match(c.err.stack, /boom/);
  assert.equal(c.err.secret, CENSOR);
  assert.equal(c.err.code, "E_X");
  assert.equal(err.secret, "err-secret", "the error itself is not changed");

  assert.equal(d.token, CENSOR);
  assert.equal(d.tenant, "acme");
  assert.equal(d.msg, "from child");
});

test("log: level filters lines", () => {
  const m = memory();
  const log = createLogger({ destination: m.stream, level: "warn" });
  log.info({ x: 1 }, "dropped");
  log.warn("kept");
  assert.deepEqual(m.lines().map((l) => l.msg), ["kept"]);
});

test("log: a file descriptor destination gets the same JSON lines, written synchronously", () => {
  const dir = mkdtempSync(join(tmpdir(), "weft-log-"));
  try {
    const file = join(dir, "out.log");
    const fd = openSync(file, "w");
    const log = createLogger({ destination: fd });
    log.info({ password: "hunter2", user: "u" }, "login");
    closeSync(fd); // written synchronously: the line is in the file once info() returns
    const text = readFileSync(file, "utf8");
    assert.ok(!text.includes("hunter2"));
    const line = JSON.parse(text.trim());
    assert.equal(line.password, CENSOR);
    assert.equal(line.user, "u");
    assert.equal(line.msg, "login");
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("log: which names are secret", () => {
  for (const k of ["token", "Token", "accessToken", "access_token", "authorization", "Authorization", "proxy-authorization", "secret", "clientSecret", "password", "PASSWORD", "dbPassword", "cookie", "set-cookie", "apiKey", "x-api-key", "secrets"]) {
    assert.ok(isSecretKey(k), k);
  }
  for (const k of ["tokens", "tokenId", "id", "name", "host", "secretary", "passwordPolicy"]) assert.ok(!isSecretKey(k), k);
});

test("log: censorSecrets copies only what it changes and survives cycles", () => {
  const clean = { a: { b: [1, 2, { c: "x" }] } };
  assert.equal(censorSecrets(clean), clean, "nothing secret: the same object");
  const shared = { keep: { deep: 1 } };
  const o = { shared, inner: { token: "t" } };
  const r = censorSecrets(o);
  assert.notEqual(r, o);
  assert.equal(r.shared, shared, "untouched branches are not copied");
  assert.equal(r.inner.token, CENSOR);
  assert.equal(o.inner.token, "t");
  const cyc: Record<string, unknown> = { password: "p" };
  cyc.self = cyc;
  let rc = censorSecrets(cyc);
  for (let i = 0; i < 12; i++) {
    assert.equal(rc.password, CENSOR);
    rc = rc.self as Record<string, unknown>;
  }
  assert.equal(rc.password, CENSOR);
  assert.equal(rc.self, TRUNCATED, "past the depth limit nothing unexamined is kept");
  const bytes = new Uint8Array([1, 2]);
  assert.equal(censorSecrets({ bytes }).bytes, bytes);
});

test("the engine logs through the logger it is given: recovery on open, as JSON lines", async (t) => {
  const dataDir = mkdtempSync(join(tmpdir(), "weft-elog-"));
  t.after(() => rmSync(dataDir, { recursive: true, force: true }));
  const first = await Engine.open({ dataDir });
  await first.deploy({ tenant: "acme", workflow: "w", code: { mainModule: "i.ts", modules: { "i.ts": `import { WorkflowEntrypoint } from "cloudflare:workers"; export class W extends WorkflowEntrypoint { async run(e, step) { await step.sleep("nap", "1 day"); } }` } } });
  await (await first.workflow("acme", "w").create()).waitFor(["waiting"]);
  await first.close();
  const out = new PassThrough();
  let text = "";
  out.on("data", (d: Buffer) => (text += d.toString()));
  const engine = await Engine.open({ dataDir, logger: createLogger({ destination: out }) });
  await engine.close();
  const lines = text.trim().split("\n").map((l) => JSON.parse(l) as { level: string; msg: string; instances?: number });
  const rec = lines.find((l) => l.msg === "recovering unfinished instances");
  assert.ok(rec, text);
  assert.equal(rec.level, "info");
  assert.equal(rec.instances, 1);
});
