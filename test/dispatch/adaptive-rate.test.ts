import { describe, expect, it } from "vitest";
import { AdaptiveRate } from "../../src/dispatch/adaptive-rate.ts";

// The 429 throttle at its seam: a simulated endpoint answering at a steady pace, with the
// clock passed in.

interface Pace {
  /** Deliveries started and answered per second. */
  perSecond: number;
  seconds: number;
  /** Whether the n-th answer (counted from 0 over the whole run) is a 429. */
  throttled: (n: number) => boolean;
  waitGiven: boolean;
}

/** Runs the pace from startMs; returns the limit seen at the end of each second. */
function run(rate: AdaptiveRate, startMs: number, pace: Pace): number[] {
  const limits: number[] = [];
  let n = 0;
  for (let s = 0; s < pace.seconds; s++) {
    for (let i = 0; i < pace.perSecond; i++) {
      const now = startMs + s * 1000 + Math.floor((i * 1000) / pace.perSecond);
      rate.started(1, now);
      const tooMany = pace.throttled(n++);
      rate.answer(tooMany, now, tooMany && pace.waitGiven);
    }
    limits.push(rate.current(startMs + (s + 1) * 1000 - 1));
  }
  return limits;
}

describe("adaptive rate on 429", () => {
  it("leaves the rate alone when an endpoint sheds one request in a hundred with Retry-After", () => {
    const rate = new AdaptiveRate();
    const limits = run(rate, 0, { perSecond: 100, seconds: 10, throttled: (n) => n % 100 === 50, waitGiven: true });
    expect(limits.every((l) => l === Infinity)).toBe(true);
  });

  it("leaves the rate alone when the few answers at the end of a drain include a 429 with Retry-After", () => {
    const rate = new AdaptiveRate();
    run(rate, 0, { perSecond: 100, seconds: 3, throttled: () => false, waitGiven: true });
    // Then 4 retries a second, one of them a 429 (25%).
    const limits = run(rate, 3_000, { perSecond: 4, seconds: 5, throttled: (n) => n % 4 === 0, waitGiven: true });
    expect(limits.every((l) => l === Infinity)).toBe(true);
  });

  it("weighs a share only over enough answers: two 429s in the first three answers after a cut do not cut again", () => {
    const rate = new AdaptiveRate();
    run(rate, 0, { perSecond: 100, seconds: 2, throttled: () => false, waitGiven: false });
    rate.answer(true, 2_000);
    const halved = rate.current(2_000);
    rate.answer(true, 3_100);
    rate.answer(false, 3_200);
    rate.answer(true, 3_300);
    expect(rate.current(3_300)).toBeGreaterThanOrEqual(halved);
  });

  it("halves the rate every second while an endpoint answers only 429 with Retry-After", () => {
    const rate = new AdaptiveRate();
    run(rate, 0, { perSecond: 100, seconds: 2, throttled: () => false, waitGiven: true });
    const limits = run(rate, 2_000, { perSecond: 100, seconds: 4, throttled: () => true, waitGiven: true });
    // The first 429 is weighed against the calm seconds before it; a second later the share
    // is all 429s, and from then on each second halves the rate.
    expect(limits[1]).toBeLessThanOrEqual(50);
    expect(limits[2]).toBeLessThanOrEqual(25);
    expect(limits[3]).toBeLessThanOrEqual(12.5);
  });

  it("halves at once on a 429 without Retry-After after a calm spell, then ignores an occasional one", () => {
    const rate = new AdaptiveRate();
    run(rate, 0, { perSecond: 100, seconds: 2, throttled: () => false, waitGiven: false });
    rate.answer(true, 2_000);
    expect(rate.current(2_000)).toBeLessThanOrEqual(50);
    expect(rate.current(2_000)).toBeGreaterThanOrEqual(45);
    // One 429 in a hundred after that: the rate grows back a quarter per second, uncut.
    const limits = run(rate, 2_001, { perSecond: 100, seconds: 3, throttled: (n) => n % 100 === 50, waitGiven: false });
    expect(limits[2]).toBeGreaterThan(limits[0]!);
  });

  it("grows back without 429s until it no longer binds", () => {
    const rate = new AdaptiveRate();
    run(rate, 0, { perSecond: 100, seconds: 2, throttled: () => false, waitGiven: false });
    rate.answer(true, 2_000);
    const limits = run(rate, 2_001, { perSecond: 40, seconds: 30, throttled: () => false, waitGiven: false });
    expect(limits.at(-1)).toBe(Infinity);
  });
});
