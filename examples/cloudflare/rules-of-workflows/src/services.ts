// In-memory stand-ins for the services the billing workflow talks to. In a real Worker these would
// be fetch() calls or service bindings; here they live in module scope (one copy per isolate, shared
// by the instances it runs), which is enough to show why the rules matter.

export type Charge = { chargeId: string; customerId: string; amountCents: number };

const PRICES_CENTS: Record<string, number> = { "api-calls": 2, "storage-gb": 150, seats: 900 };

/** A payment processor that, the first time a charge is made, commits it and then drops the connection. */
class PaymentProcessor {
  private readonly charges = new Map<string, Charge[]>();

  /** What has been charged under this idempotency key (the processor's own records). */
  async lookup(key: string): Promise<Charge | undefined> {
    return this.charges.get(key)?.[0];
  }

  async charge(key: string, customerId: string, amountCents: number): Promise<Charge> {
    const list = this.charges.get(key) ?? [];
    const charge = { chargeId: `ch_${customerId}_${list.length + 1}`, customerId, amountCents };
    list.push(charge);
    this.charges.set(key, list);
    if (list.length === 1) {
      // the charge went through, the answer never arrived: the step fails and will be retried
      throw new Error("payment processor: connection reset while reading the response");
    }
    return charge;
  }

  /** How many times this key was charged (1 when the workflow was idempotent). */
  count(key: string): number {
    return this.charges.get(key)?.length ?? 0;
  }
}

export const payments = new PaymentProcessor();

export async function loadCustomer(customerId: string) {
  return { customerId, name: customerId === "cus_42" ? "Ada Lovelace" : `Customer ${customerId}`, currency: "EUR" };
}

export async function loadUsage(customerId: string, period: string) {
  // a usage export, always listed in the same order
  const seed = customerId.length + period.length;
  return [
    { sku: "api-calls", quantity: 1000 * seed },
    { sku: "storage-gb", quantity: seed },
    { sku: "seats", quantity: 3 },
  ];
}

export function priceOf(sku: string, quantity: number): number {
  const unit = PRICES_CENTS[sku];
  if (unit === undefined) throw new Error(`no price for ${sku}`);
  return unit * quantity;
}

/** Two couriers quote for the receipt's delivery; A takes a second to answer, B answers at once. */
export async function courierQuote(courier: "A" | "B"): Promise<{ courier: string; priceCents: number }> {
  if (courier === "A") await new Promise((resolve) => setTimeout(resolve, 1000));
  return { courier, priceCents: courier === "A" ? 350 : 420 };
}
