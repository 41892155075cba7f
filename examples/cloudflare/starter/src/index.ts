// A Worker in the shape of Cloudflare's workflows-starter template: the Workflow class, and next to
// it the Worker's default fetch handler that starts instances and reports their status through the
// Workflow binding. On Cloudflare, wrangler.jsonc binds REPORTS to this class; under Weft the class
// runs as the workflow and the fetch handler loads but is not run (the deploy result says so).
import { WorkflowEntrypoint, type WorkflowEvent, type WorkflowStep } from "cloudflare:workers";

type Env = {
  REPORTS: Workflow<Params>;
};

type Params = {
  customer: string;
  documents?: string[];
};

type Review = { approved: boolean; reviewer: string };

export class QuarterlyReport extends WorkflowEntrypoint<Env, Params> {
  async run(event: WorkflowEvent<Params>, step: WorkflowStep) {
    const customer = event.payload.customer ?? "unknown customer";

    // Step results are the workflow's state: this list survives hibernation, a local variable would not.
    const inventory = await step.do("collect documents", async () => {
      const all = event.payload.documents ?? ["q3-invoices.pdf", "q3-contracts.pdf", "scratch.txt", "q3-payroll.pdf"];
      return { pdfs: all.filter((d) => d.endsWith(".pdf")), ignored: all.filter((d) => !d.endsWith(".pdf")) };
    });

    // A person signs the report off first. If nobody answers within the hour, waitForEvent throws and,
    // uncaught, the instance ends as errored (with a WorkflowTimeoutError).
    const review = await step.waitForEvent<Review>("wait for sign-off", { type: "review", timeout: "1 hour" });
    if (!review.payload.approved) {
      return { customer, published: false, reviewer: review.payload.reviewer };
    }

    const contents = await step.do("render report", async () =>
      inventory.pdfs.map((file, i) => `${i + 1}. ${file.replace(/\.pdf$/, "")}`));

    await step.sleep("wait for the CDN cache to expire", "5 minutes");

    const url = await step.do(
      "publish report",
      { retries: { limit: 3, delay: "5 seconds", backoff: "exponential" }, timeout: "2 minutes" },
      async () => `https://reports.example.com/${encodeURIComponent(customer)}/${event.instanceId}.html`,
    );

    return { customer, published: true, reviewer: review.payload.reviewer, contents, ignored: inventory.ignored, url };
  }
}

export default {
  async fetch(req: Request, env: Env): Promise<Response> {
    const url = new URL(req.url);
    if (url.pathname.startsWith("/favicon")) {
      return Response.json({}, { status: 404 });
    }

    const id = url.searchParams.get("instanceId");

    // POST /review?instanceId=<id> with {"approved":true,"reviewer":"…"}: the sign-off
    if (req.method === "POST" && url.pathname === "/review" && id) {
      const instance = await env.REPORTS.get(id);
      await instance.sendEvent({ type: "review", payload: await req.json() });
      return Response.json({ ok: true });
    }

    // GET /?instanceId=<id>: the status of an existing instance
    if (id) {
      const instance = await env.REPORTS.get(id);
      return Response.json({ status: await instance.status() });
    }

    // anything else starts a new instance
    const instance = await env.REPORTS.create({ params: { customer: url.searchParams.get("customer") ?? "acme" } });
    return Response.json({ id: instance.id, details: await instance.status() });
  },
};
