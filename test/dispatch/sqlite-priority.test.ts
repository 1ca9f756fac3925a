import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { DeliveryStatus, type EventInput } from "../../src/core/types.ts";
import { SqliteStore } from "../../src/store/sqlite/sqlite-store.ts";
import type { StatementsByLimit } from "../../src/store/sqlite/statements-by-limit.ts";

/**
 * Priority lanes in the embedded store, at the seam: claims take an endpoint's due
 * deliveries highest priority first, per-key order on ordered endpoints still holds, and the
 * claim stays on the due index.
 */
describe("SqliteStore: claims by priority", () => {
  const dirs: string[] = [];
  const stores: SqliteStore[] = [];
  afterEach(async () => {
    for (const s of stores.splice(0)) await s.close();
    for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
  });

  function open(): SqliteStore {
    const dir = mkdtempSync(join(tmpdir(), "hookline-priority-"));
    dirs.push(dir);
    const store = new SqliteStore({ dataDir: dir, sync: "normal" });
    stores.push(store);
    return store;
  }

  const event = (n: number, priority: number, orderingKey = ""): EventInput => ({
    tenantId: "tnt_p",
    type: "prio.test",
    payload: new TextEncoder().encode(JSON.stringify({ n })),
    idempotencyKey: "",
    orderingKey,
    priority,
  });
  const marker = (payload: Uint8Array): number => (JSON.parse(new TextDecoder().decode(payload)) as { n: number }).n;

  it("takes higher priorities first, each priority oldest first; retries not yet due wait whatever their priority", async () => {
    const store = open();
    const now = 1_000_000;
    const toEndpoint = () => ["ep_a"];
    // A low backlog, then high ones, then a middle one.
    await store.publish([Array.from({ length: 6 }, (_, i) => event(i, 0))], toEndpoint, now, 0);
    await store.publish([[event(100, 9), event(101, 9), event(50, 5)]], toEndpoint, now + 1, 0);

    const [first] = await store.claim([{ endpointId: "ep_a", limit: 4, ordered: false }], now + 10);
    expect(first!.claimed.map((c) => marker(c.payload))).toEqual([100, 101, 50, 0]);

    // A high-priority retry due later does not jump the queue before it is due.
    const retry = first!.claimed[0]!;
    await store.complete(
      [
        {
          status: DeliveryStatus.Retrying,
          nextAttemptMs: now + 5_000,
          attempt: { id: "att_1", deliveryId: retry.deliveryId, number: 1, startedMs: now, durationMs: 1, statusCode: 500, error: "HTTP 500", responseBody: new Uint8Array() },
        },
      ],
      { disable: new Map(), failingSince: new Map() },
      now + 20,
    );
    const [second] = await store.claim([{ endpointId: "ep_a", limit: 10, ordered: false }], now + 30);
    expect(second!.claimed.map((c) => marker(c.payload))).toEqual([1, 2, 3, 4, 5]);
    // Nothing left due now: the next due time is the retry's.
    const [third] = await store.claim([{ endpointId: "ep_a", limit: 10, ordered: false }], now + 40);
    expect(third!.claimed).toEqual([]);
    expect(third!.nextDue).toBe(now + 5_000);
    expect(await store.nextDue("ep_a")).toBe(now + 5_000);
    expect(await store.nextDue("ep_none")).toBeUndefined();
    const [fourth] = await store.claim([{ endpointId: "ep_a", limit: 10, ordered: false }], now + 5_000);
    expect(fourth!.claimed.map((c) => marker(c.payload))).toEqual([100]);
  });

  it("a priority found empty is asked again once something opens a delivery there", async () => {
    const store = open();
    const now = 3_000_000;
    const toEndpoint = () => ["ep_m"];
    const claim = async (at: number, limit = 10) => (await store.claim([{ endpointId: "ep_m", limit, ordered: false }], at))[0]!;
    let attempts = 0;
    const settle = (claimed: { deliveryId: string }[], status: DeliveryStatus, at: number, next = 0) =>
      store.complete(
        claimed.map((c) => ({
          status,
          nextAttemptMs: next,
          attempt: { id: `att_${++attempts}`, deliveryId: c.deliveryId, number: 1, startedMs: at, durationMs: 1, statusCode: status === DeliveryStatus.Succeeded ? 200 : 500, error: "", responseBody: new Uint8Array() },
        })),
        { disable: new Map(), failingSince: new Map() },
        at,
      );
    // Only priority 0 so far: the first claims find every other priority empty.
    await store.publish([[event(1, 0), event(2, 0)]], toEndpoint, now, 0);
    expect((await claim(now + 1, 1)).claimed.map((c) => marker(c.payload))).toEqual([1]);
    const dead = (await claim(now + 2)).claimed;
    expect(dead.map((c) => marker(c.payload))).toEqual([2]);
    await settle(dead, DeliveryStatus.Dead, now + 3);

    // A publish at priority 7 opens that priority again.
    await store.publish([[event(3, 0), event(4, 7)]], toEndpoint, now + 4, 0);
    const both = (await claim(now + 5)).claimed;
    expect(both.map((c) => marker(c.payload))).toEqual([4, 3]);
    // A retry being recorded reopens its priority (7) too.
    await settle(both.slice(0, 1), DeliveryStatus.Retrying, now + 6, now + 7);
    await settle(both.slice(1), DeliveryStatus.Succeeded, now + 6);
    expect((await claim(now + 8)).claimed.map((c) => marker(c.payload))).toEqual([4]);

    // RetryDelivery of the dead one, and leases given back, are claimable again.
    await store.retryDelivery(dead[0]!.deliveryId, now + 9);
    expect((await claim(now + 10)).claimed.map((c) => marker(c.payload))).toEqual([2]);
    // Held now: 1 (never settled), 4 and 2.
    expect(await store.releaseLeases()).toBe(3);
    expect((await claim(now + 11)).claimed.map((c) => marker(c.payload))).toEqual([4, 1, 2]);
  });

  it("on an ordered endpoint a key's head goes first even when a later event of the key has a higher priority", async () => {
    const store = open();
    const now = 2_000_000;
    const toEndpoint = () => ["ep_o"];
    await store.publish([[event(1, 0, "a"), event(2, 0, "a"), event(3, 9, "a"), event(4, 9, "b"), event(5, 0, "c")]], toEndpoint, now, 0);
    const claimOrder: number[] = [];
    for (let round = 0; round < 5; round++) {
      const [result] = await store.claim([{ endpointId: "ep_o", limit: 10, ordered: true }], now + 10 + round);
      const got = result!.claimed;
      claimOrder.push(...got.map((c) => marker(c.payload)));
      await store.complete(
        got.map((c, i) => ({
          status: DeliveryStatus.Succeeded,
          nextAttemptMs: 0,
          attempt: { id: `att_${round}_${i}`, deliveryId: c.deliveryId, number: 1, startedMs: now, durationMs: 1, statusCode: 200, error: "", responseBody: new Uint8Array() },
        })),
        { disable: new Map(), failingSince: new Map() },
        now + 10 + round,
      );
    }
    // Round one takes each key's head, b (priority 9) first; a's later events follow one by one.
    expect(claimOrder).toEqual([4, 1, 5, 2, 3]);
  });

  it("each priority's claim and next-due look-up, and the endpoint's next-due, search the due index", () => {
    const store = open();
    const statements = (store as unknown as { stmt: Record<string, unknown> }).stmt;
    const sources = [
      // Claims are prepared per LIMIT, written as a literal: the plan for a batch of 10.
      ...(statements.claimAt as StatementsByLimit[]).map((st, i) => ({ name: `claimAt[${i}]`, source: st.get(10).source, branches: 1 })),
      ...(statements.nextDueAt as { source: string }[]).map((st, i) => ({ name: `nextDueAt[${i}]`, source: st.source, branches: 1 })),
      { name: "nextDue", source: (statements.nextDue as { source: string }).source, branches: 10 },
    ];
    expect(sources).toHaveLength(21);
    for (const { name, source, branches } of sources) {
      const plan = store.db.prepare(`EXPLAIN QUERY PLAN ${source}`).all({ endpoint: "ep", now: 1 }) as { detail: string }[];
      const searches = plan.filter((p) => /^(SEARCH|SCAN) (d|deliveries)\b/.test(p.detail));
      expect(searches, name).toHaveLength(branches);
      for (const s of searches) expect(s.detail, name).toMatch(/USING INDEX deliveries_due \(endpoint_id=\? AND priority=\?/);
      expect(plan.some((p) => p.detail.includes("TEMP B-TREE")), name).toBe(false);
    }
  });
});
