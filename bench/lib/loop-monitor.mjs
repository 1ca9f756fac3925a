// Preloaded into the hookline process by the bench (node --import): once a second, prints the
// main thread's event-loop delay as a JSON line on stdout. Long synchronous work (SQLite
// transactions, scheduler passes) shows up here as delay for every request and timer.
import { monitorEventLoopDelay } from "node:perf_hooks";
import { isMainThread } from "node:worker_threads";

if (isMainThread) {
  const histogram = monitorEventLoopDelay({ resolution: 10 });
  histogram.enable();
  const ms = (ns) => Math.round(ns / 1e4) / 100;
  setInterval(() => {
    process.stdout.write(
      `${JSON.stringify({ bench: "event-loop-delay", mean: ms(histogram.mean), p50: ms(histogram.percentile(50)), p99: ms(histogram.percentile(99)), max: ms(histogram.max) })}\n`,
    );
    histogram.reset();
  }, 1000).unref();
}
