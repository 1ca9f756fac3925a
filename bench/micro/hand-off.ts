/**
 * What a hand-off to a delivery thread costs under light load: 50 endpoints with one delivery
 * each, sent as 50 one-POST tasks (one per endpoint) or as one task of 50 targets (one per
 * scheduler pass, results coming back per target), through the piscina PoolSender and the
 * InlineSender, against a bare receiver in another process. CPU of this process (both
 * threads) per POST, interleaved rounds, median of 5.
 */
import { createInlineSender } from "../../src/dispatch/inline-sender.ts";
import { createPoolSender } from "../../src/dispatch/pool-sender.ts";
import type { Sender, SendTask } from "../../src/dispatch/send-task.ts";
import { cpuPerPost, emitMedianCpuPerPost, postTask, startReceiver } from "./post-task.ts";

const ENDPOINTS = 50;
const ROUNDS = 5;

const receiver = await startReceiver();
const single = postTask(receiver.url, 1, 1024);
const fifty = postTask(receiver.url, ENDPOINTS, 1024);
// The same 50 deliveries as 50 targets (the receiver stands in for 50 endpoints).
const perPass: SendTask = { targets: fifty.items.map(() => fifty.targets[0] as SendTask["targets"][number]), items: fifty.items.map((item, i) => ({ ...item, target: i })) };

type Shape = "one task per endpoint" | "one task per pass";

async function burst(sender: Sender, shape: Shape): Promise<void> {
  let posts = 0;
  const count = (_: number, results: readonly { statusCode: number }[]): void => {
    if (results.some((r) => r.statusCode !== 200)) throw new Error("a POST failed");
    posts += results.length;
  };
  if (shape === "one task per endpoint") await Promise.all(Array.from({ length: ENDPOINTS }, () => sender.send(single, count)));
  else await sender.send(perPass, count);
  if (posts !== ENDPOINTS) throw new Error(`${posts} of ${ENDPOINTS} POSTs reported`);
}

/** CPU µs of this process per POST over `bursts` bursts, one after the other. */
function perPost(sender: Sender, shape: Shape, bursts: number): Promise<number> {
  return cpuPerPost(async () => {
    for (let i = 0; i < bursts; i++) await burst(sender, shape);
    return bursts * ENDPOINTS;
  });
}

const senders: [string, Sender][] = [
  ["piscina pool, 1 thread", createPoolSender({ threads: 1, allowPrivateTargets: true })],
  ["inline", createInlineSender({ allowPrivateTargets: true })],
];
const shapes: Shape[] = ["one task per endpoint", "one task per pass"];
try {
  for (const [, sender] of senders) await sender.ready();
  for (const [, sender] of senders) for (const shape of shapes) await perPost(sender, shape, 50); // warm-up
  const cases = senders.flatMap(([name, sender]) => shapes.map((shape) => [`${name}, ${shape} (${ENDPOINTS} x 1 POST)`, () => perPost(sender, shape, 200)] as const));
  await emitMedianCpuPerPost("hand-off", cases, ROUNDS);
} finally {
  for (const [, sender] of senders) await sender.close();
  await receiver.stop();
}
