import { MessageChannel } from "node:worker_threads";
import { Piscina } from "piscina";
import type { SendResult, SendTask, Sender, TargetDone } from "./send-task.ts";
import type { PooledTask, TargetReport } from "./worker.ts";

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

  /** One part of a task on one thread; `targets` maps its target indexes back to the task's. */
  const run = async (part: SendTask, targets: readonly number[], onTarget: TargetDone): Promise<void> => {
    if (part.targets.length === 0) return;
    if (part.targets.length === 1) {
      onTarget(targets[0] as number, (await pool.run(part)) as SendResult[]);
      return;
    }
    // Several targets: their results come back one by one on a port, as each is done.
    const { port1, port2 } = new MessageChannel();
    let left = part.targets.length;
    const reported = new Promise<void>((resolve) => {
      port1.on("message", (report: TargetReport) => {
        for (const [t, results] of report) onTarget(targets[t] as number, results);
        left -= report.length;
        if (left <= 0) resolve();
      });
      // The worker closes its end once everything is posted: a target it never reported is
      // then failed by the caller rather than waited for.
      port1.once("close", () => resolve());
    });
    try {
      const task: PooledTask = { ...part, port: port2 };
      await pool.run(task, { transferList: [port2] });
      await reported;
    } finally {
      port1.close();
    }
  };

  return {
    send: async (task: SendTask, onTarget: TargetDone): Promise<void> => {
      // A task of many endpoints is split so that every thread takes a share.
      const parts = splitByTarget(task, Math.min(options.threads, task.targets.length));
      await Promise.all(parts.map((p) => run(p.task, p.targets, onTarget)));
    },
    // An empty task per thread loads the worker module everywhere before the first delivery.
    ready: async () => {
      await Promise.all(Array.from({ length: options.threads }, () => pool.run({ targets: [], items: [] })));
    },
    close: () => pool.destroy(),
  };
}

/** Deals a task's targets round-robin into `parts` tasks, each with its items re-indexed. */
export function splitByTarget(task: SendTask, parts: number): { task: SendTask; targets: number[] }[] {
  if (parts <= 1) return [{ task, targets: task.targets.map((_, t) => t) }];
  const out = Array.from({ length: parts }, () => ({ task: { targets: [], items: [] } as SendTask, targets: [] as number[] }));
  const local = task.targets.map((target, t) => {
    const part = out[t % parts] as (typeof out)[number];
    part.targets.push(t);
    part.task.targets.push(target);
    return part.task.targets.length - 1;
  });
  for (const item of task.items) {
    const part = out[item.target % parts] as (typeof out)[number];
    part.task.items.push({ ...item, target: local[item.target] as number });
  }
  return out;
}
