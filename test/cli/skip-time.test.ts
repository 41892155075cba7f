// `weft run --skip-time` (cli/drive.ts) moves a virtual clock only past timers nothing is working
// against: never past a running step attempt's timeout — of any instance of the engine, not only the
// driven one (the examples' fan-out once saw a child's attempt time out while its body awaited a
// host call, because the parent's sleep let the clock jump an hour).
import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Engine, hostFunction, workflowBinding } from "../../src/index.ts";
import { VirtualClock } from "../../src/core/virtual-clock.ts";
import { EventFeeder, runSkipTime } from "../../src/cli/drive.ts";

test("--skip-time does not move the clock past a child instance's running attempt while the parent sleeps", { timeout: 30_000 }, async (t) => {
  const dataDir = mkdtempSync(join(tmpdir(), "weft-skip-"));
  const clock = new VirtualClock(Date.now());
  let calls = 0;
  // a host call that takes real time (the clock must wait for it, not jump past the step's timeout)
  const slow = async () => (calls++, await new Promise((r) => setTimeout(r, 400)), "done");
  const engine = await Engine.open({ dataDir, clock, hostFunctions: { slow } });
  t.after(async () => {
    await engine.close();
    rmSync(dataDir, { recursive: true, force: true });
  });
  const code = `
import { WorkflowEntrypoint } from "cloudflare:workers";
export class W extends WorkflowEntrypoint {
  async run(event, step) {
    if (event.payload?.child) {
      return await step.do("work", { timeout: "1 minute", retries: { limit: 0, delay: "1 second" } }, async () => this.env.slow());
    }
    const id = await step.do("start", async () => (await this.env.SELF.create({ params: { child: true } })).id);
    await step.sleep("nap", "1 hour");
    return await step.do("check", async () => {
      const s = await (await this.env.SELF.get(id)).status();
      return [s.status, s.output ?? s.error?.message];
    });
  }
}`;
  await engine.deploy({ tenant: "local", workflow: "w", code: { mainModule: "w.ts", modules: { "w.ts": code } }, env: { slow: hostFunction("slow"), SELF: workflowBinding("w") } });
  const inst = await engine.workflow("local", "w").create();
  await runSkipTime(engine, inst, clock, new EventFeeder(engine, inst, []));
  const s = await inst.status();
  assert.equal(s.status, "complete", JSON.stringify(s.error));
  assert.deepEqual(s.output, ["complete", "done"], "the child's attempt ran to its end, not to a timeout");
  assert.equal(calls, 1);
});
