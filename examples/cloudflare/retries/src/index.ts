// Retries driven by the step context (developers.cloudflare.com/workflows/build/step-context/ and
// /build/sleeping-and-retrying/): ctx.attempt switches to a fallback endpoint after three attempts,
// ctx.step and ctx.config go into structured logs, a per-attempt timeout cuts off a hung call and the
// retry succeeds, and a NonRetryableError ends a step at its first attempt. The retry delays are short
// so the example runs in real time in a few seconds.
import { WorkflowEntrypoint, type WorkflowEvent, type WorkflowStep } from "cloudflare:workers";
import { NonRetryableError } from "cloudflare:workflows";

type Params = { token?: string; strict?: boolean };

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** A stand-in for the warehouse API: the primary region is down, the fallback answers. */
async function warehouse(endpoint: "primary" | "fallback"): Promise<{ ok: boolean; status: number; items?: Record<string, number> }> {
  if (endpoint === "primary") return { ok: false, status: 503 };
  return { ok: true, status: 200, items: { "sku-1": 12, "sku-2": 0, "sku-3": 7 } };
}

export class InventorySync extends WorkflowEntrypoint<unknown, Params> {
  async run(event: WorkflowEvent<Params>, step: WorkflowStep) {
    const stock = await step.do(
      "fetch stock levels",
      { retries: { limit: 5, delay: 100, backoff: "exponential" } },
      async (ctx) => {
        const endpoint = ctx.attempt <= 3 ? "primary" : "fallback";
        console.log(JSON.stringify({ step: ctx.step.name, count: ctx.step.count, attempt: ctx.attempt, retryLimit: ctx.config.retries?.limit, endpoint }));
        const res = await warehouse(endpoint);
        if (!res.ok) throw new Error(`${endpoint} warehouse answered ${res.status}`);
        return { endpoint, attempt: ctx.attempt, items: res.items! };
      },
    );

    // The timeout applies to each attempt: the first one hangs and is cut off after a second.
    const prices = await step.do(
      "fetch prices",
      { retries: { limit: 2, delay: 100, backoff: "constant" }, timeout: "1 second" },
      async (ctx) => {
        if (ctx.attempt === 1) await sleep(3000); // the price service hangs
        return { attempt: ctx.attempt, currency: "EUR", timeout: ctx.config.timeout };
      },
    );

    // A permanent failure (bad credentials) is not worth retrying: NonRetryableError stops at attempt 1.
    // Caught, the workflow goes on; uncaught (strict), the instance fails with this error.
    let storefront: string;
    try {
      storefront = await step.do("push to storefront", { retries: { limit: 5, delay: "1 minute", backoff: "linear" } }, async () => {
        if (event.payload.token !== "valid-token") throw new NonRetryableError("the storefront rejected the API token", "AuthError");
        return `pushed ${Object.keys(stock.items).length} SKUs`;
      });
    } catch (e) {
      if (event.payload.strict) throw e;
      storefront = `skipped (${(e as Error).name}: ${(e as Error).message})`;
    }

    return { stock, prices, storefront };
  }
}
