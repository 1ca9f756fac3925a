import { timingSafeEqual } from "node:crypto";
import { unauthenticated } from "../core/errors.ts";
import type { ApiKeyStore } from "../store/api-key-store.ts";
import { hashApiKey } from "./api-key.ts";
import type { Principal } from "./principal.ts";

export interface AuthenticatorOptions {
  keys: ApiKeyStore;
  /** The operator's admin key (--admin-key); empty when none is configured. */
  adminKey: string;
  /**
   * How long a lookup is trusted. A revoked key stops working on every process within this
   * time; shorter costs a store read per key per interval.
   */
  cacheMs: number;
  now: () => number;
}

/** The id of the configured admin key, which is not stored. */
export const CONFIGURED_ADMIN_KEY_ID = "key_admin_configured";

const MAX_CACHED = 10_000;

/** Turns an `authorization` header into the caller, with a short cache over the key store. */
export class Authenticator {
  private readonly adminHash: Buffer | undefined;
  private readonly cache = new Map<string, { principal: Principal | undefined; expiresMs: number }>();

  constructor(private readonly o: AuthenticatorOptions) {
    this.adminHash = o.adminKey === "" ? undefined : Buffer.from(hashApiKey(o.adminKey), "hex");
  }

  async authenticate(header: string | null): Promise<Principal> {
    if (header === null || header === "") throw unauthenticated('missing API key: send "authorization: Bearer <key>"');
    const match = /^Bearer[ \t]+(\S+)[ \t]*$/i.exec(header);
    if (!match) throw unauthenticated('malformed authorization header: expected "Bearer <key>"');
    const hash = hashApiKey(match[1] as string);
    if (this.adminHash && timingSafeEqual(this.adminHash, Buffer.from(hash, "hex"))) {
      return { keyId: CONFIGURED_ADMIN_KEY_ID, tenantId: "" };
    }
    const principal = await this.lookup(hash);
    if (!principal) throw unauthenticated("invalid or revoked API key");
    return principal;
  }

  private async lookup(hash: string): Promise<Principal | undefined> {
    const now = this.o.now();
    const cached = this.cache.get(hash);
    if (cached && cached.expiresMs > now) return cached.principal;
    const record = await this.o.keys.findByHash(hash);
    const principal = record && record.revokedMs === 0 ? { keyId: record.id, tenantId: record.tenantId } : undefined;
    // Unknown keys are cached too, so guessing costs no store reads; the map is bounded.
    if (this.cache.size >= MAX_CACHED) this.cache.clear();
    this.cache.set(hash, { principal, expiresMs: now + this.o.cacheMs });
    return principal;
  }

  /** A key revoked here stops at once on this process (others within cacheMs). */
  forget(keyHash: string): void {
    this.cache.delete(keyHash);
  }
}
