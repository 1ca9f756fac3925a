import { afterAll, describe, expect, it } from "vitest";
import { clients } from "../helpers/clients.ts";
import { startNats, type NatsServer } from "../helpers/nats.ts";
import { Receiver, eventually, markerOf } from "../helpers/receiver.ts";
import { startServer, type ServerProcess } from "../helpers/server.ts";
import { ms } from "../helpers/time.ts";
import { attemptsOf, publishWithRetries } from "./load.ts";

describe("three hookline processes on one NATS", () => {
  const started: { nats?: NatsServer; servers: ServerProcess[]; rx?: Receiver } = { servers: [] };
  afterAll(async () => {
    for (const s of started.servers) await s.stop().catch(() => undefined);
    await started.rx?.close();
    await started.nats?.stop();
  });

  // Each process pulls what it has room for, so the split follows each one's share of the
  // CPU: even on a quiet machine (within 7% of a third in five runs), uneven while other test
  // files load the two cores (one run: 2,508 to 4,089 of 9,360). The test asks that none is
  // starved; docs/jetstream.md has the figures.
  it("share the deliveries of several endpoints: each sends at least half of an even share", async () => {
    const nats = (started.nats = await startNats());
    const rx = (started.rx = await Receiver.start(() => ({ status: 200, delayMs: 5 })));
    const servers = await Promise.all([0, 1, 2].map(() => startServer({ backend: "jetstream", natsUrl: nats.url })));
    started.servers.push(...servers);
    const apis = servers.map((s) => clients(s.baseUrl, "grpc"));
    const [first] = apis;
    const tenantId = (await first!.tenants.createTenant({ name: "shared" })).tenant!.id;
    for (let i = 0; i < 6; i++) {
      await first!.endpoints.createEndpoint({ tenantId, url: `${rx.url}/e${i}`, maxInFlight: 8, timeout: ms(2000) });
    }
    for (const api of apis) await eventually(async () => (await api.endpoints.listEndpoints({ tenantId })).endpoints.length === 6, 5_000, "endpoints everywhere");

    const { acked } = await publishWithRetries({ tenantId, apiFor: (i) => apis[i % 3]!, total: 1500, batch: 50, deadlineMs: 60_000, pauseMs: 10 });
    expect(acked.size).toBe(1500);
    // Generous: alone this takes about 30 s, beside the bulk replay test several times that.
    await rx.waitFor((r) => new Set(r.map((q) => `${q.path}:${markerOf(q)}`)).size >= 1500 * 6, 150_000);

    // An attempt is counted once its result is recorded, a moment after the receiver has it.
    const attempts = await eventually(
      async () => {
        const counts = await Promise.all(servers.map(attemptsOf));
        return counts.reduce((a, b) => a + b, 0) >= 1500 * 6 && counts;
      },
      15_000,
      "every attempt counted",
    );
    const total = attempts.reduce((a, b) => a + b, 0);
    console.log(`attempts per process: ${attempts.join(", ")} of ${total}`);
    for (const n of attempts) expect(n / total).toBeGreaterThan((1 / 3) * 0.5);
  }, 270_000);
});
