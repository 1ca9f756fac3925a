/**
 * CPU per POST of the sending side: HttpSender (an undici dispatch handler per POST, one
 * deadline timer per task) against undici's `request()` with an AbortSignal.timeout per POST
 * and the body read as a stream, the shape HttpSender had before. Same task shape as the
 * scheduler's (one target, 32 items), receiver in another process, CPU of this process only.
 * Reported as POSTs per CPU-second (1e6 / CPU µs per POST); higher is cheaper.
 */
import { Agent, request } from "undici";
import { SigningKeyCache, signWith } from "../../src/core/signing.ts";
import { HttpSender } from "../../src/dispatch/http-sender.ts";
import type { SendTask } from "../../src/dispatch/send-task.ts";
import { cpuPerPost, emitMedianCpuPerPost, postTask, startReceiver } from "./post-task.ts";

const ITEMS_PER_TASK = 32;
const TASKS_IN_FLIGHT = 8;
const ROUNDS = 5;

const receiver = await startReceiver();
const task = postTask(receiver.url, ITEMS_PER_TASK, 1024);

type Send = (t: SendTask) => Promise<{ statusCode: number }[]>;

/** The earlier shape: request() per POST with its own AbortSignal, the body read as a stream. */
function requestWithSignal(): { send: Send; close: () => Promise<void> } {
  const agent = new Agent({ keepAliveTimeout: 30_000, keepAliveMaxTimeout: 120_000, connections: 256 });
  const keys = new SigningKeyCache();
  const one = async (t: SendTask, item: SendTask["items"][number]): Promise<{ statusCode: number }> => {
    const target = t.targets[item.target] as SendTask["targets"][number];
    const timestamp = Math.floor(Date.now() / 1000);
    const signature = signWith(target.secrets.map((s) => keys.get(s)), item.webhookId, timestamp, item.payload);
    const res = await request(target.url, {
      method: "POST",
      headers: { "content-type": "application/json", "webhook-id": item.webhookId, "webhook-timestamp": String(timestamp), "webhook-signature": signature },
      body: item.payload,
      dispatcher: agent,
      headersTimeout: target.timeoutMs,
      bodyTimeout: target.timeoutMs,
      signal: AbortSignal.timeout(target.timeoutMs),
    });
    const chunks: Buffer[] = [];
    for await (const chunk of res.body) chunks.push(Buffer.from(chunk as Uint8Array));
    return { statusCode: res.statusCode };
  };
  return { send: (t) => Promise.all(t.items.map((item) => one(t, item))), close: () => agent.close() };
}

/** CPU µs of this process per POST, with TASKS_IN_FLIGHT tasks kept going for `ms`. */
function perPost(send: Send, ms: number): Promise<number> {
  return cpuPerPost(async () => {
    let posts = 0;
    const until = performance.now() + ms;
    await Promise.all(
      Array.from({ length: TASKS_IN_FLIGHT }, async () => {
        while (performance.now() < until) {
          const results = await send(task);
          if (results.some((r) => r.statusCode !== 200)) throw new Error("a POST failed");
          posts += results.length;
        }
      }),
    );
    return posts;
  });
}

const sender = new HttpSender({ allowPrivateTargets: true });
const earlier = requestWithSignal();
const cases: [string, Send][] = [
  ["HttpSender (dispatch handler, deadline per task)", (t) => sender.sendAll(t)],
  ["request() + AbortSignal per POST + body stream", earlier.send],
];
try {
  for (const [, send] of cases) await perPost(send, 500); // warm-up: connections, JIT
  await emitMedianCpuPerPost("sender-cost", cases.map(([name, send]) => [name, () => perPost(send, 1500)] as const), ROUNDS);
} finally {
  await sender.close();
  await earlier.close();
  await receiver.stop();
}
