// The signed-in key lives in sessionStorage only: it is gone when the tab closes.
import { Code, ConnectError } from "@connectrpc/connect";
import type { Api } from "./api.ts";

const KEY = "hookline.apiKey";

export function storedKey(): string | null {
  return sessionStorage.getItem(KEY);
}

export function storeKey(key: string): void {
  sessionStorage.setItem(KEY, key);
}

export function forgetKey(): void {
  sessionStorage.removeItem(KEY);
}

/** What the signed-in key may see: everything (admin) or one tenant. */
export type Scope = { admin: true } | { admin: false; tenantId: string; tenantName: string };

/** A tenant id no tenant has: asking for its keys is refused to a tenant key only. */
const FOREIGN_TENANT = "tnt_console_scope_check";

/**
 * Learns the key's scope without changing anything: the key is checked by ListTenants, then a
 * tenant key is told apart by the PERMISSION_DENIED it gets for another tenant's API keys.
 */
export async function discoverScope(api: Api): Promise<Scope> {
  const { tenants } = await api.tenants.listTenants({ pageSize: 1 });
  try {
    await api.apiKeys.listApiKeys({ tenantId: FOREIGN_TENANT, pageSize: 1 });
    return { admin: true };
  } catch (err) {
    if (ConnectError.from(err).code !== Code.PermissionDenied) throw err;
    const own = tenants[0];
    if (!own) throw new Error("this tenant API key's tenant no longer exists");
    return { admin: false, tenantId: own.id, tenantName: own.name };
  }
}
