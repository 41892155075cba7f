// An event that arrives while a recovered run is still replaying up to its waitForEvent must resume
// it at once. (Found by crash.test.ts: the event was consumed in the store but the run, whose guest
// had not re-issued the wait yet, dropped it and suspended until the wait's timeout.)
import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Engine } from "../../src/index.ts";

const SOURCE = `
import { WorkflowEntrypoint } from "cloudflare:workers";
export class Waits extends WorkflowEntrypoint {
  async run(event, step) {
    const a = await step.do("before", async () => event.payload.n * 2);
    const ev = await step.waitForEvent("go", { type: "go", timeout: "1 hour" });
    return await step.do("after", async () => a + ev.payload.k);
  }
}
`;

async function within<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer!: NodeJS.Timeout;
  try {
    return await Promise.race([p, new Promise<T>((_, rej) => (timer = setTimeout(() => rej(new Error(what)), ms)))]);
  } finally {
    clearTimeout(timer);
  }
}

test("an event sent while a recovered run replays up to its wait resumes it at once", { timeout: 60_000 }, async (t) => {
  const dataDir = mkdtempSync(join(tmpdir(), "weft-recovery-events-"));
  t.after(() => rmSync(dataDir, { recursive: true, force: true }));
  const N = 20;
  const deploy = (e: Engine) => e.deploy({ tenant: "t", workflow: "waits", code: { mainModule: "index.ts", modules: { "index.ts": SOURCE } } });

  // first process: every instance reaches its wait and stays "running" (it never suspends), then the
  // process goes away without a word (close() journals nothing for live runs, as after a crash)
  const e1 = await Engine.open({ dataDir, suspendAfterMs: 7_200_000 });
  await deploy(e1);
  const wf1 = e1.workflow("t", "waits");
  const insts = await Promise.all(Array.from({ length: N }, (_, n) => wf1.create({ id: `i${n}`, params: { n } })));
  for (const inst of insts) {
    for (;;) {
      const d = await inst.describe();
      if (d.steps.some((s) => s.type === "waitForEvent")) break;
      await new Promise((r) => setTimeout(r, 5));
    }
  }
  for (const inst of insts) assert.equal((await inst.status()).status, "running");
  await e1.close();

  // second process: recovery starts every run; the events arrive while they open and replay
  const e2 = await Engine.open({ dataDir, suspendAfterMs: 100 });
  t.after(() => e2.close());
  await deploy(e2);
  const wf2 = e2.workflow("t", "waits");
  await Promise.all(Array.from({ length: N }, async (_, n) => (await wf2.get(`i${n}`)).sendEvent({ type: "go", payload: { k: 1000 } })));
  for (let n = 0; n < N; n++) {
    const inst = await wf2.get(`i${n}`);
    const s = await within(inst.waitFor(), 10_000, `i${n} did not resume within 10 s after its event was sent`);
    assert.equal(s.status, "complete", JSON.stringify(s.error));
    assert.equal(s.output, n * 2 + 1000);
  }
});
