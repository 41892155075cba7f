// Human output of the HTTP client commands: status and step symbols (wrangler's), box tables that
// measure emoji as two columns, times, durations, truncated JSON, and the blocks `instances
// describe` and `workflows describe` print. Pure: every function takes its data (and `now`/`utc`
// for times) and returns text, so it is unit-tested without a server.

export interface FormatOptions {
  /** times in UTC instead of the local zone (tests) */
  utc?: boolean;
  /** the current time in ms, for durations of things still running (default Date.now()) */
  now?: number;
}

// ---- symbols ----------------------------------------------------------------------------------

const STATUS: Record<string, string> = {
  complete: "✅ Completed",
  running: "▶ Running",
  paused: "⏸️ Paused",
  queued: "⌛ Queued",
  errored: "❌ Errored",
  terminated: "🚫 Terminated",
  waiting: "⏰ Waiting",
  waitingForPause: "⏱️ Waiting for Pause",
};

/** `complete` → `✅ Completed`; an unrecognised status → `❓ Unknown (<status>)`. */
export function statusLabel(status: string): string {
  return STATUS[status] ?? (status === "unknown" ? "❓ Unknown" : `❓ Unknown (${status})`);
}

const TRIGGER: Record<string, string> = { api: "🌎 API", binding: "🔗 Binding", cron: "⌛ Cron", event: "📩 Event" };

export function triggerLabel(source: string | undefined): string {
  return (source && TRIGGER[source]) ?? `❓ Unknown${source && source !== "unknown" ? ` (${source})` : ""}`;
}

const STEP_TYPE: Record<string, string> = {
  step: "🎯 Step",
  sleep: "💤 Sleeping",
  waitForEvent: "👀 Waiting for event",
  termination: "🚫 Termination",
  rollback: "↩️ Rollback",
};

export function stepTypeLabel(type: string): string {
  return STEP_TYPE[type] ?? `❓ ${type}`;
}

/** A step's or instance's success: true ✅ Yes, false ❌ No, null ▶ Running. */
export function successLabel(success: boolean | null | undefined): string {
  return success === true ? "✅ Yes" : success === false ? "❌ No" : "▶ Running";
}

/** One attempt of a step: true ✅ Success, false ❌ Error, null 🔄 Working. */
export function attemptStateLabel(success: boolean | null | undefined): string {
  return success === true ? "✅ Success" : success === false ? "❌ Error" : "🔄 Working";
}

// ---- width and tables ---------------------------------------------------------------------------

// East Asian Wide / emoji-presentation code points in the BMP (the ones a terminal draws two wide).
const WIDE_BMP: [number, number][] = [
  [0x1100, 0x115f], [0x231a, 0x231b], [0x2329, 0x232a], [0x23e9, 0x23ec], [0x23f0, 0x23f0], [0x23f3, 0x23f3],
  [0x25fd, 0x25fe], [0x2614, 0x2615], [0x2648, 0x2653], [0x267f, 0x267f], [0x2693, 0x2693], [0x26a1, 0x26a1],
  [0x26aa, 0x26ab], [0x26bd, 0x26be], [0x26c4, 0x26c5], [0x26ce, 0x26ce], [0x26d4, 0x26d4], [0x26ea, 0x26ea],
  [0x26f2, 0x26f3], [0x26f5, 0x26f5], [0x26fa, 0x26fa], [0x26fd, 0x26fd], [0x2705, 0x2705], [0x270a, 0x270b],
  [0x2728, 0x2728], [0x274c, 0x274c], [0x274e, 0x274e], [0x2753, 0x2755], [0x2757, 0x2757], [0x2795, 0x2797],
  [0x27b0, 0x27b0], [0x27bf, 0x27bf], [0x2b1b, 0x2b1c], [0x2b50, 0x2b50], [0x2b55, 0x2b55], [0x2e80, 0x303e],
  [0x3041, 0x33ff], [0x3400, 0x4dbf], [0x4e00, 0x9fff], [0xa000, 0xa4cf], [0xac00, 0xd7a3], [0xf900, 0xfaff],
  [0xfe30, 0xfe4f], [0xff00, 0xff60], [0xffe0, 0xffe6],
];

function isWide(cp: number): boolean {
  if (cp >= 0x1f300 && cp <= 0x1faff) return true; // pictographs, emoticons, transport, symbols
  if (cp >= 0x1f000 && cp <= 0x1f2ff) return cp === 0x1f004 || cp === 0x1f0cf || cp === 0x1f18e || (cp >= 0x1f191 && cp <= 0x1f19a) || cp >= 0x1f200;
  if (cp >= 0x20000 && cp <= 0x3fffd) return true;
  for (const [lo, hi] of WIDE_BMP) {
    if (cp < lo) return false;
    if (cp <= hi) return true;
  }
  return false;
}

function isZeroWidth(cp: number): boolean {
  return (cp >= 0x300 && cp <= 0x36f) || (cp >= 0x200b && cp <= 0x200f) || (cp >= 0xfe00 && cp <= 0xfe0f) || cp === 0x20e3 || (cp >= 0xe0100 && cp <= 0xe01ef);
}

/** Terminal columns `s` takes: emoji and CJK count 2, combining marks 0, VS16 makes the previous character 2 wide. */
export function displayWidth(s: string): number {
  let w = 0;
  let prev = 0; // width of the previous visible character
  for (const ch of s) {
    const cp = ch.codePointAt(0)!;
    if (cp === 0xfe0f) {
      if (prev === 1) w += 1; // emoji presentation of a text-default symbol (⏸️, ⏱️, ↩️)
      prev = 2;
      continue;
    }
    if (isZeroWidth(cp) || cp < 0x20 || (cp >= 0x7f && cp < 0xa0)) continue;
    prev = isWide(cp) ? 2 : 1;
    w += prev;
  }
  return w;
}

export function padEnd(s: string, width: number): string {
  return s + " ".repeat(Math.max(0, width - displayWidth(s)));
}

/** A box-drawn table (wrangler's look). Cells are single-line: newlines become spaces. */
export function table(headers: string[], rows: string[][]): string {
  const clean = (c: string) => c.replace(/\s*\n\s*/g, " ");
  const all = [headers, ...rows].map((r) => headers.map((_, i) => clean(r[i] ?? "")));
  const widths = headers.map((_, i) => Math.max(...all.map((r) => displayWidth(r[i]!))));
  const line = (l: string, m: string, r: string) => l + widths.map((w) => "─".repeat(w + 2)).join(m) + r;
  const row = (cells: string[]) => "│" + cells.map((c, i) => " " + padEnd(c, widths[i]!) + " ").join("│") + "│";
  const out = [line("┌", "┬", "┐"), row(all[0]!)];
  if (rows.length > 0) out.push(line("├", "┼", "┤"));
  for (const r of all.slice(1)) out.push(row(r));
  out.push(line("└", "┴", "┘"));
  return out.join("\n");
}

/** `key:  value` lines with the values aligned; multi-line values are indented under the first line. */
export function fields(pairs: [string, string][], indent = ""): string {
  const w = Math.max(...pairs.map(([k]) => k.length)) + 2;
  return pairs
    .map(([k, v]) => indent + (k + ":").padEnd(w) + v.split("\n").join("\n" + indent + " ".repeat(w)))
    .join("\n");
}

// ---- times and values ---------------------------------------------------------------------------

const p2 = (n: number) => String(n).padStart(2, "0");

/** `2026-05-01 12:03:04` in the local zone (or UTC with `utc`, suffixed Z); "-" for none. */
export function formatTime(t: string | number | null | undefined, o: FormatOptions = {}): string {
  if (t === null || t === undefined || t === "") return "-";
  const d = new Date(t);
  if (Number.isNaN(d.getTime())) return String(t);
  if (o.utc) {
    return `${d.getUTCFullYear()}-${p2(d.getUTCMonth() + 1)}-${p2(d.getUTCDate())} ${p2(d.getUTCHours())}:${p2(d.getUTCMinutes())}:${p2(d.getUTCSeconds())}Z`;
  }
  return `${d.getFullYear()}-${p2(d.getMonth() + 1)}-${p2(d.getDate())} ${p2(d.getHours())}:${p2(d.getMinutes())}:${p2(d.getSeconds())}`;
}

/** `850 ms`, `4.2 s`, `3m 05s`, `2h 03m`, `1d 4h`. */
export function formatDuration(ms: number): string {
  if (!Number.isFinite(ms) || ms < 0) return "-";
  if (ms < 1000) return `${Math.round(ms)} ms`;
  if (ms < 60_000) return `${(Math.floor(ms / 100) / 10).toFixed(1)} s`;
  const s = Math.floor(ms / 1000);
  if (s < 3600) return `${Math.floor(s / 60)}m ${p2(s % 60)}s`;
  if (s < 86_400) return `${Math.floor(s / 3600)}h ${p2(Math.floor(s / 60) % 60)}m`;
  return `${Math.floor(s / 86_400)}d ${Math.floor(s / 3600) % 24}h`;
}

/** From `start` to `end` (or to now, for something still running). */
export function durationBetween(start: string | null | undefined, end: string | null | undefined, o: FormatOptions = {}): string {
  if (!start) return "-";
  const a = Date.parse(start);
  const b = end ? Date.parse(end) : (o.now ?? Date.now());
  return Number.isNaN(a) || Number.isNaN(b) ? "-" : formatDuration(b - a);
}

/** JSON of `v` cut to `limit` characters; `undefined` prints as "-". */
export function truncateJson(v: unknown, limit = 5000): string {
  if (v === undefined) return "-";
  let s: string;
  try {
    s = JSON.stringify(v) ?? String(v);
  } catch {
    s = String(v);
  }
  if (limit <= 0 || s.length <= limit) return s;
  return `${s.slice(0, limit)}… (${s.length - limit} more characters; --json shows all)`;
}

function errorText(e: { name?: string; message?: string } | null | undefined): string {
  if (!e) return "-";
  return e.name && e.name !== "Error" ? `${e.name}: ${e.message ?? ""}` : (e.message ?? "error");
}

// ---- tenants -------------------------------------------------------------------------------------

export interface Quotas {
  maxRunningInstances?: number;
  createsPerSecond?: number;
  createBurst?: number;
  maxCodeBytes?: number;
  maxPayloadBytes?: number;
}
export interface Tenant {
  name: string;
  quotas?: Quotas;
  createdAt?: string;
}

export function formatBytes(n: number | undefined): string {
  if (n === undefined) return "-";
  if (n >= 1 << 20 && n % (1 << 20) === 0) return `${n / (1 << 20)} MiB`;
  if (n >= 1024 && n % 1024 === 0) return `${n / 1024} KiB`;
  return `${n} B`;
}

const num = (n: number | undefined) => (n === undefined ? "-" : String(n));

export function tenantsTable(tenants: Tenant[], o: FormatOptions = {}): string {
  if (tenants.length === 0) return "No tenants yet. Create one with: weft tenants create NAME";
  return table(
    ["Name", "Created", "Max Running", "Creates/s", "Burst", "Max Code", "Max Payload"],
    tenants.map((t) => [
      t.name, formatTime(t.createdAt, o), num(t.quotas?.maxRunningInstances), num(t.quotas?.createsPerSecond), num(t.quotas?.createBurst),
      formatBytes(t.quotas?.maxCodeBytes), formatBytes(t.quotas?.maxPayloadBytes),
    ]),
  );
}

export function tenantSummary(t: Tenant): string {
  const q = t.quotas ?? {};
  return `tenant "${t.name}": up to ${num(q.maxRunningInstances)} running instances, ${num(q.createsPerSecond)} creates/s (burst ${num(q.createBurst)}), ` +
    `code up to ${formatBytes(q.maxCodeBytes)}, payloads up to ${formatBytes(q.maxPayloadBytes)}`;
}

export interface TokenInfo {
  id: string;
  name?: string | null;
  createdAt?: string;
  revokedAt?: string | null;
}

export function tokensTable(tokens: TokenInfo[], o: FormatOptions = {}): string {
  if (tokens.length === 0) return "No tokens. Issue one with: weft tenants token NAME";
  return table(
    ["Token ID", "Name", "Created", "Revoked"],
    tokens.map((t) => [t.id, t.name ?? "-", formatTime(t.createdAt, o), t.revokedAt ? formatTime(t.revokedAt, o) : "-"]),
  );
}

// ---- workflows -----------------------------------------------------------------------------------

export type Counts = Partial<Record<"queued" | "running" | "paused" | "errored" | "terminated" | "complete" | "waiting" | "waitingForPause", number>>;

const COUNT_ORDER = ["running", "waiting", "waitingForPause", "paused", "queued", "complete", "errored", "terminated"] as const;
const COUNT_WORD: Record<string, string> = { waitingForPause: "waiting for pause" };

/** `2 running, 1 waiting, 5 complete` (non-zero counts only); `none` when there are none. */
export function countsSummary(c: Counts | undefined): string {
  const parts = COUNT_ORDER.filter((k) => (c?.[k] ?? 0) > 0).map((k) => `${c![k]} ${COUNT_WORD[k] ?? k}`);
  return parts.length === 0 ? "none" : parts.join(", ");
}

export interface WorkflowListItem {
  name: string;
  latestVersion?: string | null;
  updatedAt?: string | null;
  instances?: Counts;
}

export function workflowsTable(list: WorkflowListItem[], tenant: string, o: FormatOptions = {}): string {
  if (list.length === 0) return `Tenant "${tenant}" has no workflows. Deploy one with: weft deploy FILE.ts --tenant ${tenant} --workflow NAME`;
  return table(
    ["Name", "Latest Version", "Updated", "Instances"],
    list.map((w) => [w.name, w.latestVersion ?? "-", formatTime(w.updatedAt, o), countsSummary(w.instances)]),
  );
}

export interface WorkflowDetail {
  name: string;
  latestVersion?: string | null;
  versions?: { version: string; className?: string; createdAt?: string }[];
  instances?: Counts;
}

export function workflowDescribe(w: WorkflowDetail, o: FormatOptions = {}): string {
  const versions = [...(w.versions ?? [])].sort((a, b) => String(b.createdAt ?? "").localeCompare(String(a.createdAt ?? "")));
  const head = fields([
    ["Workflow Name", w.name],
    ["Latest Version", w.latestVersion ?? "-"],
    ["Versions", String(versions.length)],
    ["Instances", countsSummary(w.instances)],
  ]);
  if (versions.length === 0) return head;
  return head + "\nVersions:\n" + table(
    ["Version", "Class", "Created", ""],
    versions.map((v) => [v.version, v.className ?? "-", formatTime(v.createdAt, o), v.version === w.latestVersion ? "latest" : ""]),
  );
}

// ---- instances -----------------------------------------------------------------------------------

export interface InstanceSummary {
  id: string;
  workflow?: string;
  status: string;
  version?: string;
  createdAt?: string;
  modifiedAt?: string;
  endedAt?: string | null;
  metadata?: Record<string, string>;
}

export function instancesTable(list: InstanceSummary[], o: FormatOptions = {}): string {
  return table(
    ["Instance ID", "Version", "Created", "Modified", "Status"],
    list.map((i) => [i.id, i.version ?? "-", formatTime(i.createdAt, o), formatTime(i.modifiedAt, o), statusLabel(i.status)]),
  );
}

type Err = { name?: string; message?: string } | null | undefined;
export interface Attempt {
  start: string;
  end: string | null;
  success: boolean | null;
  error?: Err;
}
export interface StepDetail {
  type: string;
  name?: string;
  count?: number;
  start?: string;
  end?: string | null;
  success?: boolean | null;
  finished?: boolean;
  output?: unknown;
  error?: Err;
  attempts?: Attempt[];
  retriesAt?: string | null;
  trigger?: { source?: string };
}
export interface InstanceDetail {
  id: string;
  workflow?: string;
  status: string;
  params?: unknown;
  metadata?: Record<string, string>;
  trigger?: { source?: string };
  versionId?: string;
  queued?: string;
  start?: string | null;
  end?: string | null;
  success?: boolean | null;
  error?: Err;
  output?: unknown;
  steps?: StepDetail[];
}

export interface DescribeOptions extends FormatOptions {
  /** characters of each JSON output shown (wrangler's --truncate-output-limit, 5000) */
  outputLimit?: number;
  /** show step outputs (wrangler's --step-output, default true) */
  stepOutput?: boolean;
}

function stepName(s: StepDetail): string {
  return (s.name ?? "-") + ((s.count ?? 1) > 1 ? ` (#${s.count})` : "");
}

function stepBlock(s: StepDetail, o: DescribeOptions): string {
  const limit = o.outputLimit ?? 5000;
  if (s.type === "termination") {
    return fields([["Type", stepTypeLabel("termination")], ["Trigger", triggerLabel(s.trigger?.source)]], "  ");
  }
  const pairs: [string, string][] = [["Name", stepName(s)], ["Type", stepTypeLabel(s.type)], ["Start", formatTime(s.start, o)]];
  if (s.type === "sleep") {
    pairs.push(["End", formatTime(s.end, o)], ["Duration", durationBetween(s.start, s.end, o)], ["Finished", s.finished ? "✅ Yes" : "💤 Sleeping"]);
    return fields(pairs, "  ");
  }
  if (s.type === "waitForEvent") {
    const state = !s.finished ? "👀 Waiting" : s.error ? "❌ No" : "✅ Yes";
    pairs.push(["End", formatTime(s.end, o)], ["Duration", durationBetween(s.start, s.end, o)], ["Success", state]);
    if (s.error) pairs.push(["Error", errorText(s.error)]);
    if (s.finished && !s.error && o.stepOutput !== false) pairs.push(["Output", truncateJson(s.output, limit)]);
    return fields(pairs, "  ");
  }
  pairs.push(["End", formatTime(s.end, o)], ["Duration", durationBetween(s.start, s.end, o)], ["Success", successLabel(s.success)]);
  if (s.retriesAt) pairs.push(["Retries At", `${formatTime(s.retriesAt, o)} (in ${durationBetween(new Date(o.now ?? Date.now()).toISOString(), s.retriesAt)})`]);
  if (s.error) pairs.push(["Error", errorText(s.error)]);
  if (s.type === "step" && s.success === true && o.stepOutput !== false) pairs.push(["Output", truncateJson(s.output, limit)]);
  let out = fields(pairs, "  ");
  const attempts = s.attempts ?? [];
  if (attempts.length > 0) {
    const t = table(
      ["Start", "End", "Duration", "State", "Error"],
      attempts.map((a) => [formatTime(a.start, o), formatTime(a.end, o), durationBetween(a.start, a.end, o), attemptStateLabel(a.success), a.error ? errorText(a.error) : ""]),
    );
    out += "\n" + t.split("\n").map((l) => "  " + l).join("\n");
  }
  return out;
}

/** wrangler's `instances describe` block: header, then each step, with attempt tables. */
export function describeInstance(d: InstanceDetail, o: DescribeOptions = {}): string {
  const limit = o.outputLimit ?? 5000;
  const steps = d.steps ?? [];
  const lastOk = [...steps].reverse().find((s) => s.type === "step" && s.success === true);
  const pairs: [string, string][] = [
    ["Workflow Name", d.workflow ?? "-"],
    ["Instance Id", d.id],
    ["Version Id", d.versionId ?? "-"],
    ["Status", statusLabel(d.status)],
    ["Trigger", triggerLabel(d.trigger?.source)],
    ["Queued", formatTime(d.queued, o)],
    ["Success", d.success === null || d.success === undefined ? "▶ Running" : successLabel(d.success)],
    ["Start", formatTime(d.start, o)],
    ["End", formatTime(d.end, o)],
    ["Duration", durationBetween(d.start, d.end, o)],
    ["Last Successful Step", lastOk ? stepName(lastOk) : "None"],
  ];
  if (d.metadata && Object.keys(d.metadata).length > 0) {
    pairs.push(["Metadata", Object.entries(d.metadata).map(([k, v]) => `${k}=${v}`).join(", ")]);
  }
  if (d.params !== undefined && d.params !== null) pairs.push(["Params", truncateJson(d.params, limit)]);
  if (d.status === "complete") pairs.push(["Output", truncateJson(d.output, limit)]);
  if (d.error) pairs.push(["Error", errorText(d.error)]);
  let out = fields(pairs);
  out += steps.length === 0 ? "\nSteps: none yet" : "\nSteps:\n\n" + steps.map((s) => stepBlock(s, o)).join("\n\n");
  return out;
}

// ---- logs and compile errors ---------------------------------------------------------------------

export interface LogEntry {
  seq: number;
  at: string | number;
  level: string;
  message: string;
}

export function logLine(l: LogEntry, o: FormatOptions = {}): string {
  return `${formatTime(l.at, o)} ${l.level.padEnd(5)} ${l.message}`;
}

export interface CompileMessage {
  file?: string;
  line?: number;
  column?: number;
  message?: string;
  lineText?: string;
}

/**
 * esbuild errors from a 422 `compile_error` as `path:line:column: error: message` plus the source
 * line and a caret; `localPath` maps a module name back to the file the user edits.
 */
export function formatCompileErrors(errors: CompileMessage[], localPath: (module: string) => string = (m) => m): string {
  return errors
    .map((e) => {
      const where = e.file ? `${localPath(e.file)}${e.line !== undefined ? `:${e.line}${e.column !== undefined ? `:${e.column}` : ""}` : ""}: ` : "";
      let s = `${where}error: ${e.message ?? "does not compile"}`;
      if (e.lineText !== undefined && e.line !== undefined) {
        const n = String(e.line);
        s += `\n  ${n} │ ${e.lineText}`;
        if (e.column !== undefined) s += `\n  ${" ".repeat(n.length)} │ ${" ".repeat(Math.max(0, e.column - 1))}^`;
      }
      return s;
    })
    .join("\n");
}
