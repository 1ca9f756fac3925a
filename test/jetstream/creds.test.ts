import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { clients, json } from "../helpers/clients.ts";
import { natsAuth } from "../helpers/nats-auth.ts";
import { startNats, type NatsServer } from "../helpers/nats.ts";
import { Receiver } from "../helpers/receiver.ts";
import { startServer, tempDir, type ServerProcess } from "../helpers/server.ts";

describe("NATS with a credentials file (operator mode)", () => {
  let nats: NatsServer;
  let credsFile: string;
  const servers: ServerProcess[] = [];

  beforeAll(async () => {
    const auth = natsAuth();
    credsFile = join(tempDir(), "hookline.creds");
    writeFileSync(credsFile, auth.creds, { mode: 0o600 });
    nats = await startNats({ config: auth.serverConfig });
  });

  afterAll(async () => {
    for (const s of servers) await s.stop();
    await nats?.stop();
  });

  it("runs with --nats-creds and delivers", async () => {
    const server = await startServer({ backend: "jetstream", natsUrl: nats.url, args: ["--nats-creds", credsFile] });
    servers.push(server);
    const rx = await Receiver.start(() => ({ status: 200 }));
    try {
      const api = clients(server.baseUrl, "grpc");
      const tenantId = (await api.tenants.createTenant({ name: "creds" })).tenant!.id;
      await api.endpoints.createEndpoint({ tenantId, url: rx.url });
      await api.events.publish({ events: [{ tenantId, type: "creds.check", payload: json({ with: "creds" }) }] });
      await rx.waitFor((r) => r.length === 1);
      expect(JSON.parse(rx.requests[0]!.body.toString())).toEqual({ with: "creds" });
    } finally {
      await rx.close();
    }
  });

  it("refuses to start without credentials, naming the setting to check", async () => {
    const failure = await startServer({ backend: "jetstream", natsUrl: nats.url }).then(
      (s) => {
        servers.push(s);
        return "started";
      },
      (err: Error) => err.message,
    );
    expect(failure).toMatch(/cannot connect to NATS/);
    expect(failure).toMatch(/--nats-creds/);
  });
});
