// The Cloudflare `Workflow` binding (create, createBatch, get, deleteBatch) and `WorkflowInstance`
// (status, pause, resume, terminate, restart, delete, sendEvent, subscribe) over the engine, plus
// describe() in the shape of Cloudflare's InstanceStatusAndLogs.
import { serialize } from "node:v8";
import {
  ErrorCode, WeftError, batchDeleteError, deleteBatchRefusal, emptyCreateBatch, instanceNotFound, invalidIdToGet, invalidNewInstanceId,
  stepNotInHistory, type BatchDeleteResult, type ErrorInfo,
} from "../core/errors.ts";
import { isAddressableInstanceId, validateEventType, validateInstanceId } from "../core/ids.ts";
import { checkAction, statusView, type InstanceStatus, type InstanceStatusView } from "../core/status.ts";
import { restartTarget, type RestartFrom } from "../core/journal.ts";
import { checkSerializable } from "../core/values.ts";
import type { InstanceRecord, NewInstance, StoredObject } from "../store/ports.ts";
import type { SqlResult, SqlValue } from "../instance-data/ports.ts";
import type { FsChange, FsCommit } from "../sandbox/protocol.ts";
import { fsLimits } from "../core/limits.ts";

export type FileInput = string | Uint8Array;
import type { Engine } from "./engine.ts";
import { describeInstance, type InstanceDetail } from "./describe.ts";

export interface CreateOptions<P = unknown> {
  id?: string;
  params?: P;
  /** searchable string metadata (beyond Cloudflare) */
  metadata?: Record<string, string>;
  /** start the instance's filesystem (ctx.fs) with these files: one commit named "seed" */
  files?: Record<string, FileInput>;
  /** start the instance's filesystem from another instance of this tenant (its head, or `commit`) */
  fork?: { instance: string; workflow?: string; commit?: string };
}

export type { InstanceStatusView };

const MAX_BATCH = 100;
const TERMINAL_EVENTS = new Set(["workflow_completed", "workflow_errored", "workflow_terminated"]);

export class WorkflowBinding<P = unknown> {
  readonly engine: Engine;
  readonly tenant: string;
  readonly name: string;
  constructor(engine: Engine, tenant: string, name: string) {
    this.engine = engine;
    this.tenant = tenant;
    this.name = name;
  }

  /** The filesystem a new instance starts with; nothing is written here (the create writes it). */
  private async startingFiles(o: CreateOptions<P> | undefined, where: string, limits: unknown): Promise<{ fsHead?: string | null; fsFiles?: number; objects: StoredObject[] }> {
    if (o?.files !== undefined && o?.fork !== undefined) {
      throw new WeftError(ErrorCode.InvalidArgument, `${where}: give files or fork, not both`, { field: `${where}.fork` });
    }
    if (o?.files !== undefined) {
      const c = await this.engine.data.seed(this.tenant, o.files, fsLimits(limits as never), this.engine.clock.now());
      return c ? { fsHead: c.head, fsFiles: c.files, objects: c.objects } : { objects: [] };
    }
    if (o?.fork !== undefined) {
      const f = o.fork as { instance?: unknown; workflow?: unknown; commit?: unknown };
      if (!f || typeof f !== "object" || typeof f.instance !== "string" || (f.workflow !== undefined && typeof f.workflow !== "string")) {
        throw new WeftError(ErrorCode.InvalidArgument, `${where}: fork must be { instance: string, workflow?: string, commit?: string }`, { field: `${where}.fork` });
      }
      const wf = f.workflow ?? this.name;
      const source = await this.engine.store.getInstance(this.tenant, wf, validateInstanceId(f.instance));
      if (!source) throw new WeftError(ErrorCode.NotFound, `${where}: fork source instance "${f.instance}" of workflow ${wf} does not exist in tenant ${this.tenant}`, { field: `${where}.fork.instance` });
      const at = await this.engine.data.forkPoint(source, f.commit);
      return { fsHead: at.head, fsFiles: at.files, objects: [] };
    }
    return { objects: [] };
  }

  private async prepare(o: CreateOptions<P> | undefined, where: string, limit: number, index?: number): Promise<NewInstance> {
    if (o !== undefined && (o === null || typeof o !== "object")) {
      throw new WeftError(ErrorCode.InvalidArgument, `${where}: create options must be an object { id?, params?, metadata? }`, { field: where });
    }
    let id: string;
    try {
      id = o?.id === undefined ? this.engine.newInstanceId() : validateInstanceId(o.id);
    } catch (e) {
      throw invalidNewInstanceId(e, "createBatch", index);
    }
    // no params: event.payload is {} (workers-sdk workflows-shared/src/binding.ts: create({ id, params = {} }))
    const params = o?.params === undefined ? {} : o.params;
    checkSerializable(params, `${where} params`);
    let encoded: Uint8Array;
    try {
      encoded = serialize(params);
    } catch (e) {
      throw new WeftError(ErrorCode.NotSerializable, `${where} params cannot be serialized: ${(e as Error).message}`, { field: `${where}.params` });
    }
    const bytes = encoded.byteLength;
    if (bytes > limit) {
      throw new WeftError(ErrorCode.TooLarge, `${where} params are ${bytes} bytes, the limit is ${limit} bytes`, { field: `${where}.params`, size: bytes, limit });
    }
    const metadata = o?.metadata ?? {};
    if (typeof metadata !== "object" || Array.isArray(metadata) || Object.entries(metadata).some(([k, v]) => typeof v !== "string" || k.length > 64 || v.length > 1024)) {
      throw new WeftError(ErrorCode.InvalidArgument, `${where} metadata must be an object of strings (keys ≤ 64 chars, values ≤ 1024 chars)`, { field: `${where}.metadata` });
    }
    return { tenant: this.tenant, workflow: this.name, id, version: "", params, encodedParams: encoded, metadata, trigger: "api", createdAt: this.engine.clock.now() };
  }

  private async latest() {
    const v = await this.engine.latestVersion(this.tenant, this.name);
    if (!v) throw new WeftError(ErrorCode.NotFound, `workflow ${this.name} of tenant ${this.tenant} has no deployed version; deploy it first`, { tenant: this.tenant, workflow: this.name });
    return v;
  }

  async create(options?: CreateOptions<P>): Promise<WorkflowInstance> {
    const v = await this.latest();
    const row = await this.prepare(options, "create", v.config.limits.stepResultBytes);
    row.version = v.version;
    const fs = await this.startingFiles(options, "create", v.config.limits);
    row.fsHead = fs.fsHead;
    row.fsFiles = fs.fsFiles;
    const [inst] = await this.engine.store.createInstances([row], fs.objects.length ? { tenant: this.tenant, objects: fs.objects } : undefined);
    this.engine.metrics.creations++;
    await this.engine.enqueue(inst!, "fresh");
    return new WorkflowInstance(this.engine, inst!);
  }

  async createBatch(batch: CreateOptions<P>[]): Promise<WorkflowInstance[]> {
    if (!Array.isArray(batch)) throw new WeftError(ErrorCode.InvalidArgument, "createBatch takes an array of create options", { field: "batch" });
    if (batch.length === 0) throw emptyCreateBatch(MAX_BATCH);
    if (batch.length > MAX_BATCH) {
      throw new WeftError(ErrorCode.InvalidArgument, `createBatch takes 1 to ${MAX_BATCH} instances, got ${batch.length}`, { field: "batch", size: batch.length, limit: MAX_BATCH });
    }
    const v = await this.latest();
    const rows: NewInstance[] = [];
    const objects: StoredObject[] = [];
    const seen = new Set<string>();
    let slice = performance.now();
    for (let i = 0; i < batch.length; i++) {
      // a batch of large params takes a while to check: let other requests (and runs) in between
      if (performance.now() - slice > 10) {
        await new Promise((r) => setImmediate(r));
        slice = performance.now();
      }
      const row = await this.prepare(batch[i], `createBatch[${i}]`, v.config.limits.stepResultBytes, i);
      if (seen.has(row.id)) throw new WeftError(ErrorCode.AlreadyExists, `createBatch[${i}]: instance id "${row.id}" appears twice in the batch`, { index: i, instanceId: row.id });
      seen.add(row.id);
      row.version = v.version;
      const fs = await this.startingFiles(batch[i], `createBatch[${i}]`, v.config.limits);
      row.fsHead = fs.fsHead;
      row.fsFiles = fs.fsFiles;
      objects.push(...fs.objects);
      rows.push(row);
    }
    const created = await this.engine.store.createInstances(rows, objects.length ? { tenant: this.tenant, objects } : undefined);
    this.engine.metrics.creations += created.length;
    for (const inst of created) await this.engine.enqueue(inst, "fresh");
    return created.map((inst) => new WorkflowInstance(this.engine, inst));
  }

  async get(id: string): Promise<WorkflowInstance> {
    try {
      validateInstanceId(id);
    } catch (e) {
      throw invalidIdToGet(e);
    }
    const inst = await this.engine.store.getInstance(this.tenant, this.name, id);
    if (!inst) throw instanceNotFound(this.tenant, this.name, id);
    return new WorkflowInstance(this.engine, inst);
  }

  /**
   * Cloudflare's deleteBatch (workers-sdk binding.ts): the call is refused as a whole if it is not 1 to
   * 100 ids; each distinct id is deleted once; the result lists every id given, in order, under
   * deleted or under errors ({ id, code: 10400 not found | 10001 other, message }).
   */
  async deleteBatch(ids: string[]): Promise<BatchDeleteResult> {
    const refused = deleteBatchRefusal(ids, MAX_BATCH, isAddressableInstanceId);
    if (refused) throw refused;
    const failure = new Map<string, unknown>();
    for (const id of new Set(ids)) {
      try {
        try {
          validateInstanceId(id);
        } catch (e) {
          // an id Cloudflare looks up (its cron ids) that no Weft instance can have
          throw instanceNotFound(this.tenant, this.name, id, `no instance can have this id: ${(e as Error).message}`);
        }
        await (await this.get(id)).delete();
      } catch (e) {
        if (!(e instanceof WeftError)) this.engine.config.logger.error({ err: e, tenant: this.tenant, workflow: this.name, instance: id }, "deleteBatch: deleting an instance failed");
        failure.set(id, e);
      }
    }
    const result: BatchDeleteResult = { deleted: [], errors: [] };
    for (const id of ids) {
      if (failure.has(id)) result.errors.push(batchDeleteError(id, failure.get(id)));
      else result.deleted.push({ id });
    }
    return result;
  }
}

export class WorkflowInstance {
  readonly id: string;
  private readonly engine: Engine;
  private readonly pk: number;
  private readonly rec: InstanceRecord;
  constructor(engine: Engine, rec: InstanceRecord) {
    this.engine = engine;
    this.rec = rec;
    this.pk = rec.pk;
    this.id = rec.id;
  }

  private async current(): Promise<InstanceRecord> {
    const r = await this.engine.store.getInstanceByPk(this.pk);
    if (!r) throw instanceNotFound(this.rec.tenant, this.rec.workflow, this.id, "it was deleted");
    return r;
  }

  async status(): Promise<InstanceStatusView> {
    return statusView(await this.current());
  }

  /**
   * Right after resume() or restart() Cloudflare reports the instance `running`: when this engine is
   * starting its run (a slot was free), wait for that start to be claimed, so status() says running
   * (or what the run reached since). An instance a concurrency limit holds back stays `queued`.
   */
  private async started(): Promise<void> {
    const deadline = performance.now() + 5000;
    while (this.engine.runsHere(this.pk) && performance.now() < deadline) {
      const r = await this.engine.store.getInstanceByPk(this.pk);
      if (!r || r.status !== "queued") return;
      await new Promise((res) => setImmediate(res));
    }
  }

  async describe(): Promise<InstanceDetail> {
    const r = await this.current();
    return describeInstance(this.engine, r);
  }

  async pause(): Promise<void> {
    const r = await this.current();
    checkAction("pause", r.status, r.id);
    await this.engine.pauseInstance(r);
  }

  async resume(): Promise<void> {
    const r = await this.current();
    checkAction("resume", r.status, r.id);
    await this.engine.resumeInstance(r);
    await this.started();
  }

  async terminate(options?: { rollback?: boolean }): Promise<void> {
    const r = await this.current();
    checkAction("terminate", r.status, r.id);
    await this.engine.terminateInstance(r, options?.rollback === true);
  }

  async restart(options?: { from?: RestartFrom }): Promise<void> {
    const r = await this.current();
    checkAction("restart", r.status, r.id);
    let fromSeq: number | undefined;
    if (options?.from) {
      const f = options.from;
      if (!f || typeof f !== "object" || typeof f.name !== "string") {
        throw new WeftError(ErrorCode.InvalidArgument, "restart: from must be { name: string, count?: number, type?: \"do\" | \"sleep\" | \"waitForEvent\" }", { field: "from" });
      }
      if (f.type !== undefined && f.type !== "do" && f.type !== "sleep" && f.type !== "waitForEvent") {
        throw new WeftError(ErrorCode.InvalidArgument, `restart: from.type must be "do", "sleep" or "waitForEvent", got ${JSON.stringify(f.type)}`, { field: "from.type" });
      }
      if (f.count !== undefined && (!Number.isInteger(f.count) || f.count < 1)) {
        throw new WeftError(ErrorCode.InvalidArgument, `restart: from.count is the 1-based occurrence of the step name, got ${JSON.stringify(f.count)}`, { field: "from.count" });
      }
      const hit = restartTarget(await this.engine.store.steps(this.pk), f);
      if (!hit) {
        throw stepNotInHistory(r.id, f);
      }
      fromSeq = hit.seq;
    }
    await this.engine.restartInstance(r, fromSeq, options?.from);
    await this.started();
  }

  async delete(): Promise<void> {
    await this.engine.deleteInstance(await this.current());
  }

  // ---- the instance's data, from outside (committed state only) ---------------------------------
  /** A file of the instance's filesystem, now or at a commit of its history. */
  async readFile(path: string, options?: { at?: string }): Promise<Uint8Array> {
    return this.engine.data.readFile(await this.current(), path, options?.at);
  }

  /** The entries of a directory ("" = the root), now or at a commit. */
  async listFiles(path = "", options?: { at?: string }): Promise<{ name: string; type: "file" | "directory"; size: number }[]> {
    return this.engine.data.readdir(await this.current(), path, options?.at);
  }

  /** The filesystem's commits, newest first: one per step that changed files. */
  async commits(options?: { limit?: number }): Promise<FsCommit[]> {
    return this.engine.data.log(await this.current(), options?.limit);
  }

  async diff(a: string, b?: string): Promise<FsChange[]> {
    return this.engine.data.diff(await this.current(), a, b);
  }

  /** Read-only SQL on the instance's database. */
  async query(query: string, ...bindings: SqlValue[]): Promise<SqlResult> {
    if (typeof query !== "string") throw new WeftError(ErrorCode.InvalidArgument, "query must be a string", { field: "query" });
    return this.engine.data.query(await this.current(), query, bindings, undefined, this.engine.runsHere(this.pk));
  }

  async sendEvent(event: { type: string; payload?: unknown }): Promise<void> {
    if (!event || typeof event !== "object") throw new WeftError(ErrorCode.InvalidArgument, "sendEvent takes { type, payload }", { field: "event" });
    const type = validateEventType(event.type);
    checkSerializable(event.payload, "event payload");
    const bytes = serialize(event.payload).byteLength;
    const r = await this.current();
    const limit = (await this.engine.version(r.tenant, r.workflow, r.version)).config.limits.stepResultBytes;
    if (bytes > limit) throw new WeftError(ErrorCode.TooLarge, `event payload is ${bytes} bytes, the limit is ${limit} bytes`, { size: bytes, limit });
    checkAction("sendEvent", r.status, r.id);
    await this.engine.deliverEvent(r, type, event.payload);
  }

  /** Retained lifecycle events, then live ones; ends after completed/errored/terminated. */
  async *subscribe(options?: { cursor?: number; filter?: string[] }): AsyncGenerator<{ instanceId: string; eventId: number; timestamp: Date; type: string; data?: unknown }> {
    let cursor = options?.cursor ?? 0;
    const filter = options?.filter ? new Set(options.filter) : undefined;
    const key = `h:${this.pk}`;
    for (;;) {
      let wake!: () => void;
      const changed = new Promise<void>((r) => (wake = r));
      this.engine.events.once(key, wake);
      try {
        const events = await this.engine.store.history(this.pk, cursor);
        for (const ev of events) {
          cursor = ev.eventId;
          if (!filter || filter.has(ev.type)) yield { instanceId: this.id, eventId: ev.eventId, timestamp: new Date(ev.at), type: ev.type, data: ev.data };
          if (TERMINAL_EVENTS.has(ev.type)) return;
        }
        const r = await this.engine.store.getInstanceByPk(this.pk);
        if (!r) return;
        await changed;
      } finally {
        this.engine.events.off(key, wake);
      }
    }
  }

  /** Wait until the instance reaches one of `statuses` (default: a finished one). */
  async waitFor(statuses: InstanceStatus[] = ["complete", "errored", "terminated"]): Promise<InstanceStatusView> {
    const key = `s:${this.pk}`;
    for (;;) {
      let wake!: () => void;
      const changed = new Promise<void>((r) => (wake = r));
      this.engine.events.once(key, wake);
      try {
        const s = await this.status();
        if (statuses.includes(s.status)) return s;
        await changed;
      } finally {
        this.engine.events.off(key, wake);
      }
    }
  }

  get record(): InstanceRecord {
    return this.rec;
  }
}

export type { ErrorInfo };
