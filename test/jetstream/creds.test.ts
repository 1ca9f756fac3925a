import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { natsAuth } from "../helpers/nats-auth.ts";
import { startNats, type NatsServer } from "../helpers/nats.ts";
import { startServer, tempDir, type ServerProcess } from "../helpers/server.ts";
import { expectDelivers, startFailure } from "./round-trip.ts";

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
    await expectDelivers(server, "creds");
  });

  it("refuses to start without credentials, naming the setting to check", async () => {
    const failure = await startFailure({ backend: "jetstream", natsUrl: nats.url }, servers);
    expect(failure).toMatch(/cannot connect to NATS/);
    expect(failure).toMatch(/--nats-creds/);
  });
});
