import { newId } from "../core/ids.ts";
import { classify, nextAttemptAt, parseRetryAfter, type AttemptVerdict } from "../core/retry.ts";
import { encodeSentHeaders } from "../core/sent-headers.ts";
import { DeliveryStatus, type Endpoint } from "../core/types.ts";
import { USER_AGENT } from "../version.ts";
import type { AttemptRecord, ClaimedDelivery } from "../store/store.ts";
import type { SendResult } from "./send-task.ts";

export interface Outcome {
  record: AttemptRecord;
  verdict: AttemptVerdict;
  /** A 429 or 503 whose Retry-After said when to try again (the retry waits that long). */
  waitGiven: boolean;
}

/**
 * Decides what one attempt means for its delivery: success, another try (when), or dead.
 * `customHeaders` names the endpoint's custom headers as sent (see customHeaderSuffix).
 */
export function decideOutcome(claimed: ClaimedDelivery, result: SendResult, endpoint: Endpoint, nowMs: number, customHeaders = ""): Outcome {
  const verdict = classify(result.statusCode, endpoint.retryPolicy, endpoint.successStatusCodes);
  const attemptsMade = claimed.cycleAttempts + 1;
  let status: DeliveryStatus;
  let nextAttemptMs = 0;
  let waitGiven = false;
  if (verdict === "success") {
    status = DeliveryStatus.Succeeded;
  } else if (verdict === "gone") {
    // The endpoint gets disabled; this delivery waits with it, to go out when it is re-enabled.
    status = DeliveryStatus.Retrying;
    nextAttemptMs = nowMs;
  } else if (verdict === "fail") {
    status = DeliveryStatus.Dead;
  } else {
    const retryAfterMs = result.statusCode === 429 || result.statusCode === 503 ? parseRetryAfter(result.retryAfter, nowMs) : undefined;
    waitGiven = retryAfterMs !== undefined;
    const at = nextAttemptAt(endpoint.retryPolicy, attemptsMade, claimed.cycleStartMs, nowMs, retryAfterMs);
    if (at === undefined) status = DeliveryStatus.Dead;
    else {
      status = DeliveryStatus.Retrying;
      nextAttemptMs = at;
    }
  }
  const error =
    result.error !== ""
      ? result.error
      : verdict === "success"
        ? ""
        : `HTTP ${result.statusCode}`;
  return {
    verdict,
    waitGiven,
    record: {
      status,
      nextAttemptMs,
      attempt: {
        id: newId("att", nowMs),
        deliveryId: claimed.deliveryId,
        number: claimed.attempts + 1,
        startedMs: result.startedMs,
        durationMs: result.durationMs,
        statusCode: result.statusCode,
        error,
        responseBody: result.responseBody,
        requestHeaders: encodeSentHeaders(USER_AGENT, result.signature, customHeaders),
      },
    },
  };
}
