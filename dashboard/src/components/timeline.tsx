// The instance's step timeline: a Gantt chart on one time axis (instance start → end or now), one row
// per step, sleep, wait, rollback and termination, with every attempt of a step and its errors.
import type { ComponentChildren } from "preact";
import type { Attempt, ErrorView, InstanceDetail, StepView } from "../api.ts";
import { duration, json, time } from "../format.ts";

type Tone = "ok" | "err" | "run" | "retry" | "sleep" | "wait" | "idle";

interface Span {
  start: number;
  end: number;
}

/** the error as a disclosure: the message always visible, the stack on demand */
export function ErrorDetails({ error }: { error: ErrorView }) {
  return (
    <details class="err-details">
      <summary>
        {error.name || "Error"}: {error.message}
      </summary>
      <pre>{error.stack || `${error.name}: ${error.message}`}</pre>
    </details>
  );
}

const ms = (iso: string | null | undefined): number | undefined => (iso ? Date.parse(iso) : undefined);

// one formatter: toLocaleTimeString(…, options) builds a new Intl.DateTimeFormat on every call
const CLOCK = new Intl.DateTimeFormat(undefined, { hour: "2-digit", minute: "2-digit", second: "2-digit" });
/** "HH:MM:SS" in local time: rows are seconds apart, the date is in the summary card */
function clock(t: number): string {
  return CLOCK.format(new Date(t));
}

export function stepLabel(s: { name: string; count: number }): string {
  return s.count > 1 ? `${s.name} #${s.count}` : s.name;
}

/** the retry budget from a step's config ({ retries: { limit } }), when it has one */
function retryLimit(config: unknown): number | undefined {
  const r = (config as { retries?: { limit?: unknown } } | null)?.retries;
  return typeof r?.limit === "number" ? r.limit : undefined;
}

function Bar({ span, axis, tone, title, animate, children }: { span: Span; axis: Span; tone: Tone; title: string; animate?: boolean; children?: ComponentChildren }) {
  const total = Math.max(axis.end - axis.start, 1);
  const left = Math.min(Math.max((span.start - axis.start) / total, 0), 1) * 100;
  const width = Math.min(Math.max((span.end - span.start) / total, 0), 1 - left / 100) * 100;
  return (
    <div
      class={`bar tone-${tone}${animate ? " live" : ""}${children ? " framed" : ""}`}
      style={{ left: `min(${left}%, calc(100% - 2px))`, width: `max(2px, ${width}%)` }}
      title={title}
    >
      {children}
    </div>
  );
}

/** the attempts of a step as segments inside its bar, positioned relative to the bar itself */
function Segments({ attempts, span, now }: { attempts: Attempt[]; span: Span; now: number }) {
  const total = Math.max(span.end - span.start, 1);
  return (
    <>
      {attempts.map((a, i) => {
        const s = ms(a.start)!;
        const e = ms(a.end) ?? now;
        const left = Math.min(Math.max((s - span.start) / total, 0), 1) * 100;
        const width = Math.min(Math.max((e - s) / total, 0), 1) * 100;
        const tone: Tone = a.success === true ? "ok" : a.success === false ? "err" : "run";
        return <span key={i} class={`seg tone-${tone}`} style={{ left: `min(${left}%, calc(100% - 2px))`, width: `max(2px, ${width}%)` }} />;
      })}
    </>
  );
}

function Row({ icon, kind, label, note, dur, bar, children }: { icon: string; kind: string; label: string; note?: ComponentChildren; dur: string; bar: ComponentChildren; children?: ComponentChildren }) {
  return (
    <div role="listitem" class="tl-row">
      <div class="tl-label">
        <span class={`tl-kind kind-${kind}`} aria-hidden="true">{icon}</span>
        <span class="tl-name">{label}</span>
        <span class="tl-type">{kind}</span>
        {note ? <span class="tl-note">{note}</span> : null}
      </div>
      <div class="tl-track" aria-hidden="true">{bar}</div>
      <div class="tl-dur">{dur}</div>
      {children ? <div class="tl-more">{children}</div> : null}
    </div>
  );
}

function AttemptList({ attempts, now, ended, finalError }: { attempts: Attempt[]; now: number; ended: boolean; finalError: ErrorView | null }) {
  const showAll = attempts.length > 1 || attempts.some((a) => a.error);
  return (
    <>
      {showAll ? (
        // divs, not a list: the timeline's listitems are its rows, one per step
        <div class="attempts">
          {attempts.map((a, i) => {
            const s = ms(a.start)!;
            const e = ms(a.end);
            const mark = a.success === true ? "✓" : a.success === false ? "✗" : ended ? "■" : "…";
            const state = a.success === true ? "succeeded" : a.success === false ? "failed" : ended ? "stopped" : "running";
            return (
              <div key={i} class={`attempt tone-text-${a.success === true ? "ok" : a.success === false ? "err" : ended ? "idle" : "run"}`}>
                <span>
                  attempt {i + 1} <span aria-hidden="true">{mark}</span>
                  <span class="sr-only">{state}</span> {e !== undefined ? duration(e - s) : ended ? duration(now - s) : `${duration(now - s)} so far`}
                </span>
                {a.error ? <ErrorDetails error={a.error} /> : null}
              </div>
            );
          })}
        </div>
      ) : null}
      {/* a step that failed without a recorded attempt error (a timeout, say) still shows why */}
      {finalError && !attempts.some((a) => a.error?.message === finalError.message) ? <ErrorDetails error={finalError} /> : null}
    </>
  );
}

function StepOutput({ step }: { step: { name: string; output?: unknown } }) {
  if (!("output" in step) || step.output === undefined) return null;
  return (
    <details class="step-output">
      <summary>Result</summary>
      <pre class="json" tabIndex={0} aria-label={`Result of ${step.name}`}>{json(step.output)}</pre>
    </details>
  );
}

/** `now` is the instance's end once it ended: a step it left unfinished stopped there */
function StepRow({ s, axis, now, running, ended }: { s: StepView; axis: Span; now: number; running: boolean; ended: boolean }) {
  switch (s.type) {
    case "step": {
      const start = ms(s.start)!;
      const end = ms(s.end) ?? now;
      const pending = s.success === null;
      const tone: Tone = s.success === true ? "ok" : s.success === false ? "err" : ended ? "idle" : s.retriesAt ? "retry" : "run";
      const limit = retryLimit(s.config);
      const tries = s.attempts.length;
      const note = [tries > 1 ? `${tries} attempts${limit !== undefined ? ` of ${limit + 1}` : ""}` : "", pending && ended ? "stopped" : ""].filter(Boolean).join(", ");
      const span = { start, end };
      return (
        <Row
          icon="▶" kind="step" label={stepLabel(s)} note={note}
          dur={!pending || ended ? duration(end - start) : s.retriesAt ? `retry ${clock(ms(s.retriesAt)!)}` : `${duration(now - start)}…`}
          bar={
            <Bar span={span} axis={axis} tone={tone} animate={pending && running && !s.retriesAt} title={`${stepLabel(s)}: ${pending ? (ended ? "stopped" : "running") : s.success ? "succeeded" : "failed"}, ${duration(end - start)}`}>
              {tries > 1 ? <Segments attempts={s.attempts} span={span} now={now} /> : null}
            </Bar>
          }
        >
          {s.retriesAt && pending && !ended ? <p class="retrying">retrying at {time(s.retriesAt)}</p> : null}
          <AttemptList attempts={s.attempts} now={now} ended={ended} finalError={s.error} />
          <StepOutput step={s} />
        </Row>
      );
    }
    case "sleep": {
      const start = ms(s.start)!;
      const due = ms(s.end)!;
      // the bar stops at now while sleeping: the axis would otherwise stretch to a due time days away
      const end = s.finished ? due : Math.min(due, now);
      return (
        <Row
          icon="☾" kind="sleep" label={stepLabel(s)}
          note={s.finished ? undefined : ended ? "cut short" : `until ${time(s.end)}`}
          dur={s.finished ? duration(due - start) : `${duration(now - start)} of ${duration(due - start)}`}
          bar={<Bar span={{ start, end }} axis={axis} tone="sleep" animate={!s.finished && running} title={`${stepLabel(s)}: ${s.finished ? "slept" : "sleeping"} ${duration(due - start)}`} />}
        />
      );
    }
    case "waitForEvent": {
      const start = ms(s.start)!;
      const end = ms(s.end) ?? now;
      const tone: Tone = !s.finished ? (ended ? "idle" : "wait") : s.error ? "err" : "ok";
      return (
        <Row
          icon="◷" kind="wait" label={stepLabel(s)}
          note={s.finished ? (s.error ? "timed out" : "received") : ended ? "never received" : "waiting for an event"}
          dur={s.finished || ended ? duration(end - start) : `${duration(now - start)}…`}
          bar={<Bar span={{ start, end }} axis={axis} tone={tone} animate={!s.finished && running} title={`${stepLabel(s)}: ${s.finished ? "done" : "waiting"}, ${duration(end - start)}`} />}
        >
          {s.error ? <ErrorDetails error={s.error} /> : null}
          <StepOutput step={s} />
        </Row>
      );
    }
    case "rollback": {
      const start = ms(s.start)!;
      const end = ms(s.end) ?? now;
      const tone: Tone = s.success === true ? "ok" : s.success === false ? "err" : ended ? "idle" : "run";
      return (
        <Row
          icon="↺" kind="rollback" label={s.name}
          note={s.success === null ? (ended ? "stopped" : "rolling back") : s.success ? "rolled back" : "rollback failed"}
          dur={s.end || ended ? duration(end - start) : `${duration(now - start)}…`}
          bar={<Bar span={{ start, end }} axis={axis} tone={tone} animate={s.success === null && running} title={`rollback of ${s.name}`} />}
        >
          {s.error ? <ErrorDetails error={s.error} /> : null}
        </Row>
      );
    }
    case "termination":
      return (
        <Row
          icon="■" kind="end" label="Terminated" note={`by ${s.trigger.source}`} dur=""
          bar={<Bar span={{ start: axis.end, end: axis.end }} axis={axis} tone="idle" title={`terminated by ${s.trigger.source}`} />}
        />
      );
  }
}

/** the span every row is drawn against: from the start (or queueing) to the end, or now while live */
function axisOf(d: InstanceDetail, now: number): Span {
  const start = ms(d.start) ?? ms(d.queued)!;
  let end = ms(d.end) ?? now;
  for (const s of d.steps) {
    if (s.type === "termination") continue;
    const e = s.type === "sleep" && !s.finished ? undefined : ms(s.end);
    if (e !== undefined && e > end) end = e;
  }
  return { start, end: Math.max(end, start + 1) };
}

export function Timeline({ detail, now }: { detail: InstanceDetail; now: number }) {
  const ended = detail.end !== null;
  const until = ms(detail.end) ?? now;
  const axis = axisOf(detail, until);
  const running = detail.status === "running" || detail.status === "waiting";
  const total = axis.end - axis.start;
  return (
    <div class="timeline">
      <div class="tl-axis" aria-hidden="true">
        <div class="tl-label" />
        <div class="tl-ticks">
          {[0, 0.25, 0.5, 0.75, 1].map((f) => (
            <span key={f} class={`tick${f === 0.25 || f === 0.75 ? " minor" : ""}`} style={{ left: `${f * 100}%` }}>
              {f === 0 ? clock(axis.start) : `+${duration(total * f)}`}
            </span>
          ))}
        </div>
        <div class="tl-dur" />
      </div>
      <div role="list" aria-label="Step timeline" class="tl-list">
        {detail.steps.length === 0 ? (
          <div role="listitem" class="tl-empty muted">
            {detail.status === "queued" ? "queued: no step has run yet" : "no steps yet"}
          </div>
        ) : (
          detail.steps.map((s, i) => <StepRow key={i} s={s} axis={axis} now={until} running={running} ended={ended} />)
        )}
      </div>
      <p class="legend tl-legend" aria-hidden="true">
        <span><span class="sw tone-ok" />succeeded</span>
        <span><span class="sw tone-err" />failed</span>
        <span><span class="sw tone-run" />running</span>
        <span><span class="sw tone-sleep" />sleep</span>
        <span><span class="sw tone-wait" />waiting</span>
      </p>
    </div>
  );
}
