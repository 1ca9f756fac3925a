/**
 * The BullMQ peer's producer: events 0..events-1 (event i to tenant i % tenants, its payload
 * stamped with the add time) added with Queue.addBulk, `batch` events per call and `window`
 * calls in flight on one connection. An event counts as acked when the addBulk holding its
 * jobs resolved. Reads PeerProducerConfig on stdin; prints progress lines and one "done" line.
 */
import { Queue } from "bullmq";
import { Bitmap } from "../lib/bitmap.ts";
import { exitWithParent, readJsonInput, send } from "../lib/child.ts";
import { nowMs } from "../lib/clock.ts";
import { encodePayload } from "../lib/payload.ts";
import type { PeerJobData, PeerProducerConfig, PeerProducerDone } from "./protocol.ts";

const config = await readJsonInput<PeerProducerConfig>();
exitWithParent();

const queue = new Queue<PeerJobData>(config.queue, {
  connection: { host: "127.0.0.1", port: config.redisPort },
  defaultJobOptions: {
    attempts: config.retry.attempts,
    backoff: { type: "exponential", delay: config.retry.backoffMs },
    // Finished jobs are not kept (Redis holds everything in memory); failed ones are, for a look.
    removeOnComplete: true,
    removeOnFail: 10_000,
  },
});
await queue.waitUntilReady();

const decoder = new TextDecoder();
const acked = new Bitmap(config.events);
let ackedCount = 0;
let jobs = 0;
let failedBatches = 0;
let firstError = "";
let firstSendMs = 0;
let lastAckMs = 0;
let nextSeq = 0;

type BulkJob = { name: string; data: PeerJobData };

function build(first: number, count: number): BulkJob[] {
  const t = nowMs();
  const list: BulkJob[] = [];
  for (let seq = first; seq < first + count; seq++) {
    const to = config.endpointsByTenant[seq % config.tenants] ?? [];
    if (to.length === 0) continue;
    const payload = decoder.decode(encodePayload({ seq, t }, config.payloadBytes));
    if (config.jobShape === "event") list.push({ name: "event", data: { seq, payload, to } });
    else for (const index of to) list.push({ name: "delivery", data: { seq, payload, to: [index] } });
  }
  return list;
}

async function addBatch(first: number, count: number): Promise<void> {
  const batch = build(first, count);
  try {
    await queue.addBulk(batch);
    jobs += batch.length;
    for (let seq = first; seq < first + count; seq++) acked.add(seq);
    ackedCount += count;
    lastAckMs = nowMs();
  } catch (err) {
    failedBatches++;
    firstError ||= (err as Error).message;
  }
}

const progress = setInterval(() => send({ type: "progress", acked: ackedCount }), 500);
const cpuBefore = process.cpuUsage();
const deadline = nowMs() + config.maxDurationMs;
firstSendMs = nowMs();
async function lane(): Promise<void> {
  while (nextSeq < config.events && nowMs() < deadline) {
    const first = nextSeq;
    const count = Math.min(config.batch, config.events - first);
    nextSeq += count;
    await addBatch(first, count);
  }
}
await Promise.all(Array.from({ length: config.window }, lane));
const cpu = process.cpuUsage(cpuBefore);
clearInterval(progress);
await queue.close();
const done: PeerProducerDone = {
  type: "done",
  firstSendMs,
  lastAckMs,
  acked: ackedCount,
  ackedSeqs: acked.toBase64(),
  jobs,
  failedBatches,
  firstError,
  cpuMs: (cpu.user + cpu.system) / 1000,
};
send(done as unknown as Record<string, unknown>);
process.exit(0);
