import { describe, expect, it } from "vitest";
import http2 from "node:http2";
import { create, toBinary } from "@bufbuild/protobuf";
import { Code } from "@connectrpc/connect";
import { WatchDeliveriesRequestSchema } from "../../src/gen/hookline/v1/delivery_pb.ts";
import { authHeaders } from "../helpers/auth.ts";
import { createClient } from "@connectrpc/connect";
import { ApiKeyService } from "../../src/gen/hookline/v1/api_key_pb.ts";
import { clients, json, transport, type Clients } from "../helpers/clients.ts";
import { rejection } from "../helpers/errors.ts";
import { useHookline } from "../helpers/fixtures.ts";
import { eventually } from "../helpers/receiver.ts";

/** Opens a watch stream and counts what it reads in the background. */
function watch(api: Clients, req: { tenantId?: string; endpointId?: string }) {
  const abort = new AbortController();
  let seen = 0;
  let opened = false;
  let error: unknown;
  const done = (async () => {
    try {
      // The first message (no delivery) only says the watch is registered.
      for await (const change of api.deliveries.watchDeliveries(req, { signal: abort.signal })) if (change.delivery) seen++;
      else opened = true;
    } catch (err) {
      if (!abort.signal.aborted) error = err;
    }
  })();
  return {
    seen: () => seen,
    /** The server has registered the watch (its first message arrived). */
    opened: () => opened,
    error: () => error,
    done,
    async close() {
      abort.abort();
      await done;
    },
  };
}

/**
 * A gRPC WatchDeliveries call from a client that grants the server no flow-control window:
 * nothing it is sent can leave the server until `resume()`, like a client that stopped reading.
 */
function stalledWatch(port: number, tenantId: string) {
  const session = http2.connect(`http://127.0.0.1:${port}`, { settings: { initialWindowSize: 0 } });
  session.on("error", () => undefined);
  const stream = session.request({
    ":method": "POST",
    ":path": "/hookline.v1.DeliveryService/WatchDeliveries",
    "content-type": "application/grpc",
    te: "trailers",
    ...authHeaders(),
  });
  const message = toBinary(WatchDeliveriesRequestSchema, create(WatchDeliveriesRequestSchema, { tenantId }));
  const frame = Buffer.alloc(5 + message.length);
  frame.writeUInt32BE(message.length, 1);
  Buffer.from(message).copy(frame, 5);
  stream.end(frame);
  let bytes = 0;
  stream.on("data", (chunk: Buffer) => (bytes += chunk.length));
  const trailers = new Promise<http2.IncomingHttpHeaders>((resolve) => {
    stream.on("trailers", (t) => resolve(t));
    stream.on("response", (h) => {
      if (h["grpc-status"] !== undefined) resolve(h);
    });
  });
  return {
    bytes: () => bytes,
    trailers,
    resume() {
      session.settings({ initialWindowSize: 1 << 20 });
    },
    close() {
      session.destroy();
    },
  };
}

describe("WatchDeliveries fan-out", () => {
  const { server, api, receiver, newTenant } = useHookline({ args: ["--watcher-buffer", "400", "--max-watchers-per-key", "2"] });
  const keys = { createApiKey: (req: { tenantId: string; name: string }) => createClient(ApiKeyService, transport(server.baseUrl, "grpc")).createApiKey(req) };

  it("drops a watcher that stops reading, with RESOURCE_EXHAUSTED saying it fell behind; delivery goes on", async () => {
    const rx = await receiver();
    const tenantId = await newTenant("slow-watcher");
    await api.endpoints.createEndpoint({ tenantId, url: rx.url });
    const stalled = stalledWatch(server.port, tenantId);
    const healthy = watch(api, { tenantId });
    try {
      await new Promise((r) => setTimeout(r, 300));
      // More changes than the stalled stream's write buffer and its 400-change queue hold,
      // in bursts of 100 that the reading watcher drains before the next one: it is never
      // more than a burst behind, while the stalled one falls further behind with each.
      const total = 1200;
      for (let sent = 0; sent < total; sent += 100) {
        await api.events.publish({ events: Array.from({ length: 100 }, (_, i) => ({ tenantId, type: "w.t", payload: json({ n: sent + i }) })) });
        await rx.waitFor((r) => r.length >= sent + 100, 30_000);
        await eventually(async () => healthy.seen() >= sent + 100 || healthy.error() !== undefined, 20_000, `the reading watcher saw ${sent + 100} changes`);
        expect(healthy.error(), "the reading watcher was dropped").toBeUndefined();
      }
      // The reading watcher keeps up and saw every change.
      await eventually(async () => healthy.seen() === total, 20_000, `the reading watcher saw all ${total} changes`);
      stalled.resume();
      const trailers = await stalled.trailers;
      expect(Number(trailers["grpc-status"])).toBe(Code.ResourceExhausted);
      expect(decodeURIComponent(String(trailers["grpc-message"]))).toMatch(/^watcher fell behind by \d+ changes; reconnect$/);
      expect(healthy.error()).toBeUndefined();
    } finally {
      stalled.close();
      await healthy.close();
    }
  });

  it("caps the watch streams open at once per API key", async () => {
    const tenantId = await newTenant("capped");
    const keyFor = async (name: string) => (await keys.createApiKey({ tenantId, name })).key;
    const capped = clients(server.baseUrl, "grpc", await keyFor("capped caller"));
    const first = watch(capped, { tenantId });
    const second = watch(capped, { tenantId });
    try {
      await eventually(async () => first.opened() && second.opened(), 10_000, "two watches registered");
      const err = await rejection(
        (async () => {
          for await (const _ of capped.deliveries.watchDeliveries({ tenantId })) break;
        })(),
      );
      expect(err.code).toBe(Code.ResourceExhausted);
      expect(err.rawMessage).toContain("--max-watchers-per-key");
      // Another key, on the same tenant, is not affected.
      const other = watch(clients(server.baseUrl, "grpc", await keyFor("other caller")), { tenantId });
      await eventually(async () => other.opened() || other.error() !== undefined, 10_000, "other caller's watch answered");
      expect(other.error()).toBeUndefined();
      await other.close();
      // A closed stream frees its place.
      await first.close();
      const third = watch(capped, { tenantId });
      await eventually(async () => third.opened() || third.error() !== undefined, 10_000, "third watch answered");
      expect(third.error()).toBeUndefined();
      await third.close();
    } finally {
      await first.close();
      await second.close();
    }
  });
});

describe("200 watchers open", () => {
  const { server, api, receiver, newTenant } = useHookline({ args: ["--max-watchers-per-key", "500", "--watcher-buffer", "1000"] });

  it("every delivery still arrives and /healthz answers promptly", async () => {
    const rx = await receiver();
    const tenantId = await newTenant("watched");
    await api.endpoints.createEndpoint({ tenantId, url: rx.url, maxInFlight: 64 });
    const idle = await newTenant("unwatched-traffic");
    const watchApi = clients(server.baseUrl, "grpc");
    // Half watch the busy tenant (each sees every change), half watch a tenant with no traffic.
    const watchers = Array.from({ length: 200 }, (_, i) => watch(watchApi, { tenantId: i % 2 === 0 ? tenantId : idle }));
    try {
      await new Promise((r) => setTimeout(r, 500));
      const total = 2000;
      for (let sent = 0; sent < total; sent += 500) {
        await api.events.publish({ events: Array.from({ length: 500 }, (_, i) => ({ tenantId, type: "w.t", payload: json({ n: sent + i }) })) });
      }
      const started = Date.now();
      const res = await fetch(`${server.baseUrl}/healthz`);
      expect(res.status).toBe(200);
      expect(Date.now() - started).toBeLessThan(2000);
      await rx.waitFor((r) => r.length >= total, 60_000);
      expect(rx.uniqueIds().size).toBe(total);
      // Each busy-tenant watcher gets every change, or, if it could not keep up, is told so:
      // nothing is lost without a word. The others see nothing.
      const fellBehind = (w: ReturnType<typeof watch>): boolean => {
        const err = w.error();
        return err instanceof Error && err.message.includes("fell behind");
      };
      await eventually(
        async () => watchers.every((w, i) => i % 2 === 1 || w.seen() === total || fellBehind(w)),
        60_000,
        "every busy-tenant watcher saw every change or was told it fell behind",
      );
      expect(watchers.filter((_, i) => i % 2 === 1).every((w) => w.seen() === 0 && w.error() === undefined)).toBe(true);
    } finally {
      await Promise.all(watchers.map((w) => w.close()));
    }
  });
});
