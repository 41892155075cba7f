// Named crash points: the moments a kill is hardest to recover from. Production code calls
// `hit(name)` there; it does nothing unless a test installed a handler (EngineOptions.hooks.crashPoint),
// which typically kills the process with SIGKILL to prove that a restart keeps every guarantee.
export const CRASH_POINTS = [
  /** a step's result is committed in the journal; nothing after it has happened (no ack to the guest) */
  "after-journal-commit",
  /** a step's SQL writes and result are committed in the instance database; its journal write is not made */
  "after-sql-commit",
  /** an event is stored and matched to its wait; the run it wakes has not been told */
  "after-event-delivery",
  /** an instance is claimed for a run; its first activation has not started */
  "after-claim",
  /** an instance's rows are deleted; its SQL database and the runs it had are not cleaned up yet */
  "during-delete",
] as const;
export type CrashPoint = (typeof CRASH_POINTS)[number];

export type CrashHandler = (point: CrashPoint, detail: { instance?: string; pk?: number; step?: string }) => void;
