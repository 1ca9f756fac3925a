import { Agent } from "undici";
import { SigningKeyCache, signWith } from "../core/signing.ts";
import { USER_AGENT } from "../version.ts";
import type { SendItem, SendResult, SendTarget, SendTask, TargetDone } from "./send-task.ts";
import { PRIVATE_TARGET, guardedConnector } from "./guarded-connect.ts";
import { ResponseCollector, type Collected } from "./response-collector.ts";

const STALE_CONNECTION = /^(UND_ERR_SOCKET|ECONNRESET|EPIPE):/;

/** One target's share of a task: its URL parsed once, its deadline, its attempts still open. */
class TargetRun {
  readonly origin: string;
  readonly path: string;
  /** The URL did not parse (endpoints are checked when written, so only an old row could). */
  readonly badUrl: unknown;
  expired = false;
  private readonly open = new Set<ResponseCollector>();
  private readonly timer: NodeJS.Timeout;

  constructor(readonly target: SendTarget) {
    let url: URL | undefined;
    try {
      url = new URL(target.url);
    } catch (err) {
      this.badUrl = err;
    }
    this.origin = url?.origin ?? "";
    this.path = url ? `${url.pathname}${url.search}` : "";
    this.timer = setTimeout(() => {
      this.expired = true;
      for (const collector of this.open) collector.expire();
    }, target.timeoutMs);
  }

  /** Called as the task starts, or for a resend only while the deadline is still ahead (sendOne). */
  track(collector: ResponseCollector): ResponseCollector {
    this.open.add(collector);
    return collector;
  }

  untrack(collector: ResponseCollector): void {
    this.open.delete(collector);
  }

  end(): void {
    clearTimeout(this.timer);
  }
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

  /**
   * A task's POSTs start together and share one deadline per target (its timeout covers the
   * attempt, a stale-connection resend included): one timer per target, not one per request.
   * Each target is reported through onTarget as soon as its own POSTs are done.
   */
  async sendAll(task: SendTask, onTarget?: TargetDone): Promise<SendResult[]> {
    const runs = task.targets.map((target) => new TargetRun(target));
    const itemsOf = runs.map((): number[] => []);
    task.items.forEach((item, i) => itemsOf[item.target]?.push(i));
    const results: SendResult[] = new Array<SendResult>(task.items.length);
    try {
      await Promise.all(
        itemsOf.map(async (indices, t) => {
          const run = runs[t] as TargetRun;
          const done = await Promise.all(indices.map((i) => this.sendOne(run, task.items[i] as SendItem)));
          run.end();
          indices.forEach((i, k) => (results[i] = done[k] as SendResult));
          onTarget?.(t, done);
        }),
      );
    } finally {
      for (const run of runs) run.end();
    }
    return results;
  }

  /**
   * One attempt. A kept-alive connection the receiver closed while idle fails before the
   * request is read: that is resent once on a fresh connection instead of counting as a
   * failed attempt (which would feed the breaker with the receiver's idle-timeout races).
   */
  private async sendOne(run: TargetRun, item: SendItem): Promise<SendResult> {
    const first = await this.post(run, item);
    if (first.statusCode === 0 && STALE_CONNECTION.test(first.error) && !run.expired) return this.post(run, item);
    return first;
  }

  private async post(run: TargetRun, item: SendItem): Promise<SendResult> {
    const { target } = run;
    const startedMs = Date.now();
    const timestamp = Math.floor(startedMs / 1000);
    const signature = signWith(
      target.secrets.map((secret) => this.keys.get(secret)),
      item.webhookId,
      timestamp,
      item.payload,
    );
    const headers: Record<string, string> = {
      "content-type": "application/json",
      "user-agent": USER_AGENT,
      "webhook-id": item.webhookId,
      "webhook-timestamp": String(timestamp),
      "webhook-signature": signature,
    };
    for (const name in target.headers) headers[name] ??= target.headers[name] as string;
    const started = performance.now();
    let collector: ResponseCollector | undefined;
    const collected = await new Promise<Collected>((resolve) => {
      collector = run.track(new ResponseCollector(resolve));
      if (run.badUrl !== undefined) return resolve({ answered: false, error: run.badUrl });
      try {
        this.agent.dispatch(
          { origin: run.origin, path: run.path, method: "POST", headers, body: item.payload, headersTimeout: target.timeoutMs, bodyTimeout: target.timeoutMs },
          collector,
        );
      } catch (err) {
        resolve({ answered: false, error: err });
      }
    });
    run.untrack(collector as ResponseCollector);
    const durationMs = Math.round(performance.now() - started);
    if (!collected.answered) {
      return { startedMs, durationMs, statusCode: 0, error: describe(collected.error), responseBody: new Uint8Array(), retryAfter: "", signature };
    }
    return { startedMs, durationMs, statusCode: collected.statusCode, error: "", responseBody: collected.responseBody, retryAfter: collected.retryAfter, signature };
  }

  /**
   * Called once attempts are done or the shutdown grace is over: requests still open are
   * aborted (close() would wait for them, up to their timeouts).
   */
  async close(): Promise<void> {
    await this.agent.destroy();
  }
}
