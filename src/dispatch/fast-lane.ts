import type { CommitLane } from "../store/group-commit.ts";
import type { ClaimedDelivery } from "../store/store.ts";

/** What a commit's fast lane asks of the dispatcher. */
export interface LaneDispatcher {
  /** Reserves a start now for a fresh delivery of this endpoint: room, tokens, nothing queued ahead. */
  reserve(endpointId: string): boolean;
  /**
   * Deliveries of this endpoint queued by a commit that is not durable yet (count < 0 once it
   * settles): no later commit may start deliveries past them.
   */
  holdQueue(endpointId: string, count: number): void;
  /** Sends admitted deliveries; their reservations become their in-flight slots. */
  start(admitted: ClaimedDelivery[]): void;
  /** Gives back reservations of a commit that failed. */
  release(endpointId: string, count: number): void;
}

/**
 * The fast lane of one publish commit. A fresh delivery whose endpoint has room and nothing
 * queued skips the queue: the store inserts it leased, and it is sent once the commit is
 * durable, with no claim in between. Deliveries of an endpoint after the first one queued in
 * the commit queue too, so none overtakes an older one.
 */
export class CommitFastLane implements CommitLane {
  private readonly admittedDeliveries: ClaimedDelivery[] = [];
  private readonly reserved = new Map<string, number>();
  private readonly queued = new Map<string, number>();

  constructor(private readonly dispatcher: LaneDispatcher) {}

  admit(endpointId: string): boolean {
    if (!this.queued.has(endpointId) && this.dispatcher.reserve(endpointId)) {
      this.reserved.set(endpointId, (this.reserved.get(endpointId) ?? 0) + 1);
      return true;
    }
    this.queued.set(endpointId, (this.queued.get(endpointId) ?? 0) + 1);
    this.dispatcher.holdQueue(endpointId, 1);
    return false;
  }

  admitted(delivery: ClaimedDelivery): void {
    this.admittedDeliveries.push(delivery);
  }

  tookAll(endpointId: string): boolean {
    return this.reserved.has(endpointId) && !this.queued.has(endpointId);
  }

  commit(): void {
    this.releaseQueue();
    if (this.admittedDeliveries.length > 0) this.dispatcher.start(this.admittedDeliveries);
  }

  abort(): void {
    this.releaseQueue();
    for (const [endpointId, count] of this.reserved) this.dispatcher.release(endpointId, count);
  }

  private releaseQueue(): void {
    for (const [endpointId, count] of this.queued) this.dispatcher.holdQueue(endpointId, -count);
  }
}
