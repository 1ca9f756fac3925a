import { createInbox, type Msg, type NatsConnection, type Subscription } from "@nats-io/transport-node";

/** A message taken from a consumer, with what acknowledging it needs. */
export interface PulledMessage {
  data: Uint8Array;
  /** The ack subject: +ACK, -NAK and +TERM go here. */
  reply: string;
  /** How many times the server has handed this message out, this time included. */
  deliveries: number;
}

interface Waiting {
  consumer: string;
  messages: PulledMessage[];
  want: number;
  done: (messages: PulledMessage[]) => void;
  timer: NodeJS.Timeout;
}

/**
 * A no_wait pull can still be held open while a redelivery is about to become due; the
 * request expires after this, so one endpoint's pull never stalls a scheduler pass.
 */
const PULL_EXPIRES_MS = 100;
/** Gives up on a pull whose end-of-batch status never came (lost on a reconnect). */
const PULL_GUARD_MS = 2_000;

/**
 * Fetches what a pull consumer has ready right now (no_wait) over one wildcard inbox
 * subscription, so a pull costs one request message and no subscribe/unsubscribe.
 */
export class Puller {
  private readonly prefix = createInbox();
  private readonly waiting = new Map<string, Waiting>();
  /** The open pull of each consumer: messages arrive on their stream subject, named only by their ack subject. */
  private readonly byConsumer = new Map<string, string>();
  /** Pulls queued behind an open one of the same consumer. */
  private readonly queued = new Map<string, (() => void)[]>();
  private readonly sub: Subscription;
  private next = 0;

  constructor(private readonly nc: NatsConnection) {
    this.sub = nc.subscribe(`${this.prefix}.*`, { callback: (_err, msg) => this.receive(msg) });
  }

  /** Up to `max` messages that are ready now; fewer (or none) when the consumer has no more. */
  async pull(stream: string, consumer: string, max: number): Promise<PulledMessage[]> {
    while (this.byConsumer.has(consumer)) {
      await new Promise<void>((resolve) => {
        const queue = this.queued.get(consumer) ?? [];
        queue.push(resolve);
        this.queued.set(consumer, queue);
      });
    }
    const token = String(this.next++);
    this.byConsumer.set(consumer, token);
    return new Promise((resolve) => {
      const waiting: Waiting = {
        consumer,
        messages: [],
        want: max,
        done: resolve,
        timer: setTimeout(() => this.finish(token), PULL_GUARD_MS),
      };
      this.waiting.set(token, waiting);
      this.nc.publish(`$JS.API.CONSUMER.MSG.NEXT.${stream}.${consumer}`, JSON.stringify({ batch: max, no_wait: true, expires: PULL_EXPIRES_MS * 1_000_000 }), {
        reply: `${this.prefix}.${token}`,
      });
    });
  }

  close(): void {
    this.sub.unsubscribe();
    for (const token of [...this.waiting.keys()]) this.finish(token);
  }

  private receive(msg: Msg): void {
    const status = msg.headers?.code ?? 0;
    if (status !== 0) {
      // Status messages come on the inbox. 404/408: nothing (more) ready; 409: the consumer
      // is at max_ack_pending or gone.
      this.finish(msg.subject.slice(this.prefix.length + 1));
      return;
    }
    const reply = msg.reply ?? "";
    const token = this.byConsumer.get(ackTokens(reply).consumer);
    const waiting = token === undefined ? undefined : this.waiting.get(token);
    if (token === undefined || !waiting) {
      // Arrived after the guard gave up: leave it unacknowledged, it is redelivered after ack_wait.
      return;
    }
    waiting.messages.push({ data: msg.data, reply, deliveries: ackTokens(reply).deliveries });
    if (waiting.messages.length >= waiting.want) this.finish(token);
  }

  private finish(token: string): void {
    const waiting = this.waiting.get(token);
    if (!waiting) return;
    this.waiting.delete(token);
    this.byConsumer.delete(waiting.consumer);
    clearTimeout(waiting.timer);
    waiting.done(waiting.messages);
    this.queued.get(waiting.consumer)?.shift()?.();
  }
}

/** Consumer and delivery count of an ack subject: $JS.ACK.<stream>.<consumer>.<delivered>.… (or with domain and account hash). */
function ackTokens(reply: string): { consumer: string; deliveries: number } {
  const tokens = reply.split(".");
  const offset = tokens.length >= 12 ? 2 : 0;
  return { consumer: tokens[3 + offset] ?? "", deliveries: Number(tokens[4 + offset]) || 1 };
}
