// Shared building blocks: status badges, error boxes, JSON blocks, tabs, copy buttons, page headers.
import type { ComponentChildren } from "preact";
import { useState } from "preact/hooks";
import { ApiError, type Status } from "../api.ts";
import { json } from "../format.ts";

const STATUS_LABEL: Record<Status, string> = {
  queued: "Queued", running: "Running", waiting: "Waiting", waitingForPause: "Pausing", paused: "Paused",
  errored: "Errored", terminated: "Terminated", complete: "Complete",
};

export function StatusBadge({ status, testId }: { status: Status; testId?: string }) {
  return (
    <span class={`badge badge-${status}`} data-status={status} data-testid={testId}>
      <span class="dot" aria-hidden="true" />
      {STATUS_LABEL[status] ?? status}
    </span>
  );
}

export function statusLabel(s: Status): string {
  return STATUS_LABEL[s] ?? s;
}

/** an API error as the API said it: code, message, and the details that name the offending value */
export function ErrorBox({ error, title }: { error: unknown; title?: string }) {
  if (!error) return null;
  const e = error as Error;
  return (
    <div class="error-box" role="alert">
      <strong>{title ?? "Error"}</strong>
      {e instanceof ApiError ? <code class="code">{e.code}</code> : null}
      <div class="msg">{e.message}</div>
    </div>
  );
}

export function JsonBlock({ value, label }: { value: unknown; label: string }) {
  return (
    <pre class="json" aria-label={label} tabIndex={0}>
      {json(value)}
    </pre>
  );
}

export function Tabs({ tabs, current, onSelect, label }: { tabs: { id: string; label: string }[]; current: string; onSelect: (id: string) => void; label: string }) {
  const move = (e: KeyboardEvent, i: number) => {
    const d = e.key === "ArrowRight" ? 1 : e.key === "ArrowLeft" ? -1 : 0;
    if (!d) return;
    e.preventDefault();
    const next = tabs[(i + d + tabs.length) % tabs.length]!;
    onSelect(next.id);
    (document.getElementById(`tab-${next.id}`) as HTMLElement | null)?.focus();
  };
  return (
    <div class="tabs" role="tablist" aria-label={label}>
      {tabs.map((t, i) => (
        <button
          type="button" role="tab" id={`tab-${t.id}`} aria-selected={t.id === current} tabIndex={t.id === current ? 0 : -1}
          class={t.id === current ? "tab active" : "tab"} onClick={() => onSelect(t.id)} onKeyDown={(e) => move(e, i)} key={t.id}
        >
          {t.label}
        </button>
      ))}
    </div>
  );
}

export function CopyButton({ text, label }: { text: string; label: string }) {
  const [done, setDone] = useState(false);
  return (
    <button
      type="button" class="btn small" aria-label={label}
      onClick={async () => {
        try {
          await navigator.clipboard.writeText(text);
        } catch {
          // clipboard refused (no secure context): select the text instead
          const r = document.createRange();
          const el = document.querySelector(`[data-copy="${CSS.escape(text)}"]`);
          if (el) (r.selectNodeContents(el), getSelection()?.removeAllRanges(), getSelection()?.addRange(r));
        }
        setDone(true);
        setTimeout(() => setDone(false), 1500);
      }}
    >
      {done ? "Copied" : "Copy"}
    </button>
  );
}

export function PageHeader({ title, crumbs, children }: { title: ComponentChildren; crumbs?: { label: string; href?: string }[]; children?: ComponentChildren }) {
  return (
    <header class="page-header">
      {crumbs && crumbs.length > 0 ? (
        <nav aria-label="Breadcrumb" class="crumbs">
          <ol>
            {crumbs.map((c, i) => (
              <li key={i}>{c.href ? <a href={c.href}>{c.label}</a> : <span>{c.label}</span>}</li>
            ))}
          </ol>
        </nav>
      ) : null}
      <div class="page-title-row">
        <h1>{title}</h1>
        <div class="page-actions">{children}</div>
      </div>
    </header>
  );
}

export function Loading({ what }: { what: string }) {
  return (
    <p class="muted" role="status" aria-live="polite">
      Loading {what}…
    </p>
  );
}

/** counts by status as small badges, errored first */
export function CountsRow({ counts }: { counts: Partial<Record<Status, number>> }) {
  const order: Status[] = ["errored", "running", "waiting", "queued", "paused", "waitingForPause", "terminated", "complete"];
  const shown = order.filter((s) => (counts[s] ?? 0) > 0);
  if (shown.length === 0) return <span class="muted">no instances</span>;
  return (
    <span class="counts">
      {shown.map((s) => (
        <span class={`count badge-${s}`} key={s} title={statusLabel(s)}>
          <span class="dot" aria-hidden="true" />
          <span class="sr-only">{statusLabel(s)}: </span>
          {counts[s]}
        </span>
      ))}
    </span>
  );
}
