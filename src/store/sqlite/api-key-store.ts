import type Database from "better-sqlite3";
import type { ApiKeyRecord } from "../../auth/api-key.ts";
import type { ApiKeyStore } from "../api-key-store.ts";

interface Row {
  id: string;
  tenant_id: string;
  name: string;
  prefix: string;
  hash: string;
  created_ms: number;
  revoked_ms: number;
}

const fromRow = (r: Row): ApiKeyRecord => ({
  id: r.id,
  tenantId: r.tenant_id,
  name: r.name,
  prefix: r.prefix,
  hash: r.hash,
  createdMs: r.created_ms,
  revokedMs: r.revoked_ms,
});

/** API keys in the embedded store's api_keys table. */
export class SqliteApiKeyStore implements ApiKeyStore {
  private readonly stmt;

  constructor(db: Database.Database) {
    this.stmt = {
      insert: db.prepare(
        "INSERT INTO api_keys (id, tenant_id, name, prefix, hash, created_ms, revoked_ms) VALUES (@id, @tenantId, @name, @prefix, @hash, @createdMs, @revokedMs)",
      ),
      get: db.prepare("SELECT * FROM api_keys WHERE id = ?"),
      byHash: db.prepare("SELECT * FROM api_keys WHERE hash = ?"),
      listAll: db.prepare("SELECT * FROM api_keys WHERE id > ? AND (? OR revoked_ms = 0) ORDER BY id LIMIT ?"),
      listTenant: db.prepare("SELECT * FROM api_keys WHERE tenant_id = ? AND id > ? AND (? OR revoked_ms = 0) ORDER BY id LIMIT ?"),
      revoke: db.prepare("UPDATE api_keys SET revoked_ms = ? WHERE id = ? AND revoked_ms = 0"),
      revokeTenant: db.prepare("UPDATE api_keys SET revoked_ms = ? WHERE tenant_id = ? AND revoked_ms = 0"),
      any: db.prepare("SELECT 1 FROM api_keys LIMIT 1"),
    };
  }

  async create(key: ApiKeyRecord): Promise<void> {
    this.stmt.insert.run(key);
  }

  async get(id: string): Promise<ApiKeyRecord | undefined> {
    const row = this.stmt.get.get(id) as Row | undefined;
    return row && fromRow(row);
  }

  async findByHash(hash: string): Promise<ApiKeyRecord | undefined> {
    const row = this.stmt.byHash.get(hash) as Row | undefined;
    return row && fromRow(row);
  }

  async list(tenantId: string, includeRevoked: boolean, afterId: string | undefined, limit: number): Promise<ApiKeyRecord[]> {
    const all = includeRevoked ? 1 : 0;
    const rows = (
      tenantId === "" ? this.stmt.listAll.all(afterId ?? "", all, limit) : this.stmt.listTenant.all(tenantId, afterId ?? "", all, limit)
    ) as Row[];
    return rows.map(fromRow);
  }

  async revoke(id: string, nowMs: number): Promise<ApiKeyRecord | undefined> {
    this.stmt.revoke.run(nowMs, id);
    return this.get(id);
  }

  async revokeTenant(tenantId: string, nowMs: number): Promise<number> {
    return this.stmt.revokeTenant.run(nowMs, tenantId).changes;
  }

  async any(): Promise<boolean> {
    return this.stmt.any.get() !== undefined;
  }
}
