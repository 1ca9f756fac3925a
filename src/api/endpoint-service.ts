import type { ServiceImpl } from "@connectrpc/connect";
import { invalidArgument, notFound, resourceExhausted } from "../core/errors.ts";
import { MAX_FAN_OUT, newId } from "../core/ids.ts";
import { DEFAULT_RETRY_POLICY } from "../core/retry.ts";
import { checkSecret, generateSecret } from "../core/secrets.ts";
import type { Endpoint, RetryPolicy } from "../core/types.ts";
import {
  Limits,
  checkDurationRange,
  checkEventTypeFilters,
  checkHeaders,
  checkIntRange,
  checkLength,
  checkRate,
  checkUrl,
  requireNonEmpty,
} from "../core/validation.ts";
import { checkTargetAllowed } from "../dispatch/target-guard.ts";
import { create } from "@bufbuild/protobuf";
import { timestampFromMs } from "@bufbuild/protobuf/wkt";
import type { EndpointHealth } from "../dispatch/scheduler.ts";
import {
  BreakerState,
  EndpointService,
  EndpointStatsSchema,
  type RetryPolicy as RetryPolicyProto,
} from "../gen/hookline/v1/endpoint_pb.ts";
import { durationToMs, endpointToProto, msToDuration, orderingFromProto } from "./convert.ts";
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
] as const;

const DEFAULT_GRACE_MS = 24 * 3600_000;

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

/** Live endpoint health, kept by the dispatcher. */
export interface HealthSource {
  health(endpointId: string): EndpointHealth | undefined;
}

const BREAKER_STATES = { closed: BreakerState.CLOSED, open: BreakerState.OPEN, half_open: BreakerState.HALF_OPEN } as const;

export function endpointService(deps: ServiceDeps & { dispatch: HealthSource }): ServiceImpl<typeof EndpointService> {
  const { catalog, store, config, now, dispatch } = deps;
  function existing(field: string, id: string): Endpoint {
    requireNonEmpty(field, id);
    const endpoint = catalog.endpoint(id);
    if (!endpoint) throw notFound("endpoint", id);
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
    async createEndpoint(req) {
      requireNonEmpty("tenant_id", req.tenantId);
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
        description: checkLength("description", req.description, Limits.descriptionLength),
        secret: req.secret === "" ? generateSecret() : checkSecret("secret", req.secret),
        previousSecret: "",
        previousSecretExpiresMs: 0,
        retryPolicy: retryPolicyFromProto("retry_policy", req.retryPolicy),
        rateLimitPerSecond: checkRate("rate_limit_per_second", req.rateLimitPerSecond),
        maxInFlight: maxInFlight("max_in_flight", req.maxInFlight),
        timeoutMs: timeoutMs("timeout", req.timeout),
        headers: checkHeaders("headers", req.headers),
        ordering: orderingFromProto("ordering", req.ordering),
        createdMs,
        updatedMs: createdMs,
      };
      await catalog.createEndpoint(endpoint);
      return { endpoint: endpointToProto(endpoint, true) };
    },

    async getEndpoint(req) {
      return { endpoint: endpointToProto(existing("id", req.id), false) };
    },

    async listEndpoints(req) {
      if (req.tenantId !== "" && !catalog.tenant(req.tenantId)) throw notFound("tenant", req.tenantId);
      const page = await paginate(
        "endpoints",
        req,
        (after, limit) => store.listEndpoints(req.tenantId, after, limit),
        (e) => endpointToProto(e, false),
      );
      return { endpoints: page.items, nextPageToken: page.nextPageToken };
    },

    async updateEndpoint(req) {
      const input = req.endpoint;
      if (!input) throw invalidArgument("endpoint", "is required");
      existing("endpoint.id", input.id);
      const paths = maskPaths(req.updateMask, UPDATABLE, "refuse");
      // Only the fields in the mask: applied to the endpoint as stored, so that a concurrent
      // update of other fields is kept.
      const next: Partial<Endpoint> = {};
      if (paths.has("url")) next.url = await checkUrlAllowed("endpoint.url", input.url);
      if (paths.has("event_types")) next.eventTypes = checkEventTypeFilters("endpoint.event_types", input.eventTypes);
      if (paths.has("disabled")) {
        next.disabled = input.disabled;
        next.disabledReason = input.disabled ? checkLength("endpoint.disabled_reason", input.disabledReason || "disabled by operator", 500) : "";
      }
      if (paths.has("description"))
        next.description = checkLength("endpoint.description", input.description, Limits.descriptionLength);
      if (paths.has("retry_policy")) next.retryPolicy = retryPolicyFromProto("endpoint.retry_policy", input.retryPolicy);
      if (paths.has("rate_limit_per_second"))
        next.rateLimitPerSecond = checkRate("endpoint.rate_limit_per_second", input.rateLimitPerSecond);
      if (paths.has("max_in_flight")) next.maxInFlight = maxInFlight("endpoint.max_in_flight", input.maxInFlight);
      if (paths.has("timeout")) next.timeoutMs = timeoutMs("endpoint.timeout", input.timeout);
      if (paths.has("headers")) next.headers = checkHeaders("endpoint.headers", input.headers);
      if (paths.has("ordering")) next.ordering = orderingFromProto("endpoint.ordering", input.ordering);
      const updatedMs = now();
      const updated = await catalog.updateEndpoint(input.id, (current) => ({ ...current, ...next, updatedMs }));
      if (!updated) throw notFound("endpoint", input.id);
      return { endpoint: endpointToProto(updated, false) };
    },

    async deleteEndpoint(req) {
      existing("id", req.id);
      await catalog.deleteEndpoint(req.id, now());
      return {};
    },

    async getEndpointStats(req) {
      const endpoint = existing("id", req.id);
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

    async rotateEndpointSecret(req) {
      existing("id", req.id);
      const secret = req.secret === "" ? generateSecret() : checkSecret("secret", req.secret);
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
