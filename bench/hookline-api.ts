/** The bench's calls to hookline's API (generated Connect clients over gRPC). */
import { createClient } from "@connectrpc/connect";
import { DeliveryService, DeliveryStatus } from "../src/gen/hookline/v1/delivery_pb.ts";
import { BreakerState, EndpointService, OrderingMode } from "../src/gen/hookline/v1/endpoint_pb.ts";
import { Limits } from "../src/core/validation.ts";
import { TenantService } from "../src/gen/hookline/v1/tenant_pb.ts";
import { apiTransport, type HooklineApi } from "./lib/api-transport.ts";
import type { RetryPolicyPlan, ScenarioPlan } from "./scenarios.ts";
import type { Topology } from "./topology.ts";

/** Deliveries per second of a held-back endpoint, the lowest hookline accepts: one token up front, then one per 100 s. */
const HELD_BACK_RATE = Limits.minRateLimitPerSecond;

export interface Created {
  tenantIds: string[];
  /** By bench endpoint index. */
  endpointIds: string[];
}

const duration = (ms: number) => ({ seconds: BigInt(Math.floor(ms / 1000)), nanos: (ms % 1000) * 1_000_000 });

function retryPolicy(p: RetryPolicyPlan) {
  return { maxAttempts: p.maxAttempts, initialBackoff: duration(p.initialBackoffMs), maxBackoff: duration(p.maxBackoffMs), maxAge: duration(p.maxAgeMs) };
}

/** Runs `fn` over items with at most `limit` at once. */
async function inParallel<T>(items: readonly T[], limit: number, fn: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  const lane = async (): Promise<void> => {
    while (next < items.length) await fn(items[next++] as T);
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, lane));
}

/** Creates the plan's tenants and endpoints; endpoint i gets secrets[i] and the fleet URL for its port. */
export async function createTopology(
  api: HooklineApi,
  plan: ScenarioPlan,
  topology: Topology,
  secrets: readonly string[],
  ports: readonly number[],
  runId: string,
): Promise<Created> {
  const transport = apiTransport(api);
  const tenants = createClient(TenantService, transport);
  const endpoints = createClient(EndpointService, transport);
  const tenantIds: string[] = [];
  for (let t = 0; t < plan.tenants; t++) tenantIds.push((await tenants.createTenant({ name: `bench-${t}` })).tenant?.id ?? "");
  const endpointIds: string[] = [];
  await inParallel(topology.endpoints, 16, async (e) => {
    const { endpoint } = await endpoints.createEndpoint({
      tenantId: tenantIds[e.tenant] as string,
      url: `http://127.0.0.1:${ports[e.port]}/h/${runId}/${e.index}`,
      eventTypes: ["bench.*"],
      description: `bench ${e.group.name} #${e.index}`,
      secret: secrets[e.index] as string,
      ordering: e.group.ordered ? OrderingMode.ORDERED_BY_KEY : OrderingMode.UNORDERED,
      ...(e.group.retryPolicy ? { retryPolicy: retryPolicy(e.group.retryPolicy) } : {}),
      ...(e.group.timeoutMs ? { timeout: duration(e.group.timeoutMs) } : {}),
      ...(plan.pauseWhilePublishing ? { rateLimitPerSecond: HELD_BACK_RATE } : {}),
    });
    endpointIds[e.index] = endpoint?.id ?? "";
  });
  return { tenantIds, endpointIds };
}

/** Lifts the hold of a backlog run: rate limit back to 0 (unlimited) on every endpoint. */
export async function releaseEndpoints(api: HooklineApi, endpointIds: readonly string[]): Promise<void> {
  const endpoints = createClient(EndpointService, apiTransport(api));
  await inParallel(endpointIds, 16, async (id) => {
    await endpoints.updateEndpoint({ endpoint: { id, rateLimitPerSecond: 0 }, updateMask: { paths: ["rate_limit_per_second"] } });
  });
}

/** How many of these endpoints hookline has disabled (410 Gone must disable an endpoint). */
export async function countDisabled(api: HooklineApi, endpointIds: readonly string[]): Promise<number> {
  const endpoints = createClient(EndpointService, apiTransport(api));
  let disabled = 0;
  for (const id of endpointIds) if ((await endpoints.getEndpoint({ id })).endpoint?.disabled) disabled++;
  return disabled;
}

const ms = (t: { seconds: bigint; nanos: number } | undefined): string => (t ? new Date(Number(t.seconds) * 1000 + t.nanos / 1e6).toISOString().slice(11, 23) : "-");

/**
 * Why deliveries are still missing after a drain: up to `max` open or dead deliveries of the
 * given endpoints, each with its endpoint's live stats, as lines for the report.
 */
export async function describeOutstanding(api: HooklineApi, endpointIds: readonly string[], max = 5): Promise<string[]> {
  const transport = apiTransport(api);
  const deliveries = createClient(DeliveryService, transport);
  const endpoints = createClient(EndpointService, transport);
  const lines: string[] = [];
  for (const endpointId of endpointIds) {
    if (lines.length >= max) break;
    const { deliveries: open } = await deliveries.listDeliveries({
      endpointId,
      statuses: [DeliveryStatus.PENDING, DeliveryStatus.RETRYING, DeliveryStatus.DEAD],
      pageSize: max,
    });
    if (open.length === 0) continue;
    const stats = (await endpoints.getEndpointStats({ id: endpointId })).stats;
    const health = stats
      ? `endpoint in flight ${stats.inFlight}, pending ${stats.pending}, retrying ${stats.retrying}, breaker ${BreakerState[stats.breakerState]}`
      : "no endpoint stats";
    for (const d of open.slice(0, max - lines.length))
      lines.push(
        `outstanding ${d.id}: ${DeliveryStatus[d.status]}, ${d.attempts} attempts, next ${ms(d.nextAttemptTime)}, last ${d.lastStatusCode || "-"} ${d.lastError}; ${health}`,
      );
  }
  return lines;
}
