/** Who should have received what, and what the fleet says arrived. */
import { Bitmap } from "./lib/bitmap.ts";
import type { FleetReport } from "./lib/protocol.ts";
import type { LatencySummary } from "./lib/samples.ts";
import { expectsDelivery, type PlacedEndpoint, type Topology } from "./topology.ts";

function deliveriesFor(topology: Topology, acked: Bitmap, events: number, counts: (e: PlacedEndpoint) => boolean): number {
  const perTenant = topology.byTenant.map((list) => list.filter(counts).length);
  let total = 0;
  for (let seq = 0; seq < events; seq++) if (acked.has(seq)) total += perTenant[seq % perTenant.length] as number;
  return total;
}

/** Deliveries of acked events to endpoints that should accept them. */
export const expectedDeliveries = (topology: Topology, acked: Bitmap, events: number): number => deliveriesFor(topology, acked, events, expectsDelivery);

/** Deliveries of acked events to every endpoint, failing ones included (what fan-out should create). */
export const fannedOutDeliveries = (topology: Topology, acked: Bitmap, events: number): number => deliveriesFor(topology, acked, events, () => true);

/** 2xx receipts so far at the endpoints that should accept everything. */
export function deliveredSoFar(okByEndpoint: readonly number[], topology: Topology): number {
  let total = 0;
  for (const e of topology.endpoints) if (expectsDelivery(e)) total += okByEndpoint[e.index] ?? 0;
  return total;
}

/** Acked events an expected endpoint never got with a 2xx. */
export function countLost(topology: Topology, acked: Bitmap, events: number, report: FleetReport): number {
  const received = new Map(report.endpoints.map((e) => [e.index, Bitmap.fromBase64(e.received)]));
  let lost = 0;
  for (const e of topology.endpoints.filter(expectsDelivery)) {
    const got = received.get(e.index) ?? new Bitmap();
    for (let seq = e.tenant; seq < events; seq += topology.byTenant.length) if (acked.has(seq) && !got.has(seq)) lost++;
  }
  return lost;
}

/** Receipts at the expected endpoints: how many, and when the last one came. */
export function receiptWindow(topology: Topology, report: FleetReport): { delivered: number; lastOkMs: number } {
  const expected = new Set(topology.endpoints.filter(expectsDelivery).map((e) => e.index));
  let delivered = 0;
  let lastOkMs = 0;
  for (const e of report.endpoints) {
    if (!expected.has(e.index)) continue;
    delivered += e.ok;
    lastOkMs = Math.max(lastOkMs, e.lastOkMs);
  }
  return { delivered, lastOkMs };
}

/**
 * Requests the fleet answered as the endpoints' profiles say (2xx, 500, 429): the attempts at
 * endpoints that are meant to succeed. 410s and held requests belong to endpoints that fail
 * on purpose.
 */
export function attemptsAnswered(report: FleetReport): number {
  return report.answered.ok + report.answered.error + report.answered.throttled;
}

/** Publish → receipt latency of the endpoints expected to succeed (their profile), else of all receipts. */
export function expectedLatency(report: FleetReport, topology: Topology): LatencySummary | undefined {
  const names = new Set(topology.endpoints.filter(expectsDelivery).map((e) => e.group.profile.name));
  return names.size === 1 ? report.latency[[...names][0] as string] : report.latency.all;
}
