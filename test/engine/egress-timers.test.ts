// Egress policy (allow-list against a real local HTTP server, host handler, default deny), nested
// host functions in env, and durable timers that came due while the engine was closed.
import { test } from "node:test";
import assert from "node:assert/strict";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { open, wf, deploy, TENANT, HOUR, until } from "./helpers.ts";

async function localServer() {
  const seen: { method?: string; url?: string; body: string; auth?: string }[] = [];
  const server = createServer((req, res) => {
    let body = "";
    req.on("data", (c) => (body += c));
    req.on("end", () => {
      seen.push({ method: req.method, url: req.url, body, auth: req.headers.authorization });
      res.writeHead(201, { "content-type": "application/json", "x-test": "yes" });
      res.end(JSON.stringify({ echo: body, path: req.url }));
    });
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  return { seen, port: (server.address() as AddressInfo).port, close: () => new Promise((r) => server.close(r)) };
}

const FETCHER = (url: string) => wf(`
    return await step.do("call", { retries: { limit: 0, delay: 1 } }, async () => {
      const r = await fetch("${url}", { method: "POST", body: JSON.stringify({ n: 1 }), headers: { "content-type": "application/json" } });
      return { status: r.status, header: r.headers.get("x-test"), json: await r.json(), ok: r.ok };
    });`);

test("an allow-listed host is reachable through fetch; the response crosses back intact", async (t) => {
  const srv = await localServer();
  t.after(() => srv.close());
  const h = await open(t, { clock: undefined });
  await h.engine.deploy({ tenant: TENANT, workflow: "f", code: { mainModule: "index.ts", modules: { "index.ts": FETCHER(`http://127.0.0.1:${srv.port}/hook?x=1`) } }, egress: { allow: [`127.0.0.1:${srv.port}`] } });
  const inst = await h.engine.workflow(TENANT, "f").create({ id: "a" });
  const s = await inst.waitFor();
  assert.equal(s.status, "complete", JSON.stringify(s));
  assert.deepEqual(s.output, { status: 201, header: "yes", json: { echo: '{"n":1}', path: "/hook?x=1" }, ok: true });
  assert.equal(srv.seen.length, 1);
  assert.equal(srv.seen[0]!.method, "POST");
});

test("fetch is refused by default and for hosts outside the allow-list, naming the host", async (t) => {
  const srv = await localServer();
  t.after(() => srv.close());
  const h = await open(t, { clock: undefined });
  await deploy(h.engine, "none", FETCHER(`http://127.0.0.1:${srv.port}/`));
  const a = await (await h.engine.workflow(TENANT, "none").create({ id: "a" })).waitFor();
  assert.equal(a.status, "errored");
  assert.match(a.error!.message, /refused by this workflow's egress policy/);
  assert.match(a.error!.message, /no outbound access/);
  await h.engine.deploy({ tenant: TENANT, workflow: "other", code: { mainModule: "index.ts", modules: { "index.ts": FETCHER(`http://127.0.0.1:${srv.port}/`) } }, egress: { allow: ["api.example.com"] } });
  const b = await (await h.engine.workflow(TENANT, "other").create({ id: "b" })).waitFor();
  assert.equal(b.status, "errored");
  assert.match(b.error!.message, new RegExp(`127\\.0\\.0\\.1:${srv.port}`));
  assert.match(b.error!.message, /api\.example\.com/);
  assert.equal(srv.seen.length, 0, "no request left the engine");
});

test("a host egress handler sees every request and can inject credentials the tenant never sees", async (t) => {
  const srv = await localServer();
  t.after(() => srv.close());
  const h = await open(t, { clock: undefined });
  const urls: string[] = [];
  await h.engine.deploy({
    tenant: TENANT, workflow: "h", code: { mainModule: "index.ts", modules: { "index.ts": FETCHER("https://api.example.com/x") } },
    egress: {
      handler: async (req: Request) => {
        urls.push(req.url);
        const body = await req.text();
        return fetch(`http://127.0.0.1:${srv.port}/proxied`, { method: "POST", body, headers: { authorization: "Bearer secret" } });
      },
    },
  });
  const s = await (await h.engine.workflow(TENANT, "h").create({ id: "a" })).waitFor();
  assert.equal(s.status, "complete", JSON.stringify(s));
  assert.deepEqual(urls, ["https://api.example.com/x"]);
  assert.equal(srv.seen[0]!.auth, "Bearer secret");
  assert.deepEqual((s.output as { json: unknown }).json, { echo: '{"n":1}', path: "/proxied" });
});

test("nested host functions and plain values in env are reachable from tenant code", async (t) => {
  const h = await open(t, { clock: undefined });
  const store = new Map<string, string>();
  await deploy(h.engine, "kv", wf(`
    await step.do("put", async () => { await this.env.KV.put("k", this.env.PREFIX + "v"); return 1; });
    return await step.do("get", async () => ({ v: await this.env.KV.get("k"), n: this.env.nested.list[1] }));`), {
    env: { PREFIX: "p-", nested: { list: [1, 2, 3] }, KV: { get: async (k: string) => store.get(k) ?? null, put: async (k: string, v: string) => void store.set(k, v) } },
  });
  const s = await (await h.engine.workflow(TENANT, "kv").create({ id: "a" })).waitFor();
  assert.deepEqual(s, { status: "complete", output: { v: "p-v", n: 2 } });
});

test("timers that came due while the engine was closed fire on open; unrelated sleepers stay asleep", async (t) => {
  const h = await open(t, { suspendAfterMs: 0 });
  await deploy(h.engine, "sleepy", wf(`
    await step.sleep("nap", event.payload.ms);
    return await step.do("after", async () => "woke");`));
  const w = h.engine.workflow(TENANT, "sleepy");
  await w.create({ id: "short", params: { ms: 1 * HOUR } });
  await w.create({ id: "long", params: { ms: 48 * HOUR } });
  await until(async () => (await (await w.get("short")).status()).status === "waiting" && (await (await w.get("long")).status()).status === "waiting", "both waiting");
  // the process is "down" for two hours: close, move time, reopen (recovery arms the wake timer)
  await h.engine.close();
  h.clock.advance(2 * HOUR); // the closed engine's clock: nothing fires
  const engine2 = await h.reopen();
  await deploy(engine2, "sleepy", wf(`
    await step.sleep("nap", event.payload.ms);
    return await step.do("after", async () => "woke");`));
  const w2 = engine2.workflow(TENANT, "sleepy");
  assert.deepEqual(await (await w2.get("short")).waitFor(), { status: "complete", output: "woke" });
  assert.equal((await (await w2.get("long")).status()).status, "waiting");
  h.clock.advance(47 * HOUR);
  assert.deepEqual(await (await w2.get("long")).waitFor(), { status: "complete", output: "woke" });
});
