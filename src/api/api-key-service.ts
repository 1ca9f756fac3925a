import type { ServiceImpl } from "@connectrpc/connect";
import { apiKeyPrefix, generateApiKey, hashApiKey, type ApiKeyRecord } from "../auth/api-key.ts";
import type { Authenticator } from "../auth/authenticator.ts";
import { principalOf, requireAdmin, requireVisible, scopedTenant } from "../auth/principal.ts";
import { notFound } from "../core/errors.ts";
import { newId } from "../core/ids.ts";
import { checkName, requireNonEmpty } from "../core/validation.ts";
import { ApiKeyService } from "../gen/hookline/v1/api_key_pb.ts";
import { apiKeyToProto } from "./convert.ts";
import type { ServiceDeps } from "./deps.ts";
import { paginate } from "./paging.ts";

export function apiKeyService({ store, catalog, now, logger, auth }: ServiceDeps & { auth: Authenticator }): ServiceImpl<typeof ApiKeyService> {
  return {
    async createApiKey(req, ctx) {
      const caller = principalOf(ctx);
      requireAdmin(caller, "create API keys");
      if (req.tenantId !== "" && !catalog.tenant(req.tenantId)) throw notFound("tenant", req.tenantId);
      const key = generateApiKey();
      const createdMs = now();
      const record: ApiKeyRecord = {
        id: newId("key", createdMs),
        tenantId: req.tenantId,
        name: checkName("name", req.name),
        prefix: apiKeyPrefix(key),
        hash: hashApiKey(key),
        createdMs,
        revokedMs: 0,
      };
      await store.apiKeys.create(record);
      logger.info({ keyId: record.id, tenantId: record.tenantId || undefined, by: caller.keyId }, "API key created");
      return { apiKey: apiKeyToProto(record), key };
    },

    async listApiKeys(req, ctx) {
      const tenantId = scopedTenant(principalOf(ctx), "tenant_id", req.tenantId);
      const page = await paginate(
        "api_keys",
        req,
        (after, limit) => store.apiKeys.list(tenantId, req.includeRevoked, after, limit),
        apiKeyToProto,
      );
      return { apiKeys: page.items, nextPageToken: page.nextPageToken };
    },

    async revokeApiKey(req, ctx) {
      const caller = principalOf(ctx);
      requireNonEmpty("id", req.id);
      const existing = await store.apiKeys.get(req.id);
      if (!existing) throw notFound("API key", req.id);
      requireVisible(caller, "API key", req.id, existing.tenantId);
      const revoked = (await store.apiKeys.revoke(req.id, now())) ?? existing;
      auth.forget(existing.hash);
      logger.info({ keyId: req.id, by: caller.keyId }, "API key revoked");
      return { apiKey: apiKeyToProto(revoked) };
    },
  };
}
