// The rules of Workflows (developers.cloudflare.com/workflows/build/rules-of-workflows/), each one
// applied in a monthly billing run: idempotent steps, state built only from step results, steps named
// deterministically (dynamic names from step output, walked in order), Promise.all of steps,
// randomness inside a step, and a race wrapped in a step.do whose nested steps do the racing.
import { WorkflowEntrypoint, type WorkflowEvent, type WorkflowStep } from "cloudflare:workers";
import { courierQuote, loadCustomer, loadUsage, payments, priceOf } from "./services.ts";

type Params = { customerId: string; period: string };

export class MonthlyBilling extends WorkflowEntrypoint<unknown, Params> {
  async run(event: WorkflowEvent<Params>, step: WorkflowStep) {
    const { customerId = "cus_42", period = "2026-09" } = event.payload;

    // Code outside steps runs again whenever the instance wakes up: keep it free of side effects.
    console.log(`billing ${customerId} for ${period}`);

    // ✅ State only from step results, and independent steps in parallel.
    const [customer, usage] = await Promise.all([
      step.do("load customer", async () => loadCustomer(customerId)),
      step.do("load usage", async () => loadUsage(customerId, period)),
    ]);

    // ✅ Dynamic step names are fine when they come from a step's output, walked in its order.
    const lines: { sku: string; amountCents: number }[] = [];
    for (const item of usage) {
      lines.push(await step.do(`price ${item.sku}`, async () => ({ sku: item.sku, amountCents: priceOf(item.sku, item.quantity) })));
    }
    const totalCents = lines.reduce((sum, l) => sum + l.amountCents, 0);

    // ✅ An idempotent step: the charge is not idempotent, so first ask whether it already happened.
    // The processor commits the first charge and drops the connection; the retry finds it.
    const idempotencyKey = `${event.instanceId}/${customerId}/${period}`;
    const charge = await step.do(
      `charge ${customerId} for ${period}`,
      { retries: { limit: 3, delay: "10 seconds", backoff: "constant" } },
      async (ctx) => {
        const existing = await payments.lookup(idempotencyKey);
        if (existing) return { ...existing, attempt: ctx.attempt, alreadyCharged: true, timesCharged: payments.count(idempotencyKey) };
        const made = await payments.charge(idempotencyKey, customerId, totalCents);
        return { ...made, attempt: ctx.attempt, alreadyCharged: false, timesCharged: payments.count(idempotencyKey) };
      },
    );

    // ✅ Non-deterministic values come from a step, so every replay sees the same receipt number.
    const receiptNo = await step.do("allocate receipt number", async () => crypto.randomUUID());

    // ✅ A race wrapped in a step.do: the winner is cached as the outer step's result, so the code
    // after a hibernation sees the winner the first run saw.
    const courier = await step.do("pick the fastest courier", async () =>
      Promise.race([
        step.do("quote from courier A", async () => courierQuote("A")),
        step.do("quote from courier B", async () => courierQuote("B")),
      ]));

    // A long sleep: the instance hibernates here and everything above is replayed from the journal.
    await step.sleep("wait out the dispute window", "2 hours");

    const mailed = await step.do("mail receipt", async () => {
      console.log(`mailing receipt ${receiptNo} via courier ${courier.courier}`);
      return { receiptNo, courier: courier.courier, to: customer.name };
    });

    return { customer: customer.name, lines, totalCents, charge, receiptNo, courier, mailed };
  }
}
