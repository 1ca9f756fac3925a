import type { HandlerContext, ServiceImpl } from "@connectrpc/connect";
import { principalOf, requireTenant, requireVisible, scopedTenant } from "../auth/principal.ts";
import { failedPrecondition, invalidArgument, notFound, resourceExhausted } from "../core/errors.ts";
import { MAX_FAN_OUT, deliveryId, newId } from "../core/ids.ts";
import { DEFAULT_RETRY_POLICY } from "../core/retry.ts";
import { checkSecret, generateSecret, generateSigningKeyPair, signingAlgorithmOf, type SigningAlgorithm } from "../core/secrets.ts";
import type { Endpoint, RetryPolicy } from "../core/types.ts";
import {
  Limits,
  checkDurationRange,
  checkEventTypeFilters,
  checkPayload,
  checkPublishableEventType,
  checkHeaders,
  checkIntRange,
  checkRate,
  checkSuccessStatusCodes,
  checkText,
  checkUrl,
  requireNonEmpty,
} from "../core/validation.ts";
import { checkTargetAllowed } from "../dispatch/target-guard.ts";
import { create } from "@bufbuild/protobuf";
import { timestampFromMs } from "@bufbuild/protobuf/wkt";
import type { OperationalEvents } from "../dispatch/operational-events.ts";
import type { EndpointHealth } from "../dispatch/scheduler.ts";
import type { DispatchControl } from "./delivery-service.ts";
import {
  BreakerState,
  EndpointService,
  EndpointStatsSchema,
  type RetryPolicy as RetryPolicyProto,
} from "../gen/hookline/v1/endpoint_pb.ts";
import { MASKED_HEADER_VALUE, durationToMs, endpointToProto, msToDuration, orderingFromProto, signingFromProto } from "./convert.ts";
import type { ServiceDeps } from "./deps.ts";
import { maskPaths } from "./field-mask.ts";
import { paginate } from "./paging.ts";

const UPDATABLE = [
  "url",
  "event_types",
  "disabled",
  "description",
  "retry_policy",
  "rate_limit_per_second",
  "max_in_flight",
  "timeout",
  "headers",
  "ordering",
  "success_status_codes",
] as const;

const DEFAULT_GRACE_MS = 24 * 3600_000;

/**
 * A new secret for this algorithm: the given HMAC secret, or a generated one; an ed25519 key
 * pair is always generated (hookline keeps the secret key), so a given secret is refused.
 */
function newSecret(algorithm: SigningAlgorithm, given: string): string {
  if (algorithm === "ed25519") {
    if (given !== "") throw invalidArgument("secret", "must be empty with SIGNING_ALGORITHM_ED25519: hookline generates the key pair");
    return generateSigningKeyPair();
  }
  return given === "" ? generateSecret() : checkSecret("secret", given);
}

/** A retry policy from the wire: zero fields take the defaults, the rest is range-checked. */
export function retryPolicyFromProto(field: string, p: RetryPolicyProto | undefined): RetryPolicy {
  const d = DEFAULT_RETRY_POLICY;
  if (!p) return { ...d };
  const maxAttempts = p.maxAttempts === 0 ? d.maxAttempts : checkIntRange(`${field}.max_attempts`, p.maxAttempts, 1, Limits.maxAttempts);
  const initial = durationToMs(`${field}.initial_backoff`, p.initialBackoff) || d.initialBackoffMs;
  checkDurationRange(`${field}.initial_backoff`, initial, 10, Limits.maxBackoffMs);
  const max = durationToMs(`${field}.max_backoff`, p.maxBackoff) || Math.max(d.maxBackoffMs, initial);
  checkDurationRange(`${field}.max_backoff`, max, initial, Limits.maxBackoffMs);
  const maxAge = durationToMs(`${field}.max_age`, p.maxAge) || d.maxAgeMs;
  checkDurationRange(`${field}.max_age`, maxAge, 1000, Limits.maxAgeMs);
  return { maxAttempts, initialBackoffMs: initial, maxBackoffMs: max, maxAgeMs: maxAge, retryClientErrors: p.retryClientErrors };
}

/** Reads mask header values: a masked value sent back in an update keeps the stored one. */
function keepMaskedValues(input: Record<string, string>, stored: Record<string, string>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [name, value] of Object.entries(input)) {
    if (value !== MASKED_HEADER_VALUE) out[name] = value;
    else if (stored[name] !== undefined) out[name] = stored[name];
    else throw invalidArgument(`endpoint.headers[${name}]`, `is the masked placeholder ${MASKED_HEADER_VALUE}; send the real value`);
  }
  return out;
}

/** Live endpoint health, kept by the dispatcher. */
export interface HealthSource {
  health(endpointId: string): EndpointHealth | undefined;
}

const BREAKER_STATES = { closed: BreakerState.CLOSED, open: BreakerState.OPEN, half_open: BreakerState.HALF_OPEN } as const;

const TEST_EVENT_TYPE = "hookline.test";

export function endpointService(
  deps: ServiceDeps & { dispatch: HealthSource & DispatchControl; operational?: OperationalEvents },
): ServiceImpl<typeof EndpointService> {
  const { catalog, eventTypes, store, config, now, dispatch, operational } = deps;
  /** The endpoint named by the request, if the caller may see it. */
  function existing(ctx: HandlerContext, field: string, id: string): Endpoint {
    requireNonEmpty(field, id);
    const endpoint = catalog.endpoint(id);
    if (!endpoint) throw notFound("endpoint", id);
    requireVisible(principalOf(ctx), "endpoint", id, endpoint.tenantId);
    return endpoint;
  }

  function maxInFlight(field: string, value: number): number {
    return value === 0 ? config.defaultMaxInFlight : checkIntRange(field, value, 1, Limits.maxInFlight);
  }

  function timeoutMs(field: string, value: Parameters<typeof durationToMs>[1]): number {
    const ms = durationToMs(field, value);
    return ms === undefined || ms === 0
      ? config.defaultTimeoutMs
      : checkDurationRange(field, ms, Limits.minTimeoutMs, Limits.maxTimeoutMs);
  }

  async function checkUrlAllowed(field: string, url: string): Promise<string> {
    checkUrl(field, url);
    await checkTargetAllowed(field, url, config.allowPrivateTargets);
    return url;
  }

  return {
    async createEndpoint(req, ctx) {
      requireNonEmpty("tenant_id", req.tenantId);
      requireTenant(principalOf(ctx), "tenant_id", req.tenantId);
      if (!catalog.tenant(req.tenantId)) throw notFound("tenant", req.tenantId);
      if (catalog.endpointCount(req.tenantId) >= MAX_FAN_OUT)
        throw resourceExhausted(`tenant ${req.tenantId} has ${MAX_FAN_OUT} endpoints, the most one event can fan out to`);
      const createdMs = now();
      const endpoint: Endpoint = {
        id: newId("ep", createdMs),
        tenantId: req.tenantId,
        url: await checkUrlAllowed("url", req.url),
        eventTypes: checkEventTypeFilters("event_types", req.eventTypes),
        disabled: req.disabled,
        disabledReason: req.disabled ? "disabled at creation" : "",
        description: checkText("description", req.description, Limits.descriptionLength),
        secret: newSecret(signingFromProto("signing", req.signing) ?? "hmac", req.secret),
        previousSecret: "",
        previousSecretExpiresMs: 0,
        retryPolicy: retryPolicyFromProto("retry_policy", req.retryPolicy),
        rateLimitPerSecond: checkRate("rate_limit_per_second", req.rateLimitPerSecond),
        maxInFlight: maxInFlight("max_in_flight", req.maxInFlight),
        timeoutMs: timeoutMs("timeout", req.timeout),
        headers: checkHeaders("headers", req.headers),
        ordering: orderingFromProto("ordering", req.ordering),
        successStatusCodes: checkSuccessStatusCodes("success_status_codes", req.successStatusCodes),
        createdMs,
        updatedMs: createdMs,
      };
      await catalog.createEndpoint(endpoint);
      return { endpoint: endpointToProto(endpoint, true) };
    },

    async getEndpoint(req, ctx) {
      return { endpoint: endpointToProto(existing(ctx, "id", req.id), false) };
    },

    async listEndpoints(req, ctx) {
      const tenantId = scopedTenant(principalOf(ctx), "tenant_id", req.tenantId);
      if (tenantId !== "" && !catalog.tenant(tenantId)) throw notFound("tenant", tenantId);
      const page = await paginate(
        "endpoints",
        req,
        (after, limit) => store.listEndpoints(tenantId, after, limit),
        (e) => endpointToProto(e, false),
      );
      return { endpoints: page.items, nextPageToken: page.nextPageToken };
    },

    async updateEndpoint(req, ctx) {
      const input = req.endpoint;
      if (!input) throw invalidArgument("endpoint", "is required");
      // Visible to the caller; masked header values are kept from this copy.
      const current = existing(ctx, "endpoint.id", input.id);
      const paths = maskPaths(req.updateMask, UPDATABLE, "refuse");
      // Only the fields in the mask: applied to the endpoint as stored, so that a concurrent
      // update of other fields is kept.
      const next: Partial<Endpoint> = {};
      if (paths.has("url")) next.url = await checkUrlAllowed("endpoint.url", input.url);
      if (paths.has("event_types")) next.eventTypes = checkEventTypeFilters("endpoint.event_types", input.eventTypes);
      if (paths.has("disabled")) {
        next.disabled = input.disabled;
        next.disabledReason = input.disabled ? checkText("endpoint.disabled_reason", input.disabledReason || "disabled by operator", 500) : "";
      }
      if (paths.has("description"))
        next.description = checkText("endpoint.description", input.description, Limits.descriptionLength);
      if (paths.has("retry_policy")) next.retryPolicy = retryPolicyFromProto("endpoint.retry_policy", input.retryPolicy);
      if (paths.has("rate_limit_per_second"))
        next.rateLimitPerSecond = checkRate("endpoint.rate_limit_per_second", input.rateLimitPerSecond);
      if (paths.has("max_in_flight")) next.maxInFlight = maxInFlight("endpoint.max_in_flight", input.maxInFlight);
      if (paths.has("timeout")) next.timeoutMs = timeoutMs("endpoint.timeout", input.timeout);
      if (paths.has("headers")) next.headers = checkHeaders("endpoint.headers", keepMaskedValues(input.headers, current.headers));
      if (paths.has("ordering")) next.ordering = orderingFromProto("endpoint.ordering", input.ordering);
      if (paths.has("success_status_codes"))
        next.successStatusCodes = checkSuccessStatusCodes("endpoint.success_status_codes", input.successStatusCodes);
      const updatedMs = now();
      let wasDisabled = current.disabled;
      const updated = await catalog.updateEndpoint(input.id, (stored) => {
        wasDisabled = stored.disabled;
        return { ...stored, ...next, updatedMs };
      });
      if (!updated) throw notFound("endpoint", input.id);
      if (updated.disabled !== wasDisabled) {
        if (updated.disabled) operational?.endpointDisabled(updated, updated.disabledReason, "api");
        else operational?.endpointEnabled(updated);
      }
      return { endpoint: endpointToProto(updated, false) };
    },

    async deleteEndpoint(req, ctx) {
      existing(ctx, "id", req.id);
      await catalog.deleteEndpoint(req.id, now());
      return {};
    },

    async getEndpointStats(req, ctx) {
      const endpoint = existing(ctx, "id", req.id);
      const health = dispatch.health(endpoint.id);
      const backlog = await store.backlog(endpoint.id);
      const ts = (ms: number) => (ms > 0 ? timestampFromMs(ms) : undefined);
      return {
        stats: create(EndpointStatsSchema, {
          endpointId: endpoint.id,
          recentAttempts: health?.recent.attempts ?? 0,
          successRate: health?.recent.successRate ?? 0,
          latencyP50: msToDuration(Math.round(health?.recent.p50 ?? 0)),
          latencyP95: msToDuration(Math.round(health?.recent.p95 ?? 0)),
          latencyP99: msToDuration(Math.round(health?.recent.p99 ?? 0)),
          pending: BigInt(backlog.pending),
          retrying: BigInt(backlog.retrying),
          inFlight: BigInt(backlog.inFlight),
          breakerState: BREAKER_STATES[health?.breaker ?? "closed"],
          consecutiveFailures: health?.consecutiveFailures ?? 0,
          failingSince: ts(health?.failingSinceMs ?? 0),
          effectiveRatePerSecond: Number.isFinite(health?.effectiveRate) ? (health?.effectiveRate ?? 0) : 0,
          lastSuccessTime: ts(health?.lastSuccessMs ?? 0),
          lastFailureTime: ts(health?.lastFailureMs ?? 0),
          disabled: endpoint.disabled,
          disabledReason: endpoint.disabledReason,
        }),
      };
    },

    async sendTestEvent(req, ctx) {
      const endpoint = existing(ctx, "endpoint_id", req.endpointId);
      if (endpoint.disabled) throw failedPrecondition(`endpoint ${endpoint.id} is disabled (${endpoint.disabledReason}); enable it first`);
      const type = req.type === "" ? TEST_EVENT_TYPE : checkPublishableEventType("type", req.type);
      const sentMs = now();
      // Without a payload, a catalog type sends its example; any other, a small test document.
      const example = eventTypes.resolve(endpoint.tenantId, type);
      const payload =
        req.payload.length > 0
          ? checkPayload("payload", req.payload, config.maxPayloadBytes)
          : example.kind === "live" && example.type.example !== ""
            ? checkPayload("payload", new TextEncoder().encode(example.type.example), config.maxPayloadBytes)
            : new TextEncoder().encode(JSON.stringify({ test: true, sent_at: new Date(sentMs).toISOString() }));
      // The catalog applies as at publish; hookline's own test type is never refused as unknown.
      const strict = req.type !== "" && catalog.tenant(endpoint.tenantId)?.strictEventTypes === true;
      eventTypes.checkEvent(endpoint.tenantId, type, payload, strict);
      // Highest priority: someone is waiting for it, even behind a backlog. Fan-out to this
      // endpoint alone, whatever its event-type filter.
      const event = { tenantId: endpoint.tenantId, type, payload, idempotencyKey: "", orderingKey: "", priority: 9 };
      const result = (await store.publish([[event]], () => [endpoint.id], sentMs, config.idempotencyWindowMs))[0]?.[0];
      if (!result) throw new Error("the store answered a one-event publish with no result");
      await dispatch.wake(endpoint.id);
      return { eventId: result.eventId, deliveryId: deliveryId(result.eventId, 0) };
    },

    async rotateEndpointSecret(req, ctx) {
      const current = existing(ctx, "id", req.id);
      const secret = newSecret(signingFromProto("signing", req.signing) ?? signingAlgorithmOf(current.secret), req.secret);
      const graceMs = req.gracePeriod === undefined ? DEFAULT_GRACE_MS : (durationToMs("grace_period", req.gracePeriod) ?? 0);
      checkDurationRange("grace_period", graceMs, 0, Limits.maxGraceMs);
      const rotatedMs = now();
      const rotated = await catalog.updateEndpoint(req.id, (current) => ({
        ...current,
        secret,
        previousSecret: graceMs > 0 ? current.secret : "",
        previousSecretExpiresMs: graceMs > 0 ? rotatedMs + graceMs : 0,
        updatedMs: rotatedMs,
      }));
      if (!rotated) throw notFound("endpoint", req.id);
      return { endpoint: endpointToProto(rotated, true) };
    },
  };
}
