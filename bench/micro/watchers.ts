/**
 * Delivery throughput with WatchDeliveries streams open, relative to none: a real hookline
 * process delivering to a receiver process, while this process holds 200 watch streams and
 * reads them. Cases: watchers filtered on other (idle) tenants, the dashboard case; and
 * watchers that see every change (unfiltered), the worst case. Rounds interleave the cases.
 * Besides the rate it reports hookline's CPU time per delivery (all its threads), which a
 * shared, noisy machine disturbs far less than the rate.
 *
 *   node --import tsx bench/micro/watchers.ts [events-per-round=5000] [rounds=3]
 */
import { setMaxListeners } from "node:events";
import { fileURLToPath } from "node:url";
import { createClient, type Client } from "@connectrpc/connect";
import { DeliveryService } from "../../src/gen/hookline/v1/delivery_pb.ts";
import { EndpointService } from "../../src/gen/hookline/v1/endpoint_pb.ts";
import { EventService } from "../../src/gen/hookline/v1/event_pb.ts";
import { TenantService } from "../../src/gen/hookline/v1/tenant_pb.ts";
import { startHookline } from "../hookline-server.ts";
import { spawnJsonChild, tsNodeArgs } from "../lib/child.ts";
import { requestText } from "../lib/http-json.ts";
import { sampleProcess } from "../lib/proc-stats.ts";
import { median } from "../lib/samples.ts";
import { apiTransport } from "../lib/api-transport.ts";
import { emit } from "./lib.ts";

const EVENTS = Number(process.argv[2] ?? 5000);
const ROUNDS = Number(process.argv[3] ?? 3);
const WATCHERS = 200;
const BATCH = 500;
const ROOT = fileURLToPath(new URL("../../", import.meta.url));

const receiver = spawnJsonChild("receiver", tsNodeArgs(fileURLToPath(new URL("./receiver.ts", import.meta.url))));
const ready = await receiver.waitFor((m) => m.type === "ready", 30_000, "ready message");
const url = `http://127.0.0.1:${ready.port as number}/hook`;

// Watchers on one tenant would hit the per-caller cap; the environment (not a flag) keeps this
// runnable against versions that have no such setting.
process.env.HOOKLINE_MAX_WATCHERS_PER_KEY = String(WATCHERS * 2);
const server = await startHookline({
  root: ROOT,
  workers: undefined,
  extraArgs: [],
  backend: "sqlite",
  cpuProfileDir: process.env.BENCH_CPU_PROFILE_DIR,
});
const transport = apiTransport(server);
const api = {
  tenants: createClient(TenantService, transport),
  endpoints: createClient(EndpointService, transport),
  events: createClient(EventService, transport),
  deliveries: createClient(DeliveryService, transport),
};

async function succeeded(): Promise<number> {
  const text = await requestText(server.port, "GET", "/metrics");
  const line = text.split("\n").find((l) => l.startsWith('hookline_deliveries_finished_total{status="succeeded"}'));
  return line ? Number(line.slice(line.lastIndexOf(" ") + 1)) : 0;
}

const busy = (await api.tenants.createTenant({ name: "busy" })).tenant!.id;
await api.endpoints.createEndpoint({ tenantId: busy, url, maxInFlight: 256 });
const idle: string[] = [];
for (let i = 0; i < WATCHERS; i++) idle.push((await api.tenants.createTenant({ name: `idle-${i}` })).tenant!.id);

type Case = { name: string; filters: () => { tenantId?: string }[] };
const CASES: Case[] = [
  { name: "no watchers", filters: () => [] },
  { name: `${WATCHERS} watchers on other tenants`, filters: () => idle.map((tenantId) => ({ tenantId })) },
  { name: `${WATCHERS} watchers seeing every change`, filters: () => Array.from({ length: WATCHERS }, () => ({})) },
];

/** Opens the watch streams; they read (and count) until closed. */
function openWatchers(client: Client<typeof DeliveryService>, filters: { tenantId?: string }[]) {
  const abort = new AbortController();
  setMaxListeners(filters.length + 10, abort.signal);
  let seen = 0;
  let ended = 0;
  const done = Promise.all(
    filters.map(async (f) => {
      try {
        for await (const _ of client.watchDeliveries(f, { signal: abort.signal })) seen++;
      } catch {
        // aborted, or dropped for falling behind
      }
      ended++;
    }),
  );
  return {
    seen: () => seen,
    ended: () => ended,
    async close() {
      abort.abort();
      await done;
    },
  };
}

/** Deliveries per second for one round of EVENTS events. */
async function round(c: Case): Promise<{ rate: number; cpuUs: number; seen: number; ended: number }> {
  // A connection of their own, as separate clients would have: streams that are read slowly
  // must not hold up the publisher's responses in a shared HTTP/2 flow-control window.
  const watchers = openWatchers(createClient(DeliveryService, apiTransport(server)), c.filters());
  await new Promise((r) => setTimeout(r, 300));
  const before = await succeeded();
  const cpuBefore = sampleProcess(server.child.pid)?.cpuMs ?? 0;
  const started = performance.now();
  const payload = new TextEncoder().encode(JSON.stringify({ bench: "watchers", pad: "x".repeat(200) }));
  for (let sent = 0; sent < EVENTS; sent += BATCH) {
    await api.events.publish({ events: Array.from({ length: Math.min(BATCH, EVENTS - sent) }, () => ({ tenantId: busy, type: "w.t", payload })) });
  }
  const deadline = Date.now() + 120_000;
  while ((await succeeded()) - before < EVENTS) {
    if (Date.now() > deadline) throw new Error(`${c.name}: deliveries did not finish in 120 s`);
    await new Promise((r) => setTimeout(r, 50));
  }
  const rate = EVENTS / ((performance.now() - started) / 1000);
  const cpuUs = (((sampleProcess(server.child.pid)?.cpuMs ?? 0) - cpuBefore) * 1000) / EVENTS;
  const result = { rate, cpuUs, seen: watchers.seen(), ended: watchers.ended() };
  await watchers.close();
  return result;
}

// BENCH_WATCHERS_CASE=<index>[,<index>] runs only those cases (for profiling).
const only = process.env.BENCH_WATCHERS_CASE;
if (only !== undefined) {
  const picked = only.split(",").map((i) => CASES[Number(i)]!);
  CASES.splice(0, CASES.length, ...picked);
}
const rates = new Map<string, number[]>(CASES.map((c) => [c.name, []]));
const cpus = new Map<string, number[]>(CASES.map((c) => [c.name, []]));
try {
  await round(CASES[0]!); // warm-up
  for (let r = 0; r < ROUNDS; r++) {
    for (const c of CASES) {
      const { rate, cpuUs, seen, ended } = await round(c);
      rates.get(c.name)!.push(rate);
      cpus.get(c.name)!.push(cpuUs);
      if (process.env.BENCH_JSON !== "1")
        process.stdout.write(
          `  round ${r + 1} ${c.name.padEnd(36)} ${Math.round(rate).toLocaleString("en-US").padStart(8)} deliveries/s, ${Math.round(cpuUs)} µs CPU each (watch messages read: ${seen}, streams ended early: ${ended})\n`,
        );
    }
  }
  const none = median(rates.get(CASES[0]!.name)!);
  const noneCpu = median(cpus.get(CASES[0]!.name)!);
  for (const c of CASES) {
    const rate = median(rates.get(c.name)!);
    const cpu = median(cpus.get(c.name)!);
    emit({ bench: "watchers", case: c.name, opsPerSecond: rate, unit: "deliveries" });
    if (c !== CASES[0] && process.env.BENCH_JSON !== "1")
      process.stdout.write(`  ratio to none: ${(rate / none).toFixed(2)} (rate), ${(cpu / noneCpu).toFixed(2)} (CPU per delivery)\n`);
  }
} finally {
  await server.stop();
  await receiver.stop("SIGTERM");
}
