// The CLI's human output (src/cli/format.ts): symbols, emoji-aware table widths, times, durations,
// truncated JSON, the `instances describe` block and compile errors. Pure functions, no server.
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import {
  attemptStateLabel, countsSummary, describeInstance, displayWidth, formatBytes, formatCompileErrors, formatDuration, formatTime,
  instancesTable, logLine, statusLabel, stepTypeLabel, successLabel, table, tenantsTable, tokensTable, triggerLabel, truncateJson,
  workflowDescribe, workflowsTable, type InstanceDetail,
} from "../../src/cli/format.ts";

const UTC = { utc: true };

describe("symbols", () => {
  test("statuses as wrangler prints them", () => {
    assert.equal(statusLabel("complete"), "✅ Completed");
    assert.equal(statusLabel("running"), "▶ Running");
    assert.equal(statusLabel("paused"), "⏸️ Paused");
    assert.equal(statusLabel("queued"), "⌛ Queued");
    assert.equal(statusLabel("errored"), "❌ Errored");
    assert.equal(statusLabel("terminated"), "🚫 Terminated");
    assert.equal(statusLabel("waiting"), "⏰ Waiting");
    assert.equal(statusLabel("waitingForPause"), "⏱️ Waiting for Pause");
    assert.equal(statusLabel("unknown"), "❓ Unknown");
    assert.equal(statusLabel("weird"), "❓ Unknown (weird)");
  });
  test("triggers, step types, success and attempt states", () => {
    assert.equal(triggerLabel("api"), "🌎 API");
    assert.equal(triggerLabel("binding"), "🔗 Binding");
    assert.equal(triggerLabel("cron"), "⌛ Cron");
    assert.equal(triggerLabel("event"), "📩 Event");
    assert.equal(triggerLabel(undefined), "❓ Unknown");
    assert.equal(stepTypeLabel("step"), "🎯 Step");
    assert.equal(stepTypeLabel("sleep"), "💤 Sleeping");
    assert.equal(stepTypeLabel("waitForEvent"), "👀 Waiting for event");
    assert.equal(stepTypeLabel("termination"), "🚫 Termination");
    assert.deepEqual([true, false, null].map(successLabel), ["✅ Yes", "❌ No", "▶ Running"]);
    assert.deepEqual([true, false, null].map(attemptStateLabel), ["✅ Success", "❌ Error", "🔄 Working"]);
  });
});

describe("widths and tables", () => {
  test("emoji are two columns, variation selectors make text symbols two, combining marks none", () => {
    assert.equal(displayWidth("abc"), 3);
    assert.equal(displayWidth("✅"), 2);
    assert.equal(displayWidth("❌"), 2);
    assert.equal(displayWidth("⌛"), 2);
    assert.equal(displayWidth("🚫"), 2);
    assert.equal(displayWidth("▶"), 1);
    assert.equal(displayWidth("⏸️"), 2);
    assert.equal(displayWidth("⏱️"), 2);
    assert.equal(displayWidth("e\u0301"), 1);
    assert.equal(displayWidth("日本"), 4);
    assert.equal(displayWidth(statusLabel("complete")), 12);
  });

  test("every line of a table is as wide as the others, whatever the symbols", () => {
    const t = table(["Instance ID", "Status"], ["complete", "paused", "running", "waitingForPause", "queued"].map((s, i) => [`id-${i}`, statusLabel(s)]));
    const lines = t.split("\n");
    assert.equal(lines.length, 5 + 4);
    const w = displayWidth(lines[0]!);
    for (const l of lines) assert.equal(displayWidth(l), w, l);
    assert.match(lines[1]!, /^│ Instance ID │ Status +│$/);
    assert.ok(lines[0]!.startsWith("┌") && lines.at(-1)!.startsWith("└"));
  });

  test("an empty table is its header; newlines in cells become spaces", () => {
    assert.equal(table(["A", "B"], []).split("\n").length, 3);
    assert.match(table(["A"], [["x\ny"]]), /│ x y │/);
  });
});

describe("times, durations, values", () => {
  test("times", () => {
    assert.equal(formatTime("2026-05-01T12:03:04.567Z", UTC), "2026-05-01 12:03:04Z");
    assert.equal(formatTime(Date.UTC(2026, 0, 2, 3, 4, 5), UTC), "2026-01-02 03:04:05Z");
    assert.equal(formatTime(null), "-");
    assert.equal(formatTime("not a time"), "not a time");
    assert.match(formatTime("2026-05-01T12:03:04Z"), /^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d$/);
  });
  test("durations", () => {
    assert.equal(formatDuration(0), "0 ms");
    assert.equal(formatDuration(850), "850 ms");
    assert.equal(formatDuration(4250), "4.2 s");
    assert.equal(formatDuration(185_000), "3m 05s");
    assert.equal(formatDuration(2 * 3600_000 + 3 * 60_000), "2h 03m");
    assert.equal(formatDuration(86_400_000 + 4 * 3600_000), "1d 4h");
    assert.equal(formatDuration(-1), "-");
  });
  test("truncated JSON", () => {
    assert.equal(truncateJson({ a: 1 }), '{"a":1}');
    assert.equal(truncateJson(undefined), "-");
    const long = truncateJson("x".repeat(100), 10);
    assert.ok(long.startsWith('"xxxxxxxxx… (92 more characters'), long);
    assert.equal(truncateJson("x".repeat(100), 0).length, 102);
  });
  test("bytes and counts", () => {
    assert.equal(formatBytes(5 * 1024 * 1024), "5 MiB");
    assert.equal(formatBytes(2048), "2 KiB");
    assert.equal(formatBytes(1000), "1000 B");
    assert.equal(countsSummary({ running: 2, complete: 5, queued: 0, waitingForPause: 1 }), "2 running, 1 waiting for pause, 5 complete");
    assert.equal(countsSummary({ running: 0 }), "none");
  });
});

describe("lists", () => {
  test("instances table: wrangler's columns, symbols", () => {
    const t = instancesTable([
      { id: "i1", status: "complete", version: "v1", createdAt: "2026-05-01T10:00:00Z", modifiedAt: "2026-05-01T10:01:00Z" },
      { id: "i2", status: "waiting", version: "v2", createdAt: "2026-05-01T11:00:00Z", modifiedAt: "2026-05-01T11:00:01Z" },
    ], UTC);
    const lines = t.split("\n");
    assert.match(lines[1]!, /│ Instance ID │ Version │ Created +│ Modified +│ Status +│/);
    assert.match(lines[3]!, /│ i1 +│ v1 +│ 2026-05-01 10:00:00Z │ 2026-05-01 10:01:00Z │ ✅ Completed │/);
    assert.match(lines[4]!, /│ i2 +│ v2 +│ .* │ ⏰ Waiting +│/);
  });
  test("tenants, tokens, workflows", () => {
    assert.match(tenantsTable([]), /No tenants yet/);
    const tt = tenantsTable([{ name: "acme", createdAt: "2026-05-01T00:00:00Z", quotas: { maxRunningInstances: 5, createsPerSecond: 10, createBurst: 20, maxCodeBytes: 5 << 20, maxPayloadBytes: 1 << 20 } }], UTC);
    assert.match(tt, /│ acme │ 2026-05-01 00:00:00Z │ 5 +│ 10 +│ 20 +│ 5 MiB +│ 1 MiB +│/);
    assert.match(tokensTable([{ id: "tok_1", name: "ci", createdAt: "2026-05-01T00:00:00Z", revokedAt: null }], UTC), /│ tok_1 +│ ci +│ 2026-05-01 00:00:00Z │ - +│/);
    assert.match(workflowsTable([], "acme"), /Tenant "acme" has no workflows. Deploy one with: weft deploy/);
    assert.match(workflowsTable([{ name: "w", latestVersion: "v3", updatedAt: "2026-05-01T00:00:00Z", instances: { running: 1, complete: 2 } }], "acme", UTC), /│ w +│ v3 +│ 2026-05-01 00:00:00Z │ 1 running, 2 complete │/);
    const d = workflowDescribe({ name: "w", latestVersion: "v2", versions: [
      { version: "v1", className: "A", createdAt: "2026-05-01T00:00:00Z" }, { version: "v2", className: "B", createdAt: "2026-05-02T00:00:00Z" },
    ], instances: {} }, UTC);
    assert.match(d, /Workflow Name: +w\nLatest Version: +v2\nVersions: +2\nInstances: +none/);
    const rows = d.split("\n").filter((l) => /│ v\d/.test(l));
    assert.match(rows[0]!, /│ v2 +│ B +│ 2026-05-02 00:00:00Z │ latest │/); // newest first
    assert.match(rows[1]!, /│ v1 +│ A /);
  });
  test("a log line", () => {
    assert.equal(logLine({ seq: 1, at: "2026-05-01T00:00:00.000Z", level: "info", message: "hi" }, UTC), "2026-05-01 00:00:00Z info  hi");
  });
});

describe("instances describe", () => {
  const detail: InstanceDetail = {
    id: "i1", workflow: "onboarding", status: "complete", params: { id: 42 }, metadata: { customer: "c-17" }, trigger: { source: "api" }, versionId: "v1",
    queued: "2026-05-01T10:00:00.000Z", start: "2026-05-01T10:00:00.500Z", end: "2026-05-02T10:00:07.000Z", success: true, error: null,
    output: { message: "Welcome" },
    steps: [
      {
        type: "step", name: "load user", count: 1, start: "2026-05-01T10:00:00.500Z", end: "2026-05-01T10:00:06.600Z", success: true, output: { name: "u" },
        error: null, attempts: [
          { start: "2026-05-01T10:00:00.500Z", end: "2026-05-01T10:00:00.510Z", success: false, error: { name: "Error", message: "user service unavailable (attempt 1)" } },
          { start: "2026-05-01T10:00:06.500Z", end: "2026-05-01T10:00:06.600Z", success: true, error: null },
        ],
      },
      { type: "sleep", name: "grace period", count: 1, start: "2026-05-01T10:00:06.600Z", end: "2026-05-02T10:00:06.600Z", finished: true },
      { type: "waitForEvent", name: "approval", count: 1, start: "2026-05-02T10:00:06.600Z", end: "2026-05-02T10:00:06.900Z", finished: true, error: null, output: { payload: { approved: true } } },
      { type: "step", name: "think", count: 2, start: "2026-05-02T10:00:06.900Z", end: "2026-05-02T10:00:07.000Z", success: true, output: "x".repeat(50), error: null, attempts: [] },
    ],
  };

  test("header, steps with type symbols, attempts table, truncated output", () => {
    const s = describeInstance(detail, { ...UTC, outputLimit: 30 });
    assert.match(s, /^Workflow Name: +onboarding$/m);
    assert.match(s, /^Instance Id: +i1$/m);
    assert.match(s, /^Version Id: +v1$/m);
    assert.match(s, /^Status: +✅ Completed$/m);
    assert.match(s, /^Trigger: +🌎 API$/m);
    assert.match(s, /^Success: +✅ Yes$/m);
    assert.match(s, /^Duration: +1d 0h$/m);
    assert.match(s, /^Last Successful Step: +think \(#2\)$/m);
    assert.match(s, /^Metadata: +customer=c-17$/m);
    assert.match(s, /^Output: +\{"message":"Welcome"\}$/m);
    assert.match(s, /^ {2}Type: +🎯 Step$/m);
    assert.match(s, /^ {2}Type: +💤 Sleeping$/m);
    assert.match(s, /^ {2}Type: +👀 Waiting for event$/m);
    assert.match(s, /^ {2}Output: +\{"payload":\{"approved":true\}\}$/m);
    assert.match(s, /^ {2}Output: +"x{29}… \(22 more characters; --json shows all\)$/m);
    assert.match(s, /│ Start +│ End +│ Duration │ State +│ Error +│/);
    assert.match(s, /│ 10 ms +│ ❌ Error +│ user service unavailable \(attempt 1\) │/);
    assert.match(s, /│ 100 ms +│ ✅ Success │ +│/);
  });

  test("a running instance: running step with a retry, waiting, termination, no step outputs", () => {
    const now = Date.parse("2026-05-01T10:00:10Z");
    const s = describeInstance({
      id: "i2", workflow: "w", status: "running", trigger: { source: "binding" }, versionId: "v1", queued: "2026-05-01T10:00:00Z", start: "2026-05-01T10:00:00Z",
      end: null, success: null, error: null, steps: [
        { type: "step", name: "a", count: 1, start: "2026-05-01T10:00:00Z", end: null, success: null, retriesAt: "2026-05-01T10:00:15Z",
          attempts: [{ start: "2026-05-01T10:00:00Z", end: "2026-05-01T10:00:01Z", success: false, error: { name: "TypeError", message: "boom" } }] },
        { type: "waitForEvent", name: "ev", count: 1, start: "2026-05-01T10:00:05Z", end: null, finished: false, error: null },
        { type: "termination", trigger: { source: "api" } },
      ],
    }, { ...UTC, now, stepOutput: false });
    assert.match(s, /^Status: +▶ Running$/m);
    assert.match(s, /^Trigger: +🔗 Binding$/m);
    assert.match(s, /^End: +-$/m);
    assert.match(s, /^Duration: +10\.0 s$/m);
    assert.match(s, /^Last Successful Step: +None$/m);
    assert.match(s, /^ {2}Success: +▶ Running$/m);
    assert.match(s, /^ {2}Retries At: +2026-05-01 10:00:15Z \(in 5\.0 s\)$/m);
    assert.match(s, /│ TypeError: boom │/);
    assert.match(s, /^ {2}Success: +👀 Waiting$/m);
    assert.match(s, /^ {2}Type: +🚫 Termination$/m);
    assert.doesNotMatch(s, /Output:/);
  });

  test("an errored instance shows its error; no steps yet", () => {
    const s = describeInstance({ id: "i3", status: "errored", success: false, error: { name: "Error", message: "nope" }, steps: [] });
    assert.match(s, /^Status: +❌ Errored$/m);
    assert.match(s, /^Success: +❌ No$/m);
    assert.match(s, /^Error: +nope$/m);
    assert.match(s, /Steps: none yet/);
  });
});

describe("compile errors", () => {
  test("file:line:column, the source line and a caret, with module names mapped to local paths", () => {
    const s = formatCompileErrors(
      [{ file: "lib/helper.ts", line: 3, column: 7, message: 'Expected ";" but found "b"', lineText: "const a b = 1;" }, { message: "something else" }],
      (m) => `src/${m}`,
    );
    assert.equal(s, [
      'src/lib/helper.ts:3:7: error: Expected ";" but found "b"',
      "  3 │ const a b = 1;",
      "    │       ^",
      "error: something else",
    ].join("\n"));
  });
});
