/**
 * A BullMQ peer worker process: a BullMQ Worker with `concurrency` jobs at once that signs
 * each delivery with Standard Webhooks HMAC (the blast baseline's signing) and POSTs it with
 * one undici keep-alive Agent. A job whose POSTs did not all get a 2xx keeps only the
 * endpoints still to do and throws, so BullMQ retries it (attempts, exponential backoff).
 * Starts consuming as soon as it reads its PeerWorkerConfig on stdin; runs until stopped.
 */
import { Worker, type Job } from "bullmq";
import { Agent, request } from "undici";
import { exitWithParent, readJsonInput, send } from "../lib/child.ts";
import { keyOf, signedHeaders } from "../lib/webhook-signature.ts";
import type { PeerJobData, PeerTarget, PeerWorkerConfig } from "./protocol.ts";

const config = await readJsonInput<PeerWorkerConfig>();
exitWithParent();

// Same Agent settings as hookline's HttpSender and the blast.
const agent = new Agent({
  keepAliveTimeout: 30_000,
  keepAliveMaxTimeout: 120_000,
  connections: config.connectionsPerOrigin,
  headersTimeout: config.requestTimeoutMs,
  bodyTimeout: config.requestTimeoutMs,
});
const targets = new Map<number, PeerTarget & { key: Buffer }>(config.targets.map((t) => [t.index, { ...t, key: keyOf(t.secret) }]));

let ok = 0;
let failedPosts = 0;

/** One signed POST; true on a 2xx. The webhook-id stays the same across retries. */
async function post(seq: number, index: number, body: Buffer): Promise<boolean> {
  const target = targets.get(index);
  if (!target) throw new Error(`no endpoint ${index} in the worker's config`);
  const webhookId = `msg_${seq}_${index}`;
  const timestamp = Math.floor(Date.now() / 1000);
  try {
    const res = await request(target.url, {
      method: "POST",
      dispatcher: agent,
      body,
      headers: signedHeaders("hookline-bench-bullmq-peer", target.key, webhookId, timestamp, body),
    });
    await res.body.dump();
    if (res.statusCode >= 200 && res.statusCode < 300) {
      ok++;
      return true;
    }
  } catch {
    // a failed attempt like any non-2xx
  }
  failedPosts++;
  return false;
}

async function processJob(job: Job<PeerJobData>): Promise<void> {
  const { seq, payload, to } = job.data;
  const body = Buffer.from(payload);
  const results = await Promise.all(to.map((index) => post(seq, index, body)));
  const left = to.filter((_, i) => !results[i]);
  if (left.length === 0) return;
  if (left.length < to.length) await job.updateData({ seq, payload, to: left });
  throw new Error(`${left.length} of ${to.length} deliveries of event ${seq} did not get a 2xx`);
}

const worker = new Worker<PeerJobData>(config.queue, processJob, {
  connection: { host: "127.0.0.1", port: config.redisPort, maxRetriesPerRequest: null },
  concurrency: config.concurrency,
});
worker.on("error", (err) => process.stderr.write(`bullmq worker: ${err.message}\n`));
setInterval(() => send({ type: "progress", ok, failedPosts }), 1000);
