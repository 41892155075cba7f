// The instance detail page (#/t/T/w/W/i/ID?tab=…): live status, summary, actions, the step timeline
// with params and output, a live log tail, and the instance's SQL database and files.
import { useEffect, useLayoutEffect, useMemo, useRef, useState } from "preact/hooks";
import { ApiError, TERMINAL, paths, type Api, type InstanceDetail, type LogLine, type Status, type StepView } from "../api.ts";
import { useLoad } from "../hooks.ts";
import { links, navigate } from "../router.ts";
import { useSession } from "../session.ts";
import { duration, time } from "../format.ts";
import { ErrorBox, JsonBlock, Loading, PageHeader, StatusBadge, Tabs } from "../components/ui.tsx";
import { ErrorDetails, Timeline, stepLabel } from "../components/timeline.tsx";
import { FilesPanel, SqlPanel } from "../components/instance-data.tsx";
import "./instance.css";

const TABS = [
  { id: "timeline", label: "Timeline" },
  { id: "logs", label: "Logs" },
  { id: "sql", label: "SQL" },
  { id: "files", label: "Files" },
];
const CAN_PAUSE: ReadonlySet<Status> = new Set(["running", "waiting", "queued"]);
const CAN_RESUME: ReadonlySet<Status> = new Set(["paused", "waitingForPause"]);
/** the log tail keeps this many lines: a chatty instance must not grow the page without bound */
const MAX_LOG_LINES = 10_000;

type Restartable = Extract<StepView, { type: "step" | "sleep" | "waitForEvent" }>;

// ---- live log tail ----------------------------------------------------------------------------------

interface Tail {
  lines: LogLine[];
  error: unknown;
  dropped: number;
}

/**
 * Appends new lines (after the last seq seen) once a second while `live`; when the instance turns
 * terminal the effect runs once more without re-arming, which is the final fetch. It only runs while
 * the log is on screen, and resumes from the kept seq when it comes back.
 */
function useLogTail(api: Api, base: string, enabled: boolean, live: boolean, epoch: number): Tail {
  const [tail, setTail] = useState<Tail>({ lines: [], error: null, dropped: 0 });
  const seq = useRef(0);
  const epochRef = useRef(epoch);
  useEffect(() => {
    if (!enabled) return;
    if (epochRef.current !== epoch) {
      // after a restart the engine may rewrite the log: start over rather than show a mix
      epochRef.current = epoch;
      seq.current = 0;
      setTail({ lines: [], error: null, dropped: 0 });
    }
    const ac = new AbortController();
    let timer: ReturnType<typeof setTimeout> | undefined;
    const tick = async () => {
      try {
        for (;;) {
          const r = await api.get<{ logs: LogLine[]; cursor: number | null }>(base + "/logs", { after: seq.current, limit: 1000 }, ac.signal);
          if (ac.signal.aborted) return;
          const fresh = r.logs.filter((l) => l.seq > seq.current);
          if (fresh.length > 0) {
            seq.current = fresh[fresh.length - 1]!.seq;
            setTail((t) => {
              const all = t.lines.concat(fresh);
              const cut = Math.max(0, all.length - MAX_LOG_LINES);
              return { lines: cut ? all.slice(cut) : all, error: null, dropped: t.dropped + cut };
            });
          } else setTail((t) => (t.error ? { ...t, error: null } : t));
          if (r.cursor === null || fresh.length === 0) break; // a full page means there may be more now
        }
      } catch (e) {
        if (ac.signal.aborted) return;
        setTail((t) => ({ ...t, error: e }));
      }
      if (live && !ac.signal.aborted) timer = setTimeout(() => void tick(), 1000);
    };
    void tick();
    return () => {
      ac.abort();
      clearTimeout(timer);
    };
  }, [api, base, enabled, live, epoch]);
  return tail;
}

// built once: a formatter per call costs about a millisecond, and the log has thousands of lines
const LOG_CLOCK = new Intl.DateTimeFormat(undefined, { hour12: false, hour: "2-digit", minute: "2-digit", second: "2-digit" });
function clockMs(iso: string): string {
  const d = new Date(iso);
  return `${LOG_CLOCK.format(d)}.${String(d.getMilliseconds()).padStart(3, "0")}`;
}

function LogPanel({ tail, live }: { tail: Tail; live: boolean }) {
  const pre = useRef<HTMLPreElement>(null);
  // follow the end until the reader scrolls up; scrolling back down resumes following
  const stick = useRef(true);
  const [following, setFollowing] = useState(true);
  const [filter, setFilter] = useState("");
  const shown = filter ? tail.lines.filter((l) => `${l.level} ${l.message}`.toLowerCase().includes(filter.toLowerCase())) : tail.lines;
  useLayoutEffect(() => {
    const el = pre.current;
    if (el && stick.current) el.scrollTop = el.scrollHeight;
  }, [shown.length, shown[shown.length - 1]?.seq]);
  const toEnd = () => {
    const el = pre.current;
    if (el) el.scrollTop = el.scrollHeight;
    stick.current = true;
    setFollowing(true);
  };
  return (
    <section class="card">
      <div class="row log-head">
        <h2 id="log-h">Log</h2>
        <span class="muted small">
          {tail.lines.length} {tail.lines.length === 1 ? "line" : "lines"}
          {tail.dropped ? ` (the oldest ${tail.dropped} dropped)` : ""} · {live ? "live" : "final"}
        </span>
        <div class="log-tools">
          <label class="sr-only" for="log-filter">Filter lines</label>
          <input id="log-filter" type="search" placeholder="Filter lines" value={filter} onInput={(e) => setFilter((e.target as HTMLInputElement).value)} />
          {!following ? <button type="button" class="btn small" onClick={toEnd}>Follow the end</button> : null}
        </div>
      </div>
      <ErrorBox error={tail.error} title="Could not load the log" />
      <pre
        ref={pre} class="log" aria-label="Log" tabIndex={0}
        onScroll={(e) => {
          const el = e.currentTarget as HTMLPreElement;
          const atEnd = el.scrollTop + el.clientHeight >= el.scrollHeight - 8;
          stick.current = atEnd;
          if (atEnd !== following) setFollowing(atEnd);
        }}
      >
        {shown.length === 0 ? (
          <span class="muted">{filter ? "no line matches" : live ? "no log lines yet: console.log in a step shows up here" : "no log lines"}</span>
        ) : (
          shown.map((l) => (
            <span class={`log-line lvl-${l.level}`} key={l.seq}>
              <span class="log-time">{clockMs(l.at)}</span> <span class="log-lvl">{l.level}</span> {l.message}
              {"\n"}
            </span>
          ))
        )}
      </pre>
    </section>
  );
}

// ---- summary and actions ------------------------------------------------------------------------------

function Summary({ d, now }: { d: InstanceDetail; now: number }) {
  const start = d.start ? Date.parse(d.start) : undefined;
  const end = d.end ? Date.parse(d.end) : undefined;
  const meta = Object.entries(d.metadata ?? {});
  return (
    <section class="card">
      <h2 id="summary-h">Summary</h2>
      <dl class="inst-kv">
        <dt>Version</dt>
        <dd><code class="break">{d.versionId}</code></dd>
        <dt>Created</dt>
        <dd>{time(d.queued)}</dd>
        <dt>Started</dt>
        <dd>{time(d.start)}</dd>
        <dt>Ended</dt>
        <dd>{d.end ? time(d.end) : <span class="muted">not yet</span>}</dd>
        <dt>Duration</dt>
        <dd>{start === undefined ? "–" : end !== undefined ? duration(end - start) : `${duration(now - start)} so far`}</dd>
        <dt>Trigger</dt>
        <dd>{d.trigger?.source ?? "–"}</dd>
        <dt>Metadata</dt>
        <dd>
          {meta.length === 0 ? <span class="muted">none</span> : (
            <span class="chips">
              {meta.map(([k, v]) => <code class="chip" key={k}>{k}={v}</code>)}
            </span>
          )}
        </dd>
      </dl>
    </section>
  );
}

function Actions({ d, api, base, tenant, workflow, onChanged }: { d: InstanceDetail; api: Api; base: string; tenant: string; workflow: string; onChanged: (restarted: boolean) => void }) {
  const [busy, setBusy] = useState<string | null>(null);
  const [error, setError] = useState<unknown>(null);
  const [message, setMessage] = useState("");
  const [rollback, setRollback] = useState(false);
  const [from, setFrom] = useState("");
  const [evType, setEvType] = useState("");
  const [payload, setPayload] = useState("");

  const steps = d.steps.filter((s): s is Restartable => s.type === "step" || s.type === "sleep" || s.type === "waitForEvent");
  // keyed by the step itself, not its position: the list changes under the select as the instance runs
  const keyOf = (s: Restartable) => JSON.stringify([s.type, s.name, s.count]);
  const options = [...new Map(steps.map((s) => [keyOf(s), s])).values()];
  const terminal = TERMINAL.has(d.status);

  const act = async (what: string, done: string, fn: () => Promise<unknown>, restarted = false) => {
    setBusy(what);
    setError(null);
    setMessage("");
    try {
      await fn();
      setMessage(done);
      onChanged(restarted);
    } catch (e) {
      setError(e);
    } finally {
      setBusy(null);
    }
  };

  const restart = () => {
    const s = from === "" ? undefined : options.find((o) => keyOf(o) === from);
    if (!confirm(`Restart ${d.id} from ${s ? stepLabel(s) : "the beginning"}? The steps from there on run again.`)) return;
    const body = s ? { from: { name: s.name, count: s.count, type: s.type === "step" ? "do" : s.type } } : {};
    void act("restart", "Restarted", () => api.send("POST", base + "/restart", body), true);
  };
  const terminate = () => {
    if (!confirm(`Terminate ${d.id}?${rollback ? " Its completed steps are rolled back." : ""} This cannot be undone (except by a restart).`)) return;
    void act("terminate", "Terminated", () => api.send("POST", base + "/terminate", { rollback }));
  };
  const remove = async () => {
    if (!confirm(`Delete ${d.id} with its log, SQL database and files? This cannot be undone.`)) return;
    setBusy("delete");
    setError(null);
    try {
      await api.send("DELETE", base);
      navigate(links.instances(tenant, workflow));
    } catch (e) {
      setError(e);
      setBusy(null);
    }
  };
  const sendEvent = (e: Event) => {
    e.preventDefault();
    let body: { type: string; payload?: unknown };
    try {
      body = payload.trim() === "" ? { type: evType.trim() } : { type: evType.trim(), payload: JSON.parse(payload) };
    } catch (err) {
      setMessage("");
      setError(new Error(`payload is not JSON: ${(err as Error).message}`));
      return;
    }
    void act("event", "Event sent", () => api.send("POST", base + "/events", body));
  };

  return (
    <section class="card">
      <h2 id="actions-h">Actions</h2>
      <div class="actions">
        <div class="row">
          <button type="button" class="btn" disabled={!!busy || !CAN_PAUSE.has(d.status)} onClick={() => void act("pause", "Paused", () => api.send("POST", base + "/pause", {}))}>Pause</button>
          <button type="button" class="btn" disabled={!!busy || !CAN_RESUME.has(d.status)} onClick={() => void act("resume", "Resumed", () => api.send("POST", base + "/resume", {}))}>Resume</button>
        </div>
        <div class="row">
          <label class="check">
            <input type="checkbox" checked={rollback} disabled={terminal} onChange={(e) => setRollback((e.target as HTMLInputElement).checked)} />
            Roll back completed steps
          </label>
          <button type="button" class="btn danger" disabled={!!busy || terminal} onClick={terminate}>Terminate</button>
        </div>
        <div class="row restart-row">
          <label for="restart-from" class="inline-label">Restart from</label>
          <select id="restart-from" value={from} onChange={(e) => setFrom((e.target as HTMLSelectElement).value)}>
            <option value="">the beginning</option>
            {options.map((s) => (
              <option value={keyOf(s)} key={keyOf(s)}>{stepLabel(s)}{s.type === "step" ? "" : ` (${s.type === "sleep" ? "sleep" : "wait"})`}</option>
            ))}
          </select>
          <button type="button" class="btn" disabled={!!busy} onClick={restart}>Restart</button>
        </div>
        <div class="row">
          <button type="button" class="btn danger" disabled={!!busy} onClick={() => void remove()}>Delete</button>
        </div>
      </div>
      <form class="event-form" onSubmit={sendEvent} aria-labelledby="event-h">
        <h3 id="event-h">Send an event</h3>
        <div class="field">
          <label for="event-type">Event type</label>
          <input id="event-type" required value={evType} placeholder="approved" autoComplete="off" spellcheck={false} onInput={(e) => setEvType((e.target as HTMLInputElement).value)} />
        </div>
        <div class="field">
          <label for="event-payload">Event payload (JSON)</label>
          <textarea id="event-payload" rows={3} value={payload} placeholder='{"approved": true}' spellcheck={false} onInput={(e) => setPayload((e.target as HTMLTextAreaElement).value)} />
        </div>
        <div class="row">
          <button type="submit" class="btn primary" disabled={!!busy || terminal}>Send event</button>
          {terminal ? <span class="muted small">the instance has ended</span> : null}
        </div>
      </form>
      <ErrorBox error={error} title="Not done" />
      <p class="action-status" role="status" aria-live="polite">
        {busy ? "Working…" : message}
      </p>
    </section>
  );
}

// ---- the page -------------------------------------------------------------------------------------------

function TimelineTab({ d, now }: { d: InstanceDetail; now: number }) {
  return (
    <>
      <section class="card">
        <h2 id="timeline-h">Steps</h2>
        <Timeline detail={d} now={now} />
      </section>
      {d.error ? (
        <section class="card error-card">
          <h2 id="inst-error-h">Instance error</h2>
          <ErrorDetails error={d.error} />
        </section>
      ) : null}
      <div class="grid">
        <section class="card">
          <h2 id="params-h">Params</h2>
          {d.params === undefined ? <p class="muted">no params</p> : <JsonBlock label="Params" value={d.params} />}
        </section>
        <section class="card">
          <h2 id="output-h">Output</h2>
          {d.status === "complete" ? (
            <JsonBlock label="Output" value={d.output} />
          ) : (
            <p class="muted">{TERMINAL.has(d.status) ? `no output: the instance ${d.status === "errored" ? "failed" : "was terminated"}` : "the output appears when the instance completes"}</p>
          )}
        </section>
      </div>
    </>
  );
}

export function InstancePage({ tenant, workflow, id, tab }: { tenant: string; workflow: string; id: string; tab: string }) {
  const { api } = useSession();
  const base = paths.instance(tenant, workflow, id);
  const [terminal, setTerminal] = useState(false);
  const [epoch, setEpoch] = useState(0);
  const [, setClock] = useState(0);
  const [gone, setGone] = useState(false);
  const detail = useLoad((signal) => api.get<InstanceDetail>(base, undefined, signal), [base], { ms: 1000, live: !terminal && !gone });
  const d = detail.data;
  useEffect(() => setTerminal(d ? TERMINAL.has(d.status) : false), [d?.status]);
  // a deleted instance answers 404 for good: stop asking
  useEffect(() => setGone(detail.error instanceof ApiError && detail.error.status === 404), [detail.error]);
  const current = TABS.some((t) => t.id === tab) ? tab : "timeline";
  const live = !terminal && !gone;
  const tail = useLogTail(api, base, current === "logs", live, epoch);
  // running bars and "so far" durations move with the clock between polls too
  useEffect(() => {
    if (!live) return;
    const t = setInterval(() => setClock((c) => c + 1), 1000);
    return () => clearInterval(t);
  }, [live]);
  const now = Date.now();

  const crumbs = [
    { label: "Overview", href: links.overview() },
    { label: tenant, href: links.workflows(tenant) },
    { label: workflow, href: links.workflow(tenant, workflow) },
    { label: "Instances", href: links.instances(tenant, workflow) },
    { label: id },
  ];
  const refreshKey = d ? `${d.status}|${d.steps.length}|${d.steps.filter((s) => s.type !== "termination" && s.end !== null).length}|${epoch}` : "";
  // the page renders every second (poll, clock); the same vnode makes Preact skip these panels, so a
  // long log or a 1000-row result is not diffed again for nothing
  const logPanel = useMemo(() => <LogPanel tail={tail} live={live} />, [tail, live]);
  const sqlPanel = useMemo(() => <SqlPanel api={api} base={base} refreshKey={refreshKey} />, [api, base, refreshKey]);
  const filesPanel = useMemo(() => <FilesPanel api={api} base={base} refreshKey={refreshKey} />, [api, base, refreshKey]);

  return (
    <section class="instance-page">
      <PageHeader
        crumbs={crumbs}
        title={
          <span class="inst-title">
            <span class="mono inst-id">{id}</span>
            {d ? <StatusBadge status={d.status} testId="instance-status" /> : null}
          </span>
        }
      >
        {d ? <span class="muted small live-note">{live ? <><span class="pulse" aria-hidden="true" /> live</> : `ended ${time(d.end)}`}</span> : null}
      </PageHeader>
      {detail.error ? <ErrorBox error={detail.error} title={gone ? "This instance does not exist (any more)" : "Could not load the instance"} /> : null}
      {!d && !detail.error ? <Loading what="the instance" /> : null}
      {d ? (
        <>
          <div class="inst-top">
            <Summary d={d} now={now} />
            <Actions
              d={d} api={api} base={base} tenant={tenant} workflow={workflow}
              onChanged={(restarted) => {
                if (restarted) setEpoch((e) => e + 1);
                detail.reload();
              }}
            />
          </div>
          <Tabs tabs={TABS} current={current} label="Instance views" onSelect={(t) => navigate(links.instance(tenant, workflow, id, t), { replace: true })} />
          <div role="tabpanel" id={`panel-${current}`}>
            {current === "timeline" ? <TimelineTab d={d} now={now} /> : null}
            {current === "logs" ? logPanel : null}
            {current === "sql" ? sqlPanel : null}
            {current === "files" ? filesPanel : null}
          </div>
        </>
      ) : null}
    </section>
  );
}
