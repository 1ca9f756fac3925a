/** Shared bits of the micro-benchmarks: a timing loop and one output format. */

export interface MicroResult {
  bench: string;
  case: string;
  opsPerSecond: number;
  /** What one op is ("signatures", "events", "deliveries", "POSTs"). */
  unit: string;
}

/**
 * Calls `step` (which returns how many ops it did) for a 200 ms warm-up, then for `seconds`;
 * returns ops/s of the timed part. `maxOps` bounds warm-up plus timed ops (finite inputs).
 */
export async function opsPerSecond(step: () => number | Promise<number>, o: { seconds?: number; maxOps?: number } = {}): Promise<number> {
  const maxOps = o.maxOps ?? Infinity;
  let done = 0;
  const warmUntil = performance.now() + 200;
  while (performance.now() < warmUntil && done < maxOps / 10) done += await step();
  let ops = 0;
  const started = performance.now();
  const until = started + (o.seconds ?? 1.5) * 1000;
  while (performance.now() < until && done + ops < maxOps) ops += await step();
  return ops / ((performance.now() - started) / 1000);
}

/** "events/s", or the unit as written when it already names its rate ("POSTs per CPU-second"). */
export function rateUnit(unit: string): string {
  return unit.includes(" per ") ? unit : `${unit}/s`;
}

/** One line per case: readable by default, JSON when the micro runner asks (BENCH_JSON=1). */
export function emit(result: MicroResult): void {
  if (process.env.BENCH_JSON === "1") {
    process.stdout.write(`${JSON.stringify({ type: "result", ...result })}\n`);
    return;
  }
  const ops = Math.round(result.opsPerSecond).toLocaleString("en-US").padStart(12);
  process.stdout.write(`${result.bench.padEnd(16)} ${result.case.padEnd(44)} ${ops} ${rateUnit(result.unit)}\n`);
}
