// The control plane's HTTP API (docs/http-api.md): thin routes over the engine and the tenancy layer.
// Every route is declared through Routes (http.ts), which authenticates, hides other tenants' resources
// behind 404, validates body and query with the zod schemas (schemas.ts) and maps errors to one body.
import { renderValue } from "./render.ts";
import { Hono, type Context } from "hono";
import { streamSSE } from "hono/streaming";
import { ErrorCode, WeftError } from "../core/errors.ts";
import { validateWorkflowName } from "../core/ids.ts";
import type { InstanceStatus } from "../core/status.ts";
import type { Engine } from "../engine/engine.ts";
import type { WorkflowInstance } from "../engine/binding.ts";
import { HostFunctionRef, SecretValue, WorkflowBindingRef, redactEnv } from "../engine/secrets.ts";
import type { InstanceRecord } from "../store/ports.ts";
import type { Tenancy, Tenant } from "../tenancy/tenancy.ts";
import { gitRoute } from "./git-route.ts";
import { mountDashboard } from "./dashboard.ts";
import { Routes, errorResponse } from "./http.ts";
import * as S from "./schemas.ts";

export interface AppOptions {
  engine: Engine;
  tenancy: Tenancy;
  /** Prometheus text for /metrics */
  metrics?: () => Promise<{ contentType: string; body: string }>;
  /** false while starting or draining: /readyz answers 503 */
  ready: () => boolean;
  log: (msg: string, err?: unknown) => void;
  version: string;
}

const STATUSES: InstanceStatus[] = ["queued", "running", "paused", "errored", "terminated", "complete", "waiting", "waitingForPause"];
const iso = (ms: number | null) => (ms === null ? null : new Date(ms).toISOString());

function tenantView(t: Tenant) {
  return { name: t.name, quotas: t.quotas, createdAt: iso(t.createdAt) };
}

export function summary(r: InstanceRecord) {
  return { id: r.id, workflow: r.workflow, status: r.status, version: r.version, createdAt: iso(r.createdAt), modifiedAt: iso(r.modifiedAt), endedAt: iso(r.endedAt), metadata: r.metadata };
}

function counts(c: Record<string, number>): Record<string, number> {
  return Object.fromEntries(STATUSES.map((s) => [s, c[s] ?? 0]));
}

function parseTime(v: string | undefined): number | undefined {
  if (v === undefined) return undefined;
  return /^\d+$/.test(v) ? Number(v) : Date.parse(v);
}

/** env from JSON: { secret }, { hostFunction } and { workflow[, tenant] } become the engine's bindings, the rest stays as is */
function bindings(env: Record<string, unknown> | undefined): Record<string, unknown> | undefined {
  if (!env) return undefined;
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(env)) {
    const o = v as Record<string, unknown> | null;
    if (o && typeof o === "object" && !Array.isArray(o) && Object.keys(o).length === 1 && typeof o.secret === "string") out[k] = new SecretValue(o.secret);
    else if (o && typeof o === "object" && !Array.isArray(o) && Object.keys(o).length === 1 && typeof o.hostFunction === "string") out[k] = new HostFunctionRef(o.hostFunction);
    else if (o && typeof o === "object" && !Array.isArray(o) && typeof o.workflow === "string" && Object.keys(o).every((x) => x === "workflow" || (x === "tenant" && typeof o.tenant === "string"))) {
      out[k] = new WorkflowBindingRef(o.workflow, o.tenant as string | undefined);
    }
    else out[k] = v;
  }
  return out;
}

/** ctx.fs errors (Node codes) as API errors: missing → 404; a file where a directory was meant (or the reverse) → 400 */
function fsHttpError(e: unknown, path: string): never {
  const code = (e as { code?: string }).code;
  if (code === "ENOENT") throw new WeftError(ErrorCode.NotFound, (e as Error).message, { path });
  if (code === "ENOTDIR" || code === "EISDIR") throw new WeftError(ErrorCode.InvalidArgument, (e as Error).message, { path });
  throw e;
}

export function createApp(o: AppOptions): { app: Hono; routes: Routes } {
  const { engine, tenancy } = o;
  const app = new Hono();
  const routes = new Routes(app, tenancy, (e) => o.log("request failed", e));
  const quota = (t: string | undefined) => (t ? tenancy.get(t)?.quotas : undefined);
  const payloadLimit = (t: string | undefined) => quota(t)?.maxPayloadBytes ?? 1024 * 1024;

  const workflowOf = (c: Context, tenant: string) => {
    validateWorkflowName(c.req.param("workflow"));
    return engine.workflow(tenant, c.req.param("workflow")!);
  };
  // get() checks the id (and answers an invalid one with Cloudflare's instance.not_found text first)
  const instanceOf = async (c: Context, tenant: string): Promise<WorkflowInstance> => {
    return workflowOf(c, tenant).get(c.req.param("id")!);
  };

  // ---- service ----------------------------------------------------------------------------------
  routes.add({ method: "get", path: "/healthz", summary: "liveness", auth: "none", responses: { 200: "the process is up" } }, (c) => c.json({ ok: true }));
  routes.add({ method: "get", path: "/readyz", summary: "readiness", auth: "none", responses: { 200: "ready", 503: "starting, draining, or the store cannot be reached" } }, async (c) => {
    if (!o.ready()) return c.json({ ready: false, reason: "starting or draining" }, 503);
    if (!(await engine.storeReachable())) return c.json({ ready: false, reason: "the store cannot be reached" }, 503);
    return c.json({ ready: true });
  });
  routes.add({ method: "get", path: "/metrics", summary: "Prometheus metrics", auth: "admin", responses: { 200: "text exposition format" } }, async (c) => {
    if (!o.metrics) return c.text("", 404);
    const m = await o.metrics();
    return c.body(m.body, 200, { "content-type": m.contentType });
  });

  routes.add({ method: "get", path: "/v1/whoami", summary: "who the token is", auth: "tenant", responses: { 200: "{ kind: admin } | { kind: tenant, tenant }" } }, (c, { principal }) =>
    c.json(principal!.kind === "admin" ? { kind: "admin" } : { kind: "tenant", tenant: (principal as { tenant: string }).tenant }));

  // ---- tenants and tokens ---------------------------------------------------------------------------
  routes.add({ method: "post", path: "/v1/tenants", summary: "create a tenant", auth: "admin", body: S.CreateTenant, responses: { 201: "Tenant", 409: "exists" } }, async (c, { body }) =>
    c.json(tenantView(await tenancy.create(body.name, body.quotas)), 201));
  routes.add({ method: "get", path: "/v1/tenants", summary: "list tenants", auth: "tenant", responses: { 200: "{ tenants }" } }, async (c, { principal }) =>
    (await tenancy.resolveAll(), c).json({ tenants: tenancy.list().filter((t) => principal!.kind === "admin" || t.name === (principal as { tenant: string }).tenant).map(tenantView) }));
  routes.add({ method: "get", path: "/v1/tenants/:tenant", summary: "a tenant", auth: "tenant", responses: { 200: "Tenant" } }, (c, { tenant }) =>
    c.json(tenantView(tenancy.get(tenant!)!)));
  routes.add({ method: "patch", path: "/v1/tenants/:tenant", summary: "change a tenant's quotas", auth: "admin", body: S.PatchTenant, responses: { 200: "Tenant" } }, async (c, { tenant, body }) =>
    c.json(tenantView(await tenancy.setQuotas(tenant!, body.quotas))));
  routes.add({ method: "post", path: "/v1/tenants/:tenant/tokens", summary: "issue a tenant token (shown once)", auth: "admin", body: S.CreateToken, responses: { 201: "{ id, name, token, createdAt }" } }, async (c, { tenant, body }) => {
    const t = await tenancy.issueToken(tenant!, body.name ?? "default");
    return c.json({ ...t, createdAt: iso(t.createdAt) }, 201);
  });
  routes.add({ method: "get", path: "/v1/tenants/:tenant/tokens", summary: "list a tenant's tokens", auth: "admin", responses: { 200: "{ tokens }" } }, async (c, { tenant }) =>
    c.json({ tokens: (await tenancy.tokens(tenant!)).map((t) => ({ id: t.id, name: t.name, createdAt: iso(t.createdAt), revokedAt: iso(t.revokedAt) })) }));
  routes.add({ method: "delete", path: "/v1/tenants/:tenant/tokens/:tokenId", summary: "revoke a token", auth: "admin", responses: { 204: "revoked" } }, async (c, { tenant }) => {
    await tenancy.revoke(tenant!, c.req.param("tokenId")!);
    return c.body(null, 204);
  });

  routes.add({
    method: "get", path: "/v1/tenants/:tenant/activity", summary: "instances created and ended over time", auth: "tenant", query: S.ActivityQuery,
    responses: { 200: "{ from, to, bucketSeconds, buckets: { at, created, completed, errored, terminated }[] }" },
  }, async (c, { tenant, query }) => {
    const to = parseTime(query.to) ?? engine.clock.now();
    const from = parseTime(query.from) ?? to - 24 * 3600_000;
    const bucketMs = (query.bucket === undefined ? 3600 : Number(query.bucket)) * 1000;
    if (bucketMs <= 0) throw new WeftError(ErrorCode.InvalidArgument, "query.bucket must be at least 1 second", { field: "bucket" });
    if (!(from < to)) throw new WeftError(ErrorCode.InvalidArgument, `query.from must be before query.to (from ${iso(from)}, to ${iso(to)})`, { field: "from" });
    const n = Math.ceil((to - from) / bucketMs);
    if (n > 1000) throw new WeftError(ErrorCode.InvalidArgument, `that is ${n} buckets; at most 1000 (widen query.bucket or narrow from/to)`, { field: "bucket", limit: 1000 });
    if (query.workflow !== undefined) validateWorkflowName(query.workflow);
    const buckets = await engine.activity({ tenant: tenant!, workflow: query.workflow, from, to, bucketMs });
    return c.json({ from: iso(from), to: iso(to), bucketSeconds: bucketMs / 1000, buckets: buckets.map((b) => ({ ...b, at: iso(b.at) })) });
  });

  // ---- workflows -------------------------------------------------------------------------------------
  const W = "/v1/tenants/:tenant/workflows";
  routes.add({ method: "get", path: W, summary: "list workflows", auth: "tenant", responses: { 200: "{ workflows }" } }, async (c, { tenant }) => {
    const list = await engine.listWorkflows(tenant!);
    const workflows = [];
    for (const w of list) workflows.push({ name: w.workflow, latestVersion: w.latestVersion, updatedAt: iso(w.updatedAt), instances: counts(await engine.countByStatus(tenant!, w.workflow)) });
    return c.json({ workflows });
  });
  routes.add({
    method: "put", path: `${W}/:workflow`, summary: "deploy a version", auth: "tenant", body: S.Deploy,
    maxBody: (t) => (quota(t)?.maxCodeBytes ?? 5 * 1024 * 1024) + 1024 * 1024,
    responses: { 200: "{ workflow, version, className, createdAt, ignored }", 413: "code over the tenant's quota", 422: "does not compile / no workflow class" },
  }, async (c, { tenant, body }) => {
    const workflow = validateWorkflowName(c.req.param("workflow"));
    const bytes = Object.values(body.modules).reduce((n, s) => n + Buffer.byteLength(s), 0);
    const limit = quota(tenant)!.maxCodeBytes;
    if (bytes > limit) throw new WeftError(ErrorCode.PayloadTooLarge, `the modules are ${bytes} bytes; tenant "${tenant}" may deploy at most ${limit} bytes of code (quotas.maxCodeBytes)`, { bytes, limit });
    const r = await engine.deploy({ tenant: tenant!, workflow, code: { mainModule: body.mainModule, modules: body.modules }, className: body.className, limits: body.limits, egress: body.egress, env: bindings(body.env) });
    const v = await engine.version(tenant!, workflow, r.version);
    return c.json({ workflow, version: r.version, className: r.className, createdAt: iso(v.createdAt), ignored: r.ignored });
  });
  routes.add({ method: "get", path: `${W}/:workflow`, summary: "a workflow and its versions", auth: "tenant", responses: { 200: "workflow" } }, async (c, { tenant }) => {
    const workflow = validateWorkflowName(c.req.param("workflow"));
    const latest = await engine.latestVersion(tenant!, workflow);
    if (!latest) throw new WeftError(ErrorCode.NotFound, `workflow "${workflow}" does not exist in tenant "${tenant}"`, { workflow });
    const versions = [];
    for (const v of await engine.listVersions(tenant!, workflow)) versions.push({ version: v.version, className: (await engine.version(tenant!, workflow, v.version)).className, createdAt: iso(v.createdAt) });
    return c.json({ name: workflow, latestVersion: latest.version, versions, instances: counts(await engine.countByStatus(tenant!, workflow)) });
  });
  routes.add({ method: "get", path: `${W}/:workflow/versions/:version`, summary: "one version with its code", auth: "tenant", responses: { 200: "version" } }, async (c, { tenant }) => {
    const v = await engine.version(tenant!, validateWorkflowName(c.req.param("workflow")), c.req.param("version")!);
    return c.json({
      version: v.version, className: v.className, createdAt: iso(v.createdAt), mainModule: v.code.mainModule, modules: v.code.modules,
      limits: v.config.limits, egress: { allow: v.config.egress.allow }, env: redactEnv(v.config.env, v.config.hostNames),
    });
  });
  routes.add({ method: "delete", path: `${W}/:workflow`, summary: "delete a workflow, its versions and instances", auth: "tenant", responses: { 204: "deleted" } }, async (c, { tenant }) => {
    const workflow = validateWorkflowName(c.req.param("workflow"));
    if (!(await engine.latestVersion(tenant!, workflow))) throw new WeftError(ErrorCode.NotFound, `workflow "${workflow}" does not exist in tenant "${tenant}"`, { workflow });
    await engine.deleteWorkflow(tenant!, workflow);
    return c.body(null, 204);
  });

  // ---- instances --------------------------------------------------------------------------------------
  const I = `${W}/:workflow/instances`;
  routes.add({ method: "post", path: I, summary: "create an instance", auth: "tenant", body: S.CreateInstance, maxBody: payloadLimit, responses: { 201: "InstanceSummary", 409: "id exists", 429: "over the creation rate" } }, async (c, { tenant, body }) => {
    const wf = workflowOf(c, tenant!);
    await tenancy.takeCreations(tenant!, 1);
    const inst = await wf.create(body);
    return c.json(summary(inst.record), 201);
  });
  routes.add({
    method: "post", path: `${I}/batch`, summary: "create up to 100 instances, all or nothing", auth: "tenant", body: S.CreateBatch,
    maxBody: (t) => Math.min(100 * payloadLimit(t), 64 * 1024 * 1024), responses: { 201: "{ instances }", 429: "over the creation rate" },
  }, async (c, { tenant, body }) => {
    const wf = workflowOf(c, tenant!);
    await tenancy.takeCreations(tenant!, body.instances.length);
    const created = await wf.createBatch(body.instances);
    return c.json({ instances: created.map((i) => summary(i.record)) }, 201);
  });
  routes.add({
    method: "post", path: `${I}/batch/delete`, summary: "delete up to 100 instances (Cloudflare's batch delete)", auth: "tenant", body: S.DeleteBatch,
    responses: { 200: "{ deleted: { id }[], errors: { id, code: 10400 | 10001, message }[] }: every id given, in order", 400: "not 1 to 100 ids, or one that is no id" },
  }, async (c, { tenant, body }) => c.json(await workflowOf(c, tenant!).deleteBatch(body.instances)));
  routes.add({ method: "get", path: I, summary: "list instances", auth: "tenant", query: S.ListInstances, responses: { 200: "{ instances, cursor }" } }, async (c, { tenant, query }) => {
    const workflow = validateWorkflowName(c.req.param("workflow"));
    const limit = query.limit === undefined ? 50 : Number(query.limit);
    if (limit < 1 || limit > 1000) throw new WeftError(ErrorCode.InvalidArgument, `query.limit must be from 1 to 1000, got ${limit}`, { field: "limit" });
    const metadata: Record<string, string> = {};
    for (const [k, v] of Object.entries(query)) {
      if (k.startsWith("metadata.")) metadata[k.slice("metadata.".length)] = v as string;
      else if (!["status", "createdAfter", "createdBefore", "limit", "cursor", "direction", "idPrefix"].includes(k)) {
        throw new WeftError(ErrorCode.InvalidArgument, `unknown query parameter "${k}" (filters: status, idPrefix, createdAfter, createdBefore, metadata.KEY, limit, cursor, direction)`, { field: k });
      }
    }
    let cursor: number | undefined;
    if (query.cursor !== undefined) {
      const decoded = /^[A-Za-z0-9_-]+$/.test(query.cursor) ? Buffer.from(query.cursor, "base64url").toString() : "";
      cursor = /^\d{1,15}$/.test(decoded) ? Number(decoded) : NaN;
      if (!Number.isSafeInteger(cursor)) throw new WeftError(ErrorCode.InvalidArgument, "query.cursor is not a cursor this API gave out", { field: "cursor" });
    }
    const rows = await engine.listInstances({
      tenant: tenant!, workflow, status: query.status, createdAfter: parseTime(query.createdAfter), createdBefore: parseTime(query.createdBefore),
      metadata, idPrefix: query.idPrefix, cursor, limit: limit + 1, direction: query.direction ?? "desc",
    });
    const page = rows.slice(0, limit);
    const next = rows.length > limit ? Buffer.from(String(page[page.length - 1]!.pk)).toString("base64url") : null;
    return c.json({ instances: page.map(summary), cursor: next });
  });
  routes.add({ method: "get", path: `${I}/:id`, summary: "an instance (InstanceStatusAndLogs)", auth: "tenant", responses: { 200: "instance detail" } }, async (c, { tenant }) => {
    const inst = await instanceOf(c, tenant!);
    // every value the journal accepted renders (render.ts), never a 500
    return c.json(renderValue(await inst.describe()) as object);
  });
  const action = (name: "pause" | "resume") =>
    routes.add({ method: "post", path: `${I}/:id/${name}`, summary: `${name} an instance`, auth: "tenant", responses: { 200: "{ id, status }", 409: "not possible in this status" } }, async (c, { tenant }) => {
      const inst = await instanceOf(c, tenant!);
      await inst[name]();
      return c.json({ id: inst.id, status: (await inst.status()).status });
    });
  action("pause");
  action("resume");
  routes.add({ method: "post", path: `${I}/:id/terminate`, summary: "terminate an instance", auth: "tenant", body: S.Terminate, responses: { 200: "{ id, status }" } }, async (c, { tenant, body }) => {
    const inst = await instanceOf(c, tenant!);
    await inst.terminate({ rollback: body.rollback });
    return c.json({ id: inst.id, status: (await inst.status()).status });
  });
  routes.add({ method: "post", path: `${I}/:id/restart`, summary: "restart an instance (from a step)", auth: "tenant", body: S.Restart, responses: { 200: "{ id, status }" } }, async (c, { tenant, body }) => {
    const inst = await instanceOf(c, tenant!);
    await inst.restart(body.from ? { from: body.from } : undefined);
    return c.json({ id: inst.id, status: (await inst.status()).status });
  });
  routes.add({ method: "delete", path: `${I}/:id`, summary: "delete an instance", auth: "tenant", responses: { 204: "deleted" } }, async (c, { tenant }) => {
    await (await instanceOf(c, tenant!)).delete();
    return c.body(null, 204);
  });
  routes.add({
    method: "post", path: `${I}/:id/events`, summary: "send an event", auth: "tenant", body: S.SendEvent, maxBody: payloadLimit,
    responses: { 202: "accepted", 429: "over the event rate, or the instance's event buffer is full" }, admit: (t) => tenancy.takeEvent(t),
  }, async (c, { tenant, body }) => {
    await (await instanceOf(c, tenant!)).sendEvent({ type: body.type, payload: body.payload });
    return c.json({ accepted: true }, 202);
  });
  routes.add({ method: "get", path: `${I}/:id/events`, summary: "the instance's events as Server-Sent Events", auth: "tenant", query: S.EventsQuery, responses: { 200: "text/event-stream" } }, async (c, { tenant, query }) => {
    const inst = await instanceOf(c, tenant!);
    const last = c.req.header("last-event-id");
    const cursor = query.cursor !== undefined ? Number(query.cursor) : last && /^\d+$/.test(last) ? Number(last) : 0;
    return streamSSE(c, async (stream) => {
      const it = inst.subscribe({ cursor });
      stream.onAbort(() => void it.return(undefined));
      for await (const ev of it) {
        await stream.writeSSE({ id: String(ev.eventId), event: ev.type, data: JSON.stringify(renderValue({ ...ev, timestamp: ev.timestamp.toISOString() })) });
      }
    });
  });
  routes.add({ method: "get", path: `${I}/:id/logs`, summary: "the instance's log, paged", auth: "tenant", query: S.LogsQuery, responses: { 200: "{ logs, cursor }" } }, async (c, { tenant, query }) => {
    const inst = await instanceOf(c, tenant!);
    const limit = query.limit === undefined ? 100 : Number(query.limit);
    if (limit < 1 || limit > 1000) throw new WeftError(ErrorCode.InvalidArgument, `query.limit must be from 1 to 1000, got ${limit}`, { field: "limit" });
    const lines = await engine.logs(inst.record, Number(query.after ?? 0), limit);
    return c.json({ logs: lines.map((l) => ({ seq: l.seq, at: iso(l.at), level: l.level, message: l.message })), cursor: lines.length === limit ? lines[lines.length - 1]!.seq : null });
  });

  // ---- the instance's data --------------------------------------------------------------------------
  routes.add({ method: "get", path: `${I}/:id/commits`, summary: "the filesystem's commits", auth: "tenant", query: S.CommitsQuery, responses: { 200: "{ commits }" } }, async (c, { tenant, query }) => {
    const inst = await instanceOf(c, tenant!);
    return c.json({ commits: (await inst.commits({ limit: query.limit ? Number(query.limit) : 1000 })).map((x) => ({ ...x, at: iso(x.at) })) });
  });
  routes.add({ method: "get", path: `${I}/:id/tree`, summary: "a directory of the filesystem", auth: "tenant", query: S.PathQuery, responses: { 200: "{ entries }" } }, async (c, { tenant, query }) => {
    const inst = await instanceOf(c, tenant!);
    return c.json({ entries: await inst.listFiles(query.path ?? "", { at: query.at }).catch((e) => fsHttpError(e, query.path ?? "")) });
  });
  routes.add({ method: "get", path: `${I}/:id/file`, summary: "a file's bytes", auth: "tenant", query: S.PathQuery, responses: { 200: "application/octet-stream" } }, async (c, { tenant, query }) => {
    const inst = await instanceOf(c, tenant!);
    if (!query.path) throw new WeftError(ErrorCode.InvalidArgument, "query.path is required", { field: "path" });
    const data = await inst.readFile(query.path, { at: query.at }).catch((e) => fsHttpError(e, query.path!));
    return c.body(data as Uint8Array<ArrayBuffer>, 200, { "content-type": "application/octet-stream" });
  });
  routes.add({ method: "post", path: `${I}/:id/sql`, summary: "read-only SQL on the instance's database", auth: "tenant", body: S.SqlQuery, responses: { 200: "{ columns, rows, rowsRead, rowsWritten }" } }, async (c, { tenant, body }) => {
    const inst = await instanceOf(c, tenant!);
    const r = await inst.query(body.query, ...(body.params ?? []).map((p) => (typeof p === "boolean" ? (p ? 1 : 0) : p)));
    const rows = r.rows.map((row) => row.map((v) => (v instanceof Uint8Array ? { base64: Buffer.from(v).toString("base64") } : typeof v === "bigint" ? v.toString() : v)));
    return c.json({ ...r, rows });
  });

  // git: authorized per tenant like every route (Basic auth with the token as password, or Bearer)
  const git = gitRoute(engine, async (token, t) => {
    const p = await tenancy.authenticate(token);
    if (p === null) return "unauthenticated";
    return tenancy.canSee(p, t);
  });
  for (const m of ["GET", "POST"]) app.on(m, `${I}/:id/repo.git/*`, (c) => git(c.req.raw).catch((e) => errorResponse(c, e, (x) => o.log("git failed", x))));

  mountDashboard(app);
  app.get("/openapi.json", (c) => c.json(routes.openapi({ title: "Weft", version: o.version })));
  app.notFound((c) => c.json({ error: { code: ErrorCode.NotFound, message: `no route ${c.req.method} ${new URL(c.req.url).pathname}; see /openapi.json`, details: {} } }, 404));
  app.onError((err, c) => errorResponse(c, err, (e) => o.log("unhandled", e)));
  return { app, routes };
}
