// Instances of a workflow: server-side pages (cursor), filters (status, id prefix, metadata, creation
// time), live refresh of the first page, and bulk terminate. Filters live in the URL, so a filtered
// view can be shared and survives a reload.
import { useEffect, useState } from "preact/hooks";
import { STATUSES, TERMINAL, paths, type InstanceSummary, type Status, type WorkflowSummary } from "../api.ts";
import { ErrorBox, Loading, PageHeader, StatusBadge, statusLabel } from "../components/ui.tsx";
import { ago, localToIso, time } from "../format.ts";
import { useLoad } from "../hooks.ts";
import { links, navigate, useRoute } from "../router.ts";
import { useSession, visibleTenants } from "../session.ts";

const PAGE = 50;

/** "a=b, c=d" → { "metadata.a": "b", "metadata.c": "d" }; a term without "=" is an error */
export function metadataQuery(text: string): { query: Record<string, string>; error?: string } {
  const query: Record<string, string> = {};
  for (const term of text.split(",").map((s) => s.trim()).filter(Boolean)) {
    const i = term.indexOf("=");
    if (i <= 0) return { query, error: `metadata filter "${term}" is not KEY=VALUE` };
    query[`metadata.${term.slice(0, i).trim()}`] = term.slice(i + 1).trim();
  }
  return { query };
}

export function InstancesIndex() {
  const ctx = useSession();
  const all = useLoad(async () => {
    const out: { tenant: string; workflows: WorkflowSummary[] }[] = [];
    for (const t of await visibleTenants(ctx)) out.push({ tenant: t, workflows: (await ctx.api.get<{ workflows: WorkflowSummary[] }>(paths.workflows(t))).workflows });
    return out;
  }, [ctx.session.token]);
  return (
    <>
      <PageHeader title="Instances" crumbs={[{ label: "Overview", href: links.overview() }, { label: "Instances" }]} />
      <p class="muted">Instances are listed per workflow. Pick one:</p>
      <ErrorBox error={all.error} title="Could not load workflows" />
      {all.loading ? <Loading what="workflows" /> : null}
      {all.data?.map((t) => (
        <section class="card" key={t.tenant} aria-labelledby={`it-${t.tenant}`}>
          <h2 id={`it-${t.tenant}`}>Tenant {t.tenant}</h2>
          {t.workflows.length === 0 ? <p class="muted">No workflows.</p> : (
            <ul class="link-list">
              {t.workflows.map((w) => (
                <li key={w.name}>
                  <a href={links.instances(t.tenant, w.name)}>{w.name}</a>{" "}
                  <span class="muted">{Object.values(w.instances).reduce((a, b) => a + b, 0)} instances</span>
                </li>
              ))}
            </ul>
          )}
        </section>
      ))}
    </>
  );
}

/**
 * A filter field that keeps what the reader is typing: the list refreshes itself every 2 s, and a
 * controlled input would be reset to the committed filter by that re-render (the typed text lost,
 * or an emptied field snapping back). The draft follows the committed value only when that changes.
 */
function FilterInput(p: { id: string; type: "search" | "datetime-local"; value: string; placeholder?: string; onCommit: (v: string) => void }) {
  const [draft, setDraft] = useState(p.value);
  useEffect(() => setDraft(p.value), [p.value]);
  return (
    <input id={p.id} type={p.type} step={p.type === "datetime-local" ? "1" : undefined} value={draft} placeholder={p.placeholder}
      onInput={(e) => setDraft((e.target as HTMLInputElement).value)}
      onChange={(e) => p.onCommit((e.target as HTMLInputElement).value)} />
  );
}

export function InstancesPage({ tenant, workflow }: { tenant: string; workflow: string }) {
  const ctx = useSession();
  const { query } = useRoute();
  const status = (query.get("status") ?? "") as Status | "";
  const idPrefix = query.get("id") ?? "";
  const meta = query.get("meta") ?? "";
  const after = query.get("after") ?? "";
  const before = query.get("before") ?? "";
  const [live, setLive] = useState(query.get("live") !== "0");
  // cursors of the pages before this one; [] = the first page
  const [cursors, setCursors] = useState<string[]>([]);
  const [selected, setSelected] = useState<Set<string>>(new Set());
  const [bulk, setBulk] = useState<{ busy: boolean; done?: string; error?: unknown }>({ busy: false });
  const metaQ = metadataQuery(meta);
  const filterKey = [status, idPrefix, meta, after, before].join("\u0000");
  useEffect(() => (setCursors([]), setSelected(new Set())), [filterKey]);
  const cursor = cursors[cursors.length - 1];

  const page = useLoad(
    (signal) => {
      if (metaQ.error) return Promise.reject(new Error(metaQ.error));
      return ctx.api.get<{ instances: InstanceSummary[]; cursor: string | null }>(paths.instances(tenant, workflow), {
        limit: PAGE, status: status || undefined, idPrefix: idPrefix || undefined, createdAfter: localToIso(after), createdBefore: localToIso(before), cursor, ...metaQ.query,
      }, signal);
    },
    [tenant, workflow, filterKey, cursor],
    // only the first page refreshes itself: a later page would shift under the reader
    { ms: 2000, live: live && cursors.length === 0 },
  );
  const [loadedAt, setLoadedAt] = useState(Date.now());
  useEffect(() => setLoadedAt(Date.now()), [page.data]);

  const setFilter = (k: string, v: string) => {
    const q = new URLSearchParams(query);
    if (v) q.set(k, v);
    else q.delete(k);
    navigate(`${links.instances(tenant, workflow)}${q.toString() ? `?${q}` : ""}`.replace(/\?(.*)\?/, "?$1&"), { replace: true });
  };
  const rows = page.data?.instances ?? [];
  const selectable = rows.filter((r) => !TERMINAL.has(r.status));
  const allSelected = selectable.length > 0 && selectable.every((r) => selected.has(r.id));
  const toggle = (id: string) => setSelected((s) => {
    const n = new Set(s);
    if (n.has(id)) n.delete(id);
    else n.add(id);
    return n;
  });

  const terminateSelected = async () => {
    const ids = [...selected];
    if (!confirm(`Terminate ${ids.length} instance${ids.length === 1 ? "" : "s"} of ${workflow}? Their running steps stop; this cannot be undone.`)) return;
    setBulk({ busy: true });
    const failed: string[] = [];
    // a few at a time: the API takes one instance per request
    for (let i = 0; i < ids.length; i += 8) {
      await Promise.all(ids.slice(i, i + 8).map((id) =>
        ctx.api.send("POST", `${paths.instance(tenant, workflow, id)}/terminate`, {}).catch((e: Error) => failed.push(`${id}: ${e.message}`))));
    }
    setSelected(new Set());
    setBulk({ busy: false, done: `Terminated ${ids.length - failed.length} of ${ids.length}.`, error: failed.length ? new Error(failed.join("\n")) : undefined });
    page.reload();
  };

  return (
    <>
      <PageHeader
        title={<>Instances of {workflow}</>}
        crumbs={[{ label: "Overview", href: links.overview() }, { label: tenant, href: links.workflows(tenant) }, { label: workflow, href: links.workflow(tenant, workflow) }, { label: "Instances" }]}
      >
        <a class="btn" href={links.workflow(tenant, workflow, "create")}>Create instance</a>
      </PageHeader>
      <form class="filters" role="search" aria-label="Filter instances" onSubmit={(e) => e.preventDefault()}>
        <div class="field">
          <label for="f-status">Status</label>
          <select id="f-status" value={status} onChange={(e) => setFilter("status", (e.target as HTMLSelectElement).value)}>
            <option value="">All</option>
            {STATUSES.map((s) => <option value={s} key={s}>{statusLabel(s)}</option>)}
          </select>
        </div>
        <div class="field">
          <label for="f-id">Instance id starts with</label>
          <FilterInput id="f-id" type="search" value={idPrefix} placeholder="user-" onCommit={(v) => setFilter("id", v.trim())} />
        </div>
        <div class="field">
          <label for="f-meta">Metadata (key=value, …)</label>
          <FilterInput id="f-meta" type="search" value={meta} placeholder="customer=acme" onCommit={(v) => setFilter("meta", v.trim())} />
        </div>
        <div class="field">
          <label for="f-after">Created after</label>
          <FilterInput id="f-after" type="datetime-local" value={after} onCommit={(v) => setFilter("after", v)} />
        </div>
        <div class="field">
          <label for="f-before">Created before</label>
          <FilterInput id="f-before" type="datetime-local" value={before} onCommit={(v) => setFilter("before", v)} />
        </div>
        <label class="check">
          <input type="checkbox" checked={live} onChange={(e) => setLive((e.target as HTMLInputElement).checked)} /> Live
        </label>
      </form>
      <div class="row bulk-bar">
        <button type="button" class="btn danger" disabled={selected.size === 0 || bulk.busy} onClick={terminateSelected}>
          {bulk.busy ? "Terminating…" : `Terminate selected (${selected.size})`}
        </button>
        {bulk.done ? <span role="status">{bulk.done}</span> : null}
        <span class="muted" aria-live="off">{live && cursors.length === 0 ? `live · updated ${ago(new Date(loadedAt).toISOString())}` : ""}</span>
      </div>
      <ErrorBox error={bulk.error} title="Some instances were not terminated" />
      <ErrorBox error={page.error} title="Could not list instances" />
      {page.loading && !page.data ? <Loading what="instances" /> : null}
      {page.data ? (
        <div class="table-wrap">
          <table aria-label={`Instances of ${workflow}`} data-testid="instances-table" aria-busy={page.loading}>
            <thead>
              <tr>
                <th scope="col">
                  <input type="checkbox" aria-label="Select all running instances on this page" checked={allSelected} disabled={selectable.length === 0}
                    onChange={() => setSelected(allSelected ? new Set() : new Set(selectable.map((r) => r.id)))} />
                </th>
                <th scope="col">Instance</th>
                <th scope="col">Status</th>
                <th scope="col" class="hide-narrow">Version</th>
                <th scope="col">Created</th>
                <th scope="col" class="hide-narrow">Ended</th>
                <th scope="col" class="hide-narrow">Metadata</th>
              </tr>
            </thead>
            <tbody>
              {rows.map((r) => (
                <tr key={r.id} data-instance={r.id}>
                  <td>
                    <input type="checkbox" aria-label={`Select ${r.id}`} checked={selected.has(r.id)} disabled={TERMINAL.has(r.status)} onChange={() => toggle(r.id)} />
                  </td>
                  <td><a href={links.instance(tenant, workflow, r.id)} class="mono">{r.id}</a></td>
                  <td><StatusBadge status={r.status} /></td>
                  <td class="hide-narrow mono muted" title={r.version}>{r.version.slice(0, 10)}</td>
                  <td title={time(r.createdAt)}>{ago(r.createdAt)}</td>
                  <td class="hide-narrow" title={time(r.endedAt)}>{r.endedAt ? ago(r.endedAt) : "–"}</td>
                  <td class="hide-narrow wrap mono">{Object.entries(r.metadata).map(([k, v]) => `${k}=${v}`).join(", ")}</td>
                </tr>
              ))}
              {rows.length === 0 ? (
                <tr><td colSpan={7} class="muted">No instances match.</td></tr>
              ) : null}
            </tbody>
          </table>
        </div>
      ) : null}
      <nav class="pager" aria-label="Pages">
        <span class="muted">page {cursors.length + 1}</span>
        <button type="button" class="btn" disabled={cursors.length === 0} onClick={() => setCursors((c) => c.slice(0, -1))}>Previous</button>
        <button type="button" class="btn" disabled={!page.data?.cursor} onClick={() => setCursors((c) => [...c, page.data!.cursor!])}>Next</button>
      </nav>
    </>
  );
}
