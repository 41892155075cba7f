// The dashboard's only way to the engine: the HTTP API (docs/http-api.md) with the session's Bearer
// token. Errors keep the API's stable code, message and details so pages can show them precisely.
export class ApiError extends Error {
  status: number;
  code: string;
  details: Record<string, unknown>;
  constructor(status: number, code: string, message: string, details: Record<string, unknown>) {
    super(message);
    this.status = status;
    this.code = code;
    this.details = details;
  }
}

export interface Session {
  token: string;
  kind: "admin" | "tenant";
  /** set for a tenant token: the one tenant it sees */
  tenant?: string;
}

export type Query = Record<string, string | number | undefined | null>;

export function qs(q: Query | undefined): string {
  if (!q) return "";
  const p = new URLSearchParams();
  for (const [k, v] of Object.entries(q)) if (v !== undefined && v !== null && v !== "") p.set(k, String(v));
  const s = p.toString();
  return s ? `?${s}` : "";
}

export class Api {
  readonly token: string;
  constructor(token: string) {
    this.token = token;
  }

  async request(method: string, path: string, body?: unknown, signal?: AbortSignal): Promise<Response> {
    const headers: Record<string, string> = { authorization: `Bearer ${this.token}` };
    if (body !== undefined) headers["content-type"] = "application/json";
    const r = await fetch(path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body), signal });
    if (!r.ok) {
      let e: { code?: string; message?: string; details?: Record<string, unknown> } = {};
      try {
        e = ((await r.json()) as { error?: typeof e }).error ?? {};
      } catch {
        // not the API's error body (a proxy in between): keep the status
      }
      throw new ApiError(r.status, e.code ?? `http_${r.status}`, e.message ?? `${method} ${path} answered ${r.status}`, e.details ?? {});
    }
    return r;
  }

  async get<T>(path: string, q?: Query, signal?: AbortSignal): Promise<T> {
    return (await (await this.request("GET", path + qs(q), undefined, signal)).json()) as T;
  }
  async send<T>(method: "POST" | "PUT" | "PATCH" | "DELETE", path: string, body?: unknown): Promise<T> {
    const r = await this.request(method, path, body);
    return (r.status === 204 ? undefined : await r.json()) as T;
  }
  async bytes(path: string, q?: Query): Promise<Uint8Array> {
    return new Uint8Array(await (await this.request("GET", path + qs(q))).arrayBuffer());
  }
}

const enc = encodeURIComponent;
export const paths = {
  tenants: () => "/v1/tenants",
  activity: (t: string) => `/v1/tenants/${enc(t)}/activity`,
  workflows: (t: string) => `/v1/tenants/${enc(t)}/workflows`,
  workflow: (t: string, w: string) => `/v1/tenants/${enc(t)}/workflows/${enc(w)}`,
  version: (t: string, w: string, v: string) => `/v1/tenants/${enc(t)}/workflows/${enc(w)}/versions/${enc(v)}`,
  instances: (t: string, w: string) => `/v1/tenants/${enc(t)}/workflows/${enc(w)}/instances`,
  instance: (t: string, w: string, id: string) => `/v1/tenants/${enc(t)}/workflows/${enc(w)}/instances/${enc(id)}`,
};

// ---- the API's shapes (docs/http-api.md) ------------------------------------------------------------
export const STATUSES = ["queued", "running", "waiting", "waitingForPause", "paused", "errored", "terminated", "complete"] as const;
export type Status = (typeof STATUSES)[number];
export type Counts = Record<Status, number>;

export interface Tenant {
  name: string;
  quotas: Record<string, number>;
  createdAt: string;
}
export interface WorkflowSummary {
  name: string;
  latestVersion: string;
  updatedAt: string;
  instances: Counts;
}
export interface WorkflowDetail {
  name: string;
  latestVersion: string;
  versions: { version: string; className: string; createdAt: string }[];
  instances: Counts;
}
export interface VersionDetail {
  version: string;
  className: string;
  createdAt: string;
  mainModule: string;
  modules: Record<string, string>;
  limits: Record<string, unknown>;
  egress: { allow: string[] };
  env: Record<string, unknown>;
}
export interface InstanceSummary {
  id: string;
  workflow: string;
  status: Status;
  version: string;
  createdAt: string;
  modifiedAt: string;
  endedAt: string | null;
  metadata: Record<string, string>;
}
export interface ErrorView {
  name: string;
  message: string;
  stack?: string;
}
export interface Attempt {
  start: string;
  end: string | null;
  success: boolean | null;
  error: ErrorView | null;
}
export type StepView =
  | { type: "step"; name: string; count: number; start: string; end: string | null; success: boolean | null; output?: unknown; error: ErrorView | null; config: unknown; attempts: Attempt[]; retriesAt?: string | null }
  | { type: "sleep"; name: string; count: number; start: string; end: string; finished: boolean }
  | { type: "waitForEvent"; name: string; count: number; start: string; end: string | null; finished: boolean; error: ErrorView | null; output?: unknown }
  | { type: "rollback"; name: string; start: string; end: string | null; success: boolean | null; error: ErrorView | null }
  | { type: "termination"; trigger: { source: string } };
export interface InstanceDetail {
  id: string;
  workflow: string;
  status: Status;
  params: unknown;
  metadata: Record<string, string>;
  trigger: { source: string };
  versionId: string;
  queued: string;
  start: string | null;
  end: string | null;
  success: boolean | null;
  error: ErrorView | null;
  output?: unknown;
  steps: StepView[];
}
export interface LogLine {
  seq: number;
  at: string;
  level: string;
  message: string;
}
export interface Commit {
  oid: string;
  message: string;
  step: { name: string; count: number } | null;
  at: string;
  parents: string[];
}
export interface TreeEntry {
  name: string;
  type: "file" | "directory";
  size: number;
}
export interface SqlResult {
  columns: string[];
  rows: unknown[][];
  rowsRead: number;
  rowsWritten: number;
}
export interface ActivityBucket {
  at: string;
  created: number;
  completed: number;
  errored: number;
  terminated: number;
}

export const TERMINAL: ReadonlySet<Status> = new Set(["complete", "errored", "terminated"]);
