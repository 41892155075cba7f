// An npm dependency in a workflow, as in Cloudflare's "Pay cart and send invoice" example
// (developers.cloudflare.com/workflows/examples/send-invoices/, which uses mimetext): a package from
// node_modules builds the invoice e-mail inside a step. wrangler bundles the package with the
// "workerd" export condition; `weft run` does the same.
import { WorkflowEntrypoint, type WorkflowEvent, type WorkflowStep } from "cloudflare:workers";
import { createMessage, runtime } from "tiny-mime";

type Params = { cartId: string; email: string };

const MERCHANT = "shop@example.com";

/** A stand-in for the cart database. */
async function findCart(cartId: string) {
  return { cartId, checkedOut: true, items: [{ name: "Katzenbaum", cents: 8999 }, { name: "Leckerli", cents: 450 }] };
}

export class CartInvoice extends WorkflowEntrypoint<unknown, Params> {
  async run(event: WorkflowEvent<Params>, step: WorkflowStep) {
    const { cartId = "cart-1", email = "kim@example.com" } = event.payload;

    const cart = await step.do("retrieve cart", { retries: { limit: 10, delay: "2 minutes", backoff: "constant" }, timeout: "30 seconds" }, async () => {
      const found = await findCart(cartId);
      if (!found.checkedOut) throw new Error("cart has not been checked out yet");
      return found;
    });

    const totalCents = cart.items.reduce((sum, i) => sum + i.cents, 0);

    const raw = await step.do("compose invoice", async () => {
      const lines = cart.items.map((i) => `${i.name}: ${(i.cents / 100).toFixed(2)} EUR`);
      return createMessage()
        .from("Tierbedarf Müller", MERCHANT)
        .to(email)
        .subject(`Ihre Rechnung für ${cartId}`)
        .text(`${lines.join("\n")}\nTotal: ${(totalCents / 100).toFixed(2)} EUR\n`)
        .asRaw();
    });

    const sent = await step.do("send invoice", { retries: { limit: 10, delay: "5 minutes", backoff: "constant" } }, async () => ({
      // a real Worker hands `raw` to its send_email binding here
      to: email,
      bytes: new TextEncoder().encode(raw).byteLength,
    }));

    return { cartId, totalCents, raw, sent, bundled: runtime };
  }
}
