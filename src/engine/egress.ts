// Egress policy for guest fetch(): nothing by default, an allow-list of hosts, or a host handler
// that sees every request (and may inject credentials the tenant never sees).
import { ErrorCode, WeftError } from "../core/errors.ts";
import type { Command } from "../sandbox/protocol.ts";

export type EgressPolicy = { allow: string[] } | { handler: (req: Request) => Response | Promise<Response> };

export interface FetchResult {
  status: number;
  statusText: string;
  headers: [string, string][];
  body: Uint8Array;
  url: string;
}

const MAX_RESPONSE_BYTES = 32 * 1024 * 1024;

/** "api.example.com" matches exactly; "*.example.com" matches subdomains; ports must match when given. */
export function hostAllowed(allow: string[], url: URL): boolean {
  const host = url.host.toLowerCase();
  const hostname = url.hostname.toLowerCase();
  return allow.some((a) => {
    const p = a.toLowerCase();
    if (p.startsWith("*.")) return hostname.endsWith(p.slice(1)) && hostname.length > p.length - 1;
    return p.includes(":") ? host === p : hostname === p;
  });
}

/** `signal`: the guest's fetch was aborted (its AbortSignal), so is the request */
export async function checkEgress(policy: EgressPolicy, c: Extract<Command, { t: "fetch" }>, doFetch: typeof fetch, signal?: AbortSignal): Promise<FetchResult> {
  let url: URL;
  try {
    url = new URL(c.url);
  } catch {
    throw new WeftError(ErrorCode.InvalidArgument, `fetch: invalid URL ${JSON.stringify(c.url)}`, { url: c.url });
  }
  if (url.protocol !== "http:" && url.protocol !== "https:") {
    throw new WeftError(ErrorCode.EgressDenied, `fetch: only http and https are allowed, got ${url.protocol}`, { url: c.url });
  }
  const init: RequestInit = { method: c.method, headers: c.headers, body: c.body && c.method !== "GET" && c.method !== "HEAD" ? c.body : undefined, redirect: "manual", signal };
  let res: Response;
  if ("handler" in policy) {
    res = await policy.handler(new Request(url, init));
  } else {
    if (!hostAllowed(policy.allow, url)) {
      throw new WeftError(
        ErrorCode.EgressDenied,
        `fetch to ${url.host} was refused by this workflow's egress policy (${policy.allow.length ? `allowed hosts: ${policy.allow.join(", ")}` : "no outbound access was granted"}); the platform grants access with deploy({ egress: { allow: [...] } })`,
        { host: url.host, allow: policy.allow },
      );
    }
    res = await doFetch(url, init);
  }
  const buf = new Uint8Array(await res.arrayBuffer());
  if (buf.byteLength > MAX_RESPONSE_BYTES) {
    throw new WeftError(ErrorCode.TooLarge, `fetch response from ${url.host} is ${buf.byteLength} bytes, the limit is ${MAX_RESPONSE_BYTES}`, { host: url.host });
  }
  return { status: res.status, statusText: res.statusText, headers: [...res.headers], body: buf, url: res.url || url.href };
}
