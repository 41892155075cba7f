// The signed-in token, kept in sessionStorage (this tab only, gone when it closes), and the Api bound
// to it. Pages get both through useSession().
import { createContext } from "preact";
import { useContext } from "preact/hooks";
import { Api, type Session } from "./api.ts";

const KEY = "weft.session";

export function loadSession(): Session | null {
  try {
    const s = JSON.parse(sessionStorage.getItem(KEY) ?? "null") as Session | null;
    return s && typeof s.token === "string" ? s : null;
  } catch {
    return null;
  }
}

export function saveSession(s: Session | null): void {
  if (s) sessionStorage.setItem(KEY, JSON.stringify(s));
  else sessionStorage.removeItem(KEY);
}

/** who a token is: the API's /v1/whoami */
export async function signIn(token: string): Promise<Session> {
  const me = await new Api(token).get<{ kind: "admin" | "tenant"; tenant?: string }>("/v1/whoami");
  return { token, kind: me.kind, tenant: me.tenant };
}

export interface SessionContext {
  session: Session;
  api: Api;
  signOut(): void;
}

export const SessionCtx = createContext<SessionContext | null>(null);

export function useSession(): SessionContext {
  const s = useContext(SessionCtx);
  if (!s) throw new Error("useSession outside a signed-in view");
  return s;
}

/** the tenants this session sees: every tenant for the admin, its own for a tenant token */
export async function visibleTenants(ctx: SessionContext): Promise<string[]> {
  if (ctx.session.kind === "tenant") return [ctx.session.tenant!];
  const r = await ctx.api.get<{ tenants: { name: string }[] }>("/v1/tenants");
  return r.tenants.map((t) => t.name);
}
