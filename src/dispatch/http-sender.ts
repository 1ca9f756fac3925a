import { Agent, request } from "undici";
import { SigningKeyCache, signWith } from "../core/signing.ts";
import { USER_AGENT } from "../version.ts";
import type { SendItem, SendResult, SendTarget, SendTask } from "./send-task.ts";
import { PRIVATE_TARGET, guardedConnector } from "./guarded-connect.ts";

const RESPONSE_BODY_LIMIT = 1024;
const STALE_CONNECTION = /^(UND_ERR_SOCKET|ECONNRESET|EPIPE):/;

async function readLimited(body: AsyncIterable<Uint8Array> & { dump(opts?: { limit: number }): Promise<void> }): Promise<Uint8Array> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of body) {
    chunks.push(Buffer.from(chunk));
    size += chunk.length;
    if (size >= RESPONSE_BODY_LIMIT) break;
  }
  // Drain what is left (bounded) so the keep-alive connection can be reused.
  await body.dump({ limit: 64 * 1024 }).catch(() => undefined);
  return Buffer.concat(chunks).subarray(0, RESPONSE_BODY_LIMIT);
}

function describe(err: unknown): string {
  const e = err as { code?: string; message?: string; name?: string; cause?: { code?: string; message?: string } };
  if (e.name === "TimeoutError" || e.code === "UND_ERR_HEADERS_TIMEOUT" || e.code === "UND_ERR_BODY_TIMEOUT") return "timeout";
  const code = e.cause?.code ?? e.code;
  if (code === PRIVATE_TARGET) return e.cause?.message ?? e.message ?? String(err);
  const message = e.cause?.message ?? e.message ?? String(err);
  return code ? `${code}: ${message}` : message;
}

/** Signs and POSTs deliveries over keep-alive connections; used inline or inside a pool worker. */
export class HttpSender {
  private readonly agent: Agent;
  private readonly keys = new SigningKeyCache();

  constructor(options: { allowPrivateTargets: boolean; connectionsPerOrigin?: number }) {
    this.agent = new Agent({
      keepAliveTimeout: 30_000,
      keepAliveMaxTimeout: 120_000,
      connections: options.connectionsPerOrigin ?? 256,
      // Every connection is checked, not only endpoint creation: an endpoint made under
      // --allow-private-targets, or a name re-pointed since, is refused at connect time.
      connect: options.allowPrivateTargets ? {} : guardedConnector({}),
    });
  }

  async sendAll(task: SendTask): Promise<SendResult[]> {
    return Promise.all(task.items.map((item) => this.sendOne(task.targets[item.target] as SendTarget, item)));
  }

  /**
   * One attempt. A kept-alive connection the receiver closed while idle fails before the
   * request is read: that is resent once on a fresh connection instead of counting as a
   * failed attempt (which would feed the breaker with the receiver's idle-timeout races).
   */
  private async sendOne(target: SendTarget, item: SendItem): Promise<SendResult> {
    const first = await this.post(target, item);
    if (first.statusCode === 0 && STALE_CONNECTION.test(first.error)) return this.post(target, item);
    return first;
  }

  private async post(target: SendTarget, item: SendItem): Promise<SendResult> {
    const startedMs = Date.now();
    const timestamp = Math.floor(startedMs / 1000);
    const signature = signWith(
      target.secrets.map((secret) => this.keys.get(secret)),
      item.webhookId,
      timestamp,
      item.payload,
    );
    const headers: Record<string, string> = {
      ...target.headers,
      "content-type": "application/json",
      "user-agent": USER_AGENT,
      "webhook-id": item.webhookId,
      "webhook-timestamp": String(timestamp),
      "webhook-signature": signature,
    };
    const started = performance.now();
    try {
      const res = await request(target.url, {
        method: "POST",
        headers,
        body: item.payload,
        dispatcher: this.agent,
        headersTimeout: target.timeoutMs,
        bodyTimeout: target.timeoutMs,
        signal: AbortSignal.timeout(target.timeoutMs),
      });
      const responseBody = await readLimited(res.body);
      const retryAfter = res.headers["retry-after"];
      return {
        startedMs,
        durationMs: Math.round(performance.now() - started),
        statusCode: res.statusCode,
        error: "",
        responseBody,
        retryAfter: typeof retryAfter === "string" ? retryAfter : "",
        signature,
      };
    } catch (err) {
      return {
        startedMs,
        durationMs: Math.round(performance.now() - started),
        statusCode: 0,
        error: describe(err),
        responseBody: new Uint8Array(),
        retryAfter: "",
        signature,
      };
    }
  }

  /**
   * Called once attempts are done or the shutdown grace is over: requests still open are
   * aborted (close() would wait for them, up to their timeouts).
   */
  async close(): Promise<void> {
    await this.agent.destroy();
  }
}
