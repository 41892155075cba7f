// Types for the modules tenant code imports ("cloudflare:workers", "cloudflare:workflows"), so the
// examples type-check with `tsc`. They follow the Cloudflare Workflows signatures that the guest
// runtime (src/sandbox/guest/) implements; at run time the sandbox provides the modules.

declare module "cloudflare:workers" {
  export type WorkflowDurationLabel = "second" | "minute" | "hour" | "day" | "week" | "month" | "year";
  export type WorkflowSleepDuration = `${number} ${WorkflowDurationLabel}${"s" | ""}` | number;
  export type WorkflowDelayDuration = WorkflowSleepDuration;
  export type WorkflowTimeoutDuration = WorkflowSleepDuration;
  export type WorkflowBackoff = "constant" | "linear" | "exponential";

  export type WorkflowStepConfig = {
    retries?: { limit: number; delay: WorkflowDelayDuration | number; backoff?: WorkflowBackoff };
    timeout?: WorkflowTimeoutDuration | number;
    sensitive?: "output";
  };

  export type WorkflowStepContext = {
    step: { name: string; count: number };
    attempt: number;
    config: WorkflowStepConfig;
  };

  export type WorkflowStepRollbackOptions<T> = {
    rollback: (args: { ctx: WorkflowStepContext; error: unknown; output: T | undefined }) => Promise<unknown> | unknown;
    rollbackConfig?: Omit<WorkflowStepConfig, "sensitive">;
  };

  export type WorkflowEvent<T> = {
    payload: Readonly<T>;
    timestamp: Date;
    instanceId: string;
    workflowName: string;
  };

  export type WorkflowStepEvent<T> = { payload: Readonly<T>; timestamp: Date; type: string };

  export interface WorkflowStep {
    do<T>(name: string, callback: (ctx: WorkflowStepContext) => Promise<T>, rollback?: WorkflowStepRollbackOptions<T>): Promise<T>;
    do<T>(name: string, config: WorkflowStepConfig, callback: (ctx: WorkflowStepContext) => Promise<T>, rollback?: WorkflowStepRollbackOptions<T>): Promise<T>;
    sleep(name: string, duration: WorkflowSleepDuration): Promise<void>;
    sleepUntil(name: string, timestamp: Date | number): Promise<void>;
    waitForEvent<T>(name: string, options: { type: string; timeout?: WorkflowTimeoutDuration | number }): Promise<WorkflowStepEvent<T>>;
  }

  export abstract class WorkflowEntrypoint<Env = unknown, T = unknown> {
    protected ctx: unknown;
    protected env: Env;
    constructor(ctx: unknown, env: Env);
    abstract run(event: Readonly<WorkflowEvent<T>>, step: WorkflowStep): Promise<unknown>;
  }
}

declare module "cloudflare:workflows" {
  export class NonRetryableError extends Error {
    constructor(message: string, name?: string);
  }
}
