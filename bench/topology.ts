/**
 * Who receives what, computed the same way by the orchestrator, the publisher and the
 * baselines: event i belongs to tenant i % tenants and fans out to every endpoint of that
 * tenant (all subscribe to "bench.*").
 */
import type { FleetEndpoint, FleetProfile } from "./lib/protocol.ts";
import type { EndpointGroup, ScenarioPlan } from "./scenarios.ts";

export interface PlacedEndpoint {
  index: number;
  group: EndpointGroup;
  tenant: number;
  /** Index into the fleet's listening ports. */
  port: number;
}

export interface Topology {
  endpoints: PlacedEndpoint[];
  /** Endpoints per tenant index. */
  byTenant: PlacedEndpoint[][];
  profiles: FleetProfile[];
  ports: number;
}

/** Endpoints of each group are dealt round-robin over the tenants; each group has its own ports. */
export function layOut(plan: ScenarioPlan): Topology {
  const endpoints: PlacedEndpoint[] = [];
  const byTenant: PlacedEndpoint[][] = Array.from({ length: plan.tenants }, () => []);
  const profiles: FleetProfile[] = [];
  let firstPort = 0;
  for (const group of plan.groups) {
    if (!profiles.includes(group.profile)) profiles.push(group.profile);
    for (let j = 0; j < group.count; j++) {
      const placed = { index: endpoints.length, group, tenant: j % plan.tenants, port: firstPort + (j % group.ports) };
      endpoints.push(placed);
      byTenant[placed.tenant]?.push(placed);
    }
    firstPort += group.ports;
  }
  return { endpoints, byTenant, profiles, ports: Math.max(1, firstPort) };
}

export function fleetEndpoints(topology: Topology, secrets: readonly string[], only?: (e: PlacedEndpoint) => boolean): FleetEndpoint[] {
  return topology.endpoints
    .filter((e) => only?.(e) ?? true)
    .map((e) => ({ index: e.index, secret: secrets[e.index] as string, profile: topology.profiles.indexOf(e.group.profile), port: e.port }));
}

/** Ordering key and position within the key of event `seq` (positions rise in publish order). */
export function orderingOf(seq: number, tenants: number, keys: number): { key: string; position: number } {
  const nth = Math.floor(seq / tenants);
  return { key: `key-${nth % keys}`, position: Math.floor(nth / keys) };
}

/** Endpoints expected to receive every event (not failing on purpose). */
export const expectsDelivery = (e: PlacedEndpoint): boolean => !e.group.expectFailure;
