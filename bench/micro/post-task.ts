/** The sender micro-benchmarks' set-up: a bare receiver in another process and a scheduler-shaped task for it. */
import { fileURLToPath } from "node:url";
import { generateSecret } from "../../src/core/secrets.ts";
import type { SendTask } from "../../src/dispatch/send-task.ts";
import { spawnJsonChild, tsNodeArgs } from "../lib/child.ts";
import { encodePayload } from "../lib/payload.ts";

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
