import { afterAll, describe, expect, it } from "vitest";
import { OrderingMode } from "../../src/gen/hookline/v1/endpoint_pb.ts";
import { clients, json } from "../helpers/clients.ts";
import { startNats, type NatsServer } from "../helpers/nats.ts";
import { Receiver } from "../helpers/receiver.ts";
import { startServer, type ServerProcess } from "../helpers/server.ts";
import { ms } from "../helpers/time.ts";
import { attemptsOf } from "./load.ts";

const KEYS = Array.from({ length: 20 }, (_, i) => `key-${String(i).padStart(2, "0")}`);
const PER_KEY = 50;

/**
 * Two processes pull the same ordered endpoint's lanes; at any moment most lanes' one message
 * is out with one of them. A pull of such a lane gets no answer from the server until that
 * message is settled, and a claim that waited for it held every other lane of the endpoint:
 * 1,000 events took minutes. They take seconds, in order per key.
 */
describe("an ordered endpoint served by two hookline processes", () => {
  const started: { nats?: NatsServer; servers: ServerProcess[]; rx?: Receiver } = { servers: [] };
  afterAll(async () => {
    for (const s of started.servers) await s.kill().catch(() => undefined);
    await started.rx?.close();
    await started.nats?.stop();
  });

  it("gets 20 keys × 50 events within a minute, each key in publish order", { timeout: 120_000 }, async () => {
    const nats = (started.nats = await startNats());
    const rx = (started.rx = await Receiver.start(() => ({ status: 200, delayMs: 2 })));
    const a = await startServer({ backend: "jetstream", natsUrl: nats.url });
    const b = await startServer({ backend: "jetstream", natsUrl: nats.url });
    started.servers.push(a, b);
    const apiA = clients(a.baseUrl, "grpc");
    const apiB = clients(b.baseUrl, "grpc");
    const tenantId = (await apiA.tenants.createTenant({ name: "ordered, two processes" })).tenant!.id;
    await apiA.endpoints.createEndpoint({ tenantId, url: rx.url, maxInFlight: 16, timeout: ms(2000), ordering: OrderingMode.ORDERED_BY_KEY });
    await expect.poll(async () => (await apiB.endpoints.listEndpoints({ tenantId })).endpoints.length, { timeout: 5_000 }).toBe(1);

    // Seq-major, keys interleaved, all through A: B learns of the work from A's wake-ups.
    for (let seq = 0; seq < PER_KEY; seq++) {
      await apiA.events.publish({ events: KEYS.map((key) => ({ tenantId, type: "account.changed", payload: json({ key, seq }), orderingKey: key })) });
    }
    await rx.waitFor((r) => r.length >= KEYS.length * PER_KEY, 60_000);

    // Both took part.
    expect(await attemptsOf(a)).toBeGreaterThan(0);
    expect(await attemptsOf(b)).toBeGreaterThan(0);
    const received = rx.requests.map((q) => JSON.parse(q.body.toString("utf8")) as { key: string; seq: number });
    for (const key of KEYS) {
      const seqs = received.filter((h) => h.key === key).map((h) => h.seq);
      expect(seqs, `requests of ${key}`).toEqual(Array.from({ length: PER_KEY }, (_, i) => i));
    }
  });
});
