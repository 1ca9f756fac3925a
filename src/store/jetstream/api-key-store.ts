import type { KV } from "@nats-io/kv";
import type { ApiKeyRecord } from "../../auth/api-key.ts";
import type { ApiKeyStore } from "../api-key-store.ts";
import { decodeJson, encodeJson } from "./codec.ts";

/** Entry names in the API key bucket: the record under its id, and again under its hash for lookups. */
const idKey = (id: string) => `id.${id}`;
const hashKey = (hash: string) => `hash.${hash}`;

/**
 * API keys in their own KV bucket. Authentication reads the hash entry; a revoke writes the
 * hash entry first, so no process can still find the key as live once revoke returns.
 */
export class JetStreamApiKeyStore implements ApiKeyStore {
  constructor(private readonly kv: KV) {}

  private async read(key: string): Promise<ApiKeyRecord | undefined> {
    const entry = await this.kv.get(key);
    if (!entry || entry.operation !== "PUT" || entry.length === 0) return undefined;
    return decodeJson<ApiKeyRecord>(entry.value);
  }

  private async write(record: ApiKeyRecord): Promise<void> {
    await this.kv.put(hashKey(record.hash), encodeJson(record));
    await this.kv.put(idKey(record.id), encodeJson(record));
  }

  async create(key: ApiKeyRecord): Promise<void> {
    await this.write(key);
  }

  get(id: string): Promise<ApiKeyRecord | undefined> {
    return this.read(idKey(id));
  }

  findByHash(hash: string): Promise<ApiKeyRecord | undefined> {
    return this.read(hashKey(hash));
  }

  private async ids(): Promise<string[]> {
    const ids: string[] = [];
    for await (const key of await this.kv.keys(idKey(">"))) ids.push(key.slice(idKey("").length));
    return ids.sort();
  }

  async list(tenantId: string, includeRevoked: boolean, afterId: string | undefined, limit: number): Promise<ApiKeyRecord[]> {
    const out: ApiKeyRecord[] = [];
    for (const id of await this.ids()) {
      if (afterId !== undefined && id <= afterId) continue;
      const record = await this.get(id);
      if (!record || (tenantId !== "" && record.tenantId !== tenantId) || (!includeRevoked && record.revokedMs !== 0)) continue;
      out.push(record);
      if (out.length >= limit) break;
    }
    return out;
  }

  async revoke(id: string, nowMs: number): Promise<ApiKeyRecord | undefined> {
    const record = await this.get(id);
    if (!record || record.revokedMs !== 0) return record;
    const revoked = { ...record, revokedMs: nowMs };
    await this.write(revoked);
    return revoked;
  }

  async revokeTenant(tenantId: string, nowMs: number): Promise<number> {
    const live = await this.list(tenantId, false, undefined, Number.MAX_SAFE_INTEGER);
    for (const record of live) await this.write({ ...record, revokedMs: nowMs });
    return live.length;
  }

  async any(): Promise<boolean> {
    for await (const _ of await this.kv.keys(idKey(">"))) return true;
    return false;
  }
}
