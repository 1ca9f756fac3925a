/**
 * Sender round trip: batches of signed POSTs through the piscina PoolSender (1 and 2
 * threads) and the main-thread InlineSender, against a receiver in another process.
 * Same task shape as the scheduler's (one target, `worker-batch` items).
 */
import { createInlineSender } from "../../src/dispatch/inline-sender.ts";
import { createPoolSender } from "../../src/dispatch/pool-sender.ts";
import type { Sender } from "../../src/dispatch/send-task.ts";
import { median } from "../lib/samples.ts";
import { postTask, startReceiver } from "./post-task.ts";
import { emit } from "./lib.ts";

const ITEMS_PER_TASK = 32;
const TASKS_IN_FLIGHT = 16;

const receiver = await startReceiver();
const task = postTask(receiver.url, ITEMS_PER_TASK, 512);

/** POSTs/s with TASKS_IN_FLIGHT tasks kept going (a new one as soon as one returns), like a busy scheduler. */
async function postsPerSecond(sender: Sender, seconds: number): Promise<number> {
  let posts = 0;
  let failures = 0;
  const started = performance.now();
  const until = started + seconds * 1000;
  const lane = async (): Promise<void> => {
    while (performance.now() < until) {
      await sender.send(task, (_, results) => {
        for (const r of results) if (r.statusCode !== 200) failures++;
        posts += results.length;
      });
    }
  };
  await Promise.all(Array.from({ length: TASKS_IN_FLIGHT }, lane));
  if (failures > 0) throw new Error(`${failures} POSTs failed`);
  return posts / ((performance.now() - started) / 1000);
}

const senders: [string, Sender][] = [
  ["inline (main thread)", createInlineSender({ allowPrivateTargets: true })],
  ["piscina pool, 1 thread", createPoolSender({ threads: 1, allowPrivateTargets: true })],
  ["piscina pool, 2 threads", createPoolSender({ threads: 2, allowPrivateTargets: true })],
];
// Rounds interleave the senders so that a noisy moment on a shared machine hits all of them.
const ROUNDS = 3;
const rates = new Map<string, number[]>(senders.map(([name]) => [name, []]));
try {
  for (const [, sender] of senders) await postsPerSecond(sender, 0.5); // warm-up: threads, connections, JIT
  for (let round = 0; round < ROUNDS; round++) for (const [name, sender] of senders) rates.get(name)?.push(await postsPerSecond(sender, 1.5));
  for (const [name] of senders)
    emit({ bench: "worker-roundtrip", case: `${name}, ${TASKS_IN_FLIGHT} tasks x ${ITEMS_PER_TASK} POSTs, median of ${ROUNDS}`, opsPerSecond: median(rates.get(name) ?? []), unit: "POSTs" });
} finally {
  for (const [, sender] of senders) await sender.close();
  await receiver.stop();
}
