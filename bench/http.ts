// HTTP creation throughput: a real server (startServer, embedded SQLite on a temp dir) and 64
// keep-alive clients (node:http). The tenant may run 1 instance at a time and may create without
// limit, and the workflow sleeps for a day, so the burst queues: what is measured is HTTP + auth +
// validation + admission + the durable commit of each creation, not execution.
//  1. 10,000 POST …/instances, one instance each, 64 in flight;
//  2. 20,000 instances as 200 POST …/instances/batch of 100, 64 in flight.
// The clients run in a worker thread by default, so that their request building and response
// parsing do not take turns with the server on its event loop (the server is what is measured);
// `clientThread: "main"` puts them on the server's thread (figures then include the client's cost).
// Besides rates and latencies it reports the CPU time the server's thread spent per creation
// (process.threadCpuUsage over each phase): unlike the rates, that figure hardly moves when other
// processes load the machine, so it is the one to compare between runs and commits.
import http from "node:http";
import { Worker, isMainThread, parentPort, workerData } from "node:worker_threads";
import { startServer } from "../src/api/server.ts";
import { BODIES, keepAlive, module, percentile, pool, tempDir } from "./util.ts";

export interface HttpCreationResult {
  oneByOnePerSec: number;
  oneByOneP50Ms: number;
  oneByOneP99Ms: number;
  batchPerSec: number;
  batchP50Ms: number;
  clients: number;
  /** CPU time of the server's thread (main) per creation, one by one (µs); includes the clients' with clientThread "main" */
  oneByOneServerCpuUs: number;
  /** the same per instance created in batches of 100 (µs) */
  batchServerCpuUs: number;
}

export interface HttpCreationOptions {
  /** one-by-one creations (default 10,000) */
  n?: number;
  /** batches of 100 (default 200) */
  batches?: number;
  /** concurrent keep-alive connections (default 64) */
  clients?: number;
  /** where the clients run (default "worker") */
  clientThread?: "worker" | "main";
}

const TENANT = "bench";
const WORKFLOW = "sleepy";
const BATCH = 100;

interface Phase {
  /** creations per second over the phase (first request sent → last response read) */
  perSec: number;
  ms: number;
  latenciesMs: number[];
}

interface ClientJob {
  url: string;
  token: string;
  clients: number;
  n: number;
  batches: number;
}

interface ClientResult {
  warmup: Phase;
  oneByOne: Phase;
  batch: Phase;
}

type Mark = "one:start" | "one:end" | "batch:start" | "batch:end";

/** CPU time of the server's thread at each mark (µs) */
function cpuMarks(): { mark(m: Mark): void; us(from: Mark, to: Mark): number } {
  const at = new Map<Mark, number>();
  return {
    mark(m) {
      const u = process.threadCpuUsage();
      at.set(m, u.user + u.system);
    },
    us: (from, to) => (at.get(to) ?? NaN) - (at.get(from) ?? NaN),
  };
}

export async function httpCreations(opts: HttpCreationOptions = {}): Promise<HttpCreationResult> {
  const job = { clients: opts.clients ?? 64, n: opts.n ?? 10_000, batches: opts.batches ?? 200 };
  const tmp = tempDir("http");
  const server = await startServer({ dataDir: tmp.dir, host: "127.0.0.1", port: 0, quiet: true });
  try {
    return await keepAlive(async () => {
      if (!server.adminToken) throw new Error("startServer returned no admin token on a fresh data directory");
      const admin = new Client(server.url, server.adminToken, 1);
      try {
        const quotas = { maxRunningInstances: 1, createsPerSecond: 1_000_000, createBurst: 1_000_000 };
        await admin.call("POST", "/v1/tenants", { name: TENANT, quotas }, 201);
        await admin.call("PATCH", `/v1/tenants/${TENANT}`, { quotas }, 200); // whether or not create took them
        const { token } = JSON.parse(await admin.call("POST", `/v1/tenants/${TENANT}/tokens`, { name: "bench" }, 201)) as { token: string };
        await admin.call("PUT", `/v1/tenants/${TENANT}/workflows/${WORKFLOW}`, module(BODIES.sleepDay), 200);
        const full: ClientJob = { url: server.url, token, ...job };
        const cpu = cpuMarks();
        const r = opts.clientThread === "main" ? await runClients(full, cpu.mark) : await inWorker(full, cpu.mark);
        const count = JSON.parse(await admin.call("GET", `/v1/tenants/${TENANT}/workflows/${WORKFLOW}`, undefined, 200)) as { instances: Record<string, number> };
        const total = Object.values(count.instances).reduce((a, b) => a + b, 0);
        const expected = r.warmup.latenciesMs.length + job.n + job.batches * BATCH;
        if (total !== expected) throw new Error(`the server holds ${total} instances, expected ${expected}`);
        return {
          oneByOnePerSec: r.oneByOne.perSec,
          oneByOneP50Ms: percentile(r.oneByOne.latenciesMs, 50),
          oneByOneP99Ms: percentile(r.oneByOne.latenciesMs, 99),
          batchPerSec: r.batch.perSec,
          batchP50Ms: percentile(r.batch.latenciesMs, 50),
          clients: job.clients,
          oneByOneServerCpuUs: cpu.us("one:start", "one:end") / job.n,
          batchServerCpuUs: cpu.us("batch:start", "batch:end") / (job.batches * BATCH),
        };
      } finally {
        admin.close();
      }
    });
  } finally {
    await server.close();
    tmp.remove();
  }
}

/** The three phases, from `clients` keep-alive connections. */
async function runClients(job: ClientJob, mark: (m: Mark) => void): Promise<ClientResult> {
  const c = new Client(job.url, job.token, job.clients);
  const base = `/v1/tenants/${TENANT}/workflows/${WORKFLOW}/instances`;
  try {
    const phase = async (n: number, send: (i: number) => Promise<unknown>): Promise<Phase> => {
      const latenciesMs: number[] = [];
      const t0 = performance.now();
      await pool(n, job.clients, async (i) => {
        const s = performance.now();
        await send(i);
        latenciesMs.push(performance.now() - s);
      });
      const ms = performance.now() - t0;
      return { ms, latenciesMs, perSec: 0 };
    };
    // warm the connections and the JIT (not counted)
    const warmup = await phase(job.clients * 4, (i) => c.call("POST", base, { id: `w${i}`, params: { i } }, 201));
    mark("one:start");
    const oneByOne = await phase(job.n, (i) => c.call("POST", base, { id: `c${i}`, params: { i } }, 201));
    mark("one:end");
    oneByOne.perSec = (job.n / oneByOne.ms) * 1000;
    mark("batch:start");
    const batch = await phase(job.batches, (b) =>
      c.call("POST", `${base}/batch`, { instances: Array.from({ length: BATCH }, (_, j) => ({ id: `b${b * BATCH + j}`, params: { i: j } })) }, 201));
    mark("batch:end");
    batch.perSec = ((job.batches * BATCH) / batch.ms) * 1000;
    return { warmup, oneByOne, batch };
  } finally {
    c.close();
  }
}

type FromWorker = { mark: Mark } | { ok: true; result: ClientResult } | { ok: false; error: string };

/** The clients in a worker thread; `mark` is called on this (the server's) thread as they pass each mark. */
function inWorker(job: ClientJob, mark: (m: Mark) => void): Promise<ClientResult> {
  return new Promise((resolve, reject) => {
    const w = new Worker(new URL(import.meta.url), { workerData: { weftHttpBench: job } });
    let result: ClientResult | undefined;
    w.on("message", (m: FromWorker) => {
      if ("mark" in m) mark(m.mark);
      else if (m.ok) result = m.result;
      else reject(new Error(`bench client: ${m.error}`));
    });
    w.once("error", reject);
    w.once("exit", (code) => (result ? resolve(result) : reject(new Error(`bench client thread exited (${code}) without a result`))));
  });
}

/** JSON requests over keep-alive connections (at most `sockets` at once). */
class Client {
  private readonly agent: http.Agent;
  private readonly host: string;
  private readonly port: number;
  private readonly token: string;

  constructor(url: string, token: string, sockets: number) {
    const u = new URL(url);
    this.host = u.hostname.replace(/^\[|\]$/g, "");
    this.port = Number(u.port);
    this.token = token;
    this.agent = new http.Agent({ keepAlive: true, maxSockets: sockets, maxFreeSockets: sockets });
  }

  /** The response body; anything but `expect` is an error naming the status and body. */
  call(method: string, path: string, body: unknown, expect: number): Promise<string> {
    const payload = body === undefined ? undefined : JSON.stringify(body);
    const headers: Record<string, string | number> = { authorization: `Bearer ${this.token}` };
    if (payload !== undefined) {
      headers["content-type"] = "application/json";
      headers["content-length"] = Buffer.byteLength(payload);
    }
    return new Promise((resolve, reject) => {
      const req = http.request({ agent: this.agent, host: this.host, port: this.port, method, path, headers }, (res) => {
        const chunks: Buffer[] = [];
        res.on("data", (c: Buffer) => chunks.push(c));
        res.on("error", reject);
        res.on("end", () => {
          const text = Buffer.concat(chunks).toString("utf8");
          if (res.statusCode === expect) resolve(text);
          else reject(new Error(`${method} ${path}: ${res.statusCode} ${text.slice(0, 300)}`));
        });
      });
      req.on("error", reject);
      req.end(payload);
    });
  }

  close(): void {
    this.agent.destroy();
  }
}

// the worker side: this same module, loaded in a worker thread with the job (last, once Client exists)
if (!isMainThread && (workerData as { weftHttpBench?: ClientJob } | null)?.weftHttpBench) {
  const job = (workerData as { weftHttpBench: ClientJob }).weftHttpBench;
  runClients(job, (mark) => parentPort!.postMessage({ mark })).then(
    (result) => parentPort!.postMessage({ ok: true, result }),
    (err: unknown) => parentPort!.postMessage({ ok: false, error: (err as Error)?.stack ?? String(err) }),
  );
}
