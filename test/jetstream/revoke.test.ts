import { afterAll, describe, expect, it } from "vitest";
import { Code, createClient } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import { ApiKeyService } from "../../src/gen/hookline/v1/api_key_pb.ts";
import { TEST_ADMIN_KEY } from "../helpers/auth.ts";
import { bearer, clients } from "../helpers/clients.ts";
import { codeOf } from "../helpers/errors.ts";
import { startNats, type NatsServer } from "../helpers/nats.ts";
import { eventually } from "../helpers/receiver.ts";
import { startServer, type ServerProcess } from "../helpers/server.ts";

describe("API keys on two hookline processes sharing NATS", () => {
  const started: { nats?: NatsServer; servers: ServerProcess[] } = { servers: [] };
  afterAll(async () => {
    for (const s of started.servers) await s.stop().catch(() => undefined);
    await started.nats?.stop();
  });

  it("a key created on one works on the other, and a revoke on one stops it on the other within seconds", async () => {
    const nats = (started.nats = await startNats());
    const a = await startServer({ backend: "jetstream", natsUrl: nats.url });
    const b = await startServer({ backend: "jetstream", natsUrl: nats.url });
    started.servers.push(a, b);
    const tenantId = (await clients(a.baseUrl).tenants.createTenant({ name: "shared keys" })).tenant!.id;
    const keysOnA = createClient(ApiKeyService, createGrpcTransport({ baseUrl: a.baseUrl, interceptors: [bearer(TEST_ADMIN_KEY)] }));
    const { key, apiKey } = await keysOnA.createApiKey({ tenantId, name: "shared" });
    const onB = clients(b.baseUrl, "grpc", key);
    const seen = await eventually(async () => (await onB.tenants.getTenant({ id: tenantId }).catch(() => undefined))?.tenant, 5_000, "tenant read on B");
    expect(seen.id).toBe(tenantId);

    await keysOnA.revokeApiKey({ id: apiKey!.id });
    const revokedAt = Date.now();
    await eventually(async () => (await codeOf(onB.tenants.getTenant({ id: tenantId }))) === Code.Unauthenticated, 10_000, "revoked on B");
    // The default lookup cache is 2 s: a revoke reaches every process within it.
    expect(Date.now() - revokedAt).toBeLessThan(5_000);
  });
});
