import { readFileSync } from "node:fs";
import { connect, credsAuthenticator, type NatsConnection } from "@nats-io/transport-node";
import {
  AckPolicy,
  DeliverPolicy,
  jetstream,
  jetstreamManager,
  RetentionPolicy,
  StorageType,
  type JetStreamClient,
  type JetStreamManager,
  type MsgRequest,
  type PubAck,
  type StreamConfig,
} from "@nats-io/jetstream";
import { Kvm, type KV } from "@nats-io/kv";
import { failedPrecondition, HooklineError } from "../../core/errors.ts";
import { deliveryId as deliveryIdOf, newId, parseDeliveryId } from "../../core/ids.ts";
import {
  DeliveryStatus,
  type Attempt,
  type Delivery,
  type Endpoint,
  type EventInput,
  type PublishResult,
  type StoredEvent,
  type Tenant,
} from "../../core/types.ts";
import type { Logger } from "../../observability/logger.ts";
import type {
  AttemptRecord,
  Backlog,
  BacklogSummary,
  CatalogChange,
  ClaimRequest,
  ClaimResult,
  ClaimedDelivery,
  DeliveryFilter,
  EndpointUpdates,
  FanOut,
  Store,
} from "../store.ts";
import {
  decodeAttempt,
  decodeDelivery,
  decodeJson,
  encodeAttempt,
  encodeDelivery,
  encodeJson,
  frame,
  unframe,
  type DeliveryMeta,
  type EventMeta,
  type RetryCycle,
  type StoredDelivery,
} from "./codec.ts";
import type { ApiKeyStore } from "../api-key-store.ts";
import { JetStreamApiKeyStore } from "./api-key-store.ts";
import { ConfigMirror } from "./config-mirror.ts";
import { isWrongRevision } from "./kv-update.ts";
import { JetStreamEventTypeStore } from "./event-type-store.ts";
import { JetStreamHistoryStore, toStoredEvent } from "./history-store.ts";
import {
  ATTEMPTS_STREAM,
  attemptSubject,
  API_KEY_BUCKET,
  CONFIG_BUCKET,
  consumerName,
  DELIVERIES_STREAM,
  deliverySubject,
  EVENT_TYPE_BUCKET,
  EVENTS_STREAM,
  eventSubject,
  laneOf,
  lanePriority,
  lanes,
  parseConsumerName,
  priorityLane,
  STATE_BUCKET,
  STATE_STREAM,
  stateKey,
  stateSubject,
  UNORDERED_LANE,
  WAKE_SUBJECT,
} from "./layout.ts";
import { AckedPurge } from "./acked-purge.ts";
import { Puller, type PulledMessage } from "./puller.ts";
import { unsupportedServer } from "./server-version.ts";
import { isClusterForming, isUnanswered, retryWhileClusterForms } from "./setup-retry.ts";
import { publishInBatches, publishOptions, type OutMessage } from "./batch-publish.ts";

export interface JetStreamStoreOptions {
  /** One URL or a comma-separated list of cluster members. */
  servers: string;
  credsFile: string;
  tls: { caFile: string; certFile: string; keyFile: string };
  replicas: number;
  idempotencyWindowMs: number;
  /**
   * The consumers' ack_wait: how long a message held by a process that stopped answering
   * waits before it is handed out again. Live attempts renew it with progress acks.
   */
  ackWaitMs: number;
  logger: Logger;
}

/**
 * Retries waiting out their backoff stay unacknowledged on the endpoint's consumer (nak with
 * delay), so its max_ack_pending is max in-flight plus this allowance; each process's
 * scheduler keeps the number of concurrent requests at the endpoint's max in-flight.
 */
const PARKED_RETRIES = 10_000;
/** Progress acks per ack_wait for each held message: two may get lost or late before it runs out. */
const PROGRESS_PER_ACK_WAIT = 3;
/** When to try an endpoint again whose claim failed (its messages were handed back). */
const CLAIM_RETRY_MS = 1_000;
/** A pulled message not claimed within this is handed back (ack_wait is at least 10 s more). */
const READY_MAX_AGE_MS = 5_000;
/** How long to wait for the server to confirm an ordered lane's ack (it is sent regardless). */
const LANE_ACK_TIMEOUT_MS = 2_000;
/** How often every endpoint is looked at for work no wake-up announced (redeliveries after a crash). */
const POLL_MS = 2_000;
/**
 * Settled delivery messages of a lane are removed every so many settles, or this long after
 * the first (AckedPurge): a quiet lane keeps fewer than that many messages for a while, and
 * thousands of quiet lanes do not each cost the server a synced write every few seconds.
 */
const PURGE_EVERY_SETTLED = 1_000;
const PURGE_MAX_DELAY_MS = 300_000;
const PURGE_CHECK_MS = 1_000;
/** A lane busy elsewhere is looked at again this much later; after this many settles here it is purged anyway (about 20 MB of 1 KB events). */
const PURGE_RECHECK_MS = 5_000;
const PURGE_FORCE_AFTER_SETTLED = 20_000;
/** How long a message handed back, or a retry come due, may wait for the next pull of its lane. */
const REDELIVERY_WINDOW_MS = 5_000;
/** Lanes whose first open message a backlog summary looks up at once. */
const OLDEST_LOOKUPS_IN_FLIGHT = 16;
const OPEN_STATUSES: readonly DeliveryStatus[] = [DeliveryStatus.Pending, DeliveryStatus.Retrying];
/**
 * RetryDelivery calls back a parked retry only when it is due later than this: one due sooner
 * may be handed out already, as clocks of processes differ.
 */
const CALL_BACK_MARGIN_MS = 5_000;
/** Read-modify-write rounds of a call-back lost to concurrent writers before ABORTED. */
const CALL_BACK_ROUNDS = 5;
/** Requests kept in flight by bulk operations (replay, cancel). */
const BULK_CONCURRENCY = 512;
/** Finished deliveries a replay requeues per round of batched writes. */
const REQUEUE_BATCH = 2_000;
const NS_PER_MS = 1_000_000;
/** Every priority lane an endpoint may have ("p9" … "p1"), highest first. */
const PRIORITY_LANES = Array.from({ length: 9 }, (_, i) => priorityLane(9 - i));
/** Bounds one listing of delivery states. */
const SCAN_TIMEOUT_MS = 15_000;

/** A delivery this process has claimed and not yet acknowledged. */
interface Held {
  meta: DeliveryMeta;
  reply: string;
  /** The consumer it came from. */
  consumer: string;
  /** The ordered lane's consumer it came from; undefined for the unordered lane. */
  lane: string | undefined;
  /** The attempt stored with the state when it was claimed (a retry): to be moved to the stream. */
  lastAttempt: Attempt | undefined;
  /** Its retry cycle: the message's, or a newer one RetryDelivery stored with the state. */
  cycle: RetryCycle;
}

/**
 * The shared backend: events, delivery queues and attempts in JetStream streams, tenants,
 * endpoints and delivery states in KV buckets. Any number of processes use it at once; the
 * per-endpoint durable consumers divide the work between them.
 */
export class JetStreamStore implements Store {
  /** Publishes are network round trips; two at once could both miss the other's idempotency key. */
  readonly publishWritesFirst = false;
  private readonly held = new Map<string, Held>();
  /**
   * Ordered lanes whose head this process holds or parked, with when that ends: pulling such
   * a lane (max_ack_pending 1) would only wait out the pull's expiry for nothing.
   */
  private readonly busyLanes = new Map<string, number>();
  /**
   * Ordered lanes found empty, with the endpoint's wake count at that moment: not pulled
   * again until the next wake-up or poll for the endpoint, or until this process settles a
   * message of theirs. Most of an ordered endpoint's 16 lanes are empty most of the time.
   */
  private readonly quietLanes = new Map<string, number>();
  /** Messages pulled for an endpoint that arrived after the claim that asked for them was answered. */
  private readonly ready = new Map<string, { message: PulledMessage; arrivedMs: number }[]>();
  private readonly wakeCounts = new Map<string, number>();
  /** Ordered endpoints with fewer places than busy lanes: the lane their next claim asks first. */
  private readonly laneCursors = new Map<string, number>();
  /** When this process last handed a message of the endpoint back (nak without delay). */
  private readonly handedBackMs = new Map<string, number>();
  /** Retries this process parked with a nak delay, per endpoint: delivery id → when due, and its consumer. */
  private readonly parked = new Map<string, Map<string, { dueMs: number; consumer: string }>>();
  /** Consumer config fingerprints this process has made sure of. */
  private readonly ensured = new Map<string, string>();
  private readonly dueListeners = new Set<(endpointIds: readonly string[]) => void>();
  private readonly poll: NodeJS.Timeout;
  private readonly progress: NodeJS.Timeout;
  private readonly puller: Puller;
  private readonly ackedPurge: AckedPurge;
  /** Priority lanes being marked in use, by endpoint and lane: one config write each. */
  private readonly laneMarks = new Map<string, Promise<void>>();
  readonly history: JetStreamHistoryStore;

  private constructor(
    private readonly nc: NatsConnection,
    private readonly js: JetStreamClient,
    private readonly jsm: JetStreamManager,
    private readonly stateKv: KV,
    private readonly mirror: ConfigMirror,
    readonly apiKeys: ApiKeyStore,
    readonly eventTypes: JetStreamEventTypeStore,
    private readonly o: JetStreamStoreOptions,
  ) {
    this.history = new JetStreamHistoryStore(jsm, stateKv);
    this.ackedPurge = new AckedPurge(jsm, {
      stream: DELIVERIES_STREAM,
      intervalMs: PURGE_CHECK_MS,
      everySettled: PURGE_EVERY_SETTLED,
      maxDelayMs: PURGE_MAX_DELAY_MS,
      recheckMs: PURGE_RECHECK_MS,
      forceAfterSettled: PURGE_FORCE_AFTER_SETTLED,
      logger: o.logger,
      heldHere: (consumer) => this.heldHere(consumer, Date.now()),
      redeliveryMayWait: (consumer, nowMs) => this.redeliveryMayWait(parseConsumerName(consumer).endpointId, nowMs),
    });
    // Settled messages a stopped process left behind: every lane is looked at once, spread out.
    this.ackedPurge.markAll().catch((err: unknown) => o.logger.warn({ err }, "listing delivery consumers failed; their settled messages are removed after their next ack"));
    this.puller = new Puller(nc, {
      late: (message) => this.keepForNextClaim(message),
      ended: (consumer) => this.notifyDue([parseConsumerName(consumer).endpointId]),
    });
    nc.subscribe(WAKE_SUBJECT, {
      callback: (_err, msg) => {
        try {
          this.emitDue(decodeJson<string[]>(msg.data));
        } catch {
          // Not ours to act on.
        }
      },
    });
    this.poll = setInterval(() => {
      this.handBackStale(Date.now());
      const enabled: string[] = [];
      for (const e of this.mirror.endpoints.values()) if (!e.disabled) enabled.push(e.id);
      if (enabled.length > 0) this.emitDue(enabled);
    }, POLL_MS);
    this.poll.unref();
    // An attempt can outlast ack_wait (a long endpoint timeout, a queue in the worker pool):
    // without these the server would hand its message to another claim meanwhile.
    this.progress = setInterval(() => this.sendProgress(), Math.floor(o.ackWaitMs / PROGRESS_PER_ACK_WAIT));
    this.progress.unref();
    this.logConnection().catch((err: unknown) => this.o.logger.warn({ err }, "NATS status stream ended; connection changes are no longer logged"));
  }

  /** Connection trouble shows in the log: in-flight pulls and acks are lost across a reconnect. */
  private async logConnection(): Promise<void> {
    for await (const status of this.nc.status()) {
      if (status.type === "ping" || status.type === "update") continue;
      const fields = { nats: status.type, ...("server" in status && { server: status.server }) };
      if (status.type === "reconnect") this.o.logger.info(fields, "NATS connection restored");
      else if (status.type !== "close") this.o.logger.warn({ ...fields, ...("error" in status && { err: status.error }) }, "NATS connection trouble");
    }
  }

  static async open(o: JetStreamStoreOptions): Promise<JetStreamStore> {
    const nc = await connectTo(o);
    let step = "reaching the JetStream API";
    try {
      // A cluster still electing its meta leader leaves API requests unanswered: ask in short
      // tries until it answers, rather than one request that waits out the whole deadline.
      const retry = { logger: o.logger, deadlineMs: SETUP_TIMEOUT_MS };
      await retryWhileClusterForms(step, () => jetstreamManager(nc, { timeout: API_PROBE_TIMEOUT_MS }), {
        ...retry,
        notYet: (err) => isClusterForming(err) || isUnanswered(err),
      });
      // Creating a replicated stream waits for its raft group to elect a leader, which takes
      // longer than a request's usual timeout on a busy cluster: set-up gets a long one.
      const setupJsm = await jetstreamManager(nc, { timeout: SETUP_TIMEOUT_MS, checkAPI: false });
      const setupKvm = new Kvm(jetstream(nc, { timeout: SETUP_TIMEOUT_MS }));
      const ensure = async (config: Partial<StreamConfig> & { name: string }): Promise<void> => {
        step = `stream ${config.name}`;
        await retryWhileClusterForms(step, () => ensureStream(setupJsm, o.logger, config), retry);
      };
      const bucket = async (name: string): Promise<void> => {
        step = `bucket ${name}`;
        await retryWhileClusterForms(step, () => setupKvm.create(name, { replicas: o.replicas, history: 1, storage: StorageType.File }), retry);
      };
      await ensure({
        name: EVENTS_STREAM,
        subjects: ["hookline.evt.>"],
        // Publishes with the same idempotency key inside this window are answered from the first.
        duplicate_window: o.idempotencyWindowMs * NS_PER_MS,
        num_replicas: o.replicas,
        allow_atomic: true,
      });
      await ensure({
        name: DELIVERIES_STREAM,
        subjects: ["hookline.dlv.>"],
        // Limits, not a work queue: settled messages go in bulk (see AckedPurge).
        retention: RetentionPolicy.Limits,
        duplicate_window: 120_000 * NS_PER_MS,
        num_replicas: o.replicas,
        allow_atomic: true,
      });
      // Direct gets page through one delivery's attempts without a consumer.
      await ensure({ name: ATTEMPTS_STREAM, subjects: ["hookline.att.>"], num_replicas: o.replicas, allow_direct: true, allow_atomic: true });
      for (const name of [CONFIG_BUCKET, STATE_BUCKET, API_KEY_BUCKET, EVENT_TYPE_BUCKET]) await bucket(name);
      // Delivery states are written in atomic batches too; the KV API creates its stream without.
      step = `stream ${STATE_STREAM}`;
      await retryWhileClusterForms(step, () => allowAtomic(setupJsm, STATE_STREAM), retry);
      step = "loading the configuration";
      // At run time, requests keep the client's usual timeout.
      const jsm = await jetstreamManager(nc);
      const js = jetstream(nc);
      const kvm = new Kvm(js);
      const [configKv, stateKv, apiKeyKv, eventTypeKv] = await Promise.all([CONFIG_BUCKET, STATE_BUCKET, API_KEY_BUCKET, EVENT_TYPE_BUCKET].map((name) => kvm.open(name)));
      const mirror = await ConfigMirror.open(configKv as KV, o.logger);
      const eventTypes = await JetStreamEventTypeStore.open(eventTypeKv as KV, o.logger);
      return new JetStreamStore(nc, js, jsm, stateKv as KV, mirror, new JetStreamApiKeyStore(apiKeyKv as KV), eventTypes, o);
    } catch (err) {
      await nc.close();
      if (isUnanswered(err) || isClusterForming(err)) {
        throw new Error(
          `JetStream was not ready within ${SETUP_TIMEOUT_MS / 1000} s while setting up (${step}: ${(err as Error).message}): check that JetStream has a leader (\`nats server report jetstream\`), then start hookline again`,
          { cause: err },
        );
      }
      throw err;
    }
  }

  async close(): Promise<void> {
    clearInterval(this.poll);
    clearInterval(this.progress);
    this.ackedPurge.close();
    this.mirror.close();
    this.eventTypes.close();
    this.puller.close();
    await this.nc.drain();
  }

  watchCatalog(listener: (change: CatalogChange) => void): void {
    this.mirror.onChange(listener);
  }

  onDue(listener: (endpointIds: readonly string[]) => void): void {
    this.dueListeners.add(listener);
  }

  // ---- tenants and endpoints -------------------------------------------------------------

  async createTenant(tenant: Tenant): Promise<void> {
    await this.mirror.putTenant(tenant);
  }

  async getTenant(id: string): Promise<Tenant | undefined> {
    return this.mirror.tenants.get(id);
  }

  async listTenants(afterId: string | undefined, limit: number): Promise<Tenant[]> {
    return pageById([...this.mirror.tenants.values()], afterId, limit);
  }

  async updateTenant(id: string, change: (current: Tenant) => Tenant): Promise<Tenant | undefined> {
    return this.mirror.updateTenant(id, change);
  }

  async deleteTenant(id: string, nowMs: number): Promise<boolean> {
    if (!this.mirror.tenants.has(id)) return false;
    for (const e of [...this.mirror.endpoints.values()]) if (e.tenantId === id) await this.deleteEndpoint(e.id, nowMs);
    await this.mirror.deleteTenant(id);
    return true;
  }

  async createEndpoint(endpoint: Endpoint): Promise<void> {
    await this.ensureConsumers(endpoint);
    await this.mirror.putEndpoint(endpoint);
  }

  async getEndpoint(id: string): Promise<Endpoint | undefined> {
    return this.mirror.endpoints.get(id);
  }

  async listEndpoints(tenantId: string, afterId: string | undefined, limit: number): Promise<Endpoint[]> {
    return pageById(
      [...this.mirror.endpoints.values()].filter((e) => tenantId === "" || e.tenantId === tenantId),
      afterId,
      limit,
    );
  }

  async allEndpoints(): Promise<Endpoint[]> {
    return [...this.mirror.endpoints.values()];
  }

  async updateEndpoint(id: string, change: (current: Endpoint) => Endpoint): Promise<Endpoint | undefined> {
    const updated = await this.mirror.updateEndpoint(id, change);
    if (!updated) return undefined;
    // A changed timeout or max in-flight changes its consumers' settings (claims check too).
    await this.ensureConsumers(updated);
    // The newest revision: concurrent updates may finish in any order, the catalog must not go back.
    return this.mirror.endpoints.get(id) ?? updated;
  }

  async deleteEndpoint(id: string, nowMs: number): Promise<boolean> {
    const endpoint = this.mirror.endpoints.get(id);
    if (!endpoint) return false;
    await this.mirror.deleteEndpoint(id);
    for (const lane of [...lanes(true), ...PRIORITY_LANES]) {
      await this.jsm.consumers.delete(DELIVERIES_STREAM, consumerName(id, lane)).catch(() => false);
      this.ensured.delete(consumerName(id, lane));
      this.busyLanes.delete(consumerName(id, lane));
      this.quietLanes.delete(consumerName(id, lane));
    }
    await this.jsm.streams.purge(DELIVERIES_STREAM, { filter: `hookline.dlv.${id}.>` });
    const open = (await this.scanStates(`*.${id}.*`)).filter((s) => OPEN_STATUSES.includes(s.delivery.status));
    await inBatches(open, ({ delivery: d, lastAttempt }) =>
      this.putState({ delivery: { ...d, status: DeliveryStatus.Cancelled, nextAttemptMs: 0, lastError: "endpoint deleted", updatedMs: nowMs }, lastAttempt }),
    );
    this.parked.delete(id);
    this.ready.delete(id);
    return true;
  }

  // ---- events ----------------------------------------------------------------------------

  async publish(
    batches: readonly (readonly EventInput[])[],
    fanOut: FanOut,
    nowMs: number,
  ): Promise<PublishResult[][]> {
    // Phase 1: the events themselves, as atomic batches (one synced write per batch). The
    // stream dedupes keyed events by message id, which is how the idempotency window works
    // here; a batch holding a repeat is refused whole, and its events are then written one by
    // one, so that each repeat is answered from its original.
    const stored = batches.map((events) =>
      events.map((event) => {
        const meta: EventMeta = {
          id: newId("evt", nowMs),
          tenantId: event.tenantId,
          type: event.type,
          idempotencyKey: event.idempotencyKey,
          orderingKey: event.orderingKey,
          priority: event.priority,
          createdMs: nowMs,
          endpoints: [...fanOut(event.tenantId, event.type)],
        };
        return { meta, payload: event.payload };
      }),
    );
    const flat = stored.flat();
    const originals = new Map<number, PubAck>();
    await confirmAll(
      publishInBatches(
        this.js,
        flat.map(({ meta, payload }) => ({
          subject: eventSubject(meta.id),
          data: frame(meta, payload),
          ...(meta.idempotencyKey !== "" && { messageId: `${meta.tenantId}:${meta.idempotencyKey}` }),
        })),
        async (message, i) => {
          // Without a key nothing dedupes: a batch whose answer was lost may be stored already.
          if (message.messageId === undefined && (await this.eventById((flat[i] as (typeof flat)[number]).meta.id))) return;
          const ack = await this.publishOne(message);
          if (ack.duplicate) originals.set(i, ack);
        },
      ),
    );
    // Phase 2: the new events' deliveries, states and messages each in atomic batches. A
    // duplicate's deliveries exist already, unless the process that stored it died (or failed)
    // between the phases: then the missing ones are queued now.
    const woken = new Set<string>();
    const fresh = flat.filter((_, i) => !originals.has(i));
    await confirmAll(this.queueDeliveries(fresh, nowMs));
    for (const { meta } of fresh) for (const endpointId of meta.endpoints) woken.add(endpointId);
    const results = await Promise.all(
      flat.map(async ({ meta }, i): Promise<PublishResult> => {
        const ack = originals.get(i);
        if (!ack) return { eventId: meta.id, duplicate: false, deliveryCount: meta.endpoints.length };
        const original = await this.readEvent({ seq: ack.seq });
        if (!original) throw new HooklineError("unavailable", `the event stored under idempotency key "${meta.idempotencyKey}" cannot be read; retry`);
        await this.queueMissing(original.meta, original.payload, woken);
        return { eventId: original.meta.id, duplicate: true, deliveryCount: 0 };
      }),
    );
    this.wake([...woken]);
    let next = 0;
    return stored.map((events) => results.slice(next, (next += events.length)));
  }

  /** New events' PENDING states and delivery messages. */
  private queueDeliveries(events: readonly { meta: EventMeta; payload: Uint8Array }[], nowMs: number): Promise<void> {
    return this.writeQueued(
      events.flatMap(({ meta, payload }) =>
        meta.endpoints.map((endpointId, ordinal) => {
          const deliveryMeta = newDeliveryMeta(meta, endpointId, ordinal);
          return { meta: deliveryMeta, payload, messageId: deliveryMeta.deliveryId, state: pendingState(meta, endpointId, ordinal, nowMs) };
        }),
      ),
    );
  }

  /**
   * Delivery messages on their lanes and the states that go with them, each kind in atomic
   * batches. Priority lanes are marked in use first, so that every process pulls them.
   */
  private async writeQueued(entries: readonly { meta: DeliveryMeta; payload: Uint8Array; messageId: string; state: Delivery }[]): Promise<void> {
    const lanesToMark = new Map<string, { endpointId: string; lane: string }>();
    const messages = entries.map(({ meta, payload, messageId }): OutMessage => {
      const lane = this.laneFor(meta);
      if (lanePriority(lane) > 0) lanesToMark.set(`${meta.endpointId}.${lane}`, { endpointId: meta.endpointId, lane });
      return { subject: deliverySubject(meta.endpointId, lane), data: frame(meta, payload), messageId };
    });
    await Promise.all([...lanesToMark.values()].map(({ endpointId, lane }) => this.markLaneInUse(endpointId, lane)));
    await Promise.all([this.writeAll(entries.map(({ state }) => this.stateMessage({ delivery: state, lastAttempt: undefined }))), this.writeAll(messages)]);
  }

  /** Messages for one stream in atomic batches, each written alone again should its batch fail. */
  private writeAll(messages: readonly OutMessage[]): Promise<void> {
    return publishInBatches(this.js, messages, this.publishOne);
  }

  private readonly publishOne = (m: OutMessage): Promise<PubAck> => this.js.publish(m.subject, m.data, publishOptions(m));

  async getEvent(id: string): Promise<StoredEvent | undefined> {
    const found = await this.eventById(id);
    return found && toStoredEvent(found);
  }


  // ---- deliveries ------------------------------------------------------------------------

  async getDelivery(id: string): Promise<Delivery | undefined> {
    return (await this.storedDelivery(id))?.delivery;
  }

  /** A delivery's stored state, found through its event (which names tenant and endpoint). */
  private async storedDelivery(id: string): Promise<StoredDelivery | undefined> {
    const { eventId, ordinal } = parseDeliveryId(id);
    const event = await this.eventById(eventId);
    const endpointId = event?.meta.endpoints[ordinal];
    if (!event || endpointId === undefined) return undefined;
    return this.getStored(stateKey(event.meta.tenantId, endpointId, id));
  }

  async listDeliveries(filter: DeliveryFilter, afterId: string | undefined, limit: number): Promise<Delivery[]> {
    let found: Delivery[];
    if (filter.eventId !== "") {
      const event = await this.eventById(filter.eventId);
      const states = event
        ? await Promise.all(event.meta.endpoints.map((ep, n) => this.getState(stateKey(event.meta.tenantId, ep, deliveryIdOf(filter.eventId, n)))))
        : [];
      found = states.filter((d): d is Delivery => d !== undefined);
    } else {
      found = (await this.scanStates(`${filter.tenantId || "*"}.${filter.endpointId || "*"}.*`)).map((s) => s.delivery);
    }
    const matching = found.filter(
      (d) =>
        (filter.tenantId === "" || d.tenantId === filter.tenantId) &&
        (filter.endpointId === "" || d.endpointId === filter.endpointId) &&
        (filter.statuses.length === 0 || filter.statuses.includes(d.status)) &&
        (filter.startMs === undefined || d.createdMs >= filter.startMs) &&
        (filter.endMs === undefined || d.createdMs < filter.endMs) &&
        (afterId === undefined || d.id < afterId),
    );
    return matching.sort((a, b) => (a.id < b.id ? 1 : -1)).slice(0, limit);
  }

  async listAttempts(deliveryId: string, afterId: string | undefined, limit: number): Promise<Attempt[]> {
    const stored = await this.storedDelivery(deliveryId);
    const attempts: Attempt[] = [];
    const seen = new Set<string>();
    const take = (attempt: Attempt): void => {
      if (seen.has(attempt.id)) return;
      seen.add(attempt.id);
      if (afterId === undefined || attempt.id > afterId) attempts.push(attempt);
    };
    for (let seq = 0; attempts.length < limit; ) {
      const msg = await this.jsm.direct.getMessage(ATTEMPTS_STREAM, { next_by_subj: attemptSubject(deliveryId), seq });
      if (!msg) break;
      seq = msg.seq + 1;
      take(decodeAttempt(msg.data));
    }
    // The newest attempt is kept with the state until a newer one moves it to the stream.
    if (stored?.lastAttempt && attempts.length < limit) take(stored.lastAttempt);
    return attempts;
  }

  async retryDelivery(id: string, nowMs: number): Promise<Delivery | undefined> {
    const stored = await this.storedDelivery(id);
    if (!stored || stored.delivery.status === DeliveryStatus.Cancelled) return stored?.delivery;
    if (this.held.has(id)) throw failedPrecondition(`delivery ${id} is being attempted right now; retry it once this attempt has finished`);
    const { delivery } = stored;
    const updated = OPEN_STATUSES.includes(delivery.status) ? await this.callBack(delivery, nowMs) : await this.requeue(stored, nowMs);
    if (updated) this.wake([delivery.endpointId]);
    return updated;
  }

  async replayDeliveries(
    endpointId: string,
    statuses: readonly DeliveryStatus[],
    fromMs: number,
    toMs: number,
    nowMs: number,
  ): Promise<number> {
    const wanted: DeliveryStatus[] = statuses.filter((s) => s !== DeliveryStatus.Cancelled);
    if (wanted.length === 0) return 0;
    // As on SQLite: every matching delivery that is not being attempted right now.
    const chosen = (await this.scanStates(`*.${endpointId}.*`)).filter(
      ({ delivery: d }) => wanted.includes(d.status) && d.createdMs >= fromMs && d.createdMs < toMs && !this.held.has(d.id),
    );
    let count = 0;
    const finished = chosen.filter(({ delivery }) => !OPEN_STATUSES.includes(delivery.status));
    await inBatches(
      chosen.filter(({ delivery }) => OPEN_STATUSES.includes(delivery.status)),
      async (d) => {
        if (await this.callBack(d.delivery, nowMs)) count++;
      },
    );
    for (let i = 0; i < finished.length; i += REQUEUE_BATCH) count += (await this.requeueAll(finished.slice(i, i + REQUEUE_BATCH), nowMs)).length;
    if (count > 0) this.wake([endpointId]);
    return count;
  }

  // ---- the queue -------------------------------------------------------------------------

  async dueByEndpoint(): Promise<Map<string, number>> {
    const now = Date.now();
    return new Map([...this.mirror.endpoints.values()].filter((e) => !e.disabled).map((e) => [e.id, now]));
  }

  async nextDue(endpointId: string): Promise<number | undefined> {
    // Asked to look again (re-enabled, retried, replayed): lanes found empty may not be now.
    this.countWake(endpointId);
    return this.mirror.endpoints.has(endpointId) ? Date.now() : undefined;
  }

  async claim(requests: readonly ClaimRequest[], nowMs: number): Promise<ClaimResult[]> {
    // Each endpoint on its own: one endpoint's failure must not strand what the others took.
    const settled = await Promise.allSettled(requests.map((r) => this.claimFor(r, nowMs)));
    return settled.map((result, i) => {
      if (result.status === "fulfilled") return result.value;
      this.o.logger.warn({ err: result.reason, endpointId: requests[i]?.endpointId }, "claiming deliveries failed; trying again shortly");
      return { claimed: [], nextDue: nowMs + CLAIM_RETRY_MS };
    });
  }

  async complete(records: readonly AttemptRecord[], endpoints: EndpointUpdates, nowMs: number): Promise<void> {
    const writes: Promise<unknown>[] = [];
    const finished: { held: Held; record: AttemptRecord }[] = [];
    const movedAttempts: OutMessage[] = [];
    const states: OutMessage[] = [];
    for (const record of records) {
      const held = this.held.get(record.attempt.deliveryId);
      if (!held) continue;
      const { meta } = held;
      const { attempt } = record;
      const state: Delivery = {
        id: meta.deliveryId,
        eventId: meta.eventId,
        endpointId: meta.endpointId,
        tenantId: meta.tenantId,
        eventType: meta.type,
        status: record.status,
        attempts: attempt.number,
        nextAttemptMs: record.nextAttemptMs,
        lastStatusCode: attempt.statusCode,
        lastError: attempt.error,
        createdMs: meta.createdMs,
        updatedMs: nowMs,
      };
      // One write: the state carries this attempt. The one it replaces goes to the stream
      // first, so that a failure in between loses neither.
      const previous = held.lastAttempt;
      // A retry's ack subject goes with its state: RetryDelivery, in any process, can call it back early.
      const stored: StoredDelivery = {
        delivery: state,
        lastAttempt: attempt,
        cycle: held.cycle,
        parkedAs: record.status === DeliveryStatus.Retrying ? held.reply : undefined,
      };
      if (previous && previous.id !== attempt.id) movedAttempts.push(attemptMessage(previous));
      states.push(this.stateMessage(stored));
      finished.push({ held, record });
    }
    // Atomic batches: the attempts being replaced first, then the states that replace them.
    writes.push(this.writeAll(movedAttempts).then(() => this.writeAll(states)));
    for (const [endpointId, reason] of endpoints.disable) {
      // Only these fields: an operator's concurrent change to the endpoint is kept.
      writes.push(this.mirror.updateEndpoint(endpointId, (endpoint) => ({ ...endpoint, disabled: true, disabledReason: reason, updatedMs: nowMs })));
    }
    for (const [endpointId, since] of endpoints.failingSince) {
      writes.push(this.mirror.putFailing(endpointId, since));
    }
    await confirm(writes);
    // The results are stored: only now may the queue forget or reschedule the messages. A
    // retry's delay counts from now, not from the start of the writes (often 100 ms or more
    // under load): the server then hands it out again when it is due, not that much later.
    const verdictMs = Date.now();
    for (const { held, record } of finished) {
      this.held.delete(held.meta.deliveryId);
      const retrying = record.status === DeliveryStatus.Retrying;
      let verdict = record.status === DeliveryStatus.Succeeded ? "+ACK" : "+TERM";
      if (retrying) {
        const delayMs = Math.max(0, record.nextAttemptMs - verdictMs);
        verdict = `-NAK ${JSON.stringify({ delay: Math.round(delayMs * NS_PER_MS) })}`;
        this.parkedOf(held.meta.endpointId).set(held.meta.deliveryId, { dueMs: record.nextAttemptMs, consumer: held.consumer });
      }
      const { lane } = held;
      if (!retrying) this.ackedPurge.settled(held.consumer);
      if (lane === undefined) {
        this.nc.publish(held.reply, verdict);
        continue;
      }
      // An ordered lane hands out its next message only once the server has processed this
      // one's ack. Until the server confirms it the lane is not pulled (a pull would find it
      // empty and mark it quiet); then the endpoint is woken to pull the lane's next head.
      // The caller is not kept waiting: under load that confirmation takes a while, and
      // holding the whole completion for it held every other lane's result too.
      this.busyLanes.set(lane, Infinity);
      const { endpointId } = held.meta;
      void this.nc
        .request(held.reply, verdict, { timeout: LANE_ACK_TIMEOUT_MS })
        .catch(() => undefined)
        .finally(() => {
          this.quietLanes.delete(lane);
          if (retrying) this.busyLanes.set(lane, record.nextAttemptMs);
          else this.busyLanes.delete(lane);
          this.notifyDue([endpointId]);
        });
    }
  }

  async backlog(endpointId: string): Promise<Backlog> {
    const endpoint = this.mirror.endpoints.get(endpointId);
    const infos = await Promise.all(
      [...lanes(endpoint?.ordering === "ordered_by_key"), ...this.priorityLanesOf(endpointId)].map((lane) =>
        this.jsm.consumers.info(DELIVERIES_STREAM, consumerName(endpointId, lane)).catch(() => undefined),
      ),
    );
    let pending = 0;
    let unacked = 0;
    for (const info of infos) {
      pending += info?.num_pending ?? 0;
      unacked += info?.num_ack_pending ?? 0;
    }
    let inFlight = 0;
    for (const h of this.held.values()) if (h.meta.endpointId === endpointId) inFlight++;
    return { pending, retrying: Math.max(0, unacked - inFlight), inFlight };
  }

  /**
   * One consumer list, then the oldest lane's first message above its ack floor: settled
   * messages stay in the stream until purged, so the stream's first message is not the oldest
   * open one. Lanes are looked at from the lowest floor up, a few at a time; a lane whose
   * floor is past the oldest first message found so far cannot hold an older one (sequence
   * order is time order), so most lanes cost no get.
   */
  async backlogSummary(): Promise<BacklogSummary> {
    let pending = 0;
    let unacked = 0;
    const open: { subject: string; after: number }[] = [];
    for await (const info of this.jsm.consumers.list(DELIVERIES_STREAM)) {
      pending += info.num_pending;
      unacked += info.num_ack_pending;
      const subject = info.config.filter_subject;
      if (subject !== undefined && info.num_pending + info.num_ack_pending > 0) open.push({ subject, after: info.ack_floor.stream_seq });
    }
    open.sort((a, b) => a.after - b.after);
    let oldest: { seq: number; time: Date } | undefined;
    for (let i = 0; i < open.length; i += OLDEST_LOOKUPS_IN_FLIGHT) {
      const round = open.slice(i, i + OLDEST_LOOKUPS_IN_FLIGHT).filter(({ after }) => oldest === undefined || after + 1 < oldest.seq);
      if (round.length === 0) break;
      const firsts = await Promise.all(
        // The API takes next_by_subj with seq; the library's request type predates it.
        round.map(({ subject, after }) => this.jsm.streams.getMessage(DELIVERIES_STREAM, { seq: after + 1, next_by_subj: subject } as unknown as { seq: number })),
      );
      for (const first of firsts) if (first && (oldest === undefined || first.seq < oldest.seq)) oldest = first;
    }
    const inFlight = this.held.size;
    return { pending, retrying: Math.max(0, unacked - inFlight), inFlight, oldestOpenMs: oldest?.time.getTime() };
  }

  async failingSince(): Promise<Map<string, number>> {
    return new Map(this.mirror.failing);
  }

  async releaseLeases(): Promise<number> {
    const buffered = [...this.ready.values()].flat();
    const released = this.held.size + buffered.length;
    for (const held of this.held.values()) this.nc.publish(held.reply, "-NAK");
    for (const { message } of buffered) this.nc.publish(message.reply, "-NAK");
    this.held.clear();
    this.ready.clear();
    this.busyLanes.clear();
    await this.nc.flush();
    return released;
  }

  async expireIdempotencyKeys(): Promise<number> {
    // The events stream's duplicate window forgets them.
    return 0;
  }

  // ---- internals -------------------------------------------------------------------------

  private async claimFor(request: ClaimRequest, nowMs: number): Promise<ClaimResult> {
    const endpoint = this.mirror.endpoints.get(request.endpointId);
    if (!endpoint) return { claimed: [], nextDue: undefined };
    await this.ensureConsumers(endpoint);
    const buffered = this.ready.get(endpoint.id) ?? [];
    // Late arrivals from several lanes: the higher priority ones go first (the sort is stable).
    buffered.sort((a, b) => lanePriority(parseConsumerName(b.message.consumer).lane) - lanePriority(parseConsumerName(a.message.consumer).lane));
    // Lanes whose head is in hand (taken now or left buffered): an ordered lane's pull would
    // find its one place taken and, with messages queued behind the head, stay unanswered
    // until the guard gives up on it, holding this whole claim for that long.
    const waitingLanes = new Set(buffered.map((r) => r.message.consumer));
    const taken = buffered.splice(0, request.limit).map((r) => r.message);
    if (buffered.length === 0) this.ready.delete(endpoint.id);
    const pulls: Promise<PulledMessage[]>[] = [Promise.resolve(taken)];
    let room = request.limit - taken.length;
    if (request.ordered) {
      const wakes = this.wakeCounts.get(endpoint.id) ?? 0;
      const keyed = lanes(true)
        .slice(1)
        .map((lane) => consumerName(endpoint.id, lane));
      const open = (consumer: string): boolean =>
        (this.busyLanes.get(consumer) ?? 0) <= nowMs && this.quietLanes.get(consumer) !== wakes && !waitingLanes.has(consumer);
      const pullHead = (consumer: string, untilKnown: boolean): Promise<PulledMessage[]> =>
        this.puller.pull(DELIVERIES_STREAM, consumer, 1, untilKnown, true).then((ms) => {
          if (ms?.length === 0) this.quietLanes.set(consumer, wakes);
          else if (ms) this.quietLanes.delete(consumer);
          return ms ?? [];
        });
      const candidates = keyed.filter(open);
      if (candidates.length < room) {
        // Room for every lane's head and then some: all heads at once, a random lane first, the
        // rest of the room for the unordered lanes below.
        const start = Math.floor(Math.random() * candidates.length);
        for (let i = 0; i < candidates.length; i++) pulls.push(pullHead(candidates[(start + i) % candidates.length] as string, false));
        room -= candidates.length;
      } else if (room > 0) {
        // Fewer places than lanes with work: take the lanes in turn, the unordered lanes being
        // one of them, and ask each in sequence until the room is used, so that a small
        // max_in_flight still reaches every lane. An empty lane costs one short quiet wait; a
        // head that comes later is kept for the next claim.
        const slots = [UNORDERED_LANE, ...keyed];
        const cursor = this.laneCursors.get(endpoint.id) ?? 0;
        for (let i = 0; i < slots.length && room > 0; i++) {
          const slot = (cursor + i) % slots.length;
          const consumer = slots[slot] as string;
          const got = consumer === UNORDERED_LANE ? await this.pullUnorderedLanes(endpoint.id, room, false) : open(consumer) ? await pullHead(consumer, false) : [];
          if (got.length === 0) continue;
          pulls.push(Promise.resolve(got));
          room -= got.length;
          this.laneCursors.set(endpoint.id, slot + 1);
        }
        room = 0;
      }
    }
    if (room > 0) pulls.push(this.pullUnorderedLanes(endpoint.id, room, false));
    const messages = (await Promise.all(pulls)).flat();
    const current = this.mirror.endpoints.get(request.endpointId);
    if (!current || current.disabled) {
      // Disabled or deleted while the pull was out: hand the messages back untouched.
      for (const m of messages) this.handBack(m.reply, endpoint.id);
      return { claimed: [], nextDue: undefined };
    }
    const held = await Promise.allSettled(messages.map((m) => this.hold(m, endpoint, nowMs)));
    const claimed: ClaimedDelivery[] = [];
    let failed = false;
    held.forEach((result, i) => {
      const message = messages[i] as PulledMessage;
      if (result.status === "rejected") {
        // Its state could not be read: hand it back for a later claim.
        failed = true;
        this.o.logger.warn({ err: result.reason, endpointId: endpoint.id }, "taking a delivery on failed; handed back");
        this.handBack(message.reply, endpoint.id);
      } else if (result.value) claimed.push(result.value);
    });
    let nextDue = claimed.length < request.limit ? this.nextParked(endpoint.id, nowMs) : undefined;
    if (failed) nextDue = Math.min(nextDue ?? Infinity, nowMs + CLAIM_RETRY_MS);
    return { claimed, nextDue };
  }

  /**
   * The unordered lanes: priority lanes one after the other, highest first, each with the room
   * the ones before left, then the default lane with the rest.
   */
  private async pullUnorderedLanes(endpointId: string, limit: number, untilKnown: boolean): Promise<PulledMessage[]> {
    const got: PulledMessage[] = [];
    for (const lane of this.priorityLanesOf(endpointId)) {
      if (got.length >= limit) return got;
      // Wait for the server's word: a slow answer taken for "empty" would let lower priorities pass.
      got.push(...((await this.puller.pull(DELIVERIES_STREAM, consumerName(endpointId, lane), limit - got.length, true)) ?? []));
    }
    if (got.length < limit) got.push(...((await this.puller.pull(DELIVERIES_STREAM, consumerName(endpointId, UNORDERED_LANE), limit - got.length, untilKnown)) ?? []));
    return got;
  }

  /** Takes a pulled message on; undefined when it turns out to be finished already (or unreadable). */
  private async hold(message: PulledMessage, endpoint: Endpoint, nowMs: number): Promise<ClaimedDelivery | undefined> {
    let meta: DeliveryMeta;
    let payload: Uint8Array;
    try {
      ({ meta, payload } = unframe<DeliveryMeta>(message.data));
    } catch (err) {
      // Not a delivery message hookline wrote: it can never be sent, so it must not come back.
      this.o.logger.error({ err, consumer: message.consumer }, "unreadable delivery message terminated");
      this.nc.publish(message.reply, "+TERM");
      this.ackedPurge.settled(message.consumer);
      return undefined;
    }
    this.parked.get(meta.endpointId)?.delete(meta.deliveryId);
    let attempts = meta.priorAttempts;
    let lastAttempt: Attempt | undefined;
    let cycle: RetryCycle = { startMs: meta.cycleStartMs, priorAttempts: meta.priorAttempts };
    if (message.deliveries > 1) {
      // Handed out before: the recorded state knows how many of those were attempts (a crash
      // or a hand-back is not one), and whether RetryDelivery started a new cycle.
      const stored = await this.getStored(stateKey(meta.tenantId, meta.endpointId, meta.deliveryId));
      const state = stored?.delivery;
      lastAttempt = stored?.lastAttempt;
      if (stored?.cycle && stored.cycle.startMs > cycle.startMs) cycle = stored.cycle;
      if (state && !OPEN_STATUSES.includes(state.status)) {
        // Its outcome was stored but the ack was lost (a node failed over): settle it, do not send it again.
        this.nc.publish(message.reply, state.status === DeliveryStatus.Succeeded ? "+ACK" : "+TERM");
        this.ackedPurge.settled(message.consumer);
        return undefined;
      }
      attempts = Math.max(meta.priorAttempts, state?.attempts ?? meta.priorAttempts + message.deliveries - 1);
    }
    const lane = parseConsumerName(message.consumer).keyed ? message.consumer : undefined;
    this.held.set(meta.deliveryId, { meta, reply: message.reply, consumer: message.consumer, lane, lastAttempt, cycle });
    // Until it is settled; at worst until the server would hand it out again.
    if (lane) this.busyLanes.set(lane, nowMs + endpoint.timeoutMs + this.o.ackWaitMs);
    return {
      deliveryId: meta.deliveryId,
      eventId: meta.eventId,
      endpointId: meta.endpointId,
      tenantId: meta.tenantId,
      createdMs: meta.createdMs,
      eventType: meta.type,
      orderingKey: meta.orderingKey,
      payload,
      attempts,
      cycleAttempts: attempts - cycle.priorAttempts,
      cycleStartMs: cycle.startMs,
    };
  }

  /** When a retry this process parked should be back; a due one may be a moment late. */
  private nextParked(endpointId: string, nowMs: number): number | undefined {
    const parked = this.parked.get(endpointId);
    if (!parked) return undefined;
    let next = Infinity;
    for (const [id, { dueMs: due }] of parked) {
      // Long overdue: another process took it.
      if (due < nowMs - 5_000) parked.delete(id);
      else next = Math.min(next, Math.max(due, nowMs + 100));
    }
    return next === Infinity ? undefined : next;
  }

  /** Gives a pulled message back for the next claim, in any process. */
  private handBack(reply: string, endpointId: string): void {
    this.handedBackMs.set(endpointId, Date.now());
    this.nc.publish(reply, "-NAK");
  }

  /**
   * Whether a message of the endpoint may be waiting on the server to be handed out again:
   * handed back lately, or parked for a retry that is due about now and not pulled again yet.
   * Retries parked by other processes are not known here.
   */
  private redeliveryMayWait(endpointId: string, nowMs: number): boolean {
    if ((this.handedBackMs.get(endpointId) ?? -Infinity) > nowMs - REDELIVERY_WINDOW_MS) return true;
    for (const { dueMs: due } of this.parked.get(endpointId)?.values() ?? []) {
      if (due <= nowMs + PURGE_CHECK_MS * 2 && due > nowMs - REDELIVERY_WINDOW_MS) return true;
    }
    return false;
  }

  /**
   * The consumer's unacknowledged messages this process accounts for: claimed or being
   * attempted, buffered for the next claim, or parked for a retry (not due yet, or
   * redeliveryMayWait says so; one long overdue was taken by another process).
   */
  private heldHere(consumer: string, nowMs: number): number {
    let n = 0;
    for (const h of this.held.values()) if (h.consumer === consumer) n++;
    const { endpointId } = parseConsumerName(consumer);
    for (const r of this.ready.get(endpointId) ?? []) if (r.message.consumer === consumer) n++;
    for (const p of this.parked.get(endpointId)?.values() ?? []) if (p.consumer === consumer && p.dueMs > nowMs - REDELIVERY_WINDOW_MS) n++;
    return n;
  }

  private parkedOf(endpointId: string): Map<string, { dueMs: number; consumer: string }> {
    let parked = this.parked.get(endpointId);
    if (!parked) this.parked.set(endpointId, (parked = new Map()));
    return parked;
  }

  /** The delivery message and its PENDING state; resolves with the acks to await. */
  private queueDelivery(meta: EventMeta, payload: Uint8Array, endpointId: string, ordinal: number, nowMs: number): Promise<unknown>[] {
    return [this.putState({ delivery: pendingState(meta, endpointId, ordinal, nowMs), lastAttempt: undefined }), this.publishDelivery(meta, payload, endpointId, ordinal)];
  }

  /** A new delivery's message; a repeat inside the duplicate window is dropped by the stream. */
  private publishDelivery(meta: EventMeta, payload: Uint8Array, endpointId: string, ordinal: number): Promise<PubAck> {
    const deliveryMeta = newDeliveryMeta(meta, endpointId, ordinal);
    return this.sendDelivery(deliveryMeta, payload, deliveryMeta.deliveryId);
  }

  /**
   * A delivery message on its endpoint's lane subject, under the given message id. A priority
   * lane is marked in use first, so that every process pulls it from then on.
   */
  private async sendDelivery(meta: DeliveryMeta, payload: Uint8Array, messageId: string): Promise<PubAck> {
    const lane = this.laneFor(meta);
    if (lanePriority(lane) > 0) await this.markLaneInUse(meta.endpointId, lane);
    return this.js.publish(deliverySubject(meta.endpointId, lane), frame(meta, payload), publishOptions({ subject: "", data: payload, messageId }));
  }

  private laneFor(meta: DeliveryMeta): string {
    return laneOf(this.mirror.endpoints.get(meta.endpointId)?.ordering === "ordered_by_key", meta.orderingKey, meta.priority ?? 0);
  }

  private markLaneInUse(endpointId: string, lane: string): Promise<void> {
    if (this.mirror.priorityLanes.get(endpointId)?.has(lane)) return Promise.resolve();
    const key = `${endpointId}.${lane}`;
    let marking = this.laneMarks.get(key);
    if (!marking) {
      marking = (async () => {
        await this.mirror.putPriorityLane(endpointId, lane);
        // The consumer now, not at the first claim: the endpoint's backlog counts the lane at once.
        const endpoint = this.mirror.endpoints.get(endpointId);
        if (endpoint) await this.ensureConsumers(endpoint);
      })().finally(() => this.laneMarks.delete(key));
      this.laneMarks.set(key, marking);
    }
    return marking;
  }

  /** The endpoint's priority lanes in use, highest first. */
  private priorityLanesOf(endpointId: string): string[] {
    const inUse = this.mirror.priorityLanes.get(endpointId);
    return inUse && inUse.size > 0 ? PRIORITY_LANES.filter((lane) => inUse.has(lane)) : [];
  }

  /**
   * Queues the deliveries of an already stored event that the first publish may not have:
   * those with no state, and those never started, since a state write can succeed while
   * its message's publish fails. The message is sent again only; the state is left alone,
   * as a worker may be finishing the delivery right now.
   */
  private async queueMissing(meta: EventMeta, payload: Uint8Array, woken: Set<string>): Promise<void> {
    await Promise.all(
      meta.endpoints.map(async (endpointId, ordinal) => {
        const state = await this.getState(stateKey(meta.tenantId, endpointId, deliveryIdOf(meta.id, ordinal)));
        if (!state) await confirm(this.queueDelivery(meta, payload, endpointId, ordinal, Date.now()));
        else if (state.status === DeliveryStatus.Pending && state.attempts === 0) await confirm([this.publishDelivery(meta, payload, endpointId, ordinal)]);
        else return;
        woken.add(endpointId);
      }),
    );
  }

  /**
   * Makes an open delivery due now with a fresh retry cycle. One waiting out its backoff is
   * called back: the new cycle goes with its state, then its parked message is nak'd again,
   * without delay. One that is due (queued, or its backoff nearly over) is left as it is: its
   * message may be in flight in another process, where a nak would have it sent twice.
   */
  private async callBack(seen: Delivery, nowMs: number): Promise<Delivery> {
    const key = stateKey(seen.tenantId, seen.endpointId, seen.id);
    for (let round = 0; round < CALL_BACK_ROUNDS; round++) {
      if (round > 0) await new Promise((resolve) => setTimeout(resolve, 10 * round));
      const entry = await this.stateKv.get(key);
      if (!entry || entry.operation !== "PUT") return seen;
      const stored = decodeDelivery(entry.value);
      const { delivery, parkedAs } = stored;
      if (delivery.status !== DeliveryStatus.Retrying || !parkedAs || delivery.nextAttemptMs <= nowMs + CALL_BACK_MARGIN_MS) return delivery;
      const state: Delivery = { ...delivery, nextAttemptMs: nowMs, updatedMs: nowMs };
      const cycle: RetryCycle = { startMs: nowMs, priorAttempts: delivery.attempts };
      try {
        // Only over the state that named this ack subject: an attempt stored meanwhile wins.
        await this.stateKv.update(key, encodeDelivery({ delivery: state, lastAttempt: stored.lastAttempt, cycle }), entry.revision);
      } catch (err) {
        if (isWrongRevision(err)) continue;
        throw new HooklineError("unavailable", `JetStream did not confirm a write (${(err as Error).message}); retry`);
      }
      this.handedBackMs.set(delivery.endpointId, Date.now());
      await this.nc.request(parkedAs, "-NAK", { timeout: LANE_ACK_TIMEOUT_MS }).catch(() => undefined);
      this.parked.get(delivery.endpointId)?.delete(delivery.id);
      // Parked here on an ordered lane: that lane may be pulled again now.
      const event = await this.eventById(delivery.eventId);
      const ordered = this.mirror.endpoints.get(delivery.endpointId)?.ordering === "ordered_by_key";
      if (event) this.busyLanes.delete(consumerName(delivery.endpointId, laneOf(ordered, event.meta.orderingKey)));
      return state;
    }
    throw new HooklineError("aborted", `delivery ${seen.id} kept changing while it was being retried; retry`);
  }

  /** Queues a finished delivery again with a fresh retry cycle; undefined when its event is gone. */
  private async requeue(stored: StoredDelivery, nowMs: number): Promise<Delivery | undefined> {
    return (await this.requeueAll([stored], nowMs))[0];
  }

  /**
   * Queues finished deliveries again with a fresh retry cycle, in atomic batches (a replay of
   * thousands is a few synced writes, not thousands). Those whose event or endpoint is gone
   * are left out of the result.
   */
  private async requeueAll(items: readonly StoredDelivery[], nowMs: number): Promise<Delivery[]> {
    const prepared: { meta: DeliveryMeta; payload: Uint8Array; state: Delivery; lastAttempt: Attempt | undefined }[] = [];
    await inBatches(items, async ({ delivery, lastAttempt }) => {
      const event = await this.eventById(delivery.eventId);
      if (!event || !this.mirror.endpoints.has(delivery.endpointId)) return;
      const meta: DeliveryMeta = {
        deliveryId: delivery.id,
        eventId: delivery.eventId,
        tenantId: delivery.tenantId,
        endpointId: delivery.endpointId,
        type: delivery.eventType,
        orderingKey: event.meta.orderingKey,
        createdMs: delivery.createdMs,
        priorAttempts: delivery.attempts,
        cycleStartMs: nowMs,
        priority: event.meta.priority ?? 0,
      };
      const state: Delivery = {
        ...delivery,
        status: delivery.attempts === 0 ? DeliveryStatus.Pending : DeliveryStatus.Retrying,
        nextAttemptMs: nowMs,
        updatedMs: nowMs,
      };
      prepared.push({ meta, payload: event.payload, state, lastAttempt });
    });
    // The next attempt's record will not know the last one: move it to the stream first.
    await confirmAll(this.writeAll(prepared.flatMap(({ lastAttempt }) => (lastAttempt ? [attemptMessage(lastAttempt)] : []))));
    // A fresh message id: the first cycle's is still in the stream's duplicate window.
    await confirmAll(this.writeQueued(prepared.map(({ meta, payload, state }) => ({ meta, payload, messageId: `${meta.deliveryId}.${nowMs}`, state }))));
    return prepared.map(({ state }) => state);
  }

  private putState(stored: StoredDelivery): Promise<PubAck> {
    return this.publishOne(this.stateMessage(stored));
  }

  private stateMessage(stored: StoredDelivery): OutMessage {
    const { delivery } = stored;
    return { subject: stateSubject(stateKey(delivery.tenantId, delivery.endpointId, delivery.id)), data: encodeDelivery(stored) };
  }

  private async getStored(key: string): Promise<StoredDelivery | undefined> {
    const entry = await this.stateKv.get(key);
    return entry && entry.operation === "PUT" ? decodeDelivery(entry.value) : undefined;
  }

  private async getState(key: string): Promise<Delivery | undefined> {
    return (await this.getStored(key))?.delivery;
  }

  /** Every delivery state whose key matches the filter (tenant.endpoint.delivery, * wildcards). */
  private async scanStates(filter: string): Promise<StoredDelivery[]> {
    const info = await this.jsm.streams.info(STATE_STREAM, { subjects_filter: stateSubject(filter) });
    const keys = Object.keys(info.state.subjects ?? {}).length;
    if (keys === 0) return [];
    const found = new Map<string, StoredDelivery>();
    const watch = await this.stateKv.watch({ key: filter, ignoreDeletes: true });
    // Each key's last value comes once, then updates: stop when caught up or every key was seen.
    const guard = setTimeout(() => watch.stop(), SCAN_TIMEOUT_MS);
    try {
      for await (const entry of watch) {
        if (entry.operation === "PUT") found.set(entry.key, decodeDelivery(entry.value));
        if ((entry.delta ?? 0) === 0 || found.size >= keys) break;
      }
    } finally {
      clearTimeout(guard);
      watch.stop();
    }
    return [...found.values()];
  }

  private eventById(id: string): Promise<{ meta: EventMeta; payload: Uint8Array } | undefined> {
    return this.readEvent({ last_by_subj: eventSubject(id) });
  }

  /** A stored event by its subject (event id) or by stream sequence (a duplicate's original). */
  private async readEvent(query: MsgRequest): Promise<{ meta: EventMeta; payload: Uint8Array } | undefined> {
    const msg = await this.jsm.streams.getMessage(EVENTS_STREAM, query).catch(() => null);
    return msg ? unframe<EventMeta>(msg.data) : undefined;
  }

  /** Tells every process (this one too) that these endpoints have new work. */
  private wake(endpointIds: readonly string[]): void {
    if (endpointIds.length > 0) this.nc.publish(WAKE_SUBJECT, encodeJson(endpointIds));
  }

  /** Creates or updates the endpoint's consumers when their settings changed. */
  private async ensureConsumers(endpoint: Endpoint): Promise<void> {
    const ackWait = this.o.ackWaitMs * NS_PER_MS;
    for (const lane of [...lanes(endpoint.ordering === "ordered_by_key"), ...this.priorityLanesOf(endpoint.id)]) {
      const name = consumerName(endpoint.id, lane);
      const maxAckPending = parseConsumerName(name).keyed ? 1 : endpoint.maxInFlight + PARKED_RETRIES;
      const fingerprint = `${ackWait}/${maxAckPending}`;
      if (this.ensured.get(name) === fingerprint) continue;
      const config = {
        durable_name: name,
        filter_subject: deliverySubject(endpoint.id, lane),
        ack_policy: AckPolicy.Explicit,
        deliver_policy: DeliverPolicy.All,
        ack_wait: ackWait,
        max_ack_pending: maxAckPending,
        max_deliver: -1,
      };
      const existing = await this.jsm.consumers.info(DELIVERIES_STREAM, name).catch(() => undefined);
      if (!existing) await this.jsm.consumers.add(DELIVERIES_STREAM, config).catch(async () => this.jsm.consumers.update(DELIVERIES_STREAM, name, config));
      else if (existing.config.ack_wait !== ackWait || existing.config.max_ack_pending !== maxAckPending) {
        await this.jsm.consumers.update(DELIVERIES_STREAM, name, { ack_wait: ackWait, max_ack_pending: maxAckPending });
      }
      this.ensured.set(name, fingerprint);
    }
  }

  private countWake(endpointId: string): void {
    this.wakeCounts.set(endpointId, (this.wakeCounts.get(endpointId) ?? 0) + 1);
  }

  /** A message that arrived after its claim was answered waits for the endpoint's next one. */
  private keepForNextClaim(message: PulledMessage): void {
    const { endpointId } = parseConsumerName(message.consumer);
    const endpoint = this.mirror.endpoints.get(endpointId);
    if (!endpoint || endpoint.disabled) {
      this.handBack(message.reply, endpointId);
      return;
    }
    const ready = this.ready.get(endpointId) ?? [];
    ready.push({ message, arrivedMs: Date.now() });
    this.ready.set(endpointId, ready);
    this.notifyDue([endpointId]);
  }

  /**
   * Gives pulled messages back that waited too long to be claimed (the endpoint's breaker
   * opened, say), well before the server would hand them out again anyway.
   */
  private handBackStale(nowMs: number): void {
    for (const [endpointId, ready] of this.ready) {
      const fresh: typeof ready = [];
      for (const r of ready) {
        if (r.arrivedMs > nowMs - READY_MAX_AGE_MS) fresh.push(r);
        else this.handBack(r.message.reply, endpointId);
      }
      if (fresh.length > 0) this.ready.set(endpointId, fresh);
      else this.ready.delete(endpointId);
    }
  }

  /** Renews ack_wait of every message this process holds or has buffered for a claim. */
  private sendProgress(): void {
    for (const held of this.held.values()) this.nc.publish(held.reply, "+WPI");
    for (const ready of this.ready.values()) for (const { message } of ready) this.nc.publish(message.reply, "+WPI");
  }

  /** A wake-up or poll: new work may be anywhere on these endpoints. */
  private emitDue(endpointIds: readonly string[]): void {
    for (const id of endpointIds) this.countWake(id);
    this.notifyDue(endpointIds);
  }

  private notifyDue(endpointIds: readonly string[]): void {
    for (const l of this.dueListeners) l(endpointIds);
  }
}

const CONNECT_TIMEOUT_MS = 10_000;
/** For creating streams and buckets at start-up (a replicated one waits for a leader). */
const SETUP_TIMEOUT_MS = 30_000;
/** Each try at the JetStream API while a cluster may still be electing its meta leader. */
const API_PROBE_TIMEOUT_MS = 5_000;

async function connectTo(o: JetStreamStoreOptions): Promise<NatsConnection> {
  const tls =
    o.tls.caFile || o.tls.certFile || o.tls.keyFile
      ? { ...(o.tls.caFile && { caFile: o.tls.caFile }), ...(o.tls.certFile && { certFile: o.tls.certFile }), ...(o.tls.keyFile && { keyFile: o.tls.keyFile }) }
      : undefined;
  let nc: NatsConnection;
  try {
    nc = await connect({
      servers: o.servers.split(",").map((s) => s.trim()),
      name: "hookline",
      // A server that wants a client certificate and gets none stalls the handshake: give up
      // well before a supervisor's start timeout, with the hint below.
      timeout: CONNECT_TIMEOUT_MS,
      // Every request would otherwise capture a stack trace up front, a cost per delivery.
      noAsyncTraces: true,
      maxReconnectAttempts: -1,
      reconnectTimeWait: 250,
      ...(o.credsFile && { authenticator: credsAuthenticator(readFileSync(o.credsFile)) }),
      ...(tls && { tls }),
    });
  } catch (err) {
    const reason = (err as Error).message;
    const secured = tls !== undefined || o.credsFile !== "" || o.servers.includes("tls://") || /authori[sz]ation|auth/i.test(reason);
    throw new Error(
      `cannot connect to NATS at ${o.servers}: ${reason}; check --nats and that nats-server runs with JetStream (-js)` +
        (secured ? ", and that --nats-tls-ca/--nats-tls-cert/--nats-tls-key and --nats-creds match what the server requires" : ""),
    );
  }
  const refused = unsupportedServer(nc.info?.version);
  if (refused) {
    await nc.close();
    throw new Error(`${refused} (connected to ${nc.info?.server_name ?? o.servers})`);
  }
  return nc;
}

/** Creates the stream, or brings an existing one's duplicate window in line with the settings. */
async function ensureStream(jsm: JetStreamManager, logger: Logger, config: Partial<StreamConfig> & { name: string }): Promise<void> {
  const existing = await jsm.streams.info(config.name).catch(() => undefined);
  if (!existing) {
    await jsm.streams.add({ storage: StorageType.File, ...config });
    return;
  }
  if (config.duplicate_window !== undefined && existing.config.duplicate_window !== config.duplicate_window) {
    await jsm.streams.update(config.name, { ...existing.config, duplicate_window: config.duplicate_window });
    logger.info({ stream: config.name }, "stream duplicate window updated");
  }
  if (config.allow_atomic && !existing.config.allow_atomic) await allowAtomic(jsm, config.name);
  if (config.retention !== undefined && existing.config.retention !== config.retention) {
    // Retention cannot be changed in place. Both work; a work queue deletes each settled message on its own.
    logger.warn(
      { stream: config.name, retention: existing.config.retention, wanted: config.retention },
      "stream exists with another retention (made by an older hookline): settling deliveries is several times slower; to switch, let it drain, stop every hookline process, delete the stream (`nats stream rm`) and start again",
    );
  }
  if (config.num_replicas !== undefined && existing.config.num_replicas !== config.num_replicas) {
    logger.warn(
      { stream: config.name, replicas: existing.config.num_replicas, wanted: config.num_replicas },
      "stream exists with other replicas; change them with `nats stream edit`",
    );
  }
}

/** Lets a stream take atomic batch publishes (nats-server 2.12+); a no-op when it already does. */
async function allowAtomic(jsm: JetStreamManager, stream: string): Promise<void> {
  const { config } = await jsm.streams.info(stream);
  // The library's update type predates the field; the server takes it with the rest of the config.
  if (!config.allow_atomic) await jsm.streams.update(stream, { ...config, allow_atomic: true } as Partial<StreamConfig>);
}

/** An attempt for the attempts stream; its id as message id makes a repeat harmless. */
function attemptMessage(attempt: Attempt): OutMessage {
  return { subject: attemptSubject(attempt.deliveryId), data: encodeAttempt(attempt), messageId: attempt.id };
}

/** A new delivery's state: queued, due now, no attempt yet. */
function pendingState(meta: EventMeta, endpointId: string, ordinal: number, nowMs: number): Delivery {
  return {
    id: deliveryIdOf(meta.id, ordinal),
    eventId: meta.id,
    endpointId,
    tenantId: meta.tenantId,
    eventType: meta.type,
    status: DeliveryStatus.Pending,
    attempts: 0,
    nextAttemptMs: nowMs,
    lastStatusCode: 0,
    lastError: "",
    createdMs: meta.createdMs,
    updatedMs: nowMs,
  };
}

/** What a new delivery's queue message carries besides the payload. */
function newDeliveryMeta(meta: EventMeta, endpointId: string, ordinal: number): DeliveryMeta {
  return {
    deliveryId: deliveryIdOf(meta.id, ordinal),
    eventId: meta.id,
    tenantId: meta.tenantId,
    endpointId,
    type: meta.type,
    orderingKey: meta.orderingKey,
    createdMs: meta.createdMs,
    priorAttempts: 0,
    cycleStartMs: meta.createdMs,
    priority: meta.priority ?? 0,
  };
}

/** Awaits a group of JetStream writes; a failure becomes UNAVAILABLE that tells the caller what to do. */
async function confirmAll(writes: Promise<unknown>): Promise<void> {
  await confirm([writes]);
}

/** Awaits JetStream acks; a failure becomes UNAVAILABLE that tells the caller what to do. */
async function confirm<T>(acks: Promise<T>[]): Promise<T[]> {
  try {
    return await Promise.all(acks);
  } catch (err) {
    if (err instanceof HooklineError) throw err;
    throw new HooklineError(
      "unavailable",
      `JetStream did not confirm a write (${(err as Error).message}); retry: publishes with idempotency keys are not duplicated`,
    );
  }
}

function pageById<T extends { id: string }>(items: T[], afterId: string | undefined, limit: number): T[] {
  return items
    .filter((t) => afterId === undefined || t.id > afterId)
    .sort((a, b) => (a.id < b.id ? -1 : 1))
    .slice(0, limit);
}

async function inBatches<T>(items: readonly T[], run: (item: T) => Promise<unknown>): Promise<void> {
  for (let i = 0; i < items.length; i += BULK_CONCURRENCY) await Promise.all(items.slice(i, i + BULK_CONCURRENCY).map(run));
}
