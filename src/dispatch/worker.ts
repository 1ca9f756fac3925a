import { workerData } from "node:worker_threads";
import { HttpSender } from "./http-sender.ts";
import type { SendResult, SendTask } from "./send-task.ts";

/** Pool worker: one keep-alive agent per thread, reused by every task it runs. */
const sender = new HttpSender({ allowPrivateTargets: (workerData as { allowPrivateTargets?: boolean } | undefined)?.allowPrivateTargets === true });

export default function send(task: SendTask): Promise<SendResult[]> {
  return sender.sendAll(task);
}
