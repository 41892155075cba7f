// The storage conformance suite: the contract written in store/ports.ts, exercised through the port
// only (no SQL, nothing adapter-specific), so every adapter — the embedded SQLite one, a PostgreSQL
// one later — passes the same file unchanged (Hono's runTest({ newRouter }) style). An adapter's
// test file calls runStoreSuite({ name, open, close, reopen }); every test gets a store on fresh data.
// Times are explicit everywhere: `now` is engine time, `leaseNow`/`leaseUntil` the lease clock (two
// different clocks on purpose); nothing sleeps and nothing reads a real clock.
import { test, describe } from "node:test";
import assert from "node:assert/strict";
import { ErrorCode, WeftError } from "../core/errors.ts";
import { cutByRestart, type StepRecord } from "../core/journal.ts";
import { stepKey } from "../core/replay.ts";
import { isFinished, type InstanceStatus } from "../core/status.ts";
import type { AttemptRecord, Claimed, InstanceRecord, JournalOp, Store } from "../store/ports.ts";
import {
  A, B, C, DAY, HOUR, L0, LEASE, T0, TENANT, VERSION, WF, attemptOp, claimAt, clean, complete, create, duePks, entry, get, hist, journalWait,
  mustClaim, refused, row, stepOp, stepOf, suspend, waitEntry,
} from "./store-fixtures.ts";
import { limitCases } from "./store-suite-limits.ts";

export interface StoreSuiteOptions {
  name: string;
  /** a store on fresh, empty data */
  open(): Promise<Store>;
  /** close the store and drop its data */
  close(store: Store): Promise<void>;
  /**
   * Stop `prev` (as a crash would leave it: it writes nothing more) and open a store on the same data.
   * The crash-point tests need it; without it they are skipped.
   */
  reopen?(prev: Store): Promise<Store>;
}

// ---- the suite -----------------------------------------------------------------------------------
export function runStoreSuite(opts: StoreSuiteOptions): void {
  interface Ctx {
    /** the store under test (a new object after reopen()) */
    s: Store;
    reopen(): Promise<Store>;
  }
  const it = (name: string, fn: (h: Ctx) => Promise<void>, o: { reopen?: boolean } = {}): void => {
    test(name, { skip: o.reopen && !opts.reopen ? `${opts.name} gives no reopen()` : false }, async () => {
      const h: Ctx = {
        s: await opts.open(),
        reopen: async () => (h.s = await opts.reopen!(h.s)),
      };
      try {
        await h.s.putVersion({
          tenant: TENANT, workflow: WF, version: VERSION, className: "Orders", bundle: "export class Orders {}",
          code: { mainModule: "main.js", modules: { "main.js": "export class Orders {}" } },
          config: { limits: { memoryMb: 64, cpuMsPerStep: 1000, steps: 1000, stepResultBytes: 1 << 20, concurrency: 10, sqlBytes: 1 << 20, fileBytes: 1 << 20, files: 100 }, egress: { allow: [], handler: false }, env: {} },
          createdAt: T0 - DAY,
        });
        await fn(h);
      } finally {
        await opts.close(h.s);
      }
    });
  };

  describe(`store conformance: ${opts.name}`, () => {
    // ---------------------------------------------------------------------------------------------
    describe("claims and leases", () => {
      it("claim() of a due instance bumps the epoch, makes it running and records workflow_running", async ({ s }) => {
        const a = await create(s, "a", T0);
        assert.equal(a.status, "queued");
        assert.equal(a.readyAt, T0);
        const c = await mustClaim(s, a.pk, claimAt(A, T0 + 5));
        assert.equal(c.epoch, a.epoch + 1);
        assert.ok(Number.isInteger(c.wakes) && c.wakes >= 0, `wakes ${c.wakes}`);
        assert.equal(c.inst.pk, a.pk);
        assert.equal(c.inst.id, "a");
        assert.equal(c.inst.status, "running");
        assert.equal(c.inst.epoch, c.epoch);
        assert.deepEqual(c.inst.params, { id: "a" });
        const stored = await get(s, a.pk);
        assert.equal(stored.status, "running");
        assert.equal(stored.epoch, c.epoch);
        assert.equal(stored.startedAt, T0 + 5);
        const h = await s.history(a.pk, 0);
        assert.equal(h.at(-1)!.type, "workflow_running");
        assert.equal(h.at(-1)!.at, T0 + 5);
        assert.deepEqual(h.at(-1)!.data, { node: A, epoch: c.epoch }, "which node's claim (for an operator: who ran it when)");
      });

      it("claim() takes nothing that is not due yet or does not exist", async ({ s }) => {
        const a = await create(s, "later", T0 + 1000);
        assert.equal(await s.claim(a.pk, claimAt(A, T0 + 999)), undefined);
        const still = await get(s, a.pk);
        assert.equal(still.status, "queued");
        assert.equal(still.epoch, a.epoch);
        assert.equal((await mustClaim(s, a.pk, claimAt(A, T0 + 1000))).epoch, a.epoch + 1);
        assert.equal(await s.claim(a.pk + 1000, claimAt(A, T0 + DAY)), undefined);
      });

      it("a live claim keeps other nodes out (leaseNow < leaseUntil); once it expired another node takes over with a new epoch", async ({ s }) => {
        const a = await create(s, "a");
        const ca = await mustClaim(s, a.pk, claimAt(A, T0, L0, L0 + 100));
        assert.equal(await s.claim(a.pk, claimAt(B, T0 + 10, L0)), undefined);
        assert.equal(await s.claim(a.pk, claimAt(B, T0 + 10, L0 + 99)), undefined);
        assert.equal((await get(s, a.pk)).epoch, ca.epoch);
        const cb = await mustClaim(s, a.pk, claimAt(B, T0 + 10, L0 + 100, L0 + 200));
        assert.equal(cb.epoch, ca.epoch + 1);
        assert.equal(cb.inst.status, "running");
        // B's claim holds until its own leaseUntil
        assert.equal(await s.claim(a.pk, claimAt(C, T0 + 20, L0 + 199)), undefined);
        assert.equal((await mustClaim(s, a.pk, claimAt(C, T0 + 20, L0 + 200))).epoch, ca.epoch + 2);
      });

      it("a node takes over its own live claim: a new epoch, the old one is fenced", async ({ s }) => {
        const a = await create(s, "a");
        const first = await mustClaim(s, a.pk, claimAt(A, T0, L0, L0 + 100));
        const again = await mustClaim(s, a.pk, claimAt(A, T0 + 1, L0 + 10, L0 + 110));
        assert.equal(again.epoch, first.epoch + 1);
        await refused(s.journal(a.pk, first.epoch, [stepOp(entry("do", "x", 1, "complete", { value: 1 }))]), ErrorCode.LeaseLost, "the earlier run's write");
        assert.deepEqual(await s.steps(a.pk), []);
        await s.journal(a.pk, again.epoch, [stepOp(entry("do", "x", 1, "complete", { value: 2 }))]);
        assert.equal((await stepOf(s, a.pk, stepKey("do", "x", 1)))?.value, 2);
      });

      it("claimDue(c, limit) takes at most `limit` due instances, oldest readyAt first, none held by a live claim", async ({ s }) => {
        // created out of readyAt order, so pk order is not readyAt order
        const byId: Record<string, InstanceRecord> = {};
        for (const [id, at] of [["c", 30], ["a", 10], ["e", 50], ["b", 20], ["d", 40], ["late", 500]] as const) byId[id] = await create(s, id, T0 + at);
        const first = await s.claimDue(claimAt(A, T0 + 100), 3);
        assert.deepEqual(first.map((c) => c.inst.id), ["a", "b", "c"]);
        for (const c of first) {
          assert.equal(c.inst.status, "running");
          assert.equal(c.epoch, byId[c.inst.id]!.epoch + 1);
          assert.equal((await get(s, c.inst.pk)).epoch, c.epoch);
        }
        const second = await s.claimDue(claimAt(B, T0 + 100), 10);
        assert.deepEqual(second.map((c) => c.inst.id), ["d", "e"]);
        assert.deepEqual(await s.claimDue(claimAt(C, T0 + 100), 10), []);
        assert.equal((await get(s, byId.late!.pk)).status, "queued");
        // once due, the late one is taken too
        assert.deepEqual((await s.claimDue(claimAt(C, T0 + 500), 10)).map((c) => c.inst.id), ["late"]);
      });

      it("due() lists due instances not held by a live claim, oldest first, up to limit", async ({ s }) => {
        const a = await create(s, "a", T0 + 10);
        const b = await create(s, "b", T0 + 20);
        const c = await create(s, "c", T0 + 30);
        const later = await create(s, "later", T0 + 1000);
        await mustClaim(s, b.pk, claimAt(A, T0 + 50, L0, L0 + 100));
        const d = (i: InstanceRecord, fresh: boolean) => ({ pk: i.pk, tenant: TENANT, workflow: WF, version: VERSION, readyAt: i.readyAt, fresh });
        assert.deepEqual((await s.due(T0 + 100, L0, 10)).map(clean), [d(a, true), d(c, true)]);
        assert.deepEqual(await duePks(s, T0 + 100, L0, 1), [a.pk]);
        assert.deepEqual(await duePks(s, T0 + 9, L0), []);
        assert.deepEqual(await duePks(s, T0 + 10, L0), [a.pk]);
        // b's claim expired: it is due again, and no longer fresh (it started)
        assert.deepEqual((await s.due(T0 + 100, L0 + 100, 10)).map(clean), [d(a, true), d(b, false), d(c, true)]);
        assert.deepEqual(await duePks(s, T0 + 1000, L0 + 100), [a.pk, b.pk, c.pk, later.pk]);
      });

      it("nextReadyAt(after, leaseNow) gives the earliest readyAt after `after` of instances not held by a live claim", async ({ s }) => {
        await create(s, "x", T0 + 100);
        await create(s, "y", T0 + 300);
        const z = await create(s, "z", T0 + 200);
        assert.equal(await s.nextReadyAt(T0, L0), T0 + 100);
        assert.equal(await s.nextReadyAt(T0 + 100, L0), T0 + 200);
        assert.equal(await s.nextReadyAt(T0 + 200, L0), T0 + 300);
        assert.equal(await s.nextReadyAt(T0 + 300, L0), null);
        await mustClaim(s, z.pk, claimAt(A, T0 + 250, L0, L0 + 100));
        assert.equal(await s.nextReadyAt(T0 + 100, L0), T0 + 300);
        assert.equal(await s.nextReadyAt(T0 + 100, L0 + 100), T0 + 200);
      });

      it("extendClaims returns only the pks this node still holds, and really extends them", async ({ s }) => {
        const [p1, p2, p3, p4] = await s.createInstances([row("p1"), row("p2"), row("p3"), row("p4")]);
        await mustClaim(s, p1!.pk, claimAt(A, T0, L0, L0 + 100));
        await mustClaim(s, p2!.pk, claimAt(A, T0, L0, L0 + 100));
        await mustClaim(s, p4!.pk, claimAt(A, T0, L0, L0 + 100));
        await mustClaim(s, p2!.pk, claimAt(B, T0, L0 + 100, L0 + 160)); // A's lease on p2 expired: B took it
        await s.fence(p4!.pk, []); // p4's claim was let go
        const held = await s.extendClaims(A, [p1!.pk, p2!.pk, p3!.pk, p4!.pk, p4!.pk + 1000], L0 + 200);
        assert.deepEqual([...held].sort((x, y) => x - y), [p1!.pk]);
        assert.deepEqual(await s.extendClaims(A, [], L0 + 300), []);
        // p1 would have been free at L0+100; the extension holds it until L0+200
        assert.equal(await s.claim(p1!.pk, claimAt(B, T0, L0 + 150)), undefined);
        assert.equal(await s.claim(p1!.pk, claimAt(B, T0, L0 + 199)), undefined);
        assert.ok(await s.claim(p1!.pk, claimAt(B, T0, L0 + 200)));
        // A's heartbeat did not touch B's claim on p2
        assert.ok(await s.claim(p2!.pk, claimAt(C, T0, L0 + 160)));
      });

      it("releaseClaims(node) lets go of that node's claims only: the others take them at once, its stale writes are refused after", async ({ s }) => {
        const rows = await s.createInstances([row("a"), row("b"), row("c")]);
        const ca = await mustClaim(s, rows[0]!.pk, claimAt(A, T0));
        await mustClaim(s, rows[1]!.pk, claimAt(A, T0));
        await mustClaim(s, rows[2]!.pk, claimAt(B, T0));
        assert.equal(await s.releaseClaims(A), 2);
        assert.equal(await s.releaseClaims(A), 0);
        assert.deepEqual(await duePks(s, T0, L0), [rows[0]!.pk, rows[1]!.pk], "due again before the leases expire; B's claim holds");
        const cc = await mustClaim(s, rows[0]!.pk, claimAt(C, T0, L0));
        assert.equal(cc.epoch, ca.epoch + 1);
        await assert.rejects(s.journal(rows[0]!.pk, ca.epoch, [hist("workflow_running", T0)]), (e: WeftError) => e.code === ErrorCode.LeaseLost);
      });

      it("voidClaims() frees every claim", async ({ s }) => {
        const rows = await s.createInstances([row("a"), row("b"), row("c"), row("idle")]);
        const ca = await mustClaim(s, rows[0]!.pk, claimAt(A, T0));
        await mustClaim(s, rows[1]!.pk, claimAt(A, T0));
        await mustClaim(s, rows[2]!.pk, claimAt(B, T0));
        assert.equal(await s.voidClaims(), 3);
        assert.equal(await s.voidClaims(), 0);
        // the leases have not expired on the lease clock, but they are void
        assert.deepEqual(await duePks(s, T0, L0), rows.map((r) => r.pk));
        for (const r of rows.slice(0, 3)) assert.ok(await s.claim(r.pk, claimAt(C, T0, L0)), `claim ${r.id} after voidClaims`);
        assert.equal((await get(s, rows[0]!.pk)).epoch, ca.epoch + 1);
      });
    });

    // ---------------------------------------------------------------------------------------------
    describe("fencing", () => {
      it("after another node took over an expired claim, the stale owner's journal() and release() are refused (lease_lost) and change nothing", async ({ s }) => {
        const a = await create(s, "a");
        const ca = await mustClaim(s, a.pk, claimAt(A, T0, L0, L0 + 100));
        const one = entry("do", "one", 1, "complete", { value: 1, at: T0 + 1, attempts: 1 });
        await s.journal(a.pk, ca.epoch, [stepOp(one), hist("step_completed", T0 + 1, { key: one.key })]);
        const cb = await mustClaim(s, a.pk, claimAt(B, T0 + 10, L0 + 100, L0 + 200));
        assert.equal(cb.epoch, ca.epoch + 1);
        const before = { inst: await get(s, a.pk), steps: await s.steps(a.pk), history: await s.history(a.pk, 0), attempts: await s.attempts(a.pk) };

        const two = entry("do", "two", 2, "complete", { value: 2, at: T0 + 11, attempts: 1 });
        await refused(s.journal(a.pk, ca.epoch, [stepOp(two), attemptOp({ key: two.key, attempt: 1, startedAt: T0 + 11, endedAt: T0 + 11, success: true, error: null }), hist("step_completed", T0 + 11)]), ErrorCode.LeaseLost, "stale journal");
        await refused(s.journal(a.pk, ca.epoch, [stepOp({ ...one, value: "overwritten" })]), ErrorCode.LeaseLost, "stale journal of a step");
        await refused(complete(s, a.pk, ca, T0 + 12, "stale output"), ErrorCode.LeaseLost, "stale release");

        const after = await get(s, a.pk);
        assert.equal(after.status, "running");
        assert.equal(after.epoch, cb.epoch);
        assert.equal(after.output, undefined);
        assert.equal(after.endedAt, null);
        assert.equal(after.readyAt, before.inst.readyAt);
        assert.deepEqual(await s.steps(a.pk), before.steps);
        assert.deepEqual(await s.attempts(a.pk), before.attempts);
        assert.deepEqual(await s.history(a.pk, 0), before.history);
        // the stale release did not let go of B's claim
        assert.equal(await s.claim(a.pk, claimAt(C, T0 + 20, L0 + 150)), undefined);
        // B writes fine
        await s.journal(a.pk, cb.epoch, [stepOp(two)]);
        await complete(s, a.pk, cb, T0 + 30, "B's output");
        assert.equal((await get(s, a.pk)).status, "complete");
        assert.equal((await get(s, a.pk)).output, "B's output");
      });

      it("fence() bumps the epoch, lets go of the claim and fences the run out; readyAt moves only when given", async ({ s }) => {
        const a = await create(s, "a");
        const ca = await mustClaim(s, a.pk, claimAt(A, T0));
        const e = await s.fence(a.pk, []);
        assert.equal(e, ca.epoch + 1);
        const inst = await get(s, a.pk);
        assert.equal(inst.epoch, e);
        assert.equal(inst.readyAt, T0);
        await refused(s.journal(a.pk, ca.epoch, [hist("step_started", T0 + 1)]), ErrorCode.LeaseLost, "journal of the fenced run");
        assert.deepEqual(await s.extendClaims(A, [a.pk], L0 + LEASE * 2), []);
        // A's lease would still be live on the lease clock: the claim was let go
        const cb = await mustClaim(s, a.pk, claimAt(B, T0 + 1, L0 + 1));
        assert.equal(cb.epoch, e + 1);
        const e2 = await s.fence(a.pk, [], T0 + 500);
        assert.equal(e2, cb.epoch + 1);
        assert.equal((await get(s, a.pk)).readyAt, T0 + 500);
        assert.deepEqual(await duePks(s, T0 + 499, L0), []);
        assert.deepEqual(await duePks(s, T0 + 500, L0), [a.pk]);
      });

      it("a terminate-style fence: finished, out of the run queue, the run fenced out, the fence's epoch writes", async ({ s }) => {
        const a = await create(s, "a");
        const ca = await mustClaim(s, a.pk, claimAt(A, T0));
        const e = await s.fence(a.pk, [{ op: "status", status: "terminated", endedAt: T0 + 5, wakeAt: null }, hist("workflow_terminated", T0 + 5, { rollback: true })], null);
        assert.equal(e, ca.epoch + 1);
        const inst = await get(s, a.pk);
        assert.equal(inst.status, "terminated");
        assert.equal(inst.endedAt, T0 + 5);
        assert.equal(inst.readyAt, null);
        assert.equal(inst.epoch, e);
        assert.equal((await s.history(a.pk, 0)).at(-1)!.type, "workflow_terminated");
        await refused(s.journal(a.pk, ca.epoch, [stepOp(entry("do", "late", 1, "complete", { value: 1 }))]), ErrorCode.LeaseLost, "journal of the terminated run");
        await refused(complete(s, a.pk, ca, T0 + 6), ErrorCode.LeaseLost, "release of the terminated run");
        assert.deepEqual(await duePks(s, T0 + DAY, L0 + DAY), []);
        assert.equal(await s.nextReadyAt(0, L0), null);
        assert.equal(await s.claim(a.pk, claimAt(B, T0 + DAY, L0 + DAY)), undefined);
        // the fence's epoch journals (a rollback of the terminated instance)
        await s.journal(a.pk, e, [stepOp(entry("rollback", "undo", 1, "complete", { value: "undone" }))]);
        assert.deepEqual((await s.steps(a.pk)).map((x) => [x.key, x.state]), [[stepKey("rollback", "undo", 1), "complete"]]);
        assert.equal((await get(s, a.pk)).status, "terminated");
      });

      it("a write after deleteInstance is refused (lease_lost)", async ({ s }) => {
        const a = await create(s, "a");
        const ca = await mustClaim(s, a.pk, claimAt(A, T0));
        await s.deleteInstance(a.pk);
        await refused(s.journal(a.pk, ca.epoch, [stepOp(entry("do", "x", 1, "complete", { value: 1 })), hist("step_completed", T0 + 1)]), ErrorCode.LeaseLost, "journal after delete");
        await refused(complete(s, a.pk, ca, T0 + 2), ErrorCode.LeaseLost, "release after delete");
        assert.equal(await s.getInstanceByPk(a.pk), undefined);
        assert.equal(await s.getInstance(TENANT, WF, "a"), undefined);
        assert.deepEqual(await s.steps(a.pk), []);
        assert.deepEqual(await s.history(a.pk, 0), []);
      });
    });

    // ---------------------------------------------------------------------------------------------
    describe("wake-ups: every cause makes the instance due in its own transaction", () => {
      it("create: due at once (readyAt = createdAt)", async ({ s }) => {
        const [a, b] = await s.createInstances([row("a", T0 + 50), row("b", T0 + 70)]);
        assert.equal(a!.readyAt, T0 + 50);
        assert.equal(b!.readyAt, T0 + 70);
        assert.equal((await get(s, a!.pk)).readyAt, T0 + 50);
        assert.equal((await get(s, a!.pk)).status, "queued");
        assert.equal(a!.epoch, 0);
        assert.deepEqual(await duePks(s, T0 + 49, L0), []);
        assert.deepEqual(await duePks(s, T0 + 50, L0), [a!.pk]);
        assert.deepEqual(await duePks(s, T0 + 70, L0), [a!.pk, b!.pk]);
        assert.equal(await s.nextReadyAt(T0, L0), T0 + 50);
      });

      it("an event delivered to a pending wait: addEvent returns the delivery and the wake count, the instance is due at the event's time", async ({ s }) => {
        const a = await create(s, "a");
        const ca = await mustClaim(s, a.pk, claimAt(A, T0));
        const w = waitEntry("approval", 1, "approved", T0 + HOUR);
        assert.deepEqual((await journalWait(s, a.pk, ca.epoch, w, T0 + 1)).delivered, []);
        await suspend(s, a.pk, ca, T0 + 2, T0 + HOUR);
        assert.equal((await get(s, a.pk)).readyAt, T0 + HOUR);
        assert.equal((await get(s, a.pk)).status, "waiting");
        assert.deepEqual(await duePks(s, T0 + 10, L0), []);

        const r = await s.addEvent(a.pk, "approved", { by: "ann" }, T0 + 10);
        const value = { payload: { by: "ann" }, timestamp: T0 + 10, type: "approved" };
        assert.deepEqual(r.delivered, [{ key: w.key, value, at: T0 + 10 }]);
        assert.ok(r.wakes > ca.wakes, `wakes ${r.wakes} after the delivery, ${ca.wakes} at the claim`);
        const inst = await get(s, a.pk);
        assert.equal(inst.readyAt, T0 + 10);
        assert.deepEqual(await duePks(s, T0 + 9, L0), []);
        assert.deepEqual(await duePks(s, T0 + 10, L0), [a.pk]);
        const st = await stepOf(s, a.pk, w.key);
        assert.equal(st?.state, "complete");
        assert.deepEqual(st?.value, value);

        // an event no wait takes is buffered: not a wake-up
        const r2 = await s.addEvent(a.pk, "approved", { by: "bob" }, T0 + 20);
        assert.deepEqual(r2.delivered, []);
        assert.equal(r2.wakes, r.wakes);
        assert.equal((await get(s, a.pk)).readyAt, T0 + 10);
      });

      it("a full event buffer refuses an event no wait takes (nothing stored), not one a wait takes", async ({ s }) => {
        const a = await create(s, "a");
        const ca = await mustClaim(s, a.pk, claimAt(A, T0));
        const buffer = { events: 2, bytes: 1 << 20 };
        for (const n of [1, 2]) assert.deepEqual((await s.addEvent(a.pk, "ping", n, T0 + n, buffer)).delivered, []);
        await assert.rejects(s.addEvent(a.pk, "ping", 3, T0 + 3, buffer), (e: WeftError) =>
          e.code === ErrorCode.QuotaExceeded && e.details.field === "limits.bufferedEvents" && /already holds 2 events .* the limit is 2 \(limits\.bufferedEvents\)/.test(e.message));
        // a wait for another type takes its event although the buffer is full
        const w = waitEntry("go", 1, "go", T0 + HOUR);
        await journalWait(s, a.pk, ca.epoch, w, T0 + 4);
        assert.equal((await s.addEvent(a.pk, "go", "yes", T0 + 5, buffer)).delivered.length, 1);
        // the refused one was not stored: a wait for "ping" takes 1, then 2, and nothing more is buffered
        const p1 = waitEntry("p1", 1, "ping", T0 + HOUR);
        assert.deepEqual((await journalWait(s, a.pk, ca.epoch, p1, T0 + 6)).delivered.map((d) => (d.value as { payload: unknown }).payload), [1]);
        const p2 = waitEntry("p2", 1, "ping", T0 + HOUR);
        assert.deepEqual((await journalWait(s, a.pk, ca.epoch, p2, T0 + 7)).delivered.map((d) => (d.value as { payload: unknown }).payload), [2]);
        const p3 = waitEntry("p3", 1, "ping", T0 + HOUR);
        assert.deepEqual((await journalWait(s, a.pk, ca.epoch, p3, T0 + 8)).delivered, [], "the refused event was never stored");
        // bytes: a buffer of 1 KiB takes a small event, refuses one that would overfill it
        const small = { events: 100, bytes: 1024 };
        assert.deepEqual((await s.addEvent(a.pk, "x", "a".repeat(100), T0 + 9, small)).delivered, []);
        await assert.rejects(s.addEvent(a.pk, "x", "b".repeat(2000), T0 + 10, small), (e: WeftError) => e.code === ErrorCode.QuotaExceeded && e.details.field === "limits.bufferedEventBytes");
      });

      it("an event that no wait takes does not wake a sleeping instance", async ({ s }) => {
        const a = await create(s, "a");
        const ca = await mustClaim(s, a.pk, claimAt(A, T0));
        await s.journal(a.pk, ca.epoch, [stepOp(entry("sleep", "nap", 1, "pending", { dueAt: T0 + HOUR })), hist("sleep_started", T0 + 1)]);
        await suspend(s, a.pk, ca, T0 + 2, T0 + HOUR);
        const r = await s.addEvent(a.pk, "ping", 1, T0 + 10);
        assert.deepEqual(r.delivered, []);
        assert.equal(r.wakes, ca.wakes);
        assert.equal((await get(s, a.pk)).readyAt, T0 + HOUR);
        assert.deepEqual(await duePks(s, T0 + HOUR - 1, L0), []);
        assert.equal(await s.nextReadyAt(T0 + 10, L0), T0 + HOUR);
      });

      it("resume of a paused instance: queued, due now, a new epoch", async ({ s }) => {
        const a = await create(s, "a");
        const ca = await mustClaim(s, a.pk, claimAt(A, T0));
        await suspend(s, a.pk, ca, T0 + 1, T0 + HOUR);
        assert.equal(await s.pause(a.pk, T0 + 10, L0), "paused");
        const paused = await get(s, a.pk);
        assert.equal(paused.status, "paused");
        assert.equal(paused.readyAt, null);
        assert.equal(paused.epoch, ca.epoch + 1);
        assert.equal(await s.resume(a.pk, T0 + 20), "queued");
        const q = await get(s, a.pk);
        assert.equal(q.status, "queued");
        assert.equal(q.readyAt, T0 + 20);
        assert.equal(q.epoch, paused.epoch + 1);
        assert.deepEqual(await duePks(s, T0 + 19, L0), []);
        assert.deepEqual(await duePks(s, T0 + 20, L0), [a.pk]);
        assert.equal((await mustClaim(s, a.pk, claimAt(B, T0 + 20))).epoch, q.epoch + 1);
      });

      it("restart: the journal cut per cutByRestart (from a step, then all), fenced, queued and due now", async ({ s }) => {
        const a = await create(s, "a");
        const ca = await mustClaim(s, a.pk, claimAt(A, T0));
        const steps = [
          entry("do", "a", 1, "complete", { value: "A", attempts: 1, at: T0 + 1 }),
          entry("do", "b", 2, "complete", { value: "B", attempts: 1, at: T0 + 2 }),
          entry("rollback", "undo-a", 3, "complete", { value: "U", attempts: 1, at: T0 + 3 }),
          entry("sleep", "c", 4, "pending", { dueAt: T0 + HOUR }),
          entry("do", "d", 5, "failed", { error: { name: "Error", message: "boom" }, attempts: 1, at: T0 + 4 }),
        ];
        const att = (x: StepRecord): JournalOp => attemptOp({ key: x.key, attempt: 1, startedAt: T0, endedAt: T0 + 1, success: x.state === "complete", error: null });
        await s.journal(a.pk, ca.epoch, [...steps.map(stepOp), att(steps[0]!), att(steps[1]!), att(steps[2]!), att(steps[4]!)]);
        await s.release(a.pk, ca.epoch, { now: T0 + 5, readyAt: null, seenWakes: ca.wakes }, [
          { op: "status", status: "errored", error: { name: "Error", message: "boom" }, endedAt: T0 + 5, wakeAt: null }, hist("workflow_errored", T0 + 5),
        ]);
        assert.equal((await get(s, a.pk)).readyAt, null);

        await s.restart(a.pk, 4, T0 + 100, { from: 4 });
        const kept = steps.filter((x) => !cutByRestart(x, 4)).map((x) => x.key);
        assert.deepEqual(kept, [stepKey("do", "a", 1), stepKey("do", "b", 1)]);
        assert.deepEqual((await s.steps(a.pk)).map((x) => x.key), kept);
        assert.deepEqual((await s.attempts(a.pk)).map((x) => x.key).sort(), [...kept].sort());
        let inst = await get(s, a.pk);
        assert.equal(inst.status, "queued");
        assert.equal(inst.readyAt, T0 + 100);
        assert.equal(inst.epoch, ca.epoch + 1);
        assert.equal(inst.endedAt, null);
        assert.equal(inst.error, null);
        const last = (await s.history(a.pk, 0)).at(-1)!;
        assert.equal(last.type, "workflow_restarted");
        assert.deepEqual(last.data, { from: 4 });
        assert.deepEqual(await duePks(s, T0 + 99, L0), []);
        assert.deepEqual(await duePks(s, T0 + 100, L0), [a.pk]);

        // restart while a run holds the instance: the run is fenced out
        const cb = await mustClaim(s, a.pk, claimAt(B, T0 + 100));
        await s.restart(a.pk, 2, T0 + 200, null);
        await refused(s.journal(a.pk, cb.epoch, [stepOp(entry("do", "b", 2, "complete", { value: "again" }))]), ErrorCode.LeaseLost, "journal of the run a restart fenced out");
        await refused(complete(s, a.pk, cb, T0 + 201), ErrorCode.LeaseLost, "release of the run a restart fenced out");
        assert.deepEqual((await s.steps(a.pk)).map((x) => x.key), [stepKey("do", "a", 1)]);
        inst = await get(s, a.pk);
        assert.equal(inst.status, "queued");
        assert.equal(inst.readyAt, T0 + 200);
        assert.equal(inst.epoch, cb.epoch + 1);
        // B's claim was let go: another node claims while B's lease is still live
        assert.ok(await s.claim(a.pk, claimAt(C, T0 + 200, L0 + 1)));

        await s.restart(a.pk, undefined, T0 + 300, null);
        assert.deepEqual(await s.steps(a.pk), []);
        assert.deepEqual(await s.attempts(a.pk), []);
        assert.equal((await get(s, a.pk)).readyAt, T0 + 300);
      });

      it("a release with a future readyAt: due exactly then, and the claim is let go", async ({ s }) => {
        const a = await create(s, "a");
        const ca = await mustClaim(s, a.pk, claimAt(A, T0, L0, L0 + LEASE));
        await suspend(s, a.pk, ca, T0 + 1, T0 + 5000);
        const inst = await get(s, a.pk);
        assert.equal(inst.status, "waiting");
        assert.equal(inst.readyAt, T0 + 5000);
        assert.equal(inst.wakeAt, T0 + 5000);
        assert.deepEqual(await duePks(s, T0 + 4999, L0), []);
        assert.deepEqual(await duePks(s, T0 + 5000, L0), [a.pk]);
        assert.equal(await s.nextReadyAt(T0 + 1, L0), T0 + 5000);
        assert.equal(await s.claim(a.pk, claimAt(B, T0 + 4999, L0)), undefined);
        // A's lease would still be live: released
        assert.equal((await mustClaim(s, a.pk, claimAt(B, T0 + 5000, L0))).epoch, ca.epoch + 1);
      });

      it("a release that has not seen a wake-up delivered during its claim makes the instance due at the release's now", async ({ s }) => {
        const [a, b] = await s.createInstances([row("unseen"), row("seen")]);
        for (const [inst, seen] of [[a!, false], [b!, true]] as const) {
          const c = await mustClaim(s, inst.pk, claimAt(A, T0));
          await journalWait(s, inst.pk, c.epoch, waitEntry("go", 1, "go"), T0 + 1);
          const ev = await s.addEvent(inst.pk, "go", null, T0 + 300);
          assert.equal(ev.delivered.length, 1);
          assert.ok(ev.wakes > c.wakes);
          // held by A's live claim: not listed although due
          assert.ok(!(await duePks(s, T0 + 600, L0)).includes(inst.pk));
          const released = await suspend(s, inst.pk, c, T0 + 600, T0 + HOUR, seen ? ev.wakes : c.wakes);
          assert.equal((await get(s, inst.pk)).readyAt, seen ? T0 + HOUR : T0 + 600, inst.id);
          // release answers with the same place in the run queue (the engine queues it again at once)
          assert.deepEqual(released, { readyAt: seen ? T0 + HOUR : T0 + 600 });
        }
        assert.deepEqual(await duePks(s, T0 + 599, L0), []);
        assert.deepEqual(await duePks(s, T0 + 600, L0), [a!.pk]);
        assert.deepEqual(await duePks(s, T0 + HOUR, L0), [a!.pk, b!.pk]);
      });

      it("a release to a finished status leaves readyAt null, whatever it asked and whatever woke it", async ({ s }) => {
        const a = await create(s, "a");
        const ca = await mustClaim(s, a.pk, claimAt(A, T0));
        await journalWait(s, a.pk, ca.epoch, waitEntry("go", 1, "go"), T0 + 1);
        assert.equal((await s.addEvent(a.pk, "go", 1, T0 + 2)).delivered.length, 1);
        await complete(s, a.pk, ca, T0 + 3, { total: 3 }, T0 + 100, ca.wakes);
        const inst = await get(s, a.pk);
        assert.equal(inst.status, "complete");
        assert.deepEqual(inst.output, { total: 3 });
        assert.equal(inst.endedAt, T0 + 3);
        assert.equal(inst.readyAt, null);
        assert.deepEqual(await duePks(s, T0 + DAY, L0 + DAY), []);
        assert.equal(await s.nextReadyAt(0, L0), null);
        assert.equal(await s.claim(a.pk, claimAt(B, T0 + DAY, L0 + DAY)), undefined);
      });
    });

    // ---------------------------------------------------------------------------------------------
    describe("pause and resume", () => {
      it("pause with a live claim on a running instance is 'pausing': the holder still journals, then releases it paused", async ({ s }) => {
        const a = await create(s, "a");
        const ca = await mustClaim(s, a.pk, claimAt(A, T0, L0, L0 + 100));
        assert.equal(await s.pause(a.pk, T0 + 10, L0 + 50), "pausing");
        let inst = await get(s, a.pk);
        assert.equal(inst.status, "waitingForPause");
        assert.equal(inst.epoch, ca.epoch);
        await s.journal(a.pk, ca.epoch, [stepOp(entry("do", "inflight", 1, "complete", { value: 42, attempts: 1 })), hist("step_completed", T0 + 11)]);
        assert.equal((await stepOf(s, a.pk, stepKey("do", "inflight", 1)))?.value, 42);
        assert.deepEqual(await duePks(s, T0 + 20, L0 + 50), []);
        assert.deepEqual(await s.extendClaims(A, [a.pk], L0 + 200), [a.pk]);
        await s.release(a.pk, ca.epoch, { now: T0 + 20, readyAt: null, seenWakes: ca.wakes }, [{ op: "status", status: "paused" }, hist("workflow_paused", T0 + 20)]);
        inst = await get(s, a.pk);
        assert.equal(inst.status, "paused");
        assert.equal(inst.readyAt, null);
        assert.deepEqual(await duePks(s, T0 + DAY, L0 + DAY), []);
        assert.equal(await s.claim(a.pk, claimAt(B, T0 + DAY, L0 + DAY)), undefined);
      });

      it("pause without a live claim is 'paused' at once: fenced, out of the run queue", async ({ s }) => {
        const [queued, expired, waiting, voided] = await s.createInstances([row("queued"), row("expired"), row("waiting"), row("voided")]);
        // never claimed
        assert.equal(await s.pause(queued!.pk, T0 + 1, L0), "paused");
        // running, but its claim expired
        const ce = await mustClaim(s, expired!.pk, claimAt(A, T0, L0, L0 + 100));
        assert.equal(await s.pause(expired!.pk, T0 + 1, L0 + 100), "paused");
        await refused(s.journal(expired!.pk, ce.epoch, [hist("step_started", T0 + 2)]), ErrorCode.LeaseLost, "journal of a run whose instance paused");
        // suspended until later
        const cw = await mustClaim(s, waiting!.pk, claimAt(A, T0));
        await suspend(s, waiting!.pk, cw, T0 + 1, T0 + 500);
        assert.equal(await s.pause(waiting!.pk, T0 + 2, L0), "paused");
        // running, its claim voided
        await mustClaim(s, voided!.pk, claimAt(A, T0));
        assert.equal(await s.voidClaims(), 1);
        assert.equal(await s.pause(voided!.pk, T0 + 2, L0), "paused");

        for (const [r, epoch] of [[queued!, 1], [expired!, ce.epoch + 1], [waiting!, cw.epoch + 1], [voided!, 2]] as const) {
          const inst = await get(s, r.pk);
          assert.equal(inst.status, "paused", r.id);
          assert.equal(inst.readyAt, null, r.id);
          assert.equal(inst.epoch, epoch, r.id);
          assert.equal(await s.claim(r.pk, claimAt(B, T0 + DAY, L0 + DAY)), undefined, r.id);
        }
        assert.deepEqual(await duePks(s, T0 + DAY, L0 + DAY), []);
        assert.equal(await s.nextReadyAt(0, L0 + DAY), null);
      });

      it("a pausing instance whose claim expired is settled by the claim: claim() returns undefined and it is paused", async ({ s }) => {
        const a = await create(s, "a");
        const ca = await mustClaim(s, a.pk, claimAt(A, T0, L0, L0 + 100));
        assert.equal(await s.pause(a.pk, T0 + 1, L0 + 50), "pausing");
        // still held: nothing settles
        assert.equal(await s.claim(a.pk, claimAt(B, T0 + 2, L0 + 99)), undefined);
        assert.equal((await get(s, a.pk)).status, "waitingForPause");
        // its run is gone: the claim loop finds it and settles it
        assert.deepEqual(await duePks(s, T0 + 2, L0 + 100), [a.pk]);
        assert.equal(await s.claim(a.pk, claimAt(B, T0 + 2, L0 + 100)), undefined);
        const inst = await get(s, a.pk);
        assert.equal(inst.status, "paused");
        assert.equal(inst.readyAt, null);
        assert.equal(inst.epoch, ca.epoch + 1);
        await refused(s.journal(a.pk, ca.epoch, [hist("step_started", T0 + 3)]), ErrorCode.LeaseLost, "journal of the dead pausing run");
        assert.deepEqual(await duePks(s, T0 + DAY, L0 + DAY), []);
        assert.deepEqual(await s.claimDue(claimAt(C, T0 + DAY, L0 + DAY), 10), []);
        // resumed: queued and due
        assert.equal(await s.resume(a.pk, T0 + 10), "queued");
        assert.deepEqual(await duePks(s, T0 + 10, L0 + 100), [a.pk]);
      });

      it("claimDue settles a pausing instance whose run is gone, and takes the others", async ({ s }) => {
        const [p, q] = await s.createInstances([row("pausing", T0), row("queued", T0 + 1)]);
        const cp = await mustClaim(s, p!.pk, claimAt(A, T0, L0, L0 + 100));
        assert.equal(await s.pause(p!.pk, T0 + 1, L0 + 50), "pausing");
        const got = await s.claimDue(claimAt(B, T0 + 5, L0 + 100), 10);
        assert.deepEqual(got.map((c) => c.inst.id), ["queued"]);
        assert.equal((await get(s, p!.pk)).status, "paused");
        assert.equal((await get(s, p!.pk)).epoch, cp.epoch + 1);
        assert.equal((await get(s, q!.pk)).status, "running");
      });

      it("resume of a pausing instance is 'unpaused': running again, the same epoch still writes and holds", async ({ s }) => {
        const a = await create(s, "a");
        const ca = await mustClaim(s, a.pk, claimAt(A, T0, L0, L0 + 100));
        assert.equal(await s.pause(a.pk, T0 + 1, L0 + 10), "pausing");
        assert.equal(await s.resume(a.pk, T0 + 2), "unpaused");
        const inst = await get(s, a.pk);
        assert.equal(inst.status, "running");
        assert.equal(inst.epoch, ca.epoch);
        await s.journal(a.pk, ca.epoch, [stepOp(entry("do", "x", 1, "complete", { value: "x" })), hist("step_completed", T0 + 3)]);
        assert.equal(await s.claim(a.pk, claimAt(B, T0 + 3, L0 + 50)), undefined);
        assert.deepEqual(await s.extendClaims(A, [a.pk], L0 + 200), [a.pk]);
        await complete(s, a.pk, ca, T0 + 4);
        assert.equal((await get(s, a.pk)).status, "complete");
      });

      it("an event delivered to a paused instance completes its wait but does not put it in the run queue; resume does", async ({ s }) => {
        const a = await create(s, "a");
        const ca = await mustClaim(s, a.pk, claimAt(A, T0));
        const w = waitEntry("go", 1, "go", T0 + HOUR);
        await journalWait(s, a.pk, ca.epoch, w, T0 + 1);
        await suspend(s, a.pk, ca, T0 + 2, T0 + HOUR);
        assert.equal(await s.pause(a.pk, T0 + 3, L0), "paused");
        const r = await s.addEvent(a.pk, "go", "payload", T0 + 10);
        assert.equal(r.delivered.length, 1);
        assert.equal((await stepOf(s, a.pk, w.key))?.state, "complete");
        const inst = await get(s, a.pk);
        assert.equal(inst.status, "paused");
        assert.equal(inst.readyAt, null);
        assert.deepEqual(await duePks(s, T0 + DAY, L0 + DAY), []);
        assert.equal(await s.nextReadyAt(T0, L0), null);
        assert.equal(await s.resume(a.pk, T0 + 50), "queued");
        assert.equal((await get(s, a.pk)).readyAt, T0 + 50);
        assert.deepEqual(await duePks(s, T0 + 50, L0), [a.pk]);
      });
    });

    // ---------------------------------------------------------------------------------------------
    describe("events: buffering and matching", () => {
      it("an event sent before the wait is buffered and matched when the wait is journaled", async ({ s }) => {
        const a = await create(s, "a");
        const ca = await mustClaim(s, a.pk, claimAt(A, T0));
        const early = await s.addEvent(a.pk, "approval", { n: 1 }, T0 + 5);
        assert.deepEqual(early.delivered, []);
        assert.equal((await get(s, a.pk)).readyAt, T0);
        const w = waitEntry("approval", 1, "approval");
        const res = await journalWait(s, a.pk, ca.epoch, w, T0 + 10);
        const value = { payload: { n: 1 }, timestamp: T0 + 5, type: "approval" };
        assert.equal(res.delivered.length, 1);
        assert.equal(res.delivered[0]!.key, w.key);
        assert.deepEqual(res.delivered[0]!.value, value);
        const st = await stepOf(s, a.pk, w.key);
        assert.equal(st?.state, "complete");
        assert.deepEqual(st?.value, value);
        assert.equal(st?.at, res.delivered[0]!.at);
        // it was consumed: the next wait of the type gets nothing
        const w2 = waitEntry("approval-2", 2, "approval");
        assert.deepEqual((await journalWait(s, a.pk, ca.epoch, w2, T0 + 11)).delivered, []);
        assert.equal((await stepOf(s, a.pk, w2.key))?.state, "pending");
      });

      it("waits of a type take its events oldest first, in step order; an event of another type is not taken", async ({ s }) => {
        const a = await create(s, "a");
        const ca = await mustClaim(s, a.pk, claimAt(A, T0));
        await s.addEvent(a.pk, "a", 1, T0 + 1);
        await s.addEvent(a.pk, "b", "B", T0 + 2);
        await s.addEvent(a.pk, "a", 2, T0 + 3);
        const w1 = waitEntry("w1", 1, "a");
        const w2 = waitEntry("w2", 2, "a");
        const w3 = waitEntry("w3", 3, "c");
        const res = await s.journal(a.pk, ca.epoch, [stepOp(w2), stepOp(w1), stepOp(w3), hist("wait_started", T0 + 4)]);
        const got = Object.fromEntries(res.delivered.map((d) => [d.key, d.value]));
        assert.deepEqual(got, {
          [w1.key]: { payload: 1, timestamp: T0 + 1, type: "a" },
          [w2.key]: { payload: 2, timestamp: T0 + 3, type: "a" },
        });
        assert.equal((await stepOf(s, a.pk, w3.key))?.state, "pending");
        const w4 = waitEntry("w4", 4, "b");
        assert.deepEqual((await journalWait(s, a.pk, ca.epoch, w4, T0 + 5)).delivered.map((d) => [d.key, d.value]), [[w4.key, { payload: "B", timestamp: T0 + 2, type: "b" }]]);
        const w5 = waitEntry("w5", 5, "a");
        assert.deepEqual((await journalWait(s, a.pk, ca.epoch, w5, T0 + 6)).delivered, []);

        // pending waits of one type take events as they come, earliest wait first
        const w6 = waitEntry("w6", 6, "x");
        const w7 = waitEntry("w7", 7, "x");
        assert.deepEqual((await s.journal(a.pk, ca.epoch, [stepOp(w7), stepOp(w6), hist("wait_started", T0 + 7)])).delivered, []);
        assert.deepEqual((await s.addEvent(a.pk, "x", "first", T0 + 8)).delivered.map((d) => d.key), [w6.key]);
        assert.deepEqual((await s.addEvent(a.pk, "y", "other", T0 + 9)).delivered, []);
        assert.deepEqual((await s.addEvent(a.pk, "x", "second", T0 + 10)).delivered.map((d) => d.key), [w7.key]);
        assert.deepEqual((await stepOf(s, a.pk, w6.key))?.value, { payload: "first", timestamp: T0 + 8, type: "x" });
        assert.deepEqual((await stepOf(s, a.pk, w7.key))?.value, { payload: "second", timestamp: T0 + 10, type: "x" });
        assert.equal((await stepOf(s, a.pk, w3.key))?.state, "pending");
        assert.equal((await stepOf(s, a.pk, w5.key))?.state, "pending");
      });

      it("addEvent on a finished instance is refused (invalid_state) and stores nothing", async ({ s }) => {
        const a = await create(s, "a");
        const ca = await mustClaim(s, a.pk, claimAt(A, T0));
        await complete(s, a.pk, ca, T0 + 1);
        const before = await s.history(a.pk, 0);
        await refused(s.addEvent(a.pk, "late", "x", T0 + 2), ErrorCode.InvalidState, "event to a finished instance");
        assert.deepEqual(await s.history(a.pk, 0), before);
        assert.equal((await get(s, a.pk)).readyAt, null);
        assert.equal((await get(s, a.pk)).status, "complete");
        // had it been stored, a wait of its type would take it after a restart
        await s.restart(a.pk, undefined, T0 + 10, null);
        const cb = await mustClaim(s, a.pk, claimAt(B, T0 + 10));
        assert.deepEqual((await journalWait(s, a.pk, cb.epoch, waitEntry("late", 1, "late"), T0 + 11)).delivered, []);
      });

      it("addEvent on a deleted instance is refused (not_found); nothing reaches the next instance of that id", async ({ s }) => {
        const a = await create(s, "a");
        await s.deleteInstance(a.pk);
        await refused(s.addEvent(a.pk, "late", "x", T0 + 2), ErrorCode.NotFound, "event to a deleted instance");
        await refused(s.addEvent(a.pk + 1000, "late", "x", T0 + 2), ErrorCode.NotFound, "event to an instance that never existed");
        const again = await create(s, "a", T0 + 3);
        const c = await mustClaim(s, again.pk, claimAt(A, T0 + 3));
        assert.deepEqual((await journalWait(s, again.pk, c.epoch, waitEntry("late", 1, "late"), T0 + 4)).delivered, []);
      });
    });

    // ---------------------------------------------------------------------------------------------
    describe("journal", () => {
      it("steps and attempts come back as journaled, in step order", async ({ s }) => {
        const a = await create(s, "a");
        const ca = await mustClaim(s, a.pk, claimAt(A, T0));
        const recs = [
          entry("sleep", "nap", 3, "pending", { dueAt: T0 + HOUR, startedAt: T0 + 3 }),
          entry("do", "load", 1, "complete", { value: { rows: [1, 2, { deep: null }], s: "é" }, at: T0 + 2, startedAt: T0 + 1, attempts: 2, config: { retries: { limit: 3 } } }),
          entry("do", "bad", 2, "failed", { error: { name: "TypeError", message: "nope" }, at: T0 + 3, startedAt: T0 + 2, attempts: 1 }),
          waitEntry("ev", 4, "evt"),
        ];
        const attempts: AttemptRecord[] = [
          { key: recs[1]!.key, attempt: 1, startedAt: T0 + 1, endedAt: T0 + 1, success: false, error: { name: "Error", message: "first" } },
          { key: recs[1]!.key, attempt: 2, startedAt: T0 + 1, endedAt: T0 + 2, success: true, error: null },
          { key: recs[2]!.key, attempt: 1, startedAt: T0 + 2, endedAt: null, success: null, error: null },
        ];
        await s.journal(a.pk, ca.epoch, [...recs.map(stepOp), ...attempts.map(attemptOp)]);
        assert.deepEqual((await s.steps(a.pk)).map(clean), [recs[1], recs[2], recs[0], recs[3]].map((x) => clean(x!)));
        const got = (await s.attempts(a.pk)).map(clean).sort((x, y) => x.key.localeCompare(y.key) || x.attempt - y.attempt);
        assert.deepEqual(got, attempts.map(clean).sort((x, y) => x.key.localeCompare(y.key) || x.attempt - y.attempt));
        // an attempt written again (it ended) replaces the running one
        await s.journal(a.pk, ca.epoch, [attemptOp({ ...attempts[2]!, endedAt: T0 + 3, success: false, error: { name: "TypeError", message: "nope" } })]);
        const bad = (await s.attempts(a.pk)).filter((x) => x.key === recs[2]!.key);
        assert.deepEqual(bad.map(clean), [clean({ ...attempts[2]!, endedAt: T0 + 3, success: false, error: { name: "TypeError", message: "nope" } })]);
      });

      it("finished steps are immutable: a later write of a complete or failed step changes nothing", async ({ s }) => {
        const a = await create(s, "a");
        const ca = await mustClaim(s, a.pk, claimAt(A, T0));
        const key = stepKey("do", "once", 1);
        await s.journal(a.pk, ca.epoch, [stepOp(entry("do", "once", 1, "pending", { attempts: 1 }))]);
        await s.journal(a.pk, ca.epoch, [stepOp(entry("do", "once", 1, "complete", { value: "first", attempts: 1, at: T0 + 1 }))]);
        const done = await stepOf(s, a.pk, key);
        assert.equal(done?.state, "complete");
        assert.equal(done?.value, "first");
        await s.journal(a.pk, ca.epoch, [stepOp(entry("do", "once", 1, "complete", { value: "second", attempts: 2, at: T0 + 2 }))]);
        await s.journal(a.pk, ca.epoch, [stepOp(entry("do", "once", 1, "pending", { attempts: 3, dueAt: T0 + 5 }))]);
        await s.journal(a.pk, ca.epoch, [stepOp(entry("do", "once", 1, "failed", { error: { name: "Error", message: "late" }, attempts: 4, at: T0 + 3 }))]);
        assert.deepEqual(clean((await stepOf(s, a.pk, key))!), clean(done!));

        const fkey = stepKey("do", "broke", 1);
        await s.journal(a.pk, ca.epoch, [stepOp(entry("do", "broke", 2, "failed", { error: { name: "Error", message: "boom" }, attempts: 1, at: T0 + 4 }))]);
        const failed = await stepOf(s, a.pk, fkey);
        await s.journal(a.pk, ca.epoch, [stepOp(entry("do", "broke", 2, "complete", { value: "fixed", attempts: 2, at: T0 + 5 }))]);
        assert.deepEqual(clean((await stepOf(s, a.pk, fkey))!), clean(failed!));
        assert.equal(failed?.state, "failed");

        // a wait completed by its event is finished too
        const w = waitEntry("ev", 3, "ev");
        await journalWait(s, a.pk, ca.epoch, w, T0 + 6);
        await s.addEvent(a.pk, "ev", "real", T0 + 7);
        await s.journal(a.pk, ca.epoch, [stepOp({ ...w, state: "complete", value: "timed out" })]);
        assert.deepEqual((await stepOf(s, a.pk, w.key))?.value, { payload: "real", timestamp: T0 + 7, type: "ev" });
      });
    });

    // ---------------------------------------------------------------------------------------------
    describe("instance SQL pages", () => {
      const page = (pgno: number, fill: number, size = 512) => ({ pgno, data: new Uint8Array(size).fill(fill) });
      const sqlOp = (seq: number, nPages: number, pages: { pgno: number; data: Uint8Array }[]): JournalOp => ({ op: "sql", seq, by: 7, pageSize: 512, nPages, pages });
      const image = async (s: Store, pk: number, limit = 100) => {
        const out: [number, number][] = [];
        let first: Awaited<ReturnType<Store["sqlImage"]>> | undefined;
        for (let from = 1; ; ) {
          const part = await s.sqlImage(pk, from, limit);
          first ??= part;
          assert.equal(part.seq, first.seq);
          out.push(...part.pages.map((p): [number, number] => [p.pgno, p.data[0]!]));
          if (part.pages.length < limit) break;
          from = part.pages[part.pages.length - 1]!.pgno + 1;
        }
        return { seq: first.seq, nPages: first.nPages, pageSize: first.pageSize, pages: out };
      };

      it("commits go in version by version with the step: pages replaced, pages past the new size gone, read back in parts", async ({ s }) => {
        const a = await create(s, "a");
        assert.equal(a.sqlSeq, 0);
        assert.deepEqual(await image(s, a.pk), { seq: 0, nPages: 0, pageSize: 0, pages: [] });
        const c = await mustClaim(s, a.pk, claimAt(A, T0));
        await s.journal(a.pk, c.epoch, [sqlOp(1, 3, [page(1, 1), page(2, 1), page(3, 1)]), stepOp(entry("do", "one", 1, "complete", { value: 1, at: T0, attempts: 1 }))]);
        await s.journal(a.pk, c.epoch, [sqlOp(2, 5, [page(2, 2), page(5, 2)])]);
        assert.deepEqual(await image(s, a.pk, 2), { seq: 2, nPages: 5, pageSize: 512, pages: [[1, 1], [2, 2], [3, 1], [5, 2]] });
        await s.journal(a.pk, c.epoch, [sqlOp(3, 2, [page(1, 3)])]);
        assert.deepEqual(await image(s, a.pk), { seq: 3, nPages: 2, pageSize: 512, pages: [[1, 3], [2, 2]] });
        assert.equal((await s.getInstanceByPk(a.pk))!.sqlSeq, 3);
        assert.equal((await s.getInstanceByPk(a.pk))!.sqlBy, 7, "which run made the version");
        assert.equal((await stepOf(s, a.pk, stepKey("do", "one", 1)))?.value, 1, "the step went in with its pages");
      });

      it("a version that does not follow the stored one is refused with the whole write (a stale copy never merges)", async ({ s }) => {
        const a = await create(s, "a");
        const c = await mustClaim(s, a.pk, claimAt(A, T0));
        await s.journal(a.pk, c.epoch, [sqlOp(1, 1, [page(1, 1)])]);
        for (const seq of [1, 3]) {
          await assert.rejects(s.journal(a.pk, c.epoch, [stepOp(entry("do", "x", 1, "complete", { value: 1, at: T0, attempts: 1 })), sqlOp(seq, 1, [page(1, 9)])]),
            (e: WeftError) => e.code === ErrorCode.LeaseLost && /version/.test(e.message));
        }
        assert.deepEqual((await image(s, a.pk)).pages, [[1, 1]]);
        assert.equal(await stepOf(s, a.pk, stepKey("do", "x", 1)), undefined, "nothing of the refused write");
      });

      it("fenced like every journal write; a restart keeps the database; a delete removes it", async ({ s }) => {
        const a = await create(s, "a");
        const c = await mustClaim(s, a.pk, claimAt(A, T0));
        await s.journal(a.pk, c.epoch, [sqlOp(1, 1, [page(1, 1)])]);
        await s.restart(a.pk, undefined, T0 + 1, null);
        await assert.rejects(s.journal(a.pk, c.epoch, [sqlOp(2, 1, [page(1, 2)])]), (e: WeftError) => e.code === ErrorCode.LeaseLost);
        assert.deepEqual(await image(s, a.pk), { seq: 1, nPages: 1, pageSize: 512, pages: [[1, 1]] }, "the restart kept it");
        await s.deleteInstance(a.pk);
        assert.deepEqual(await image(s, a.pk), { seq: 0, nPages: 0, pageSize: 0, pages: [] });
        const b = await create(s, "a");
        assert.equal(b.sqlSeq, 0, "the next instance with its id starts with no database");
        assert.deepEqual((await image(s, b.pk)).pages, []);
      });
    });

    // ---------------------------------------------------------------------------------------------
    describe("instances: create and delete", () => {
      it("createInstances is all or nothing: an existing id fails the whole batch with already_exists naming it", async ({ s }) => {
        await create(s, "dup");
        const err = await refused(s.createInstances([row("new1"), row("dup"), row("new2")]), ErrorCode.AlreadyExists, "batch with an existing id");
        assert.ok(err.message.includes("dup"), err.message);
        assert.equal(err.details.instanceId, "dup");
        assert.equal(await s.getInstance(TENANT, WF, "new1"), undefined);
        assert.equal(await s.getInstance(TENANT, WF, "new2"), undefined);
        const twice = await refused(s.createInstances([row("x"), row("y"), row("x")]), ErrorCode.AlreadyExists, "batch naming an id twice");
        assert.equal(twice.details.instanceId, "x");
        assert.equal(await s.getInstance(TENANT, WF, "x"), undefined);
        assert.equal(await s.getInstance(TENANT, WF, "y"), undefined);
        await refused(s.createInstances([row("dup")]), ErrorCode.AlreadyExists, "single existing id");
        const all = await s.listInstances({ tenant: TENANT, limit: 100, direction: "asc" });
        assert.deepEqual(all.map((i) => i.id), ["dup"]);
        // the refused batches queued nothing
        assert.deepEqual((await s.due(T0 + DAY, L0, 100)).length, 1);
      });

      it("ids are unique per (tenant, workflow): the same id elsewhere is another instance", async ({ s }) => {
        const here = await create(s, "same");
        const otherWf = await create(s, "same", T0, { workflow: "other" });
        const otherTenant = await create(s, "same", T0, { tenant: "globex" });
        assert.equal(new Set([here.pk, otherWf.pk, otherTenant.pk]).size, 3);
        assert.equal((await s.getInstance(TENANT, WF, "same"))?.pk, here.pk);
        assert.equal((await s.getInstance(TENANT, "other", "same"))?.pk, otherWf.pk);
        assert.equal((await s.getInstance("globex", WF, "same"))?.pk, otherTenant.pk);
        const batch = await s.createInstances([row("b1", T0 + 1), row("b2", T0 + 2), row("b3", T0 + 3)]);
        assert.deepEqual(batch.map((b) => b.id), ["b1", "b2", "b3"]);
        assert.deepEqual(batch.map((b) => b.status), ["queued", "queued", "queued"]);
        assert.deepEqual(batch.map((b) => b.readyAt), [T0 + 1, T0 + 2, T0 + 3]);
        assert.ok(batch[0]!.pk < batch[1]!.pk && batch[1]!.pk < batch[2]!.pk);
      });

      it("deletes never let a pk or id's data be reused: a new pk above every pk handed out, nothing of the old instance left", async ({ s }) => {
        const [a, b, c] = await s.createInstances([row("a"), row("b"), row("c")]);
        const handed = [a!.pk, b!.pk, c!.pk];
        // give c (the highest pk) a bit of everything
        const cc = await mustClaim(s, c!.pk, claimAt(A, T0));
        const st = entry("do", "s", 1, "complete", { value: "v", attempts: 1 });
        await s.journal(c!.pk, cc.epoch, [stepOp(st), attemptOp({ key: st.key, attempt: 1, startedAt: T0, endedAt: T0 + 1, success: true, error: null }), hist("step_completed", T0 + 1)]);
        await s.addEvent(c!.pk, "leftover", "old", T0 + 2);
        await s.appendLogs([{ instance: c!.pk, at: T0 + 2, level: "info", message: "old line" }]);
        assert.equal((await s.logs(c!.pk, 0, 100)).length, 1);

        await s.deleteInstance(c!.pk);
        assert.equal(await s.getInstanceByPk(c!.pk), undefined);
        assert.equal(await s.getInstance(TENANT, WF, "c"), undefined);
        assert.deepEqual(await s.steps(c!.pk), []);
        assert.deepEqual(await s.attempts(c!.pk), []);
        assert.deepEqual(await s.history(c!.pk, 0), []);
        assert.deepEqual(await s.logs(c!.pk, 0, 100), []);
        assert.ok(!(await duePks(s, T0 + DAY, L0 + DAY)).includes(c!.pk));

        // a line of the deleted instance is dropped; a live one's in the same call is kept
        await s.appendLogs([{ instance: c!.pk, at: T0 + 3, level: "info", message: "too late" }, { instance: a!.pk, at: T0 + 3, level: "warn", message: "a's line" }]);
        assert.deepEqual(await s.logs(c!.pk, 0, 100), []);
        assert.deepEqual((await s.logs(a!.pk, 0, 100)).map((l) => [l.instance, l.level, l.message]), [[a!.pk, "warn", "a's line"]]);

        const c2 = await create(s, "c", T0 + 10);
        assert.ok(c2.pk > Math.max(...handed), `pk ${c2.pk} after ${handed}`);
        handed.push(c2.pk);
        assert.deepEqual(await s.steps(c2.pk), []);
        assert.deepEqual(await s.attempts(c2.pk), []);
        assert.deepEqual(await s.logs(c2.pk, 0, 100), []);
        assert.deepEqual((await s.history(c2.pk, 0)).map((e) => e.eventId), (await s.history(c2.pk, 0)).map((_, i) => i + 1));
        assert.ok(!(await s.history(c2.pk, 0)).some((e) => e.type === "step_completed"));
        const c2c = await mustClaim(s, c2.pk, claimAt(A, T0 + 10));
        assert.deepEqual((await journalWait(s, c2.pk, c2c.epoch, waitEntry("leftover", 1, "leftover"), T0 + 11)).delivered, []);

        // deleting the lowest does not bring its pk back either
        await s.deleteInstance(a!.pk);
        const a2 = await create(s, "a", T0 + 20);
        assert.ok(a2.pk > Math.max(...handed), `pk ${a2.pk} after ${handed}`);
        handed.push(a2.pk);
        assert.deepEqual(await s.logs(a2.pk, 0, 100), []);
        // and deleting the newest, again
        await s.deleteInstance(a2.pk);
        const d = await create(s, "d", T0 + 30);
        assert.ok(d.pk > Math.max(...handed), `pk ${d.pk} after ${handed}`);
      });

      it("a pk is not handed out again after a delete and a reopen", async (h) => {
        const [a, b] = await h.s.createInstances([row("a"), row("b")]);
        await h.s.deleteInstance(b!.pk);
        const s = await h.reopen();
        const b2 = await create(s, "b", T0 + 1);
        assert.ok(b2.pk > b!.pk && b2.pk > a!.pk, `pk ${b2.pk} after ${a!.pk}, ${b!.pk}`);
      }, { reopen: true });
    });

    // ---------------------------------------------------------------------------------------------
    describe("history", () => {
      it("eventIds are 1, 2, 3… per instance, without gaps or duplicates, with many writes queued in the same turn", async ({ s }) => {
        const [p, q] = await s.createInstances([row("p"), row("q")]);
        const cp = await mustClaim(s, p!.pk, claimAt(A, T0));
        const cq = await mustClaim(s, q!.pk, claimAt(A, T0));
        const baseP = (await s.history(p!.pk, 0)).length;
        const baseQ = (await s.history(q!.pk, 0)).length;
        const N = 40;
        const writes: Promise<unknown>[] = [];
        for (let i = 0; i < N; i++) {
          writes.push(s.journal(p!.pk, cp.epoch, [hist("step_started", T0 + i, { i })]));
          writes.push(s.journal(q!.pk, cq.epoch, [hist("step_started", T0 + i, { i }), hist("step_completed", T0 + i, { i })]));
          if (i % 10 === 0) writes.push(s.journal(p!.pk, cp.epoch - 1, [hist("step_errored", T0 + i, { stale: i })])); // refused: takes no id
          if (i % 7 === 0) writes.push(s.appendLogs([{ instance: p!.pk, at: T0 + i, level: "info", message: `line ${i}` }]));
        }
        const settled = await Promise.allSettled(writes);
        assert.equal(settled.filter((x) => x.status === "rejected").length, 4);
        const hp = await s.history(p!.pk, 0);
        const hq = await s.history(q!.pk, 0);
        assert.deepEqual(hp.map((e) => e.eventId), Array.from({ length: baseP + N }, (_, i) => i + 1));
        assert.deepEqual(hq.map((e) => e.eventId), Array.from({ length: baseQ + 2 * N }, (_, i) => i + 1));
        const is = hp.slice(baseP).map((e) => (e.data as { i: number }).i).sort((x, y) => x - y);
        assert.deepEqual(is, Array.from({ length: N }, (_, i) => i));
        assert.ok(!hp.some((e) => e.type === "step_errored"));
        // history(pk, after) continues after an eventId
        assert.deepEqual((await s.history(p!.pk, 10)).map((e) => e.eventId), Array.from({ length: baseP + N - 10 }, (_, i) => i + 11));
        assert.deepEqual(await s.history(p!.pk, baseP + N), []);
        // one write with several history ops takes consecutive ids
        await s.journal(p!.pk, cp.epoch, [hist("step_started", T0 + 100), hist("attempt_started", T0 + 100), hist("step_completed", T0 + 101)]);
        const tail = await s.history(p!.pk, baseP + N);
        assert.deepEqual(tail.map((e) => [e.eventId, e.type, e.at]), [
          [baseP + N + 1, "step_started", T0 + 100], [baseP + N + 2, "attempt_started", T0 + 100], [baseP + N + 3, "step_completed", T0 + 101],
        ]);
        // logs come back in order, each with its own seq
        const lines = await s.logs(p!.pk, 0, 100);
        assert.deepEqual(lines.map((l) => l.message), ["line 0", "line 7", "line 14", "line 21", "line 28", "line 35"]);
        assert.equal(new Set(lines.map((l) => l.seq)).size, lines.length);
        assert.deepEqual((await s.logs(p!.pk, lines[1]!.seq, 2)).map((l) => l.message), ["line 14", "line 21"]);
      });
    });

    // ---------------------------------------------------------------------------------------------
    describe("catalog", () => {
      it("latestVersionId follows the last putVersion of a workflow and is gone with deleteWorkflow; latestVersion agrees", async ({ s }) => {
        assert.equal(await s.latestVersionId(TENANT, WF), VERSION);
        const v1 = (await s.latestVersion(TENANT, WF))!;
        await s.putVersion({ ...v1, version: "v2", createdAt: T0 });
        assert.equal(await s.latestVersionId(TENANT, WF), "v2");
        assert.equal((await s.latestVersion(TENANT, WF))?.version, "v2");
        assert.equal(await s.latestVersionId(TENANT, "nope"), undefined);
        assert.equal(await s.latestVersionId("globex", WF), undefined);
        await s.deleteWorkflow(TENANT, WF);
        assert.equal(await s.latestVersionId(TENANT, WF), undefined);
        assert.equal(await s.latestVersion(TENANT, WF), undefined);
      });
    });

    limitCases(it);

    // ---------------------------------------------------------------------------------------------
    describe("crash points: a store closed after any write of a step and reopened strands nothing", () => {
      interface Run { s: Store; pk: number; claimed?: Claimed }
      interface Expect {
        status: InstanceStatus;
        readyAt: number | null;
        /** a claim of the dead process is still recorded (voidClaims frees it) */
        claimHeld: boolean;
        steps: { key: string; state: StepRecord["state"]; value?: unknown }[];
      }
      interface Sequence { name: string; writes: { name: string; run(r: Run): Promise<unknown> }[]; after: Expect[] }
      const sleep = entry("sleep", "nap", 1, "pending", { dueAt: T0 + HOUR });
      const wait = waitEntry("approval", 1, "approved", T0 + DAY);
      const stepPending = entry("do", "charge", 1, "pending", { attempts: 1, startedAt: T0 + 2 });
      const stepDone = entry("do", "charge", 1, "complete", { attempts: 1, startedAt: T0 + 2, value: { charged: 99 }, at: T0 + 3 });
      const claim = { name: "claim", run: async (r: Run) => void (r.claimed = await mustClaim(r.s, r.pk, claimAt(A, T0 + 1))) };
      const fresh: Expect = { status: "queued", readyAt: T0, claimHeld: false, steps: [] };
      const running: Expect = { status: "running", readyAt: T0, claimHeld: true, steps: [] };
      const sequences: Sequence[] = [
        {
          name: "claim → journal a pending sleep → release waiting",
          writes: [
            claim,
            { name: "journal sleep", run: async (r) => void (await r.s.journal(r.pk, r.claimed!.epoch, [stepOp(sleep), hist("sleep_started", T0 + 2, { key: sleep.key })])) },
            { name: "release", run: (r) => suspend(r.s, r.pk, r.claimed!, T0 + 3, T0 + HOUR) },
          ],
          after: [fresh, running, { ...running, steps: [{ key: sleep.key, state: "pending" }] }, { status: "waiting", readyAt: T0 + HOUR, claimHeld: false, steps: [{ key: sleep.key, state: "pending" }] }],
        },
        {
          name: "claim → journal a pending wait → release waiting → the event",
          writes: [
            claim,
            { name: "journal wait", run: async (r) => void (await journalWait(r.s, r.pk, r.claimed!.epoch, wait, T0 + 2)) },
            { name: "release", run: (r) => suspend(r.s, r.pk, r.claimed!, T0 + 3, T0 + DAY) },
            { name: "event", run: async (r) => assert.equal((await r.s.addEvent(r.pk, "approved", "yes", T0 + 50)).delivered.length, 1) },
          ],
          after: [
            fresh, running, { ...running, steps: [{ key: wait.key, state: "pending" }] },
            { status: "waiting", readyAt: T0 + DAY, claimHeld: false, steps: [{ key: wait.key, state: "pending" }] },
            { status: "waiting", readyAt: T0 + 50, claimHeld: false, steps: [{ key: wait.key, state: "complete", value: { payload: "yes", timestamp: T0 + 50, type: "approved" } }] },
          ],
        },
        {
          name: "claim → journal the attempt → journal the step complete → release complete",
          writes: [
            claim,
            {
              name: "journal attempt", run: async (r) => void (await r.s.journal(r.pk, r.claimed!.epoch, [
                stepOp(stepPending), attemptOp({ key: stepPending.key, attempt: 1, startedAt: T0 + 2, endedAt: null, success: null, error: null }), hist("step_started", T0 + 2),
              ])),
            },
            {
              name: "journal complete", run: async (r) => void (await r.s.journal(r.pk, r.claimed!.epoch, [
                stepOp(stepDone), attemptOp({ key: stepDone.key, attempt: 1, startedAt: T0 + 2, endedAt: T0 + 3, success: true, error: null }), hist("step_completed", T0 + 3),
              ])),
            },
            { name: "release", run: (r) => complete(r.s, r.pk, r.claimed!, T0 + 4, { charged: 99 }) },
          ],
          after: [
            fresh, running, { ...running, steps: [{ key: stepPending.key, state: "pending" }] },
            { ...running, steps: [{ key: stepDone.key, state: "complete", value: { charged: 99 } }] },
            { status: "complete", readyAt: null, claimHeld: false, steps: [{ key: stepDone.key, state: "complete", value: { charged: 99 } }] },
          ],
        },
      ];
      const NOW = T0 + 100;

      for (const seq of sequences) {
        for (let n = 0; n <= seq.writes.length; n++) {
          const point = n === 0 ? "before the first write" : `after write ${n} (${seq.writes[n - 1]!.name})`;
          it(`${seq.name}: crash ${point}`, async (h) => {
            const idle = await create(h.s, "bystander", T0);
            const r: Run = { s: h.s, pk: (await create(h.s, "subject", T0)).pk };
            for (const w of seq.writes.slice(0, n)) await w.run(r);
            const s = await h.reopen();
            const want = seq.after[n]!;
            // what an embedded engine does at open
            assert.equal(await s.voidClaims(), want.claimHeld ? 1 : 0);

            // nothing stranded: unfinished and not paused means a readyAt; finished or paused means none
            const all = await s.listInstances({ tenant: TENANT, limit: 100, direction: "asc" });
            assert.deepEqual(all.map((i) => i.id), ["bystander", "subject"]);
            for (const i of all) {
              if (isFinished(i.status) || i.status === "paused") assert.equal(i.readyAt, null, `${i.id} (${i.status})`);
              else assert.notEqual(i.readyAt, null, `${i.id} (${i.status}) is stranded: not finished, not paused, no readyAt`);
            }
            const subject = await get(s, r.pk);
            assert.equal(subject.status, want.status);
            assert.equal(subject.readyAt, want.readyAt);
            assert.equal(subject.epoch, r.claimed?.epoch ?? 0);
            // due now (on a lease clock where the dead claim would still be live), or due later
            const dueNow = want.readyAt !== null && want.readyAt <= NOW;
            assert.deepEqual(await duePks(s, NOW, L0 + 1), dueNow ? [idle.pk, r.pk] : [idle.pk]);
            assert.equal(await s.nextReadyAt(NOW, L0 + 1), want.readyAt !== null && !dueNow ? want.readyAt : null);
            // the committed step results are there
            const steps = (await s.steps(r.pk)).map((x) => (x.value === undefined ? { key: x.key, state: x.state } : { key: x.key, state: x.state, value: x.value }));
            assert.deepEqual(steps, want.steps);

            // the next run continues: a new epoch; the dead run's writes are refused
            const at = want.readyAt === null ? NOW : Math.max(NOW, want.readyAt);
            const next = await s.claim(r.pk, claimAt(B, at, L0 + 1));
            if (want.readyAt === null) {
              assert.equal(next, undefined);
            } else {
              assert.ok(next && next !== "full", "the next run's claim");
              assert.equal(next.epoch, (r.claimed?.epoch ?? 0) + 1);
              if (r.claimed) await refused(s.journal(r.pk, r.claimed.epoch, [hist("step_started", at)]), ErrorCode.LeaseLost, "the dead run's write");
            }
            assert.ok(await s.claim(idle.pk, claimAt(B, NOW, L0 + 1)), "the bystander's claim");
          }, { reopen: true });
        }
      }
    });
  });
}
