// Tenants, tokens and quotas: who may call the control plane and how much they may ask of it.
// Tokens carry 256 random bits ("weft_" + base64url), are shown once and stored only as SHA-256
// hashes; a presented token is hashed and looked up, and the stored hash is compared in constant
// time. The admin token (tenant null) is made on the first start. Quotas are per tenant: running
// instances (enforced by the engine's scheduler and, across nodes, by its claims: the excess queues),
// creation rate (a token bucket, core/rate.ts — the store's on a shared store: over it, 429 with the
// time to wait), code size and payload size (checked by the API).
import { createHash, randomBytes, timingSafeEqual } from "node:crypto";
import { ErrorCode, WeftError } from "../core/errors.ts";
import { validateTenantName } from "../core/ids.ts";
import type { Clock } from "../core/clock.ts";
import type { Store, TenantRecord, TokenRecord } from "../store/ports.ts";
import { drawTokens, type Bucket, type Draw } from "../core/rate.ts";

export type Quotas = {
  /** instances of the tenant running at once; more are queued */
  maxRunningInstances: number;
  /** sustained instance creations per second */
  createsPerSecond: number;
  /** creations allowed in a burst above the rate */
  createBurst: number;
  /**
   * sustained events sent per second (HTTP sendEvent), per engine node: the bucket protects the node
   * that takes them (a flood of 50,000 events made a neighbour tenant's p99 12× slower), so it is
   * kept by each node in memory — N nodes take up to N times the rate
   */
  eventsPerSecond: number;
  /** events allowed in a burst above the rate */
  eventBurst: number;
  /** bytes of a deploy's modules */
  maxCodeBytes: number;
  /** bytes of one request body carrying params or an event payload */
  maxPayloadBytes: number;
};

export type Tenant = { name: string; quotas: Quotas; createdAt: number };

export const DEFAULT_QUOTAS: Quotas = {
  maxRunningInstances: 1000,
  createsPerSecond: 1000,
  createBurst: 2000,
  eventsPerSecond: 500,
  eventBurst: 1000,
  maxCodeBytes: 5 * 1024 * 1024,
  maxPayloadBytes: 1024 * 1024,
};

/** Who is calling: the platform (admin) or one tenant. */
export type Principal = { kind: "admin"; tokenId: string } | { kind: "tenant"; tenant: string; tokenId: string };

const hash = (token: string): string => createHash("sha256").update(token).digest("hex");

export function newToken(): string {
  return "weft_" + randomBytes(32).toString("base64url");
}

/** how long an authenticated token is trusted without looking at the store again (real time) */
const TOKEN_RECHECK_MS = 1000;

export class Tenancy {
  private readonly store: Store;
  private readonly clock: Clock;
  private readonly tenants = new Map<string, Tenant>();
  private readonly buckets = new Map<string, Bucket>();
  private readonly eventBuckets = new Map<string, Bucket>();
  /** hash → principal of tokens seen recently: every request authenticates, tokens change rarely */
  private readonly known = new Map<string, { p: Principal; at: number }>();
  /** applies a tenant's running-instance quota (the engine's scheduler enforces it) */
  private readonly onQuotas: (tenant: string, q: Quotas) => void;
  /** a shared store: other nodes create tenants and change quotas too (the cache is re-read) */
  private readonly shared: boolean;
  /** when each tenant was last read from the store (real time) */
  private readonly seen = new Map<string, number>();
  private listedAt = 0;

  constructor(store: Store, clock: Clock, onQuotas: (tenant: string, q: Quotas) => void) {
    this.store = store;
    this.clock = clock;
    this.onQuotas = onQuotas;
    this.shared = store.kind !== "sqlite";
  }

  /**
   * On a shared store, the tenant as the store has it now (read again when last read over a second
   * ago, or unknown here): a tenant another node created is there at once, a quota changed there
   * within a second. The embedded store's one process knows every change already.
   */
  async resolve(name: string): Promise<void> {
    if (!this.shared || Date.now() - (this.seen.get(name) ?? 0) < TOKEN_RECHECK_MS) return;
    const t = await this.store.getTenant(name);
    if (t) this.remember(t);
    else this.tenants.delete(name);
    this.seen.set(name, Date.now());
  }

  /**
   * On a shared store, read every tenant again each second: tenants and quotas another node created
   * or changed reach this node's claims (running-instance quotas) within a second, also for a tenant
   * no request here has named. Returns: stop.
   */
  follow(): () => void {
    if (!this.shared) return () => undefined;
    const t = setInterval(() => void this.resolveAll().catch(() => undefined), TOKEN_RECHECK_MS);
    t.unref();
    return () => clearInterval(t);
  }

  /** On a shared store, every tenant as the store has it (at most once a second). */
  async resolveAll(): Promise<void> {
    if (!this.shared || Date.now() - this.listedAt < TOKEN_RECHECK_MS) return;
    const all = await this.store.listTenants();
    const names = new Set(all.map((t) => t.name));
    for (const t of all) (this.remember(t), this.seen.set(t.name, Date.now()));
    for (const n of [...this.tenants.keys()]) if (!names.has(n)) this.tenants.delete(n);
    this.listedAt = Date.now();
  }

  /**
   * Load tenants; make the admin token if there is none yet (returned once, never again).
   * `announce` gets the token BEFORE its hash is committed: a process killed in between leaves no
   * live admin token, so the next start makes a new one — never a data directory whose only admin
   * token nobody saw.
   */
  async open(announce?: (token: string) => void): Promise<{ adminToken: string | null }> {
    for (const t of await this.store.listTenants()) this.remember(t);
    const admins = (await this.store.listTokens(null)).filter((t) => t.revokedAt === null);
    if (admins.length > 0) return { adminToken: null };
    return { adminToken: await this.issueAdminToken(announce) };
  }

  /**
   * A new admin token (the recovery path: `weft admin-token --data DIR`), announced before its hash
   * is committed; `revokeOthers` then revokes every other admin token. The new one is committed
   * before the others are revoked, so a kill in between leaves it and the old ones live — never a
   * moment without a live admin token somebody saw.
   */
  async issueAdminToken(announce?: (token: string) => void, revokeOthers = false): Promise<string> {
    const token = newToken();
    announce?.(token);
    const id = tokenId();
    await this.store.putToken({ id, tenant: null, name: "admin", hash: hash(token), createdAt: this.clock.now(), revokedAt: null });
    if (revokeOthers) {
      for (const t of await this.store.listTokens(null)) if (t.id !== id && t.revokedAt === null) await this.store.revokeToken(null, t.id, this.clock.now());
      for (const [h, k] of this.known) if (k.p.kind === "admin" && k.p.tokenId !== id) this.known.delete(h);
    }
    return token;
  }

  private remember(t: TenantRecord): Tenant {
    const full: Tenant = { ...t, quotas: { ...DEFAULT_QUOTAS, ...t.quotas } as Quotas };
    this.tenants.set(t.name, full);
    this.onQuotas(t.name, full.quotas);
    return full;
  }

  /** The principal a bearer token stands for, or null (unknown, revoked, malformed). */
  async authenticate(token: string | null): Promise<Principal | null> {
    if (!token || token.length > 200) return null;
    const h = hash(token);
    const hit = this.known.get(h);
    // cached for a second only: a token revoked elsewhere (another process: weft admin-token, another
    // node) is refused within a second, at the cost of one point query per token per second
    const now = Date.now();
    if (hit && now - hit.at < TOKEN_RECHECK_MS && (hit.p.kind === "admin" || this.tenants.has(hit.p.tenant))) return hit.p;
    const rec = await this.store.tokenByHash(h);
    if (!rec || rec.revokedAt !== null) return null;
    if (!timingSafeEqual(Buffer.from(rec.hash, "hex"), Buffer.from(h, "hex"))) return null;
    if (rec.tenant !== null) await this.resolve(rec.tenant);
    if (rec.tenant !== null && !this.tenants.has(rec.tenant)) return null;
    const p: Principal = rec.tenant === null ? { kind: "admin", tokenId: rec.id } : { kind: "tenant", tenant: rec.tenant, tokenId: rec.id };
    if (this.known.size >= 10_000) this.known.clear();
    this.known.set(h, { p, at: now });
    return p;
  }

  /** May this principal see this tenant? (a tenant token only its own; an unknown tenant: nobody) */
  canSee(p: Principal, tenant: string): boolean {
    if (!this.tenants.has(tenant)) return false;
    return p.kind === "admin" || p.tenant === tenant;
  }

  get(name: string): Tenant | undefined {
    return this.tenants.get(name);
  }

  list(): Tenant[] {
    return [...this.tenants.values()].sort((a, b) => (a.name < b.name ? -1 : 1));
  }

  async create(name: string, quotas: Partial<Quotas> = {}): Promise<Tenant> {
    validateTenantName(name);
    const rec: TenantRecord = { name, quotas: { ...DEFAULT_QUOTAS, ...quotas }, createdAt: this.clock.now() };
    await this.store.createTenant(rec);
    return this.remember(rec);
  }

  async setQuotas(name: string, quotas: Partial<Quotas>): Promise<Tenant> {
    const cur = this.tenants.get(name);
    if (!cur) throw new WeftError(ErrorCode.NotFound, `tenant "${name}" does not exist`, { tenant: name });
    const rec = await this.store.setTenantQuotas(name, { ...cur.quotas, ...quotas });
    this.buckets.delete(name);
    return this.remember(rec!);
  }

  async issueToken(tenant: string, name: string): Promise<{ id: string; name: string; token: string; createdAt: number }> {
    if (!this.tenants.has(tenant)) throw new WeftError(ErrorCode.NotFound, `tenant "${tenant}" does not exist`, { tenant });
    const token = newToken();
    const rec: TokenRecord = { id: tokenId(), tenant, name, hash: hash(token), createdAt: this.clock.now(), revokedAt: null };
    await this.store.putToken(rec);
    return { id: rec.id, name, token, createdAt: rec.createdAt };
  }

  async tokens(tenant: string): Promise<TokenRecord[]> {
    return this.store.listTokens(tenant);
  }

  async revoke(tenant: string, id: string): Promise<void> {
    if (!(await this.store.revokeToken(tenant, id, this.clock.now()))) {
      throw new WeftError(ErrorCode.NotFound, `tenant "${tenant}" has no live token with id "${id}"`, { tenant, tokenId: id });
    }
    for (const [h, k] of this.known) if (k.p.tokenId === id) this.known.delete(h); // revoked at once
  }

  /**
   * Take `n` creations from the tenant's bucket, or throw QuotaExceeded with how long to wait. All or
   * nothing: a refused batch takes nothing. On a shared store the bucket is the store's, one for all
   * nodes (N nodes do not allow N times the rate); the embedded store's one process keeps it here.
   */
  /** Take one event send from the tenant's bucket on this node (Quotas.eventsPerSecond), or throw QuotaExceeded. */
  takeEvent(tenant: string): void {
    const q = { ...DEFAULT_QUOTAS, ...this.tenants.get(tenant)?.quotas };
    const d = drawTokens(this.eventBuckets.get(tenant), 1, this.clock.now(), q.eventsPerSecond, q.eventBurst);
    this.eventBuckets.set(tenant, d.bucket);
    if (d.ok) return;
    const waitS = Math.max(1, Math.ceil((1 - d.bucket.tokens) / q.eventsPerSecond));
    throw new WeftError(ErrorCode.QuotaExceeded, `tenant "${tenant}" is sending events faster than its quota of ${q.eventsPerSecond}/s (burst ${q.eventBurst}, quotas.eventsPerSecond); retry in ${waitS} s`, {
      tenant, quota: "eventsPerSecond", limit: q.eventsPerSecond, retryAfterSeconds: waitS,
    });
  }

  async takeCreations(tenant: string, n: number): Promise<void> {
    const q = this.tenants.get(tenant)!.quotas;
    const now = this.clock.now();
    let d: Draw;
    if (this.shared) d = await this.store.drawCreations(tenant, n, now, q.createsPerSecond, q.createBurst);
    else this.buckets.set(tenant, (d = drawTokens(this.buckets.get(tenant), n, now, q.createsPerSecond, q.createBurst)).bucket);
    if (d.ok) return;
    const b = d.bucket;
    if (n > q.createBurst) {
      throw new WeftError(ErrorCode.QuotaExceeded, `${n} creations at once exceed tenant "${tenant}"'s burst of ${q.createBurst} (quotas.createBurst); send smaller batches`, {
        tenant, quota: "createBurst", limit: q.createBurst, retryAfterSeconds: Math.ceil(n / q.createsPerSecond),
      });
    }
    const waitS = Math.max(1, Math.ceil((n - b.tokens) / q.createsPerSecond));
    throw new WeftError(ErrorCode.QuotaExceeded, `tenant "${tenant}" is creating instances faster than its quota of ${q.createsPerSecond}/s (burst ${q.createBurst}); retry in ${waitS} s`, {
      tenant, quota: "createsPerSecond", limit: q.createsPerSecond, retryAfterSeconds: waitS,
    });
  }
}

function tokenId(): string {
  return "tok_" + randomBytes(9).toString("base64url");
}
