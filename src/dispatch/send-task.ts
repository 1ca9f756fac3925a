/** What the scheduler hands to a sender: deliveries to POST, and what each POST produced. */

export interface SendTarget {
  url: string;
  timeoutMs: number;
  headers: Record<string, string>;
  /** HMAC keys to sign with: the current secret, then the previous one during rotation grace. */
  keys: Uint8Array[];
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
}

/** Sends tasks somewhere (the main thread or a worker pool); results are in item order. */
export interface Sender {
  send(task: SendTask): Promise<SendResult[]>;
  /** Resolves once the sender can send without start-up delay. */
  ready(): Promise<void>;
  close(): Promise<void>;
}
