import { workerData, type MessagePort } from "node:worker_threads";
import { HttpSender } from "./http-sender.ts";
import type { SendResult, SendTask } from "./send-task.ts";

/** A task of several targets comes with a port: each target's results go back on it as it is done. */
export type PooledTask = SendTask & { port?: MessagePort };

/** Targets finished in one turn of the event loop, as [target, results] pairs: one message. */
export type TargetReport = [number, SendResult[]][];

/** Pool worker: one keep-alive agent per thread, reused by every task it runs. */
const sender = new HttpSender({ allowPrivateTargets: (workerData as { allowPrivateTargets?: boolean } | undefined)?.allowPrivateTargets === true });

export default async function send(task: PooledTask): Promise<SendResult[] | undefined> {
  const { port } = task;
  if (!port) return sender.sendAll(task);
  let report: TargetReport = [];
  const flush = (): void => {
    if (report.length > 0) port.postMessage(report);
    report = [];
  };
  await sender.sendAll(task, (target, results) => {
    // Targets often finish together (one burst of answers): one message for all of them.
    if (report.length === 0) setImmediate(flush);
    report.push([target, results]);
  });
  flush();
  port.close();
  return undefined;
}
