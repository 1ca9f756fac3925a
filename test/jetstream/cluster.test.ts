import { afterAll, describe, expect, it } from "vitest";
import { clients, json } from "../helpers/clients.ts";
import { startNatsCluster, type NatsCluster } from "../helpers/nats.ts";
import { Receiver, markerOf } from "../helpers/receiver.ts";
import { startServer, type ServerProcess } from "../helpers/server.ts";
import { ms } from "../helpers/time.ts";
import { publishWithRetries } from "./load.ts";

describe("three-node NATS cluster with R3 streams", () => {
  const started: { cluster?: NatsCluster; server?: ServerProcess; rx?: Receiver } = {};
  afterAll(async () => {
    await started.server?.stop();
    await started.rx?.close();
    await started.cluster?.stop();
  });

  // The test timeout covers its own bounds: publishing up to 45 s (fsync-bound with
  // sync_interval always: about five stored messages per event), then up to 45 s for the rest.
  it("loses nothing acknowledged when a node is killed under load, and delivery goes on", async () => {
    const cluster = (started.cluster = await startNatsCluster(3));
    const rx = (started.rx = await Receiver.start(() => ({ status: 200, delayMs: 2 })));
    const server = (started.server = await startServer({ backend: "jetstream", natsUrl: cluster.urls, args: ["--nats-replicas", "3"] }));
    const api = clients(server.baseUrl, "grpc");
    const tenantId = (await api.tenants.createTenant({ name: "cluster" })).tenant!.id;
    await api.endpoints.createEndpoint({ tenantId, url: rx.url, maxInFlight: 16, timeout: ms(2000), rateLimitPerSecond: 300 });

    const load = publishWithRetries({ tenantId, apiFor: () => api, total: 2000, batch: 50, deadlineMs: 45_000, pauseMs: 25 });
    await rx.waitFor((r) => r.length >= 300, 20_000);
    await cluster.nodes[1]!.kill();
    const atKill = rx.requests.length;
    const { acked } = await load;
    expect(acked.size).toBe(2000);
    // Delivery went on after the node died.
    await rx.waitFor((r) => new Set(r.map(markerOf)).size >= acked.size, 45_000);
    expect(rx.requests.length).toBeGreaterThan(atKill);
    const delivered = new Set(rx.requests.map(markerOf));
    expect([...acked].filter((n) => !delivered.has(n))).toEqual([]);
  }, 120_000);

  it("waits for a cluster that is still forming, then serves", async () => {
    const cluster = await startNatsCluster(3, { heldBack: 1 });
    let server: ServerProcess | undefined;
    const rx = await Receiver.start(() => ({ status: 200 }));
    try {
      // R3 streams cannot be placed on two nodes: hookline must wait for the third.
      const late = new Promise((resolve) => setTimeout(resolve, 3000)).then(() => cluster.startHeldBack());
      server = await startServer({ backend: "jetstream", natsUrl: cluster.urls, args: ["--nats-replicas", "3"] });
      await late;
      const waits = server.logs.filter((l) => l.msg === "JetStream cluster is not ready yet; trying again");
      // Each wait names its step: the first API request (while the meta leader is elected) or
      // the R3 streams and buckets (until the third node is up).
      expect(waits.length).toBeGreaterThan(0);
      for (const wait of waits) expect(String(wait.step)).toMatch(/^(reaching the JetStream API|stream HOOKLINE_\w+|bucket hookline_\w+)$/);

      const api = clients(server.baseUrl);
      const tenantId = (await api.tenants.createTenant({ name: "forming" })).tenant!.id;
      await api.endpoints.createEndpoint({ tenantId, url: rx.url });
      await api.events.publish({ events: [{ tenantId, type: "cluster.formed", payload: json({ n: 1 }) }] });
      await rx.waitFor((r) => r.length >= 1, 20_000);
    } finally {
      await server?.stop();
      await rx.close();
      await cluster.stop();
    }
  }, 90_000);
});
