import { jetstreamManager, RetentionPolicy, StorageType, type JetStreamManager } from "@nats-io/jetstream";
import { connect, type NatsConnection } from "@nats-io/transport-node";
import { pino } from "pino";
import { afterEach, describe, expect, it } from "vitest";
import { newId } from "../../src/core/ids.ts";
import { DeliveryStatus, type Endpoint } from "../../src/core/types.ts";
import type { Logger } from "../../src/observability/logger.ts";
import type { JetStreamStore } from "../../src/store/jetstream/jetstream-store.ts";
import { DELIVERIES_STREAM } from "../../src/store/jetstream/layout.ts";
import type { ClaimedDelivery } from "../../src/store/store.ts";
import { openJetStreamStore } from "../helpers/jetstream-store.ts";
import { startNats, type NatsServer } from "../helpers/nats.ts";
import { endpointRecord } from "../helpers/records.ts";
import { attemptOf, contractEvent, NO_ENDPOINT_CHANGES } from "../store/contract-cases.ts";

/** The deliveries stream keeps acked messages until each lane's settled prefix is purged in bulk. */
describe("JetStream settled delivery messages", () => {
  const opened: { nats?: NatsServer; store?: JetStreamStore; nc?: NatsConnection } = {};
  afterEach(async () => {
    await opened.store?.close();
    await opened.nc?.close();
    await opened.nats?.stop();
    opened.store = opened.nc = opened.nats = undefined;
  });

  async function open(logger: Logger = pino({ level: "silent" })): Promise<{ store: JetStreamStore; jsm: JetStreamManager }> {
    const nats = (opened.nats ??= await startNats());
    const store = (opened.store = await openJetStreamStore(nats.url, { logger }));
    opened.nc ??= await connect({ servers: nats.url });
    return { store, jsm: await jetstreamManager(opened.nc) };
  }

  /** A tenant of its own with one endpoint. */
  async function newEndpoint(store: JetStreamStore): Promise<Endpoint> {
    const now = Date.now();
    const tenantId = newId("tnt");
    await store.createTenant({ id: tenantId, name: "settled", rateLimitPerSecond: 0, metadata: {}, createdMs: now, updatedMs: now });
    const endpoint = endpointRecord(tenantId);
    await store.createEndpoint(endpoint);
    return endpoint;
  }

  /** Publishes `n` events to a new endpoint, claims and succeeds every delivery; the stream's message count before the purge. */
  async function deliverAll(store: JetStreamStore, jsm: JetStreamManager, n: number): Promise<number> {
    const endpoint = await newEndpoint(store);
    const tenantId = endpoint.tenantId;
    const events = Array.from({ length: n }, (_, i) => contractEvent(tenantId, `{"n":${i}}`));
    for (let i = 0; i < n; i += 200) await store.publish([events.slice(i, i + 200)], () => [endpoint.id], Date.now());
    let done = 0;
    for (let round = 0; done < n && round < 500; round++) {
      const claimed: ClaimedDelivery[] = (await store.claim([{ endpointId: endpoint.id, limit: 100, ordered: false }], Date.now()))[0]?.claimed ?? [];
      if (claimed.length === 0) await new Promise((r) => setTimeout(r, 20));
      await store.complete(
        claimed.map((c) => attemptOf(c, DeliveryStatus.Succeeded, Date.now())),
        NO_ENDPOINT_CHANGES,
        Date.now(),
      );
      done += claimed.length;
    }
    expect(done).toBe(n);
    return (await jsm.streams.info(DELIVERIES_STREAM)).state.messages;
  }

  it("are purged once a lane has 1,000 of them, and nothing open goes with them", { timeout: 60_000 }, async () => {
    // The purge takes what is settled when it runs; the last claims' messages may wait for the next one.
    const { store, jsm } = await open();
    const info = await jsm.streams.info(DELIVERIES_STREAM);
    expect(info.config.retention).toBe(RetentionPolicy.Limits);
    expect(await deliverAll(store, jsm, 1_100)).toBeGreaterThan(0);
    await expect.poll(async () => (await jsm.streams.info(DELIVERIES_STREAM)).state.messages, { timeout: 20_000, interval: 200 }).toBeLessThanOrEqual(200);

    // What is still queued stays: a new delivery is claimable after the purge.
    const endpoint = await newEndpoint(store);
    await store.publish([[contractEvent(endpoint.tenantId, "{}")]], () => [endpoint.id], Date.now());
    await expect
      .poll(async () => (await store.claim([{ endpointId: endpoint.id, limit: 10, ordered: false }], Date.now()))[0]?.claimed.length ?? 0, { timeout: 5_000 })
      .toBe(1);
  });

  it("a stream made by an older hookline (a work queue) keeps working, with a warning that says how to switch", { timeout: 60_000 }, async () => {
    const nats = (opened.nats = await startNats());
    opened.nc = await connect({ servers: nats.url });
    const jsm = await jetstreamManager(opened.nc);
    await jsm.streams.add({ name: DELIVERIES_STREAM, subjects: ["hookline.dlv.>"], storage: StorageType.File, retention: RetentionPolicy.Workqueue });
    const warnings: string[] = [];
    const logger = pino({ level: "warn" }, { write: (line: string) => void warnings.push(line) });
    const { store } = await open(logger);
    expect(warnings.some((w) => w.includes(DELIVERIES_STREAM) && w.includes("nats stream rm"))).toBe(true);
    await deliverAll(store, jsm, 50);
    // On a work queue each ack removes its message.
    await expect.poll(async () => (await jsm.streams.info(DELIVERIES_STREAM)).state.messages, { timeout: 10_000 }).toBe(0);
  });
});
