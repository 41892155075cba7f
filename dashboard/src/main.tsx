// The dashboard's entry: sign-in gate, the frame (header, navigation) and the hash routes.
import { render } from "preact";
import { useEffect, useMemo, useState } from "preact/hooks";
import { Api, type Session } from "./api.ts";
import { links, useRoute } from "./router.ts";
import { SessionCtx, loadSession, saveSession, signIn } from "./session.ts";
import { ErrorBox } from "./components/ui.tsx";
import { Overview } from "./pages/overview.tsx";
import { InstancesIndex, InstancesPage } from "./pages/instances.tsx";
import { InstancePage } from "./pages/instance.tsx";
import { TenantPage, TenantsPage } from "./pages/tenants.tsx";
import "./styles.css";
import "./pages/workflows.css";

// The workflow pages carry the code editor (CodeMirror, most of the bundle): a separate chunk, loaded
// when one of them is opened, so the overview and the instance list start with a small script.
type WorkflowsModule = typeof import("./pages/workflows.tsx");
let workflowsModule: WorkflowsModule | undefined;
const loadWorkflows = () => import("./pages/workflows.tsx").then((m) => (workflowsModule = m));

function WithWorkflows({ render }: { render: (m: WorkflowsModule) => preact.JSX.Element }) {
  const [m, setM] = useState(workflowsModule);
  const [error, setError] = useState<unknown>(null);
  useEffect(() => {
    if (!m) loadWorkflows().then(setM, setError);
  }, [m]);
  if (error) return <ErrorBox error={error} title="Could not load the workflow pages" />;
  return m ? render(m) : <p class="muted" role="status">Loading…</p>;
}

function SignIn({ onSignedIn }: { onSignedIn: (s: Session) => void }) {
  const [token, setToken] = useState("");
  const [error, setError] = useState<unknown>(null);
  const [busy, setBusy] = useState(false);
  return (
    <main class="signin">
      <form
        class="card signin-card"
        aria-labelledby="signin-title"
        onSubmit={async (e) => {
          e.preventDefault();
          setBusy(true);
          setError(null);
          try {
            onSignedIn(await signIn(token.trim()));
          } catch (err) {
            setError(err);
          } finally {
            setBusy(false);
          }
        }}
      >
        <h1 id="signin-title">Sign in to Weft</h1>
        <p class="muted">Use the admin token that <code>weft serve</code> printed on its first start, or a tenant token.</p>
        <label for="token">API token</label>
        <input id="token" name="token" type="password" autoComplete="off" spellcheck={false} required placeholder="weft_…" value={token} onInput={(e) => setToken((e.target as HTMLInputElement).value)} />
        <ErrorBox error={error} title="Sign-in failed" />
        <button class="btn primary" type="submit" disabled={busy || token.trim() === ""}>
          {busy ? "Signing in…" : "Sign in"}
        </button>
      </form>
    </main>
  );
}

function Routes() {
  const { parts, query } = useRoute();
  const [a, t, b, w, c, id] = parts;
  if (parts.length === 0) return <Overview />;
  if (a === "workflows" && parts.length === 1) return <WithWorkflows render={(m) => <m.WorkflowsPage tenant={query.get("tenant") ?? undefined} />} />;
  if (a === "instances" && parts.length === 1) return <InstancesIndex />;
  if (a === "tenants" && parts.length === 1) return <TenantsPage />;
  if (a === "tenants" && t && parts.length === 2) return <TenantPage tenant={t} key={t} />;
  if (a === "new" && parts.length === 1) return <WithWorkflows render={(m) => <m.NewWorkflowPage tenant={query.get("tenant") ?? undefined} />} />;
  if (a === "t" && t && b === "w" && w) {
    if (parts.length === 4) return <WithWorkflows render={(m) => <m.WorkflowPage tenant={t} workflow={w} tab={query.get("tab") ?? "code"} key={`${t}/${w}`} />} />;
    if (c === "instances" && parts.length === 5) return <InstancesPage tenant={t} workflow={w} key={`${t}/${w}`} />;
    if (c === "i" && id && parts.length === 6) return <InstancePage tenant={t} workflow={w} id={id} tab={query.get("tab") ?? "timeline"} key={`${t}/${w}/${id}`} />;
  }
  return (
    <section>
      <h1>Not found</h1>
      <p>
        There is no page at <code>{location.hash}</code>. <a href={links.overview()}>Go to the overview</a>.
      </p>
    </section>
  );
}

function App() {
  const [session, setSession] = useState<Session | null>(loadSession);
  const { parts } = useRoute();
  const ctx = useMemo(
    () => (session ? { session, api: new Api(session.token), signOut: () => (saveSession(null), setSession(null)) } : null),
    [session],
  );
  if (!ctx) return <SignIn onSignedIn={(s) => (saveSession(s), setSession(s))} />;
  const section = parts[0] === "workflows" || parts[0] === "new" || (parts[0] === "t" && parts.length === 4) ? "workflows" : parts[0] === "instances" || parts[0] === "t" ? "instances" : parts[0] === "tenants" ? "tenants" : parts.length === 0 ? "overview" : "";
  const nav = [
    { id: "overview", label: "Overview", href: links.overview() },
    { id: "workflows", label: "Workflows", href: links.workflows() },
    { id: "instances", label: "Instances", href: "#/instances" },
    // tenants and tokens are the platform's (admin) business
    ...(ctx.session.kind === "admin" ? [{ id: "tenants", label: "Tenants", href: links.tenants() }] : []),
  ];
  return (
    <SessionCtx.Provider value={ctx}>
      <a class="skip" href="#main">Skip to content</a>
      <header class="topbar">
        <a class="brand" href={links.overview()} aria-label="Weft overview">
          <svg aria-hidden="true" width="18" height="18" viewBox="0 0 18 18" class="logo"><path d="M2 5h14M2 9h14M2 13h14" stroke="currentColor" stroke-width="2" /><path d="M5 2v14M9 2v14M13 2v14" stroke="var(--accent)" stroke-width="2" stroke-dasharray="3 1" /></svg> Weft
        </a>
        <nav aria-label="Main">
          <ul>
            {nav.map((n) => (
              <li key={n.id}>
                <a href={n.href} aria-current={section === n.id ? "page" : undefined}>{n.label}</a>
              </li>
            ))}
          </ul>
        </nav>
        <div class="who">
          <span data-testid="principal">{ctx.session.kind === "admin" ? "admin" : `tenant ${ctx.session.tenant}`}</span>
          <button type="button" class="btn small" onClick={ctx.signOut}>Sign out</button>
        </div>
      </header>
      <main id="main" tabIndex={-1}>
        <Routes />
      </main>
    </SessionCtx.Provider>
  );
}

render(<App />, document.getElementById("app")!);
