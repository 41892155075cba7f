// Host side: tenant code runs at a lower CPU priority than the engine. isolated-vm runs asynchronous
// activations on its own thread pool; on Linux each thread has its own nice value, so the pool's
// threads are set to `nice` (10 by default): when tenant code and the engine's loop want the same core,
// the loop wins (CFS weight 1024 against 110 — about 9 in 10 slices), and tenants share what is left
// between them. The pool's threads are recognized as this process's threads that isolated-vm started:
// they inherit the name of the thread that made them ("MainThread") but are not the main thread.
// V8's platform workers ("V8Worker": concurrent marking and sweeping for every isolate) go down too:
// next to a tenant filling its heap they are mostly that tenant's GC (canary p99 3.5–4.4× → 1.7–2.7×
// next to a heap filled to its limit, measured); the engine's own GC work on its main thread keeps
// the engine's priority. libuv's pool ("libuv-worker": fsync, DNS, file I/O) is the engine's alone.
// Elsewhere than Linux, or without /proc, this does nothing.
import { readdirSync, readFileSync } from "node:fs";
import { setPriority } from "node:os";

const LOWERED = new Set(["MainThread", "V8Worker"]);

export class TenantThreadPriority {
  private readonly nice: number;
  private readonly done = new Set<number>();
  private lastScan = 0;
  private off = false;
  constructor(nice: number) {
    this.nice = nice;
    this.off = nice <= 0 || process.platform !== "linux";
  }

  /** Lower the priority of pool threads not seen before (cheap: at most one /proc scan per second). */
  apply(): void {
    if (this.off) return;
    const now = performance.now();
    if (now - this.lastScan < 1000) return;
    this.lastScan = now;
    let tids: string[];
    try {
      tids = readdirSync("/proc/self/task");
    } catch {
      this.off = true;
      return;
    }
    for (const t of tids) {
      const tid = Number(t);
      if (tid === process.pid || this.done.has(tid)) continue;
      try {
        if (!LOWERED.has(readFileSync(`/proc/self/task/${t}/comm`, "utf8").trim())) continue;
        setPriority(tid, this.nice);
        this.done.add(tid);
      } catch {
        /* the thread ended meanwhile */
      }
    }
  }

  /** the pool threads lowered so far (a test reads their nice values) */
  threads(): number[] {
    return [...this.done];
  }
}
