// The HTTP client the `weft` commands use to drive a running `weft serve` (docs/http-api.md): a base
// URL and a bearer token, JSON in and out. An error answer `{ error: { code, message, details } }`
// becomes an ApiError with those fields; a server that cannot be reached becomes a ConnectError
// that says so. `events()` reads an instance's Server-Sent Events stream.

export const DEFAULT_URL = "http://127.0.0.1:8787";

/** The server answered with an error status. */
export class ApiError extends Error {
  readonly status: number;
  readonly code: string;
  readonly details: Record<string, unknown>;
  constructor(status: number, code: string, message: string, details: Record<string, unknown> = {}) {
    super(message);
    this.name = "ApiError";
    this.status = status;
    this.code = code;
    this.details = details;
  }
  toJSON(): { error: { code: string; message: string; details: Record<string, unknown> } } {
    return { error: { code: this.code, message: this.message, details: this.details } };
  }
}

/** No answer at all: refused, unknown host, timed out. */
export class ConnectError extends Error {
  readonly url: string;
  constructor(url: string, cause: unknown) {
    const c = (cause as { cause?: { code?: string; message?: string } })?.cause;
    const why = c?.code ?? c?.message ?? (cause as Error)?.message ?? String(cause);
    super(`cannot reach weft at ${url}: is \`weft serve\` running? (${why}). Start it with \`weft serve\` (or \`weft dev FILE.ts\`), or point --url / WEFT_URL at it.`);
    this.name = "ConnectError";
    this.url = url;
  }
}

export interface ClientOptions {
  url?: string;
  token?: string;
  fetch?: typeof fetch;
}

export type Query = Record<string, string | number | boolean | undefined | null>;

export interface RequestOptions {
  body?: unknown;
  query?: Query;
  signal?: AbortSignal;
}

export interface SseEvent {
  id?: string;
  event: string;
  data: string;
}

/** `/v1/tenants/a b/x` with each segment escaped. */
export function apiPath(...segments: string[]): string {
  return "/" + segments.map((s, i) => (i === 0 ? s : encodeURIComponent(s))).join("/");
}

export function normalizeUrl(url: string): string {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    throw new TypeError(`--url ${JSON.stringify(url)} is not a URL; expected something like ${DEFAULT_URL}`);
  }
  if (u.protocol !== "http:" && u.protocol !== "https:") throw new TypeError(`--url ${JSON.stringify(url)} must be http:// or https://`);
  return u.toString().replace(/\/+$/, "");
}

export class Client {
  readonly url: string;
  readonly token: string | undefined;
  private readonly fetchImpl: typeof fetch;

  constructor(o: ClientOptions = {}) {
    this.url = normalizeUrl(o.url ?? DEFAULT_URL);
    this.token = o.token === "" ? undefined : o.token;
    this.fetchImpl = o.fetch ?? fetch;
  }

  private href(path: string, query?: Query): string {
    const u = new URL(this.url + path);
    for (const [k, v] of Object.entries(query ?? {})) if (v !== undefined && v !== null) u.searchParams.set(k, String(v));
    return u.toString();
  }

  private headers(extra: Record<string, string> = {}): Record<string, string> {
    const h: Record<string, string> = { ...extra };
    if (this.token) h.authorization = `Bearer ${this.token}`;
    return h;
  }

  private async send(method: string, path: string, o: RequestOptions, accept: string): Promise<Response> {
    const init: RequestInit = { method, headers: this.headers({ accept }), signal: o.signal };
    if (o.body !== undefined) {
      init.body = JSON.stringify(o.body);
      (init.headers as Record<string, string>)["content-type"] = "application/json";
    }
    let res: Response;
    try {
      res = await this.fetchImpl(this.href(path, o.query), init);
    } catch (e) {
      if ((e as Error)?.name === "AbortError") throw e;
      throw new ConnectError(this.url, e);
    }
    if (!res.ok) throw await this.toError(res);
    return res;
  }

  /** One JSON request; resolves to the parsed body, or undefined for 204. */
  async request<T = unknown>(method: string, path: string, o: RequestOptions = {}): Promise<T> {
    const res = await this.send(method, path, o, "application/json");
    if (res.status === 204) return undefined as T;
    const text = await res.text();
    if (text === "") return undefined as T;
    try {
      return JSON.parse(text) as T;
    } catch {
      throw new ApiError(res.status, "bad_response", `${method} ${path} answered ${res.status} with a body that is not JSON: ${text.slice(0, 200)}`);
    }
  }

  get<T = unknown>(path: string, query?: Query): Promise<T> {
    return this.request<T>("GET", path, { query });
  }

  /**
   * Connect to the Server-Sent Events of `path`; resolves once the server has answered, to the
   * events until the server ends the stream (or `signal` aborts).
   */
  async events(path: string, query?: Query, signal?: AbortSignal): Promise<AsyncGenerator<SseEvent>> {
    const res = await this.send("GET", path, { query, signal }, "text/event-stream");
    return readSse(res);
  }

  private async toError(res: Response): Promise<ApiError> {
    const text = await res.text().catch(() => "");
    let code = `http_${res.status}`;
    let message = `the server answered ${res.status} ${res.statusText}${text ? `: ${text.slice(0, 200)}` : ""}`;
    let details: Record<string, unknown> = {};
    try {
      const body = JSON.parse(text) as { error?: { code?: unknown; message?: unknown; details?: unknown } };
      if (body?.error && typeof body.error === "object") {
        if (typeof body.error.code === "string") code = body.error.code;
        if (typeof body.error.message === "string") message = body.error.message;
        if (body.error.details && typeof body.error.details === "object") details = body.error.details as Record<string, unknown>;
      }
    } catch {
      // not JSON: keep the status line
    }
    if (res.status === 401 && !this.token) {
      message += " (no token given: pass --token or set WEFT_TOKEN; the admin token is printed on the server's first start)";
    }
    const retry = res.headers.get("retry-after");
    if (res.status === 429 && retry) {
      details = { ...details, retryAfter: Number(retry) };
      message += ` (retry after ${retry} s)`;
    }
    return new ApiError(res.status, code, message, details);
  }
}

export function parseSseBlock(block: string): SseEvent | undefined {
  let id: string | undefined;
  let event = "message";
  const data: string[] = [];
  let any = false;
  for (const line of block.split(/\r?\n/)) {
    if (line === "" || line.startsWith(":")) continue;
    const i = line.indexOf(":");
    const field = i < 0 ? line : line.slice(0, i);
    let value = i < 0 ? "" : line.slice(i + 1);
    if (value.startsWith(" ")) value = value.slice(1);
    if (field === "id") id = value;
    else if (field === "event") event = value;
    else if (field === "data") data.push(value);
    else continue;
    any = true;
  }
  return any ? { id, event, data: data.join("\n") } : undefined;
}

async function* readSse(res: Response): AsyncGenerator<SseEvent> {
  if (!res.body) return;
  const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
  let buf = "";
  try {
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      buf += value;
      for (;;) {
        const m = /\r?\n\r?\n/.exec(buf);
        if (!m) break;
        const block = buf.slice(0, m.index);
        buf = buf.slice(m.index + m[0].length);
        const ev = parseSseBlock(block);
        if (ev) yield ev;
      }
    }
  } finally {
    reader.cancel().catch(() => undefined);
  }
}
