// Overview: per tenant, instance counts by status for every workflow (workflows with failures first)
// and a chart of creations and completions over a chosen window.
import { useState } from "preact/hooks";
import { STATUSES, paths, type ActivityBucket, type Counts, type WorkflowSummary } from "../api.ts";
import { ActivityChart } from "../components/chart.tsx";
import { CountsRow, ErrorBox, Loading, PageHeader, StatusBadge } from "../components/ui.tsx";
import { ago } from "../format.ts";
import { useLoad } from "../hooks.ts";
import { links } from "../router.ts";
import { useSession, visibleTenants } from "../session.ts";

const WINDOWS = [
  { id: "1h", label: "Last hour", ms: 3600_000, bucket: 120 },
  { id: "24h", label: "Last 24 hours", ms: 24 * 3600_000, bucket: 3600 },
  { id: "7d", label: "Last 7 days", ms: 7 * 24 * 3600_000, bucket: 6 * 3600 },
];

/** failures first, then the busiest, then by name */
export function byFailures(a: WorkflowSummary, b: WorkflowSummary): number {
  return b.instances.errored - a.instances.errored || active(b.instances) - active(a.instances) || a.name.localeCompare(b.name);
}
const active = (c: Counts) => c.running + c.waiting + c.queued + c.paused + c.waitingForPause;

function TenantSection({ tenant, window: win }: { tenant: string; window: (typeof WINDOWS)[number] }) {
  const ctx = useSession();
  const wfs = useLoad((signal) => ctx.api.get<{ workflows: WorkflowSummary[] }>(paths.workflows(tenant), undefined, signal), [tenant], { ms: 5000, live: true });
  const activity = useLoad((signal) => {
    // whole buckets, aligned to the bucket width, so the bars do not shift on every refresh
    const b = win.bucket * 1000;
    const to = Math.ceil(Date.now() / b) * b;
    return ctx.api.get<{ buckets: ActivityBucket[] }>(paths.activity(tenant), { from: new Date(to - win.ms).toISOString(), to: new Date(to).toISOString(), bucket: win.bucket }, signal);
  }, [tenant, win.id], { ms: 10_000, live: true });
  const list = [...(wfs.data?.workflows ?? [])].sort(byFailures);
  const totals = Object.fromEntries(STATUSES.map((s) => [s, list.reduce((n, w) => n + w.instances[s], 0)])) as Counts;
  return (
    <section class="card" aria-labelledby={`tenant-${tenant}`} data-testid={`tenant-${tenant}`}>
      <div class="row">
        <h2 id={`tenant-${tenant}`}>Tenant {tenant}</h2>
        <span class="page-actions">
          <a class="btn small" href={links.workflows(tenant)}>Workflows</a>
          <a class="btn small" href={links.newWorkflow(tenant)}>New workflow</a>
          {ctx.session.kind === "admin" ? <a class="btn small" href={links.tenant(tenant)}>Quotas and tokens</a> : null}
        </span>
      </div>
      <div class="grid">
        <div>
          <h3>Instances by status</h3>
          <CountsRow counts={totals} />
          <ErrorBox error={wfs.error} title="Could not load workflows" />
          {wfs.loading && !wfs.data ? <Loading what="workflows" /> : null}
          {wfs.data && list.length === 0 ? <p class="muted">No workflows yet. <a href={links.newWorkflow(tenant)}>Deploy one</a>.</p> : null}
          {list.length > 0 ? (
            <div class="table-wrap">
              <table aria-label={`Workflows of ${tenant}`}>
                <thead>
                  <tr><th scope="col">Workflow</th><th scope="col">Instances</th><th scope="col" class="hide-narrow">Updated</th></tr>
                </thead>
                <tbody>
                  {list.map((w) => (
                    <tr key={w.name} data-failures={w.instances.errored > 0 ? "yes" : "no"}>
                      <td>
                        <a href={links.instances(tenant, w.name)}>{w.name}</a>
                        {w.instances.errored > 0 ? <> <StatusBadge status="errored" /></> : null}
                      </td>
                      <td class="wrap"><CountsRow counts={w.instances} /></td>
                      <td class="hide-narrow muted">{ago(w.updatedAt)}</td>
                    </tr>
                  ))}
                </tbody>
              </table>
            </div>
          ) : null}
        </div>
        <div>
          <h3>Created and ended, {win.label.toLowerCase()}</h3>
          <ErrorBox error={activity.error} title="Could not load activity" />
          {activity.data ? <ActivityChart buckets={activity.data.buckets} label={`Instances of ${tenant} created and ended`} /> : <Loading what="activity" />}
        </div>
      </div>
    </section>
  );
}

export function Overview() {
  const ctx = useSession();
  const [winId, setWinId] = useState("24h");
  const win = WINDOWS.find((w) => w.id === winId)!;
  const tenants = useLoad(() => visibleTenants(ctx), [ctx.session.token]);
  return (
    <>
      <PageHeader title="Overview">
        <label class="sr-only" for="window">Time window</label>
        <select id="window" value={winId} onChange={(e) => setWinId((e.target as HTMLSelectElement).value)}>
          {WINDOWS.map((w) => <option value={w.id} key={w.id}>{w.label}</option>)}
        </select>
      </PageHeader>
      <ErrorBox error={tenants.error} title="Could not load tenants" />
      {tenants.data?.length === 0 ? <p class="muted">No tenants yet. Create one with <code>weft tenants create NAME</code> or <code>POST /v1/tenants</code>.</p> : null}
      {tenants.data?.map((t) => <TenantSection tenant={t} window={win} key={t} />)}
    </>
  );
}
