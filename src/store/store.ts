import type {
  Attempt,
  Delivery,
  DeliveryStatus,
  Endpoint,
  EventInput,
  PublishResult,
  StoredEvent,
  Tenant,
} from "../core/types.ts";
import type { ApiKeyStore } from "./api-key-store.ts";
import type { EventTypeStore } from "./event-type-store.ts";
import type { HistoryStore } from "./history-store.ts";

/** Filters of ListDeliveries; empty strings mean "any". */
export interface DeliveryFilter {
  tenantId: string;
  endpointId: string;
  eventId: string;
  statuses: readonly DeliveryStatus[];
  /** Created at or after. */
  startMs?: number | undefined;
  /** Created before. */
  endMs?: number | undefined;
}

/** Endpoint ids that receive an event of this tenant and type (from the caller's endpoint cache). */
export type FanOut = (tenantId: string, type: string) => readonly string[];

export interface ClaimRequest {
  endpointId: string;
  limit: number;
  ordered: boolean;
}

export interface ClaimResult {
  claimed: ClaimedDelivery[];
  /** Set when fewer than `limit` were claimed: the next due time, or undefined when none is open. */
  nextDue: number | undefined;
}

/** A delivery taken from the queue for one attempt, with what the worker needs to send it. */
export interface ClaimedDelivery {
  deliveryId: string;
  eventId: string;
  endpointId: string;
  tenantId: string;
  createdMs: number;
  eventType: string;
  orderingKey: string;
  payload: Uint8Array;
  /** Attempts made before this one, in all and in the current retry cycle. */
  attempts: number;
  cycleAttempts: number;
  /** Start of the current retry cycle (creation, or the last replay): max_age counts from here. */
  cycleStartMs: number;
}

/** Endpoint changes decided by the dispatcher, written with the attempts that caused them. */
export interface EndpointUpdates {
  /** Endpoints to disable, with the reason shown to users. */
  disable: ReadonlyMap<string, string>;
  /** Start of each endpoint's current failing streak (0 = healthy). */
  failingSince: ReadonlyMap<string, number>;
}

/** Open deliveries of one endpoint by state. */
export interface Backlog {
  pending: number;
  retrying: number;
  inFlight: number;
}

/** Open deliveries of every endpoint, and when the oldest of them was created (or queued). */
export interface BacklogSummary extends Backlog {
  /** undefined when nothing is open. */
  oldestOpenMs: number | undefined;
}

/** The recorded result of one attempt and the state it moves its delivery to. */
export interface AttemptRecord {
  attempt: Attempt;
  status: DeliveryStatus;
  /** Due time of the next attempt (RETRYING), else 0. */
  nextAttemptMs: number;
}

/** A tenant or endpoint changed by another process sharing the store. */
export type CatalogChange =
  | { kind: "tenant"; tenant: Tenant }
  | { kind: "tenant-deleted"; id: string }
  | { kind: "endpoint"; endpoint: Endpoint }
  | { kind: "endpoint-deleted"; id: string };

/** Tenants and endpoints: the configuration every process routes and sends by. */
export interface CatalogStore {
  createTenant(tenant: Tenant): Promise<void>;
  getTenant(id: string): Promise<Tenant | undefined>;
  listTenants(afterId: string | undefined, limit: number): Promise<Tenant[]>;
  /**
   * Read-modify-write: applies `change` to the tenant as stored at the moment of writing, so a
   * concurrent change to other fields is kept. Undefined when the tenant does not exist.
   */
  updateTenant(id: string, change: (current: Tenant) => Tenant): Promise<Tenant | undefined>;
  /** Deletes the tenant and its endpoints; open deliveries become CANCELLED. */
  deleteTenant(id: string, nowMs: number): Promise<boolean>;

  createEndpoint(endpoint: Endpoint): Promise<void>;
  getEndpoint(id: string): Promise<Endpoint | undefined>;
  listEndpoints(tenantId: string, afterId: string | undefined, limit: number): Promise<Endpoint[]>;
  allEndpoints(): Promise<Endpoint[]>;
  /** Read-modify-write, as updateTenant. */
  updateEndpoint(id: string, change: (current: Endpoint) => Endpoint): Promise<Endpoint | undefined>;
  deleteEndpoint(id: string, nowMs: number): Promise<boolean>;

  /** Shared stores only: tenants and endpoints changed by other processes. */
  watchCatalog?(listener: (change: CatalogChange) => void): void;
}

/**
 * Lets a fresh delivery skip the queue when its endpoint can start it at once: the store
 * inserts it already leased and hands it over as a claim would, and the dispatcher sends it
 * once the commit is durable. A store without the lane queues every delivery.
 */
export interface FastLane {
  /** Reserves a start now for a new delivery of this endpoint; false leaves it to the queue. */
  admit(endpointId: string): boolean;
  /** A delivery admitted above, inserted leased. */
  admitted(delivery: ClaimedDelivery): void;
}

/** Published events, stored with their fan-out deliveries, and the idempotency window over them. */
export interface EventLog {
  /**
   * True when publish() has written (and the next publish sees) everything before it first
   * waits, for its sync: publishes may then overlap, and still commit in call order.
   */
  readonly publishWritesFirst: boolean;

  /**
   * Stores batches of events with their fan-out deliveries in one durable commit.
   * Each batch is all-or-nothing on validation done before; results follow input order.
   */
  publish(
    batches: readonly (readonly EventInput[])[],
    fanOut: FanOut,
    nowMs: number,
    idempotencyWindowMs: number,
    lane?: FastLane,
  ): Promise<PublishResult[][]>;
  getEvent(id: string): Promise<StoredEvent | undefined>;
  /** Forgets idempotency keys older than the window. */
  expireIdempotencyKeys(olderThanMs: number): Promise<number>;
}

/** The work queue of open deliveries: what the dispatcher claims, attempts and settles. */
export interface DeliveryQueue {
  /** Earliest due time of open, unleased deliveries per endpoint. */
  dueByEndpoint(): Promise<Map<string, number>>;
  /** Earliest due time of one endpoint's open, unleased deliveries, or undefined. */
  nextDue(endpointId: string): Promise<number | undefined>;
  /**
   * Leases due deliveries for several endpoints in one commit: per request up to `limit`,
   * oldest due first. With `ordered`, only the head of each ordering key is eligible, and
   * only when no delivery of that key is in flight; deliveries without a key are not ordered.
   * When fewer than `limit` were due, `nextDue` tells when the endpoint's next one is.
   */
  claim(requests: readonly ClaimRequest[], nowMs: number): Promise<ClaimResult[]>;
  /** Records attempts, new states and endpoint changes in one commit and releases the leases. */
  complete(records: readonly AttemptRecord[], endpoints: EndpointUpdates, nowMs: number): Promise<void>;
  /** Open deliveries of an endpoint. */
  backlog(endpointId: string): Promise<Backlog>;
  /** Open deliveries of all endpoints, for metrics: cost bounded by the open backlog, never by history. */
  backlogSummary(): Promise<BacklogSummary>;
  /** Start of the current failing streak per endpoint, as last recorded. */
  failingSince(): Promise<Map<string, number>>;
  /** Returns leased deliveries to the queue (start-up after a crash, shutdown). */
  releaseLeases(): Promise<number>;
  /** Makes a delivery due now with a fresh retry cycle; FAILED_PRECONDITION while it is in flight. */
  retryDelivery(id: string, nowMs: number): Promise<Delivery | undefined>;
  /** Bulk form of retryDelivery for one endpoint, by status and creation window [fromMs, toMs). */
  replayDeliveries(endpointId: string, statuses: readonly DeliveryStatus[], fromMs: number, toMs: number, nowMs: number): Promise<number>;

  /** Shared stores only: endpoints that may have new work (published or requeued elsewhere). */
  onDue?(listener: (endpointIds: readonly string[]) => void): void;
}

/** Deliveries and their attempts as users look them up, finished ones included. */
export interface DeliveryHistory {
  getDelivery(id: string): Promise<Delivery | undefined>;
  /** Newest first; afterId is the last id of the previous page. */
  listDeliveries(filter: DeliveryFilter, afterId: string | undefined, limit: number): Promise<Delivery[]>;
  listAttempts(deliveryId: string, afterId: string | undefined, limit: number): Promise<Attempt[]>;
}

/** Durable storage of tenants, endpoints, events and deliveries, plus the delivery queue. */
export interface Store extends CatalogStore, EventLog, DeliveryQueue, DeliveryHistory {
  close(): Promise<void>;

  readonly apiKeys: ApiKeyStore;
  readonly eventTypes: EventTypeStore;
  readonly history: HistoryStore;

  /** A small real write, to learn whether writing works again (after a full disk). */
  probeWrite?(): Promise<void>;
}
