// Child process of test/crash/points.test.ts: sets up one scenario on DATA_DIR and is killed with
// SIGKILL at the named crash point (EngineOptions.hooks.crashPoint). Side effects of step bodies go
// to DATA_DIR/effects.log (fsync'd), so the parent can count how often each body ran.
//
//   node test/crash/points-child.ts DATA_DIR SCENARIO
import { appendFileSync, openSync, fsyncSync, closeSync } from "node:fs";
import { join } from "node:path";
import { Engine } from "../../src/index.ts";
import type { CrashPoint } from "../../src/core/crash-points.ts";

export const SCENARIOS: Record<string, { point: CrashPoint; workflow: string; source: string }> = {
  // the event is stored and matched to its wait; the process dies before the run hears of it
  event: {
    point: "after-event-delivery", workflow: "waits",
    source: `
import { WorkflowEntrypoint } from "cloudflare:workers";
export class W extends WorkflowEntrypoint {
  async run(event, step) {
    const a = await step.do("before", async () => { await this.env.hit("before"); return 2; });
    const ev = await step.waitForEvent("approval", { type: "go", timeout: "1 hour" });
    return await step.do("after", async () => { await this.env.hit("after"); return a + ev.payload.k; });
  }
}`,
  },
  // a step's result is committed in the journal; the process dies before the guest hears of it
  journal: {
    point: "after-journal-commit", workflow: "steps",
    source: `
import { WorkflowEntrypoint } from "cloudflare:workers";
export class W extends WorkflowEntrypoint {
  async run(event, step) {
    const a = await step.do("one", async () => { await this.env.hit("one"); return 1; });
    const b = await step.do("two", async () => { await this.env.hit("two"); return 2; });
    return a + b;
  }
}`,
  },
  // a step's SQL writes are committed in the local copy of the instance database, not yet in the
  // journal (the commit point); the step succeeded at its second attempt
  sql: {
    point: "after-sql-commit", workflow: "sql",
    source: `
import { WorkflowEntrypoint } from "cloudflare:workers";
export class W extends WorkflowEntrypoint {
  async run(event, step) {
    await step.do("schema", async () => { this.ctx.storage.sql.exec("CREATE TABLE t (v TEXT)"); });
    const n = await step.do("insert", { retries: { limit: 3, delay: "10 ms", backoff: "constant" } }, async (ctx) => {
      await this.env.hit("insert#" + ctx.attempt);
      if (ctx.attempt === 1) throw new Error("first attempt fails");
      this.ctx.storage.sql.exec("INSERT INTO t VALUES ('row')");
      return ctx.attempt;
    });
    return await step.do("count", async () => this.ctx.storage.sql.exec("SELECT COUNT(*) AS c FROM t").one().c * 10 + n);
  }
}`,
  },
  // claimed for its first run; the process dies before the first activation
  claim: {
    point: "after-claim", workflow: "steps",
    source: `
import { WorkflowEntrypoint } from "cloudflare:workers";
export class W extends WorkflowEntrypoint {
  async run(event, step) {
    const a = await step.do("one", async () => { await this.env.hit("one"); return 1; });
    const b = await step.do("two", async () => { await this.env.hit("two"); return 2; });
    return a + b;
  }
}`,
  },
  // the instance's rows are deleted; its SQL database file is not removed yet
  delete: {
    point: "during-delete", workflow: "secret",
    source: `
import { WorkflowEntrypoint } from "cloudflare:workers";
export class W extends WorkflowEntrypoint {
  async run(event, step) {
    await step.do("write", async () => {
      this.ctx.storage.sql.exec("CREATE TABLE IF NOT EXISTS secrets (v TEXT)");
      if (event.payload?.secret) this.ctx.storage.sql.exec("INSERT INTO secrets VALUES (?)", event.payload.secret);
    });
    return this.ctx.storage.sql.exec("SELECT v FROM secrets").toArray().map((r) => r.v);
  }
}`,
  },
};

export const TENANT = "points";

export function effects(dataDir: string) {
  return {
    hit: async (what: string) => {
      const fd = openSync(join(dataDir, "effects.log"), "a");
      try {
        appendFileSync(fd, `${what}\n`);
        fsyncSync(fd);
      } finally {
        closeSync(fd);
      }
    },
  };
}

export async function deploy(engine: Engine, dataDir: string, name: string): Promise<void> {
  const s = SCENARIOS[name]!;
  await engine.deploy({ tenant: TENANT, workflow: s.workflow, code: { mainModule: "index.ts", modules: { "index.ts": s.source } }, env: effects(dataDir) });
}

async function main(): Promise<void> {
  const [dataDir, name] = process.argv.slice(2);
  const s = name ? SCENARIOS[name] : undefined;
  if (!dataDir || !s) throw new Error("usage: points-child.ts DATA_DIR event|journal|sql|claim|delete");
  let armed = name !== "delete"; // delete: only the delete itself is the point (the run's own claims come first)
  const engine = await Engine.open({
    dataDir,
    suspendAfterMs: 100,
    hooks: {
      crashPoint: (point, detail) => {
        // sql: the point of the step that succeeded at its second attempt (the schema step commits SQL first)
        if (name === "sql" && !detail.step?.includes("insert")) return;
        if (armed && point === s.point) process.kill(process.pid, "SIGKILL");
      },
    },
  });
  await deploy(engine, dataDir, name);
  const wf = engine.workflow(TENANT, s.workflow);
  if (name === "event") {
    const inst = await wf.create({ id: "i1" });
    await inst.waitFor(["waiting"]);
    process.stdout.write("waiting\n");
    await inst.sendEvent({ type: "go", payload: { k: 40 } });
  } else if (name === "delete") {
    const inst = await wf.create({ id: "x", params: { secret: "tenant-A-secret" } });
    await inst.waitFor();
    armed = true;
    await inst.delete();
  } else {
    await wf.create({ id: "i1" });
  }
  // the kill comes at the crash point; reaching this line means it never came
  await new Promise((r) => setTimeout(r, 10_000));
  process.stdout.write("not killed\n");
  process.exit(3);
}

if (import.meta.url === `file://${process.argv[1]}`) await main();
