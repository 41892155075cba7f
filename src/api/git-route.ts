// The route that serves an instance's repository over git's smart HTTP protocol, read-only:
//   GET/POST /v1/tenants/{tenant}/workflows/{workflow}/instances/{id}/repo.git/{info/refs|git-upload-pack|HEAD}
// A web-standard handler (Request → Response), so the HTTP API mounts it as is. git sends
// credentials with Basic auth (any user name, the token as password); Bearer works too. A caller
// that is not allowed to see the tenant gets the same 404 as for an instance that does not exist:
// existence does not leak across tenants.
import { ErrorCode, isWeftError } from "../core/errors.ts";
import { serveGit } from "../instance-data/fs/git-http.ts";
import type { Engine } from "../engine/engine.ts";

const ROUTE = /^\/v1\/tenants\/([^/]+)\/workflows\/([^/]+)\/instances\/([^/]+)\/repo\.git\/(.+)$/;

/** Decides whether a token may read a tenant's data (issue #4 brings tenants and tokens). */
export type Authorize = (token: string | null, tenant: string) => boolean | "unauthenticated" | Promise<boolean | "unauthenticated">;

export function bearerOrBasic(req: Request): string | null {
  const h = req.headers.get("authorization");
  if (!h) return null;
  const [scheme, value] = h.split(" ", 2);
  if (!value) return null;
  if (scheme!.toLowerCase() === "bearer") return value;
  if (scheme!.toLowerCase() === "basic") {
    const decoded = Buffer.from(value, "base64").toString("utf8");
    const i = decoded.indexOf(":");
    return i < 0 ? null : decoded.slice(i + 1);
  }
  return null;
}

function plain(status: number, text: string, headers: Record<string, string> = {}): Response {
  return new Response(text + "\n", { status, headers: { "content-type": "text/plain; charset=utf-8", ...headers } });
}

export function gitRoute(engine: Engine, authorize: Authorize): (req: Request) => Promise<Response> {
  return async (req) => {
    const m = ROUTE.exec(new URL(req.url).pathname);
    if (!m) return plain(404, "not a repository route");
    let tenant: string, workflow: string, id: string;
    try {
      [tenant, workflow, id] = [m[1]!, m[2]!, m[3]!].map(decodeURIComponent) as [string, string, string];
    } catch {
      return plain(400, "the repository path is not valid percent-encoding");
    }
    const token = bearerOrBasic(req);
    if (token === null) return plain(401, "authentication required: use the token as the password", { "www-authenticate": 'Basic realm="weft"' });
    const verdict = await authorize(token, tenant);
    // an unknown or revoked token: 401, so git asks for credentials again
    if (verdict === "unauthenticated") return plain(401, "the token is not valid (unknown or revoked)", { "www-authenticate": 'Basic realm="weft"' });
    if (!verdict) return plain(404, `repository not found`);
    let inst;
    try {
      inst = await engine.workflow(tenant, workflow).get(id);
    } catch (e) {
      if (isWeftError(e) && (e.code === ErrorCode.NotFound || e.code === ErrorCode.InvalidName || e.code === ErrorCode.InvalidArgument)) {
        return plain(404, "repository not found");
      }
      throw e;
    }
    return serveGit(req, m[4]!, engine.data.repo(inst.record));
  };
}
