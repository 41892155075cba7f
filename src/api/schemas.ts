// The request schemas of the HTTP API (zod): they validate every request and generate /openapi.json.
// Names and ids are checked again by the engine's own validators, which give the precise messages.
import { z } from "zod";
import { INSTANCE_STATUSES } from "../core/status.ts";

const name = z.string().min(1).max(64);
const positive = z.number().int().min(1);

export const QuotasSchema = z.strictObject({
  maxRunningInstances: positive.max(1_000_000),
  createsPerSecond: positive.max(10_000_000),
  createBurst: positive.max(10_000_000),
  eventsPerSecond: positive.max(10_000_000),
  eventBurst: positive.max(10_000_000),
  maxCodeBytes: positive.max(64 * 1024 * 1024),
  maxPayloadBytes: positive.max(64 * 1024 * 1024),
}).partial();

export const CreateTenant = z.strictObject({ name, quotas: QuotasSchema.optional() });
export const PatchTenant = z.strictObject({ quotas: QuotasSchema });
export const CreateToken = z.strictObject({ name: z.string().min(1).max(100).optional() });

/**
 * Any JSON value: a request body is JSON.parse'd (readJson), so what is in it is JSON already. z.json()
 * would re-validate and copy every node — seconds of main-thread work and garbage for a batch of
 * large params (bug: a 50 MiB batch held the loop for ~12 s) — for nothing. Documented as JSON in the
 * OpenAPI document all the same.
 */
const JsonValue = z.unknown().meta({ description: "any JSON value" });

/**
 * A binding in a deploy's env: a plain JSON value, a secret, a host function (or host object)
 * registered by name, or a Workflow binding to one of the deploying tenant's workflows (`tenant`, if
 * given, must be the deploying tenant: 403 otherwise).
 */
export const Binding: z.ZodType = z.union([
  z.strictObject({ secret: z.string().max(64 * 1024) }),
  z.strictObject({ hostFunction: z.string().min(1).max(100) }),
  z.strictObject({ workflow: name, tenant: name.optional() }),
  z.json(),
]);

export const Limits = z.strictObject({
  memoryMb: z.number().int(), cpuMsPerStep: z.number().int(), steps: z.number().int(), stepResultBytes: z.number().int(),
  concurrency: z.number().int(), sqlBytes: z.number().int(), sqlMsPerQuery: z.number().int(), fileBytes: z.number().int(), files: z.number().int(),
  hostObjects: z.number().int(), pendingCalls: z.number().int(), bufferedEvents: z.number().int(), bufferedEventBytes: z.number().int(), journalBytes: z.number().int(), logLines: z.number().int(), logBytes: z.number().int(),
}).partial();

export const Deploy = z.strictObject({
  mainModule: z.string().min(1).max(256),
  modules: z.record(z.string().min(1).max(256), z.string()).refine((m) => Object.keys(m).length > 0 && Object.keys(m).length <= 200, "1 to 200 modules"),
  className: z.string().min(1).max(128).optional(),
  limits: Limits.optional(),
  egress: z.strictObject({ allow: z.array(z.string().min(1).max(253)).max(1000) }).optional(),
  env: z.record(z.string().min(1).max(128), Binding).optional(),
});

const Metadata = z.record(z.string().max(64), z.string().max(1024)).refine((m) => Object.keys(m).length <= 32, "at most 32 metadata keys");

export const CreateInstance = z.strictObject({
  id: z.string().min(1).max(100).optional(),
  params: JsonValue.optional(),
  metadata: Metadata.optional(),
  files: z.record(z.string(), z.string()).optional(),
  fork: z.strictObject({ instance: z.string().min(1).max(100), workflow: name.optional(), commit: z.string().max(64).optional() }).optional(),
});

// An empty batch reaches the engine, which refuses it with Cloudflare's text (minItems stays documented).
export const CreateBatch = z.strictObject({ instances: z.array(CreateInstance).max(100).meta({ minItems: 1 }) });
// 1 to 100 ids, checked by the engine so that a refusal carries Cloudflare's text (workers-sdk binding.ts deleteBatch)
export const DeleteBatch = z.strictObject({ instances: z.array(z.string().max(1000)).meta({ minItems: 1, maxItems: 100, description: "instance ids" }) });

const timeParam = z.union([z.iso.datetime({ offset: true }), z.string().regex(/^\d{1,15}$/)]);

export const ListInstances = z.object({
  status: z.enum(INSTANCE_STATUSES).optional(),
  createdAfter: timeParam.optional(),
  createdBefore: timeParam.optional(),
  limit: z.string().regex(/^\d{1,4}$/).optional(),
  cursor: z.string().max(64).optional(),
  direction: z.enum(["asc", "desc"]).optional(),
  idPrefix: z.string().min(1).max(256).optional(),
}).catchall(z.string().max(1024)); // metadata.KEY=VALUE

export const ActivityQuery = z.strictObject({
  workflow: z.string().max(256).optional(),
  from: timeParam.optional(),
  to: timeParam.optional(),
  /** bucket width in seconds */
  bucket: z.string().regex(/^\d{1,7}$/).optional(),
});

export const Terminate = z.strictObject({ rollback: z.boolean().optional() });
export const Restart = z.strictObject({
  from: z.strictObject({ name: z.string().min(1).max(256), count: z.number().int().min(1).optional(), type: z.enum(["do", "sleep", "waitForEvent"]).optional() }).optional(),
});
export const SendEvent = z.strictObject({ type: z.string().min(1).max(100), payload: JsonValue.optional() });
export const Empty = z.strictObject({});

export const LogsQuery = z.strictObject({ after: z.string().regex(/^\d{1,15}$/).optional(), limit: z.string().regex(/^\d{1,4}$/).optional() });
export const EventsQuery = z.strictObject({ cursor: z.string().regex(/^\d{1,15}$/).optional() });
export const CommitsQuery = z.strictObject({ limit: z.string().regex(/^\d{1,5}$/).optional() });
export const PathQuery = z.strictObject({ path: z.string().max(4096).optional(), at: z.string().max(64).optional() });
export const SqlQuery = z.strictObject({ query: z.string().min(1).max(100_000), params: z.array(z.union([z.string(), z.number(), z.null(), z.boolean()])).max(1000).optional() });
