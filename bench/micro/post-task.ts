/** The sender micro-benchmarks' set-up: a bare receiver in another process and a scheduler-shaped task for it. */
import { fileURLToPath } from "node:url";
import { generateSecret } from "../../src/core/secrets.ts";
import type { SendTask } from "../../src/dispatch/send-task.ts";
import { spawnJsonChild, tsNodeArgs } from "../lib/child.ts";
import { encodePayload } from "../lib/payload.ts";
import { median } from "../lib/samples.ts";
import { emit } from "./lib.ts";

/** Starts bench/micro/receiver.ts (200 to everything); `stop` ends it. */
export async function startReceiver(): Promise<{ url: string; stop: () => Promise<unknown> }> {
  const child = spawnJsonChild("receiver", tsNodeArgs(fileURLToPath(new URL("./receiver.ts", import.meta.url))));
  const ready = await child.waitFor((m) => m.type === "ready", 30_000, "ready message");
  return { url: `http://127.0.0.1:${ready.port as number}/hook`, stop: () => child.stop() };
}

/** One target, `items` signed POSTs of about `payloadBytes` each: what the scheduler hands a sender. */
export function postTask(url: string, items: number, payloadBytes: number): SendTask {
  return {
    targets: [{ url, timeoutMs: 10_000, headers: {}, secrets: [generateSecret()] }],
    items: Array.from({ length: items }, (_, i) => ({
      target: 0,
      webhookId: `dlv_${String(i).padStart(26, "0")}`,
      payload: encodePayload({ seq: i, t: Date.now() }, payloadBytes),
    })),
  };
}

/** CPU µs of this process (every thread) per POST while `work` runs; it returns how many POSTs it made. */
export async function cpuPerPost(work: () => Promise<number>): Promise<number> {
  const before = process.cpuUsage();
  const posts = await work();
  const cpu = process.cpuUsage(before);
  return (cpu.user + cpu.system) / posts;
}

/**
 * Measures each case (its CPU µs per POST) `rounds` times, the cases interleaved so that a
 * noisy moment on a shared machine hits all of them, and emits each one's median as POSTs per
 * CPU-second (higher is cheaper).
 */
export async function emitMedianCpuPerPost(bench: string, cases: readonly (readonly [string, () => Promise<number>])[], rounds: number): Promise<void> {
  const samples = new Map<string, number[]>(cases.map(([name]) => [name, []]));
  for (let round = 0; round < rounds; round++) for (const [name, measure] of cases) samples.get(name)?.push(await measure());
  for (const [name] of cases) {
    const us = median(samples.get(name) ?? []);
    emit({ bench, case: `${name}: ${us.toFixed(0)} CPU µs/POST`, opsPerSecond: 1e6 / us, unit: "POSTs per CPU-second" });
  }
}
