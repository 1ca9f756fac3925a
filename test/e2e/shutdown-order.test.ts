import { afterAll, describe, expect, it } from "vitest";
import { rmSync } from "node:fs";
import net from "node:net";
import { DeliveryStatus } from "../../src/gen/hookline/v1/delivery_pb.ts";
import { clients, json } from "../helpers/clients.ts";
import { Receiver, eventually } from "../helpers/receiver.ts";
import { startServer, tempDir, type ServerProcess } from "../helpers/server.ts";

/** An HTTP/1.1 request whose body never finishes: it keeps the listener busy until forced. */
function hangingRequest(port: number): net.Socket {
  const socket = net.connect(port, "127.0.0.1");
  socket.on("error", () => undefined);
  socket.write(
    "POST /hookline.v1.TenantService/ListTenants HTTP/1.1\r\nhost: 127.0.0.1\r\ncontent-type: application/json\r\ncontent-length: 100\r\n\r\n{",
  );
  return socket;
}

describe("graceful shutdown as one grace period", () => {
  const dataDir = tempDir("hookline-shutdown-");
  let server: ServerProcess | undefined;
  let receiver: Receiver | undefined;
  afterAll(async () => {
    await server?.stop();
    await receiver?.close();
    rmSync(dataDir, { recursive: true, force: true });
  });

  it("open requests and attempts in flight share the grace; unfinished attempts go back to the queue unrecorded", async () => {
    const graceMs = 6000;
    // The first attempt is answered long after the grace period; later ones at once.
    receiver = await Receiver.start((_req, index) => ({ status: 200, delayMs: index === 0 ? 60_000 : 0 }));
    server = await startServer({ dataDir, backend: "sqlite", args: ["--shutdown-grace", `${graceMs}ms`] });
    let api = clients(server.baseUrl, "grpc");
    const { tenant } = await api.tenants.createTenant({ name: "stopping" });
    await api.endpoints.createEndpoint({ tenantId: tenant!.id, url: receiver.url });
    const { results } = await api.events.publish({ events: [{ tenantId: tenant!.id, type: "a.b", payload: json({ n: 1 }) }] });
    await receiver.waitFor((r) => r.length === 1);
    const hanging = hangingRequest(server.port);
    await new Promise((r) => setTimeout(r, 200));

    const started = Date.now();
    expect(await server.stop()).toBe(0);
    const tookMs = Date.now() - started;
    hanging.destroy();
    // Listener and dispatcher waited out the same deadline, not one grace period each.
    expect(tookMs).toBeLessThan(graceMs * 1.75);
    expect(server.logs.some((l) => String(l.msg).includes("handed back to the queue"))).toBe(true);

    server = await startServer({ dataDir, backend: "sqlite" });
    api = clients(server.baseUrl, "grpc");
    const delivered = await eventually(async () => {
      const { deliveries } = await api.deliveries.listDeliveries({ eventId: results[0]!.eventId });
      return deliveries[0]?.status === DeliveryStatus.SUCCEEDED ? deliveries[0] : undefined;
    }, 20_000, "delivered after the restart");
    // The attempt cut short by the shutdown was not recorded as a failure.
    const { attempts } = await api.deliveries.listAttempts({ deliveryId: delivered.id });
    expect(attempts.map((a) => a.statusCode)).toEqual([200]);
  });
});
