// Structured JSON logs (pino): one logger per server, made here; nothing global. Lines are
// `{"level":"info","time":<epoch ms>,"pid":…,…,"msg":"…"}`.
//
// Secrets never reach a log line. Two layers, both keyed on property names:
//  1. pino `redact` paths for the well-known places — the secret-bearing names at the top level and
//     the credential headers of requests (`req.headers.authorization`, …);
//  2. a deep pass (formatters.log, and formatters.bindings for child loggers) that censors any
//     property at any depth whose name, lower-cased without "-" and "_", ends in token, secret,
//     password(s), passwd, authorization, apikey(s) or cookie(s): nested bodies, deploy env bindings
//     `{ "secret": "…" }`, error objects' extra fields.
// The deep pass exists because redact wildcards cannot say "at any depth" (only one level per "*"),
// and listing every depth makes each line ~30-70× slower (@pinojs/redact clones per wildcard path:
// 24 names × 7 depths cost ~160 µs a line; this logger costs ~5 µs a line, ~2 µs of it the deep
// pass). It copies only the objects on the way to a secret; the caller's objects are never changed.
// Neither layer looks inside strings: never interpolate a secret into `msg`.
import { pino, type Logger } from "pino";

export interface LoggerOptions {
  /** pino level name (trace, debug, info, warn, error, fatal, silent); default "info" */
  level?: string;
  /** a stream, or a file descriptor (default 1: stdout) */
  destination?: NodeJS.WritableStream | number;
  /** pretty printing is not offered (no pino-pretty dependency): lines are always JSON */
  pretty?: false;
}

export const CENSOR = "[Redacted]";

/** Names whose values are never logged, as written in headers and bodies. */
export const SECRET_NAMES = [
  "token", "accessToken", "refreshToken", "adminToken", "idToken", "access_token", "refresh_token",
  "authorization", "Authorization", "proxy-authorization",
  "secret", "clientSecret", "client_secret",
  "password", "passwd",
  "cookie", "Cookie", "set-cookie",
  "apiKey", "api_key", "x-api-key",
];

/**
 * Where pino's redact looks: each name at the top level, and the credential headers of requests.
 * Kept short on purpose: every path under a top-level key makes redact clone that key's object on
 * each line (all names under 14 parents cost ~40 µs a line); the deep pass covers the rest.
 */
export const REDACT_PATHS: string[] = [
  ...SECRET_NAMES.map((n) => (/^[A-Za-z_$][\w$]*$/.test(n) ? n : `["${n}"]`)),
  "req.headers.authorization", "req.headers.cookie", "headers.authorization", "headers.cookie", `res.headers["set-cookie"]`,
];

// "tokens" is not here: the API's token lists hold ids and names, never the tokens themselves
const SECRET_SUFFIX = /(token|secrets?|passwords?|passwd|authorization|apikeys?|cookies?)$/;

/** Whether a property of this name is censored by the deep pass. */
export function isSecretKey(key: string): boolean {
  return SECRET_SUFFIX.test(key.toLowerCase().replace(/[-_]/g, ""));
}

/** objects deeper than this are not logged (see censorSecrets) */
const MAX_DEPTH = 12;
export const TRUNCATED = "[Truncated]";

/**
 * `v` with every secret-named property replaced by CENSOR, and objects nested deeper than MAX_DEPTH
 * (cycles included) by TRUNCATED, so that nothing unexamined is logged. Returns `v` itself when
 * nothing changes; otherwise copies only the objects on the path to a change (arrays as arrays, other
 * objects keeping their prototype and property descriptors, so errors stay errors).
 */
export function censorSecrets<T>(v: T, depth = 0): T {
  if (v === null || typeof v !== "object" || ArrayBuffer.isView(v) || v instanceof ArrayBuffer) return v;
  if (depth > MAX_DEPTH) return TRUNCATED as T;
  if (Array.isArray(v)) {
    let out: unknown[] | undefined;
    for (let i = 0; i < v.length; i++) {
      const x = censorSecrets(v[i], depth + 1);
      if (x !== v[i]) (out ??= v.slice())[i] = x;
    }
    return (out ?? v) as T;
  }
  if (v instanceof Map || v instanceof Set || v instanceof Date || v instanceof RegExp) return v;
  let out: Record<string, unknown> | undefined;
  const src = v as Record<string, unknown>;
  for (const k of Object.keys(src)) {
    const x = src[k];
    const y = isSecretKey(k) ? (x === undefined ? x : CENSOR) : censorSecrets(x, depth + 1);
    if (y !== x) {
      out ??= copy(src);
      out[k] = y;
    }
  }
  return (out ?? v) as T;
}

function copy(o: Record<string, unknown>): Record<string, unknown> {
  const proto = Object.getPrototypeOf(o);
  if (proto === Object.prototype || proto === null) return { ...o };
  const c = Object.create(proto) as Record<string, unknown>;
  const d = Object.getOwnPropertyDescriptors(o);
  for (const k of Object.keys(d)) {
    // own accessors become values read from the original (an error's `stack` getter needs the error
    // itself as receiver), and every value is writable so the censored one can be set
    const x = d[k]!;
    d[k] = "value" in x || x.get ? { value: "value" in x ? x.value : o[k], writable: true, enumerable: x.enumerable, configurable: true } : x;
  }
  return Object.defineProperties(c, d);
}

export function createLogger(opts: LoggerOptions = {}): Logger {
  const dest = opts.destination ?? 1;
  // a file descriptor is written synchronously: a line is out when the call returns, so the lines
  // before a crash or process.exit() are never lost (one write(2) per line, a few µs)
  const stream = typeof dest === "number" ? pino.destination({ dest, sync: true }) : dest;
  return pino(
    {
      level: opts.level ?? "info",
      redact: { paths: REDACT_PATHS, censor: CENSOR },
      base: { pid: process.pid },
      timestamp: pino.stdTimeFunctions.epochTime,
      formatters: {
        level: (label) => ({ level: label }),
        bindings: (b) => censorSecrets(b),
        log: (o) => censorSecrets(o),
      },
    },
    stream as pino.DestinationStream,
  );
}
