import type { ServiceImpl } from "@connectrpc/connect";
import { invalidArgument, notFound } from "../core/errors.ts";
import { newId } from "../core/ids.ts";
import type { Tenant } from "../core/types.ts";
import { checkMetadata, checkName, checkRate, requireNonEmpty } from "../core/validation.ts";
import { TenantService } from "../gen/hookline/v1/tenant_pb.ts";
import { tenantToProto } from "./convert.ts";
import type { ServiceDeps } from "./deps.ts";
import { maskPaths } from "./field-mask.ts";
import { paginate } from "./paging.ts";

const UPDATABLE = ["name", "rate_limit_per_second", "metadata"] as const;

export function tenantService({ catalog, store, now }: ServiceDeps): ServiceImpl<typeof TenantService> {
  function existing(field: string, id: string): Tenant {
    requireNonEmpty(field, id);
    const tenant = catalog.tenant(id);
    if (!tenant) throw notFound("tenant", id);
    return tenant;
  }

  return {
    async createTenant(req) {
      const createdMs = now();
      const tenant: Tenant = {
        id: newId("tnt", createdMs),
        name: checkName("name", req.name),
        rateLimitPerSecond: checkRate("rate_limit_per_second", req.rateLimitPerSecond),
        metadata: checkMetadata("metadata", req.metadata),
        createdMs,
        updatedMs: createdMs,
      };
      await catalog.createTenant(tenant);
      return { tenant: tenantToProto(tenant) };
    },

    async getTenant(req) {
      return { tenant: tenantToProto(existing("id", req.id)) };
    },

    async listTenants(req) {
      const page = await paginate("tenants", req, (after, limit) => store.listTenants(after, limit), tenantToProto);
      return { tenants: page.items, nextPageToken: page.nextPageToken };
    },

    async updateTenant(req) {
      if (!req.tenant) throw invalidArgument("tenant", "is required");
      existing("tenant.id", req.tenant.id);
      const paths = maskPaths(req.updateMask, UPDATABLE, UPDATABLE);
      // Only the fields in the mask, applied to the tenant as stored (see UpdateEndpoint).
      const next: Partial<Tenant> = {};
      if (paths.has("name")) next.name = checkName("tenant.name", req.tenant.name);
      if (paths.has("rate_limit_per_second"))
        next.rateLimitPerSecond = checkRate("tenant.rate_limit_per_second", req.tenant.rateLimitPerSecond);
      if (paths.has("metadata")) next.metadata = checkMetadata("tenant.metadata", req.tenant.metadata);
      const updatedMs = now();
      const updated = await catalog.updateTenant(req.tenant.id, (current) => ({ ...current, ...next, updatedMs }));
      if (!updated) throw notFound("tenant", req.tenant.id);
      return { tenant: tenantToProto(updated) };
    },

    async deleteTenant(req) {
      existing("id", req.id);
      await catalog.deleteTenant(req.id, now());
      return {};
    },
  };
}
