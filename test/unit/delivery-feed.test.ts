import { describe, expect, it } from "vitest";
import { HooklineError } from "../../src/core/errors.ts";
import { DeliveryStatus, type Delivery } from "../../src/core/types.ts";
import { DeliveryFeed } from "../../src/dispatch/delivery-feed.ts";

const change = (n: number, over: Partial<Delivery> = {}): Delivery => ({
  id: `dlv_${n}`,
  eventId: `evt_${n}`,
  endpointId: "ep_1",
  tenantId: "tnt_1",
  eventType: "a.b",
  status: DeliveryStatus.Succeeded,
  attempts: 1,
  nextAttemptMs: 0,
  lastStatusCode: 200,
  lastError: "",
  createdMs: 0,
  updatedMs: 0,
  ...over,
});

const ANY = { tenantId: "", endpointId: "", eventId: "" };
const tick = (): Promise<void> => new Promise((r) => setTimeout(r, 20));

/** Reads a watch stream in the background. */
function reader(feed: DeliveryFeed, filter: typeof ANY, key = "k") {
  const abort = new AbortController();
  const seen: string[] = [];
  let error: unknown;
  const done = (async () => {
    try {
      for await (const d of feed.watch(filter, abort.signal, key)) seen.push(d.id);
    } catch (err) {
      error = err;
    }
  })();
  return { seen, error: () => error, done, stop: () => abort.abort() };
}

describe("DeliveryFeed", () => {
  it("gives each watcher the changes its filter matches, in order", async () => {
    const feed = new DeliveryFeed();
    const all = reader(feed, ANY);
    const tenant2 = reader(feed, { ...ANY, tenantId: "tnt_2" });
    const endpoint = reader(feed, { ...ANY, endpointId: "ep_1" });
    const event = reader(feed, { ...ANY, eventId: "evt_2" });
    await tick();
    for (let n = 1; n <= 3; n++) feed.publish(change(n));
    feed.publish(change(4, { tenantId: "tnt_2", endpointId: "ep_2" }));
    await tick();
    expect(all.seen).toEqual(["dlv_1", "dlv_2", "dlv_3", "dlv_4"]);
    expect(tenant2.seen).toEqual(["dlv_4"]);
    expect(endpoint.seen).toEqual(["dlv_1", "dlv_2", "dlv_3"]);
    expect(event.seen).toEqual(["dlv_2"]);
    for (const r of [all, tenant2, endpoint, event]) r.stop();
    await Promise.all([all.done, tenant2.done, endpoint.done, event.done]);
    expect(feed.watching).toBe(false);
  });

  it("watchers sharing an index entry each apply the rest of their filter", async () => {
    const feed = new DeliveryFeed();
    const endpointOnly = reader(feed, { ...ANY, endpointId: "ep_1" });
    const endpointAndTenant = reader(feed, { ...ANY, endpointId: "ep_1", tenantId: "tnt_2" });
    await tick();
    feed.publish(change(1));
    feed.publish(change(2, { tenantId: "tnt_2" }));
    feed.publish(change(3, { endpointId: "ep_2", tenantId: "tnt_2" }));
    await tick();
    expect(endpointOnly.seen).toEqual(["dlv_1", "dlv_2"]);
    expect(endpointAndTenant.seen).toEqual(["dlv_2"]);
    for (const r of [endpointOnly, endpointAndTenant]) r.stop();
    await Promise.all([endpointOnly.done, endpointAndTenant.done]);
    expect(feed.watching).toBe(false);
  });

  it("drops a watcher that falls more than its buffer behind, saying by how much", async () => {
    const feed = new DeliveryFeed({ bufferPerWatcher: 5, maxWatchersPerKey: 10 });
    const abort = new AbortController();
    const stream = feed.watch(ANY, abort.signal, "k");
    const first = stream.next(); // attaches; never read further
    feed.publish(change(0));
    await first;
    for (let n = 1; n <= 10; n++) feed.publish(change(n));
    expect(feed.watching).toBe(false); // no longer fed: costs nothing from here on
    const err = await stream.next().then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(HooklineError);
    expect((err as HooklineError).code).toBe("resource_exhausted");
    // Checked every half buffer of changes: dropped between 6 and 5 + 3 unread.
    const behind = Number(/^watcher fell behind by (\d+) changes; reconnect$/.exec((err as HooklineError).message)?.[1]);
    expect(behind).toBeGreaterThan(5);
    expect(behind).toBeLessThanOrEqual(8);
  });

  it("caps the watchers open per key and frees the place when one ends", async () => {
    const feed = new DeliveryFeed({ bufferPerWatcher: 100, maxWatchersPerKey: 2 });
    const a = reader(feed, ANY, "alice");
    const b = reader(feed, ANY, "alice");
    const other = reader(feed, ANY, "bob");
    await tick();
    const c = reader(feed, ANY, "alice");
    await c.done;
    expect((c.error() as HooklineError).code).toBe("resource_exhausted");
    expect((c.error() as HooklineError).message).toContain("--max-watchers-per-key");
    expect(other.error()).toBeUndefined();
    a.stop();
    await a.done;
    const d = reader(feed, ANY, "alice");
    await tick();
    expect(d.error()).toBeUndefined();
    for (const r of [b, other, d]) r.stop();
    await Promise.all([b.done, other.done, d.done]);
  });

  it("shares the streaming budget in turn: 50 watchers over the budget all get every change, in order", async () => {
    const feed = new DeliveryFeed({ bufferPerWatcher: 1_000, maxWatchersPerKey: 100 });
    const readers = Array.from({ length: 50 }, () => reader(feed, ANY));
    await tick();
    for (let n = 1; n <= 20; n++) feed.publish(change(n));
    const want = Array.from({ length: 20 }, (_, i) => `dlv_${i + 1}`);
    // 1,000 messages are several periods' worth at the starting budget: they come in turns.
    const deadline = Date.now() + 10_000;
    while (readers.some((r) => r.seen.length < 20) && Date.now() < deadline) await tick();
    for (const r of readers) expect(r.seen).toEqual(want);
    for (const r of readers) r.stop();
    await Promise.all(readers.map((r) => r.done));
    expect(feed.watching).toBe(false);
  });

  it("ends a watcher that is waiting for its turn as soon as it is aborted", async () => {
    const feed = new DeliveryFeed({ bufferPerWatcher: 1_000, maxWatchersPerKey: 300 });
    const readers = Array.from({ length: 200 }, () => reader(feed, ANY));
    await tick();
    for (let n = 1; n <= 50; n++) feed.publish(change(n));
    // Far more than a period allows: most of them are now in line.
    const last = readers[199]!;
    last.stop();
    const started = Date.now();
    await last.done;
    expect(Date.now() - started).toBeLessThan(500);
    expect(last.error()).toBeUndefined();
    for (const r of readers) r.stop();
    await Promise.all(readers.map((r) => r.done));
    expect(feed.watching).toBe(false);
  });
});
