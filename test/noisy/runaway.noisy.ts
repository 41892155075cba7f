// Issue 13, the heap row taken further: tenant code that allocates in small pieces
// (`a.push(new Array(1000).fill(n))` in a loop) outruns isolated-vm's memory limit — the isolate is
// marked disposed but its thread goes on allocating (12 GB in 30 s on this machine) and the call
// never returns; nothing stops that thread inside the process. The engine sees it (an activation
// still running 500 ms after its isolate's disposal), records the instance as errored without
// retries, and kills its own process; the restarted engine never runs the instance again.
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Engine } from "../../src/index.ts";
import { canaryLoop, deployCanary } from "./canary.ts";

const CHILD = join(import.meta.dirname, "runaway-child.ts");

for (const where of ["run", "step"] as const) {
  test(`a runaway allocation ${where === "step" ? "in a step with retries" : "in run()"}: the instance is ended as errored naming limits.memoryMb, the process ends before its memory does, and a restarted engine does not run it again`, { timeout: 60_000 }, async (t) => {
    const dataDir = mkdtempSync(join(tmpdir(), "weft-runaway-"));
    t.after(() => rmSync(dataDir, { recursive: true, force: true }));
    const child = spawn(process.execPath, [CHILD, dataDir, where], { stdio: ["ignore", "pipe", "pipe"] });
    let out = "", err = "";
    child.stdout.on("data", (d) => (out += d));
    child.stderr.on("data", (d) => (err += d));
    const [code, signal] = await new Promise<[number | null, string | null]>((res) => child.on("exit", (c, s) => res([c, s])));
    const rss = [...out.matchAll(/^rss (\d+)$/gm)].map((m) => Number(m[1]));
    t.diagnostic(`child ended by ${signal ?? code}; RSS samples ${rss.length}, peak ${Math.max(...rss)} MiB`);
    assert.match(out, /^created runaway$/m);
    assert.equal(signal, "SIGKILL", `the child ended by ${signal ?? `exit ${code}`}: ${err.slice(-2000)}`);
    assert.match(err, /an isolate went on running past its memory limit and cannot be stopped in this process/);
    assert.ok(Math.max(...rss) < 4096, `the child's RSS peaked at ${Math.max(...rss)} MiB`);

    const engine = await Engine.open({ dataDir });
    t.after(() => engine.close());
    const inst = await engine.workflow("evil", "grow").get("runaway");
    const s = await inst.status();
    assert.equal(s.status, "errored");
    assert.equal(s.error?.message, `workflow code exceeded the memory limit of 128 MB (limits.memoryMb) and could not be stopped in its isolate (it went on allocating): the instance is ended without retries, and the engine process restarts`);
    // the engine runs others normally, and the instance stays as it was
    await deployCanary(engine);
    const c = await canaryLoop(engine, 20);
    assert.equal(c.runs, 20);
    assert.equal((await inst.status()).status, "errored");
    const d = await inst.describe();
    if (where === "step") {
      const st = d.steps.find((x) => x.type === "step" && x.name === "grow") as { attempts: unknown[] } | undefined;
      assert.ok(!st || st.attempts.length <= 1, "no retry of the runaway attempt was made");
    }
  });
}
