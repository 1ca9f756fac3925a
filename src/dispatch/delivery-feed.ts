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

/**
 * The changes of one index entry (everything, a tenant, an endpoint or an event), shared by
 * every watcher indexed there: a change is appended once, whatever the number of watchers.
 */
interface ChangeLog {
  entries: Delivery[];
  /** Position of entries[0] since the log began. */
  base: number;
  /** End position at the last check for watchers that fell behind. */
  checkedAt: number;
  watchers: Set<Watcher>;
  /** Watchers that read everything and wait for the next change. */
  waiting: Set<Watcher>;
}

interface Watcher {
  filter: FeedFilter;
  key: string;
  log: ChangeLog;
  /** Position of the next change to read. */
  cursor: number;
  /** Set when the watcher fell behind: how many changes it had unread. */
  behindBy: number;
  wake: (() => void) | undefined;
  /** Set while the watcher waits for a share of the streaming budget. */
  release: (() => void) | undefined;
  signal: AbortSignal;
}

const end = (log: ChangeLog): number => log.base + log.entries.length;

const matches = (f: FeedFilter, d: Delivery): boolean =>
  (f.tenantId === "" || f.tenantId === d.tenantId) && (f.endpointId === "" || f.endpointId === d.endpointId) && (f.eventId === "" || f.eventId === d.eventId);

/** Messages that watch streams may start together, per period. */
const MIN_PERIOD_MESSAGES = 2;
const MAX_PERIOD_MESSAGES = 200;
const PERIOD_MS = 10;
/** Event-loop utilization above which streaming backs off, measured every MEASURE_MS. */
const BUSY = 0.6;
const MEASURE_MS = 100;

/**
 * Fan-out of delivery state changes to WatchDeliveries streams. Watchers are indexed by their
 * most specific filter (event, else endpoint, else tenant, else all), and the watchers of one
 * index entry share one log of its changes: a change costs one append per index it falls in,
 * not one per watcher, and each stream reads the log at its own pace from its own position.
 * Delivery never waits for a watcher: one that lets more than `bufferPerWatcher` changes pile
 * up is dropped and told to reconnect. Watchers are checked for that every half buffer of
 * appends, so one may get up to half a buffer further behind before it is dropped.
 */
export class DeliveryFeed {
  private readonly all = new Map<string, ChangeLog>();
  private readonly byTenant = new Map<string, ChangeLog>();
  private readonly byEndpoint = new Map<string, ChangeLog>();
  private readonly byEvent = new Map<string, ChangeLog>();
  private readonly perKey = new Map<string, number>();
  private readonly checkEvery: number;
  private count = 0;
  private periodLeft = 0;
  private budget = MIN_PERIOD_MESSAGES;
  private measuredAt = 0;
  private lastElu = performance.eventLoopUtilization();
  private nextPeriodAt = 0;
  private resumeTimer: NodeJS.Timeout | undefined;
  /** Watchers waiting for the next period, first come first served. */
  private parked: Watcher[] = [];

  constructor(private readonly o: DeliveryFeedOptions = { bufferPerWatcher: 10_000, maxWatchersPerKey: 20 }) {
    this.checkEvery = Math.max(1, Math.floor(o.bufferPerWatcher / 2));
  }

  get watching(): boolean {
    return this.count > 0;
  }

  /** Open watch streams. */
  get watcherCount(): number {
    return this.count;
  }

  publish(delivery: Delivery): void {
    if (this.count === 0) return;
    this.append(this.all.get(""), delivery);
    this.append(this.byTenant.get(delivery.tenantId), delivery);
    this.append(this.byEndpoint.get(delivery.endpointId), delivery);
    this.append(this.byEvent.get(delivery.eventId), delivery);
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
    const watcher = this.attach(filter, key, signal);
    const onAbort = (): void => {
      watcher.wake?.();
      watcher.release?.();
    };
    signal.addEventListener("abort", onAbort);
    try {
      while (!signal.aborted) {
        if (watcher.behindBy > 0) throw resourceExhausted(`watcher fell behind by ${watcher.behindBy} changes; reconnect`);
        const { log } = watcher;
        if (watcher.cursor >= end(log)) {
          log.waiting.add(watcher);
          await new Promise<void>((resolve) => (watcher.wake = resolve));
          watcher.wake = undefined;
          log.waiting.delete(watcher);
          continue;
        }
        const delivery = log.entries[watcher.cursor - log.base] as Delivery;
        watcher.cursor++;
        // The log is the index entry's; the filter's other fields are checked here.
        if (!matches(filter, delivery)) continue;
        if (!this.permit(watcher)) {
          await new Promise<void>((resolve) => (watcher.release = resolve));
          watcher.release = undefined;
        }
        if (signal.aborted || watcher.behindBy > 0) continue;
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
    this.resumeTimer = setTimeout(
      () => {
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
      },
      Math.max(0, this.nextPeriodAt - performance.now()),
    );
    this.resumeTimer.unref();
  }

  private startPeriod(now: number): void {
    if (now < this.nextPeriodAt) return;
    this.nextPeriodAt = now + PERIOD_MS;
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

  private append(log: ChangeLog | undefined, d: Delivery): void {
    if (!log) return;
    log.entries.push(d);
    for (const w of log.waiting) w.wake?.();
    log.waiting.clear();
    if (end(log) - log.checkedAt >= this.checkEvery) this.dropBehindAndTrim(log);
  }

  /** Drops the log's watchers that are more than a buffer behind, and forgets what all have read. */
  private dropBehindAndTrim(log: ChangeLog): void {
    const last = end(log);
    log.checkedAt = last;
    let oldest = last;
    for (const w of log.watchers) {
      if (last - w.cursor > this.o.bufferPerWatcher) this.dropBehind(w, last - w.cursor);
      else oldest = Math.min(oldest, w.cursor);
    }
    if (oldest > log.base) {
      log.entries = log.entries.slice(oldest - log.base);
      log.base = oldest;
    }
  }

  /** Stops feeding a watcher that fell behind; its stream ends with the reason when it next reads. */
  private dropBehind(w: Watcher, unread: number): void {
    w.behindBy = unread;
    this.detach(w);
    w.wake?.();
    w.release?.();
  }

  private indexOf(f: FeedFilter): { index: Map<string, ChangeLog>; key: string } {
    if (f.eventId !== "") return { index: this.byEvent, key: f.eventId };
    if (f.endpointId !== "") return { index: this.byEndpoint, key: f.endpointId };
    if (f.tenantId !== "") return { index: this.byTenant, key: f.tenantId };
    return { index: this.all, key: "" };
  }

  private attach(filter: FeedFilter, key: string, signal: AbortSignal): Watcher {
    const at = this.indexOf(filter);
    let log = at.index.get(at.key);
    if (!log) at.index.set(at.key, (log = { entries: [], base: 0, checkedAt: 0, watchers: new Set(), waiting: new Set() }));
    const watcher: Watcher = { filter, key, log, cursor: end(log), behindBy: 0, wake: undefined, release: undefined, signal };
    log.watchers.add(watcher);
    this.count++;
    this.perKey.set(key, (this.perKey.get(key) ?? 0) + 1);
    return watcher;
  }

  private detach(w: Watcher): void {
    const { log } = w;
    if (!log.watchers.delete(w)) return;
    log.waiting.delete(w);
    if (log.watchers.size === 0) {
      const at = this.indexOf(w.filter);
      if (at.index.get(at.key) === log) at.index.delete(at.key);
    }
    this.count--;
    const open = (this.perKey.get(w.key) ?? 1) - 1;
    if (open === 0) this.perKey.delete(w.key);
    else this.perKey.set(w.key, open);
  }
}
