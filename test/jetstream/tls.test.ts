import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { clients, json } from "../helpers/clients.ts";
import { startNats, type NatsServer } from "../helpers/nats.ts";
import { Receiver } from "../helpers/receiver.ts";
import { startServer, type ServerProcess } from "../helpers/server.ts";

/** test/fixtures/tls/make.sh makes these: a CA, a server cert for 127.0.0.1, a client cert. */
const PKI = join(import.meta.dirname, "../fixtures/tls");
const pem = (name: string): string => join(PKI, name);

describe("NATS over mutual TLS", () => {
  let nats: NatsServer;
  const servers: ServerProcess[] = [];

  beforeAll(async () => {
    nats = await startNats({ tls: { certFile: pem("server.pem"), keyFile: pem("server-key.pem"), caFile: pem("ca.pem") } });
  });

  afterAll(async () => {
    for (const s of servers) await s.stop();
    await nats?.stop();
  });

  it("runs with --nats-tls-ca, --nats-tls-cert and --nats-tls-key and delivers", async () => {
    expect(nats.url.startsWith("tls://")).toBe(true);
    const server = await startServer({
      backend: "jetstream",
      natsUrl: nats.url,
      args: ["--nats-tls-ca", pem("ca.pem"), "--nats-tls-cert", pem("client.pem"), "--nats-tls-key", pem("client-key.pem")],
    });
    servers.push(server);
    const rx = await Receiver.start(() => ({ status: 200 }));
    try {
      const api = clients(server.baseUrl, "grpc");
      const tenantId = (await api.tenants.createTenant({ name: "tls" })).tenant!.id;
      await api.endpoints.createEndpoint({ tenantId, url: rx.url });
      await api.events.publish({ events: [{ tenantId, type: "tls.check", payload: json({ over: "tls" }) }] });
      await rx.waitFor((r) => r.length === 1);
      expect(JSON.parse(rx.requests[0]!.body.toString())).toEqual({ over: "tls" });
    } finally {
      await rx.close();
    }
  });

  it("refuses to start without a client certificate, naming the setting to check", async () => {
    const failure = await startServer({ backend: "jetstream", natsUrl: nats.url, args: ["--nats-tls-ca", pem("ca.pem")] }).then(
      (s) => {
        servers.push(s);
        return "started";
      },
      (err: Error) => err.message,
    );
    expect(failure).toMatch(/cannot connect to NATS/);
    expect(failure).toMatch(/--nats/);
  });
});
