/**
 * Retention on JetStream: one sweep over a backlog of old events (fan-out 5, every delivery
 * attempted once and succeeded but 1%, left RETRYING), against a local nats-server. Reports
 * events pruned per second and the longest event-loop block while it ran.
 *
 *   node --import tsx bench/micro/retention-jetstream.ts [events]
 */
import { monitorEventLoopDelay } from "node:perf_hooks";
import { newId } from "../../src/core/ids.ts";
import { DeliveryStatus, type EventInput } from "../../src/core/types.ts";
import { createLogger } from "../../src/observability/logger.ts";
import { RetentionSweeper } from "../../src/store/retention.ts";
import type { AttemptRecord } from "../../src/store/store.ts";
import { openJetStreamStore } from "../../test/helpers/jetstream-store.ts";
import { startNats } from "../../test/helpers/nats.ts";
import { endpointRecord } from "../../test/helpers/records.ts";
import { encodePayload } from "../lib/payload.ts";

const EVENTS = Number(process.argv[2] ?? 2_000);
const FAN_OUT = 5;
const DAY_MS = 86_400_000;

const nats = await startNats();
const logger = createLogger("silent");
const store = await openJetStreamStore(nats.url, { idempotencyWindowMs: DAY_MS, logger });
try {
  const now = Date.now();
  const old = now - 2 * DAY_MS;
  await store.createTenant({ id: "tnt_bench", name: "bench", rateLimitPerSecond: 0, metadata: {}, createdMs: now, updatedMs: now });
  const endpoints: string[] = [];
  for (let i = 0; i < FAN_OUT; i++) {
    // Ids are monotonic: one made "now" would date the old events now.
    const endpoint = endpointRecord("tnt_bench", { id: newId("ep", old), url: "http://127.0.0.1:9/never", secret: "whsec_bench", maxInFlight: 1000, timeoutMs: 5000 });
    await store.createEndpoint(endpoint);
    endpoints.push(endpoint.id);
  }
  const t0 = performance.now();
  const batch: EventInput[] = Array.from({ length: 200 }, (_, i) => ({ tenantId: "tnt_bench", type: "bench.event", payload: encodePayload({ seq: i, t: old }, 512), idempotencyKey: "", orderingKey: "", priority: 0 }));
  for (let done = 0; done < EVENTS; done += batch.length) await store.publish([batch.slice(0, Math.min(batch.length, EVENTS - done))], () => endpoints, old);
  // Every delivery attempted once; every 100th left RETRYING so its event must stay.
  let settled = 0;
  for (let idle = 0; settled < EVENTS * FAN_OUT && idle < 400; ) {
    const claimed = (await store.claim(endpoints.map((endpointId) => ({ endpointId, limit: 500, ordered: false })), Date.now())).flatMap((r) => r.claimed);
    idle = claimed.length === 0 ? idle + 1 : 0;
    // An open pull lasts up to 100 ms; claims meanwhile come back empty.
    if (claimed.length === 0) await new Promise((r) => setTimeout(r, 25));
    const records = claimed.map((c, i): AttemptRecord => ({
      status: i % 100 === 0 ? DeliveryStatus.Retrying : DeliveryStatus.Succeeded,
      nextAttemptMs: i % 100 === 0 ? Date.now() + DAY_MS : 0,
      attempt: { id: newId("att"), deliveryId: c.deliveryId, number: 1, startedMs: old, durationMs: 5, statusCode: 200, error: "", responseBody: new Uint8Array() },
    }));
    await store.complete(records, { disable: new Map(), failingSince: new Map() }, old);
    settled += claimed.length;
  }
  process.stdout.write(`populated ${EVENTS.toLocaleString("en-US")} events, ${(EVENTS * FAN_OUT).toLocaleString("en-US")} deliveries (${settled} attempted) in ${((performance.now() - t0) / 1000).toFixed(1)} s\n`);

  const sweeper = new RetentionSweeper({ history: store.history, windowMs: DAY_MS, intervalMs: 60_000, batch: 200, now: Date.now, logger });
  const loop = monitorEventLoopDelay({ resolution: 1 });
  loop.enable();
  const t1 = performance.now();
  const totals = await sweeper.sweep();
  const seconds = (performance.now() - t1) / 1000;
  loop.disable();
  process.stdout.write(
    `step 200 events: ${totals.events.toLocaleString("en-US")} events, ${totals.deliveries.toLocaleString("en-US")} deliveries pruned (${totals.kept} events kept open), ` +
      `${Math.round(totals.events / seconds).toLocaleString("en-US")} events/s, sweep ${seconds.toFixed(1)} s, event-loop block max ${(loop.max / 1e6).toFixed(1)} ms\n`,
  );
  const again = performance.now();
  const second = await sweeper.sweep();
  process.stdout.write(`second sweep (nothing new, ${second.kept} kept rechecked): ${((performance.now() - again) / 1000).toFixed(2)} s\n`);
} finally {
  await store.close();
  await nats.stop();
}
