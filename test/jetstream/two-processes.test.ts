import { afterAll, describe, expect, it } from "vitest";
import { clients } from "../helpers/clients.ts";
import { startNats, type NatsServer } from "../helpers/nats.ts";
import { Receiver, eventually, markerOf } from "../helpers/receiver.ts";
import { startServer, type ServerProcess } from "../helpers/server.ts";
import { ms } from "../helpers/time.ts";
import { attemptsOf, publishWithRetries } from "./load.ts";

describe("two hookline processes on one NATS", () => {
  const started: { nats?: NatsServer; servers: ServerProcess[]; rx?: Receiver } = { servers: [] };
  afterAll(async () => {
    for (const s of started.servers) await s.kill().catch(() => undefined);
    await started.rx?.close();
    await started.nats?.stop();
  });

  // The test timeout covers its own bounds: publishing up to 40 s (fsync-bound with
  // sync_interval always: about five stored messages per event), then up to 45 s for the rest.
  it("share the deliveries; after SIGKILL of one, every acknowledged event is still delivered", async () => {
    const nats = (started.nats = await startNats());
    const rx = (started.rx = await Receiver.start(() => ({ status: 200, delayMs: 5 })));
    // B's deliveries in flight when it dies come back after ack_wait.
    const args = ["--nats-ack-wait", "10s"];
    const a = await startServer({ backend: "jetstream", natsUrl: nats.url, args });
    const b = await startServer({ backend: "jetstream", natsUrl: nats.url, args });
    started.servers.push(a, b);
    const apiA = clients(a.baseUrl, "grpc");
    const apiB = clients(b.baseUrl, "grpc");

    const tenantId = (await apiA.tenants.createTenant({ name: "shared" })).tenant!.id;
    // Created through A, used through B: the config bucket carries it to every process.
    await apiA.endpoints.createEndpoint({ tenantId, url: rx.url, maxInFlight: 16, timeout: ms(2000), rateLimitPerSecond: 400 });
    await eventually(async () => (await apiB.endpoints.listEndpoints({ tenantId })).endpoints.length === 1, 5_000, "endpoint visible on B");

    let killed = false;
    const load = publishWithRetries({
      tenantId,
      apiFor: (i) => (killed || i % 2 === 0 ? apiA : apiB),
      total: 2000,
      batch: 50,
      deadlineMs: 40_000,
      pauseMs: 20,
    });
    await rx.waitFor((r) => r.length >= 300, 20_000);
    // Both processes took part: each has sent attempts of its own.
    expect(await attemptsOf(a)).toBeGreaterThan(0);
    expect(await attemptsOf(b)).toBeGreaterThan(0);

    await b.kill();
    killed = true;
    const { acked } = await load;
    expect(acked.size).toBeGreaterThan(1000);

    // B's unacknowledged deliveries come back after ack_wait (10 s) and A sends them.
    await rx.waitFor((r) => new Set(r.map(markerOf)).size >= acked.size, 45_000);
    const delivered = new Set(rx.requests.map(markerOf));
    const missing = [...acked].filter((n) => !delivered.has(n));
    expect(missing).toEqual([]);
    // Duplicates come only from what B had in flight when it died.
    expect(rx.requests.length - rx.uniqueIds().size).toBeLessThanOrEqual(16 + 50);
  }, 120_000);
});
