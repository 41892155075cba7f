// A process that used isolated-vm must exit cleanly. isolated-vm's cleanup hook tears its per-thread
// environment down before V8 tears the Node isolate down, and V8 finishes an incremental marking in
// progress there with one last GC: an isolated-vm handle object (Isolate, Context, Script,
// Reference, Callback) found dead in it runs a weak callback that needs the environment, and the
// process aborts with "IsolateEnvironment::GetCurrent(): Assertion `environment != nullptr' failed"
// after every test passed. Whether marking is in progress at exit is chance in a normal run; these
// V8 flags make it the rule (marking advances only with allocation, never in a task or on a thread).
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { fileURLToPath } from "node:url";

const CHILD = fileURLToPath(new URL("./pool-exit-child.ts", import.meta.url));
const MARKING_AT_EXIT = ["--stress-incremental-marking", "--no-concurrent-marking", "--no-incremental-marking-task"];

function run(flags: string[]): Promise<{ code: number | null; signal: NodeJS.Signals | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const proc = spawn(process.execPath, [...flags, CHILD], { stdio: ["ignore", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    proc.stdout.on("data", (d) => (stdout += d));
    proc.stderr.on("data", (d) => (stderr += d));
    const timer = setTimeout(() => proc.kill("SIGKILL"), 20_000);
    proc.on("error", reject);
    proc.on("close", (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stdout, stderr });
    });
  });
}

test("a process that disposed its isolate pool exits with code 0, with marking in progress at exit", { timeout: 30_000 }, async () => {
  const r = await run(MARKING_AT_EXIT);
  assert.match(r.stdout, /child done/, `the child did not get to the end\nstderr:\n${r.stderr}`);
  assert.doesNotMatch(r.stderr, /Assertion/, r.stderr);
  assert.equal(r.signal, null, `killed by ${r.signal}\nstderr:\n${r.stderr}`);
  assert.equal(r.code, 0, r.stderr);
});
