import { HttpSender } from "./http-sender.ts";
import type { SendResult, SendTask, Sender } from "./send-task.ts";

/** Sends from the main thread: no hand-off cost, but signing shares the event loop with the API. */
export function createInlineSender(options: { allowPrivateTargets: boolean }): Sender {
  const http = new HttpSender(options);
  return {
    send: (task: SendTask): Promise<SendResult[]> => http.sendAll(task),
    ready: async () => undefined,
    close: () => http.close(),
  };
}
