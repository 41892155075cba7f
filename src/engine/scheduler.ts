// Which instance gets a context next. Tenants are served round-robin; within a tenant, instances
// waking from a sleep, event or retry go before new ones (as in Cloudflare); a workflow never runs
// more instances at once than its concurrency limit, a tenant never more than its quota of running
// instances, and the engine never more than maxActiveRuns.

export interface Ready {
  pk: number;
  tenant: string;
  workflowKey: string;
  concurrency: number;
  /** what the engine needs to queue the instance again */
  ref?: { pk: number; tenant: string; workflow: string; version: string };
}

/** FIFO with O(1) shift and lazy removal. */
class Fifo {
  private items: (Ready | undefined)[] = [];
  private head = 0;
  push(r: Ready): void {
    this.items.push(r);
  }
  peek(queued: Set<number>): Ready | undefined {
    while (this.head < this.items.length) {
      const r = this.items[this.head];
      if (r && queued.has(r.pk)) return r;
      this.head++;
    }
    if (this.head > 1024) (this.items = []), (this.head = 0);
    return undefined;
  }
  shift(): void {
    this.head++;
    if (this.head > 1024 && this.head * 2 > this.items.length) {
      this.items = this.items.slice(this.head);
      this.head = 0;
    }
  }
}

type TenantQueue = Map<string, { wake: Fifo; fresh: Fifo }>;

export class Scheduler {
  private readonly tenants = new Map<string, TenantQueue>();
  private order: string[] = [];
  private rr = 0;
  private readonly queued = new Set<number>();
  private readonly active = new Map<string, number>();
  private readonly activeByTenant = new Map<string, number>();
  activeTotal = 0;
  private readonly maxActive: number;
  private readonly tenantLimit: (tenant: string) => number;

  constructor(maxActive: number, tenantLimit: (tenant: string) => number = () => Infinity) {
    this.maxActive = maxActive;
    this.tenantLimit = tenantLimit;
  }

  enqueue(r: Ready, kind: "wake" | "fresh"): void {
    if (this.queued.has(r.pk)) return;
    this.queued.add(r.pk);
    let q = this.tenants.get(r.tenant);
    if (!q) {
      q = new Map();
      this.tenants.set(r.tenant, q);
      this.order.push(r.tenant);
    }
    let w = q.get(r.workflowKey);
    if (!w) {
      w = { wake: new Fifo(), fresh: new Fifo() };
      q.set(r.workflowKey, w);
    }
    w[kind].push(r);
  }

  isQueued(pk: number): boolean {
    return this.queued.has(pk);
  }

  /** lazy: the entry stays in its FIFO and is skipped when it reaches the head */
  remove(pk: number): void {
    this.queued.delete(pk);
  }

  /** Take the next instances that may start now, fairly. */
  take(): Ready[] {
    const out: Ready[] = [];
    let idle = 0;
    while (this.activeTotal < this.maxActive && this.order.length > 0 && idle < this.order.length) {
      this.rr %= this.order.length;
      const tenant = this.order[this.rr]!;
      const q = this.tenants.get(tenant)!;
      const room = (this.activeByTenant.get(tenant) ?? 0) < this.tenantLimit(tenant);
      const r = room ? (this.pick(q, "wake") ?? this.pick(q, "fresh")) : undefined;
      if (r) {
        idle = 0;
        this.queued.delete(r.pk);
        this.started(r.workflowKey);
        out.push(r);
      } else {
        idle++;
      }
      let empty = true;
      for (const [k, w] of q) {
        if (w.wake.peek(this.queued) || w.fresh.peek(this.queued)) empty = false;
        else q.delete(k);
      }
      if (empty) {
        this.tenants.delete(tenant);
        this.order.splice(this.rr, 1);
      } else {
        this.rr++;
      }
    }
    return out;
  }

  private pick(q: TenantQueue, kind: "wake" | "fresh"): Ready | undefined {
    for (const w of q.values()) {
      const r = w[kind].peek(this.queued);
      if (r && (this.active.get(r.workflowKey) ?? 0) < r.concurrency) {
        w[kind].shift();
        return r;
      }
    }
    return undefined;
  }

  started(workflowKey: string): void {
    this.active.set(workflowKey, (this.active.get(workflowKey) ?? 0) + 1);
    const t = tenantOf(workflowKey);
    this.activeByTenant.set(t, (this.activeByTenant.get(t) ?? 0) + 1);
    this.activeTotal++;
  }

  stopped(workflowKey: string): void {
    const n = (this.active.get(workflowKey) ?? 1) - 1;
    if (n <= 0) this.active.delete(workflowKey);
    else this.active.set(workflowKey, n);
    const t = tenantOf(workflowKey);
    const m = (this.activeByTenant.get(t) ?? 1) - 1;
    if (m <= 0) this.activeByTenant.delete(t);
    else this.activeByTenant.set(t, m);
    this.activeTotal--;
  }

  runningOf(tenant: string): number {
    return this.activeByTenant.get(tenant) ?? 0;
  }

  depth(): number {
    return this.queued.size;
  }
}

/** workflow keys are "tenant/workflow"; tenant names never contain "/" */
function tenantOf(workflowKey: string): string {
  return workflowKey.slice(0, workflowKey.indexOf("/"));
}
