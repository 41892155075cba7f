// The journal ops of one write as ONE statement for PostgreSQL: every insert (history, steps,
// attempts, SQL pages) a data-modifying CTE, and every change of the instance's row one UPDATE as the
// main query — one round trip instead of one per op (a step was 8 sequential round trips, ~90% of its
// cost). Correct because the caller already holds the instance's row lock (taken by the fence in an
// earlier statement of the transaction): this statement's snapshot then sees every committed row of
// the instance, so the history numbers (MAX + 1) cannot race, and no two parts touch the same row.
// Git objects (rare, large) stay a statement of their own.
import type { JournalOp, StoredObject } from "../../core/journal.ts";
import { isClaimable } from "../../core/status.ts";
import type { Release } from "../ports.ts";
import { enc, json } from "../rows.ts";

export interface OpsStatement {
  /** "" when the ops change no row (nothing to send) */
  text: string;
  args: unknown[];
  /** the git objects to store with it (their own statement) */
  objects: { tenant: string; objects: StoredObject[] }[];
  /** it releases the claim: it returns the instance's ready_at (and, with notify, told the other nodes) */
  releases: boolean;
}

/**
 * The ops in runs that write no step or attempt row twice (a statement may not change a row twice),
 * in order: one statement each — almost always one.
 */
export function splitOps(ops: JournalOp[]): JournalOp[][] {
  const out: JournalOp[][] = [[]];
  let seen = new Set<string>();
  for (const o of ops) {
    const k = o.op === "step" ? `s:${o.key}` : o.op === "attempt" ? `a:${o.key}\u0000${o.attempt}` : undefined;
    if (k !== undefined && seen.has(k)) {
      out.push([]);
      seen = new Set();
    }
    if (k !== undefined) seen.add(k);
    out.at(-1)!.push(o);
  }
  return out;
}

/** The statement of one run of ops (from splitOps); with `notify`, a release in it tells the other nodes. */
export function opsStatement(pk: number, ops: JournalOp[], rel: Release | undefined, notify: { channel: string; origin: string } | undefined): OpsStatement {
  const args: unknown[] = [];
  const p = (v: unknown): string => (args.push(v), `$${args.length}`);
  const ctes: string[] = [];
  const sets: string[] = [];
  const objects: OpsStatement["objects"] = [];
  let releases = false;
  const PK = p(pk);

  const history = ops.filter((o): o is Extract<JournalOp, { op: "history" }> => o.op === "history");
  if (history.length > 0) {
    ctes.push(`INSERT INTO history (instance, seq, type, at, data)
      SELECT ${PK}::bigint, m.s + x.ord, x.type, x.at, x.data FROM (SELECT COALESCE(MAX(seq), 0) AS s FROM history WHERE instance = ${PK}) m,
      unnest(${p(history.map((h) => h.type))}::text[], ${p(history.map((h) => h.at))}::bigint[], ${p(history.map((h) => json(h.data)))}::text[]) WITH ORDINALITY AS x(type, at, data, ord)`);
  }
  for (const o of ops) {
    switch (o.op) {
      case "step":
        ctes.push(`INSERT INTO steps (instance, key, kind, seq, name, count, state, value, error, at, started_at, due_at, attempts, config, event_type)
          VALUES (${PK},${p(o.key)},${p(o.kind)},${p(o.seq)},${p(o.name)},${p(o.count)},${p(o.state)},${p(enc(o.value))}::bytea,${p(json(o.error))},${p(o.at ?? null)}::bigint,${p(o.startedAt)}::bigint,${p(o.dueAt ?? null)}::bigint,${p(o.attempts)},${p(json(o.config))},${p(o.eventType ?? null)})
          ON CONFLICT (instance, key) DO UPDATE SET state = excluded.state, value = excluded.value, error = excluded.error, at = excluded.at,
            due_at = excluded.due_at, attempts = excluded.attempts WHERE steps.state = 'pending'`);
        break;
      case "attempt":
        ctes.push(`INSERT INTO attempts (instance, key, attempt, started_at, ended_at, success, error) VALUES (${PK},${p(o.key)},${p(o.attempt)},${p(o.startedAt)}::bigint,${p(o.endedAt)}::bigint,${p(o.success)}::boolean,${p(json(o.error))})
          ON CONFLICT (instance, key, attempt) DO UPDATE SET started_at = excluded.started_at, ended_at = excluded.ended_at, success = excluded.success, error = excluded.error`);
        break;
      case "status":
        sets.push(`status = ${p(o.status)}`, `modified_at = ${p(Date.now())}::bigint`);
        if (o.wakeAt !== undefined) sets.push(`wake_at = ${p(o.wakeAt)}::bigint`);
        if (o.output !== undefined) sets.push(`output = ${p(enc(o.output))}::bytea`);
        if (o.error !== undefined) sets.push(`error = ${p(json(o.error))}`);
        if (o.endedAt !== undefined) sets.push(`ended_at = ${p(o.endedAt)}::bigint`);
        if (o.startedAt !== undefined) sets.push(`started_at = COALESCE(started_at, ${p(o.startedAt)}::bigint)`);
        if (rel) {
          // the release in the same statement: a wake-up the run has not acted on makes it due at once
          if (isClaimable(o.status)) sets.push(`ready_at = CASE WHEN wakes > ${p(rel.seenWakes)} THEN ${p(rel.now)}::bigint ELSE ${p(rel.readyAt)}::bigint END`);
          else sets.push("ready_at = NULL");
          sets.push("claim_owner = NULL", "claim_until = NULL");
          releases = true;
        }
        break;
      case "objects":
        objects.push({ tenant: o.tenant, objects: o.objects });
        break;
      case "fs":
        sets.push(`fs_head = ${p(o.head)}`, `fs_files = ${p(o.files)}`);
        break;
      case "sql": {
        const pages = o.pages.filter((x) => x.pgno <= o.nPages);
        if (pages.length > 0) {
          ctes.push(`INSERT INTO sql_pages (instance, pgno, data) SELECT ${PK}::bigint, * FROM unnest(${p(pages.map((x) => x.pgno))}::int[], ${p(pages.map((x) => Buffer.from(x.data.buffer, x.data.byteOffset, x.data.byteLength)))}::bytea[])
            ON CONFLICT (instance, pgno) DO UPDATE SET data = excluded.data`);
        }
        ctes.push(`DELETE FROM sql_pages WHERE instance = ${PK} AND pgno > ${p(o.nPages)}`);
        sets.push(`sql_seq = ${p(o.seq)}`, `sql_by = ${p(o.by)}`, `sql_pages = ${p(o.nPages)}`, `sql_page_size = ${p(o.pageSize)}`);
        break;
      }
      case "history":
        break; // numbered and written above
    }
  }
  if (ctes.length === 0 && sets.length === 0) return { text: "", args: [], objects, releases };
  const main = sets.length > 0 ? `UPDATE instances SET ${sets.join(", ")} WHERE pk = ${PK} RETURNING ready_at` : `SELECT NULL::bigint AS ready_at`;
  const parts = ctes.map((c, i) => `w${i} AS (${c})`);
  let text: string;
  if (notify && rel && releases) {
    // the release tells the other nodes, with whether the instance is due now (they take it at once)
    parts.push(`u AS (${main})`);
    text = `WITH ${parts.join(", ")} SELECT u.ready_at, pg_notify(${p(notify.channel)}, ${PK}::text || ':' || CASE WHEN u.ready_at IS NOT NULL AND u.ready_at <= ${p(rel.now)}::bigint THEN 'r' ELSE '' END || ':' || ${p(notify.origin)}::text) FROM u`;
  } else {
    text = parts.length > 0 ? `WITH ${parts.join(", ")} ${main}` : main;
  }
  return { text, args, objects, releases };
}
