// Workflows: a tenant's workflow list, one workflow's versions with their code, deploying a version
// from the browser (compile errors shown at their line) and creating instances with params and metadata.
import type { ComponentChildren } from "preact";
import { useMemo, useRef, useState } from "preact/hooks";
import { ApiError, paths, type InstanceSummary, type VersionDetail, type WorkflowDetail, type WorkflowSummary } from "../api.ts";
import { CodeEditor, CodeViewer, type EditorMarker } from "../components/code-editor.tsx";
import { CopyButton, CountsRow, ErrorBox, JsonBlock, Loading, PageHeader, StatusBadge, Tabs } from "../components/ui.tsx";
import { ago, time } from "../format.ts";
import { useLoad } from "../hooks.ts";
import { links, navigate } from "../router.ts";
import { useSession, visibleTenants } from "../session.ts";
// workflows.css is imported by main.tsx: this module is a lazy chunk, and a chunk's CSS is never linked

const short = (v: string) => v.slice(0, 8);
const Ago = ({ iso }: { iso: string }) => <time dateTime={iso} title={time(iso)}>{ago(iso)}</time>;

/** the tenants this session sees, and the one a page shows: the route's, else the first */
function useTenant(wanted: string | undefined) {
  const ctx = useSession();
  const list = useLoad(() => visibleTenants(ctx), [ctx.session.token]);
  return { list, current: wanted ?? list.data?.[0], fixed: ctx.session.kind === "tenant" };
}

function TenantField({ t, onPick }: { t: ReturnType<typeof useTenant>; onPick: (tenant: string) => void }) {
  if (t.fixed) return <p class="wf-fixed-tenant">Tenant <strong>{t.current}</strong></p>;
  return (
    <div class="field">
      <label for="tenant">Tenant</label>
      <select id="tenant" value={t.current ?? ""} disabled={!t.list.data} onChange={(e) => onPick((e.target as HTMLSelectElement).value)}>
        {(t.list.data ?? []).map((n) => <option key={n} value={n}>{n}</option>)}
        {t.current && t.list.data && !t.list.data.includes(t.current) ? <option value={t.current}>{t.current}</option> : null}
      </select>
    </div>
  );
}

// ---- #/workflows --------------------------------------------------------------------------------
export function WorkflowsPage({ tenant }: { tenant?: string }) {
  const { api } = useSession();
  const t = useTenant(tenant);
  const cur = t.current;
  const wfs = useLoad((signal) => (cur ? api.get<{ workflows: WorkflowSummary[] }>(paths.workflows(cur), undefined, signal) : Promise.resolve(null)), [cur]);
  // failures need attention first; the rest in a stable, findable order
  const list = [...(wfs.data?.workflows ?? [])].sort((a, b) => Number(b.instances.errored > 0) - Number(a.instances.errored > 0) || a.name.localeCompare(b.name));
  return (
    <section>
      <PageHeader title="Workflows" crumbs={[{ label: "Overview", href: links.overview() }, { label: "Workflows" }]}>
        {cur ? <a class="btn primary" href={links.newWorkflow(cur)}>New workflow</a> : null}
      </PageHeader>
      <div class="filters">
        <TenantField t={t} onPick={(n) => navigate(links.workflows(n), { replace: true })} />
      </div>
      <ErrorBox error={t.list.error} title="Could not load tenants" />
      {t.list.data && t.list.data.length === 0 ? <p class="muted">There are no tenants yet: create one with the API (POST /v1/tenants).</p> : null}
      <ErrorBox error={wfs.error} title="Could not load workflows" />
      {cur && wfs.loading && !wfs.data ? <Loading what="workflows" /> : null}
      {cur && wfs.data && list.length === 0 ? <p class="muted">No workflows in {cur} yet. <a href={links.newWorkflow(cur)}>Deploy the first one</a>.</p> : null}
      {cur && list.length > 0 ? (
        <div class="table-wrap">
          <table aria-label={`Workflows of ${cur}`}>
            <thead>
              <tr><th scope="col">Workflow</th><th scope="col" class="hide-narrow">Latest version</th><th scope="col" class="hide-narrow">Updated</th><th scope="col">Instances</th><th scope="col"><span class="sr-only">Links</span></th></tr>
            </thead>
            <tbody>
              {list.map((w) => (
                <tr key={w.name} data-failures={w.instances.errored > 0 ? "yes" : "no"}>
                  <td><a href={links.workflow(cur, w.name)}>{w.name}</a>{w.instances.errored > 0 ? <> <StatusBadge status="errored" /></> : null}</td>
                  <td class="mono hide-narrow" title={w.latestVersion}>{short(w.latestVersion)}</td>
                  <td class="hide-narrow muted"><Ago iso={w.updatedAt} /></td>
                  <td class="wrap"><CountsRow counts={w.instances} /></td>
                  <td><a href={links.instances(cur, w.name)} aria-label={`Instances of ${w.name}`}>Instances</a></td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      ) : null}
    </section>
  );
}

// ---- #/t/T/w/W ----------------------------------------------------------------------------------
const TABS = [{ id: "code", label: "Code" }, { id: "deploy", label: "Deploy" }, { id: "create", label: "Create instance" }];

export function WorkflowPage({ tenant, workflow, tab }: { tenant: string; workflow: string; tab: string }) {
  const { api } = useSession();
  const detail = useLoad((signal) => api.get<WorkflowDetail>(paths.workflow(tenant, workflow), undefined, signal), [tenant, workflow]);
  const current = TABS.some((x) => x.id === tab) ? tab : "code";
  // panels stay mounted once opened, so switching tabs keeps an edit in progress
  const opened = useRef(new Set<string>()).current;
  opened.add(current);
  const d = detail.data;
  const versions = useMemo(() => [...(d?.versions ?? [])].sort((a, b) => Date.parse(b.createdAt) - Date.parse(a.createdAt)), [d]);
  const panel = (id: string, body: () => ComponentChildren) =>
    opened.has(id) ? <div role="tabpanel" id={`panel-${id}`} aria-labelledby={`tab-${id}`} hidden={current !== id} key={id}>{body()}</div> : null;
  return (
    <section>
      <PageHeader title={workflow} crumbs={[{ label: "Overview", href: links.overview() }, { label: "Workflows", href: links.workflows(tenant) }, { label: workflow }]}>
        <a class="btn" href={links.instances(tenant, workflow)}>Instances</a>
      </PageHeader>
      {d ? (
        <p class="row wf-summary">
          <span class="muted">Tenant {tenant} · latest version</span> <code title={d.latestVersion}>{short(d.latestVersion)}</code>
          <span class="muted">·</span> <CountsRow counts={d.instances} />
        </p>
      ) : null}
      {detail.error && !d ? (
        <ErrorBox error={detail.error} title={detail.error instanceof ApiError && detail.error.status === 404 ? `No workflow "${workflow}" in ${tenant}` : "Could not load the workflow"} />
      ) : null}
      {!d && !detail.error ? <Loading what="workflow" /> : null}
      {d ? (
        <>
          <Tabs tabs={TABS} current={current} label="Workflow" onSelect={(id) => navigate(links.workflow(tenant, workflow, id), { replace: true })} />
          {panel("code", () => <CodeTab tenant={tenant} workflow={workflow} versions={versions} latest={d.latestVersion} />)}
          {panel("deploy", () => <DeployTab tenant={tenant} workflow={workflow} latest={d.latestVersion} onDeployed={detail.reload} />)}
          {panel("create", () => <CreateInstanceForm tenant={tenant} workflow={workflow} />)}
        </>
      ) : null}
    </section>
  );
}

/** the main module first, then the others by name */
const fileOrder = (v: { mainModule: string; modules: Record<string, string> }) => [v.mainModule, ...Object.keys(v.modules).filter((f) => f !== v.mainModule).sort()];

function FileButtons({ files, main, shown, onPick }: { files: string[]; main: string; shown: string; onPick: (f: string) => void }) {
  if (files.length < 2) return null;
  return (
    <div class="wf-files" role="group" aria-label="Files">
      {files.map((f) => (
        <button type="button" key={f} class="btn small" aria-pressed={f === shown} onClick={() => onPick(f)}>
          {f}{f === main ? <span class="muted"> (main)</span> : null}
        </button>
      ))}
    </div>
  );
}

function CodeTab({ tenant, workflow, versions, latest }: { tenant: string; workflow: string; versions: WorkflowDetail["versions"]; latest: string }) {
  const { api } = useSession();
  const [picked, setPicked] = useState<string | null>(null);
  const v = picked && versions.some((x) => x.version === picked) ? picked : latest;
  const ver = useLoad((signal) => api.get<VersionDetail>(paths.version(tenant, workflow, v), undefined, signal), [v]);
  const [file, setFile] = useState<string | null>(null);
  const data = ver.data?.version === v ? ver.data : undefined;
  const shown = data && file !== null && data.modules[file] !== undefined ? file : data?.mainModule;
  return (
    <div class="wf-code">
      <nav class="wf-versions" aria-label="Versions">
        <h2 id="versions-title">Versions <span class="muted">({versions.length})</span></h2>
        <ul aria-labelledby="versions-title">
          {versions.map((x) => (
            <li key={x.version}>
              <button type="button" class="wf-version" aria-pressed={x.version === v} onClick={() => setPicked(x.version)}>
                <span class="mono">{short(x.version)}</span>
                {x.version === latest ? <span class="badge wf-latest">latest</span> : null}
                <span class="wf-version-meta">{x.className} · <Ago iso={x.createdAt} /></span>
              </button>
            </li>
          ))}
        </ul>
      </nav>
      <div class="wf-version-body">
        <ErrorBox error={ver.error} title="Could not load the version" />
        {!data && !ver.error ? <Loading what="version" /> : null}
        {data && shown ? (
          <>
            <div class="row">
              <h2>Version <code>{short(data.version)}</code></h2>
              <span class="muted">class {data.className} · deployed {time(data.createdAt)}</span>
              <CopyButton text={data.version} label="Copy the version id" />
            </div>
            <FileButtons files={fileOrder(data)} main={data.mainModule} shown={shown} onPick={setFile} />
            <CodeViewer value={data.modules[shown] ?? ""} docKey={`${data.version}/${shown}`} label={`${shown}, version ${short(data.version)} (read-only)`} />
            <VersionConfig v={data} />
          </>
        ) : null}
      </div>
    </div>
  );
}

function VersionConfig({ v }: { v: VersionDetail }) {
  const env = Object.entries(v.env);
  return (
    <div class="grid wf-config">
      <div>
        <h3>Limits</h3>
        <dl class="wf-kv">
          {Object.entries(v.limits).map(([k, x]) => <div key={k}><dt>{k}</dt><dd class="mono">{typeof x === "object" ? JSON.stringify(x) : String(x)}</dd></div>)}
        </dl>
      </div>
      <div>
        <h3>Egress</h3>
        {v.egress.allow.length ? <ul class="wf-plain">{v.egress.allow.map((h) => <li key={h} class="mono">{h}</li>)}</ul> : <p class="muted">No outbound network access.</p>}
        <h3>Env</h3>
        {env.length === 0 ? <p class="muted">No bindings.</p> : (
          <dl class="wf-kv">
            {env.map(([k, x]) => (
              <div key={k}>
                <dt class="mono">{k}</dt>
                <dd>{isSecret(x) ? <span class="badge">secret</span> : x && typeof x === "object" && "hostFunction" in x ? <span>host function <code>{String((x as { hostFunction: unknown }).hostFunction)}</code></span> : <EnvValue name={k} value={x} />}</dd>
              </div>
            ))}
          </dl>
        )}
      </div>
    </div>
  );
}
function EnvValue({ name, value }: { name: string; value: unknown }) {
  const flat = JSON.stringify(value);
  return flat.length <= 60 ? <code class="wf-env-value">{flat}</code> : <JsonBlock value={value} label={`Value of ${name}`} />;
}
const isSecret = (x: unknown) => !!x && typeof x === "object" && (x as { secret?: unknown }).secret === true;

// ---- deploying ----------------------------------------------------------------------------------
interface Source { mainModule: string; modules: Record<string, string> }
interface Deployed { workflow: string; version: string; className: string; createdAt: string }
interface CompileError { file: string; line: number; column: number; message: string; lineText?: string }

function DeployTab({ tenant, workflow, latest, onDeployed }: { tenant: string; workflow: string; latest: string; onDeployed: () => void }) {
  const { api } = useSession();
  // loaded once: after a deploy the editor keeps what was typed, which is now the latest version
  const ver = useLoad((signal) => api.get<VersionDetail>(paths.version(tenant, workflow, latest), undefined, signal), []);
  if (ver.error) return <ErrorBox error={ver.error} title="Could not load the latest version's code" />;
  if (!ver.data) return <Loading what="the latest version's code" />;
  const v = ver.data;
  const dropped = [v.egress.allow.length ? "egress" : "", Object.keys(v.env).length ? "env" : ""].filter(Boolean);
  return (
    <DeployForm tenant={tenant} workflow={workflow} initial={v} onDeployed={onDeployed}>
      <p class="muted wf-deploy-note">
        Pre-filled with the code of version <code>{short(v.version)}</code> (class {v.className}). A deploy from here sends the code only: the new version runs with the default limits
        {dropped.length ? <strong class="warn">, and without this version's {dropped.join(" and ")} (deploy through the API to keep them)</strong> : null}.
      </p>
    </DeployForm>
  );
}

function DeployForm(p: { tenant: string | undefined; workflow: string | null; initial: Source; onDeployed: (r: Deployed) => void; children?: ComponentChildren }) {
  const { api } = useSession();
  const [name, setName] = useState("");
  const [src, setSrc] = useState<Source>({ mainModule: p.initial.mainModule, modules: { ...p.initial.modules } });
  const [file, setFile] = useState(p.initial.mainModule);
  const [className, setClassName] = useState("");
  const [busy, setBusy] = useState(false);
  const [done, setDone] = useState<Deployed | null>(null);
  const [error, setError] = useState<unknown>(null);
  const [compile, setCompile] = useState<CompileError[]>([]);
  // per file, the errors still drawn in the editor; an edit of that file makes them stale
  const [markers, setMarkers] = useState<Record<string, EditorMarker[]>>({});
  const [jump, setJump] = useState<{ line: number; column: number; seq: number } | null>(null);
  const isNew = p.workflow === null;
  const shown = src.modules[file] !== undefined ? file : src.mainModule;

  const edit = (text: string, f: string) => {
    setSrc((s) => (s.modules[f] === undefined ? s : { ...s, modules: { ...s.modules, [f]: text } }));
    setMarkers((m) => (m[f] ? Object.fromEntries(Object.entries(m).filter(([k]) => k !== f)) : m));
  };
  const rename = (to: string) => {
    // a new workflow has one file: its name is the main module's
    setSrc({ mainModule: to, modules: { [to]: src.modules[shown] ?? "" } });
    setFile(to);
  };
  const show = (e: CompileError) => {
    if (src.modules[e.file] !== undefined) setFile(e.file);
    setJump({ line: e.line, column: e.column, seq: (jump?.seq ?? 0) + 1 });
  };
  const deploy = async (e: Event) => {
    e.preventDefault();
    const wf = isNew ? name.trim() : p.workflow!;
    if (!p.tenant || !wf) return;
    setBusy(true), setError(null), setDone(null), setCompile([]), setMarkers({});
    try {
      const r = await api.send<Deployed>("PUT", paths.workflow(p.tenant, wf), { ...src, ...(className.trim() ? { className: className.trim() } : {}) });
      setDone(r);
      p.onDeployed(r);
    } catch (err) {
      const list = err instanceof ApiError && err.code === "compile_error" && Array.isArray(err.details.errors) ? (err.details.errors as CompileError[]) : [];
      if (!list.length) setError(err);
      else {
        setCompile(list);
        const byFile: Record<string, EditorMarker[]> = {};
        for (const c of list) (byFile[c.file] ??= []).push({ line: c.line, column: c.column, message: c.message });
        setMarkers(byFile);
        // show the first error's file, so its line is marked where the user looks
        if (src.modules[list[0]!.file] !== undefined) setFile(list[0]!.file);
      }
    } finally {
      setBusy(false);
    }
  };
  const hint = isNew ? "new-wf-hint" : "deploy-hint";
  return (
    <form class="wf-deploy-form" onSubmit={deploy} aria-label={isNew ? "New workflow" : "Deploy a new version"}>
      {p.children}
      <div class="filters">
        {isNew ? (
          <>
            <div class="field">
              <label for="wf-name">Workflow name</label>
              <input id="wf-name" value={name} required autoComplete="off" spellcheck={false} placeholder="e.g. signup-flow" aria-describedby="wf-name-hint" onInput={(e) => setName((e.target as HTMLInputElement).value)} />
              <span class="muted wf-hint" id="wf-name-hint">Letters, digits, <code>-</code> and <code>_</code>; at most 64.</span>
            </div>
            <div class="field">
              <label for="wf-file">File name</label>
              <input id="wf-file" value={src.mainModule} required autoComplete="off" spellcheck={false} onInput={(e) => rename((e.target as HTMLInputElement).value)} />
            </div>
          </>
        ) : null}
        <div class="field">
          <label for={isNew ? "new-class" : "deploy-class"}>Class name <span class="muted">(optional)</span></label>
          <input id={isNew ? "new-class" : "deploy-class"} value={className} autoComplete="off" spellcheck={false} placeholder="found in the code" onInput={(e) => setClassName((e.target as HTMLInputElement).value)} />
        </div>
      </div>
      <FileButtons files={fileOrder(src)} main={src.mainModule} shown={shown} onPick={setFile} />
      <CodeEditor value={src.modules[shown] ?? ""} docKey={shown} onChange={edit} markers={markers[shown]} jump={jump} contentLabel={`${shown} source`} hintId={hint} />
      {compile.length ? (
        <div class="error-box wf-compile-errors" role="alert">
          <strong>Does not compile ({compile.length} {compile.length === 1 ? "error" : "errors"})</strong>
          <ul>
            {compile.map((c, i) => (
              <li key={i}>
                <button type="button" class="wf-link" onClick={() => show(c)}>
                  <span class="mono">{c.file}:{c.line}:{c.column}</span> {c.message}
                </button>
                {c.lineText ? <pre class="wf-line-text" aria-hidden="true">{c.lineText}{"\n" + " ".repeat(Math.max(0, c.column - 1)) + "^"}</pre> : null}
              </li>
            ))}
          </ul>
        </div>
      ) : null}
      <ErrorBox error={error} title="Deploy failed" />
      <div class="row wf-deploy-actions">
        <button type="submit" class="btn primary" disabled={busy || !p.tenant} aria-describedby={busy ? "deploy-busy" : undefined}>Deploy</button>
        {busy ? <span class="muted" id="deploy-busy">Compiling and deploying…</span> : null}
        <div role="status" class="wf-deploy-status">
          {done ? <span class="ok-box">Deployed version <code title={done.version}>{short(done.version)}</code> (class {done.className})</span> : null}
        </div>
      </div>
    </form>
  );
}

// ---- #/new --------------------------------------------------------------------------------------
const STARTER = `import { WorkflowEntrypoint, type WorkflowEvent, type WorkflowStep } from "cloudflare:workers";

type Params = { email?: string };

export class MyWorkflow extends WorkflowEntrypoint<unknown, Params> {
  async run(event: WorkflowEvent<Params>, step: WorkflowStep) {
    // a step's result is stored: after a restart the step is not run again
    const user = await step.do("load user", async () => {
      return { email: event.payload?.email ?? "someone@example.com" };
    });

    await step.sleep("wait a moment", "10 seconds");

    // the instance waits (and costs nothing) until an event of this type is sent to it
    const approval = await step.waitForEvent<{ approved: boolean }>("approval", { type: "approved", timeout: "1 hour" });

    return { email: user.email, approved: approval.payload.approved };
  }
}
`;

export function NewWorkflowPage({ tenant }: { tenant?: string }) {
  const t = useTenant(tenant);
  const cur = t.current;
  return (
    <section>
      <PageHeader title="New workflow" crumbs={[{ label: "Overview", href: links.overview() }, { label: "Workflows", href: links.workflows(cur) }, { label: "New workflow" }]} />
      <ErrorBox error={t.list.error} title="Could not load tenants" />
      <DeployForm tenant={cur} workflow={null} initial={{ mainModule: "index.ts", modules: { "index.ts": STARTER } }} onDeployed={(r) => cur && navigate(links.workflow(cur, r.workflow))}>
        <div class="filters"><TenantField t={t} onPick={(n) => navigate(links.newWorkflow(n), { replace: true })} /></div>
      </DeployForm>
    </section>
  );
}

// ---- creating an instance -----------------------------------------------------------------------
function kind(v: unknown): string {
  return v === null ? "null" : Array.isArray(v) ? "an array" : typeof v === "object" ? "an object" : `a ${typeof v}`;
}

/** the parsed params and metadata, or which field is wrong and why */
export function parseCreate(params: string, metadata: string): { params?: unknown; metadata: Record<string, string> } | { field: "params" | "metadata"; message: string } {
  let pv: unknown;
  if (params.trim()) {
    try {
      pv = JSON.parse(params);
    } catch (e) {
      return { field: "params", message: `Params is not valid JSON: ${(e as Error).message}` };
    }
  }
  let mv: unknown = {};
  if (metadata.trim()) {
    try {
      mv = JSON.parse(metadata);
    } catch (e) {
      return { field: "metadata", message: `Metadata is not valid JSON: ${(e as Error).message}` };
    }
  }
  if (!mv || typeof mv !== "object" || Array.isArray(mv)) return { field: "metadata", message: `Metadata must be an object of strings: it is ${kind(mv)}` };
  for (const [k, x] of Object.entries(mv)) {
    if (typeof x !== "string") return { field: "metadata", message: `Metadata must be an object of strings: key "${k}" is ${kind(x)}` };
  }
  return { ...(pv === undefined ? {} : { params: pv }), metadata: mv as Record<string, string> };
}

function CreateInstanceForm({ tenant, workflow }: { tenant: string; workflow: string }) {
  const { api } = useSession();
  const [id, setId] = useState("");
  const [params, setParams] = useState("{}");
  const [metadata, setMetadata] = useState("{}");
  const [problem, setProblem] = useState<{ field: "params" | "metadata"; message: string } | null>(null);
  const [error, setError] = useState<unknown>(null);
  const [busy, setBusy] = useState(false);
  const submit = async (e: Event) => {
    e.preventDefault();
    setError(null);
    const parsed = parseCreate(params, metadata);
    if ("field" in parsed) {
      setProblem(parsed);
      document.getElementById(`create-${parsed.field}`)?.focus();
      return;
    }
    setProblem(null);
    setBusy(true);
    try {
      const created = await api.send<InstanceSummary>("POST", paths.instances(tenant, workflow), { ...(id.trim() ? { id: id.trim() } : {}), ...parsed });
      navigate(links.instance(tenant, workflow, created.id));
    } catch (err) {
      setError(err);
      setBusy(false);
    }
  };
  const invalid = (f: "params" | "metadata", hint = "") =>
    problem?.field === f ? { "aria-invalid": true, "aria-describedby": `create-problem ${hint}`.trim() } : hint ? { "aria-describedby": hint } : {};
  return (
    <form class="card stack wf-create-form" onSubmit={submit} aria-label="Create an instance" noValidate>
      <div class="field">
        <label for="create-id">Instance id <span class="muted">(optional)</span></label>
        <input id="create-id" value={id} autoComplete="off" spellcheck={false} placeholder="generated when empty" onInput={(e) => setId((e.target as HTMLInputElement).value)} />
      </div>
      <div class="field">
        <label for="create-params">Params (JSON)</label>
        <textarea id="create-params" rows={6} spellcheck={false} value={params} {...invalid("params")} onInput={(e) => setParams((e.target as HTMLTextAreaElement).value)} />
      </div>
      <div class="field">
        <label for="create-metadata">Metadata (JSON)</label>
        <textarea id="create-metadata" rows={3} spellcheck={false} value={metadata} {...invalid("metadata", "create-metadata-hint")} onInput={(e) => setMetadata((e.target as HTMLTextAreaElement).value)} />
        <span class="muted" id="create-metadata-hint">An object of string values, e.g. <code>{`{"customer": "big"}`}</code>; instances can be filtered by it.</span>
      </div>
      {problem ? <div class="error-box" role="alert" id="create-problem">{problem.message}</div> : null}
      <ErrorBox error={error} title="Could not create the instance" />
      <div class="row">
        <button type="submit" class="btn primary" disabled={busy}>Create instance</button>
        {busy ? <span class="muted" role="status">Creating…</span> : null}
      </div>
    </form>
  );
}
