import { newId } from "../core/ids.ts";
import type { Logger } from "../observability/logger.ts";
import type { ApiKeyStore } from "../store/api-key-store.ts";
import { apiKeyPrefix, generateApiKey, hashApiKey } from "./api-key.ts";

/**
 * A fresh install with no --admin-key would have no way in: create the first admin key, print
 * it once on stderr (never to the structured log) and keep only its hash.
 */
export async function ensureFirstAdminKey(keys: ApiKeyStore, configuredAdminKey: string, logger: Logger, nowMs: number): Promise<void> {
  if (configuredAdminKey !== "" || (await keys.any())) return;
  const key = generateApiKey();
  const id = newId("key", nowMs);
  await keys.create({ id, tenantId: "", name: "first admin key", prefix: apiKeyPrefix(key), hash: hashApiKey(key), createdMs: nowMs, revokedMs: 0 });
  process.stderr.write(
    `\nhookline: created the first admin API key. It is shown only now; keep it safe:\n\n  export HOOKLINE_API_KEY=${key}\n\n` +
      `Send it as "authorization: Bearer <key>". Lost it? Restart with --admin-key (or HOOKLINE_ADMIN_KEY) and revoke ${id}.\n\n`,
  );
  logger.warn({ keyId: id }, "created the first admin API key (printed once on stderr)");
}
