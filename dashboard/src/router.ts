// Hash routes (#/t/acme/w/flow/i/id?tab=sql): the server serves one page at `/`, and a reload or a
// shared link lands on the same view. Pages read the route from useRoute() and move with navigate().
import { useEffect, useState } from "preact/hooks";

export interface Route {
  /** path segments after "#/", decoded */
  parts: string[];
  query: URLSearchParams;
}

function parse(hash: string): Route {
  const raw = hash.replace(/^#\/?/, "");
  const [p, q] = raw.split("?", 2) as [string, string | undefined];
  return { parts: p.split("/").filter(Boolean).map(decodeURIComponent), query: new URLSearchParams(q ?? "") };
}

export function currentRoute(): Route {
  return parse(location.hash);
}

export function useRoute(): Route {
  const [route, setRoute] = useState(currentRoute);
  useEffect(() => {
    const on = () => setRoute(currentRoute());
    addEventListener("hashchange", on);
    return () => removeEventListener("hashchange", on);
  }, []);
  return route;
}

/** "#/t/acme/w/flow" from segments (each encoded) and an optional query */
export function href(parts: string[], query?: Record<string, string | undefined>): string {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(query ?? {})) if (v !== undefined && v !== "") q.set(k, v);
  const s = q.toString();
  return "#/" + parts.map(encodeURIComponent).join("/") + (s ? `?${s}` : "");
}

export function navigate(to: string, o: { replace?: boolean } = {}): void {
  if (o.replace) history.replaceState(null, "", to);
  else history.pushState(null, "", to);
  dispatchEvent(new HashChangeEvent("hashchange"));
}

export const links = {
  overview: () => href([]),
  workflows: (tenant?: string) => href(["workflows"], { tenant }),
  newWorkflow: (tenant?: string) => href(["new"], { tenant }),
  workflow: (t: string, w: string, tab?: string) => href(["t", t, "w", w], { tab }),
  instances: (t: string, w: string, q?: Record<string, string | undefined>) => href(["t", t, "w", w, "instances"], q),
  instance: (t: string, w: string, id: string, tab?: string) => href(["t", t, "w", w, "i", id], { tab }),
  tenants: () => href(["tenants"]),
  tenant: (t: string) => href(["tenants", t]),
};
