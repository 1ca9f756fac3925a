import { Piscina } from "piscina";
import type { SendResult, SendTask, Sender } from "./send-task.ts";

// The worker module next to this one: worker.js when compiled (dist/), worker.ts when run from
// sources under `node --import tsx` (bench/micro), whose loader worker threads inherit via execArgv.
const WORKER = new URL(import.meta.url.endsWith(".ts") ? "./worker.ts" : "./worker.js", import.meta.url).href;

/** Sends from a piscina pool of worker threads, each with its own keep-alive agent. */
export function createPoolSender(options: { threads: number; allowPrivateTargets: boolean }): Sender {
  const pool = new Piscina({
    filename: WORKER,
    minThreads: options.threads,
    maxThreads: options.threads,
    // A task is a batch of network-bound POSTs: let each thread interleave them. The scheduler
    // already bounds work in flight (per endpoint and in total); a lower cap here would queue a
    // fast endpoint's task behind a slow endpoint's tasks waiting out their timeouts.
    concurrentTasksPerWorker: 8192,
    idleTimeout: 60_000,
    // Idle workers must keep their event loops turning (keep-alive sockets, timers); the
    // default blocks them on Atomics.wait between tasks.
    atomics: "disabled",
    workerData: { allowPrivateTargets: options.allowPrivateTargets },
    // A sender's garbage is short-lived and small: capping the young generation at 8 MB (V8's
    // default lets it grow several times larger) took about 30 MB off the peak RSS of
    // `--scenario backlog`, with no loss in delivered/s.
    resourceLimits: { maxYoungGenerationSizeMb: 8 },
  });
  return {
    send: (task: SendTask): Promise<SendResult[]> => pool.run(task) as Promise<SendResult[]>,
    // An empty task per thread loads the worker module everywhere before the first delivery.
    ready: async () => {
      await Promise.all(Array.from({ length: options.threads }, () => pool.run({ targets: [], items: [] })));
    },
    close: () => pool.destroy(),
  };
}
