// Runs in a worker thread: the instance databases of the runs the pool assigned to this worker. The
// main thread calls it synchronously (ctx.storage.sql is synchronous) through shared memory: it
// writes a request into the buffer and raises the request flag; this thread, blocked on that flag,
// runs it, writes the answer and raises the answer flag. A pure futex hand-off (~10 µs), no event loop
// in between. A statement that outruns its time limit leaves the main thread free: the pool stops
// waiting and gives up on this worker.
import { workerData } from "node:worker_threads";
import { serialize, deserialize } from "node:v8";
import { InstanceDatabase } from "./database.ts";

export interface SqlCall {
  id: number;
  op: "quit" | "open" | "exec" | "begin" | "savepoint" | "release" | "rollbackTo" | "commit" | "rollback" | "version" | "size" | "serialize" | "close";
  args: unknown[];
}

export type SqlAnswer =
  | { ok: true; value: unknown; tx: boolean; dirty: boolean | undefined }
  | { ok: false; error: { name: string; code?: string; message: string; details?: Record<string, unknown> }; tx: boolean; dirty: boolean };

/** Layout of the shared buffer: [0] request flag, [1] answer flag, [2] started, [3] byte length; data from byte 16. */
export const HEADER = 16;
export const REQ = 0, ANS = 1, STARTED = 2, LEN = 3;

export function writeMessage(buf: SharedArrayBuffer, ints: Int32Array, msg: unknown): void {
  const bytes = serialize(msg);
  if (bytes.byteLength > buf.byteLength - HEADER) {
    throw Object.assign(new Error(`the SQL message is ${bytes.byteLength} bytes, over the ${buf.byteLength - HEADER} bytes the SQL worker channel carries`), { code: "storage_limit" });
  }
  new Uint8Array(buf, HEADER, bytes.byteLength).set(bytes);
  ints[LEN] = bytes.byteLength;
}

export function readMessage<T>(buf: SharedArrayBuffer, ints: Int32Array): T {
  return deserialize(new Uint8Array(buf, HEADER, ints[LEN]).slice()) as T;
}

function run(dbs: Map<number, InstanceDatabase>, c: SqlCall): SqlAnswer {
  let db = dbs.get(c.id);
  try {
    let value: unknown;
    switch (c.op) {
      case "open": {
        const [path, maxBytes] = c.args as [string, number];
        db = new InstanceDatabase({ path, maxBytes });
        dbs.set(c.id, db);
        break;
      }
      case "exec": {
        // a write opens the attempt's transaction first (one round trip instead of two)
        const [query, params, write, refusal] = c.args as Parameters<InstanceDatabase["exec"]>;
        if (write && !db!.inTransaction) db!.begin();
        value = db!.exec(query, params, write, refusal);
        break;
      }
      case "begin":
        db!.begin();
        break;
      case "savepoint":
        db!.savepoint();
        break;
      case "release":
        db!.release();
        break;
      case "rollbackTo":
        db!.rollbackTo();
        break;
      case "commit":
        if (typeof c.args[2] === "number") Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, c.args[2]); // SqlFaults.commitDelay
        value = db!.commitSync(c.args[0] as number, c.args[1] as number);
        break;
      case "rollback":
        db!.rollback();
        break;
      case "version":
        value = db!.version();
        break;
      case "size":
        value = db!.sizeBytes();
        break;
      case "serialize":
        value = db!.serialize();
        break;
      case "close":
        db?.close();
        dbs.delete(c.id);
        db = undefined;
        break;
    }
    // dirty only changes with a write: computing it costs a query, so only then
    const dirty = c.op === "exec" && c.args[2] === true ? (db?.dirty ?? false) : c.op === "commit" || c.op === "rollback" || c.op === "open" ? false : undefined;
    return { ok: true, value, tx: db?.inTransaction ?? false, dirty };
  } catch (e) {
    const err = e as { name?: string; code?: string; message?: string; details?: Record<string, unknown> };
    return { ok: false, error: { name: err.name ?? "Error", code: err.code, message: err.message ?? String(e), details: err.details }, tx: db?.inTransaction ?? false, dirty: db?.inTransaction ? db.dirty : false };
  }
}

const data = workerData as { weftSql?: boolean; buf: SharedArrayBuffer } | undefined;
if (data?.weftSql) {
  const ints = new Int32Array(data.buf, 0, 4);
  const dbs = new Map<number, InstanceDatabase>();
  Atomics.store(ints, STARTED, 1);
  Atomics.notify(ints, STARTED);
  for (;;) {
    // the next call of a step usually follows within a fraction of a millisecond: spin briefly
    // before sleeping (waking a sleeping thread costs ~0.2 ms on virtual machines)
    const spinUntil = performance.now() + 0.5;
    while (Atomics.load(ints, REQ) === 0 && performance.now() < spinUntil);
    Atomics.wait(ints, REQ, 0);
    Atomics.store(ints, REQ, 0);
    const call = readMessage<SqlCall>(data.buf, ints);
    if (call.op === "quit") {
      for (const db of dbs.values()) db.close();
      writeMessage(data.buf, ints, { ok: true, value: null, tx: false, dirty: false });
      Atomics.store(ints, ANS, 1);
      Atomics.notify(ints, ANS);
      break;
    }
    let answer: SqlAnswer = run(dbs, call);
    try {
      writeMessage(data.buf, ints, answer);
    } catch (e) {
      answer = { ok: false, error: { name: "Error", code: "storage_limit", message: (e as Error).message }, tx: answer.tx, dirty: false };
      writeMessage(data.buf, ints, answer);
    }
    Atomics.store(ints, ANS, 1);
    Atomics.notify(ints, ANS);
  }
}
