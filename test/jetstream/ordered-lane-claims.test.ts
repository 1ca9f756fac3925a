import { afterEach, describe, expect, it } from "vitest";
import { newId } from "../../src/core/ids.ts";
import { DeliveryStatus, type Endpoint } from "../../src/core/types.ts";
import type { JetStreamStore } from "../../src/store/jetstream/jetstream-store.ts";
import type { ClaimedDelivery } from "../../src/store/store.ts";
import { openJetStreamStore } from "../helpers/jetstream-store.ts";
import { startNats, type NatsServer } from "../helpers/nats.ts";
import { endpointRecord } from "../helpers/records.ts";
import { attemptOf, contractEvent, NO_ENDPOINT_CHANGES } from "../store/contract-cases.ts";

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * An ordered lane is a consumer with one message out at a time. A pull of a lane whose one
 * place is taken, with messages queued behind, is not answered by the server until that
 * place frees (the puller gives up on it after 2 s). Two processes' stores on one
 * nats-server: a claim never waits on such a pull, and what reaches a process late is
 * claimed from its buffer.
 */
describe("JetStream ordered lanes: a head that came late", () => {
  const opened: { nats?: NatsServer; stores: JetStreamStore[] } = { stores: [] };
  afterEach(async () => {
    for (const store of opened.stores.splice(0)) await store.close();
    await opened.nats?.stop();
    opened.nats = undefined;
  });

  async function orderedEndpoint(store: JetStreamStore): Promise<Endpoint> {
    const now = Date.now();
    const tenantId = newId("tnt");
    await store.createTenant({ id: tenantId, name: "ordered lanes", rateLimitPerSecond: 0, metadata: {}, createdMs: now, updatedMs: now });
    const endpoint = endpointRecord(tenantId, { ordering: "ordered_by_key" });
    await store.createEndpoint(endpoint);
    return endpoint;
  }

  const claimOrdered = async (store: JetStreamStore, endpoint: Endpoint): Promise<ClaimedDelivery[]> =>
    (await store.claim([{ endpointId: endpoint.id, limit: 10, ordered: true }], Date.now()))[0]?.claimed ?? [];

  it("a claim does not wait on a lane held elsewhere, and takes a head that came late at once", { timeout: 30_000 }, async () => {
    const nats = (opened.nats = await startNats());
    const a = await openJetStreamStore(nats.url);
    const b = await openJetStreamStore(nats.url);
    opened.stores.push(a, b);
    const endpoint = await orderedEndpoint(a);
    // b learns of the endpoint from the config bucket.
    await expect.poll(async () => (await b.getEndpoint(endpoint.id))?.id, { timeout: 5_000 }).toBe(endpoint.id);
    const keyed = (n: number) => contractEvent(endpoint.tenantId, `{"n":${n}}`, { orderingKey: "k" });
    await a.publish([[keyed(1), keyed(2)]], () => [endpoint.id], Date.now());

    // Process a takes the key's head and parks it for a retry 3 s away (a nak with that delay).
    const [head, ...rest] = await claimOrdered(a, endpoint);
    expect(head).toBeDefined();
    expect(rest).toHaveLength(0);
    const parkedMs = Date.now();
    await a.complete([attemptOf(head as ClaimedDelivery, DeliveryStatus.Retrying, parkedMs, parkedMs + 3_000)], NO_ENDPOINT_CHANGES, parkedMs);

    // Process b does not know it is parked: the server holds back its answer to b's pull of the
    // lane until the head is settled. b's claim does not wait for it; the head, handed out again
    // when its delay ends, reaches b later on that pull.
    const unanswered = performance.now();
    expect(await claimOrdered(b, endpoint)).toHaveLength(0);
    expect(performance.now() - unanswered).toBeLessThan(1_000);
    await sleep(Math.max(0, parkedMs + 3_500 - Date.now()));
    // A new event wakes b's view of the endpoint, so the lane is worth pulling again.
    await a.publish([[keyed(3)]], () => [endpoint.id], Date.now());
    await sleep(200);

    // b holds the head now; pulling its lane again would wait out the guard once more.
    const started = performance.now();
    const claimed = await claimOrdered(b, endpoint);
    const tookMs = performance.now() - started;
    expect(claimed.map((c) => c.deliveryId)).toEqual([head?.deliveryId]);
    expect(claimed[0]?.attempts).toBe(1);
    expect(tookMs).toBeLessThan(1_000);
  });
});
