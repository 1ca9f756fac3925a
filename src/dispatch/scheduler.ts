import { customHeaderSuffix } from "../core/sent-headers.ts";
import { clampDelay } from "../core/timers.ts";
import { DeliveryStatus, type Delivery, type Endpoint } from "../core/types.ts";
import type { Logger } from "../observability/logger.ts";
import type { Metrics } from "../observability/metrics.ts";
import { RateLimitedLog } from "../observability/rate-limited-log.ts";
import type { Catalog } from "../store/catalog.ts";
import type { CommitLane } from "../store/group-commit.ts";
import type { ClaimResult, ClaimedDelivery, DeliveryQueue } from "../store/store.ts";
import type { BreakerOptions } from "./breaker.ts";
import type { DeliveryFeed } from "./delivery-feed.ts";
import { EndpointState } from "./endpoint-state.ts";
import { CommitFastLane } from "./fast-lane.ts";
import type { OperationalEvents } from "./operational-events.ts";
import { decideOutcome, type Outcome } from "./outcome.ts";
import type { SendResult, SendTask, Sender } from "./send-task.ts";
import { TokenBucket } from "./token-bucket.ts";

export interface SchedulerOptions {
  store: DeliveryQueue;
  catalog: Catalog;
  sender: Sender;
  feed: DeliveryFeed;
  logger: Logger;
  metrics: Metrics;
  now: () => number;
  /** Deliveries claimed per endpoint per turn. */
  batchSize: number;
  /** Deliveries in flight across all endpoints. */
  maxInFlightTotal: number;
  breaker: BreakerOptions;
  /** An endpoint failing without a single success for this long is disabled. */
  autoDisableAfterMs: number;
  /** Tells subscribed endpoints about disables, breakers opening and dead deliveries. */
  operational?: OperationalEvents;
}

export interface EndpointHealth {
  inFlight: number;
  breaker: EndpointState["breaker"]["state"];
  consecutiveFailures: number;
  failingSinceMs: number;
  effectiveRate: number;
  recent: ReturnType<EndpointState["window"]["summary"]>;
  lastSuccessMs: number;
  lastFailureMs: number;
}

/** First and longest wait before writing results that failed to record again. */
const RECORD_RETRY_MS = 500;
const MAX_RECORD_RETRY_MS = 10_000;

/** Deliveries past which a pass's task is closed and the next begun. */
const TASK_ITEMS = 32;

/** How soon an endpoint whose due work was blocked is looked at again. */
const BLOCKED_RECHECK_MS = 1000;

/** A sent task's results, waiting for the shared commit. */
interface FinishedTask {
  endpointId: string;
  state: EndpointState;
  claimed: ClaimedDelivery[];
  results: SendResult[];
  /** The custom header names the requests carried, as attempts record them. */
  customHeaders: string;
  done: () => void;
  fail: (err: unknown) => void;
}

/** Endpoint changes gathered while judging a batch of results (written with it). */
interface EndpointChanges {
  disable: Map<string, string>;
  /** Why each endpoint in `disable` goes: it answered 410, or it failed for too long. */
  disableCause: Map<string, "gone" | "failing">;
  failingSince: Map<string, number>;
}

/** What a pass claimed for one endpoint, to send. */
interface Batch {
  endpoint: Endpoint;
  state: EndpointState;
  claimed: ClaimedDelivery[];
}

interface Plan {
  endpoint: Endpoint;
  state: EndpointState;
  tenantBucket: TokenBucket;
  limit: number;
}

/**
 * Moves due deliveries from the store to the sender. Turns go round-robin across tenants,
 * and within a tenant across its endpoints, so neither a busy tenant nor a busy endpoint
 * starves the others. Each endpoint is bounded by its max in-flight, rate limit, 429
 * throttle and circuit breaker; each tenant by its rate limit.
 */
export class Scheduler {
  private readonly states = new Map<string, EndpointState>();
  /** Endpoints gone idle: out of the rotation, but their recent stats stay for GetEndpointStats. */
  private readonly idle = new Map<string, EndpointState>();
  private readonly tenantBuckets = new Map<string, TokenBucket>();
  private readonly running = new Set<Promise<void>>();
  private totalInFlight = 0;
  private tenantCursor = 0;
  /** Per tenant, the endpoint that last got to send: the next pass starts after it. */
  private readonly lastServed = new Map<string, string>();
  private pumping = false;
  private pumpAgain = false;
  private pumpQueued = false;
  private timer: NodeJS.Timeout | undefined;
  private timerAt = Infinity;
  private stopped = false;
  private unsubscribe: (() => void) | undefined;
  private readonly finished: FinishedTask[] = [];
  private recordQueued = false;
  /** The pass running now, awaited by stop() so no claim is left half applied. */
  private pumpRun: Promise<void> = Promise.resolve();
  /** Commits of results running now (one may be waiting to retry). */
  private readonly recordings = new Set<Promise<void>>();
  /** Wakes recordings waiting to retry. */
  private readonly pauses = new Set<() => void>();
  /** Past the grace period: results still arriving are not recorded; their leases go back to the queue. */
  private handingBack = false;

  /** Lines an incident repeats per delivery or endpoint: bounded so they cannot flood the log. */
  private readonly ops: RateLimitedLog;

  constructor(private readonly o: SchedulerOptions) {
    this.ops = new RateLimitedLog(o.logger, { perWindow: 10, windowMs: 10_000, now: o.now });
  }

  async start(): Promise<void> {
    const released = await this.o.store.releaseLeases();
    if (released > 0) this.o.logger.warn({ released }, "deliveries in flight at the last stop are queued again");
    const failing = await this.o.store.failingSince();
    for (const [endpointId, since] of failing) {
      const state = this.state(endpointId);
      if (state) state.failingSinceMs = state.storedFailingSinceMs = since;
    }
    for (const [endpointId, dueAt] of await this.o.store.dueByEndpoint()) this.markDue(endpointId, dueAt);
    this.unsubscribe = this.o.catalog.onEndpointChange((change) => {
      if (change.kind === "delete") {
        this.states.delete(change.endpointId);
        this.idle.delete(change.endpointId);
        return;
      }
      const state = this.states.get(change.endpoint.id);
      if (!change.endpoint.disabled) {
        // Re-enabled: the failing streak starts afresh (written with the next attempt), then look for work.
        if (state && state.failingSinceMs > 0 && change.endpoint.disabledReason === "") state.failingSinceMs = 0;
        this.wake(change.endpoint.id).catch((err: unknown) =>
          this.o.logger.error({ err, endpointId: change.endpoint.id }, "re-reading a re-enabled endpoint's queue failed"),
        );
      }
    });
    this.schedulePump();
  }

  /** New or rescheduled work for an endpoint, due at atMs. */
  markDue(endpointId: string, atMs: number): void {
    if (this.stopped) return;
    const state = this.state(endpointId);
    if (!state) return;
    if (atMs < state.dueAt) state.dueAt = atMs;
    if (atMs <= this.o.now()) this.schedulePump();
    else this.armTimer(atMs);
  }

  /**
   * The fast lane for one publish commit: fresh deliveries of endpoints with room and nothing
   * queued are inserted leased and sent as soon as the commit is durable. Under light load
   * that saves the wake-up, the pass and the claim between commit and send.
   */
  openLane(): CommitLane {
    return new CommitFastLane({
      reserve: (endpointId) => this.reserveFresh(endpointId),
      holdQueue: (endpointId, count) => {
        const state = this.states.get(endpointId) ?? this.idle.get(endpointId);
        if (state) state.queuedUncommitted = Math.max(0, state.queuedUncommitted + count);
      },
      start: (admitted) => this.startFresh(admitted),
      release: (endpointId, count) => this.held(endpointId, -count),
    });
  }

  /** A start now for one fresh delivery, taken from the same limits a pass applies. */
  private reserveFresh(endpointId: string): boolean {
    if (this.stopped) return false;
    const endpoint = this.o.catalog.endpoint(endpointId);
    // Ordered endpoints keep their key order through the claim.
    if (!endpoint || endpoint.disabled || endpoint.ordering === "ordered_by_key") return false;
    const now = this.o.now();
    const state = this.state(endpointId);
    // Nothing queued ahead of it; a half-open breaker's one probe goes through a pass.
    if (!state || state.dueAt <= now || state.queuedUncommitted > 0 || state.breaker.state !== "closed") return false;
    if (typeof this.room(endpoint, state, now, Math.min(1, this.o.maxInFlightTotal - this.totalInFlight)) === "number") return false;
    state.bucket.take(1, now);
    this.held(endpointId, 1);
    return true;
  }

  /** Counts deliveries in flight for an endpoint (a negative count gives them back). */
  private held(endpointId: string, count: number): void {
    const state = this.states.get(endpointId);
    if (state) state.inFlight += count;
    this.totalInFlight += count;
  }

  /** Sends deliveries admitted by a fast lane, their commit now durable. */
  private startFresh(admitted: ClaimedDelivery[]): void {
    const now = this.o.now();
    const byEndpoint = new Map<string, ClaimedDelivery[]>();
    for (const c of admitted) {
      const list = byEndpoint.get(c.endpointId);
      if (list) list.push(c);
      else byEndpoint.set(c.endpointId, [c]);
    }
    const batches: Batch[] = [];
    for (const [endpointId, claimed] of byEndpoint) {
      // The reservation becomes the in-flight count sendTask takes.
      this.held(endpointId, -claimed.length);
      const state = this.states.get(endpointId);
      const endpoint = this.o.catalog.endpoint(endpointId);
      // Stopping, or deleted meanwhile: left leased, as a pass leaves what it claimed.
      if (!state || !endpoint || this.stopped) continue;
      this.lastServed.set(endpoint.tenantId, endpoint.id);
      state.breaker.started(claimed.length);
      state.throttle.started(claimed.length, now);
      batches.push({ endpoint, state, claimed });
    }
    if (batches.length === 0) return;
    this.o.metrics.deliveriesFastLane.inc(batches.reduce((n, b) => n + b.claimed.length, 0));
    this.dispatch(batches);
  }

  /** Re-reads an endpoint's earliest due delivery (after replay, retry, re-enable). */
  async wake(endpointId: string): Promise<void> {
    const due = await this.o.store.nextDue(endpointId);
    if (due !== undefined) this.markDue(endpointId, due);
  }

  health(endpointId: string): EndpointHealth | undefined {
    const state = this.states.get(endpointId) ?? this.idle.get(endpointId);
    const endpoint = this.o.catalog.endpoint(endpointId);
    if (!endpoint) return undefined;
    const now = this.o.now();
    return {
      inFlight: state?.inFlight ?? 0,
      breaker: state?.breaker.state ?? "closed",
      consecutiveFailures: state?.breaker.consecutiveFailures ?? 0,
      failingSinceMs: state?.failingSinceMs ?? 0,
      effectiveRate: state ? state.effectiveRate(endpoint.rateLimitPerSecond, now) : endpoint.rateLimitPerSecond,
      recent: state?.window.summary() ?? { attempts: 0, successRate: 0, p50: 0, p95: 0, p99: 0 },
      lastSuccessMs: state?.window.lastSuccessMs ?? 0,
      lastFailureMs: state?.window.lastFailureMs ?? 0,
    };
  }

  /** Webhook requests in flight from this process. */
  get attemptsInFlight(): number {
    return this.totalInFlight;
  }

  /** Endpoints paused by their breaker (idle endpoints always have a closed one). */
  breakersOpen(): number {
    let count = 0;
    for (const state of this.states.values()) if (state.breaker.state !== "closed") count++;
    return count;
  }

  /**
   * Stops claiming and waits for the pass in progress; gives attempts in flight until
   * deadlineMs to finish and be recorded. What is still out then is handed back: its results
   * are not recorded and its leases are released by the caller (releaseLeases), so it is
   * sent again after the restart rather than recorded as a failure caused by the shutdown.
   */
  async stop(deadlineMs: number): Promise<void> {
    this.stopped = true;
    this.unsubscribe?.();
    if (this.timer) clearTimeout(this.timer);
    let timer: NodeJS.Timeout | undefined;
    const deadline = new Promise<false>((resolve) => (timer = setTimeout(() => resolve(false), clampDelay(deadlineMs - this.o.now()))));
    // The pass in progress first (its claims become tasks in `running`), then those tasks.
    const finished =
      (await Promise.race([this.pumpRun.then(() => true), deadline])) &&
      (await Promise.race([Promise.allSettled([...this.running]).then(() => true), deadline]));
    clearTimeout(timer);
    if (!finished) {
      this.handingBack = true;
      for (const task of this.finished.splice(0)) task.done();
      for (const wake of this.pauses) wake();
      this.o.logger.warn({ inFlight: this.totalInFlight }, "shutdown grace is over: attempts still in flight are handed back to the queue");
    }
    await Promise.allSettled([...this.recordings]);
    await this.o.sender.close();
    this.ops.flush();
  }

  private state(endpointId: string): EndpointState | undefined {
    let state = this.states.get(endpointId);
    if (!state) {
      const endpoint = this.o.catalog.endpoint(endpointId);
      if (!endpoint) return undefined;
      state = this.idle.get(endpointId) ?? new EndpointState(endpointId, endpoint.tenantId, this.o.breaker, this.o.now());
      this.idle.delete(endpointId);
      this.states.set(endpointId, state);
    }
    return state;
  }

  private tenantBucket(tenantId: string, now: number): TokenBucket {
    const rate = this.o.catalog.tenant(tenantId)?.rateLimitPerSecond ?? 0;
    let bucket = this.tenantBuckets.get(tenantId);
    if (!bucket) {
      bucket = new TokenBucket(rate, now);
      this.tenantBuckets.set(tenantId, bucket);
    } else bucket.setRate(rate, now);
    return bucket;
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
      this.pumpRun = this.pump();
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
    }, clampDelay(atMs - this.o.now()));
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

  /**
   * Endpoints with state, grouped by tenant, each list starting after the endpoint the tenant
   * last sent for. (A cursor advanced per pass phase-locks under a tenant rate limit: with one
   * token per two passes, the same endpoint came first every time a token was there.)
   */
  private rotation(): string[][] {
    const byTenant = new Map<string, string[]>();
    for (const state of this.states.values()) {
      let list = byTenant.get(state.tenantId);
      if (!list) byTenant.set(state.tenantId, (list = []));
      list.push(state.endpointId);
    }
    const tenants = [...byTenant.keys()];
    if (tenants.length === 0) return [];
    const start = this.tenantCursor++ % tenants.length;
    return tenants.map((_, i) => {
      const tenantId = tenants[(start + i) % tenants.length] as string;
      const list = byTenant.get(tenantId) as string[];
      const last = this.lastServed.get(tenantId);
      const from = last === undefined ? 0 : (list.indexOf(last) + 1) % list.length;
      return [...list.slice(from), ...list.slice(0, from)];
    });
  }

  /**
   * One pass: tenants take turns, each turn planning the tenant's next endpoint with due
   * work (one batch), until every queue is done or the global cap is spoken for. Then one
   * transaction claims for all of them, and the batches go out.
   */
  private async pass(): Promise<void> {
    const now = this.o.now();
    let nextTimer = Infinity;
    const plans: Plan[] = [];
    let budget = this.o.maxInFlightTotal - this.totalInFlight;
    const queues = this.rotation();
    while (queues.length > 0 && budget > 0) {
      for (let t = 0; t < queues.length && budget > 0; ) {
        const id = (queues[t] as string[]).shift();
        if (id === undefined) {
          queues.splice(t, 1);
          continue;
        }
        t++;
        const plan = this.plan(id, now, budget);
        if (typeof plan === "number") {
          if (plan > 0) nextTimer = Math.min(nextTimer, plan);
          continue;
        }
        plans.push(plan);
        budget -= plan.limit;
      }
    }
    if (plans.length > 0 && !this.stopped) {
      const results = await this.o.store.claim(
        plans.map((p) => ({ endpointId: p.endpoint.id, limit: p.limit, ordered: p.endpoint.ordering === "ordered_by_key" })),
        now,
      );
      const batches: Batch[] = [];
      plans.forEach((plan, i) => {
        const wait = this.apply(plan, results[i] as ClaimResult, now, batches);
        if (wait > 0) nextTimer = Math.min(nextTimer, wait);
      });
      if (batches.length > 0) this.dispatch(batches);
    }
    if (nextTimer !== Infinity) this.armTimer(nextTimer);
  }

  /** How many deliveries an endpoint may start now, or when to look again (0 = a completion will). */
  private plan(id: string, now: number, budget: number): Plan | number {
    const state = this.states.get(id);
    if (!state) return 0;
    const endpoint = this.o.catalog.endpoint(id);
    if (!endpoint) {
      this.states.delete(id);
      return 0;
    }
    if (endpoint.disabled) return 0;
    if (state.dueAt > now) {
      if (state.dueAt === Infinity && state.inFlight === 0 && state.breaker.state === "closed" && state.failingSinceMs === 0) {
        this.states.delete(id);
        this.idle.set(id, state);
      }
      return state.dueAt === Infinity ? 0 : state.dueAt;
    }
    return this.room(endpoint, state, now, budget);
  }

  /**
   * How many deliveries an endpoint may start now under its breaker, max in-flight, rate
   * limits and `budget`, with the tenant's tokens for them taken; or when to look again.
   */
  private room(endpoint: Endpoint, state: EndpointState, now: number, budget: number): Plan | number {
    const permits = state.breaker.permits(now);
    if (permits === 0) return state.breaker.reopensAt();
    state.bucket.setRate(state.effectiveRate(endpoint.rateLimitPerSecond, now), now);
    const tenantBucket = this.tenantBucket(endpoint.tenantId, now);
    const tokens = Math.min(state.bucket.available(now), tenantBucket.available(now));
    if (tokens <= 0) return now + Math.max(state.bucket.msUntilToken(now), tenantBucket.msUntilToken(now), 1);
    const limit = Math.min(endpoint.maxInFlight - state.inFlight, this.o.batchSize, budget, permits, tokens);
    if (limit <= 0) return 0;
    // Reserve the tokens now, so a tenant's later endpoints in this pass see what is left.
    tenantBucket.take(limit, now);
    return { endpoint, state, tenantBucket, limit };
  }

  /** Takes what was claimed for a plan into `batches`; returns when to look again (0 = no timer needed). */
  private apply({ endpoint, state, tenantBucket, limit }: Plan, { claimed, nextDue }: ClaimResult, now: number, batches: Batch[]): number {
    // Give back the tenant tokens reserved for deliveries that were not there.
    tenantBucket.giveBack(limit - claimed.length);
    let wait = 0;
    if (claimed.length < limit) {
      state.dueAt = nextDue ?? Infinity;
      if (state.dueAt !== Infinity) {
        // Due work that could not be claimed is blocked (a key in flight): a completion wakes
        // the endpoint, and this timer makes sure nothing waits on a lost wake-up.
        wait = state.dueAt > now ? state.dueAt : now + BLOCKED_RECHECK_MS;
      }
    }
    // Claimed while stopping: left leased, so the shutdown hands it back to the queue.
    if (claimed.length > 0 && !this.stopped) {
      this.lastServed.set(endpoint.tenantId, endpoint.id);
      state.bucket.take(claimed.length, now);
      state.breaker.started(claimed.length);
      state.throttle.started(claimed.length, now);
      batches.push({ endpoint, state, claimed });
    }
    return wait;
  }

  /**
   * Sends a pass's batches, several endpoints to a task: a hand-off to a delivery thread has a
   * fixed cost, which under light load (one delivery per endpoint) was 40% of the sending CPU:
   * 162 µs per POST as one task per endpoint against 98 µs with 50 endpoints in one task
   * (`bench/micro/hand-off.ts`). Tasks are closed at TASK_ITEMS deliveries, so a deep pass
   * still reaches the threads in pieces they start on while the rest is handed over. Each
   * endpoint's results come back, and are recorded, as soon as its own POSTs are done.
   */
  private dispatch(batches: Batch[]): void {
    let group: Batch[] = [];
    let items = 0;
    for (const batch of batches) {
      group.push(batch);
      items += batch.claimed.length;
      if (items >= TASK_ITEMS) {
        this.sendTask(group);
        group = [];
        items = 0;
      }
    }
    if (group.length > 0) this.sendTask(group);
  }

  private sendTask(batches: Batch[]): void {
    const now = this.o.now();
    const task: SendTask = { targets: [], items: [] };
    const sent = batches.map(({ endpoint: planned, state, claimed }, t) => {
      // The claim took a while (a network round trip on JetStream): a secret rotated or a URL
      // changed meanwhile must already apply to what it returned.
      const endpoint = this.o.catalog.endpoint(planned.id) ?? planned;
      state.inFlight += claimed.length;
      this.totalInFlight += claimed.length;
      const secrets = [endpoint.secret];
      if (endpoint.previousSecret !== "" && endpoint.previousSecretExpiresMs > now) secrets.push(endpoint.previousSecret);
      task.targets.push({ url: endpoint.url, timeoutMs: endpoint.timeoutMs, headers: endpoint.headers, secrets });
      for (const c of claimed) task.items.push({ target: t, webhookId: c.deliveryId, payload: c.payload });
      let report!: (results: SendResult[]) => void;
      const results = new Promise<SendResult[]>((resolve) => (report = resolve));
      return { endpoint, report, results, reported: false };
    });
    // A target the sender did not report by the time its send settled (the sender failed) has
    // its attempts failed: nothing waits forever.
    const failUnreported = (reason: string): void =>
      sent.forEach((target, t) => {
        if (!target.reported) target.report((batches[t] as Batch).claimed.map(() => senderFailed(now, reason)));
      });
    this.o.sender
      .send(task, (t, results) => {
        const target = sent[t];
        if (!target || target.reported) return;
        target.reported = true;
        target.report(results);
      })
      .then(
        () => failUnreported("no result came back for this attempt"),
        (err: unknown) => failUnreported((err as Error).message),
      );
    batches.forEach(({ state, claimed }, t) => {
      const { endpoint, results } = sent[t] as (typeof sent)[number];
      const run = results
        .then((r) => this.record(endpoint.id, state, claimed, r, customHeaderSuffix(endpoint.headers)))
        .catch((err: unknown) => this.o.logger.error({ err, endpointId: endpoint.id }, "recording attempt results failed"))
        .finally(() => {
          state.inFlight -= claimed.length;
          this.totalInFlight -= claimed.length;
          this.running.delete(run);
          this.schedulePump();
        });
      this.running.add(run);
    });
  }

  /** Queues a task's results; those arriving in the same turn of the event loop share one commit. */
  private record(endpointId: string, state: EndpointState, claimed: ClaimedDelivery[], results: SendResult[], customHeaders: string): Promise<void> {
    if (this.handingBack) return Promise.resolve();
    return new Promise((done, fail) => {
      this.finished.push({ endpointId, state, claimed, results, customHeaders, done, fail });
      if (!this.recordQueued) {
        this.recordQueued = true;
        setImmediate(() => {
          this.recordQueued = false;
          const batch = this.finished.splice(0);
          const recording = this.recordFinished(batch)
            .catch((err: unknown) => {
              for (const task of batch) task.fail(err);
            })
            .finally(() => this.recordings.delete(recording));
          this.recordings.add(recording);
        });
      }
    });
  }

  private async recordFinished(batch: FinishedTask[]): Promise<void> {
    if (batch.length === 0) return;
    const now = this.o.now();
    const changes: EndpointChanges = { disable: new Map(), disableCause: new Map(), failingSince: new Map() };
    const judged = batch.map((task) => {
      const endpoint = this.o.catalog.endpoint(task.endpointId);
      // Deleted meanwhile: its deliveries were cancelled, nothing to record.
      return endpoint && { endpoint, outcomes: this.judge(endpoint, task, now, changes) };
    });
    const records = judged.flatMap((j) => j?.outcomes.map((o) => o.record) ?? []);
    // Only a change of state is news: an endpoint disabled meanwhile (by an operator) is not reported again.
    const newlyDisabled = [...changes.disable.keys()].filter((id) => this.o.catalog.endpoint(id)?.disabled === false);
    // Results that could not be written (a full disk) stay here, their deliveries leased,
    // and are written once the store takes writes again; a shutdown first hands them back.
    for (let delayMs = RECORD_RETRY_MS; ; delayMs = Math.min(delayMs * 2, MAX_RECORD_RETRY_MS)) {
      try {
        await this.o.store.complete(records, changes, now);
        break;
      } catch (err) {
        if (this.handingBack) {
          for (const task of batch) task.done();
          return;
        }
        this.o.logger.error({ err, attempts: records.length, retryInMs: delayMs }, "recording attempt results failed; kept in memory and retried");
        await this.pause(delayMs);
      }
    }
    batch.forEach((task, i) => {
      const j = judged[i];
      if (j) this.follow(j.endpoint, task, j.outcomes, now);
      task.done();
    });
    for (const [endpointId, reason] of changes.disable) {
      const cause = changes.disableCause.get(endpointId) ?? "failing";
      const tenantId = this.o.catalog.endpoint(endpointId)?.tenantId;
      this.ops.warn(cause === "gone" ? "endpoint-gone" : "endpoint-auto-disabled", { endpointId, tenantId, reason }, "endpoint disabled");
      await this.o.catalog.refreshEndpoint(endpointId);
      // After the refresh: the catalog shows it disabled, so it is not among the receivers.
      const endpoint = this.o.catalog.endpoint(endpointId);
      if (endpoint && newlyDisabled.includes(endpointId)) this.o.operational?.endpointDisabled(endpoint, reason, cause);
    }
  }

  /** Waits delayMs, or less when the shutdown starts handing work back. */
  private pause(delayMs: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.pauses.delete(wake);
        resolve();
      }, delayMs);
      const wake = (): void => {
        clearTimeout(timer);
        resolve();
      };
      this.pauses.add(wake);
    });
  }

  /** Outcomes of one task's attempts, with what they do to the endpoint's health. */
  private judge(endpoint: Endpoint, { state, claimed, results, customHeaders }: FinishedTask, now: number, changes: EndpointChanges): Outcome[] {
    const outcomes = claimed.map((c, i) => decideOutcome(c, results[i] as SendResult, endpoint, now, customHeaders));
    const { metrics } = this.o;
    const { disable, disableCause } = changes;
    for (const { verdict, record, waitGiven } of outcomes) {
      const success = verdict === "success";
      // A retryable failure with no attempt left is final: it counts as "fail", not "retry".
      metrics.attempts.inc({ outcome: verdict === "retry" && record.status === DeliveryStatus.Dead ? "fail" : verdict });
      metrics.attemptSeconds.observe(record.attempt.durationMs / 1000);
      state.window.record(success, record.attempt.durationMs, now);
      // 4xx that fail for good say nothing about the endpoint's health.
      if (verdict !== "fail") this.recordBreaker(endpoint, state, success, now);
      if (success) state.failingSinceMs = 0;
      else if (verdict !== "fail" && state.failingSinceMs === 0) state.failingSinceMs = record.attempt.startedMs;
      state.throttle.answer(record.attempt.statusCode === 429, now, waitGiven);
      if (verdict === "gone") {
        disable.set(endpoint.id, `endpoint answered 410 Gone at ${new Date(now).toISOString()}`);
        disableCause.set(endpoint.id, "gone");
      }
    }
    if (!disable.has(endpoint.id) && state.failingSinceMs > 0 && now - state.failingSinceMs >= this.o.autoDisableAfterMs) {
      disable.set(
        endpoint.id,
        `failing since ${new Date(state.failingSinceMs).toISOString()} without a successful attempt; re-enable to resume its backlog`,
      );
    }
    if (disable.has(endpoint.id) && !disableCause.has(endpoint.id)) disableCause.set(endpoint.id, "failing");
    if (state.failingSinceMs !== state.storedFailingSinceMs) {
      changes.failingSince.set(endpoint.id, state.failingSinceMs);
      state.storedFailingSinceMs = state.failingSinceMs;
    }
    return outcomes;
  }

  /** Feeds one attempt to the endpoint's breaker; opening and closing are logged. */
  private recordBreaker(endpoint: Endpoint, state: EndpointState, success: boolean, now: number): void {
    const { breaker } = state;
    const before = breaker.state;
    breaker.record(success, now);
    // No URL: webhook URLs often carry tokens.
    const fields = { endpointId: endpoint.id, tenantId: endpoint.tenantId };
    if (before === "closed" && breaker.state === "open") {
      this.ops.warn(
        "breaker-open",
        { ...fields, consecutiveFailures: breaker.consecutiveFailures, probeAt: new Date(breaker.reopensAt()).toISOString() },
        "circuit breaker opened: endpoint paused",
      );
      this.o.operational?.breakerOpened(endpoint, breaker.consecutiveFailures, breaker.reopensAt());
    } else if (before !== "closed" && breaker.state === "closed") {
      this.ops.info("breaker-close", fields, "circuit breaker closed: endpoint resumed");
    }
  }

  /** After the commit: schedule retries, count finished deliveries, tell watchers. */
  private follow(endpoint: Endpoint, { claimed }: FinishedTask, outcomes: Outcome[], now: number): void {
    outcomes.forEach(({ record }, i) => {
      if (record.nextAttemptMs > 0) this.markDue(endpoint.id, record.nextAttemptMs);
      else this.o.metrics.deliveriesFinished.inc({ status: record.status === DeliveryStatus.Succeeded ? "succeeded" : "dead" });
      if (record.status === DeliveryStatus.Dead) {
        const c = claimed[i] as ClaimedDelivery;
        this.ops.warn(
          "dead-letter",
          {
            deliveryId: c.deliveryId,
            eventId: c.eventId,
            endpointId: endpoint.id,
            tenantId: endpoint.tenantId,
            attempts: record.attempt.number,
            statusCode: record.attempt.statusCode,
            error: record.attempt.error,
          },
          "delivery dead-lettered",
        );
        this.o.operational?.deliveryDead({
          tenantId: endpoint.tenantId,
          deliveryId: c.deliveryId,
          eventId: c.eventId,
          eventType: c.eventType,
          endpointId: endpoint.id,
          attempts: record.attempt.number,
          lastStatusCode: record.attempt.statusCode,
          lastError: record.attempt.error,
        });
      }
    });
    if (endpoint.ordering === "ordered_by_key") this.markDue(endpoint.id, now);
    if (this.o.feed.watching) {
      outcomes.forEach((outcome, i) => this.o.feed.publish(toDelivery(claimed[i] as ClaimedDelivery, outcome, now)));
    }
  }
}

/** The result of an attempt the sender could not make. */
function senderFailed(now: number, reason: string): SendResult {
  return {
    startedMs: now,
    durationMs: 0,
    statusCode: 0,
    error: `sender failed: ${reason}`,
    responseBody: new Uint8Array(),
    retryAfter: "",
    signature: "",
  };
}

function toDelivery(claimed: ClaimedDelivery, { record }: Outcome, now: number): Delivery {
  return {
    id: claimed.deliveryId,
    eventId: claimed.eventId,
    endpointId: claimed.endpointId,
    tenantId: claimed.tenantId,
    eventType: claimed.eventType,
    status: record.status,
    attempts: record.attempt.number,
    nextAttemptMs: record.nextAttemptMs,
    lastStatusCode: record.attempt.statusCode,
    lastError: record.attempt.error,
    createdMs: claimed.createdMs,
    updatedMs: now,
  };
}
