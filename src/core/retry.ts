import type { RetryPolicy } from "./types.ts";

/** Defaults span about a day: 18 attempts, backoff bounds from 10 s doubling up to 6 h. */
export const DEFAULT_RETRY_POLICY: RetryPolicy = {
  maxAttempts: 18,
  initialBackoffMs: 10_000,
  maxBackoffMs: 6 * 3600_000,
  maxAgeMs: 3 * 24 * 3600_000,
  retryClientErrors: false,
};

/** The outcome class of one HTTP attempt. */
export type AttemptVerdict = "success" | "retry" | "gone" | "fail";

/**
 * 2xx and the endpoint's listed success codes succeed; 410 disables the endpoint;
 * 408/409/425/429/5xx and transport errors retry.
 */
export function classify(statusCode: number, policy: RetryPolicy, successCodes: readonly number[] = []): AttemptVerdict {
  if (statusCode >= 200 && statusCode < 300) return "success";
  if (statusCode !== 0 && successCodes.includes(statusCode)) return "success";
  if (statusCode === 410) return "gone";
  if (statusCode === 0 || statusCode >= 500) return "retry";
  if (statusCode === 408 || statusCode === 409 || statusCode === 425 || statusCode === 429) return "retry";
  return policy.retryClientErrors ? "retry" : "fail";
}

/** Full jitter: a uniform draw below min(max, initial * 2^(attempt-1)). */
export function backoffMs(policy: RetryPolicy, attemptsMade: number, random: () => number = Math.random): number {
  const exponent = Math.min(Math.max(attemptsMade - 1, 0), 40);
  const cap = Math.min(policy.maxBackoffMs, policy.initialBackoffMs * 2 ** exponent);
  return Math.floor(random() * cap);
}

/** Retry-After as seconds or an HTTP date, in ms from now; undefined when absent or unparsable. */
export function parseRetryAfter(value: string | undefined, nowMs: number): number | undefined {
  if (value === undefined || value === "") return undefined;
  const trimmed = value.trim();
  if (/^\d+$/.test(trimmed)) return Number(trimmed) * 1000;
  // Every HTTP-date form carries hh:mm:ss; without this, Date.parse reads junk such as "1.5"
  // or "abc 1" as a date in 2001, and the retry would fire at once instead of backing off.
  if (!/\d\d:\d\d:\d\d/.test(trimmed)) return undefined;
  const date = Date.parse(trimmed);
  if (Number.isNaN(date)) return undefined;
  return Math.max(0, date - nowMs);
}

/**
 * When the next attempt is due, or undefined when the delivery is exhausted.
 * Retry-After wins over the backoff draw, clamped to the policy's max backoff.
 */
export function nextAttemptAt(
  policy: RetryPolicy,
  attemptsMade: number,
  createdMs: number,
  nowMs: number,
  retryAfterMs: number | undefined,
  random: () => number = Math.random,
): number | undefined {
  if (attemptsMade >= policy.maxAttempts) return undefined;
  const delay =
    retryAfterMs !== undefined ? Math.min(retryAfterMs, policy.maxBackoffMs) : backoffMs(policy, attemptsMade, random);
  const at = nowMs + delay;
  if (at - createdMs > policy.maxAgeMs) return undefined;
  return at;
}
