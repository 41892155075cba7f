// Child process of test/crash/mixed.test.ts: one "life" of an engine whose instances run step bodies
// with side effects, SQL and files, sleep and wait for an event — while this life, driven by a seeded
// PRNG, pauses and resumes them, restarts some, deletes and re-creates some (a new generation under
// the same id) and sends events early, late and twice. The parent kills it with SIGKILL at random
// moments; "final" drives every instance to its end and exits 0.
//
//   node test/crash/mixed-child.ts DATA_DIR LIFE MODE(kill|final) N SEED
//
// Files in DATA_DIR (each line fsync'd before the call it records returns or the action is taken):
// - effects.log  "id gen epoch key attempt life" per step body execution
// - actions.log  "restart id" / "delete id gen" / "create id gen" before the action is taken
import { closeSync, fsyncSync, openSync, readFileSync, existsSync, writeSync } from "node:fs";
import { join } from "node:path";
import { Engine, ErrorCode, WeftError } from "../../src/index.ts";

export const TENANT = "mixed";
export const WORKFLOW = "mixed";

export const SOURCE = `
import { WorkflowEntrypoint } from "cloudflare:workers";
export class Mixed extends WorkflowEntrypoint {
  async run(event, step) {
    const { n, gen } = event.payload;
    const id = event.instanceId;
    const cfg = { retries: { limit: 50, delay: "30 ms", backoff: "constant" }, timeout: "30 seconds" };
    // a restart runs everything again: the epoch labels this pass's effects
    const epoch = await step.do("epoch", cfg, async () => this.env.restarts(id, gen));
    const body = (name, f) => step.do(name, cfg, async (ctx) => {
      const key = ctx.step.name + "#" + ctx.step.count;
      const life = await this.env.record(id, gen, epoch, key, ctx.attempt);
      return { v: await f(), life, attempt: ctx.attempt };
    });
    // what this instance finds when it starts: nothing of a deleted predecessor (epoch 0 only)
    const fresh = await body("fresh", async () => {
      const t = this.ctx.storage.sql.exec("SELECT COUNT(*) AS c FROM sqlite_master WHERE name = 'rows'").one().c;
      const before = t ? this.ctx.storage.sql.exec("SELECT COUNT(*) AS c FROM rows WHERE epoch = ?", epoch).one().c : 0;
      this.ctx.storage.sql.exec("CREATE TABLE IF NOT EXISTS rows (gen INTEGER, epoch INTEGER, what TEXT)");
      this.ctx.storage.sql.exec("INSERT INTO rows VALUES (?, ?, 'fresh')", gen, epoch);
      const foreign = this.ctx.storage.sql.exec("SELECT COUNT(*) AS c FROM rows WHERE gen <> ?", gen).one().c;
      const file = (await this.ctx.fs.exists("gen.txt")) ? await this.ctx.fs.readFile("gen.txt", "utf8") : null;
      return { before, foreign, ownFile: file === null || file === String(gen) };
    });
    const a = await body("a", async () => { await this.ctx.fs.writeFile("gen.txt", String(gen)); return n + 1; });
    await step.sleep("nap", "150 ms");
    const b = await body("b", async () => a.v * 2);
    const ev = await step.waitForEvent("go", { type: "go", timeout: "1 hour" });
    const c = await body("c", async () => { this.ctx.storage.sql.exec("INSERT INTO rows VALUES (?, ?, 'c')", gen, epoch); return b.v + ev.payload.k; });
    return { n, gen, fresh: fresh.v, a: a.v, b: b.v, c: c.v };
  }
}
`;

export const KEYS = ["fresh#1", "a#1", "b#1", "c#1"];
export const eventK = (n: number) => (n % 7) + 3;
export const expected = (n: number, gen: number) => ({ n, gen, fresh: { before: 0, foreign: 0, ownFile: true }, a: n + 1, b: (n + 1) * 2, c: (n + 1) * 2 + eventK(n) });

/** a small seeded PRNG (mulberry32), so a failing run can be replayed from its seed */
export function prng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export function readActions(dataDir: string): string[][] {
  const f = join(dataDir, "actions.log");
  return existsSync(f) ? readFileSync(f, "utf8").split("\n").filter(Boolean).map((l) => l.split(" ")) : [];
}

/**
 * Each id's generation, from the action log read in order: a create names it, a delete makes the next
 * one its number + 1 (a life killed between a delete and the create after it never reuses a deleted
 * generation's number). A life that finds an instance of another generation than the log says (a
 * delete logged but killed before it committed) logs that generation again (ensure()).
 */
export function generations(dataDir: string, count: number): number[] {
  const gen = Array.from({ length: count }, () => 1);
  for (const a of readActions(dataDir)) {
    const n = Number(a[1]!.slice(1));
    if (a[0] === "create") gen[n] = Number(a[2]);
    if (a[0] === "delete") gen[n] = Number(a[2]) + 1;
  }
  return gen;
}

async function main(): Promise<void> {
  const [dataDir, lifeArg, mode, countArg, seedArg] = process.argv.slice(2);
  if (!dataDir || !lifeArg || (mode !== "kill" && mode !== "final") || !countArg || !seedArg) throw new Error("usage: mixed-child.ts DATA_DIR LIFE kill|final N SEED");
  const life = Number(lifeArg);
  const count = Number(countArg);
  const rand = prng(Number(seedArg) * 1000 + life);
  const effects = openSync(join(dataDir, "effects.log"), "a");
  const actions = openSync(join(dataDir, "actions.log"), "a");
  const act = (line: string) => {
    writeSync(actions, line + "\n");
    fsyncSync(actions);
  };
  const restarts = new Map<string, number>();
  for (const a of readActions(dataDir)) if (a[0] === "restart") restarts.set(`${a[1]} ${a[2]}`, (restarts.get(`${a[1]} ${a[2]}`) ?? 0) + 1);
  const env = {
    record: async (id: string, gen: number, epoch: number, key: string, attempt: number) => {
      writeSync(effects, `${id} ${gen} ${epoch} ${key} ${attempt} ${life}\n`);
      fsyncSync(effects);
      await new Promise((r) => setTimeout(r, 5 + Math.floor(rand() * 10)));
      return life;
    },
    restarts: async (id: string, gen: number) => restarts.get(`${id} ${gen}`) ?? 0,
  };
  const engine = await Engine.open({ dataDir, suspendAfterMs: 50 });
  await engine.deploy({ tenant: TENANT, workflow: WORKFLOW, code: { mainModule: "index.ts", modules: { "index.ts": SOURCE } }, env, limits: { concurrency: 8 } });
  process.stdout.write(`life ${life}: deployed\n`);
  const wf = engine.workflow(TENANT, WORKFLOW);
  const gen = generations(dataDir, count);
  const ensure = async (n: number) => {
    try {
      const existing = (await wf.get(`i${n}`)).record.params as { gen: number };
      // a delete that was logged but never committed (killed in between): this generation lives on
      if (existing.gen !== gen[n]) (act(`create i${n} ${existing.gen}`), (gen[n] = existing.gen));
    } catch {
      act(`create i${n} ${gen[n]}`);
      await wf.create({ id: `i${n}`, params: { n, gen: gen[n] } }).catch((e) => {
        if (!(e instanceof WeftError && e.code === ErrorCode.AlreadyExists)) throw e;
      });
    }
  };
  for (let n = 0; n < count; n++) await ensure(n);
  const tolerate = (e: unknown) => {
    // actions race with the instance's own progress: refusals for its current status are expected
    if (e instanceof WeftError && (e.code === ErrorCode.InvalidState || e.code === ErrorCode.NotFound)) return;
    throw e;
  };

  if (mode === "final") {
    const deadline = Date.now() + 60_000;
    for (;;) {
      let done = 0;
      for (let n = 0; n < count; n++) {
        await ensure(n);
        const inst = await wf.get(`i${n}`);
        const s = await inst.status();
        if (s.status === "complete") done++;
        else if (s.status === "paused") await inst.resume().catch(tolerate);
        else if (s.status === "errored" || s.status === "terminated") {
          process.stdout.write(`i${n} ${s.status} ${JSON.stringify(s.error)}\n`);
          process.exit(1);
        } else if (s.status === "waiting" || s.status === "running") await inst.sendEvent({ type: "go", payload: { k: eventK(n) } }).catch(tolerate);
      }
      if (done === count) break;
      if (Date.now() > deadline) {
        for (let n = 0; n < count; n++) {
          const i = await wf.get(`i${n}`);
          if ((await i.status()).status !== "complete") process.stdout.write(`stuck i${n} ${JSON.stringify(i.record)} ${JSON.stringify((await i.describe()).steps.map((s) => s.type + ":" + ("name" in s ? s.name : "")))}\n`);
        }
        process.exit(1);
      }
      await new Promise((r) => setTimeout(r, 100));
    }
    await engine.close();
    closeSync(effects);
    closeSync(actions);
    process.stdout.write(`life ${life}: all complete\n`);
    process.exit(0);
  }

  // kill mode: random actions until the parent kills this life
  for (;;) {
    const n = Math.floor(rand() * count);
    const id = `i${n}`;
    const r = rand();
    try {
      const inst = await wf.get(id);
      if (r < 0.25) await inst.sendEvent({ type: "go", payload: { k: eventK(n) } }).catch(tolerate);
      else if (r < 0.4) await inst.pause().catch(tolerate);
      else if (r < 0.6) await inst.resume().catch(tolerate);
      else if (r < 0.7) {
        const key = `${id} ${gen[n]}`;
        act(`restart ${id} ${gen[n]}`);
        restarts.set(key, (restarts.get(key) ?? 0) + 1);
        await inst.restart().catch(tolerate);
      } else if (r < 0.78) {
        act(`delete ${id} ${gen[n]}`);
        await inst.delete().catch(tolerate);
        gen[n] = gen[n]! + 1;
        await ensure(n);
      }
    } catch (e) {
      tolerate(e);
    }
    await new Promise((res) => setTimeout(res, Math.floor(rand() * 15)));
  }
}

if (import.meta.main) {
  main().catch((e) => {
    process.stderr.write(`child failed: ${(e as Error).stack ?? String(e)}\n`);
    process.exit(2);
  });
}
