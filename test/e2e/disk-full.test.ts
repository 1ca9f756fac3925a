import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { execFileSync } from "node:child_process";
import { closeSync, mkdirSync, openSync, rmSync, writeSync } from "node:fs";
import { join } from "node:path";
import { Code, createClient } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import { DeliveryStatus } from "../../src/gen/hookline/v1/delivery_pb.ts";
import { Health, HealthCheckResponse_ServingStatus as ServingStatus } from "../../src/gen/grpc/health/v1/health_pb.ts";
import { clients, json } from "../helpers/clients.ts";
import { rejection } from "../helpers/errors.ts";
import { Receiver, eventually } from "../helpers/receiver.ts";
import { startServer, tempDir, type ServerProcess } from "../helpers/server.ts";

// A 2 MB tmpfs needs root to mount. CI runs as root and must run this; elsewhere it is skipped.
const isRoot = process.getuid?.() === 0;
const runIt = isRoot || process.env.CI === "true";

/** Writes a file until the file system is full; returns its path. */
function fill(dir: string): string {
  const path = join(dir, "filler");
  const fd = openSync(path, "w");
  try {
    for (const size of [256 * 1024, 16 * 1024, 1024, 64]) {
      const chunk = Buffer.alloc(size, 1);
      for (;;) {
        try {
          writeSync(fd, chunk);
        } catch (err) {
          if ((err as NodeJS.ErrnoException).code !== "ENOSPC") throw err;
          break;
        }
      }
    }
  } finally {
    closeSync(fd);
  }
  return path;
}

async function healthz(baseUrl: string): Promise<{ code: number; body: Record<string, unknown> }> {
  const res = await fetch(`${baseUrl}/healthz`);
  return { code: res.status, body: (await res.json()) as Record<string, unknown> };
}

describe.runIf(runIt)("a full disk", () => {
  const mountPoint = tempDir("hookline-diskfull-");
  const dataDir = join(mountPoint, "data");
  let server: ServerProcess | undefined;
  let receiver: Receiver;

  beforeAll(async () => {
    execFileSync("mount", ["-t", "tmpfs", "-o", "size=2m", "tmpfs", mountPoint]);
    mkdirSync(dataDir);
    // The first delivery is answered slowly: it is in flight while the disk fills up.
    receiver = await Receiver.start((_req, index) => ({ status: 200, delayMs: index === 0 ? 1500 : 0 }));
  });
  afterAll(async () => {
    await server?.stop();
    await receiver?.close();
    execFileSync("umount", [mountPoint]);
    rmSync(mountPoint, { recursive: true, force: true });
  });

  it("answers RESOURCE_EXHAUSTED and NOT_SERVING, keeps results until they record, and recovers when space is freed", async () => {
    server = await startServer({ dataDir, backend: "sqlite" });
    const api = clients(server.baseUrl, "grpc");
    const health = createClient(Health, createGrpcTransport({ baseUrl: server.baseUrl }));
    const { tenant } = await api.tenants.createTenant({ name: "full" });
    const { endpoint } = await api.endpoints.createEndpoint({ tenantId: tenant!.id, url: receiver.url });
    const publish = (n: number) =>
      api.events.publish({ events: [{ tenantId: tenant!.id, type: "disk.test", payload: json({ n, pad: "x".repeat(8000) }) }] });

    const first = (await publish(0)).results[0]!;
    await receiver.waitFor((r) => r.length === 1);
    // The attempt is out (its answer takes 1.5 s): the disk fills before its result is written.
    const filler = fill(mountPoint);

    const err = await eventually(async () => {
      const e = await rejection(publish(1));
      return e.code === Code.ResourceExhausted ? e : undefined;
    }, 10_000, "a publish refused for the full disk");
    expect(err.rawMessage).toContain(`disk full at ${dataDir}`);
    expect((await health.check({ service: "" })).status).toBe(ServingStatus.NOT_SERVING);
    const down = await healthz(server.baseUrl);
    expect(down.code).toBe(503);
    expect(down.body.status).toBe("store_unavailable");
    expect(String(down.body.reason)).toContain("disk full");
    // The in-flight attempt was answered but could not be recorded: still leased, not lost.
    await new Promise((r) => setTimeout(r, 2000));
    expect((await api.deliveries.listDeliveries({ eventId: first.eventId })).deliveries[0]?.status).toBe(DeliveryStatus.PENDING);

    rmSync(filler);
    await eventually(async () => (await health.check({ service: "" })).status === ServingStatus.SERVING, 15_000, "SERVING again");
    expect((await healthz(server.baseUrl)).code).toBe(200);

    // The kept result is written: the first delivery succeeded on its one attempt, never resent.
    await eventually(async () => {
      const { deliveries } = await api.deliveries.listDeliveries({ eventId: first.eventId });
      return deliveries[0]?.status === DeliveryStatus.SUCCEEDED;
    }, 15_000, "the kept result recorded");
    const again = (await publish(2)).results[0]!;
    await eventually(async () => {
      const { deliveries } = await api.deliveries.listDeliveries({ eventId: again.eventId });
      return deliveries[0]?.status === DeliveryStatus.SUCCEEDED;
    }, 15_000, "a publish after recovery delivered");
    const { stats } = await api.endpoints.getEndpointStats({ id: endpoint!.id });
    expect(stats?.inFlight).toBe(0n);
    expect(stats?.pending).toBe(0n);
    const firstId = (await api.deliveries.listDeliveries({ eventId: first.eventId })).deliveries[0]!.id;
    expect(receiver.requests.filter((r) => r.headers["webhook-id"] === firstId)).toHaveLength(1);
    expect((await api.deliveries.listAttempts({ deliveryId: firstId })).attempts).toHaveLength(1);
  });
});
