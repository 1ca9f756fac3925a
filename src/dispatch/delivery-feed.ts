import { performance } from "node:perf_hooks";
import { resourceExhausted } from "../core/errors.ts";
import type { Delivery } from "../core/types.ts";

export interface FeedFilter {
  tenantId: string;
  endpointId: string;
  eventId: string;
}

export interface DeliveryFeedOptions {
  /** Changes a watcher may have unread before it is dropped. */
  bufferPerWatcher: number;
  /** Watchers open at once per key (the caller's identity). */
  maxWatchersPerKey: number;
}

interface Watcher {
  filter: FeedFilter;
  key: string;
  /** Changes not yet read start at `head`. */
  queue: Delivery[];
  head: number;
  /** Set when the watcher fell behind: how many changes it had unread. */
  behindBy: number;
  wake: (() => void) | undefined;
  /** Set while the watcher waits for a share of the streaming budget. */
  release: (() => void) | undefined;
  signal: AbortSignal;
}

type Index = Map<string, Set<Watcher>>;

const unread = (w: Watcher): number => w.queue.length - w.head;

/** Messages that watch streams may start together, per period. */
const MIN_PERIOD_MESSAGES = 2;
const MAX_PERIOD_MESSAGES = 200;
const PERIOD_MS = 10;
/** Event-loop utilization above which streaming backs off, measured every MEASURE_MS. */
const BUSY = 0.6;
const MEASURE_MS = 100;

function add(index: Index, key: string, w: Watcher): void {
  let set = index.get(key);
  if (!set) index.set(key, (set = new Set()));
  set.add(w);
}

function remove(index: Index, key: string, w: Watcher): void {
  const set = index.get(key);
  if (!set) return;
  set.delete(w);
  if (set.size === 0) index.delete(key);
}

/**
 * Fan-out of delivery state changes to WatchDeliveries streams. Watchers are indexed by their
 * most specific filter (event, else endpoint, else tenant, else all), so a change only visits
 * watchers that may want it; handing it over is an array push, and the stream drains its own
 * queue in its own time. Delivery never waits for a watcher: one that lets more than
 * `bufferPerWatcher` changes pile up is dropped and told to reconnect.
 */
export class DeliveryFeed {
  private readonly all = new Set<Watcher>();
  private readonly byTenant: Index = new Map();
  private readonly byEndpoint: Index = new Map();
  private readonly byEvent: Index = new Map();
  private readonly perKey = new Map<string, number>();
  private count = 0;
  private periodLeft = 0;
  private budget = MIN_PERIOD_MESSAGES;
  private measuredAt = 0;
  private lastElu = performance.eventLoopUtilization();
  private nextSliceAt = 0;
  private resumeTimer: NodeJS.Timeout | undefined;
  /** Watchers waiting for the next period, first come first served. */
  private parked: Watcher[] = [];

  constructor(private readonly o: DeliveryFeedOptions = { bufferPerWatcher: 10_000, maxWatchersPerKey: 20 }) {}

  get watching(): boolean {
    return this.count > 0;
  }

  /** Open watch streams. */
  get watcherCount(): number {
    return this.count;
  }

  publish(delivery: Delivery): void {
    if (this.count === 0) return;
    this.offer(this.all, delivery);
    this.offer(this.byTenant.get(delivery.tenantId), delivery);
    this.offer(this.byEndpoint.get(delivery.endpointId), delivery);
    this.offer(this.byEvent.get(delivery.eventId), delivery);
  }

  /** Throws RESOURCE_EXHAUSTED when `key` already has its most watchers open. */
  admit(key: string): void {
    const open = this.perKey.get(key) ?? 0;
    if (open >= this.o.maxWatchersPerKey)
      throw resourceExhausted(`${key} already has ${open} WatchDeliveries streams open (at most ${this.o.maxWatchersPerKey}, --max-watchers-per-key)`);
  }

  /**
   * Yields matching changes until the signal aborts. Refuses a watcher over its key's cap;
   * throws RESOURCE_EXHAUSTED once the watcher has fallen behind.
   */
  async *watch(filter: FeedFilter, signal: AbortSignal, key: string): AsyncGenerator<Delivery> {
    this.admit(key);
    const watcher: Watcher = { filter, key, queue: [], head: 0, behindBy: 0, wake: undefined, release: undefined, signal };
    this.attach(watcher);
    const onAbort = (): void => {
      watcher.wake?.();
      watcher.release?.();
    };
    signal.addEventListener("abort", onAbort);
    try {
      while (!signal.aborted) {
        if (watcher.behindBy > 0) throw resourceExhausted(`watcher fell behind by ${watcher.behindBy} changes; reconnect`);
        if (unread(watcher) === 0) {
          watcher.queue = [];
          watcher.head = 0;
          await new Promise<void>((resolve) => (watcher.wake = resolve));
          watcher.wake = undefined;
          continue;
        }
        if (!this.permit(watcher)) {
          await new Promise<void>((resolve) => (watcher.release = resolve));
          watcher.release = undefined;
        }
        if (signal.aborted || watcher.behindBy > 0) continue;
        const delivery = watcher.queue[watcher.head] as Delivery;
        watcher.head++;
        // Read entries are dropped from the front now and then, not one shift() at a time.
        if (watcher.head >= 1024 && watcher.head * 2 >= watcher.queue.length) {
          watcher.queue = watcher.queue.slice(watcher.head);
          watcher.head = 0;
        }
        yield delivery;
      }
    } finally {
      this.detach(watcher);
      signal.removeEventListener("abort", onAbort);
    }
  }

  /**
   * Watch streams together may start `budget` messages in every PERIOD_MS; a watcher past that
   * waits in line for a later period. Only as many waiting watchers are resumed as the period
   * allows: waking them all to find most over budget cost more than the messages themselves.
   * The budget follows how busy the main thread is: it halves while the thread is busier than
   * BUSY (delivery needs it) and grows back while it is not. So streaming only takes spare
   * time, whatever the number of watchers; watchers that need more fall behind and are
   * dropped, instead of slowing delivery down.
   */
  private permit(watcher: Watcher): boolean {
    this.startPeriod(performance.now());
    if (this.parked.length === 0 && this.periodLeft > 0) {
      this.periodLeft--;
      return true;
    }
    // In line; the caller waits on `release`, which it sets before the timer can run.
    this.parked.push(watcher);
    this.scheduleResume();
    return false;
  }

  private scheduleResume(): void {
    if (this.resumeTimer) return;
    this.resumeTimer = setTimeout(() => {
      this.resumeTimer = undefined;
      this.startPeriod(performance.now());
      const waiting: Watcher[] = [];
      for (const w of this.parked) {
        if (!w.release) continue;
        // Aborted or dropped: let it end without using the budget.
        if (w.signal.aborted || w.behindBy > 0) w.release();
        else if (this.periodLeft > 0) {
          this.periodLeft--;
          w.release();
        } else waiting.push(w);
      }
      this.parked = waiting;
      if (waiting.length > 0) this.scheduleResume();
    }, Math.max(0, this.nextSliceAt - performance.now()));
    this.resumeTimer.unref();
  }

  private startPeriod(now: number): void {
    if (now < this.nextSliceAt) return;
    this.nextSliceAt = now + PERIOD_MS;
    this.adjustBudget(now);
    this.periodLeft = this.budget;
  }

  private adjustBudget(now: number): void {
    if (now - this.measuredAt < MEASURE_MS) return;
    const elu = performance.eventLoopUtilization(this.lastElu);
    this.lastElu = performance.eventLoopUtilization();
    this.measuredAt = now;
    this.budget = elu.utilization > BUSY ? Math.max(MIN_PERIOD_MESSAGES, Math.floor(this.budget / 2)) : Math.min(MAX_PERIOD_MESSAGES, this.budget + 4);
  }

  private offer(watchers: Set<Watcher> | undefined, d: Delivery): void {
    if (!watchers) return;
    for (const w of watchers) {
      const f = w.filter;
      if (f.tenantId !== "" && f.tenantId !== d.tenantId) continue;
      if (f.endpointId !== "" && f.endpointId !== d.endpointId) continue;
      if (f.eventId !== "" && f.eventId !== d.eventId) continue;
      if (unread(w) >= this.o.bufferPerWatcher) {
        this.dropBehind(w);
        continue;
      }
      w.queue.push(d);
      w.wake?.();
    }
  }

  /** Stops feeding a watcher that fell behind; its stream ends with the reason when it next reads. */
  private dropBehind(w: Watcher): void {
    w.behindBy = unread(w) + 1;
    w.queue = [];
    w.head = 0;
    this.detach(w);
    w.wake?.();
    w.release?.();
  }

  private indexOf(w: Watcher): { index: Index; key: string } | undefined {
    const f = w.filter;
    if (f.eventId !== "") return { index: this.byEvent, key: f.eventId };
    if (f.endpointId !== "") return { index: this.byEndpoint, key: f.endpointId };
    if (f.tenantId !== "") return { index: this.byTenant, key: f.tenantId };
    return undefined;
  }

  private attached = new WeakSet<Watcher>();

  private attach(w: Watcher): void {
    const at = this.indexOf(w);
    if (at) add(at.index, at.key, w);
    else this.all.add(w);
    this.attached.add(w);
    this.count++;
    this.perKey.set(w.key, (this.perKey.get(w.key) ?? 0) + 1);
  }

  private detach(w: Watcher): void {
    if (!this.attached.has(w)) return;
    this.attached.delete(w);
    const at = this.indexOf(w);
    if (at) remove(at.index, at.key, w);
    else this.all.delete(w);
    this.count--;
    const open = (this.perKey.get(w.key) ?? 1) - 1;
    if (open === 0) this.perKey.delete(w.key);
    else this.perKey.set(w.key, open);
  }
}
