/** What the scheduler hands to a sender: deliveries to POST, and what each POST produced. */

export interface SendTarget {
  url: string;
  timeoutMs: number;
  headers: Record<string, string>;
  /**
   * Secrets to sign with ("whsec_" HMAC or "whsk_" ed25519): the current one, then the previous
   * one during a rotation's grace period. The sender turns each into a key once and caches it.
   */
  secrets: string[];
}

export interface SendItem {
  target: number;
  /** webhook-id: the delivery id, stable across retries. */
  webhookId: string;
  payload: Uint8Array;
}

export interface SendTask {
  targets: SendTarget[];
  items: SendItem[];
}

export interface SendResult {
  startedMs: number;
  durationMs: number;
  /** 0 when no response arrived. */
  statusCode: number;
  error: string;
  responseBody: Uint8Array;
  retryAfter: string;
  /**
   * The webhook-signature header sent ("" when no request was made). Together with startedMs
   * (webhook-timestamp is its second) it is what an attempt records of the request.
   */
  signature: string;
}

/** Called once per target as soon as all of its items are done, with their results in item order. */
export type TargetDone = (target: number, results: SendResult[]) => void;

/**
 * Sends tasks somewhere (the main thread or a worker pool). One task may hold the deliveries
 * of many endpoints; each target's results are reported as soon as that target is done, so a
 * slow endpoint never holds back the others'.
 */
export interface Sender {
  /**
   * Resolves once every target has been reported. Rejects when the sender itself failed (a
   * worker died): targets not reported by then get no results.
   */
  send(task: SendTask, onTarget: TargetDone): Promise<void>;
  /** Resolves once the sender can send without start-up delay. */
  ready(): Promise<void>;
  close(): Promise<void>;
}
