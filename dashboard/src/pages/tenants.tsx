// Tenants (admin token only): create tenants, change their quotas, issue tokens (shown once) and revoke
// them. A tenant token gets a plain explanation instead: these routes answer it with 403.
import { useState } from "preact/hooks";
import { ApiError, paths, type Tenant } from "../api.ts";
import { CopyButton, ErrorBox, Loading, PageHeader } from "../components/ui.tsx";
import { ago, time } from "../format.ts";
import { useLoad } from "../hooks.ts";
import { href, links, navigate } from "../router.ts";
import { useSession } from "../session.ts";

export const QUOTAS: { key: string; label: string; unit?: string }[] = [
  { key: "maxRunningInstances", label: "Running instances" },
  { key: "createsPerSecond", label: "Creations per second" },
  { key: "createBurst", label: "Creation burst" },
  { key: "maxCodeBytes", label: "Code size", unit: "bytes" },
  { key: "maxPayloadBytes", label: "Payload size", unit: "bytes" },
];

interface Token {
  id: string;
  name: string;
  createdAt: string;
  revokedAt: string | null;
}

function AdminOnly() {
  return (
    <>
      <PageHeader title="Tenants" />
      <p role="alert">Tenants and their tokens are managed with the admin token; this session uses a tenant token.</p>
    </>
  );
}

export function TenantsPage() {
  const { session, api } = useSession();
  const list = useLoad(() => api.get<{ tenants: Tenant[] }>(paths.tenants()), [session.token]);
  const [name, setName] = useState("");
  const [error, setError] = useState<unknown>(null);
  const [busy, setBusy] = useState(false);
  if (session.kind !== "admin") return <AdminOnly />;
  return (
    <>
      <PageHeader title="Tenants" crumbs={[{ label: "Overview", href: "#/" }, { label: "Tenants" }]} />
      <form
        class="card row" aria-label="Create a tenant"
        onSubmit={async (e) => {
          e.preventDefault();
          setBusy(true);
          setError(null);
          try {
            const t = await api.send<Tenant>("POST", paths.tenants(), { name: name.trim() });
            navigate(links.tenant(t.name));
          } catch (err) {
            setError(err);
          } finally {
            setBusy(false);
          }
        }}
      >
        <div class="field">
          <label for="new-tenant">New tenant name</label>
          <input id="new-tenant" value={name} required placeholder="acme" onInput={(e) => setName((e.target as HTMLInputElement).value)} />
        </div>
        <button class="btn primary" type="submit" disabled={busy || name.trim() === ""}>Create tenant</button>
        <ErrorBox error={error} title="Could not create the tenant" />
      </form>
      <ErrorBox error={list.error} title="Could not list tenants" />
      {list.loading && !list.data ? <Loading what="tenants" /> : null}
      {list.data ? (
        <div class="table-wrap">
          <table aria-label="Tenants">
            <thead>
              <tr>
                <th scope="col">Tenant</th>
                {QUOTAS.map((q) => <th scope="col" class="hide-narrow" key={q.key}>{q.label}</th>)}
                <th scope="col">Created</th>
              </tr>
            </thead>
            <tbody>
              {list.data.tenants.map((t) => (
                <tr key={t.name}>
                  <td><a href={links.tenant(t.name)}>{t.name}</a></td>
                  {QUOTAS.map((q) => <td class="hide-narrow mono" key={q.key}>{t.quotas[q.key]?.toLocaleString("en-US")}</td>)}
                  <td title={time(t.createdAt)}>{ago(t.createdAt)}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      ) : null}
    </>
  );
}

function QuotaForm({ tenant, onSaved }: { tenant: Tenant; onSaved: () => void }) {
  const { api } = useSession();
  const [values, setValues] = useState<Record<string, string>>(() => Object.fromEntries(QUOTAS.map((q) => [q.key, String(tenant.quotas[q.key] ?? "")])));
  const [state, setState] = useState<{ error?: unknown; saved?: boolean; busy?: boolean }>({});
  return (
    <form
      class="card" aria-labelledby="quotas-title"
      onSubmit={async (e) => {
        e.preventDefault();
        const quotas: Record<string, number> = {};
        for (const q of QUOTAS) {
          const v = values[q.key]!.trim();
          if (!/^\d+$/.test(v) || Number(v) < 1) {
            setState({ error: new Error(`${q.label} must be a whole number of at least 1, got "${v}"`) });
            return;
          }
          if (Number(v) !== tenant.quotas[q.key]) quotas[q.key] = Number(v);
        }
        setState({ busy: true });
        try {
          await api.send("PATCH", `${paths.tenants()}/${encodeURIComponent(tenant.name)}`, { quotas });
          setState({ saved: true });
          onSaved();
        } catch (err) {
          setState({ error: err });
        }
      }}
    >
      <h2 id="quotas-title">Quotas</h2>
      <p class="muted">Over the running-instances quota, instances queue; over the creation rate, creates answer 429 with Retry-After.</p>
      <div class="filters">
        {QUOTAS.map((q) => (
          <div class="field" key={q.key}>
            <label for={`q-${q.key}`}>{q.label}{q.unit ? ` (${q.unit})` : ""}</label>
            <input id={`q-${q.key}`} inputMode="numeric" value={values[q.key]} onInput={(e) => setValues({ ...values, [q.key]: (e.target as HTMLInputElement).value })} />
          </div>
        ))}
      </div>
      <button class="btn primary" type="submit" disabled={state.busy}>Save quotas</button>
      {state.saved ? <span role="status" class="muted"> Quotas saved.</span> : null}
      <ErrorBox error={state.error} title="Quotas not saved" />
    </form>
  );
}

function Tokens({ tenant }: { tenant: string }) {
  const { api } = useSession();
  const base = `${paths.tenants()}/${encodeURIComponent(tenant)}/tokens`;
  const list = useLoad(() => api.get<{ tokens: Token[] }>(base), [tenant]);
  const [name, setName] = useState("");
  const [issued, setIssued] = useState<{ name: string; token: string } | null>(null);
  const [error, setError] = useState<unknown>(null);
  return (
    <section class="card" aria-labelledby="tokens-title">
      <h2 id="tokens-title">Tokens</h2>
      <form
        class="row"
        onSubmit={async (e) => {
          e.preventDefault();
          setError(null);
          try {
            const t = await api.send<{ name: string; token: string }>("POST", base, name.trim() ? { name: name.trim() } : {});
            setIssued({ name: t.name, token: t.token });
            setName("");
            list.reload();
          } catch (err) {
            setError(err);
          }
        }}
      >
        <div class="field">
          <label for="token-name">Token name</label>
          <input id="token-name" value={name} placeholder="ci" onInput={(e) => setName((e.target as HTMLInputElement).value)} />
        </div>
        <button class="btn primary" type="submit">Issue token</button>
      </form>
      {issued ? (
        <div class="ok-box" role="status">
          <strong>Token "{issued.name}" — copy it now, it is not shown again:</strong>
          <div class="row">
            <code data-testid="issued-token" data-copy={issued.token}>{issued.token}</code>
            <CopyButton text={issued.token} label="Copy the new token" />
          </div>
        </div>
      ) : null}
      <ErrorBox error={error ?? list.error} title="Tokens" />
      {list.data ? (
        <div class="table-wrap">
          <table aria-label={`Tokens of ${tenant}`}>
            <thead>
              <tr><th scope="col">Name</th><th scope="col" class="hide-narrow">Id</th><th scope="col">Created</th><th scope="col">State</th><th scope="col"><span class="sr-only">Actions</span></th></tr>
            </thead>
            <tbody>
              {list.data.tokens.map((t) => (
                <tr key={t.id} data-token={t.name}>
                  <td>{t.name}</td>
                  <td class="hide-narrow mono muted">{t.id}</td>
                  <td title={time(t.createdAt)}>{ago(t.createdAt)}</td>
                  <td>{t.revokedAt ? <span class="muted">revoked {ago(t.revokedAt)}</span> : "active"}</td>
                  <td>
                    {t.revokedAt ? null : (
                      <button
                        type="button" class="btn small danger" aria-label={`Revoke ${t.name}`}
                        onClick={async () => {
                          if (!confirm(`Revoke token "${t.name}" of ${tenant}? Requests with it are refused at once.`)) return;
                          try {
                            await api.send("DELETE", `${base}/${encodeURIComponent(t.id)}`);
                            list.reload();
                          } catch (err) {
                            setError(err);
                          }
                        }}
                      >
                        Revoke
                      </button>
                    )}
                  </td>
                </tr>
              ))}
              {list.data.tokens.length === 0 ? <tr><td colSpan={5} class="muted">No tokens yet.</td></tr> : null}
            </tbody>
          </table>
        </div>
      ) : null}
    </section>
  );
}

export function TenantPage({ tenant }: { tenant: string }) {
  const { session, api } = useSession();
  const t = useLoad(() => api.get<Tenant>(`${paths.tenants()}/${encodeURIComponent(tenant)}`), [tenant]);
  if (session.kind !== "admin") return <AdminOnly />;
  return (
    <>
      <PageHeader title={<>Tenant {tenant}</>} crumbs={[{ label: "Overview", href: "#/" }, { label: "Tenants", href: links.tenants() }, { label: tenant }]}>
        <a class="btn" href={href(["workflows"], { tenant })}>Workflows</a>
      </PageHeader>
      <ErrorBox error={t.error} title={t.error instanceof ApiError && t.error.status === 404 ? "No such tenant" : "Could not load the tenant"} />
      {t.data ? <QuotaForm tenant={t.data} onSaved={t.reload} /> : t.loading ? <Loading what="the tenant" /> : null}
      {t.data ? <Tokens tenant={tenant} /> : null}
    </>
  );
}
