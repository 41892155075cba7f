// The embedded store's WAL checkpoints, on a thread of their own. SQLite's automatic checkpoint runs
// inside the COMMIT that crosses its threshold — on the engine's thread, copying the WAL into the
// database file and fsyncing it (tens of MB: a loop pause near 100 ms while a tenant wrote 1 MB
// results). The store turns it off (wal_autocheckpoint=0), looks at the WAL's size now and then, and
// past CHECKPOINT_BYTES asks this worker — its own connection to the same file, started on first need
// — to checkpoint PASSIVE, which never blocks the writer. SQLite rewinds the WAL at the next write
// after a complete checkpoint (journal_size_limit then truncates the file).
import { Worker, isMainThread, parentPort, workerData } from "node:worker_threads";
import { once } from "node:events";
import { DatabaseSync } from "node:sqlite";

/** the WAL size past which a checkpoint is asked for (the automatic one was every 10,000 4 KiB pages) */
export const CHECKPOINT_BYTES = 16 * 1024 * 1024;

interface Job {
  weftCheckpoint: true;
  file: string;
}

export class Checkpointer {
  private readonly worker: Worker;
  private busy = false;
  /** checkpoints done (a test reads it) */
  done = 0;
  constructor(file: string) {
    this.worker = new Worker(new URL(import.meta.url), { workerData: { weftCheckpoint: true, file } satisfies Job });
    // a checkpoint not made only lets the WAL grow; the next request catches up
    this.worker.on("error", () => (this.busy = false));
    this.worker.on("message", () => {
      this.busy = false;
      this.done++;
    });
    this.worker.unref(); // after the listeners: adding a 'message' listener refs the port again

  }

  /** Checkpoint now, unless one is under way. */
  request(): void {
    if (this.busy) return;
    this.busy = true;
    this.worker.postMessage("checkpoint");
  }

  async close(): Promise<void> {
    const exited = once(this.worker, "exit");
    this.worker.postMessage("close");
    const t = setTimeout(() => void this.worker.terminate(), 2000);
    await exited.catch(() => undefined);
    clearTimeout(t);
  }
}

if (!isMainThread && parentPort && (workerData as Job | undefined)?.weftCheckpoint) {
  const { file } = workerData as Job;
  const db = new DatabaseSync(file);
  db.exec("PRAGMA busy_timeout=5000");
  const port = parentPort;
  port.on("message", (m) => {
    if (m === "close") {
      db.close();
      port.close();
      return;
    }
    try {
      db.prepare("PRAGMA wal_checkpoint(PASSIVE)").get();
    } catch {
      /* busy or gone: the next request */
    }
    port.postMessage("done");
  });
}
