import { JetStreamApiError } from "@nats-io/jetstream";
import type { Logger } from "pino";

/**
 * JetStream API codes a cluster gives while it is still forming or electing (nats-server's
 * errors.json): no peers for placement yet (10005), JetStream temporarily unavailable (10008),
 * the meta leader cannot handle the request yet (10009). Hookline started together with its
 * cluster (compose, a rolling restart) sees these for a few seconds; they pass on their own.
 */
const FORMING_CODES = new Set([10005, 10008, 10009]);

export function isClusterForming(err: unknown): boolean {
  return err instanceof JetStreamApiError && FORMING_CODES.has(err.code);
}

/** A request nobody answered in time: on a cluster still electing its meta leader, JetStream API calls go unanswered. */
export function isUnanswered(err: unknown): boolean {
  return err instanceof Error && /timeout/i.test(err.message);
}

export interface SetupRetryOptions {
  logger: Logger;
  /** Gives up after this long and throws the last error. */
  deadlineMs: number;
  /** First pause between tries; doubles up to maxPauseMs. */
  pauseMs?: number;
  maxPauseMs?: number;
  /** Whether an error means "not yet" (default: isClusterForming). */
  notYet?: (err: unknown) => boolean;
}

/**
 * Runs one set-up step again while the cluster is forming, with a growing pause, until
 * `deadlineMs` has passed. Other errors are thrown at once: they need the operator.
 */
export async function retryWhileClusterForms<T>(step: string, run: () => Promise<T>, o: SetupRetryOptions): Promise<T> {
  const started = Date.now();
  let pause = o.pauseMs ?? 250;
  for (let attempt = 1; ; attempt++) {
    try {
      return await run();
    } catch (err) {
      const waited = Date.now() - started;
      if (!(o.notYet ?? isClusterForming)(err) || waited + pause > o.deadlineMs) throw err;
      // One line per try: at most a dozen over the deadline, and each says what it waits for.
      o.logger.warn({ step, attempt, waitedMs: waited, reason: (err as Error).message }, "JetStream cluster is not ready yet; trying again");
      await new Promise((resolve) => setTimeout(resolve, pause));
      pause = Math.min(pause * 2, o.maxPauseMs ?? 4000);
    }
  }
}
