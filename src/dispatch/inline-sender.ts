import { HttpSender } from "./http-sender.ts";
import type { SendTask, Sender, TargetDone } from "./send-task.ts";

/** Sends from the main thread: no hand-off cost, but signing shares the event loop with the API. */
export function createInlineSender(options: { allowPrivateTargets: boolean }): Sender {
  const http = new HttpSender(options);
  return {
    send: async (task: SendTask, onTarget: TargetDone): Promise<void> => {
      await http.sendAll(task, onTarget);
    },
    ready: async () => undefined,
    close: () => http.close(),
  };
}
