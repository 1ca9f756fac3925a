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
    expect((err as HooklineError).message).toBe("watcher fell behind by 6 changes; reconnect");
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
});
