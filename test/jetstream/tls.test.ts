import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startNats, type NatsServer } from "../helpers/nats.ts";
import { startServer, type ServerProcess } from "../helpers/server.ts";
import { expectDelivers, startFailure } from "./round-trip.ts";

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
    const tlsFlags = ["--nats-tls-ca", pem("ca.pem"), "--nats-tls-cert", pem("client.pem"), "--nats-tls-key", pem("client-key.pem")];
    const server = await startServer({ backend: "jetstream", natsUrl: nats.url, args: tlsFlags });
    servers.push(server);
    await expectDelivers(server, "tls");
  });

  it("refuses to start without a client certificate, naming the settings to check", async () => {
    const failure = await startFailure({ backend: "jetstream", natsUrl: nats.url, args: ["--nats-tls-ca", pem("ca.pem")] }, servers);
    expect(failure).toMatch(/cannot connect to NATS/);
    expect(failure).toMatch(/--nats-tls-cert/);
  });
});
