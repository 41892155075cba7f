// Child process of test/crash/storage-crash.test.ts: one "life" of an engine whose instances each run
// 20 steps that insert a row into their own SQL database and write a file into their own
// filesystem. The parent kills it with SIGKILL at random moments; in "final" mode it exits once every
// instance is complete.
//
//   node test/crash/storage-child.ts DATA_DIR LIFE MODE(kill|final) N
import { Engine, ErrorCode, WeftError } from "../../src/index.ts";

export const TENANT = "crash";
export const WORKFLOW = "storage";
export const STEPS = 20;

export const SOURCE = `
import { WorkflowEntrypoint } from "cloudflare:workers";
export class Storage extends WorkflowEntrypoint {
  async run(event, step) {
    const cfg = { retries: { limit: 50, delay: "50 ms", backoff: "constant" } };
    await step.do("schema", cfg, async () => {
      this.ctx.storage.sql.exec("CREATE TABLE IF NOT EXISTS t (step INTEGER, life INTEGER, attempt INTEGER)");
    });
    for (let i = 1; i <= ${STEPS}; i++) {
      await step.do("s" + i, cfg, async (ctx) => {
        const life = await this.env.life();
        this.ctx.storage.sql.exec("INSERT INTO t VALUES (?, ?, ?)", i, life, ctx.attempt);
        await this.ctx.fs.writeFile("steps/" + i + ".txt", "step " + i + " of " + event.instanceId);
        return { life, attempt: ctx.attempt };
      });
    }
    return this.ctx.storage.sql.exec("SELECT COUNT(*) AS n FROM t").one().n;
  }
}
`;

async function main(): Promise<void> {
  const [dataDir, lifeArg, mode, countArg] = process.argv.slice(2);
  if (!dataDir || !lifeArg || !["kill", "final", "after-commit"].includes(mode!) || !countArg) throw new Error("usage: storage-child.ts DATA_DIR LIFE kill|final|after-commit N");
  const life = Number(lifeArg);
  const count = Number(countArg);
  // after-commit: die the moment the 5th SQL commit is on disk, before the journal hears of it
  let commits = 0;
  const hooks = mode === "after-commit" ? { afterSqlCommit: () => void (++commits === 5 && process.kill(process.pid, "SIGKILL")) } : {};
  const engine = await Engine.open({ dataDir, suspendAfterMs: 100, hooks });
  await engine.deploy({
    tenant: TENANT, workflow: WORKFLOW, code: { mainModule: "index.ts", modules: { "index.ts": SOURCE } },
    // an outside call that takes a while: kills land between the body and the commits
    env: { life: async () => (await new Promise((r) => setTimeout(r, 2)), life) },
    limits: { concurrency: 20 },
  });
  process.stdout.write(`life ${life}: deployed\n`);
  const wf = engine.workflow(TENANT, WORKFLOW);
  const created = await Promise.allSettled(Array.from({ length: count }, (_, n) => wf.create({ id: `i${n}` })));
  for (const r of created) {
    if (r.status === "rejected" && !(r.reason instanceof WeftError && r.reason.code === ErrorCode.AlreadyExists)) throw r.reason;
  }
  if (mode !== "final") {
    setInterval(() => undefined, 1000);
    return;
  }
  const deadline = Date.now() + 50_000;
  for (;;) {
    const counts = await engine.store.countByStatus(TENANT);
    const bad = (counts.errored ?? 0) + (counts.terminated ?? 0);
    if ((counts.complete ?? 0) === count || bad > 0 || Date.now() > deadline) {
      process.stdout.write(`life ${life}: final counts ${JSON.stringify(counts)}\n`);
      for (const i of (await engine.store.listInstances({ tenant: TENANT, limit: 1000, direction: "asc" })).filter((x) => x.status !== "complete").slice(0, 5)) {
        process.stdout.write(`  ${i.id} ${i.status} ${JSON.stringify(i.error)}\n`);
      }
      await engine.close();
      process.exit(bad > 0 || (counts.complete ?? 0) !== count ? 1 : 0);
    }
    await new Promise((r) => setTimeout(r, 50));
  }
}

if (import.meta.main) {
  main().catch((e) => {
    process.stderr.write(`child failed: ${(e as Error).stack ?? String(e)}\n`);
    process.exit(2);
  });
}
