import type { Delivery } from "../core/types.ts";

export interface FeedFilter {
  tenantId: string;
  endpointId: string;
  eventId: string;
}

type Watcher = { filter: FeedFilter; push: (d: Delivery) => void };

/** Fan-out of delivery state changes to WatchDeliveries streams; free when nobody watches. */
export class DeliveryFeed {
  private readonly watchers = new Set<Watcher>();

  get watching(): boolean {
    return this.watchers.size > 0;
  }

  /** Open watch streams. */
  get watcherCount(): number {
    return this.watchers.size;
  }

  publish(delivery: Delivery): void {
    for (const w of this.watchers) {
      const f = w.filter;
      if (f.tenantId !== "" && f.tenantId !== delivery.tenantId) continue;
      if (f.endpointId !== "" && f.endpointId !== delivery.endpointId) continue;
      if (f.eventId !== "" && f.eventId !== delivery.eventId) continue;
      w.push(delivery);
    }
  }

  /** Yields matching changes until the signal aborts; a slow reader loses the oldest beyond `buffer`. */
  async *watch(filter: FeedFilter, signal: AbortSignal, buffer = 10_000): AsyncGenerator<Delivery> {
    const queue: Delivery[] = [];
    let wake: (() => void) | undefined;
    const watcher: Watcher = {
      filter,
      push(d) {
        queue.push(d);
        if (queue.length > buffer) queue.shift();
        wake?.();
      },
    };
    this.watchers.add(watcher);
    const onAbort = (): void => wake?.();
    signal.addEventListener("abort", onAbort);
    try {
      while (!signal.aborted) {
        const next = queue.shift();
        if (next) {
          yield next;
          continue;
        }
        await new Promise<void>((resolve) => (wake = resolve));
        wake = undefined;
      }
    } finally {
      this.watchers.delete(watcher);
      signal.removeEventListener("abort", onAbort);
    }
  }
}
