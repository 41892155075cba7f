// One engine node of the cluster tests (test/cluster/failover.test.ts): what `weft serve --postgres`
// runs (startServer on an engine over the shared PostgreSQL store), plus the host function `effect`
// that every step body calls: it appends a line { instance, step, nonce, node } to the shared
// side-effect log (fsync'd) and returns the nonce, so the test can tell which execution of a body
// produced the committed result and whether any body ran again after it.
//
//   node test/cluster/node.ts URL SCHEMA DATA_DIR NODE_ID EFFECTS_FILE LEASE_MS
import { closeSync, fsyncSync, openSync, writeSync } from "node:fs";
import { randomUUID } from "node:crypto";
import { Engine } from "../../src/index.ts";
import { startServer } from "../../src/api/server.ts";

const [url, schema, dataDir, nodeId, effects, leaseMs] = process.argv.slice(2);
const fd = openSync(effects!, "a");
// warnings and errors as JSON lines on stderr (in <id>.log with WEFT_CLUSTER_LOGDIR)
const line = (level: string) => (obj: object, msg: string) =>
  process.stderr.write(JSON.stringify({ level, at: new Date().toISOString(), node: nodeId, msg, ...obj, err: (obj as { err?: Error }).err?.message }) + "\n");
const engine = await Engine.open({
  logger: { info: () => {}, warn: line("warn"), error: line("error") },
  dataDir: dataDir!, postgres: { url: url!, schema: schema! }, nodeId: nodeId!, leaseMs: Number(leaseMs), suspendAfterMs: 200,
  hostFunctions: {
    effect: (instance: unknown, step: unknown) => {
      const nonce = randomUUID();
      writeSync(fd, JSON.stringify({ instance, step, nonce, node: nodeId }) + "\n");
      fsyncSync(fd);
      return nonce;
    },
  },
});
const server = await startServer({ engine, port: 0, quiet: true, drainMs: 2000 });
process.stdout.write(`listening ${server.url}${server.adminToken ? ` admin ${server.adminToken}` : ""}\n`);
process.on("SIGTERM", () => {
  void server.close().then(() => engine.close()).finally(() => (closeSync(fd), process.exit(0)));
});
