import type { JetStreamManager, MsgRequest } from "@nats-io/jetstream";
import type { KV, KvEntry } from "@nats-io/kv";
import { deliveryId, idAtTime } from "../../core/ids.ts";
import { DeliveryStatus, type StoredEvent } from "../../core/types.ts";
import type { EventFilter, HistoryStore, PruneStep } from "../history-store.ts";
import { decodeDelivery, unframe, type EventMeta, type StoredDelivery } from "./codec.ts";
import { ATTEMPTS_STREAM, attemptSubject, EVENTS_STREAM, eventSubject, STATE_STREAM, stateKey } from "./layout.ts";

/** Message gets kept in flight at once when walking the events stream. */
const READ_AHEAD = 128;
/**
 * Events pruned at once within a step: each is a few gets and deletes, and starting them is
 * synchronous work, so a whole step's worth at once would hold the event loop.
 */
const PRUNE_CONCURRENCY = 20;
const OPEN: readonly DeliveryStatus[] = [DeliveryStatus.Pending, DeliveryStatus.Retrying];

interface Found {
  seq: number;
  meta: EventMeta;
  payload: Uint8Array;
}

interface DeliveryState {
  entry: KvEntry;
  stored: StoredDelivery;
}

export const toStoredEvent = ({ meta, payload }: Pick<Found, "meta" | "payload">): StoredEvent => ({
  id: meta.id,
  tenantId: meta.tenantId,
  type: meta.type,
  payload,
  idempotencyKey: meta.idempotencyKey,
  orderingKey: meta.orderingKey,
  priority: meta.priority ?? 0,
  createdMs: meta.createdMs,
});

/**
 * History on JetStream. The events stream holds one message per event in publish order, so
 * lists walk it backwards by sequence and retention walks it forwards; there is no index by
 * tenant or type (see docs/jetstream.md for what each list costs).
 */
export class JetStreamHistoryStore implements HistoryStore {
  /** Retention: the first sequence not looked at yet, and old events kept for an open delivery. */
  private watermark = 0;
  private readonly kept = new Set<number>();
  private recheck: number[] = [];

  constructor(
    private readonly jsm: JetStreamManager,
    private readonly stateKv: KV,
  ) {}

  private async read(query: MsgRequest | { next_by_subj: string; seq: number }): Promise<Found | undefined> {
    const msg = await this.jsm.streams.getMessage(EVENTS_STREAM, query as MsgRequest).catch(() => null);
    return msg ? { seq: msg.seq, ...unframe<EventMeta>(msg.data) } : undefined;
  }

  /** The first stored event at or after `seq` (deleted sequences are skipped by the server). */
  private atOrAfter(seq: number): Promise<Found | undefined> {
    return this.read({ next_by_subj: "hookline.evt.>", seq });
  }

  private async bounds(): Promise<{ first: number; last: number } | undefined> {
    const { state } = await this.jsm.streams.info(EVENTS_STREAM);
    return state.messages === 0 ? undefined : { first: state.first_seq, last: state.last_seq };
  }

  /**
   * The last sequence whose event id is below `id`: a binary search, O(log n) gets. Events
   * are in the stream in publish order, which is id order (up to ties between processes).
   */
  private async lastSeqBelow(id: string, first: number, last: number): Promise<number> {
    let lo = first;
    let hi = last;
    let best = first - 1;
    while (lo <= hi) {
      const mid = Math.floor((lo + hi) / 2);
      const found = await this.atOrAfter(mid);
      if (!found || found.seq > hi) hi = mid - 1;
      else if (found.meta.id < id) {
        best = found.seq;
        lo = found.seq + 1;
      } else hi = mid - 1;
    }
    return best;
  }

  async listEvents(filter: EventFilter, afterId: string | undefined, limit: number): Promise<StoredEvent[]> {
    const range = await this.bounds();
    if (!range) return [];
    const endId = filter.endMs === undefined ? undefined : idAtTime("evt", filter.endMs);
    const below = afterId !== undefined && (endId === undefined || afterId < endId) ? afterId : endId;
    const startId = filter.startMs === undefined ? undefined : idAtTime("evt", filter.startMs);
    let seq = range.last;
    if (below !== undefined) {
      // The page token's own event gives its position in one get; otherwise search.
      const token = below === afterId ? await this.read({ last_by_subj: eventSubject(afterId) }) : undefined;
      seq = token ? token.seq - 1 : await this.lastSeqBelow(below, range.first, range.last);
    }
    const out: StoredEvent[] = [];
    // Unfiltered, a page is about `limit` messages; filtered, read further ahead.
    const ahead = filter.tenantId === "" && filter.type === "" ? Math.min(READ_AHEAD, limit) : READ_AHEAD;
    // Newest first, `ahead` gets at a time; deleted sequences read as nothing.
    while (seq >= range.first && out.length < limit) {
      const from = Math.max(range.first, seq - ahead + 1);
      const chunk = await Promise.all(Array.from({ length: seq - from + 1 }, (_, i) => this.read({ seq: seq - i })));
      for (const found of chunk) {
        if (!found) continue;
        const { meta } = found;
        if (startId !== undefined && meta.id < startId) return out;
        if (below !== undefined && meta.id >= below) continue;
        if ((filter.tenantId !== "" && meta.tenantId !== filter.tenantId) || (filter.type !== "" && meta.type !== filter.type)) continue;
        out.push(toStoredEvent(found));
        if (out.length >= limit) return out;
      }
      seq = from - 1;
    }
    return out;
  }

  /**
   * Each step either looks again at old events kept last time (their deliveries may have
   * finished) or goes on forwards from where the last sweep stopped, so a sweep costs what
   * is new plus what is kept, not the whole stream. A new sweep (afterId undefined) starts
   * with the kept ones.
   */
  async prune(beforeMs: number, afterId: string | undefined, limit: number): Promise<PruneStep> {
    const step: PruneStep = { events: 0, deliveries: 0, attempts: 0, kept: 0, lastId: undefined };
    if (afterId === undefined) this.recheck = [...this.kept].sort((a, b) => a - b);
    const range = await this.bounds();
    if (!range) {
      this.kept.clear();
      this.recheck = [];
      return step;
    }
    this.watermark = Math.max(this.watermark, range.first);
    let candidates: Found[];
    let more: boolean;
    if (this.recheck.length > 0) {
      const seqs = this.recheck.splice(0, limit);
      for (const seq of seqs) this.kept.delete(seq);
      candidates = (await inGroups(seqs, READ_AHEAD, (seq) => this.read({ seq }))).filter((f): f is Found => f !== undefined);
      more = true;
    } else {
      const to = Math.min(range.last, this.watermark + limit - 1);
      const seqs = Array.from({ length: Math.max(0, to - this.watermark + 1) }, (_, i) => this.watermark + i);
      const chunk = await inGroups(seqs, READ_AHEAD, (seq) => this.read({ seq }));
      const cutoff = idAtTime("evt", beforeMs);
      candidates = [];
      let reachedNew = false;
      for (const found of chunk) {
        if (found && found.meta.id >= cutoff) {
          reachedNew = true;
          break;
        }
        if (found) candidates.push(found);
      }
      this.watermark = reachedNew ? (candidates.at(-1)?.seq ?? this.watermark - 1) + 1 : to + 1;
      more = !reachedNew && to < range.last;
    }
    const outcomes = await inGroups(candidates, PRUNE_CONCURRENCY, (found) => this.pruneEvent(found));
    for (const [i, outcome] of outcomes.entries()) {
      if (outcome === "kept") {
        this.kept.add((candidates[i] as Found).seq);
        step.kept++;
      } else {
        step.events++;
        step.deliveries += outcome.deliveries;
        step.attempts += outcome.attempts;
      }
    }
    step.lastId = more ? (candidates.at(-1)?.meta.id ?? afterId ?? "") : undefined;
    return step;
  }

  /** Deletes one event with its delivery states and attempts, unless a delivery is open. */
  private async pruneEvent({ seq, meta }: Found): Promise<{ deliveries: number; attempts: number } | "kept"> {
    const states = (
      await Promise.all(
        meta.endpoints.map(async (endpointId, n): Promise<DeliveryState | undefined> => {
          const entry = await this.stateKv.get(stateKey(meta.tenantId, endpointId, deliveryId(meta.id, n)));
          return entry && entry.operation === "PUT" ? { entry, stored: decodeDelivery(entry.value) } : undefined;
        }),
      )
    ).filter((s): s is DeliveryState => s !== undefined);
    if (states.some((s) => OPEN.includes(s.stored.delivery.status))) return "kept";
    let attempts = 0;
    for (const { stored } of states) {
      const { delivery, lastAttempt } = stored;
      if (lastAttempt) attempts++;
      // Older attempts are in the stream only once a newer one (or a replay) moved them there.
      if (delivery.attempts > 1 || (delivery.attempts === 1 && !lastAttempt)) {
        attempts += (await this.jsm.streams.purge(ATTEMPTS_STREAM, { filter: attemptSubject(delivery.id) })).purged;
      }
    }
    // The exact revision read: a state written since (a retry queued it again) stays, and
    // so does its event until a later sweep.
    const deleted = await Promise.all(states.map((s) => this.jsm.streams.deleteMessage(STATE_STREAM, s.entry.revision, false).then(() => true, () => false)));
    if (deleted.includes(false)) return "kept";
    await this.jsm.streams.deleteMessage(EVENTS_STREAM, seq, false).catch(() => false);
    return { deliveries: states.length, attempts };
  }
}

/** Runs `fn` over the items, `size` at a time, results in input order. */
async function inGroups<T, R>(items: readonly T[], size: number, fn: (item: T) => Promise<R>): Promise<R[]> {
  const out: R[] = [];
  for (let i = 0; i < items.length; i += size) out.push(...(await Promise.all(items.slice(i, i + size).map(fn))));
  return out;
}
