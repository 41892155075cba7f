// Shared fixtures for the engine tests: a fresh data directory and FakeClock per test, tenant code
// as a string module, host-side recorders, and bounded waiting that never sleeps for real.
import { testStore } from "../../src/testing/postgres.ts";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { TestContext } from "node:test";
import { Engine, FakeClock, type EngineOptions, type WorkflowInstance } from "../../src/index.ts";
import type { InstanceDetail, StepDetail } from "../../src/engine/describe.ts";

export const TENANT = "acme";
export const START = Date.UTC(2026, 0, 1);
export const SECOND = 1000;
export const MINUTE = 60 * SECOND;
export const HOUR = 60 * MINUTE;

export interface Harness {
  engine: Engine;
  clock: FakeClock;
  dataDir: string;
  /** close the engine and open a new one on the same data directory, its clock at the same time */
  reopen(opts?: Partial<EngineOptions>): Promise<Engine>;
}

/** A fresh engine on a fresh directory with a FakeClock; closed and removed after the test. */
export async function open(t: TestContext, opts: Partial<EngineOptions> = {}): Promise<Harness> {
  const dataDir = mkdtempSync(join(tmpdir(), "weft-sem-"));
  const clock = (opts.clock as FakeClock | undefined) ?? new FakeClock(START);
  // the store the run asks for (WEFT_TEST_STORE=postgres: the suites run on the shared store too)
  const store = opts.store ? { options: {}, cleanup: async () => undefined } : testStore();
  const h: Harness = {
    engine: await Engine.open({ dataDir, clock, ...store.options, ...opts }),
    clock,
    dataDir,
    async reopen(more = {}) {
      await h.engine.close();
      const next = new FakeClock(h.clock.now());
      h.clock = next;
      h.engine = await Engine.open({ dataDir, ...store.options, ...opts, clock: next, ...more });
      return h.engine;
    },
  };
  t.after(async () => {
    await h.engine.close();
    rmSync(dataDir, { recursive: true, force: true });
    await store.cleanup();
  });
  return h;
}

/** A module with one workflow class whose run() body is `body` (event and step are in scope). */
export function wf(body: string, extra = ""): string {
  return `
import { WorkflowEntrypoint } from "cloudflare:workers";
import { NonRetryableError } from "cloudflare:workflows";
${extra}
export class W extends WorkflowEntrypoint {
  async run(event, step) {
${body}
  }
}`;
}

export async function deploy(
  engine: Engine,
  workflow: string,
  source: string,
  more: { env?: Record<string, unknown>; limits?: Record<string, number>; className?: string } = {},
): Promise<string> {
  const { version } = await engine.deploy({
    tenant: TENANT, workflow, code: { mainModule: "index.ts", modules: { "index.ts": source } }, ...more,
  } as Parameters<Engine["deploy"]>[0]);
  return version;
}

/** Records calls from tenant code: `env.hit(x)` appends x. */
export function recorder() {
  const calls: unknown[] = [];
  return {
    calls,
    env: { hit: async (x: unknown) => void calls.push(x) },
    count: (x: unknown) => calls.filter((c) => JSON.stringify(c) === JSON.stringify(x)).length,
  };
}

/** Let the engine run: one macrotask turn per round. */
export async function settle(rounds = 30): Promise<void> {
  for (let i = 0; i < rounds; i++) await new Promise((r) => setImmediate(r));
}

/** Poll `cond` (one macrotask turn between tries) until it is truthy; fail after `ms` of real time. */
export async function until<T>(cond: () => T | Promise<T>, what: string, ms = 10_000): Promise<NonNullable<T>> {
  const deadline = performance.now() + ms;
  for (;;) {
    const v = await cond();
    if (v) return v as NonNullable<T>;
    if (performance.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setImmediate(r));
  }
}

type Do = Extract<StepDetail, { type: "step" }>;

export function stepsOf(d: InstanceDetail, name?: string): Do[] {
  return d.steps.filter((s): s is Do => s.type === "step" && (name === undefined || s.name === name));
}

/** Wait until the instance reports `status` in describe() and `pred` holds. */
export async function describeUntil(
  inst: WorkflowInstance, what: string, pred: (d: InstanceDetail) => boolean, ms = 10_000,
): Promise<InstanceDetail> {
  return until(async () => {
    const d = await inst.describe();
    return pred(d) ? d : undefined;
  }, what, ms);
}

export function ms(iso: string | null | undefined): number {
  if (!iso) throw new Error("expected a timestamp");
  return Date.parse(iso);
}
