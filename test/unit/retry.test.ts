import { describe, expect, it } from "vitest";
import { DEFAULT_RETRY_POLICY, backoffMs, classify, nextAttemptAt, parseRetryAfter, type AttemptVerdict } from "../../src/core/retry.ts";
import type { RetryPolicy } from "../../src/core/types.ts";

const policy: RetryPolicy = {
  maxAttempts: 6,
  initialBackoffMs: 1_000,
  maxBackoffMs: 10_000,
  maxAgeMs: 3_600_000,
  retryClientErrors: false,
};
const lenient: RetryPolicy = { ...policy, retryClientErrors: true };
const almostOne = (): number => 0.999999;
const zero = (): number => 0;

describe("classify", () => {
  it.each<[number, AttemptVerdict, AttemptVerdict]>([
    // status, default policy, retry_client_errors
    [200, "success", "success"],
    [201, "success", "success"],
    [204, "success", "success"],
    [299, "success", "success"],
    [410, "gone", "gone"],
    [0, "retry", "retry"],
    [500, "retry", "retry"],
    [502, "retry", "retry"],
    [503, "retry", "retry"],
    [599, "retry", "retry"],
    [408, "retry", "retry"],
    [409, "retry", "retry"],
    [425, "retry", "retry"],
    [429, "retry", "retry"],
    [400, "fail", "retry"],
    [401, "fail", "retry"],
    [403, "fail", "retry"],
    [404, "fail", "retry"],
    [422, "fail", "retry"],
  ])("%i → %s (retry_client_errors: %s)", (status, strict, loose) => {
    expect(classify(status, policy)).toBe(strict);
    expect(classify(status, lenient)).toBe(loose);
  });

  it("a listed success code succeeds, whatever its class; unlisted codes keep their class", () => {
    const listed = [302, 409, 410, 500];
    for (const status of listed) expect(classify(status, policy, listed)).toBe("success");
    expect(classify(301, policy, listed)).toBe("fail");
    expect(classify(429, policy, listed)).toBe("retry");
    expect(classify(0, policy, listed)).toBe("retry");
  });
});

describe("backoffMs (full jitter)", () => {
  it.each([1, 2, 3, 4, 5, 6, 10, 60])("after %i attempts stays below min(max, initial·2^(n-1)) and reaches near it", (n) => {
    const cap = Math.min(policy.maxBackoffMs, policy.initialBackoffMs * 2 ** (n - 1));
    const high = backoffMs(policy, n, almostOne);
    expect(high).toBeLessThan(cap);
    expect(high).toBeGreaterThanOrEqual(Math.floor(cap * 0.999));
    expect(backoffMs(policy, n, zero)).toBe(0);
    expect(backoffMs(policy, n, () => 0.5)).toBe(Math.floor(cap / 2));
  });

  it("is capped by max_backoff from the 5th attempt on here (1s, 2s, 4s, 8s, then 10s)", () => {
    const caps = [1, 2, 3, 4, 5, 6].map((n) => backoffMs(policy, n, () => 0.5) * 2);
    expect(caps).toEqual([1_000, 2_000, 4_000, 8_000, 10_000, 10_000]);
  });

  it("draws are spread over [0, cap) with Math.random", () => {
    const draws = Array.from({ length: 500 }, () => backoffMs(policy, 4, Math.random));
    for (const d of draws) {
      expect(d).toBeGreaterThanOrEqual(0);
      expect(d).toBeLessThan(8_000);
    }
    expect(Math.min(...draws)).toBeLessThan(2_000);
    expect(Math.max(...draws)).toBeGreaterThan(6_000);
  });
});

describe("nextAttemptAt", () => {
  const created = 1_000_000;
  const now = created + 5_000;

  it("uses the jittered backoff when there is no Retry-After", () => {
    expect(nextAttemptAt(policy, 3, created, now, undefined, () => 0.5)).toBe(now + 2_000);
  });

  it("honours Retry-After over the backoff draw", () => {
    expect(nextAttemptAt(policy, 1, created, now, 7_000, almostOne)).toBe(now + 7_000);
    expect(nextAttemptAt(policy, 1, created, now, 0, almostOne)).toBe(now);
  });

  it("clamps Retry-After to max_backoff", () => {
    expect(nextAttemptAt(policy, 1, created, now, 3_600_000, zero)).toBe(now + policy.maxBackoffMs);
  });

  it("returns undefined once max_attempts are made", () => {
    expect(nextAttemptAt(policy, 5, created, now, undefined, zero)).toBe(now);
    expect(nextAttemptAt(policy, 6, created, now, undefined, zero)).toBeUndefined();
    expect(nextAttemptAt(policy, 7, created, now, 1_000, zero)).toBeUndefined();
  });

  it("returns undefined when the next attempt would fall past max_age", () => {
    const old = now - policy.maxAgeMs + 1_000; // 1 s of age left
    expect(nextAttemptAt(policy, 1, old, now, 500, zero)).toBe(now + 500);
    expect(nextAttemptAt(policy, 1, old, now, 2_000, zero)).toBeUndefined();
    expect(nextAttemptAt(policy, 2, now - policy.maxAgeMs - 1, now, undefined, zero)).toBeUndefined();
  });

  it("the default policy spans about a day over 18 attempts", () => {
    expect(DEFAULT_RETRY_POLICY.maxAttempts).toBe(18);
    let total = 0;
    for (let n = 1; n < DEFAULT_RETRY_POLICY.maxAttempts; n++) total += backoffMs(DEFAULT_RETRY_POLICY, n, almostOne);
    expect(total).toBeGreaterThan(12 * 3_600_000);
    expect(total).toBeLessThan(DEFAULT_RETRY_POLICY.maxAgeMs);
  });
});

describe("parseRetryAfter", () => {
  const now = Date.UTC(2024, 0, 15, 12, 0, 0);

  it("reads delta-seconds", () => {
    expect(parseRetryAfter("120", now)).toBe(120_000);
    expect(parseRetryAfter(" 0 ", now)).toBe(0);
  });

  it("reads an HTTP-date relative to now", () => {
    expect(parseRetryAfter(new Date(now + 30_000).toUTCString(), now)).toBe(30_000);
    expect(parseRetryAfter("Mon, 15 Jan 2024 12:01:00 GMT", now)).toBe(60_000);
    expect(parseRetryAfter("Monday, 15-Jan-24 12:00:10 GMT", now)).toBe(10_000);
  });

  it("a date in the past means now (0)", () => {
    expect(parseRetryAfter("Mon, 15 Jan 2024 11:00:00 GMT", now)).toBe(0);
  });

  it.each([undefined, "", "soon", "5s", "1.5", "-1", "abc 1", "0x10"])("%j is absent or unparsable → undefined", (value) => {
    expect(parseRetryAfter(value, now)).toBeUndefined();
  });
});
