import { describe, expect, it } from "vitest";
import { MAX_TIMER_DELAY_MS, clampDelay } from "../../src/core/timers.ts";
import { TokenBucket } from "../../src/dispatch/token-bucket.ts";

describe("timer delays never overflow setTimeout", () => {
  it("a bucket of a vanishing rate waits at most what a timer can", () => {
    const bucket = new TokenBucket(1e-9, 0);
    bucket.take(1, 0);
    const wait = bucket.msUntilToken(0);
    expect(wait).toBeGreaterThan(0);
    expect(wait).toBeLessThanOrEqual(MAX_TIMER_DELAY_MS);
  });

  it("an ordinary rate keeps its exact wait", () => {
    const bucket = new TokenBucket(2, 0);
    bucket.take(2, 0);
    expect(bucket.msUntilToken(0)).toBe(500);
  });

  it("clampDelay bounds any delay to [0, 2^31-1]", () => {
    expect(clampDelay(-5)).toBe(0);
    expect(clampDelay(Number.NaN)).toBe(0);
    expect(clampDelay(1500)).toBe(1500);
    expect(clampDelay(1e15)).toBe(MAX_TIMER_DELAY_MS);
    expect(clampDelay(Infinity)).toBe(MAX_TIMER_DELAY_MS);
  });
});
