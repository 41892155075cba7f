// Child process for pool-exit.test.ts: an IsolatePool used the way an engine uses it (a spare, an
// inspection, runs in a few versions, isolates trimmed and contexts left), then disposed, and the
// process left to exit on its own. The parent runs it with V8 flags that keep an incremental marking
// in progress until the Node isolate is torn down, so the last GC there finds every isolated-vm
// handle object that is garbage by then.
import { IsolatePool } from "../../src/sandbox/host/isolates.ts";
import { compileTenant, guestRuntimeBundle } from "../../src/sandbox/host/compile.ts";
import type { InitJob } from "../../src/sandbox/protocol.ts";

const TENANT = `import { WorkflowEntrypoint } from "cloudflare:workers";
export class Flow extends WorkflowEntrypoint {
  async run(event, step) {
    return await step.do("one", async () => event.payload + 1);
  }
}
`;

const runtime = await guestRuntimeBundle();
const tenant = await compileTenant({ mainModule: "flow.ts", modules: { "flow.ts": TENANT } });
const pool = new IsolatePool({ memoryMb: 32, syncBudgetMs: 20, maxContextsPerIsolate: 2, maxRunsPerContext: 2, maxIdleIsolates: 1 });
pool.refill(runtime);
const found = await pool.inspect(runtime, tenant, 32, 2000);
if (found.classes.join() !== "Flow") throw new Error(`inspect found ${JSON.stringify(found)}`);

const init = (id: string): InitJob => ({
  t: "init", className: "Flow", instanceId: id, workflowName: "flow", payload: 1, timestamp: 0, now: 0, seed: 1,
  history: [], mode: "run", stepLimit: 100, pendingLimit: 2000, env: {},
});

// three versions with one idle isolate kept: opening the third disposes the oldest idle one
for (const version of ["v1", "v2", "v3"]) {
  const slots = await Promise.all([1, 2, 3].map(() => pool.openContext(version, runtime, tenant, 32, 2000)));
  for (const [i, slot] of slots.entries()) {
    const out = await slot.activate([init(`${version}-${i}`)], 0, 2000);
    if (!out.ok) throw new Error(`activation failed: ${out.message}`);
  }
  for (const slot of slots) slot.release();
}
// one run left open in its context: dispose() has to take it down too
await pool.openContext("v4", runtime, tenant, 32, 2000, true);
await pool.dispose();

// the rest of a test file's life: allocation after close()
let junk: object[] = [];
for (let i = 0; i < 200_000; i++) junk.push({ i });
junk = [];
process.stdout.write("child done\n");
