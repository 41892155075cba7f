// D1 and R2 bindings in a workflow, as in Cloudflare's "Backup and save D1 database" and "Pay cart
// and send invoice" examples (developers.cloudflare.com/workflows/examples/backup-d1/ and
// /examples/send-invoices/): a day's orders are read from D1 with prepare().bind().first()/all(),
// written to R2 as CSV, recorded back in D1 with batch(), and the object is read back with get().text().
// Each step is idempotent: a retried export finds the object it already wrote (R2 head).
import { WorkflowEntrypoint, type WorkflowEvent, type WorkflowStep } from "cloudflare:workers";
import { NonRetryableError } from "cloudflare:workflows";

type Env = {
  DB: D1Database;
  EXPORTS: R2Bucket;
};

type Params = { day: string };
type Order = { id: number; customer: string; total_cents: number };

export class OrdersExport extends WorkflowEntrypoint<Env, Params> {
  async run(event: WorkflowEvent<Params>, step: WorkflowStep) {
    const day = event.payload.day ?? "2026-09-30";
    const key = `exports/orders-${day}.csv`;

    const summary = await step.do("count the day's orders", async () => {
      const row = await this.env.DB.prepare("SELECT COUNT(*) AS orders, COALESCE(SUM(total_cents), 0) AS cents FROM orders WHERE day = ?")
        .bind(day)
        .first<{ orders: number; cents: number }>();
      if (!row || row.orders === 0) throw new NonRetryableError(`no orders on ${day}`, "NothingToExport");
      return row;
    });

    const exported = await step.do("write the CSV to R2", { retries: { limit: 5, delay: "30 seconds", backoff: "exponential" } }, async () => {
      const existing = await this.env.EXPORTS.head(key);
      if (existing) return { key, size: existing.size, etag: existing.etag, reused: true };
      const { results } = await this.env.DB.prepare("SELECT id, customer, total_cents FROM orders WHERE day = ? ORDER BY id").bind(day).all<Order>();
      const csv = ["id,customer,total_cents", ...results.map((o) => `${o.id},${o.customer},${o.total_cents}`)].join("\n") + "\n";
      const object = await this.env.EXPORTS.put(key, csv, { httpMetadata: { contentType: "text/csv" } });
      return { key: object.key, size: object.size, etag: object.etag, reused: false };
    });

    const recorded = await step.do("record the export in D1", async () => {
      const [insert, update] = await this.env.DB.batch([
        this.env.DB.prepare("INSERT INTO exports (day, r2_key, rows) VALUES (?, ?, ?) ON CONFLICT (day) DO UPDATE SET r2_key = excluded.r2_key, rows = excluded.rows")
          .bind(day, exported.key, summary.orders),
        this.env.DB.prepare("UPDATE orders SET exported = 1 WHERE day = ?").bind(day),
      ]);
      return { exportRows: insert.meta.changes, ordersMarked: update.meta.changes };
    });

    const check = await step.do("read the object back", async () => {
      const object = await this.env.EXPORTS.get(key);
      if (!object) throw new Error(`${key} is not in the bucket yet`);
      const lines = (await object.text()).trim().split("\n");
      return { contentType: object.httpMetadata?.contentType ?? null, rows: lines.length - 1, header: lines[0] };
    });

    return { day, summary, exported, recorded, check };
  }
}
