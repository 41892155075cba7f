// The stored form of a deploy's env, decided once: plain JSON values, with two markers —
// `{ __weftFn: "path" }` for a function (or a host function) the run calls by its path, and
// `{ __weftSecret: "sealed" }` for a secret sealed by the engine. Encoding (deploy-rules.ts),
// opening secrets for a run, redacting for the API and building the guest's env all walk env with
// mapEnv, so a marker means the same thing everywhere.

export type EnvMarker = { kind: "fn"; path: string } | { kind: "secret"; sealed: string };

export const fnMarker = (path: string): { __weftFn: string } => ({ __weftFn: path });
export const secretMarker = (sealed: string): { __weftSecret: string } => ({ __weftSecret: sealed });

/** the marker `v` is, if it is one (an object with exactly that one string key) */
export function envMarker(v: unknown): EnvMarker | undefined {
  if (!v || typeof v !== "object" || Array.isArray(v)) return undefined;
  const o = v as Record<string, unknown>;
  const keys = Object.keys(o);
  if (keys.length !== 1) return undefined;
  if (keys[0] === "__weftFn" && typeof o.__weftFn === "string") return { kind: "fn", path: o.__weftFn };
  if (keys[0] === "__weftSecret" && typeof o.__weftSecret === "string") return { kind: "secret", sealed: o.__weftSecret };
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
