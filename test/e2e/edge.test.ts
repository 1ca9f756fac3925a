import { afterAll, beforeAll, describe, expect, it } from "vitest";
import http2 from "node:http2";
import net from "node:net";
import { Code } from "@connectrpc/connect";
import { authHeaders } from "../helpers/auth.ts";
import { clients, clientsOver, transport } from "../helpers/clients.ts";
import { rejection } from "../helpers/errors.ts";
import { startServer, type ServerProcess } from "../helpers/server.ts";

// Short limits so the test sees them act; docs/security-edges.md lists the defaults.
const IDLE_MS = 1000;
const HEADER_MS = 500;
const MAX_CONNECTIONS = 20;
/** Slack for a loaded 2-core box on top of a timeout. */
const SLACK_MS = 4000;

let server: ServerProcess;
beforeAll(async () => {
  server = await startServer({
    args: ["--idle-timeout", `${IDLE_MS}ms`, "--header-timeout", `${HEADER_MS}ms`, "--max-connections", String(MAX_CONNECTIONS), "--max-request-bytes", "131072"],
  });
});
afterAll(async () => {
  await server.stop();
  server.cleanup();
});

function connect(): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(server.port, "127.0.0.1", () => resolve(socket));
    socket.on("error", () => undefined);
    socket.once("error", reject);
  });
}

/** Milliseconds until the server closes the socket; fails past `withinMs`. */
function closedWithin(socket: net.Socket, withinMs: number): Promise<number> {
  const start = Date.now();
  return new Promise((resolve, reject) => {
    if (socket.destroyed || socket.readableEnded) return resolve(0);
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error(`the server kept the connection open for over ${withinMs}ms`));
    }, withinMs);
    const done = (): void => {
      clearTimeout(timer);
      resolve(Date.now() - start);
    };
    socket.once("end", done);
    socket.once("close", done);
    socket.resume();
  });
}

async function healthz(): Promise<number> {
  const res = await fetch(`${server.baseUrl}/healthz`);
  await res.arrayBuffer();
  return res.status;
}

describe("idle connections are closed", () => {
  it("a connection that sends nothing is closed after --header-timeout", async () => {
    const socket = await connect();
    await closedWithin(socket, HEADER_MS + SLACK_MS);
  });

  it("half a set of HTTP/1.1 headers is cut after --header-timeout", async () => {
    const socket = await connect();
    socket.write("GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: ");
    await closedWithin(socket, HEADER_MS + SLACK_MS);
  });

  it("an HTTP/1.1 keep-alive connection with no request is closed after --idle-timeout", async () => {
    const socket = await connect();
    let answer = "";
    socket.on("data", (c: Buffer) => (answer += c.toString()));
    socket.write("GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n");
    await closedWithin(socket, IDLE_MS + SLACK_MS);
    expect(answer).toMatch(/^HTTP\/1.1 200/);
  });

  it("an HTTP/2 preface and SETTINGS, then nothing, is closed after --idle-timeout", async () => {
    const socket = await connect();
    // Preface plus an empty SETTINGS frame (length 0, type 4, flags 0, stream 0).
    socket.write(Buffer.concat([Buffer.from("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", "latin1"), Buffer.from([0, 0, 0, 4, 0, 0, 0, 0, 0])]));
    await closedWithin(socket, IDLE_MS + SLACK_MS);
  });

  it("an HTTP/2 connection with an open server stream outlives the idle timeout", async () => {
    const api = clients(server.baseUrl, "grpc");
    const tenantId = (await api.tenants.createTenant({ name: "edge-watch" })).tenant!.id;
    const watch = new AbortController();
    const stream = api.deliveries.watchDeliveries({ tenantId }, { signal: watch.signal });
    const ended = (async () => {
      try {
        for await (const _ of stream) void _;
        return "ended";
      } catch (err) {
        return watch.signal.aborted ? "aborted" : `failed: ${String(err)}`;
      }
    })();
    await new Promise((r) => setTimeout(r, IDLE_MS * 3));
    // The watch is still open, and the same client's next call works.
    expect(await Promise.race([ended, Promise.resolve("open")])).toBe("open");
    await api.tenants.getTenant({ id: tenantId });
    watch.abort();
    expect(await ended).toBe("aborted");
  });
});

describe("HTTP/1.1 answered before the request body arrived", () => {
  it("says Connection: close, so that a client does not send its next request on a connection about to end", async () => {
    const socket = await connect();
    let answer = "";
    socket.on("data", (c: Buffer) => (answer += c.toString("latin1")));
    // Headers of a unary call with a content type Connect refuses, and none of its body yet.
    socket.write(
      "POST /hookline.v1.TenantService/ListTenants HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: text/plain\r\nContent-Length: 64\r\n\r\n",
    );
    await closedWithin(socket, SLACK_MS);
    const head = answer.slice(0, answer.indexOf("\r\n\r\n")).toLowerCase();
    expect(head).toMatch(/^http\/1.1 4\d\d/);
    expect(head).toContain("connection: close");
  });

  it("keeps a connection whose request was read whole: the next request on it is answered", async () => {
    const socket = await connect();
    let answer = "";
    socket.on("data", (c: Buffer) => (answer += c.toString("latin1")));
    const request = "POST /hookline.v1.TenantService/ListTenants HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: text/plain\r\nContent-Length: 2\r\n\r\n{}";
    socket.write(request + request);
    const deadline = Date.now() + SLACK_MS;
    while ((answer.match(/HTTP\/1.1 /g) ?? []).length < 2 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    expect((answer.match(/HTTP\/1.1 4\d\d/g) ?? []).length).toBe(2);
    socket.destroy();
  });
});

describe("connection cap", () => {
  it("connections beyond --max-connections are closed at once, and idle ones make room again", async () => {
    const held = await Promise.all(Array.from({ length: MAX_CONNECTIONS }, () => connect()));
    // Let the server count them all before the next one arrives.
    await new Promise((r) => setTimeout(r, 100));
    const extra = await connect();
    const ms = await closedWithin(extra, HEADER_MS);
    expect(ms).toBeLessThan(HEADER_MS);
    // The held ones send nothing: the header timeout frees them, and the server answers again.
    await Promise.all(held.map((s) => closedWithin(s, HEADER_MS + SLACK_MS)));
    expect(await healthz()).toBe(200);
  });
});

describe("an oversized message fails one call, not the connection", () => {
  it("gRPC: RESOURCE_EXHAUSTED, the stream is reset after its status, and the same connection serves the next call", async () => {
    const session = http2.connect(server.baseUrl);
    session.on("error", () => undefined);
    try {
      const call = (declared: number, body: Buffer): Promise<{ status: string | undefined; closed: boolean }> =>
        new Promise((resolve) => {
          const req = session.request({
            ":method": "POST",
            ":path": "/hookline.v1.TenantService/CreateTenant",
            "content-type": "application/grpc",
            te: "trailers",
            ...authHeaders(),
          });
          let status: string | undefined;
          req.on("response", (h) => (status ??= h["grpc-status"] as string | undefined));
          req.on("trailers", (h) => (status = h["grpc-status"] as string | undefined));
          req.on("error", () => undefined);
          req.on("data", () => undefined);
          const timer = setTimeout(() => resolve({ status, closed: false }), 15_000);
          req.on("close", () => {
            clearTimeout(timer);
            resolve({ status, closed: true });
          });
          const prefix = Buffer.alloc(5);
          prefix.writeUInt32BE(declared, 1);
          req.write(prefix);
          // Far more than the stream's flow-control window: the server must tell us to stop.
          let sent = 0;
          const pump = (): void => {
            while (sent < body.length) {
              const chunk = body.subarray(sent, sent + 64 * 1024);
              sent += chunk.length;
              if (!req.write(chunk)) {
                req.once("drain", pump);
                return;
              }
            }
            req.end();
          };
          pump();
        });
      const big = await call(4_000_000, Buffer.alloc(4_000_000));
      expect(big).toEqual({ status: String(Code.ResourceExhausted), closed: true });
      // CreateTenantRequest{name: "ok"}: field 1, length 2.
      const small = await call(4, Buffer.from([0x0a, 0x02, 0x6f, 0x6b]));
      expect(small).toEqual({ status: "0", closed: true });
    } finally {
      session.close();
    }
  });

  it("a Connect gRPC client gets RESOURCE_EXHAUSTED and its next call succeeds", async () => {
    const api = clients(server.baseUrl, "grpc");
    const err = await rejection(api.tenants.createTenant({ name: "x".repeat(1_000_000) }));
    expect(err.code).toBe(Code.ResourceExhausted);
    await api.tenants.createTenant({ name: "after-oversized" });
  });

  it("a 64 KB id is echoed cut short in NOT_FOUND, and the connection serves the next call", async () => {
    for (const protocol of ["grpc", "connect-http2", "grpc-web-http1"] as const) {
      const api = clientsOver(transport(server.baseUrl, protocol));
      const id = "x".repeat(64 * 1024);
      const err = await rejection(api.tenants.getTenant({ id }));
      expect(err.code, protocol).toBe(Code.NotFound);
      expect(err.rawMessage.length, protocol).toBeLessThan(300);
      expect(err.rawMessage, protocol).toContain(`"${"x".repeat(128)}…"`);
      await api.tenants.createTenant({ name: "after-long-id" });
    }
  });
});

describe("a request message that cannot be decoded is INVALID_ARGUMENT", () => {
  // CreateTenantRequest bodies: name (field 1) with invalid UTF-8, a varint cut short, a length past the end.
  const BROKEN: Record<string, number[]> = {
    "invalid UTF-8 in a string": [0x0a, 0x02, 0xff, 0xfe],
    "a truncated varint": [0x08, 0xff],
    "a length past the end": [0x0a, 0x10, 0x41],
  };
  const PATH = "/hookline.v1.TenantService/CreateTenant";

  it.each(Object.entries(BROKEN))("Connect over HTTP/1.1 (application/proto): %s", async (_, bytes) => {
    const res = await fetch(`${server.baseUrl}${PATH}`, {
      method: "POST",
      headers: { "content-type": "application/proto", ...authHeaders() },
      body: new Uint8Array(bytes),
    });
    const body = (await res.json()) as { code: string; message: string };
    expect(res.status).toBe(400);
    expect(body.code).toBe("invalid_argument");
    expect(body.message).toContain("could not be decoded as hookline.v1.CreateTenantRequest");
  });

  it.each(Object.entries(BROKEN))("gRPC over HTTP/2 (length-prefixed): %s", async (_, bytes) => {
    const session = http2.connect(server.baseUrl);
    session.on("error", () => undefined);
    try {
      const { status, message } = await new Promise<{ status: string; message: string }>((resolve, reject) => {
        const req = session.request({ ":method": "POST", ":path": PATH, "content-type": "application/grpc", te: "trailers", ...authHeaders() });
        let status = "";
        let message = "";
        const take = (h: http2.IncomingHttpHeaders): void => {
          if (h["grpc-status"] !== undefined) status = String(h["grpc-status"]);
          if (h["grpc-message"] !== undefined) message = decodeURIComponent(String(h["grpc-message"]));
        };
        req.on("response", take);
        req.on("trailers", take);
        req.on("error", reject);
        req.on("data", () => undefined);
        req.on("close", () => resolve({ status, message }));
        const prefix = Buffer.alloc(5);
        prefix.writeUInt32BE(bytes.length, 1);
        req.end(Buffer.concat([prefix, Buffer.from(bytes)]));
      });
      expect(status).toBe(String(Code.InvalidArgument));
      expect(message).toContain("could not be decoded as hookline.v1.CreateTenantRequest");
    } finally {
      session.close();
    }
  });

  it("a broken message in the middle of PublishStream ends the stream with INVALID_ARGUMENT", async () => {
    const session = http2.connect(server.baseUrl);
    session.on("error", () => undefined);
    try {
      const status = await new Promise<string>((resolve, reject) => {
        const req = session.request({ ":method": "POST", ":path": "/hookline.v1.EventService/PublishStream", "content-type": "application/grpc", te: "trailers", ...authHeaders() });
        let status = "";
        const take = (h: http2.IncomingHttpHeaders): void => {
          if (h["grpc-status"] !== undefined) status = String(h["grpc-status"]);
        };
        req.on("response", take);
        req.on("trailers", take);
        req.on("error", reject);
        req.on("data", () => undefined);
        req.on("close", () => resolve(status));
        // PublishStreamRequest.request_id (field 1, a string) holding bytes that are not UTF-8.
        const broken = Buffer.from([0x0a, 0x05, 0xff, 0xff, 0xff, 0xff, 0xff]);
        const prefix = Buffer.alloc(5);
        prefix.writeUInt32BE(broken.length, 1);
        req.end(Buffer.concat([prefix, broken]));
      });
      expect(status).toBe(String(Code.InvalidArgument));
    } finally {
      session.close();
    }
  });
});
