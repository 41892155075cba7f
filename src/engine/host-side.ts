// The host side of deployed versions: the functions and host objects a deploy put in env (kept in
// memory, called by path from the isolate) and its egress policy. Functions and objects registered
// with the engine by name are found after a restart without a deploy; plain ones exist only once this
// process deployed the version again, so a host call made before that (recovered runs start first)
// waits for the deploy. What a call returns is checked (and its host objects kept) by the run's
// HostObjects (host-objects.ts).
import { ErrorCode, WeftError } from "../core/errors.ts";
import type { Clock } from "../core/clock.ts";
import type { VersionRecord } from "../store/ports.ts";
import type { EgressPolicy } from "./egress.ts";
import { settle } from "./host-objects.ts";

export interface HostSide {
  functions: Map<string, (...args: unknown[]) => unknown>;
  /** host objects deployed in env (class instances with methods, Proxies), by env path */
  objects?: Map<string, object>;
  egress: EgressPolicy;
}

/** what EngineOptions.hostFunctions offers by name: a function, or a host object (its methods) */
export type HostFunctionEntry = ((...args: unknown[]) => unknown) | object;

/** how long a host call made before the version was deployed again in this process waits for that deploy */
const HOST_SIDE_WAIT_MS = 30_000;

const keyOf = (v: { tenant: string; workflow: string; version: string }): string => `${v.tenant}/${v.workflow}/${v.version}`;

export class HostSides {
  private readonly sides = new Map<string, HostSide>();
  /** host calls made before this process re-deployed their version, by version key */
  private readonly waiters = new Map<string, (() => void)[]>();
  private closed = false;
  private readonly clock: Clock;
  private readonly named: Record<string, HostFunctionEntry>;

  constructor(clock: Clock, named: Record<string, HostFunctionEntry>) {
    this.clock = clock;
    this.named = named;
  }

  /** a deploy in this process: its functions are here now (host calls waiting for them go on) */
  set(v: { tenant: string; workflow: string; version: string }, side: HostSide): void {
    const key = keyOf(v);
    this.sides.set(key, side);
    const waiting = this.waiters.get(key) ?? [];
    this.waiters.delete(key);
    for (const wake of waiting) wake();
  }

  get(v: VersionRecord): HostSide | undefined {
    return this.sides.get(keyOf(v));
  }

  /** the result boxed (a Proxy must not pass through a promise's resolution: host-objects.ts settle) */
  async call(v: VersionRecord, fn: string, args: unknown[]): Promise<{ value: unknown }> {
    const name = v.config.hostNames?.[fn];
    const f = name ? this.named[name] : (this.get(v) ?? (await this.deployed(v)))?.functions.get(fn);
    if (typeof f !== "function") {
      throw new WeftError(ErrorCode.NotFound, `env.${fn} is not available in this process: host functions live in memory, so deploy this version again (same code, same env) after Engine.open`, { fn });
    }
    return settle((f as (...a: unknown[]) => unknown)(...args));
  }

  /** the host object deployed at env path `path` (registered by name, or this process's deploy) */
  async root(v: VersionRecord, path: string): Promise<{ obj: object }> {
    const name = v.config.hostNames?.[path];
    const o = name ? this.named[name] : (this.get(v) ?? (await this.deployed(v)))?.objects?.get(path);
    if (o === undefined) {
      throw new WeftError(ErrorCode.NotFound, `env.${path} is not available in this process: host objects live in memory, so deploy this version again (same code, same env) after Engine.open`, { path });
    }
    return { obj: o };
  }

  /** the version's host side once this process deploys it (up to HOST_SIDE_WAIT_MS on the engine clock) */
  private deployed(v: VersionRecord): Promise<HostSide | undefined> {
    const key = keyOf(v);
    if (this.closed) return Promise.resolve(undefined);
    return new Promise((resolve) => {
      let done = false;
      const finish = () => {
        if (done) return;
        done = true;
        timer.cancel();
        resolve(this.get(v));
      };
      const timer = this.clock.at(this.clock.now() + HOST_SIDE_WAIT_MS, finish);
      const list = this.waiters.get(key) ?? [];
      list.push(finish);
      this.waiters.set(key, list);
    });
  }

  close(): void {
    this.closed = true;
    for (const list of this.waiters.values()) for (const wake of list) wake();
    this.waiters.clear();
  }
}
