import { create } from "@bufbuild/protobuf";
import { DurationSchema, type Duration } from "@bufbuild/protobuf/wkt";

/** A google.protobuf.Duration of `n` milliseconds, for retry policies, timeouts and grace periods. */
export const ms = (n: number): Duration => create(DurationSchema, { seconds: BigInt(Math.floor(n / 1000)), nanos: (n % 1000) * 1_000_000 });

export const sleep = (n: number): Promise<void> => new Promise((r) => setTimeout(r, n));

/** Sleeps until `n` ms after `fromMs`: timing tests measure from an event, not from the call. */
export async function until(fromMs: number, n: number): Promise<void> {
  const wait = fromMs + n - Date.now();
  if (wait > 0) await sleep(wait);
}
