import type { Dispatcher } from "undici";

/** Response bytes an attempt records (a receiver's answer is for people reading the log). */
const RESPONSE_BODY_LIMIT = 1024;
/** Past this much body the connection is given up rather than drained for reuse. */
const DRAIN_LIMIT = 64 * 1024;

/** What one POST produced: a status with the start of the body, or the error that stopped it. */
export type Collected =
  | { answered: true; statusCode: number; responseBody: Uint8Array; retryAfter: string }
  | { answered: false; error: unknown };

/** The error an attempt is aborted with when its deadline passes; `describe` calls it "timeout". */
function deadlineError(): Error {
  const err = new Error("the attempt took longer than the endpoint's timeout");
  err.name = "TimeoutError";
  return err;
}

/**
 * An undici dispatch handler for one POST: keeps the status, Retry-After and the first
 * RESPONSE_BODY_LIMIT bytes, drains the rest so the connection can be reused. It replaces
 * `request()` + an AbortSignal per attempt: the body stream, the signal and its listeners
 * were more than half of the sending CPU (119 → 55 µs per POST, bench/micro/sender-cost.ts).
 */
export class ResponseCollector implements Dispatcher.DispatchHandler {
  private controller: Dispatcher.DispatchController | undefined;
  private statusCode = 0;
  private retryAfter = "";
  /** The kept start of the body: a buffer of its own, so nothing else rides along to the main thread. */
  private kept: Uint8Array | undefined;
  private received = 0;
  private settled = false;
  /** Set when the deadline passed before the request reached a connection. */
  private expired = false;

  constructor(private readonly done: (result: Collected) => void) {}

  /** Gives up on the attempt now: aborts it on the wire, or as soon as it gets there. */
  expire(): void {
    if (this.settled) return;
    this.expired = true;
    if (this.controller) this.controller.abort(deadlineError());
    else this.finish({ answered: false, error: deadlineError() });
  }

  /** Also what tells undici this handler uses the current callback shape (without it: the legacy one). */
  onRequestStart(controller: Dispatcher.DispatchController): void {
    this.controller = controller;
    if (this.expired) controller.abort(deadlineError());
  }

  onResponseStart(_controller: Dispatcher.DispatchController, statusCode: number, headers: Record<string, string | string[] | undefined>): void {
    if (statusCode < 200) return; // 1xx: the final answer is still to come
    this.statusCode = statusCode;
    const retryAfter = headers["retry-after"];
    this.retryAfter = typeof retryAfter === "string" ? retryAfter : "";
  }

  onResponseData(controller: Dispatcher.DispatchController, chunk: Buffer): void {
    if (this.received < RESPONSE_BODY_LIMIT) (this.kept ??= new Uint8Array(RESPONSE_BODY_LIMIT)).set(chunk.subarray(0, RESPONSE_BODY_LIMIT - this.received), this.received);
    this.received += chunk.length;
    if (this.received > DRAIN_LIMIT) {
      // The answer is known; the connection is not worth the rest of the body.
      this.finishWithResponse();
      controller.abort(new Error("response body too large to drain"));
    }
  }

  onResponseEnd(): void {
    this.finishWithResponse();
  }

  onResponseError(_controller: Dispatcher.DispatchController, error: Error): void {
    this.finish({ answered: false, error });
  }

  private finishWithResponse(): void {
    const responseBody = this.kept ? this.kept.slice(0, Math.min(this.received, RESPONSE_BODY_LIMIT)) : new Uint8Array();
    this.finish({ answered: true, statusCode: this.statusCode, responseBody, retryAfter: this.retryAfter });
  }

  private finish(result: Collected): void {
    if (this.settled) return;
    this.settled = true;
    this.done(result);
  }
}
