/**
 * HttpSender in-process against real HTTP servers on loopback: what an attempt records of
 * the answer (status, Retry-After, the start of the body), and the per-task deadline for
 * requests on the wire and requests still waiting for a connection.
 */
import http from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, afterEach, describe, expect, it } from "vitest";
import { generateSecret, secretKey } from "../../src/core/secrets.ts";
import { signatureHeader } from "../../src/core/signing.ts";
import { HttpSender } from "../../src/dispatch/http-sender.ts";
import type { SendTask } from "../../src/dispatch/send-task.ts";

const servers: http.Server[] = [];
const senders: HttpSender[] = [];

async function serve(handler: http.RequestListener): Promise<string> {
  const server = http.createServer(handler);
  servers.push(server);
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook?x=1`;
}

function sender(connectionsPerOrigin?: number): HttpSender {
  const s = new HttpSender({ allowPrivateTargets: true, ...(connectionsPerOrigin === undefined ? {} : { connectionsPerOrigin }) });
  senders.push(s);
  return s;
}

function task(url: string, count: number, o: { timeoutMs?: number; secret?: string } = {}): SendTask {
  return {
    targets: [{ url, timeoutMs: o.timeoutMs ?? 5000, headers: { "x-tenant": "t1" }, secrets: [o.secret ?? generateSecret()] }],
    items: Array.from({ length: count }, (_, i) => ({ target: 0, webhookId: `dlv_${i}`, payload: Buffer.from(JSON.stringify({ n: i })) })),
  };
}

afterEach(async () => {
  await Promise.all(senders.splice(0).map((s) => s.close()));
  const open = servers.splice(0);
  for (const server of open) server.closeAllConnections();
  await Promise.all(open.map((s) => new Promise((r) => s.close(r))));
});
afterAll(() => servers.forEach((s) => s.close()));

describe("HttpSender", () => {
  it("POSTs the signed payload to the path and query, with the custom headers", async () => {
    const seen: { url: string; headers: http.IncomingHttpHeaders; body: string }[] = [];
    const url = await serve((req, res) => {
      let body = "";
      req.on("data", (c: Buffer) => (body += c.toString()));
      req.on("end", () => {
        seen.push({ url: req.url ?? "", headers: req.headers, body });
        res.end();
      });
    });
    const secret = generateSecret();
    const [result] = await sender().sendAll(task(url, 1, { secret }));
    expect(result?.statusCode).toBe(200);
    const [request] = seen;
    expect(request?.url).toBe("/hook?x=1");
    expect(request?.body).toBe('{"n":0}');
    expect(request?.headers["x-tenant"]).toBe("t1");
    expect(request?.headers["webhook-id"]).toBe("dlv_0");
    const expected = signatureHeader([secretKey(secret)], "dlv_0", Number(request?.headers["webhook-timestamp"]), Buffer.from('{"n":0}'));
    expect(request?.headers["webhook-signature"]).toBe(expected);
    expect(result?.signature).toBe(expected);
  });

  it("keeps the status, Retry-After and the first 1024 bytes of the answer", async () => {
    const body = "x".repeat(600) + "y".repeat(3000);
    const url = await serve((req, res) => {
      req.resume();
      res.writeHead(429, { "retry-after": "7" });
      // In pieces, so the kept start spans chunks.
      res.write(body.slice(0, 500));
      setTimeout(() => res.end(body.slice(500)), 20);
    });
    const [result] = await sender().sendAll(task(url, 1));
    expect(result?.statusCode).toBe(429);
    expect(result?.retryAfter).toBe("7");
    expect(result?.error).toBe("");
    expect(Buffer.from(result?.responseBody ?? []).toString()).toBe(body.slice(0, 1024));
  });

  it("records the status of an answer whose body is too long to drain, and the next POST still goes through", async () => {
    const url = await serve((req, res) => {
      req.resume();
      if (req.headers["webhook-id"] === "dlv_0") {
        res.writeHead(200);
        res.end(Buffer.alloc(512 * 1024, 97));
      } else res.end("fine");
    });
    const s = sender();
    const [big] = await s.sendAll(task(url, 1));
    expect(big?.statusCode).toBe(200);
    expect(big?.responseBody.length).toBe(1024);
    const [, next] = await s.sendAll(task(url, 2));
    expect(next?.statusCode).toBe(200);
    expect(Buffer.from(next?.responseBody ?? []).toString()).toBe("fine");
  });

  it("times out an attempt that gets no answer within the endpoint's timeout", async () => {
    const url = await serve((req) => req.resume());
    const started = Date.now();
    const [result] = await sender().sendAll(task(url, 1, { timeoutMs: 300 }));
    expect(result?.statusCode).toBe(0);
    expect(result?.error).toBe("timeout");
    expect(Date.now() - started).toBeGreaterThanOrEqual(250);
    expect(Date.now() - started).toBeLessThan(3000);
  });

  it("times out POSTs still waiting for a connection when the task's deadline passes", async () => {
    // One connection: the POSTs go one after another, 250 ms each, under a 400 ms deadline.
    const url = await serve((req, res) => {
      req.resume();
      setTimeout(() => res.end(), 250);
    });
    const started = Date.now();
    const results = await sender(1).sendAll(task(url, 3, { timeoutMs: 400 }));
    expect(results.map((r) => r.statusCode)).toEqual([200, 0, 0]);
    expect(results.slice(1).map((r) => r.error)).toEqual(["timeout", "timeout"]);
    expect(Date.now() - started).toBeLessThan(2000);
  });

  it("names the network error when nothing listens", async () => {
    const url = await serve((_req, res) => res.end());
    const server = servers.pop() as http.Server;
    await new Promise((r) => server.close(r));
    const [result] = await sender().sendAll(task(url, 1));
    expect(result?.statusCode).toBe(0);
    expect(result?.error).toMatch(/^ECONNREFUSED: /);
  });
});
