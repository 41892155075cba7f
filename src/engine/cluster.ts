// What a node on a shared store does that a lone engine does not. It hears the other nodes' commits
// (the change feed): watchers wake, a run held here whose event another node delivered resolves it,
// and the claim loop looks again when work became due elsewhere; the steps of runs elsewhere are not
// in the feed, so who follows one here (subscribe, SSE) reads its history on a beat of FOLLOW_MS. It sweeps the run queue on a slow
// beat for the instances of nodes that died (their claims expire on the lease clock, not in a
// commit). And it holds back the instances whose claim the store refused as "full" — a tenant's
// running-instance quota or a workflow's concurrency reached by the cluster as a whole — trying the
// oldest of each workflow again when a claim may have ended somewhere, so that a long queue over its
// quota costs one refused claim per workflow and retry, not one per instance.
import type { Store } from "../store/ports.ts";
import type { Ready } from "./scheduler.ts";

export interface ClusterHost {
  /** the instance changed (watchers look again) */
  notify(pk: number): void;
  /** its history may have grown (subscribers look again, waitFor does not) */
  notifyHistory(pk: number): void;
  /** instances whose history somebody here follows while their run is elsewhere */
  followed(): number[];
  /** another node may have delivered an event to this instance: true when a run held here took it up */
  refreshLive(pk: number): boolean;
  /** look at the run queue soon */
  pollSoon(): void;
  /** look at the run queue now */
  poll(): void;
  /** queue this held-back instance again: its start is a claim */
  retry(r: Ready): void;
}

/** held-back instances are tried again at least this often (a claim that expired frees a slot without a commit) */
const RETRY_MS = 1000;
/** and at most this often (the change feed reports every commit of every node) */
const KICK_MS = 50;
/** how often a follower (subscribe, SSE) of a run on another node reads its history again */
const FOLLOW_MS = 250;

export class ClusterLink {
  private readonly host: ClusterHost;
  private unwatch?: () => void;
  private sweep?: ReturnType<typeof setInterval>;
  private follow?: ReturnType<typeof setInterval>;
  private retryTimer?: ReturnType<typeof setTimeout>;
  private retryAt = Infinity;
  /** workflowKey → the instances held back, oldest first */
  private readonly held = new Map<string, Ready[]>();
  private readonly heldPks = new Set<number>();
  /** held-back instances queued again for a try: refused again, they go back to the front */
  private readonly trying = new Set<number>();
  private stopped = false;

  constructor(host: ClusterHost) {
    this.host = host;
  }

  start(store: Store, leaseMs: number): void {
    this.unwatch = store.watch((pk, runnable) => {
      this.host.notify(pk);
      if (this.heldPks.size > 0) this.kick();
      if (runnable && !this.host.refreshLive(pk)) this.host.pollSoon();
    });
    this.sweep = setInterval(() => this.host.poll(), Math.min(5000, Math.max(200, Math.floor(leaseMs / 2))));
    this.sweep.unref();
    // the steps of a run elsewhere are not in the change feed: its followers here read on a beat
    this.follow = setInterval(() => {
      for (const pk of this.host.followed()) this.host.notifyHistory(pk);
    }, FOLLOW_MS);
    this.follow.unref();
  }

  /** the store refused this instance's claim as full: hold it back until a claim may have ended */
  hold(r: Ready): void {
    if (this.stopped || this.heldPks.has(r.pk)) return;
    let q = this.held.get(r.workflowKey);
    if (!q) this.held.set(r.workflowKey, (q = []));
    if (this.trying.delete(r.pk)) q.unshift(r);
    else q.push(r);
    this.heldPks.add(r.pk);
    this.schedule(RETRY_MS);
  }

  /** instances held back here now (queued on the cluster's limits) */
  heldCount(): number {
    return this.heldPks.size;
  }

  isHeld(pk: number): boolean {
    return this.heldPks.has(pk);
  }

  /** an instance's claim succeeded: if it was held back, there may be room for the next one */
  claimed(pk: number): void {
    if (this.trying.delete(pk)) this.kick();
  }

  /** a claim may have ended (here, or elsewhere: a commit of another node) */
  kick(): void {
    if (this.heldPks.size > 0) this.schedule(KICK_MS);
  }

  private schedule(ms: number): void {
    if (this.stopped) return;
    const at = Date.now() + ms;
    if (this.retryTimer && this.retryAt <= at) return;
    if (this.retryTimer) clearTimeout(this.retryTimer);
    this.retryAt = at;
    this.retryTimer = setTimeout(() => {
      this.retryTimer = undefined;
      this.retryAt = Infinity;
      this.retryNow();
    }, ms);
    this.retryTimer.unref();
  }

  /** the oldest held-back instance of each workflow tries its claim again */
  private retryNow(): void {
    for (const [key, q] of this.held) {
      const r = q.shift()!;
      if (q.length === 0) this.held.delete(key);
      this.heldPks.delete(r.pk);
      this.trying.add(r.pk);
      this.host.retry(r);
    }
    if (this.heldPks.size > 0) this.schedule(RETRY_MS);
  }

  stop(): void {
    this.stopped = true;
    this.unwatch?.();
    if (this.sweep) clearInterval(this.sweep);
    if (this.follow) clearInterval(this.follow);
    if (this.retryTimer) clearTimeout(this.retryTimer);
    this.held.clear();
    this.heldPks.clear();
  }
}
