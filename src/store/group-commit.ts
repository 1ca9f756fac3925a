import { resourceExhausted } from "../core/errors.ts";
import type { EventInput, PublishResult } from "../core/types.ts";
import type { EventLog, FanOut, FastLane } from "./store.ts";

export interface GroupCommitOptions {
  store: EventLog;
  fanOut: FanOut;
  now: () => number;
  idempotencyWindowMs: number;
  /** Events queued for commit before new submissions are refused. */
  maxPendingEvents: number;
  /** Rows (events plus their fan-out deliveries) per transaction; a longer queue is committed in several. */
  maxRowsPerCommit: number;
  /**
   * Commits that may wait for their sync at once. More than one only for a store whose
   * publish writes before it first waits (`EventLog.publishWritesFirst`): the next group's
   * write then overlaps the previous group's fsync.
   */
  commitsInFlight: number;
  /** Called after each durable commit, with the endpoints that got new deliveries to claim. */
  onCommitted: (commit: CommitSummary) => void;
  /** A fast lane per commit (see FastLane); without one every delivery is queued. */
  openLane?: () => CommitLane;
}

/** The fast lane of one commit, settled once the commit is durable or has failed. */
export interface CommitLane extends FastLane {
  /** True when every delivery of this endpoint in the commit was admitted: nothing to claim. */
  tookAll(endpointId: string): boolean;
  /** The commit is durable: start what was admitted. */
  commit(): void;
  /** The commit failed: give back what was reserved. */
  abort(): void;
}

export interface CommitSummary {
  /** Endpoints that got new deliveries. */
  endpointIds: ReadonlySet<string>;
  committedMs: number;
  durationMs: number;
  /** New events stored, and publishes answered from the idempotency window. */
  stored: number;
  duplicates: number;
  deliveries: number;
}

interface Waiting {
  events: readonly EventInput[];
  rows: number;
  resolve: (results: PublishResult[]) => void;
  reject: (err: unknown) => void;
}

/**
 * Coalesces concurrent publishes (unary calls and stream messages alike) into one store
 * transaction per turn of the event loop; each caller's promise settles after the commit.
 */
export class GroupCommit {
  private queue: Waiting[] = [];
  private pendingEvents = 0;
  private scheduled = false;
  private committing: Promise<void> = Promise.resolve();
  private readonly inFlight = new Set<Promise<void>>();

  constructor(private readonly o: GroupCommitOptions) {}

  submit(events: readonly EventInput[]): Promise<PublishResult[]> {
    if (this.pendingEvents + events.length > this.o.maxPendingEvents) {
      return Promise.reject(
        resourceExhausted(`publish queue is full (${this.pendingEvents} events waiting for commit); retry with backoff`),
      );
    }
    this.pendingEvents += events.length;
    let rows = events.length;
    for (const e of events) rows += this.o.fanOut(e.tenantId, e.type).length;
    return new Promise((resolve, reject) => {
      this.queue.push({ events, rows, resolve, reject });
      if (!this.scheduled) {
        this.scheduled = true;
        setImmediate(() => {
          this.committing = this.commitAll();
        });
      }
    });
  }

  /** Resolves once everything submitted so far is committed. */
  async drain(): Promise<void> {
    while (this.scheduled || this.queue.length > 0) await this.committing.then(() => new Promise((r) => setImmediate(r)));
    await this.committing;
    await Promise.all(this.inFlight);
  }

  private async commitAll(): Promise<void> {
    this.scheduled = false;
    while (this.queue.length > 0) {
      const group: Waiting[] = [];
      let rows = 0;
      let size = 0;
      while (this.queue.length > 0 && (group.length === 0 || rows + (this.queue[0] as Waiting).rows <= this.o.maxRowsPerCommit)) {
        const next = this.queue.shift() as Waiting;
        group.push(next);
        rows += next.rows;
        size += next.events.length;
      }
      const commit = this.commit(group, size);
      this.inFlight.add(commit);
      void commit.finally(() => this.inFlight.delete(commit));
      if (this.inFlight.size >= this.o.commitsInFlight) await Promise.race(this.inFlight);
      // A commit blocks the thread (SQLite is synchronous): let I/O and the dispatcher run
      // before the next one, or a long queue would stall every other request.
      if (this.queue.length > 0) await new Promise<void>((resolve) => setImmediate(resolve));
    }
    await Promise.all(this.inFlight);
  }

  private async commit(group: Waiting[], size: number): Promise<void> {
    const nowMs = this.o.now();
    const started = performance.now();
    const lane = this.o.openLane?.();
    try {
      let results: PublishResult[][];
      try {
        results = await this.o.store.publish(
          group.map((w) => w.events),
          this.o.fanOut,
          nowMs,
          this.o.idempotencyWindowMs,
          lane,
        );
      } catch (err) {
        lane?.abort();
        throw err;
      }
      lane?.commit();
      const durationMs = performance.now() - started;
      const endpointIds = new Set<string>();
      let duplicates = 0;
      let deliveries = 0;
      group.forEach((w, i) => {
        const batch = results[i] as PublishResult[];
        w.events.forEach((event, j) => {
          const result = batch[j] as PublishResult;
          if (result.duplicate) duplicates++;
          deliveries += result.deliveryCount;
          if (result.deliveryCount === 0) return;
          for (const id of this.o.fanOut(event.tenantId, event.type)) if (!lane?.tookAll(id)) endpointIds.add(id);
        });
      });
      this.o.onCommitted({ endpointIds, committedMs: nowMs, durationMs, stored: size - duplicates, duplicates, deliveries });
      group.forEach((w, i) => w.resolve(results[i] as PublishResult[]));
    } catch (err) {
      for (const w of group) w.reject(err);
    } finally {
      this.pendingEvents -= size;
    }
  }
}
