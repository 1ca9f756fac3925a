import { JetStreamApiCodes, JetStreamApiError, type JetStreamManager } from "@nats-io/jetstream";
import type { Logger } from "pino";

/** Consumers whose settled prefix is purged at once, so a round stays short on a busy server. */
const PURGES_IN_FLIGHT = 8;

export interface AckedPurgeOptions {
  stream: string;
  /** How often to look for lanes due a purge. */
  intervalMs: number;
  /** A lane is looked at once this process settled this many of its messages since its last purge... */
  everySettled: number;
  /** ...or, with fewer, once this long has passed since the first of them. */
  maxDelayMs: number;
  /** A lane that was not safe to purge is looked at again after this long... */
  recheckMs: number;
  /** ...unless this process settled this many of its messages meanwhile: then it is purged anyway. */
  forceAfterSettled: number;
  logger: Logger;
  /** How many of the consumer's unacknowledged messages this process holds (claimed, buffered or being attempted). */
  heldHere: (consumer: string) => number;
  /** Whether this process handed a message of the consumer back lately, or parked a retry of it that is due about now. */
  redeliveryMayWait: (consumer: string, nowMs: number) => boolean;
}

/**
 * Removes settled delivery messages from the deliveries stream in bulk.
 *
 * The stream keeps messages after their ack (limits retention): on a work queue every ack
 * deletes its message, one synced write each, and nats-server 2.15 under
 * `sync_interval: always` then processed 1.6k acks/s against 22k/s without the delete
 * (`bench/micro/ack-layout.ts`). Instead, each lane's messages up to its consumer's ack floor
 * (all settled) go in one purge: 50,000 messages over 50 lanes took about 0.2 s.
 *
 * A purge also empties the lane's redelivery queue on the server (nats-server 2.15): a
 * message handed back, a retry come due or one whose `ack_wait` ran out, not pulled again
 * yet, then comes back only after another `ack_wait`. So a lane is purged when nothing of it
 * can be in that queue: every unacknowledged message is one this process holds, and none was
 * handed back or comes due about now. A lane busy in several processes at once rarely looks
 * like that; it is purged anyway once this process settled `forceAfterSettled` of its
 * messages, which bounds what the stream keeps. Messages settled above the floor (behind a
 * retry waiting out its backoff) stay until the floor passes them. Any process may purge any
 * lane: a purge below the floor removes only settled messages.
 */
export class AckedPurge {
  /** Lanes with messages this process settled since it last purged them: how many, and when to look. */
  private readonly settledSince = new Map<string, { count: number; lookAtMs: number }>();
  private readonly purgedBelow = new Map<string, number>();
  private readonly timer: NodeJS.Timeout;
  private running: Promise<void> | undefined;

  constructor(
    private readonly jsm: JetStreamManager,
    private readonly o: AckedPurgeOptions,
  ) {
    this.timer = setInterval(() => void this.round(), o.intervalMs);
    this.timer.unref();
  }

  /** A message of this consumer was acked or terminated. */
  settled(consumer: string, nowMs = Date.now()): void {
    let since = this.settledSince.get(consumer);
    if (!since) this.settledSince.set(consumer, (since = { count: 0, lookAtMs: nowMs + this.o.maxDelayMs }));
    if (++since.count === this.o.everySettled) since.lookAtMs = Math.min(since.lookAtMs, nowMs);
  }

  /**
   * Every consumer of the stream, for a start after settled messages were left behind: each is
   * looked at once within `maxDelayMs`, spread out (a purge costs the server a synced write of
   * the consumer's state, and there may be thousands of lanes).
   */
  async markAll(nowMs = Date.now()): Promise<void> {
    for await (const info of this.jsm.consumers.list(this.o.stream)) {
      if (!this.settledSince.has(info.name)) this.settledSince.set(info.name, { count: 0, lookAtMs: nowMs + Math.random() * this.o.maxDelayMs });
    }
  }

  /** One round now; resolves when it is over (a round already running is awaited instead). */
  round(nowMs = Date.now()): Promise<void> {
    this.running ??= this.purgeDue(nowMs).finally(() => (this.running = undefined));
    return this.running;
  }

  close(): void {
    clearInterval(this.timer);
  }

  private async purgeDue(nowMs: number): Promise<void> {
    const due: string[] = [];
    for (const [consumer, { count, lookAtMs }] of this.settledSince) {
      if (lookAtMs <= nowMs || count >= this.o.forceAfterSettled) due.push(consumer);
    }
    for (let i = 0; i < due.length; i += PURGES_IN_FLIGHT) {
      await Promise.all(due.slice(i, i + PURGES_IN_FLIGHT).map((consumer) => this.purgeSettled(consumer, nowMs)));
    }
  }

  private async purgeSettled(consumer: string, nowMs: number): Promise<void> {
    const since = this.settledSince.get(consumer);
    if (!since) return;
    try {
      const info = await this.jsm.consumers.info(this.o.stream, consumer);
      const safe = info.num_ack_pending <= this.o.heldHere(consumer) && !this.o.redeliveryMayWait(consumer, nowMs);
      if (!safe && since.count < this.o.forceAfterSettled) {
        since.lookAtMs = nowMs + this.o.recheckMs;
        return;
      }
      // Settles from here on count towards the next purge.
      this.settledSince.delete(consumer);
      const below = info.ack_floor.stream_seq + 1;
      const subject = info.config.filter_subject;
      if (subject === undefined || below <= (this.purgedBelow.get(consumer) ?? 1)) return;
      const { purged } = await this.jsm.streams.purge(this.o.stream, { filter: subject, seq: below });
      this.purgedBelow.set(consumer, below);
      this.o.logger.debug({ consumer, purged, safe }, "settled delivery messages removed");
    } catch (err) {
      // A deleted endpoint's consumer is gone, and its messages with it.
      if (err instanceof JetStreamApiError && err.code === JetStreamApiCodes.ConsumerNotFound) {
        this.settledSince.delete(consumer);
        this.purgedBelow.delete(consumer);
        return;
      }
      const left = this.settledSince.get(consumer) ?? since;
      left.lookAtMs = nowMs + this.o.recheckMs;
      this.settledSince.set(consumer, left);
      this.o.logger.warn({ err, consumer }, "removing settled delivery messages failed; trying again shortly");
    }
  }
}
