// Issue 13, the last row: a flood of unhandled promise rejections ended the instance with "internal
// error: loading the workflow code failed: a1470". isolated-vm throws a rejection left unhandled at
// the end of the task, and the rejections of a context cut off before outlive it in the isolate, to
// be thrown at its next load. Now the error names what the code did, and a load that trips over a
// dead context's leftovers happens again in a fresh isolate.
import { test } from "node:test";
import assert from "node:assert/strict";
import { TENANT, deploy, open, wf } from "../engine/helpers.ts";

test("unhandled rejections end the instance with an error that says so, in run() and in a step body; the version's other instances are unharmed", { timeout: 30_000 }, async (t) => {
  const h = await open(t);
  await deploy(h.engine, "rej", wf(`
    if (event.payload.where === "run") for (let i = 0; i < 5000; i++) Promise.reject(new Error("r" + i));
    if (event.payload.where === "none") return "fine";
    return await step.do("s", { retries: { limit: 0, delay: "1 second" } }, async () => {
      Promise.reject("in the body");
      await Promise.resolve();
      return 1;
    });`));
  const wfl = h.engine.workflow(TENANT, "rej");
  const inRun = await (await wfl.create({ params: { where: "run" } })).waitFor();
  assert.equal(inRun.status, "errored");
  assert.match(String(inRun.error?.message), /^workflow code outside steps left a promise rejection unhandled \(Error: r\d+\): await or catch every promise/);
  const inStep = await (await wfl.create({ params: { where: "step" } })).waitFor();
  assert.equal(inStep.status, "errored");
  assert.match(String(inStep.error?.message), /step "s" attempt 1 left a promise rejection unhandled \("in the body"\)/);
  const fine = await (await wfl.create({ params: { where: "none" } })).waitFor();
  assert.deepEqual([fine.status, fine.output], ["complete", "fine"]);
});
