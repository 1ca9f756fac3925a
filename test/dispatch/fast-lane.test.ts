import { describe, expect, it } from "vitest";
import { CommitFastLane, type LaneDispatcher } from "../../src/dispatch/fast-lane.ts";
import type { ClaimedDelivery } from "../../src/store/store.ts";

// A commit's fast lane at its seam, against a dispatcher that records what it is asked.

class FakeDispatcher implements LaneDispatcher {
  readonly room = new Map<string, number>();
  readonly held = new Map<string, number>();
  readonly started: ClaimedDelivery[][] = [];
  readonly released = new Map<string, number>();

  reserve(endpointId: string): boolean {
    const room = this.room.get(endpointId) ?? 0;
    if (room <= 0 || (this.held.get(endpointId) ?? 0) > 0) return false;
    this.room.set(endpointId, room - 1);
    return true;
  }
  holdQueue(endpointId: string, count: number): void {
    this.held.set(endpointId, (this.held.get(endpointId) ?? 0) + count);
  }
  start(admitted: ClaimedDelivery[]): void {
    this.started.push(admitted);
  }
  release(endpointId: string, count: number): void {
    this.released.set(endpointId, (this.released.get(endpointId) ?? 0) + count);
  }
}

const delivery = (endpointId: string, n: number): ClaimedDelivery => ({
  deliveryId: `dlv_${endpointId}_${n}`,
  eventId: `evt_${n}`,
  endpointId,
  tenantId: "tnt",
  createdMs: 0,
  eventType: "t",
  orderingKey: "",
  payload: new Uint8Array(),
  attempts: 0,
  cycleAttempts: 0,
  cycleStartMs: 0,
});

describe("a commit's fast lane", () => {
  it("admits while the endpoint has room; once one delivery is queued, later ones queue behind it", () => {
    const d = new FakeDispatcher();
    d.room.set("a", 2);
    const lane = new CommitFastLane(d);
    const verdicts = [1, 2, 3].map(() => lane.admit("a"));
    expect(verdicts).toEqual([true, true, false]);
    // Room again (a request finished), but the queued one is older: still queued.
    d.room.set("a", 5);
    expect(lane.admit("a")).toBe(false);
    expect(d.held.get("a")).toBe(2);
    expect(lane.tookAll("a")).toBe(false);
  });

  it("holds other commits back from an endpoint it queued for, until it settles", () => {
    const d = new FakeDispatcher();
    d.room.set("a", 1);
    const first = new CommitFastLane(d);
    first.admit("a");
    expect(first.admit("a")).toBe(false);
    d.room.set("a", 3);
    const second = new CommitFastLane(d);
    expect(second.admit("a"), "a commit not yet durable queued one ahead").toBe(false);
    first.commit();
    second.commit();
    expect(d.held.get("a")).toBe(0);
  });

  it("starts what was admitted once durable; an endpoint whose every delivery was admitted needs no claim", () => {
    const d = new FakeDispatcher();
    d.room.set("a", 3);
    const lane = new CommitFastLane(d);
    for (const n of [1, 2]) {
      expect(lane.admit("a")).toBe(true);
      lane.admitted(delivery("a", n));
    }
    expect(lane.admit("b")).toBe(false);
    expect(lane.tookAll("a")).toBe(true);
    expect(lane.tookAll("b")).toBe(false);
    lane.commit();
    expect(d.started.map((batch) => batch.map((c) => c.deliveryId))).toEqual([["dlv_a_1", "dlv_a_2"]]);
    expect(d.released.size).toBe(0);
    expect(d.held.get("b")).toBe(0);
  });

  it("gives back its reservations and queue holds when the commit fails, and starts nothing", () => {
    const d = new FakeDispatcher();
    d.room.set("a", 2);
    const lane = new CommitFastLane(d);
    lane.admit("a");
    lane.admitted(delivery("a", 1));
    lane.admit("a");
    lane.admitted(delivery("a", 2));
    lane.admit("a");
    lane.abort();
    expect(d.started).toEqual([]);
    expect(d.released.get("a")).toBe(2);
    expect(d.held.get("a")).toBe(0);
  });
});
