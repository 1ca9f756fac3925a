import { createContextKey, type HandlerContext } from "@connectrpc/connect";
import { notFound, permissionDenied } from "../core/errors.ts";

/** Who is calling: the key they authenticated with and the tenant it acts for ("" = admin). */
export interface Principal {
  keyId: string;
  tenantId: string;
}

/** Set by the auth interceptor on every call it lets through. */
export const PRINCIPAL = createContextKey<Principal | undefined>(undefined, { description: "authenticated caller" });

export function principalOf(ctx: HandlerContext): Principal {
  const principal = ctx.values.get(PRINCIPAL);
  // The interceptor guards every hookline service; a handler without a caller is a wiring bug.
  if (!principal) throw new Error(`no authenticated caller on ${ctx.method.name}: the auth interceptor is not installed`);
  return principal;
}

export const isAdmin = (p: Principal): boolean => p.tenantId === "";

/** Whether the caller may see things of this tenant. */
export const canAccess = (p: Principal, tenantId: string): boolean => isAdmin(p) || p.tenantId === tenantId;

/** Operations only an admin key may do. */
export function requireAdmin(p: Principal, action: string): void {
  if (!isAdmin(p)) throw permissionDenied(`a tenant API key cannot ${action}; use an admin key`);
}

/** A tenant named in the request: a tenant key naming another tenant is refused outright. */
export function requireTenant(p: Principal, field: string, tenantId: string): void {
  if (!canAccess(p, tenantId)) throw permissionDenied(`${field}: this API key acts for tenant ${p.tenantId} only`);
}

/**
 * A resource found by id: another tenant's looks exactly like a missing one, so a tenant key
 * cannot probe which ids exist.
 */
export function requireVisible(p: Principal, kind: string, id: string, ownerTenantId: string): void {
  if (!canAccess(p, ownerTenantId)) throw notFound(kind, id);
}

/** The tenant a list is scoped to: a tenant key's own when the request names none. */
export function scopedTenant(p: Principal, field: string, requested: string): string {
  if (isAdmin(p)) return requested;
  if (requested !== "") requireTenant(p, field, requested);
  return p.tenantId;
}
