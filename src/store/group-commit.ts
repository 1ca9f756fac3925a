import { resourceExhausted } from "../core/errors.ts";
import type { EventInput, PublishResult } from "../core/types.ts";
import type { FanOut, Store } from "./store.ts";

export interface GroupCommitOptions {
  store: Store;
  fanOut: FanOut;
  now: () => number;
  idempotencyWindowMs: number;
  /** Events queued for commit before new submissions are refused. */
  maxPendingEvents: number;
  /** Events per transaction; a longer queue is committed in several. */
  maxEventsPerCommit: number;
  /** Called after each durable commit with the endpoints that got new deliveries. */
  onCommitted: (endpointIds: ReadonlySet<string>, committedMs: number, events: number, durationMs: number) => void;
}

interface Waiting {
  events: readonly EventInput[];
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

  constructor(private readonly o: GroupCommitOptions) {}

  submit(events: readonly EventInput[]): Promise<PublishResult[]> {
    if (this.pendingEvents + events.length > this.o.maxPendingEvents) {
      return Promise.reject(
        resourceExhausted(`publish queue is full (${this.pendingEvents} events waiting for commit); retry with backoff`),
      );
    }
    this.pendingEvents += events.length;
    return new Promise((resolve, reject) => {
      this.queue.push({ events, resolve, reject });
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
  }

  private async commitAll(): Promise<void> {
    this.scheduled = false;
    while (this.queue.length > 0) {
      const group: Waiting[] = [];
      let size = 0;
      while (this.queue.length > 0 && (group.length === 0 || size + (this.queue[0] as Waiting).events.length <= this.o.maxEventsPerCommit)) {
        const next = this.queue.shift() as Waiting;
        group.push(next);
        size += next.events.length;
      }
      await this.commit(group, size);
      // A commit blocks the thread (SQLite is synchronous): let I/O and the dispatcher run
      // before the next one, or a long queue would stall every other request.
      if (this.queue.length > 0) await new Promise<void>((resolve) => setImmediate(resolve));
    }
  }

  private async commit(group: Waiting[], size: number): Promise<void> {
    const nowMs = this.o.now();
    const started = performance.now();
    try {
      const results = await this.o.store.publish(
        group.map((w) => w.events),
        this.o.fanOut,
        nowMs,
        this.o.idempotencyWindowMs,
      );
      const durationMs = performance.now() - started;
      const touched = new Set<string>();
      group.forEach((w, i) => {
        const batch = results[i] as PublishResult[];
        w.events.forEach((event, j) => {
          if ((batch[j] as PublishResult).deliveryCount > 0) for (const id of this.o.fanOut(event.tenantId, event.type)) touched.add(id);
        });
      });
      this.o.onCommitted(touched, nowMs, size, durationMs);
      group.forEach((w, i) => w.resolve(results[i] as PublishResult[]));
    } catch (err) {
      for (const w of group) w.reject(err);
    } finally {
      this.pendingEvents -= size;
    }
  }
}
