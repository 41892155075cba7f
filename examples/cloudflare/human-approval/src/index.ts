// A human in the loop (developers.cloudflare.com/workflows/examples/wait-for-event/ and
// /build/events-and-parameters/): an expense claim waits for a manager's decision, sent to the
// instance as an event. waitForEvent throws when its timeout passes: the first timeout is caught and
// the claim is escalated to finance; a second one is not caught, and the instance ends as errored.
import { WorkflowEntrypoint, type WorkflowEvent, type WorkflowStep } from "cloudflare:workers";

type Params = { employee: string; amountCents: number; description: string };
type Decision = { approved: boolean; approver: string; note?: string };

export class ExpenseApproval extends WorkflowEntrypoint<unknown, Params> {
  async run(event: WorkflowEvent<Params>, step: WorkflowStep) {
    const claim = await step.do("file the claim", async () => ({
      ref: `EXP-${event.instanceId.slice(0, 8).toUpperCase()}`,
      employee: event.payload.employee ?? "unknown",
      amountCents: event.payload.amountCents ?? 0,
      filedAt: event.timestamp.toISOString(),
    }));

    let decision: Decision;
    let escalated = false;
    try {
      const answer = await step.waitForEvent<Decision>("wait for the manager", { type: "expense-decision", timeout: "3 days" });
      decision = answer.payload;
    } catch (e) {
      // the wait timed out (a WorkflowTimeoutError): hand the claim to finance, with a shorter deadline
      escalated = await step.do("escalate to finance", async () => {
        console.log(`${claim.ref}: no decision in 3 days (${(e as Error).name}), escalating`);
        return true;
      });
      const answer = await step.waitForEvent<Decision>("wait for finance", { type: "expense-decision", timeout: "1 day" });
      decision = answer.payload;
    }

    if (!decision.approved) {
      return { ref: claim.ref, status: "rejected", by: decision.approver, note: decision.note ?? null, escalated };
    }

    const payout = await step.do("schedule the reimbursement", async () => ({
      amountCents: claim.amountCents,
      to: claim.employee,
      batch: "next-payroll",
    }));
    return { ref: claim.ref, status: "reimbursed", by: decision.approver, payout, escalated };
  }
}
