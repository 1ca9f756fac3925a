import { newId } from "../../src/core/ids.ts";
import { DEFAULT_RETRY_POLICY } from "../../src/core/retry.ts";
import { generateSecret } from "../../src/core/secrets.ts";
import type { Endpoint } from "../../src/core/types.ts";

/** An endpoint record as the API would store it, for tests and benches that talk to a store directly. */
export function endpointRecord(tenantId: string, fields: Partial<Endpoint> = {}): Endpoint {
  const now = Date.now();
  return {
    id: newId("ep", now),
    tenantId,
    url: "http://127.0.0.1:9/never-called",
    eventTypes: [],
    disabled: false,
    disabledReason: "",
    description: "",
    secret: generateSecret(),
    previousSecret: "",
    previousSecretExpiresMs: 0,
    retryPolicy: DEFAULT_RETRY_POLICY,
    rateLimitPerSecond: 0,
    maxInFlight: 8,
    timeoutMs: 2_000,
    headers: {},
    ordering: "unordered",
    successStatusCodes: [],
    createdMs: now,
    updatedMs: now,
    ...fields,
  };
}
