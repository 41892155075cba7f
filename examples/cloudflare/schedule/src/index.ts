// A schedule inside one instance (developers.cloudflare.com/workflows/build/sleeping-and-retrying/:
// "sleep until a fixed date ... schedule work to occur at a specific time (e.g. Sunday, 9AM UTC)"):
// a trial's reminder e-mails, each at 09:00 UTC on its day, with step.sleepUntil; then a relative
// grace period with step.sleep before the account is downgraded. The plan is a step result, so the
// dates are fixed once and every replay walks the same list of steps.
import { WorkflowEntrypoint, type WorkflowEvent, type WorkflowStep } from "cloudflare:workers";

type Params = { email: string; trialDays?: number };
type Reminder = { kind: string; at: string };

const DAY = 24 * 60 * 60 * 1000;

/** 09:00 UTC on the day `ms` falls on. */
function nineUtc(ms: number): number {
  const d = new Date(ms);
  return Date.UTC(d.getUTCFullYear(), d.getUTCMonth(), d.getUTCDate(), 9);
}

/** The first Monday 09:00 UTC strictly after `ms`. */
function nextMondayNine(ms: number): number {
  let t = nineUtc(ms);
  while (t <= ms || new Date(t).getUTCDay() !== 1) t += DAY;
  return t;
}

export class TrialReminders extends WorkflowEntrypoint<unknown, Params> {
  async run(event: WorkflowEvent<Params>, step: WorkflowStep) {
    const { email = "kim@example.com", trialDays = 14 } = event.payload;
    const started = event.timestamp.getTime();

    const plan = await step.do("plan reminders", async () => {
      const trialEnds = started + trialDays * DAY;
      const reminders: Reminder[] = [
        { kind: "getting started tips", at: new Date(nextMondayNine(started)).toISOString() },
        { kind: "trial ends in 3 days", at: new Date(nineUtc(trialEnds - 3 * DAY)).toISOString() },
        { kind: "trial ended", at: new Date(trialEnds).toISOString() },
      ];
      return { trialEnds: new Date(trialEnds).toISOString(), reminders };
    });

    const sent: { kind: string; scheduledFor: string; sentAt: string }[] = [];
    for (const r of plan.reminders) {
      await step.sleepUntil(`wait for "${r.kind}"`, new Date(r.at));
      sent.push(await step.do(`send "${r.kind}"`, async () => {
        // a real Worker calls its e-mail provider here
        return { kind: r.kind, scheduledFor: r.at, sentAt: new Date().toISOString() };
      }));
    }

    await step.sleep("grace period", "2 days");

    const downgrade = await step.do("downgrade to the free plan", async () => ({ email, plan: "free", at: new Date().toISOString() }));

    return { email, trialEnds: plan.trialEnds, sent, downgrade };
  }
}
