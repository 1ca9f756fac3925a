import { createServer, type Server, type Socket } from "node:net";
import { afterAll, describe, expect, it } from "vitest";
import { unsupportedServer } from "../../src/store/jetstream/server-version.ts";
import type { ServerProcess } from "../helpers/server.ts";
import { startFailure } from "./round-trip.ts";

/**
 * Speaks just enough of the NATS client protocol to let a client connect, announcing the
 * given server version: an old nats-server without having one installed.
 */
async function fakeNats(version: string): Promise<{ url: string; server: Server; sockets: Set<Socket> }> {
  const sockets = new Set<Socket>();
  const server = createServer((socket) => {
    sockets.add(socket);
    socket.on("close", () => sockets.delete(socket));
    socket.on("error", () => {});
    const info = { server_id: "FAKE", server_name: "fake", version, proto: 1, go: "go1.19", host: "127.0.0.1", port: 0, headers: true, max_payload: 1048576, jetstream: true };
    socket.write(`INFO ${JSON.stringify(info)}\r\n`);
    socket.on("data", (chunk) => {
      for (const line of chunk.toString().split("\r\n")) if (line === "PING") socket.write("PONG\r\n");
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as { port: number };
  return { url: `nats://127.0.0.1:${port}`, server, sockets };
}

describe("nats-server version check", () => {
  const started: ServerProcess[] = [];
  afterAll(async () => {
    for (const s of started) await s.stop();
  });

  it("accepts 2.12.0 and later, refuses older or unreadable versions with the minimum named", () => {
    for (const ok of ["2.12.0", "2.15.2", "v2.13.0-RC.1", "3.0.0"]) expect(unsupportedServer(ok)).toBeUndefined();
    expect(unsupportedServer("2.9.10")).toMatch(/2\.9\.10 is too old: hookline needs 2\.12\.0 or later/);
    expect(unsupportedServer("2.11.4")).toMatch(/2\.11\.4 is too old: hookline needs 2\.12\.0 or later \(the first with atomic batch publish\)/);
    expect(unsupportedServer("1.99.99")).toMatch(/too old/);
    expect(unsupportedServer(undefined)).toMatch(/no readable version.*2\.12\.0 or later/);
    expect(unsupportedServer("dev")).toMatch(/no readable version/);
  });

  it("hookline refuses to start on a nats-server 2.9 and says which version it needs", async () => {
    const fake = await fakeNats("2.9.10");
    try {
      const failure = await startFailure({ backend: "jetstream", natsUrl: fake.url }, started);
      expect(failure).toMatch(/nats-server 2\.9\.10 is too old: hookline needs 2\.12\.0 or later/);
    } finally {
      for (const s of fake.sockets) s.destroy();
      fake.server.close();
    }
  });
});
