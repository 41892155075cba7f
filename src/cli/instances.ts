// `weft instances …`: list, describe, create, pause, resume, terminate, restart, delete, send-event
// and logs over the HTTP API (docs/http-api.md, "Instances"). An ID of `latest` means the workflow's
// newest instance, as in wrangler. `logs --follow` follows the instance's Server-Sent Events stream
// to know when to fetch more lines (polling every 500 ms when the stream is not available) and
// ends, with the instance's outcome as its exit code, once the instance finishes.
import { apiPath, type Client } from "./client.ts";
import { type Command, type Ctx, type OptSpec } from "./commands.ts";
import { describeInstance, instancesTable, logLine, statusLabel, type InstanceDetail, type InstanceSummary, type LogEntry } from "./format.ts";
import { UsageError } from "./run.ts";

export const STATUSES = ["queued", "running", "paused", "errored", "terminated", "complete", "waiting", "waitingForPause"];
const FINISHED = new Set(["complete", "errored", "terminated"]);
const POLL_MS = 500;
const PAGE = 1000;

function base(c: Ctx, workflow: string): string {
  return apiPath("v1", "tenants", c.tenant, "workflows", workflow, "instances");
}

/** The instance's path; `latest` resolves to the workflow's newest instance. */
async function instancePath(c: Ctx, allowLatest = true): Promise<{ path: string; id: string }> {
  const workflow = c.args.WORKFLOW!;
  let id = c.args.ID!;
  if (allowLatest && id === "latest") {
    const r = await c.client.get<{ instances: InstanceSummary[] }>(base(c, workflow), { limit: 1, direction: "desc" });
    const newest = r.instances[0];
    if (!newest) throw new UsageError(`workflow "${workflow}" of tenant "${c.tenant}" has no instances, so there is no latest one`);
    id = newest.id;
  }
  return { path: base(c, workflow) + "/" + encodeURIComponent(id), id };
}

function actionResult(c: Ctx, r: { id: string; status: string }, what: string): number {
  c.print(r, () => `${what} instance "${r.id}"; status: ${statusLabel(r.status)}`);
  return 0;
}

const ID = ["WORKFLOW", "ID"];
const ID_NOTE = "ID may be `latest`: the workflow's newest instance.";

async function allLogs(client: Client, path: string, after: number | undefined): Promise<{ logs: LogEntry[]; after: number | undefined }> {
  const logs: LogEntry[] = [];
  for (;;) {
    const r = await client.get<{ logs: LogEntry[]; cursor: number | null }>(path + "/logs", { after, limit: PAGE });
    logs.push(...r.logs);
    const last = r.logs.at(-1);
    const next = r.cursor ?? last?.seq ?? after;
    const more = r.logs.length >= PAGE && r.cursor !== null && next !== after;
    after = next;
    if (!more) return { logs, after };
  }
}

async function followLogs(c: Ctx, path: string, id: string, from: number | undefined): Promise<number> {
  const show = (l: LogEntry) => c.io.out(c.json ? JSON.stringify(l) : logLine(l));
  const status = async () => (await c.client.get<InstanceDetail>(path)).status;
  let current = await status(); // also: a 404 for a wrong ID before anything else
  let after = from;
  const drain = async () => {
    const r = await allLogs(c.client, path, after);
    after = r.after;
    r.logs.forEach(show);
  };
  const abort = new AbortController();
  let wake: (() => void) | undefined;
  let streamEnded = false; // the server ends the stream once the instance finishes
  let streaming = false;
  const stream = FINISHED.has(current)
    ? Promise.resolve()
    : (async () => {
        try {
          const events = await c.client.events(path + "/events", undefined, abort.signal);
          streaming = true;
          for await (const _ of events) wake?.();
          streamEnded = true;
        } catch {
          // no stream (aborted, or an older server): the loop polls the status instead
        } finally {
          streaming = false;
          wake?.();
        }
      })();
  try {
    for (;;) {
      await drain();
      if (FINISHED.has(current)) break;
      if (streamEnded || !streaming) {
        current = await status();
        if (FINISHED.has(current)) continue; // one more drain: lines written just before the end
        streamEnded = false;
      }
      await new Promise<void>((r) => {
        const t = setTimeout(r, POLL_MS);
        wake = () => {
          clearTimeout(t);
          r();
        };
      });
      wake = undefined;
    }
  } finally {
    abort.abort();
    await stream;
  }
  if (!c.json) c.io.err(`Instance "${id}" ${statusLabel(current)}`);
  return current === "complete" ? 0 : 1;
}

const restartTypes = ["do", "sleep", "waitForEvent"];

export const instanceCommands: Command[] = [
  {
    name: "instances list",
    args: ["WORKFLOW"],
    tenant: true,
    summary: "List a workflow's instances, newest first (table: Instance ID | Version | Created | Modified | Status).",
    options: {
      status: { type: "string", arg: "STATUS", desc: `only instances in STATUS: ${STATUSES.join(", ")}` },
      limit: { type: "string", arg: "N", desc: "at most N instances (1-1000, default 50)" },
      cursor: { type: "string", arg: "CURSOR", desc: "the next page: the cursor a previous list printed" },
      reverse: { type: "boolean", desc: "oldest first" },
      metadata: { type: "string", multiple: true, arg: "KEY=VALUE", desc: "only instances with this metadata (repeat for more)" },
      "created-after": { type: "string", arg: "TIME", desc: "only instances created after TIME (ISO 8601)" },
      "created-before": { type: "string", arg: "TIME", desc: "only instances created before TIME (ISO 8601)" },
    },
    async run(c) {
      const status = c.str("status");
      if (status !== undefined && !STATUSES.includes(status)) throw new UsageError(`--status must be one of ${STATUSES.join(", ")}; got ${JSON.stringify(status)}`);
      const query: Record<string, string | number | undefined> = {
        status, limit: c.int("limit", 1, 1000), cursor: c.str("cursor"), direction: c.values.reverse ? "asc" : undefined,
        createdAfter: c.str("created-after"), createdBefore: c.str("created-before"),
      };
      for (const [k, v] of Object.entries(c.pairs("metadata") ?? {})) query[`metadata.${k}`] = v;
      const workflow = c.args.WORKFLOW!;
      const r = await c.client.get<{ instances: InstanceSummary[]; cursor: string | null }>(base(c, workflow), query);
      c.print(r, () => {
        let s = r.instances.length === 0
          ? `No instances of workflow "${workflow}"${status ? ` with status ${status}` : ""}${c.str("cursor") ? " on this page" : ""}.`
          : instancesTable(r.instances);
        if (r.cursor) s += `\nMore instances: --cursor ${r.cursor}`;
        return s;
      });
      return 0;
    },
  },
  {
    name: "instances describe",
    args: ID,
    tenant: true,
    summary: "Show an instance: status, times, output or error, and every step with its attempts.",
    description: ID_NOTE,
    options: {
      "truncate-output-limit": { type: "string", arg: "N", desc: "show at most N characters of each output (default 5000; 0: all)" },
      "no-step-output": { type: "boolean", desc: "leave out step outputs" },
    },
    async run(c) {
      const limit = c.int("truncate-output-limit", 0) ?? 5000;
      const { path } = await instancePath(c);
      const d = await c.client.get<InstanceDetail>(path);
      c.print(d, () => describeInstance({ workflow: c.args.WORKFLOW, ...d }, { outputLimit: limit, stepOutput: c.values["no-step-output"] !== true }));
      return 0;
    },
  },
  {
    name: "instances create",
    args: ["WORKFLOW"],
    tenant: true,
    summary: "Create (queue) an instance of the workflow's latest version.",
    options: {
      id: { type: "string", arg: "ID", desc: "the instance ID (default: a random one)" },
      params: { type: "string", arg: "JSON", desc: "the instance's params (event.payload), e.g. '{\"id\":42}'" },
      metadata: { type: "string", multiple: true, arg: "KEY=VALUE", desc: "metadata to list and filter instances by (repeat for more)" },
    },
    examples: [`weft instances create onboarding --tenant acme --params '{"id":42}' --metadata customer=c-17`],
    async run(c) {
      const body: Record<string, unknown> = {};
      const id = c.str("id");
      if (id !== undefined) body.id = id;
      const params = c.jsonValue("params");
      if (params !== undefined) body.params = params;
      const metadata = c.pairs("metadata");
      if (metadata) body.metadata = metadata;
      const r = await c.client.request<InstanceSummary>("POST", base(c, c.args.WORKFLOW!), { body });
      c.print(r, () => `🚀 Workflow instance "${r.id}" has been queued successfully`);
      return 0;
    },
  },
  {
    name: "instances pause",
    args: ID,
    tenant: true,
    summary: "Pause an instance (a running step finishes first: status waitingForPause until then).",
    description: ID_NOTE,
    options: {},
    async run(c) {
      const { path } = await instancePath(c);
      return actionResult(c, await c.client.request("POST", path + "/pause"), "Paused");
    },
  },
  {
    name: "instances resume",
    args: ID,
    tenant: true,
    summary: "Resume a paused instance.",
    description: ID_NOTE,
    options: {},
    async run(c) {
      const { path } = await instancePath(c);
      return actionResult(c, await c.client.request("POST", path + "/resume"), "Resumed");
    },
  },
  {
    name: "instances terminate",
    args: ID,
    tenant: true,
    summary: "Terminate an instance that has not finished.",
    description: ID_NOTE,
    options: { rollback: { type: "boolean", desc: "run the rollback handlers of its completed steps first (newest first)" } },
    async run(c) {
      const { path } = await instancePath(c);
      const body = c.values.rollback ? { rollback: true } : {};
      return actionResult(c, await c.client.request("POST", path + "/terminate", { body }), "Terminated");
    },
  },
  {
    name: "instances restart",
    args: ID,
    tenant: true,
    summary: "Restart an instance from the beginning, or from one step (the steps before it keep their results).",
    description: ID_NOTE,
    options: {
      "from-step-name": { type: "string", arg: "NAME", desc: "restart from the step of this name" },
      "from-step-count": { type: "string", arg: "N", desc: "its Nth occurrence, when steps share the name (1-based, default 1)" },
      "from-step-type": { type: "string", arg: "TYPE", desc: `its type: ${restartTypes.join(", ")}` },
    },
    async run(c) {
      const name = c.str("from-step-name");
      const count = c.int("from-step-count", 1);
      const type = c.str("from-step-type");
      if (type !== undefined && !restartTypes.includes(type)) throw new UsageError(`--from-step-type must be one of ${restartTypes.join(", ")}; got ${JSON.stringify(type)}`);
      if (name === undefined && (count !== undefined || type !== undefined)) throw new UsageError("--from-step-count and --from-step-type need --from-step-name");
      const body = name === undefined ? {} : { from: { name, ...(count !== undefined ? { count } : {}), ...(type !== undefined ? { type } : {}) } };
      const { path } = await instancePath(c);
      return actionResult(c, await c.client.request("POST", path + "/restart", { body }), "Restarted");
    },
  },
  {
    name: "instances delete",
    args: ID,
    tenant: true,
    summary: "Delete an instance with its history, logs, files and database (terminating it first if it runs).",
    options: {},
    async run(c) {
      const { path, id } = await instancePath(c, false);
      await c.client.request("DELETE", path);
      c.print(undefined, () => `🗑️ Deleted instance "${id}"`);
      return 0;
    },
  },
  {
    name: "instances send-event",
    args: ID,
    tenant: true,
    summary: "Send an event to an instance; a step.waitForEvent for TYPE receives it (events sent before the wait are kept).",
    description: ID_NOTE,
    options: {
      type: { type: "string", arg: "TYPE", desc: "the event type (required)" },
      payload: { type: "string", arg: "JSON", desc: "the event's payload" },
    } satisfies Record<string, OptSpec>,
    examples: [`weft instances send-event onboarding latest --tenant acme --type approved --payload '{"approved":true}'`],
    async run(c) {
      const type = c.str("type");
      if (type === undefined || type === "") throw new UsageError("missing --type TYPE: the event type the workflow waits for");
      const payload = c.jsonValue("payload");
      const { path, id } = await instancePath(c);
      const r = await c.client.request("POST", path + "/events", { body: payload === undefined ? { type } : { type, payload } });
      c.print(r, () => `📤 The event with type "${type}" was sent to instance "${id}"`);
      return 0;
    },
  },
  {
    name: "instances logs",
    args: ID,
    tenant: true,
    summary: "Print an instance's console output. With --follow, keep printing until the instance finishes.",
    description: `${ID_NOTE}\nWith --follow the exit code is 0 when the instance completed, 1 when it errored or was terminated.`,
    options: {
      follow: { type: "boolean", short: "f", desc: "keep printing new lines until the instance finishes" },
      after: { type: "string", arg: "SEQ", desc: "only lines after sequence number SEQ" },
    },
    async run(c) {
      const { path, id } = await instancePath(c);
      const after = c.int("after", 0);
      if (c.values.follow) return followLogs(c, path, id, after);
      const r = await allLogs(c.client, path, after);
      if (c.json) c.io.out(JSON.stringify({ logs: r.logs, cursor: r.after ?? null }, null, 2));
      else r.logs.forEach((l) => c.io.out(logLine(l)));
      return 0;
    },
  },
];
