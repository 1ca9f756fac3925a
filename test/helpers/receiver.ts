import http from "node:http";
import type { AddressInfo } from "node:net";

export interface ReceivedRequest {
  at: number;
  method: string;
  path: string;
  headers: http.IncomingHttpHeaders;
  body: Buffer;
}

/** What to answer a request with; a function may script per-request behaviour. */
export interface Reply {
  status: number;
  headers?: Record<string, string>;
  body?: string;
  /** Delay before answering. */
  delayMs?: number;
}

export type Responder = (req: ReceivedRequest, index: number) => Reply;

/** The webhook-id header: the delivery id, the same on every attempt of a delivery. */
/** The {"n": i} marker a load test put in an event's payload. */
export const markerOf = (req: ReceivedRequest): number => (JSON.parse(req.body.toString("utf8")) as { n: number }).n;

export const webhookId = (req: ReceivedRequest): string => String(req.headers["webhook-id"]);

/**
 * Answers by how many times the request's webhook-id was seen before: replies[n], then the
 * last entry. Scripts each delivery's attempts alike, whatever order deliveries arrive in.
 */
export function perDelivery(replies: Reply[]): Responder {
  const seen = new Map<string, number>();
  return (req) => {
    const id = webhookId(req);
    const n = seen.get(id) ?? 0;
    seen.set(id, n + 1);
    return replies[Math.min(n, replies.length - 1)]!;
  };
}

/** A real HTTP webhook receiver on 127.0.0.1 that records every request. */
export class Receiver {
  readonly requests: ReceivedRequest[] = [];
  private responder: Responder = () => ({ status: 200 });
  private readonly waiters = new Set<() => void>();

  private constructor(private readonly server: http.Server, readonly url: string) {}

  static async start(responder?: Responder): Promise<Receiver> {
    let self: Receiver | undefined;
    const server = http.createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on("data", (c: Buffer) => chunks.push(c));
      req.on("end", () => void self?.handle(req, Buffer.concat(chunks), res));
    });
    server.keepAliveTimeout = 60_000;
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    const { port } = server.address() as AddressInfo;
    self = new Receiver(server, `http://127.0.0.1:${port}/hook`);
    if (responder) self.respond(responder);
    return self;
  }

  respond(responder: Responder): void {
    this.responder = responder;
  }

  private async handle(req: http.IncomingMessage, body: Buffer, res: http.ServerResponse): Promise<void> {
    const record: ReceivedRequest = { at: Date.now(), method: req.method ?? "", path: req.url ?? "", headers: req.headers, body };
    const index = this.requests.length;
    this.requests.push(record);
    for (const wake of this.waiters) wake();
    const reply = this.responder(record, index);
    if (reply.delayMs) await new Promise((r) => setTimeout(r, reply.delayMs));
    if (res.destroyed) return;
    res.writeHead(reply.status, { "content-type": "text/plain", ...reply.headers });
    res.end(reply.body ?? "");
  }

  /** Distinct webhook-id values seen. */
  uniqueIds(): Set<string> {
    return new Set(this.requests.map(webhookId));
  }

  /** Waits until the predicate holds over the recorded requests (checked on each arrival). */
  async waitFor(predicate: (requests: ReceivedRequest[]) => boolean, timeoutMs = 15_000): Promise<void> {
    if (predicate(this.requests)) return;
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiters.delete(check);
        reject(new Error(`receiver: condition not met in ${timeoutMs}ms (${this.requests.length} requests so far)`));
      }, timeoutMs);
      const check = (): void => {
        if (predicate(this.requests)) {
          clearTimeout(timer);
          this.waiters.delete(check);
          resolve();
        }
      };
      this.waiters.add(check);
    });
  }

  async close(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}

/** Polls until fn returns a truthy value or the time is up. */
export async function eventually<T>(fn: () => Promise<T | undefined | false>, timeoutMs = 15_000, what = "condition"): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await fn();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`${what} not reached within ${timeoutMs}ms`);
    await new Promise((r) => setTimeout(r, 50));
  }
}
