/**
 * Publisher: one PublishStream through the generated Connect client (gRPC over HTTP/2),
 * at most `window` requests unanswered. Events firstSeq.. firstSeq+events-1; event i goes to
 * tenant i % tenants and carries its number, publish time and priority in the payload. Batches refused with resource_exhausted
 * are sent again after a pause (bounded). Reads PublisherConfig as JSON on stdin; prints
 * progress lines and one "done" line.
 */
import { create } from "@bufbuild/protobuf";
import { createClient } from "@connectrpc/connect";
import { EventService, PublishStreamRequestSchema, type PublishStreamRequest } from "../src/gen/hookline/v1/event_pb.ts";
import { apiTransport } from "./lib/api-transport.ts";
import { Bitmap } from "./lib/bitmap.ts";
import { exitWithParent, readJsonInput, send } from "./lib/child.ts";
import { nowMs, sleep } from "./lib/clock.ts";
import { encodePayload } from "./lib/payload.ts";
import type { PublisherConfig, PublisherDone } from "./lib/protocol.ts";
import { Samples } from "./lib/samples.ts";
import { orderingOf } from "./topology.ts";

const MAX_SENDS_PER_BATCH = 30;
const REFUSED_PAUSE_MS = 100;
/** Give up when hookline answers nothing for this long while requests are outstanding. */
const ACK_WATCHDOG_MS = 60_000;

interface Batch {
  id: number;
  firstSeq: number;
  count: number;
  sends: number;
}

const config = await readJsonInput<PublisherConfig>();
exitWithParent();

const client = createClient(EventService, apiTransport(config));
const tenants = config.tenantIds.length;
const firstSeq = config.firstSeq ?? 0;
const lastSeq = firstSeq + config.events;
const priority = config.priority ?? 0;

const acked = new Bitmap(lastSeq);
const ackLatency = new Samples();
const sentAt = new Map<string, number>();
const inFlight = new Map<string, Batch>();
const resend: Batch[] = [];
let nextSeq = firstSeq;
let nextBatchId = 0;
let sentEvents = 0;
let firstSendMs = 0;
let lastAckMs = 0;
let deliveriesCreated = 0;
let retriedBatches = 0;
let failedBatches = 0;
let duplicateResults = 0;
let firstError = "";
let stopStarting = false;
/** Refused batches waiting out their pause before the next send. */
let cooling = 0;

/** Resolves when the window has room (or when everything is answered). */
let wake: (() => void) | undefined;
const windowChanged = (): void => {
  wake?.();
  wake = undefined;
};

function build(batch: Batch): PublishStreamRequest {
  const t = nowMs();
  const events = [];
  for (let seq = batch.firstSeq; seq < batch.firstSeq + batch.count; seq++) {
    const tenant = seq % tenants;
    const order = config.orderingKeys > 0 ? orderingOf(seq, tenants, config.orderingKeys) : undefined;
    events.push({
      tenantId: config.tenantIds[tenant] as string,
      type: "bench.event",
      payload: encodePayload({ seq, t, ...(order ? { k: order.key, s: order.position } : {}), ...(priority ? { pr: priority } : {}) }, config.payloadBytes),
      orderingKey: order?.key ?? "",
      priority,
    });
  }
  const requestId = `${batch.id}.${batch.sends}`;
  batch.sends++;
  sentAt.set(requestId, t);
  inFlight.set(requestId, batch);
  if (firstSendMs === 0) firstSendMs = t;
  return create(PublishStreamRequestSchema, { requestId, events });
}

function nextBatch(startedMs: number): Batch | undefined {
  const ready = resend.shift();
  if (ready) return ready;
  if (stopStarting || nextSeq >= lastSeq) return undefined;
  if (nowMs() - startedMs > config.maxDurationMs) {
    stopStarting = true;
    return undefined;
  }
  const count = Math.min(config.batch, lastSeq - nextSeq);
  const batch = { id: nextBatchId++, firstSeq: nextSeq, count, sends: 0 };
  nextSeq += count;
  return batch;
}

async function* requests(): AsyncGenerator<PublishStreamRequest> {
  const startedMs = nowMs();
  for (;;) {
    while (inFlight.size >= config.window) await new Promise<void>((resolve) => (wake = resolve));
    if (config.rate > 0) {
      const dueMs = startedMs + (sentEvents / config.rate) * 1000;
      if (dueMs > nowMs()) await sleep(dueMs - nowMs());
    }
    const batch = nextBatch(startedMs);
    if (!batch) {
      // Refused batches may still come back for another send.
      if (inFlight.size === 0 && resend.length === 0 && cooling === 0) return;
      await new Promise<void>((resolve) => (wake = resolve));
      continue;
    }
    sentEvents += batch.count;
    yield build(batch);
  }
}

const abort = new AbortController();
let lastAnswerMs = nowMs();
const progress = setInterval(() => {
  send({ type: "progress", sent: sentEvents, acked: acked.size });
  if (inFlight.size > 0 && nowMs() - lastAnswerMs > ACK_WATCHDOG_MS) abort.abort(new Error(`no answer from hookline for ${ACK_WATCHDOG_MS / 1000}s`));
}, 500);
const cpuBefore = process.cpuUsage();

try {
  for await (const res of client.publishStream(requests(), { signal: abort.signal })) {
    lastAnswerMs = nowMs();
    const batch = inFlight.get(res.requestId);
    inFlight.delete(res.requestId);
    const at = nowMs();
    ackLatency.add(at - (sentAt.get(res.requestId) ?? at));
    sentAt.delete(res.requestId);
    if (!batch) {
      firstError ||= `response for unknown request ${res.requestId}`;
    } else if (res.error) {
      firstError ||= `${res.error.code}: ${res.error.message}`;
      if (res.error.code === "resource_exhausted" && batch.sends < MAX_SENDS_PER_BATCH) {
        retriedBatches++;
        cooling++;
        setTimeout(() => {
          cooling--;
          resend.push(batch);
          windowChanged();
        }, REFUSED_PAUSE_MS);
      } else failedBatches++;
    } else {
      lastAckMs = at;
      res.results.forEach((result, i) => {
        acked.add(batch.firstSeq + i);
        deliveriesCreated += result.deliveryCount;
        if (result.duplicate) duplicateResults++;
      });
    }
    windowChanged();
  }
} catch (err) {
  firstError ||= `stream failed: ${(err as Error).message}`;
  failedBatches += inFlight.size;
}
clearInterval(progress);
const cpu = process.cpuUsage(cpuBefore);

const done: PublisherDone = {
  type: "done",
  firstSendMs,
  lastAckMs,
  acked: acked.size,
  ackedSeqs: acked.toBase64(),
  deliveriesCreated,
  retriedBatches,
  failedBatches,
  firstError,
  ackLatency: ackLatency.summary(),
  duplicateResults,
  cpuMs: (cpu.user + cpu.system) / 1000,
};
send(done as unknown as Record<string, unknown>);
process.exit(0);
