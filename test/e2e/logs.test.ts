import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { clients, json, type Clients } from "../helpers/clients.ts";
import { eventually, Receiver } from "../helpers/receiver.ts";
import { startServer, type ServerProcess } from "../helpers/server.ts";

// Operational log lines (design brief, "Operator experience"): a dead-lettered delivery, a
// breaker opening or closing, an endpoint disabled by 410 each write one structured line; an
// incident repeating them writes a bounded number, then one line counting the rest.

type Line = Record<string, unknown>;

const receivers: Receiver[] = [];
afterEach(async () => {
  for (const r of receivers.splice(0)) await r.close();
});

async function receiver(status: () => number): Promise<Receiver> {
  const r = await Receiver.start(() => ({ status: status() }));
  receivers.push(r);
  return r;
}

async function started(args: string[]): Promise<{ server: ServerProcess; api: Clients }> {
  const server = await startServer({ args });
  return { server, api: clients(server.baseUrl, "grpc") };
}

const linesOf = (server: ServerProcess, msg: string, endpointId?: string): Line[] =>
  server.logs.filter((l) => l.msg === msg && (endpointId === undefined || l.endpointId === endpointId));

/** One attempt per delivery: every failure is a dead-letter at once. */
const noRetries = { maxAttempts: 1 };

describe("operational log lines", () => {
  let s: { server: ServerProcess; api: Clients };
  beforeAll(async () => {
    s = await started(["--breaker-threshold", "3", "--breaker-cooldown", "1s"]);
  });
  afterAll(async () => {
    await s.server.stop();
    s.server.cleanup();
  });

  it("a dead-lettered delivery writes one warning naming it", async () => {
    const { api, server } = s;
    const rx = await receiver(() => 500);
    const tenantId = (await api.tenants.createTenant({ name: "logs-dead" })).tenant!.id;
    const endpointId = (await api.endpoints.createEndpoint({ tenantId, url: rx.url, retryPolicy: noRetries })).endpoint!.id;
    const { results } = await api.events.publish({ events: [{ tenantId, type: "logs.dead", payload: json({}) }] });
    const [line] = await eventually(async () => {
      const found = linesOf(server, "delivery dead-lettered", endpointId);
      return found.length > 0 && found;
    }, 15_000, "the dead-letter line");
    expect(line).toMatchObject({ level: 40, kind: "dead-letter", tenantId, endpointId, eventId: results[0]!.eventId, attempts: 1, statusCode: 500, error: "HTTP 500" });
    expect(String(line!.deliveryId)).toMatch(/^dlv_/);
    expect(linesOf(server, "delivery dead-lettered", endpointId)).toHaveLength(1);
  });

  it("a breaker opening and closing each write one line", async () => {
    const { api, server } = s;
    let healthy = false;
    const rx = await receiver(() => (healthy ? 200 : 500));
    const tenantId = (await api.tenants.createTenant({ name: "logs-breaker" })).tenant!.id;
    const endpointId = (
      await api.endpoints.createEndpoint({ tenantId, url: rx.url, maxInFlight: 1, retryPolicy: { maxAttempts: 10, initialBackoff: { nanos: 50_000_000 } } })
    ).endpoint!.id;
    await api.events.publish({ events: [{ tenantId, type: "logs.breaker", payload: json({}) }] });
    // Three failures in a row open it.
    const [opened] = await eventually(async () => {
      const found = linesOf(server, "circuit breaker opened: endpoint paused", endpointId);
      return found.length > 0 && found;
    }, 15_000, "the breaker-open line");
    expect(opened).toMatchObject({ level: 40, kind: "breaker-open", tenantId, endpointId, consecutiveFailures: 3 });
    // The probe after the 1 s cool-down succeeds and closes it.
    healthy = true;
    const [closed] = await eventually(async () => {
      const found = linesOf(server, "circuit breaker closed: endpoint resumed", endpointId);
      return found.length > 0 && found;
    }, 15_000, "the breaker-close line");
    expect(closed).toMatchObject({ level: 30, kind: "breaker-close", endpointId });
    expect(linesOf(server, "circuit breaker opened: endpoint paused", endpointId)).toHaveLength(1);
    // Webhook URLs often carry tokens: the log never shows them.
    expect(JSON.stringify(server.logs)).not.toContain(rx.url);
  });

  it("an endpoint answering 410 Gone is disabled with one line", async () => {
    const { api, server } = s;
    const rx = await receiver(() => 410);
    const tenantId = (await api.tenants.createTenant({ name: "logs-gone" })).tenant!.id;
    const endpointId = (await api.endpoints.createEndpoint({ tenantId, url: rx.url })).endpoint!.id;
    await api.events.publish({ events: [{ tenantId, type: "logs.gone", payload: json({}) }] });
    const [line] = await eventually(async () => {
      const found = linesOf(server, "endpoint disabled", endpointId);
      return found.length > 0 && found;
    }, 15_000, "the endpoint-disabled line");
    expect(line).toMatchObject({ level: 40, kind: "endpoint-gone", tenantId, endpointId });
    expect(String(line!.reason)).toContain("410 Gone");
  });
});

describe("a flood of dead-letters", () => {
  it("writes at most 10 lines per 10 s, then one line with the count left out", async () => {
    // No breaker in reach: all 300 fail at full speed.
    const { server, api } = await started(["--breaker-threshold", "100000"]);
    try {
      const rx = await receiver(() => 500);
      const tenantId = (await api.tenants.createTenant({ name: "logs-flood" })).tenant!.id;
      await api.endpoints.createEndpoint({ tenantId, url: rx.url, retryPolicy: noRetries });
      const N = 300;
      const started = Date.now();
      await api.events.publish({ events: Array.from({ length: N }, (_, n) => ({ tenantId, type: "logs.flood", payload: json({ n }) })) });
      await rx.waitFor((r) => r.length >= N, 30_000);
      // Every dead-letter is either written or counted in a summary (summaries come as each 10 s window ends).
      const count = (): { written: number; suppressed: number; summaries: number } => {
        const kind = server.logs.filter((l) => l.kind === "dead-letter");
        const summaries = kind.filter((l) => typeof l.suppressed === "number");
        return {
          written: kind.length - summaries.length,
          suppressed: summaries.reduce((sum, l) => sum + (l.suppressed as number), 0),
          summaries: summaries.length,
        };
      };
      await eventually(async () => {
        const c = count();
        return c.written + c.suppressed === N;
      }, 25_000, "all dead-letters written or counted");
      const windows = Math.ceil((Date.now() - started) / 10_000) + 1;
      const { written, summaries } = count();
      expect(written).toBeGreaterThanOrEqual(10);
      expect(written).toBeLessThanOrEqual(10 * windows);
      expect(summaries).toBeGreaterThanOrEqual(1);
      expect(summaries).toBeLessThanOrEqual(windows);
      expect(server.logs.find((l) => typeof l.suppressed === "number")).toMatchObject({ level: 40, kind: "dead-letter", windowMs: 10_000 });
    } finally {
      for (const r of receivers.splice(0)) await r.close();
      await server.stop();
      server.cleanup();
    }
  });
});
