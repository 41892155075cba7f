// The HTTP plumbing of the control plane: one way to declare a route (method, path, who may call it,
// the zod schemas of its body and query), which validates every request the same way, maps every
// error to one body `{ error: { code, message, details } }` with the right status, and feeds the
// OpenAPI document — so the document and the validation can never disagree.
import type { Context, Hono } from "hono";
import { z } from "zod";
import { ErrorCode, WeftError, isWeftError } from "../core/errors.ts";
import type { Principal, Tenancy } from "../tenancy/tenancy.ts";

export type Auth = "none" | "admin" | "tenant";

export interface RouteDef<B extends z.ZodType | undefined, Q extends z.ZodType | undefined> {
  method: "get" | "post" | "put" | "patch" | "delete";
  /** Hono path, e.g. /v1/tenants/:tenant */
  path: string;
  summary: string;
  auth: Auth;
  body?: B;
  query?: Q;
  /** largest body accepted (bytes), or a function of the tenant's quotas */
  maxBody?: number | ((tenant: string | undefined) => number);
  /** status → description (the OpenAPI responses) */
  responses: Record<number, string>;
  /**
   * a quota that may refuse the request once its caller is known and before its body is read or
   * parsed (a flood of refused requests then costs the engine's thread as little as it can)
   */
  admit?: (tenant: string) => void;
}

export interface RouteInput<B, Q> {
  principal: Principal | null;
  /** the :tenant of the path, once the caller may see it */
  tenant: string | undefined;
  body: B;
  query: Q;
}

type Out<T> = T extends z.ZodType ? z.output<T> : undefined;

const STATUS: Record<string, number> = {
  [ErrorCode.InvalidArgument]: 400, [ErrorCode.InvalidName]: 400, [ErrorCode.InvalidDuration]: 400, [ErrorCode.InvalidEventType]: 400,
  [ErrorCode.InvalidStepConfig]: 400, [ErrorCode.NotSerializable]: 400, [ErrorCode.InvalidPath]: 400, [ErrorCode.SqlError]: 400,
  [ErrorCode.StorageReadOnly]: 400, [ErrorCode.StorageDenied]: 400,
  [ErrorCode.Unauthorized]: 401, [ErrorCode.Forbidden]: 403, [ErrorCode.NotFound]: 404,
  [ErrorCode.AlreadyExists]: 409, [ErrorCode.InvalidState]: 409,
  [ErrorCode.TooLarge]: 413, [ErrorCode.PayloadTooLarge]: 413, [ErrorCode.StorageLimit]: 413,
  [ErrorCode.CompileError]: 422, [ErrorCode.NoWorkflowClass]: 422, [ErrorCode.AmbiguousWorkflowClass]: 422,
  [ErrorCode.QuotaExceeded]: 429,
  // the store could not write (a full disk): nothing changed, retry once there is room
  [ErrorCode.StorageFull]: 507,
  // the shared store is not reachable: nothing changed, retry once it is back
  [ErrorCode.StorageUnavailable]: 503,
};

export function errorResponse(c: Context, err: unknown, log?: (e: unknown) => void): Response {
  if (isWeftError(err)) {
    // a wrong Content-Type is an invalid argument answered with 415 (details.status says so)
    const status = err.details.status === 415 ? 415 : (STATUS[err.code] ?? 500);
    if (status === 500) log?.(err);
    const headers: Record<string, string> = {};
    if (status === 429) headers["retry-after"] = String(err.details.retryAfterSeconds ?? 1);
    if (status === 507) headers["retry-after"] = "5";
    if (status === 401) headers["www-authenticate"] = 'Bearer realm="weft"';
    const details = { ...err.details };
    delete details.status;
    if (details.closeConnection) {
      headers.connection = "close";
      delete details.closeConnection;
    }
    return c.json({ error: { code: err.code, message: err.message, details } }, status as 400, headers);
  }
  log?.(err);
  return c.json({ error: { code: ErrorCode.Internal, message: "internal error: the server logged the details", details: {} } }, 500);
}

/** JSON nested deeper than this is refused before validation (the validators recurse). */
export const MAX_JSON_DEPTH = 100;

/**
 * Is the JSON text nested deeper than `max`? One pass over the characters (strings skipped), before
 * JSON.parse: cheaper than walking the parsed value (a 50 MiB body in ~0.1 s, no allocation), and it
 * spares JSON.parse itself a body built to exhaust its stack.
 */
function depthOver(text: string, max: number): boolean {
  let depth = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === 34) {
      // a string: skip to its closing quote (escapes included)
      for (i++; i < text.length; i++) {
        const d = text.charCodeAt(i);
        if (d === 92) i++;
        else if (d === 34) break;
      }
    } else if (c === 123 || c === 91) {
      if (++depth > max) return true;
    } else if (c === 125 || c === 93) {
      depth--;
    }
  }
  return false;
}

/** The request's JSON body, read up to `limit` bytes (413 beyond), parsed (400 with the position). */
async function readJson(c: Context, limit: number): Promise<unknown> {
  const len = Number(c.req.header("content-length") ?? NaN);
  if (Number.isFinite(len) && len > limit) {
    throw new WeftError(ErrorCode.PayloadTooLarge, `the request body is ${len} bytes; the limit for this request is ${limit} bytes`, { bytes: len, limit });
  }
  const chunks: Uint8Array[] = [];
  let size = 0;
  const body = c.req.raw.body;
  if (body) {
    for await (const chunk of body as unknown as AsyncIterable<Uint8Array>) {
      size += chunk.byteLength;
      // the rest of the body is not read: the connection cannot carry another request, so say so
      if (size > limit) throw new WeftError(ErrorCode.PayloadTooLarge, `the request body is over ${limit} bytes, the limit for this request`, { limit, closeConnection: true });
      chunks.push(chunk);
    }
  }
  if (size === 0) return undefined;
  const type = c.req.header("content-type") ?? "";
  if (!/^application\/(.+\+)?json\b/i.test(type)) {
    throw new WeftError(ErrorCode.InvalidArgument, `the request body must be JSON (Content-Type: application/json), got ${JSON.stringify(type || "no Content-Type")}`, { contentType: type, status: 415 });
  }
  const text = new TextDecoder("utf-8", { fatal: false }).decode(Buffer.concat(chunks));
  if (depthOver(text, MAX_JSON_DEPTH)) {
    throw new WeftError(ErrorCode.InvalidArgument, `the request body is nested more than ${MAX_JSON_DEPTH} levels deep`, { field: "body", limit: MAX_JSON_DEPTH });
  }
  try {
    return JSON.parse(text);
  } catch (e) {
    throw new WeftError(ErrorCode.InvalidArgument, `the request body is not valid JSON: ${(e as Error).message}`, { field: "body" });
  }
}

function zodError(where: "body" | "query", e: z.ZodError): WeftError {
  const issues = e.issues.slice(0, 20).map((i) => ({ path: [where, ...i.path.map(String)].join("."), message: i.message }));
  const first = issues[0]!;
  return new WeftError(ErrorCode.InvalidArgument, `${first.path}: ${first.message}${issues.length > 1 ? ` (and ${issues.length - 1} more)` : ""}`, { issues });
}

export function bearer(c: Context): string | null {
  const h = c.req.header("authorization");
  if (!h) return null;
  const m = /^Bearer\s+(\S+)$/i.exec(h);
  return m ? m[1]! : null;
}

/** Declares routes on a Hono app and remembers them for the OpenAPI document. */
export class Routes {
  readonly defs: RouteDef<z.ZodType | undefined, z.ZodType | undefined>[] = [];
  private readonly app: Hono;
  private readonly tenancy: Tenancy;
  private readonly log: (e: unknown) => void;
  constructor(app: Hono, tenancy: Tenancy, log: (e: unknown) => void) {
    this.app = app;
    this.tenancy = tenancy;
    this.log = log;
  }

  add<B extends z.ZodType | undefined = undefined, Q extends z.ZodType | undefined = undefined>(
    def: RouteDef<B, Q>,
    handler: (c: Context, input: RouteInput<Out<B>, Out<Q>>) => Response | Promise<Response>,
  ): void {
    this.defs.push(def as RouteDef<z.ZodType | undefined, z.ZodType | undefined>);
    this.app.on(def.method.toUpperCase(), def.path, async (c) => {
      try {
        let principal: Principal | null = null;
        let tenant: string | undefined;
        if (def.auth !== "none") {
          principal = await this.tenancy.authenticate(bearer(c));
          if (!principal) throw new WeftError(ErrorCode.Unauthorized, "a valid token is required: send Authorization: Bearer <token>", {});
          const t = def.path.includes(":tenant") ? c.req.param("tenant") : undefined;
          if (t !== undefined) await this.tenancy.resolve(t); // (a shared store: as the store has it now)
          // another tenant's resources do not exist, as far as this caller can tell
          if (t !== undefined && !this.tenancy.canSee(principal, t)) throw new WeftError(ErrorCode.NotFound, `tenant "${t}" does not exist`, { tenant: t });
          if (def.auth === "admin" && principal.kind !== "admin") throw new WeftError(ErrorCode.Forbidden, "this route needs the admin token", {});
          tenant = t;
        }
        if (def.admit && tenant !== undefined) def.admit(tenant);
        let body: unknown = undefined;
        if (def.body) {
          const limit = typeof def.maxBody === "function" ? def.maxBody(tenant) : (def.maxBody ?? 1024 * 1024);
          const raw = await readJson(c, limit);
          const parsed = def.body.safeParse(raw ?? {});
          if (!parsed.success) throw zodError("body", parsed.error);
          body = parsed.data;
        }
        let query: unknown = undefined;
        if (def.query) {
          const parsed = def.query.safeParse(c.req.query());
          if (!parsed.success) throw zodError("query", parsed.error);
          query = parsed.data;
        }
        return await handler(c, { principal, tenant, body: body as Out<B>, query: query as Out<Q> });
      } catch (err) {
        return errorResponse(c, err, this.log);
      }
    });
  }

  /** OpenAPI 3.1, from the same schemas that validate the requests. */
  openapi(info: { title: string; version: string }): unknown {
    const paths: Record<string, Record<string, unknown>> = {};
    for (const d of this.defs) {
      const path = d.path.replace(/:([A-Za-z]+)/g, "{$1}");
      const params: unknown[] = [...d.path.matchAll(/:([A-Za-z]+)/g)].map((m) => ({ name: m[1], in: "path", required: true, schema: { type: "string" } }));
      if (d.query instanceof z.ZodObject) {
        for (const [name, s] of Object.entries(d.query.shape as Record<string, z.ZodType>)) {
          params.push({ name, in: "query", required: !s.safeParse(undefined).success, schema: z.toJSONSchema(s, { io: "input", unrepresentable: "any" }) });
        }
      }
      const op: Record<string, unknown> = {
        summary: d.summary,
        parameters: params,
        responses: Object.fromEntries(Object.entries(d.responses).map(([k, v]) => [k, { description: v }])),
      };
      if (d.auth !== "none") op.security = [{ bearer: [] }];
      if (d.body) op.requestBody = { required: true, content: { "application/json": { schema: z.toJSONSchema(d.body, { io: "input", unrepresentable: "any" }) } } };
      (paths[path] ??= {})[d.method] = op;
    }
    return {
      openapi: "3.1.0",
      info,
      components: {
        securitySchemes: { bearer: { type: "http", scheme: "bearer" } },
        schemas: { Error: { type: "object", properties: { error: { type: "object", properties: { code: { type: "string" }, message: { type: "string" }, details: { type: "object" } }, required: ["code", "message", "details"] } } } },
      },
      paths,
    };
  }
}
