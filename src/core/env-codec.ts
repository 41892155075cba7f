// The stored form of a deploy's env, decided once: plain JSON values, with four markers —
// `{ __weftFn: "path" }` for a function (or a host function) the run calls by its path,
// `{ __weftSecret: "sealed" }` for a secret sealed by the engine, `{ __weftObj: { path, methods } }`
// for a host object (a class instance with methods, a Proxy, or one registered by name) whose methods
// the run calls as a stub (`methods: null`: any name, asked of the object when called), and
// `{ __weftWorkflow: "name" }` for a Workflow binding to one of the deploying tenant's own workflows
// (the run's tenant is the only one it can reach: the marker names no tenant). Encoding (deploy-rules.ts),
// opening secrets for a run, redacting for the API and building the guest's env all walk env with
// mapEnv, so a marker means the same thing everywhere.

export type EnvMarker =
  | { kind: "fn"; path: string }
  | { kind: "secret"; sealed: string }
  | { kind: "obj"; path: string; methods: string[] | null }
  | { kind: "workflow"; workflow: string };

export const fnMarker = (path: string): { __weftFn: string } => ({ __weftFn: path });
export const secretMarker = (sealed: string): { __weftSecret: string } => ({ __weftSecret: sealed });
export const objMarker = (path: string, methods: string[] | null): { __weftObj: { path: string; methods: string[] | null } } => ({ __weftObj: { path, methods } });
export const workflowMarker = (workflow: string): { __weftWorkflow: string } => ({ __weftWorkflow: workflow });

/** the marker `v` is, if it is one (an object with exactly that one string key) */
export function envMarker(v: unknown): EnvMarker | undefined {
  if (!v || typeof v !== "object" || Array.isArray(v)) return undefined;
  const o = v as Record<string, unknown>;
  const keys = Object.keys(o);
  if (keys.length !== 1) return undefined;
  if (keys[0] === "__weftFn" && typeof o.__weftFn === "string") return { kind: "fn", path: o.__weftFn };
  if (keys[0] === "__weftSecret" && typeof o.__weftSecret === "string") return { kind: "secret", sealed: o.__weftSecret };
  if (keys[0] === "__weftWorkflow" && typeof o.__weftWorkflow === "string") return { kind: "workflow", workflow: o.__weftWorkflow };
  if (keys[0] === "__weftObj" && o.__weftObj && typeof o.__weftObj === "object") {
    const d = o.__weftObj as { path?: unknown; methods?: unknown };
    const methods = d.methods === null ? null : Array.isArray(d.methods) && d.methods.every((m) => typeof m === "string") ? (d.methods as string[]) : undefined;
    if (typeof d.path === "string" && methods !== undefined) return { kind: "obj", path: d.path, methods };
  }
  return undefined;
}

/**
 * A copy of stored env with each marker replaced by `onMarker(marker, path)` (return the marker's
 * own value to keep it). `seal` freezes the arrays and objects made (the guest's env is read-only).
 */
export function mapEnv(v: unknown, onMarker: (m: EnvMarker, path: string, raw: unknown) => unknown, seal = false, path = ""): unknown {
  if (Array.isArray(v)) {
    const out = v.map((x, i) => mapEnv(x, onMarker, seal, `${path}[${i}]`));
    return seal ? Object.freeze(out) : out;
  }
  if (v && typeof v === "object") {
    const m = envMarker(v);
    if (m) return onMarker(m, path, v);
    const proto = Object.getPrototypeOf(v);
    if (proto !== Object.prototype && proto !== null) return v;
    const out: Record<string, unknown> = {};
    for (const [k, x] of Object.entries(v)) out[k] = mapEnv(x, onMarker, seal, path ? `${path}.${k}` : k);
    return seal ? Object.freeze(out) : out;
  }
  return v;
}
