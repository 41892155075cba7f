// One engine node of the PostgreSQL benchmark (bench/postgres.ts): a separate process, as a cluster
// node is, that opens an engine on the shared schema when told and creates instances itself (its own
// clients), over the IPC channel of child_process.fork. Every PostgreSQL statement the node sends is
// counted (bench/postgres.ts countStatements), so the parent can tell statements and commits per
// step from the client side.
//
//   messages in:  { t: "open", url, schema, nodeId, secretKey, dataDir, poolSize, maxActiveRuns }
//                 { t: "deploy", workflow, body, limits }
//                 { t: "create", workflow, n, inFlight, idPrefix, params, wait }
//                 { t: "stats" } | { t: "close" } | { t: "exit" }
//   messages out: { t: "ok", ... } or { t: "error", message } for each message in, in order
import { Engine, type WorkflowInstance } from "../src/index.ts";
import { BODIES, TENANT, deploy, pool } from "./util.ts";
import { countStatements } from "./postgres.ts";

const counts = countStatements();
let engine: Engine | undefined;
const now = () => performance.timeOrigin + performance.now();
const cpuMs = () => {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1000;
};
const keep = setInterval(() => undefined, 1000); // the engine's timers are unref'd

type Msg =
  | { t: "open"; url: string; schema: string; nodeId: string; secretKey: string; dataDir: string; poolSize?: number; maxActiveRuns?: number }
  | { t: "deploy"; workflow: string; body: keyof typeof BODIES; limits: Record<string, number> }
  | { t: "create"; workflow: string; n: number; inFlight: number; idPrefix: string; params: unknown; wait: boolean }
  | { t: "stats" }
  | { t: "close" }
  | { t: "exit" };

async function handle(m: Msg): Promise<Record<string, unknown>> {
  switch (m.t) {
    case "open":
      engine = await Engine.open({
        dataDir: m.dataDir, postgres: { url: m.url, schema: m.schema, poolSize: m.poolSize }, nodeId: m.nodeId, secretKey: m.secretKey,
        maxActiveRuns: m.maxActiveRuns,
      });
      return {};
    case "deploy":
      await deploy(engine!, m.workflow, BODIES[m.body], m.limits);
      return {};
    case "create": {
      const e = engine!;
      const wf = e.workflow(TENANT, m.workflow);
      const steps0 = e.metrics.stepsCompleted;
      const cpu0 = cpuMs();
      const c0 = counts.snapshot();
      const t0 = now();
      const done: Promise<unknown>[] = [];
      const failed: string[] = [];
      await pool(m.n, m.inFlight, async (i) => {
        const inst: WorkflowInstance = await wf.create({ id: `${m.idPrefix}${i}`, params: m.params });
        if (m.wait) {
          done.push(inst.waitFor().then((s) => {
            if (s.status !== "complete") failed.push(`${inst.id}: ${s.status} ${JSON.stringify(s.error)}`);
          }));
        }
      });
      const tCreated = now();
      await Promise.all(done);
      const t1 = now();
      if (failed.length > 0) throw new Error(`${failed.length} instance(s) did not complete, e.g. ${failed[0]}`);
      return { t0, tCreated, t1, cpuMs: cpuMs() - cpu0, counts: counts.since(c0), stepsHere: e.metrics.stepsCompleted - steps0 };
    }
    case "stats":
      return { stepsCompleted: engine?.metrics.stepsCompleted ?? 0, counts: counts.snapshot(), cpuMs: cpuMs() };
    case "close":
      await engine?.close();
      engine = undefined;
      return { stepsCompleted: 0 };
    case "exit":
      await engine?.close().catch(() => undefined);
      clearInterval(keep);
      setImmediate(() => process.exit(0));
      return {};
  }
}

// one message at a time, answered in order
let chain: Promise<unknown> = Promise.resolve();
process.on("message", (m: Msg) => {
  chain = chain.then(async () => {
    try {
      process.send!({ t: "ok", ...(await handle(m)) });
    } catch (err) {
      process.send!({ t: "error", message: (err as Error)?.stack ?? String(err) });
    }
  });
});
process.on("disconnect", () => process.exit(0)); // the bench went away
process.send!({ t: "ok", ready: true });
