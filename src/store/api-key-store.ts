import type { ApiKeyRecord } from "../auth/api-key.ts";

/** Where API keys live: one role of the store, implemented by each backend. */
export interface ApiKeyStore {
  create(key: ApiKeyRecord): Promise<void>;
  get(id: string): Promise<ApiKeyRecord | undefined>;
  findByHash(hash: string): Promise<ApiKeyRecord | undefined>;
  /** By id; tenantId "" lists every key. afterId is the last id of the previous page. */
  list(tenantId: string, includeRevoked: boolean, afterId: string | undefined, limit: number): Promise<ApiKeyRecord[]>;
  /** Marks the key revoked (once; a second revoke keeps the first time). */
  revoke(id: string, nowMs: number): Promise<ApiKeyRecord | undefined>;
  /** Revokes every key of a tenant (the tenant is being deleted). */
  revokeTenant(tenantId: string, nowMs: number): Promise<number>;
  /** Whether any key was ever stored (the first start creates an admin key when none). */
  any(): Promise<boolean>;
}
