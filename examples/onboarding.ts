// Example: user onboarding. A flaky lookup that succeeds on its third attempt (retry config),
// a one-day grace period (step.sleep) and a human approval (step.waitForEvent with a timeout). The
// instance keeps an audit table in its own SQL database and writes a report into its own files;
// both writes happen inside steps, so they commit exactly once, with the step.
//   weft run examples/onboarding.ts --skip-time --params '{"id":42}' --event approved='{"approved":true}'
import { WorkflowEntrypoint, type WorkflowEvent, type WorkflowStep } from "cloudflare:workers";

type Params = { id: number; name?: string; grace?: string };
type Approval = { approved: boolean; by?: string };

export class Onboarding extends WorkflowEntrypoint<unknown, Params> {
  async run(event: WorkflowEvent<Params>, step: WorkflowStep) {
    const { id = 1, name, grace = "1 day" } = event.payload ?? {}; // weft run without --params passes none

    // The user service is flaky: attempts 1 and 2 fail, attempt 3 succeeds. Two retries, 2 s then 4 s apart.
    const user = await step.do(
      "load user",
      { retries: { limit: 3, delay: "2 seconds", backoff: "exponential" }, timeout: "30 seconds" },
      async (ctx) => {
        if (ctx.attempt < 3) throw new Error(`user service unavailable (attempt ${ctx.attempt})`);
        return { id, name: name ?? `user-${id}`, loadedOnAttempt: ctx.attempt };
      },
    );

    const account = await step.do("create account", async () => {
      console.log(`creating a trial account for ${user.name}`);
      const sql = this.ctx.storage.sql;
      sql.exec("CREATE TABLE IF NOT EXISTS audit (at INTEGER, what TEXT)");
      sql.exec("INSERT INTO audit (at, what) VALUES (?, ?)", Date.now(), "account created");
      return { accountId: `acct_${user.id}`, plan: "trial" };
    });

    await step.sleep("grace period", grace as `${number} ${"second" | "seconds" | "minute" | "minutes" | "hour" | "hours" | "day" | "days"}`);

    // Wait up to an hour for a reviewer; without one, decline instead of failing the instance.
    let approval: Approval;
    try {
      approval = (await step.waitForEvent<Approval>("approval", { type: "approved", timeout: "1 hour" })).payload;
    } catch {
      approval = { approved: false, by: "timeout" };
    }

    const message = await step.do("send welcome", async () => {
      const text = approval.approved ? `Welcome aboard, ${user.name}!` : `Sorry ${user.name}, your account was not approved.`;
      this.ctx.storage.sql.exec("INSERT INTO audit (at, what) VALUES (?, ?)", Date.now(), approval.approved ? "approved" : "declined");
      await this.ctx.fs.writeFile("report.md", `# ${user.name}\n\n${text}\n`);
      return text;
    });

    // reads outside steps are fine (writes there would repeat on every replay, so they are refused)
    const audit = this.ctx.storage.sql.exec("SELECT what FROM audit ORDER BY rowid").toArray().map((r) => r.what as string);
    return { user: user.name, accountId: account.accountId, plan: account.plan, approved: approval.approved, loadedOnAttempt: user.loadedOnAttempt, message, audit };
  }
}
