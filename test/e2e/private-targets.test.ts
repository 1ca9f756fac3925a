import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { rmSync } from "node:fs";
import { clients, json } from "../helpers/clients.ts";
import { Receiver, eventually } from "../helpers/receiver.ts";
import { startServer, tempDir, type ServerProcess } from "../helpers/server.ts";

/**
 * Endpoints made while --allow-private-targets was on keep their URLs; served without the
 * flag, each connection is checked, so none of these forms of "this host" is reached.
 */
describe("private targets are refused at connect time, not only at creation", () => {
  const dataDir = tempDir("hookline-private-");
  let server: ServerProcess | undefined;
  let receiver: Receiver;

  beforeAll(async () => {
    receiver = await Receiver.start();
  });
  afterAll(async () => {
    await server?.stop();
    await receiver?.close();
    rmSync(dataDir, { recursive: true, force: true });
  });

  it("refuses 127.0.0.1, [::1], localhost, 0.0.0.0 and IPv6 forms of loopback after a restart without the flag", async () => {
    const port = new URL(receiver.url).port;
    const hosts: [string, string][] = [
      ["127.0.0.1", "127.0.0.1"],
      ["[::1]", "::1"],
      ["localhost", "localhost resolves to it"],
      ["0.0.0.0", "0.0.0.0"],
      ["[::ffff:127.0.0.1]", "IPv4-mapped 127.0.0.1"],
      ["[::127.0.0.1]", "IPv4-compatible"],
      ["127.1", "127.0.0.1"],
    ];

    server = await startServer({ dataDir, allowPrivateTargets: true });
    let api = clients(server.baseUrl, "grpc");
    const { tenant } = await api.tenants.createTenant({ name: "inside" });
    const endpoints = new Map<string, string>();
    for (const [host, reason] of hosts) {
      const { endpoint } = await api.endpoints.createEndpoint({
        tenantId: tenant!.id,
        url: `http://${host}:${port}/hook`,
        // A long backoff: one attempt each is enough to read the refusal.
        retryPolicy: { maxAttempts: 5, initialBackoff: { seconds: 600n }, maxBackoff: { seconds: 600n } },
      });
      endpoints.set(endpoint!.id, reason);
    }
    expect(await server.stop()).toBe(0);

    server = await startServer({ dataDir, allowPrivateTargets: false });
    api = clients(server.baseUrl, "grpc");
    const { results } = await api.events.publish({ events: [{ tenantId: tenant!.id, type: "probe.sent", payload: json({ n: 1 }) }] });
    expect(results[0]!.deliveryCount).toBe(hosts.length);
    const eventId = results[0]!.eventId;

    const deliveries = await eventually(async () => {
      const { deliveries } = await api.deliveries.listDeliveries({ eventId });
      return deliveries.length === hosts.length && deliveries.every((d) => d.attempts >= 1) ? deliveries : undefined;
    }, 20_000, "an attempt on every delivery");

    for (const d of deliveries) {
      const { attempts } = await api.deliveries.listAttempts({ deliveryId: d.id });
      const error = attempts[0]!.error;
      expect(attempts[0]!.statusCode).toBe(0);
      expect(error).toMatch(/^target address \S+ is .*; refused/);
      expect(error).toContain("--allow-private-targets");
      expect(error).toContain(endpoints.get(d.endpointId));
    }
    expect(receiver.requests).toHaveLength(0);
  });
});
