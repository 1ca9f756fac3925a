import type { HandlerContext, ServiceImpl } from "@connectrpc/connect";
import { principalOf, requireVisible, scopedTenant } from "../auth/principal.ts";
import { failedPrecondition, invalidArgument, notFound } from "../core/errors.ts";
import { DeliveryStatus as Status, type Delivery } from "../core/types.ts";
import { requireNonEmpty } from "../core/validation.ts";
import { DeliveryService, DeliveryStatus } from "../gen/hookline/v1/delivery_pb.ts";
import type { DeliveryFeed } from "../dispatch/delivery-feed.ts";
import { attemptToProto, creationWindow, deliveryToProto, timestampToMs } from "./convert.ts";
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

export function deliveryService(
  deps: ServiceDeps & { dispatch: DispatchControl; feed: DeliveryFeed },
): ServiceImpl<typeof DeliveryService> {
  const { store, catalog, dispatch, feed, now } = deps;
  // Every watcher of a change gets the same Delivery object: convert it once for all of them.
  const converted = new WeakMap<Delivery, ReturnType<typeof deliveryToProto>>();
  const toProto = (d: Delivery): ReturnType<typeof deliveryToProto> => {
    let proto = converted.get(d);
    if (!proto) converted.set(d, (proto = deliveryToProto(d)));
    return proto;
  };

  /** The delivery named by the request, if the caller may see it. */
  async function existing(ctx: HandlerContext, field: string, id: string) {
    requireNonEmpty(field, id);
    const delivery = await store.getDelivery(id);
    if (!delivery) throw notFound("delivery", id);
    requireVisible(principalOf(ctx), "delivery", id, delivery.tenantId);
    return delivery;
  }

  /** An endpoint named as a filter or target, if the caller may see it. */
  function visibleEndpoint(ctx: HandlerContext, id: string) {
    const endpoint = catalog.endpoint(id);
    if (!endpoint) throw notFound("endpoint", id);
    requireVisible(principalOf(ctx), "endpoint", id, endpoint.tenantId);
    return endpoint;
  }

  return {
    async getDelivery(req, ctx) {
      return { delivery: deliveryToProto(await existing(ctx, "id", req.id)) };
    },

    async listDeliveries(req, ctx) {
      const filter = {
        tenantId: scopedTenant(principalOf(ctx), "tenant_id", req.tenantId),
        endpointId: req.endpointId,
        eventId: req.eventId,
        statuses: checkStatuses("statuses", req.statuses),
        ...creationWindow(req),
      };
      const page = await paginate("deliveries", req, (after, limit) => store.listDeliveries(filter, after, limit), deliveryToProto);
      return { deliveries: page.items, nextPageToken: page.nextPageToken };
    },

    async listAttempts(req, ctx) {
      await existing(ctx, "delivery_id", req.deliveryId);
      const page = await paginate("attempts", req, (after, limit) => store.listAttempts(req.deliveryId, after, limit), attemptToProto);
      return { attempts: page.items, nextPageToken: page.nextPageToken };
    },

    async retryDelivery(req, ctx) {
      const delivery = await existing(ctx, "id", req.id);
      if (delivery.status === Status.Cancelled) throw failedPrecondition(`delivery ${req.id} is cancelled: its endpoint was deleted`);
      const updated = await store.retryDelivery(req.id, now());
      if (!updated) throw notFound("delivery", req.id);
      await dispatch.wake(updated.endpointId);
      feed.publish(updated);
      return { delivery: deliveryToProto(updated) };
    },

    async replayDeliveries(req, ctx) {
      requireNonEmpty("endpoint_id", req.endpointId);
      visibleEndpoint(ctx, req.endpointId);
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
      const tenantId = scopedTenant(principalOf(ctx), "tenant_id", req.tenantId);
      if (tenantId !== "" && !catalog.tenant(tenantId)) throw notFound("tenant", tenantId);
      if (req.endpointId !== "") visibleEndpoint(ctx, req.endpointId);
      const filter = { tenantId, endpointId: req.endpointId, eventId: req.eventId };
      // Watchers count against the caller's API key (--max-watchers-per-key); refused before the marker.
      const key = principalOf(ctx).keyId;
      feed.admit(key);
      const changes = feed.watch(filter, ctx.signal, key)[Symbol.asyncIterator]();
      // The first next() registers the watcher synchronously: once the marker is out, no change is missed.
      let next = changes.next();
      yield {};
      for (let r = await next; !r.done; r = await next) {
        yield { delivery: toProto(r.value) };
        next = changes.next();
      }
    },
  };
}
