import { secretKey } from "../core/secrets.ts";
import type { Endpoint } from "../core/types.ts";
import type { Logger } from "../observability/logger.ts";
import type { Metrics } from "../observability/metrics.ts";
import type { Catalog } from "../store/catalog.ts";
import type { ClaimedDelivery, Store } from "../store/store.ts";
import { decideOutcome } from "./outcome.ts";
import type { SendResult, SendTask, Sender } from "./send-task.ts";

export interface SchedulerOptions {
  store: Store;
  catalog: Catalog;
  sender: Sender;
  logger: Logger;
  metrics: Metrics;
  now: () => number;
  /** Deliveries claimed per endpoint per pass (and per worker task). */
  batchSize: number;
  /** Deliveries in flight across all endpoints. */
  maxInFlightTotal: number;
}

interface EndpointState {
  inFlight: number;
  /** Earliest due time of the endpoint's unclaimed open deliveries; Infinity when none. */
  dueAt: number;
}

/**
 * Moves due deliveries from the store to the sender, endpoint by endpoint in round-robin,
 * within each endpoint's max in-flight, and records the outcomes in batches.
 */
export class Scheduler {
  private readonly states = new Map<string, EndpointState>();
  private readonly running = new Set<Promise<void>>();
  private totalInFlight = 0;
  private cursor = 0;
  private pumping = false;
  private pumpAgain = false;
  private pumpQueued = false;
  private timer: NodeJS.Timeout | undefined;
  private timerAt = Infinity;
  private stopped = false;
  private unsubscribe: (() => void) | undefined;

  constructor(private readonly o: SchedulerOptions) {}

  async start(): Promise<void> {
    const released = await this.o.store.releaseLeases();
    if (released > 0) this.o.logger.warn({ released }, "deliveries in flight at the last stop are queued again");
    for (const [endpointId, dueAt] of await this.o.store.dueByEndpoint()) this.markDue(endpointId, dueAt);
    this.unsubscribe = this.o.catalog.onEndpointChange((change) => {
      if (change.kind === "upsert" && !change.endpoint.disabled) void this.wake(change.endpoint.id);
      if (change.kind === "delete") this.states.delete(change.endpointId);
    });
    this.schedulePump();
  }

  /** New or rescheduled work for an endpoint, due at atMs. */
  markDue(endpointId: string, atMs: number): void {
    if (this.stopped) return;
    let state = this.states.get(endpointId);
    if (!state) {
      state = { inFlight: 0, dueAt: Infinity };
      this.states.set(endpointId, state);
    }
    if (atMs < state.dueAt) state.dueAt = atMs;
    if (atMs <= this.o.now()) this.schedulePump();
    else this.armTimer(atMs);
  }

  /** Re-reads an endpoint's earliest due delivery (after replay, retry, re-enable). */
  async wake(endpointId: string): Promise<void> {
    const due = await this.o.store.nextDue(endpointId);
    if (due !== undefined) this.markDue(endpointId, due);
  }

  inFlight(): number {
    return this.totalInFlight;
  }

  /** Stops claiming, waits up to graceMs for attempts in flight, and returns unfinished ones to the queue. */
  async stop(graceMs: number): Promise<void> {
    this.stopped = true;
    this.unsubscribe?.();
    if (this.timer) clearTimeout(this.timer);
    const idle = Promise.allSettled([...this.running]);
    await Promise.race([idle, new Promise((resolve) => setTimeout(resolve, graceMs).unref())]);
    await this.o.sender.close();
  }

  private schedulePump(): void {
    if (this.stopped) return;
    if (this.pumping) {
      this.pumpAgain = true;
      return;
    }
    if (this.pumpQueued) return;
    this.pumpQueued = true;
    setImmediate(() => {
      this.pumpQueued = false;
      void this.pump();
    });
  }

  private armTimer(atMs: number): void {
    if (this.stopped || atMs >= this.timerAt) return;
    if (this.timer) clearTimeout(this.timer);
    this.timerAt = atMs;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.timerAt = Infinity;
      this.schedulePump();
    }, Math.max(0, atMs - this.o.now()));
    this.timer.unref();
  }

  private async pump(): Promise<void> {
    this.pumping = true;
    try {
      do {
        this.pumpAgain = false;
        await this.pass();
      } while (this.pumpAgain && !this.stopped);
    } catch (err) {
      this.o.logger.error({ err }, "scheduler pass failed; retrying in 1s");
      this.armTimer(this.o.now() + 1000);
    } finally {
      this.pumping = false;
    }
  }

  /** One round over the endpoints with due work, each getting at most one batch. */
  private async pass(): Promise<void> {
    const now = this.o.now();
    const ids = [...this.states.keys()];
    if (ids.length === 0) return;
    const start = this.cursor % ids.length;
    this.cursor = start + 1;
    let nextTimer = Infinity;
    for (let k = 0; k < ids.length && !this.stopped; k++) {
      const id = ids[(start + k) % ids.length] as string;
      const state = this.states.get(id);
      if (!state) continue;
      const endpoint = this.o.catalog.endpoint(id);
      if (!endpoint) {
        this.states.delete(id);
        continue;
      }
      if (endpoint.disabled) continue;
      if (state.dueAt > now) {
        if (state.dueAt !== Infinity) nextTimer = Math.min(nextTimer, state.dueAt);
        else if (state.inFlight === 0) this.states.delete(id);
        continue;
      }
      const room = Math.min(endpoint.maxInFlight - state.inFlight, this.o.batchSize, this.o.maxInFlightTotal - this.totalInFlight);
      if (room <= 0) continue;
      const claimed = await this.o.store.claim(id, now, room);
      if (claimed.length < room) {
        state.dueAt = (await this.o.store.nextDue(id)) ?? Infinity;
        if (state.dueAt !== Infinity && state.dueAt > now) nextTimer = Math.min(nextTimer, state.dueAt);
      }
      if (claimed.length > 0) this.dispatch(endpoint, state, claimed);
    }
    if (nextTimer !== Infinity) this.armTimer(nextTimer);
  }

  private dispatch(endpoint: Endpoint, state: EndpointState, claimed: ClaimedDelivery[]): void {
    state.inFlight += claimed.length;
    this.totalInFlight += claimed.length;
    const now = this.o.now();
    const keys = [secretKey(endpoint.secret)];
    if (endpoint.previousSecret !== "" && endpoint.previousSecretExpiresMs > now) keys.push(secretKey(endpoint.previousSecret));
    const task: SendTask = {
      targets: [{ url: endpoint.url, timeoutMs: endpoint.timeoutMs, headers: endpoint.headers, keys }],
      items: claimed.map((c) => ({ target: 0, webhookId: c.deliveryId, payload: c.payload })),
    };
    const run = this.o.sender
      .send(task)
      .catch((err: unknown): SendResult[] =>
        claimed.map(() => ({
          startedMs: now,
          durationMs: 0,
          statusCode: 0,
          error: `sender failed: ${(err as Error).message}`,
          responseBody: new Uint8Array(),
          retryAfter: "",
        })),
      )
      .then((results) => this.complete(endpoint.id, state, claimed, results))
      .catch((err: unknown) => this.o.logger.error({ err, endpointId: endpoint.id }, "recording attempt results failed"))
      .finally(() => {
        state.inFlight -= claimed.length;
        this.totalInFlight -= claimed.length;
        this.running.delete(run);
        this.schedulePump();
      });
    this.running.add(run);
  }

  private async complete(endpointId: string, state: EndpointState, claimed: ClaimedDelivery[], results: SendResult[]): Promise<void> {
    const endpoint = this.o.catalog.endpoint(endpointId);
    if (!endpoint) return; // deleted meanwhile: its deliveries were cancelled
    const now = this.o.now();
    const outcomes = claimed.map((c, i) => decideOutcome(c, results[i] as SendResult, endpoint, now));
    const gone = new Map<string, string>();
    const { metrics } = this.o;
    for (const { verdict, record } of outcomes) {
      metrics.attempts.inc({ outcome: verdict });
      metrics.attemptSeconds.observe(record.attempt.durationMs / 1000);
      if (verdict === "gone") gone.set(endpointId, `endpoint answered 410 Gone at ${new Date(now).toISOString()}`);
    }
    await this.o.store.complete(
      outcomes.map((o) => o.record),
      gone,
      now,
    );
    for (const { record } of outcomes) {
      if (record.nextAttemptMs > 0) {
        if (record.nextAttemptMs < state.dueAt) state.dueAt = record.nextAttemptMs;
        this.markDue(endpointId, record.nextAttemptMs);
      } else {
        metrics.deliveriesFinished.inc({ status: record.status === 2 ? "succeeded" : "dead" });
      }
    }
    if (gone.size > 0) {
      this.o.logger.warn({ endpointId, reason: gone.get(endpointId) }, "endpoint disabled");
      await this.o.catalog.refreshEndpoint(endpointId);
    }
  }
}
