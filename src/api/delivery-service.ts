import type { HandlerContext, ServiceImpl } from "@connectrpc/connect";
import { failedPrecondition, invalidArgument, notFound } from "../core/errors.ts";
import { DeliveryStatus as Status, type Delivery } from "../core/types.ts";
import { requireNonEmpty } from "../core/validation.ts";
import { DeliveryService, DeliveryStatus, type WatchDeliveriesRequest } from "../gen/hookline/v1/delivery_pb.ts";
import type { DeliveryFeed } from "../dispatch/delivery-feed.ts";
import { attemptToProto, deliveryToProto, timestampToMs } from "./convert.ts";
import type { ServiceDeps } from "./deps.ts";
import { paginate } from "./paging.ts";

/** What delivery steering needs from the dispatcher. */
export interface DispatchControl {
  /** Re-reads the queue of an endpoint after its deliveries were rescheduled. */
  wake(endpointId: string): Promise<void>;
}

function checkStatuses(field: string, statuses: readonly DeliveryStatus[]): Status[] {
  return statuses.map((s, i) => {
    if (s === DeliveryStatus.UNSPECIFIED || DeliveryStatus[s] === undefined)
      throw invalidArgument(`${field}[${i}]`, `${String(s)} is not a delivery status`);
    return s as number as Status;
  });
}

/**
 * Who a WatchDeliveries stream counts against (--max-watchers-per-key). Until callers are
 * identified, the tenant filter stands in for them; unfiltered streams share "anonymous".
 */
export type WatcherKeyOf = (req: WatchDeliveriesRequest, ctx: HandlerContext) => string;

const byTenantFilter: WatcherKeyOf = (req) => (req.tenantId === "" ? "anonymous" : `tenant ${req.tenantId}`);

export function deliveryService(
  deps: ServiceDeps & { dispatch: DispatchControl; feed: DeliveryFeed; watcherKey?: WatcherKeyOf },
): ServiceImpl<typeof DeliveryService> {
  const { store, catalog, dispatch, feed, now } = deps;
  const watcherKey = deps.watcherKey ?? byTenantFilter;
  // Every watcher of a change gets the same Delivery object: convert it once for all of them.
  const converted = new WeakMap<Delivery, ReturnType<typeof deliveryToProto>>();
  const toProto = (d: Delivery): ReturnType<typeof deliveryToProto> => {
    let proto = converted.get(d);
    if (!proto) converted.set(d, (proto = deliveryToProto(d)));
    return proto;
  };

  async function existing(field: string, id: string) {
    requireNonEmpty(field, id);
    const delivery = await store.getDelivery(id);
    if (!delivery) throw notFound("delivery", id);
    return delivery;
  }

  return {
    async getDelivery(req) {
      return { delivery: deliveryToProto(await existing("id", req.id)) };
    },

    async listDeliveries(req) {
      const filter = {
        tenantId: req.tenantId,
        endpointId: req.endpointId,
        eventId: req.eventId,
        statuses: checkStatuses("statuses", req.statuses),
      };
      const page = await paginate("deliveries", req, (after, limit) => store.listDeliveries(filter, after, limit), deliveryToProto);
      return { deliveries: page.items, nextPageToken: page.nextPageToken };
    },

    async listAttempts(req) {
      await existing("delivery_id", req.deliveryId);
      const page = await paginate("attempts", req, (after, limit) => store.listAttempts(req.deliveryId, after, limit), attemptToProto);
      return { attempts: page.items, nextPageToken: page.nextPageToken };
    },

    async retryDelivery(req) {
      const delivery = await existing("id", req.id);
      if (delivery.status === Status.Cancelled) throw failedPrecondition(`delivery ${req.id} is cancelled: its endpoint was deleted`);
      const updated = await store.retryDelivery(req.id, now());
      if (!updated) throw notFound("delivery", req.id);
      await dispatch.wake(updated.endpointId);
      feed.publish(updated);
      return { delivery: deliveryToProto(updated) };
    },

    async replayDeliveries(req) {
      requireNonEmpty("endpoint_id", req.endpointId);
      if (!catalog.endpoint(req.endpointId)) throw notFound("endpoint", req.endpointId);
      const statuses = req.statuses.length === 0 ? [Status.Dead] : checkStatuses("statuses", req.statuses);
      const nowMs = now();
      const fromMs = timestampToMs(req.startTime) ?? 0;
      const toMs = timestampToMs(req.endTime) ?? nowMs + 1;
      if (toMs <= fromMs) throw invalidArgument("end_time", "must be after start_time");
      const replayed = await store.replayDeliveries(req.endpointId, statuses, fromMs, toMs, nowMs);
      if (replayed > 0) await dispatch.wake(req.endpointId);
      return { replayedCount: BigInt(replayed) };
    },

    async *watchDeliveries(req, ctx) {
      if (req.tenantId !== "" && !catalog.tenant(req.tenantId)) throw notFound("tenant", req.tenantId);
      if (req.endpointId !== "" && !catalog.endpoint(req.endpointId)) throw notFound("endpoint", req.endpointId);
      const filter = { tenantId: req.tenantId, endpointId: req.endpointId, eventId: req.eventId };
      for await (const delivery of feed.watch(filter, ctx.signal, watcherKey(req, ctx))) yield { delivery: toProto(delivery) };
    },
  };
}
