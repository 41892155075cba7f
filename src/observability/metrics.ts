// Prometheus metrics for one engine. Everything lives in a Registry made here (never prom-client's
// global register): two engines in one process, or one engine opened twice in a test, each get their
// own. Most figures are read on scrape (collect()) from what the engine already keeps — its counters,
// stats() and the store's counts — so the engine pays nothing between scrapes; only step-attempt
// durations are observed as they happen, from the engine's "attempt" event.
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from "prom-client";
import { INSTANCE_STATUSES } from "../core/status.ts";

/** What the metrics read of an engine (the engine implements it; metrics never import the engine). */
export interface EngineStatsSource {
  readonly metrics: Record<CounterKey, number>;
  readonly events: {
    on(event: "attempt", fn: (a: { tenant: string; workflow: string; durationMs: number; ok: boolean }) => void): unknown;
    off(event: "attempt", fn: (a: { tenant: string; workflow: string; durationMs: number; ok: boolean }) => void): unknown;
  };
  stats(): { activeRuns: number; queued: number; isolates: number; contexts: number; heapBytes: number };
  countByStatus(): Promise<Record<string, number>>;
}
type AttemptEnded = Parameters<Parameters<EngineStatsSource["events"]["on"]>[1]>[0];

export interface Metrics {
  registry: Registry;
  /** the Content-Type of render()'s text (Prometheus text format 0.0.4) */
  contentType: string;
  /** the exposition text; reads the store (counts by status) */
  render(): Promise<string>;
  /** stop observing the engine (its "attempt" listener is removed) */
  close(): void;
}

/** 1 ms … 10 min */
export const ATTEMPT_BUCKETS_SECONDS = [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600];

type CounterKey = "creations" | "attemptsStarted" | "stepsCompleted" | "stepsFailed" | "preemptions" | "lateResults" | "logLinesDropped";

export function createMetrics(engine: EngineStatsSource): Metrics {
  const registry = new Registry();
  const registers = [registry];
  // weft_instances and weft_pending_timers both need the counts: one store query per scrape (the
  // registry collects all metrics concurrently, so the second collect joins the first's query)
  let counting: Promise<Record<string, number>> | undefined;
  const counts = () => {
    counting ??= engine.countByStatus().finally(() => {
      counting = undefined;
    });
    return counting;
  };

  // ---- counters mirrored from engine.metrics on scrape ------------------------------------------
  const mirror = (name: string, help: string, key: CounterKey) =>
    new Counter({
      name, help, registers,
      collect() {
        const v = engine.metrics[key];
        this.reset();
        if (v > 0) this.inc(v);
      },
    });
  mirror("weft_instances_created_total", "Instances created since the engine opened (create and createBatch).", "creations");
  mirror("weft_step_attempts_started_total", "Step attempts started since the engine opened (retries count once each).", "attemptsStarted");
  mirror("weft_steps_completed_total", "Steps whose result was committed since the engine opened.", "stepsCompleted");
  mirror("weft_steps_failed_total", "Steps that failed for good (retries exhausted or non-retryable) since the engine opened.", "stepsFailed");
  mirror("weft_preemptions_total", "Activations cut off at the synchronous budget (their runs continue with asynchronous activations).", "preemptions");
  mirror("weft_log_lines_dropped_total", "Console lines of instances dropped over their limits.logLines / limits.logBytes.", "logLinesDropped");
  mirror("weft_late_step_results_total", "Step results that arrived after their run had lost its lease and stopped: dropped (the next run executes the step again).", "lateResults");

  // ---- step attempt durations, observed as attempts end ----------------------------------------
  const attempts = new Histogram({
    name: "weft_step_attempt_duration_seconds",
    help: "Duration of step attempts by tenant, workflow and outcome (ok | error), on the engine clock.",
    labelNames: ["tenant", "workflow", "outcome"] as const,
    buckets: ATTEMPT_BUCKETS_SECONDS,
    registers,
  });
  const onAttempt = (a: AttemptEnded) => {
    attempts.observe({ tenant: a.tenant, workflow: a.workflow, outcome: a.ok ? "ok" : "error" }, Math.max(0, a.durationMs) / 1000);
  };
  engine.events.on("attempt", onAttempt);

  // ---- gauges read on scrape --------------------------------------------------------------------
  new Gauge({
    name: "weft_instances", help: "Instances in the store by status.", labelNames: ["status"] as const, registers,
    async collect() {
      const byStatus = await counts();
      this.reset();
      // every known status is always present (0 when none), so series do not appear and vanish
      for (const s of INSTANCE_STATUSES) if (s !== "unknown") this.set({ status: s }, 0);
      for (const [s, n] of Object.entries(byStatus)) this.set({ status: s }, n);
    },
  });
  const fromStats = (name: string, help: string, pick: (s: ReturnType<EngineStatsSource["stats"]>) => number) =>
    new Gauge({
      name, help, registers,
      collect() {
        this.set(pick(engine.stats()));
      },
    });
  fromStats("weft_queue_depth", "Instances ready to run, waiting for a run slot (scheduler queue depth).", (s) => s.queued);
  fromStats("weft_active_runs", "Instance runs live in this process.", (s) => s.activeRuns);
  fromStats("weft_isolates", "Live V8 isolates in the pool (idle spares included).", (s) => s.isolates);
  fromStats("weft_isolate_contexts", "Live contexts across the pool's isolates.", (s) => s.contexts);
  fromStats("weft_isolate_heap_bytes", "V8 heap in use across the pool's isolates (bytes).", (s) => s.heapBytes);
  // The store port has nextReadyAt() but no count of instances with a wake time, so this counts every
  // waiting instance: timers (step.sleep, retry back-off, waitForEvent timeouts) and also waits for
  // an event without a timeout. An upper bound on pending timers.
  new Gauge({
    name: "weft_pending_timers",
    help: "Waiting instances (store status 'waiting'): an upper bound on pending timers, as it includes waits for events without a timeout.",
    registers,
    async collect() {
      this.set((await counts()).waiting ?? 0);
    },
  });
  // No weft_isolate_heap_bytes: the isolate pool does not expose isolated-vm heap statistics.
  // Isolate heaps live outside Node's heap but inside the process, so process_resident_memory_bytes
  // (below) covers them.

  collectDefaultMetrics({ register: registry });

  return {
    registry,
    contentType: registry.contentType,
    render: () => registry.metrics(),
    close() {
      engine.events.off("attempt", onAttempt);
    },
  };
}
