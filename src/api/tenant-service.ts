import type { HandlerContext, ServiceImpl } from "@connectrpc/connect";
import { isAdmin, principalOf, requireAdmin, requireVisible } from "../auth/principal.ts";
import { failedPrecondition, invalidArgument, notFound } from "../core/errors.ts";
import { newId } from "../core/ids.ts";
import type { Tenant } from "../core/types.ts";
import { checkMetadata, checkName, checkRate, requireNonEmpty } from "../core/validation.ts";
import { TenantService } from "../gen/hookline/v1/tenant_pb.ts";
import { tenantToProto } from "./convert.ts";
import type { ServiceDeps } from "./deps.ts";
import { maskPaths } from "./field-mask.ts";
import { paginate } from "./paging.ts";

const UPDATABLE = ["name", "rate_limit_per_second", "metadata", "strict_event_types"] as const;

export function tenantService({ catalog, eventTypes, store, now }: ServiceDeps): ServiceImpl<typeof TenantService> {
  function existing(ctx: HandlerContext, field: string, id: string): Tenant {
    requireNonEmpty(field, id);
    const tenant = catalog.tenant(id);
    if (!tenant) throw notFound("tenant", id);
    requireVisible(principalOf(ctx), "tenant", id, id);
    return tenant;
  }

  return {
    async createTenant(req, ctx) {
      requireAdmin(principalOf(ctx), "create tenants");
      const createdMs = now();
      const tenant: Tenant = {
        id: newId("tnt", createdMs),
        name: checkName("name", req.name),
        rateLimitPerSecond: checkRate("rate_limit_per_second", req.rateLimitPerSecond),
        metadata: checkMetadata("metadata", req.metadata),
        strictEventTypes: req.strictEventTypes,
        createdMs,
        updatedMs: createdMs,
      };
      await catalog.createTenant(tenant);
      return { tenant: tenantToProto(tenant) };
    },

    async getTenant(req, ctx) {
      return { tenant: tenantToProto(existing(ctx, "id", req.id)) };
    },

    async listTenants(req, ctx) {
      const caller = principalOf(ctx);
      // A tenant key's list is its own tenant.
      const own = async (after: string | undefined): Promise<Tenant[]> => {
        const tenant = catalog.tenant(caller.tenantId);
        return tenant && (after === undefined || after < tenant.id) ? [tenant] : [];
      };
      const fetch = isAdmin(caller) ? (after: string | undefined, limit: number) => store.listTenants(after, limit) : own;
      const page = await paginate("tenants", req, fetch, tenantToProto);
      return { tenants: page.items, nextPageToken: page.nextPageToken };
    },

    async updateTenant(req, ctx) {
      if (!req.tenant) throw invalidArgument("tenant", "is required");
      existing(ctx, "tenant.id", req.tenant.id);
      const paths = maskPaths(req.updateMask, UPDATABLE, UPDATABLE);
      // Only the fields in the mask, applied to the tenant as stored (see UpdateEndpoint).
      const next: Partial<Tenant> = {};
      if (paths.has("name")) next.name = checkName("tenant.name", req.tenant.name);
      if (paths.has("rate_limit_per_second"))
        next.rateLimitPerSecond = checkRate("tenant.rate_limit_per_second", req.tenant.rateLimitPerSecond);
      if (paths.has("metadata")) next.metadata = checkMetadata("tenant.metadata", req.tenant.metadata);
      if (paths.has("strict_event_types")) next.strictEventTypes = req.tenant.strictEventTypes;
      const updatedMs = now();
      const updated = await catalog.updateTenant(req.tenant.id, (current) => ({ ...current, ...next, updatedMs }));
      if (!updated) throw notFound("tenant", req.tenant.id);
      return { tenant: tenantToProto(updated) };
    },

    async deleteTenant(req, ctx) {
      requireAdmin(principalOf(ctx), "delete tenants");
      existing(ctx, "id", req.id);
      if (!req.force) {
        const endpoints = catalog.endpointCount(req.id);
        const deliveries = await store.listDeliveries({ tenantId: req.id, endpointId: "", eventId: "", statuses: [] }, undefined, 1);
        if (endpoints > 0 || deliveries.length > 0)
          throw failedPrecondition(
            `tenant ${req.id} has ${endpoints} endpoint(s)${deliveries.length > 0 ? " and deliveries" : ""}; delete with force: true to remove them and cancel its open deliveries`,
          );
      }
      await catalog.deleteTenant(req.id, now());
      await eventTypes.deleteTenant(req.id);
      // Its keys would otherwise outlive it and act on a tenant id that could never come back.
      await store.apiKeys.revokeTenant(req.id, now());
      return {};
    },
  };
}
