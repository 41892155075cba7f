// Read-only SQL on an instance's database from outside its runs (the host API, the HTTP API) runs in
// a worker thread with a time limit: a query of one tenant can take its time without holding the
// process (and every other tenant) up, and one that outruns the limit is stopped by ending the worker.
import { Worker, isMainThread, parentPort, workerData } from "node:worker_threads";
import { ErrorCode, WeftError } from "../../core/errors.ts";
import { InstanceDatabase, type SqlResult, type SqlValue } from "./database.ts";

interface Job {
  path: string;
  query: string;
  params: SqlValue[];
  refusal: string;
}

/** Run `query` read-only on the database at `path` (":memory:" for an instance without one). */
export function queryInWorker(job: Job, timeoutMs: number): Promise<SqlResult> {
  return new Promise((resolve, reject) => {
    const w = new Worker(new URL(import.meta.url), { workerData: job });
    let settled = false;
    const timer = setTimeout(() => {
      settled = true;
      void w.terminate();
      reject(new WeftError(ErrorCode.StorageLimit, `the query ran for longer than ${timeoutMs} ms and was stopped; narrow it (WHERE, LIMIT) or query less at once`, { timeoutMs }));
    }, timeoutMs);
    w.once("message", (m: { ok: true; result: SqlResult } | { ok: false; error: { code: string; message: string; details: Record<string, unknown> } }) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      void w.terminate();
      if (m.ok) resolve(m.result);
      else reject(new WeftError(m.error.code as ErrorCode, m.error.message, m.error.details));
    });
    w.once("error", (e) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      reject(new WeftError(ErrorCode.Internal, `the query worker failed: ${e.message}`));
    });
  });
}

if (!isMainThread && parentPort && (workerData as Job | undefined)?.query !== undefined) {
  const job = workerData as Job;
  let db: InstanceDatabase | undefined;
  try {
    db = new InstanceDatabase({ path: job.path, maxBytes: 1024 ** 4 });
    parentPort.postMessage({ ok: true, result: db.exec(job.query, job.params, false, job.refusal) });
  } catch (e) {
    const w = e as WeftError;
    parentPort.postMessage({ ok: false, error: { code: w.code ?? ErrorCode.Internal, message: w.message, details: w.details ?? {} } });
  } finally {
    db?.close();
  }
}
