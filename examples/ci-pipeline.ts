// Example: a CI pipeline as a saga. checkout → build → tests (in parallel) → deploy; each step that
// changes something registers a rollback. With failDeploy the deploy throws NonRetryableError (no
// retries), the instance errors, and the rollbacks run newest first: deploy, build, checkout.
//   weft run examples/ci-pipeline.ts --params '{"commit":"9f3c2e1"}'
//   weft run examples/ci-pipeline.ts --params '{"failDeploy":true}'      (exit code 1)
import { WorkflowEntrypoint, type WorkflowEvent, type WorkflowStep, type WorkflowStepConfig } from "cloudflare:workers";
import { NonRetryableError } from "cloudflare:workflows";

type Params = { repo?: string; commit?: string; failDeploy?: boolean };

const quick: WorkflowStepConfig = { retries: { limit: 2, delay: "1 second", backoff: "constant" }, timeout: "5 minutes" };

export class CiPipeline extends WorkflowEntrypoint<unknown, Params> {
  async run(event: WorkflowEvent<Params>, step: WorkflowStep) {
    const params = event.payload ?? {}; // weft run without --params passes none
    const repo = params.repo ?? "acme/web";
    const commit = params.commit ?? "0000000";
    const ran: string[] = [];

    const checkout = await step.do("checkout", quick, async () => ({ dir: `/builds/${repo}/${commit}`, files: 128 }), {
      rollback: async ({ output }) => console.log(`rollback: removed working copy ${output?.dir}`),
    });
    ran.push("checkout");

    const build = await step.do("build", quick, async () => ({ artifact: `${repo.replace("/", "-")}-${commit}.tar.gz`, bytes: checkout.files * 1024 }), {
      rollback: async ({ output }) => console.log(`rollback: deleted artifact ${output?.artifact}`),
    });
    ran.push("build");

    // independent suites run in parallel; they change nothing, so they need no rollback
    const suites = await Promise.all(
      ["unit", "integration", "lint"].map((suite, i) =>
        step.do(`test ${suite}`, quick, async () => ({ suite, passed: 10 * (i + 1), failed: 0 })),
      ),
    );
    ran.push(...suites.map((s) => `test ${s.suite}`));

    const deploy = await step.do(
      "deploy",
      quick,
      async () => {
        if (params.failDeploy) throw new NonRetryableError(`production rejected ${build.artifact}: health check failed`, "DeployRejected");
        return { url: `https://${commit}.preview.example.com`, artifact: build.artifact };
      },
      { rollback: async ({ output }) => console.log(`rollback: ${output ? `restored the release before ${output.url}` : "nothing was released"}`) },
    );
    ran.push("deploy");

    return { repo, commit, ran, url: deploy.url, tests: suites.reduce((n, s) => n + s.passed, 0) };
  }
}
