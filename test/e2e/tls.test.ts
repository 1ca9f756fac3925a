import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { readFileSync } from "node:fs";
import https from "node:https";
import net from "node:net";
import tls from "node:tls";
import * as grpc from "@grpc/grpc-js";
import { fromBinary, toBinary, create } from "@bufbuild/protobuf";
import { createConnectTransport, createGrpcTransport, createGrpcWebTransport } from "@connectrpc/connect-node";
import { authHeaders, TEST_ADMIN_KEY } from "../helpers/auth.ts";
import { bearer, clientsOver } from "../helpers/clients.ts";
import { rejection } from "../helpers/errors.ts";
import { runCli, startServer, tempDir, type ServerProcess } from "../helpers/server.ts";
import { CreateTenantRequestSchema, CreateTenantResponseSchema } from "../../src/gen/hookline/v1/tenant_pb.ts";

// The loopback test PKI (test/fixtures/tls/make.sh): a CA and a server certificate for 127.0.0.1.
const TLS_DIR = new URL("../fixtures/tls/", import.meta.url).pathname;
const ca = readFileSync(`${TLS_DIR}ca.pem`);
const HEADER_MS = 500;
const IDLE_MS = 1000;
const SLACK_MS = 4000;

let server: ServerProcess;
let url: string;
beforeAll(async () => {
  server = await startServer({
    args: ["--tls-cert", `${TLS_DIR}server.pem`, "--tls-key", `${TLS_DIR}server-key.pem`, "--header-timeout", `${HEADER_MS}ms`, "--idle-timeout", `${IDLE_MS}ms`],
  });
  url = `https://127.0.0.1:${server.port}`;
});
afterAll(async () => {
  await server.stop();
  server.cleanup();
});

describe("TLS on the one port", () => {
  it("the listening log says TLS", () => {
    expect(server.logs.find((l) => l.msg === "hookline listening")?.tls).toBe(true);
  });

  it("@grpc/grpc-js with the CA as root certificate calls over HTTP/2", async () => {
    const client = new grpc.Client(`127.0.0.1:${server.port}`, grpc.credentials.createSsl(ca));
    try {
      const metadata = new grpc.Metadata();
      for (const [k, v] of Object.entries(authHeaders())) metadata.set(k, v);
      const res = await new Promise<ReturnType<typeof fromBinary<typeof CreateTenantResponseSchema>>>((resolve, reject) => {
        client.makeUnaryRequest(
          "/hookline.v1.TenantService/CreateTenant",
          (req: Uint8Array) => Buffer.from(req),
          (bytes: Buffer) => fromBinary(CreateTenantResponseSchema, bytes),
          toBinary(CreateTenantRequestSchema, create(CreateTenantRequestSchema, { name: "over-tls-grpc-js" })),
          metadata,
          (err, value) => (err || !value ? reject(err ?? new Error("no response")) : resolve(value)),
        );
      });
      expect(res.tenant?.name).toBe("over-tls-grpc-js");
    } finally {
      client.close();
    }
  });

  it("Connect over HTTP/1.1 and HTTP/2, gRPC and gRPC-Web all work on the same TLS port", async () => {
    const interceptors = [bearer(TEST_ADMIN_KEY)];
    const nodeOptions = { ca };
    const transports = {
      "connect-http1": createConnectTransport({ baseUrl: url, httpVersion: "1.1", nodeOptions, interceptors }),
      "connect-http2": createConnectTransport({ baseUrl: url, httpVersion: "2", nodeOptions, interceptors }),
      grpc: createGrpcTransport({ baseUrl: url, nodeOptions, interceptors }),
      "grpc-web-http1": createGrpcWebTransport({ baseUrl: url, httpVersion: "1.1", nodeOptions, interceptors }),
    };
    for (const [name, t] of Object.entries(transports)) {
      const api = clientsOver(t);
      const created = await api.tenants.createTenant({ name: `over-tls-${name}` });
      const got = await api.tenants.getTenant({ id: created.tenant!.id });
      expect(got.tenant?.name, name).toBe(`over-tls-${name}`);
    }
  });

  it("GET /healthz answers over HTTPS", async () => {
    const status = await new Promise<number | undefined>((resolve, reject) => {
      https.get(`${url}/healthz`, { ca }, (res) => {
        res.resume();
        resolve(res.statusCode);
      }).on("error", reject);
    });
    expect(status).toBe(200);
  });

  it("cleartext HTTP/1.1 and HTTP/2 are refused", async () => {
    await expect(fetch(`http://127.0.0.1:${server.port}/healthz`)).rejects.toThrow();
    const api = clientsOver(createGrpcTransport({ baseUrl: `http://127.0.0.1:${server.port}`, interceptors: [bearer(TEST_ADMIN_KEY)] }));
    const err = await rejection(api.tenants.createTenant({ name: "cleartext" }));
    expect(err.code).not.toBe(0);
  });

  it("a client that connects and never finishes a handshake is cut after --header-timeout", async () => {
    const socket = net.connect(server.port, "127.0.0.1");
    socket.on("error", () => undefined);
    await closedWithin(socket, HEADER_MS + SLACK_MS);
  });

  it("a TLS connection that sends no request is closed after --header-timeout (HTTP/1.1) or --idle-timeout (HTTP/2)", async () => {
    for (const alpn of ["http/1.1", "h2"]) {
      const socket = tls.connect({ host: "127.0.0.1", servername: "localhost", port: server.port, ca, ALPNProtocols: [alpn] });
      socket.on("error", () => undefined);
      await new Promise<void>((resolve) => socket.once("secureConnect", () => resolve()));
      expect(socket.alpnProtocol).toBe(alpn);
      if (alpn === "h2") socket.write(Buffer.concat([Buffer.from("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", "latin1"), Buffer.from([0, 0, 0, 4, 0, 0, 0, 0, 0])]));
      await closedWithin(socket, IDLE_MS + SLACK_MS);
    }
  });
});

describe("TLS settings", () => {
  it("--tls-cert without --tls-key stops start-up with exit code 2", async () => {
    const r = await runCli(["serve", "--port", "0", "--tls-cert", `${TLS_DIR}server.pem`]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain("--tls-key");
  });

  it("an unreadable certificate file stops start-up naming the flag", async () => {
    const r = await runCli(["serve", "--port", "0", "--data-dir", tempDir(), "--tls-cert", "/nonexistent/cert.pem", "--tls-key", `${TLS_DIR}server-key.pem`]);
    expect(r.code).toBe(1);
    expect(r.stdout + r.stderr).toContain("--tls-cert");
  });
});

function closedWithin(socket: net.Socket, withinMs: number): Promise<void> {
  return new Promise((resolve, reject) => {
    if (socket.destroyed) return resolve();
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error(`the server kept the connection open for over ${withinMs}ms`));
    }, withinMs);
    socket.once("close", () => {
      clearTimeout(timer);
      resolve();
    });
    socket.resume();
  });
}
