import { describe, expect, it } from "vitest";
import { Code, ConnectError } from "@connectrpc/connect";
import { clients, json } from "../helpers/clients.ts";
import { useHookline } from "../helpers/fixtures.ts";
import { eventually } from "../helpers/receiver.ts";
import { testBackend } from "../helpers/server.ts";
import { ms } from "../helpers/time.ts";

// GET /metrics (design brief, "Operator experience"): Prometheus text from prom-client with
// process and Node.js series, build info, RPCs by final code, backlog and endpoint gauges.

interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

const NAME = "[a-zA-Z_:][a-zA-Z0-9_:]*";
const SAMPLE = new RegExp(`^(${NAME})(?:\\{(.*)\\})? (\\S+)$`);
const LABEL = /([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"(?:,|$)/y;
const SUFFIXES = ["_bucket", "_sum", "_count"];

/** Parses the Prometheus text format strictly: every sample belongs to a family declared by # TYPE. */
function parsePrometheus(text: string): Sample[] {
  const types = new Map<string, string>();
  const samples: Sample[] = [];
  for (const line of text.split("\n")) {
    if (line === "") continue;
    if (line.startsWith("# HELP ")) continue;
    const type = /^# TYPE (\S+) (counter|gauge|histogram|summary|untyped)$/.exec(line);
    if (type) {
      types.set(type[1]!, type[2]!);
      continue;
    }
    const m = SAMPLE.exec(line);
    if (!m) throw new Error(`not a Prometheus sample line: ${line}`);
    const [, name, rawLabels, rawValue] = m as unknown as [string, string, string | undefined, string];
    const family = types.has(name) ? name : SUFFIXES.map((s) => (name.endsWith(s) ? name.slice(0, -s.length) : "")).find((f) => types.has(f));
    if (family === undefined) throw new Error(`sample ${name} has no # TYPE line before it`);
    const labels: Record<string, string> = {};
    if (rawLabels) {
      LABEL.lastIndex = 0;
      while (LABEL.lastIndex < rawLabels.length) {
        const l = LABEL.exec(rawLabels);
        if (!l) throw new Error(`bad labels in: ${line}`);
        labels[l[1]!] = l[2]!;
      }
    }
    // Prometheus reads values with Go's ParseFloat, which ignores case: prom-client writes "Nan".
    const special: Record<string, number> = { nan: NaN, "+inf": Infinity, inf: Infinity, "-inf": -Infinity };
    const value = special[rawValue.toLowerCase()] ?? Number(rawValue);
    if (Number.isNaN(value) && rawValue.toLowerCase() !== "nan") throw new Error(`bad value in: ${line}`);
    samples.push({ name, labels, value });
  }
  return samples;
}

function find(samples: Sample[], name: string, labels: Record<string, string> = {}): Sample[] {
  return samples.filter((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v));
}

function value(samples: Sample[], name: string, labels: Record<string, string> = {}): number | undefined {
  const found = find(samples, name, labels);
  return found.length === 0 ? undefined : found.reduce((sum, s) => sum + s.value, 0);
}

describe("GET /metrics", () => {
  // Two failures in a row open a breaker, so the dead delivery's endpoint also shows as paused.
  const { server, api, receiver, newTenant } = useHookline({ args: ["--breaker-threshold", "2"] });

  async function scrape(): Promise<Sample[]> {
    // No API key: /metrics is for the scraper.
    const res = await fetch(`${server.baseUrl}/metrics`);
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toMatch(/^text\/plain; version=0\.0\.4/);
    return parsePrometheus(await res.text());
  }

  it("has process and Node.js series and build info", async () => {
    const samples = await scrape();
    for (const name of ["process_cpu_seconds_total", "process_resident_memory_bytes", "process_open_fds", "nodejs_eventloop_lag_seconds", "nodejs_heap_size_used_bytes"]) {
      expect(find(samples, name), name).not.toHaveLength(0);
    }
    const build = find(samples, "hookline_build_info");
    expect(build).toHaveLength(1);
    expect(build[0]!.value).toBe(1);
    expect(build[0]!.labels).toMatchObject({ store: testBackend(), node_version: process.version });
    expect(build[0]!.labels.version).toMatch(/^\d+\.\d+\.\d+/);
  });

  it("counts RPCs by service, method and final code, unauthenticated and bad input included", async () => {
    const tenantId = await newTenant("metrics-rpc");
    for (let i = 0; i < 3; i++) await api.events.publish({ events: [{ tenantId, type: "metrics.rpc", payload: json({ i }) }] });
    const stranger = clients(server.baseUrl, "grpc", "hk_not_a_key_0000000000000000000000000000");
    await expect(stranger.tenants.listTenants({})).rejects.toSatisfy((e) => ConnectError.from(e).code === Code.Unauthenticated);
    await expect(api.events.publish({ events: [{ tenantId: "", type: "metrics.rpc", payload: json({}) }] })).rejects.toSatisfy(
      (e) => ConnectError.from(e).code === Code.InvalidArgument,
    );

    const samples = await scrape();
    const rpc = "hookline_rpc_requests_total";
    expect(value(samples, rpc, { service: "hookline.v1.EventService", method: "Publish", code: "ok" })).toBeGreaterThanOrEqual(3);
    expect(value(samples, rpc, { service: "hookline.v1.EventService", method: "Publish", code: "invalid_argument" })).toBeGreaterThanOrEqual(1);
    expect(value(samples, rpc, { service: "hookline.v1.TenantService", method: "ListTenants", code: "unauthenticated" })).toBeGreaterThanOrEqual(1);
    expect(value(samples, "hookline_rpc_duration_seconds_count", { service: "hookline.v1.EventService", method: "Publish" })).toBeGreaterThanOrEqual(4);
    expect(find(samples, "hookline_rpc_duration_seconds_bucket", { service: "hookline.v1.EventService", method: "Publish", le: "+Inf" })).toHaveLength(1);
    // Labels stay bounded: no tenant or endpoint ids.
    expect(samples.some((s) => Object.values(s.labels).some((v) => v.includes(tenantId)))).toBe(false);
    expect(value(samples, "hookline_events_published_total")).toBeGreaterThanOrEqual(3);
  });

  it("counts a stream when it ends and shows open watchers", async () => {
    const tenantId = await newTenant("metrics-watch");
    const abort = new AbortController();
    const watching = (async () => {
      for await (const _ of api.deliveries.watchDeliveries({ tenantId }, { signal: abort.signal })) {
        // Nothing is published to this tenant.
      }
    })().catch(() => undefined);
    await eventually(async () => value(await scrape(), "hookline_watch_streams")! >= 1, 10_000, "one open watch stream");
    abort.abort();
    await watching;
    const samples = await eventually(async () => {
      const s = await scrape();
      return value(s, "hookline_rpc_requests_total", { method: "WatchDeliveries" })! >= 1 && value(s, "hookline_watch_streams") === 0 && s;
    }, 10_000, "the ended stream counted");
    // The client went away: a cancel, not a success.
    expect(value(samples, "hookline_rpc_requests_total", { service: "hookline.v1.DeliveryService", method: "WatchDeliveries", code: "canceled" })).toBe(1);
  });

  it("counts attempts by what happened: success, retry, and fail for a delivery that died", async () => {
    const ok = await receiver(() => ({ status: 200 }));
    const broken = await receiver(() => ({ status: 500 }));
    const tenantId = await newTenant("metrics-attempts");
    await api.endpoints.createEndpoint({ tenantId, url: ok.url, eventTypes: ["ok.*"] });
    await api.endpoints.createEndpoint({
      tenantId,
      url: broken.url,
      eventTypes: ["broken.*"],
      retryPolicy: { maxAttempts: 2, initialBackoff: ms(50), maxBackoff: ms(100) },
    });
    await api.events.publish({
      events: [
        ...[1, 2, 3].map((n) => ({ tenantId, type: "ok.done", payload: json({ n }) })),
        { tenantId, type: "broken.done", payload: json({ n: 4 }) },
      ],
    });
    await ok.waitFor((r) => r.length >= 3);
    await broken.waitFor((r) => r.length >= 2);
    const samples = await eventually(async () => {
      const s = await scrape();
      const attempts = (outcome: string): number => value(s, "hookline_attempts_total", { outcome }) ?? 0;
      // Attempts count when judged, finished deliveries once their state is stored.
      const dead = value(s, "hookline_deliveries_finished_total", { status: "dead" }) ?? 0;
      return attempts("fail") >= 1 && attempts("success") >= 3 && dead >= 1 && s;
    }, 30_000, 'hookline_attempts_total{outcome="fail"}, the three successes and the dead delivery');
    expect(value(samples, "hookline_attempts_total", { outcome: "retry" })).toBeGreaterThanOrEqual(1);
    expect(value(samples, "hookline_attempt_duration_seconds_count")).toBeGreaterThanOrEqual(5);
    // Two failures in a row: that endpoint's breaker is open (for the 30 s default cool-down).
    expect(value(samples, "hookline_endpoints_breaker_open")).toBeGreaterThanOrEqual(1);
  });

  it("counts deliveries that skipped the queue: an idle endpoint's, up to its max in-flight (the embedded store)", async () => {
    const slow = await receiver(() => ({ status: 200, delayMs: 300 }));
    const tenantId = await newTenant("metrics-fast-lane");
    await api.endpoints.createEndpoint({ tenantId, url: slow.url, maxInFlight: 2 });
    const before = value(await scrape(), "hookline_deliveries_fast_lane_total") ?? 0;
    // One call, one commit: two deliveries start from it, the other three wait for a claim.
    await api.events.publish({ events: [1, 2, 3, 4, 5].map((n) => ({ tenantId, type: "lane.test", payload: json({ n }) })) });
    await slow.waitFor((r) => r.length >= 5, 15_000);
    expect(slow.uniqueIds().size).toBe(5);
    const started = (value(await scrape(), "hookline_deliveries_fast_lane_total") ?? 0) - before;
    // JetStream's queue is shared by every process: there each delivery is claimed.
    expect(started).toBe(testBackend() === "sqlite" ? 2 : 0);
  });

  it("shows the backlog by state, its oldest delivery's age, attempts in flight and disabled endpoints", async () => {
    // One slow attempt at a time: the first event is in flight, the rest wait.
    const slow = await receiver(() => ({ status: 200, delayMs: 20_000 }));
    const tenantId = await newTenant("metrics-backlog");
    await api.endpoints.createEndpoint({ tenantId, url: slow.url, maxInFlight: 1, timeout: ms(30_000) });
    await api.endpoints.createEndpoint({ tenantId, url: "https://example.com/never-called", disabled: true });
    await api.events.publish({ events: [1, 2, 3, 4].map((n) => ({ tenantId, type: "backlog.test", payload: json({ n }) })) });
    await slow.waitFor((r) => r.length >= 1);

    const samples = await eventually(async () => {
      const s = await scrape();
      const open = (state: string): number => value(s, "hookline_deliveries_open", { state }) ?? -1;
      return open("in_flight") >= 1 && open("pending") >= 3 && s;
    }, 15_000, "backlog gauges: 1 in flight, 3 pending");
    expect(find(samples, "hookline_deliveries_open", { state: "retrying" })).toHaveLength(1);
    expect(value(samples, "hookline_oldest_open_delivery_age_seconds")).toBeGreaterThan(0);
    expect(value(samples, "hookline_attempts_in_flight")).toBeGreaterThanOrEqual(1);
    expect(value(samples, "hookline_endpoints_disabled")).toBeGreaterThanOrEqual(1);
  });
});
