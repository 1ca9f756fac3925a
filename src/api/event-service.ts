import { create } from "@bufbuild/protobuf";
import type { ServiceImpl } from "@connectrpc/connect";
import { principalOf, requireTenant, requireVisible, scopedTenant, type Principal } from "../auth/principal.ts";
import { HooklineError, echo, invalidArgument, notFound, withFieldPrefix } from "../core/errors.ts";
import type { EventInput, PublishResult } from "../core/types.ts";
import { Limits, checkEventType, checkIntRange, checkKey, checkPayload, checkPublishableEventType, requireNonEmpty } from "../core/validation.ts";
import {
  EventService,
  PublishErrorSchema,
  PublishResultSchema,
  PublishStreamResponseSchema,
  type EventInput as EventInputProto,
  type PublishStreamRequest,
  type PublishStreamResponse,
} from "../gen/hookline/v1/event_pb.ts";
import type { GroupCommit } from "../store/group-commit.ts";
import { creationWindow, eventToProto } from "./convert.ts";
import type { ServiceDeps } from "./deps.ts";
import { asConnectError, codeName } from "./errors.ts";
import { paginate } from "./paging.ts";

/** Stream requests being committed at once per stream; beyond it, HTTP/2 flow control pushes back. */
const STREAM_WINDOW = 32;


export function eventService(deps: ServiceDeps & { ingest: GroupCommit }): ServiceImpl<typeof EventService> {
  const { catalog, eventTypes, config, store, ingest, logger } = deps;

  function checkEvent(caller: Principal, e: EventInputProto): EventInput {
    requireNonEmpty("tenant_id", e.tenantId);
    requireTenant(caller, "tenant_id", e.tenantId);
    const tenant = catalog.tenant(e.tenantId);
    if (!tenant) throw invalidArgument("tenant_id", `tenant "${echo(e.tenantId)}" does not exist`);
    checkPublishableEventType("type", e.type);
    const payload = checkPayload("payload", e.payload, config.maxPayloadBytes);
    eventTypes.checkEvent(e.tenantId, e.type, payload, tenant.strictEventTypes === true);
    return {
      tenantId: e.tenantId,
      type: e.type,
      payload,
      idempotencyKey: checkKey("idempotency_key", e.idempotencyKey, Limits.idempotencyKeyLength),
      orderingKey: checkKey("ordering_key", e.orderingKey, Limits.orderingKeyLength),
      priority: checkIntRange("priority", e.priority, 0, Limits.maxPriority),
    };
  }

  /** The whole batch or nothing: the first bad event names itself as events[i].field. */
  function checkBatch(caller: Principal, events: readonly EventInputProto[]): EventInput[] {
    if (events.length === 0) throw invalidArgument("events", "must hold at least one event");
    if (events.length > config.maxBatchEvents)
      throw invalidArgument("events", `holds ${events.length} events; the limit is ${config.maxBatchEvents} per request`);
    return events.map((e, i) => {
      try {
        return checkEvent(caller, e);
      } catch (err) {
        throw withFieldPrefix(err, `events[${i}].`);
      }
    });
  }

  const toResults = (results: PublishResult[]) => results.map((r) => create(PublishResultSchema, r));

  async function answer(caller: Principal, req: PublishStreamRequest): Promise<PublishStreamResponse> {
    try {
      const results = await ingest.submit(checkBatch(caller, req.events));
      return create(PublishStreamResponseSchema, { requestId: req.requestId, results: toResults(results) });
    } catch (err) {
      const connectErr = asConnectError(err, logger, "PublishStream");
      const field = err instanceof HooklineError ? (err.violations[0]?.field ?? "") : "";
      return create(PublishStreamResponseSchema, {
        requestId: req.requestId,
        error: create(PublishErrorSchema, { code: codeName(connectErr.code), message: connectErr.rawMessage, field }),
      });
    }
  }

  return {
    async publish(req, ctx) {
      return { results: toResults(await ingest.submit(checkBatch(principalOf(ctx), req.events))) };
    },

    async *publishStream(requests, ctx) {
      const caller = principalOf(ctx);
      const iterator = requests[Symbol.asyncIterator]();
      const pending: Promise<PublishStreamResponse>[] = [];
      const never = new Promise<never>(() => undefined);
      let exhausted = false;
      let nextRequest = iterator.next();
      while (!exhausted || pending.length > 0) {
        const canRead = !exhausted && pending.length < STREAM_WINDOW;
        const head = pending[0];
        const winner = await Promise.race([
          canRead ? nextRequest.then((r) => ({ kind: "request" as const, r })) : never,
          head ? head.then((response) => ({ kind: "response" as const, response })) : never,
        ]);
        if (winner.kind === "request") {
          if (winner.r.done) exhausted = true;
          else {
            pending.push(answer(caller, winner.r.value));
            nextRequest = iterator.next();
          }
        } else {
          pending.shift();
          yield winner.response;
        }
      }
    },

    async getEvent(req, ctx) {
      requireNonEmpty("id", req.id);
      const event = await store.getEvent(req.id);
      if (!event) throw notFound("event", req.id);
      requireVisible(principalOf(ctx), "event", req.id, event.tenantId);
      return { event: eventToProto(event) };
    },

    async listEvents(req, ctx) {
      const filter = {
        tenantId: scopedTenant(principalOf(ctx), "tenant_id", req.tenantId),
        type: req.type === "" ? "" : checkEventType("type", req.type),
        ...creationWindow(req),
      };
      const page = await paginate("events", req, (after, limit) => store.history.listEvents(filter, after, limit), eventToProto);
      return { events: page.items, nextPageToken: page.nextPageToken };
    },
  };
}
