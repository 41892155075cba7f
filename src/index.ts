// Public library surface: `import { Engine } from "weft"`.
export { Engine } from "./main.ts";
export type { DeployInput } from "./engine/engine.ts";
export type { EngineOptions, WorkflowLimits } from "./engine/config.ts";
export { WorkflowBinding, WorkflowInstance, type CreateOptions, type InstanceStatusView } from "./engine/binding.ts";
export type { InstanceDetail, StepDetail } from "./engine/describe.ts";
export { WeftError, ErrorCode, type ErrorInfo } from "./core/errors.ts";
export type { InstanceStatus } from "./core/status.ts";
export { SystemClock, type Clock } from "./core/clock.ts";
export { VirtualClock, VirtualClock as FakeClock } from "./core/virtual-clock.ts";
export type { EgressPolicy } from "./engine/egress.ts";
export { secret, hostFunction, workflowBinding } from "./engine/secrets.ts";
export { gitRoute } from "./api/git-route.ts";
