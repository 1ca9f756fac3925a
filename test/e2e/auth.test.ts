import { describe, expect, it } from "vitest";
import * as grpc from "@grpc/grpc-js";
import * as protoLoader from "@grpc/proto-loader";
import { Code, createClient } from "@connectrpc/connect";
import { createConnectTransport, createGrpcTransport } from "@connectrpc/connect-node";
import { ApiKeyService } from "../../src/gen/hookline/v1/api_key_pb.ts";
import { Health } from "../../src/gen/grpc/health/v1/health_pb.ts";
import { TEST_ADMIN_KEY, authHeaders } from "../helpers/auth.ts";
import { bearer, clients, json, type Clients, type Protocol } from "../helpers/clients.ts";
import { codeOf, rejection } from "../helpers/errors.ts";
import { useHookline } from "../helpers/fixtures.ts";
import { grpcJsBearer } from "../helpers/grpc-js.ts";
import { eventually } from "../helpers/receiver.ts";
import { startNats, type NatsServer } from "../helpers/nats.ts";
import { runCli, startServer, testBackend } from "../helpers/server.ts";

const { server, api, receiver } = useHookline({ args: ["--api-key-cache", "500ms"] });

const keysClient = (key: string) => createClient(ApiKeyService, createGrpcTransport({ baseUrl: server.baseUrl, interceptors: [bearer(key)] }));

/** Two tenants, an endpoint each, and a tenant key for the first. */
async function twoTenants(label: string) {
  const rx = await receiver();
  const mine = (await api.tenants.createTenant({ name: `${label} mine` })).tenant!.id;
  const theirs = (await api.tenants.createTenant({ name: `${label} theirs` })).tenant!.id;
  const myEp = (await api.endpoints.createEndpoint({ tenantId: mine, url: rx.url, headers: { authorization: "Bearer receiver-token" } })).endpoint!;
  const theirEp = (await api.endpoints.createEndpoint({ tenantId: theirs, url: rx.url })).endpoint!;
  const created = await keysClient(TEST_ADMIN_KEY).createApiKey({ tenantId: mine, name: `${label} key` });
  return { rx, mine, theirs, myEp, theirEp, key: created.key, keyId: created.apiKey!.id };
}

describe.each<Protocol>(["grpc", "connect-http1"])("the auth matrix over %s", (protocol) => {
  it("refuses calls without a key or with a wrong key as UNAUTHENTICATED, and leaves health open", async () => {
    for (const key of ["", "hk_wrong", `${TEST_ADMIN_KEY}x`]) {
      const anon = clients(server.baseUrl, protocol, key);
      const err = await rejection(anon.tenants.listTenants({}));
      expect(err.code, `key "${key}"`).toBe(Code.Unauthenticated);
      expect(err.rawMessage).toMatch(key === "" ? /missing API key/ : /invalid or revoked API key/);
    }
    const health = createClient(Health, createGrpcTransport({ baseUrl: server.baseUrl }));
    expect((await health.check({ service: "" })).status).toBe(1);
  });

  it("lets an admin key do everything and a tenant key only its own tenant", async () => {
    const { mine, theirs, myEp, theirEp, key } = await twoTenants(protocol);
    const tenantApi: Clients = clients(server.baseUrl, protocol, key);

    // Own tenant: reads, endpoint changes, publish and deliveries.
    expect((await tenantApi.tenants.getTenant({ id: mine })).tenant?.id).toBe(mine);
    expect((await tenantApi.tenants.listTenants({})).tenants.map((t) => t.id)).toEqual([mine]);
    expect((await tenantApi.endpoints.listEndpoints({})).endpoints.map((e) => e.id)).toEqual([myEp.id]);
    const { results } = await tenantApi.events.publish({ events: [{ tenantId: mine, type: "auth.ok", payload: json({ ok: 1 }) }] });
    await eventually(async () => (await tenantApi.deliveries.listDeliveries({ eventId: results[0]!.eventId })).deliveries.length === 1, 10_000, "own delivery listed");
    const rotated = await tenantApi.endpoints.rotateEndpointSecret({ id: myEp.id });
    expect(rotated.endpoint?.secret).toMatch(/^whsec_/);

    // Another tenant's ids look like missing ones; naming another tenant is refused.
    for (const call of [
      () => tenantApi.tenants.getTenant({ id: theirs }),
      () => tenantApi.endpoints.getEndpoint({ id: theirEp.id }),
      () => tenantApi.endpoints.rotateEndpointSecret({ id: theirEp.id }),
      () => tenantApi.endpoints.updateEndpoint({ endpoint: { id: theirEp.id, url: "http://127.0.0.1:1/steal" }, updateMask: { paths: ["url"] } }),
      () => tenantApi.endpoints.deleteEndpoint({ id: theirEp.id }),
      () => tenantApi.deliveries.replayDeliveries({ endpointId: theirEp.id }),
    ]) {
      expect((await rejection(call())).code).toBe(Code.NotFound);
    }
    const theirEvent = (await api.events.publish({ events: [{ tenantId: theirs, type: "auth.theirs", payload: json({ secret: true }) }] })).results[0]!.eventId;
    expect((await rejection(tenantApi.events.getEvent({ id: theirEvent }))).code).toBe(Code.NotFound);
    const theirDelivery = await eventually(async () => (await api.deliveries.listDeliveries({ eventId: theirEvent })).deliveries[0], 10_000, "their delivery");
    expect((await rejection(tenantApi.deliveries.getDelivery({ id: theirDelivery.id }))).code).toBe(Code.NotFound);
    expect((await rejection(tenantApi.deliveries.listAttempts({ deliveryId: theirDelivery.id }))).code).toBe(Code.NotFound);
    expect((await rejection(tenantApi.deliveries.retryDelivery({ id: theirDelivery.id }))).code).toBe(Code.NotFound);

    const forged = await rejection(tenantApi.events.publish({ events: [{ tenantId: theirs, type: "forged", payload: json({}) }] }));
    expect(forged.code).toBe(Code.PermissionDenied);
    expect(forged.rawMessage).toMatch(/tenant_id/);
    expect((await rejection(tenantApi.endpoints.createEndpoint({ tenantId: theirs, url: "http://127.0.0.1:1/x" }))).code).toBe(Code.PermissionDenied);
    expect((await rejection(tenantApi.endpoints.listEndpoints({ tenantId: theirs }))).code).toBe(Code.PermissionDenied);
    expect((await rejection(tenantApi.deliveries.listDeliveries({ tenantId: theirs }))).code).toBe(Code.PermissionDenied);
    // Unfiltered lists are scoped to the key's tenant.
    const listed = await tenantApi.deliveries.listDeliveries({ pageSize: 1000 });
    expect(listed.deliveries.every((d) => d.tenantId === mine)).toBe(true);

    // Admin-only operations.
    expect((await rejection(tenantApi.tenants.createTenant({ name: "nope" }))).code).toBe(Code.PermissionDenied);
    expect((await rejection(tenantApi.tenants.deleteTenant({ id: mine }))).code).toBe(Code.PermissionDenied);
    const keys = createClient(ApiKeyService, createConnectTransport({ baseUrl: server.baseUrl, httpVersion: "1.1", interceptors: [bearer(key)] }));
    expect((await rejection(keys.createApiKey({ tenantId: mine, name: "more" }))).code).toBe(Code.PermissionDenied);
    expect((await keys.listApiKeys({})).apiKeys.every((k) => k.tenantId === mine)).toBe(true);

    // The admin key sees both tenants.
    const all = (await api.tenants.listTenants({ pageSize: 1000 })).tenants.map((t) => t.id);
    expect(all).toEqual(expect.arrayContaining([mine, theirs]));
  });

  it("stops a revoked key within the cache time", async () => {
    const { mine, key, keyId } = await twoTenants(`${protocol} revoke`);
    const tenantApi = clients(server.baseUrl, protocol, key);
    expect((await tenantApi.tenants.getTenant({ id: mine })).tenant?.id).toBe(mine);
    const revoked = await keysClient(TEST_ADMIN_KEY).revokeApiKey({ id: keyId });
    expect(revoked.apiKey?.revokeTime).toBeDefined();
    await eventually(async () => (await codeOf(tenantApi.tenants.getTenant({ id: mine }))) === Code.Unauthenticated, 5_000, "revoked key refused");
    const listed = await keysClient(TEST_ADMIN_KEY).listApiKeys({ tenantId: mine });
    expect(listed.apiKeys.map((k) => k.id)).not.toContain(keyId);
    const withRevoked = await keysClient(TEST_ADMIN_KEY).listApiKeys({ tenantId: mine, includeRevoked: true });
    expect(withRevoked.apiKeys.find((k) => k.id === keyId)?.revokeTime).toBeDefined();
  });
});

describe("secrets in reads", () => {
  it("never shows the signing secret or custom header values after create; a masked value sent back keeps the stored one", async () => {
    const { myEp, rx, mine } = await twoTenants("masking");
    expect(myEp.headers).toEqual({ authorization: "Bearer receiver-token" });
    const got = (await api.endpoints.getEndpoint({ id: myEp.id })).endpoint!;
    expect(got.secret).toBe("");
    expect(got.headers).toEqual({ authorization: "<redacted>" });
    const listed = (await api.endpoints.listEndpoints({ tenantId: mine })).endpoints[0]!;
    expect(listed.headers).toEqual({ authorization: "<redacted>" });

    // A read-modify-write round trip keeps the real value.
    await api.endpoints.updateEndpoint({ endpoint: { ...got, headers: { ...got.headers, "x-extra": "1" } }, updateMask: { paths: ["headers"] } });
    await api.events.publish({ events: [{ tenantId: mine, type: "masking.check", payload: json({ n: 1 }) }] });
    await rx.waitFor((r) => r.length >= 1, 10_000);
    const [req] = rx.requests;
    expect(req?.headers.authorization).toBe("Bearer receiver-token");
    expect(req?.headers["x-extra"]).toBe("1");
  });
});

describe("grpc-js and the CLI", () => {
  it("grpc-js: no key is UNAUTHENTICATED, a tenant key on another tenant is PERMISSION_DENIED or NOT_FOUND", async () => {
    const { mine, theirs, theirEp, key } = await twoTenants("grpc-js");
    const definition = await protoLoader.load(["hookline/v1/tenant.proto", "hookline/v1/endpoint.proto", "hookline/v1/event.proto"], {
      includeDirs: [new URL("../../proto/", import.meta.url).pathname],
      keepCase: true,
      longs: String,
      enums: String,
    });
    const pkg = grpc.loadPackageDefinition(definition) as unknown as { hookline: { v1: Record<string, grpc.ServiceClientConstructor> } };
    const stub = (service: string, k: string) => new pkg.hookline.v1[service]!(`127.0.0.1:${server.port}`, grpc.credentials.createInsecure(), { interceptors: [grpcJsBearer(k)] });
    const call = (client: grpc.Client, method: string, req: object) =>
      new Promise<{ code: number; res?: Record<string, any> }>((resolve) =>
        (client as unknown as Record<string, Function>)[method]!.call(client, req, (err: grpc.ServiceError | null, res: Record<string, any>) =>
          resolve(err ? { code: err.code } : { code: 0, res }),
        ),
      );
    const clientsMade: grpc.Client[] = [];
    const make = (service: string, k: string) => {
      const c = stub(service, k);
      clientsMade.push(c);
      return c;
    };
    try {
      expect((await call(make("TenantService", ""), "ListTenants", {})).code).toBe(grpc.status.UNAUTHENTICATED);
      expect((await call(make("TenantService", "hk_nope"), "ListTenants", {})).code).toBe(grpc.status.UNAUTHENTICATED);
      const admin = await call(make("TenantService", TEST_ADMIN_KEY), "ListTenants", { page_size: 1000 });
      expect(admin.res?.tenants.map((t: { id: string }) => t.id)).toEqual(expect.arrayContaining([mine, theirs]));
      const own = await call(make("TenantService", key), "GetTenant", { id: mine });
      expect(own.res?.tenant.id).toBe(mine);
      expect((await call(make("EndpointService", key), "GetEndpoint", { id: theirEp.id })).code).toBe(grpc.status.NOT_FOUND);
      const forged = await call(make("EventService", key), "Publish", { events: [{ tenant_id: theirs, type: "x", payload: Buffer.from("{}") }] });
      expect(forged.code).toBe(grpc.status.PERMISSION_DENIED);
    } finally {
      for (const c of clientsMade) c.close();
    }
  });

  it("CLI: reads HOOKLINE_API_KEY, refuses without one, and manages keys", async () => {
    const env = { HOOKLINE_SERVER: server.baseUrl };
    const none = await runCli(["tenants"], { ...env, HOOKLINE_API_KEY: "" });
    expect(none.code).not.toBe(0);
    expect(none.stderr).toMatch(/HOOKLINE_API_KEY/);
    const wrong = await runCli(["tenants"], { ...env, HOOKLINE_API_KEY: "hk_wrong" });
    expect(wrong.code).not.toBe(0);
    expect(wrong.stderr).toMatch(/unauthenticated|API key/i);

    const { mine, theirs } = await twoTenants("cli");
    const created = await runCli(["keys", "create", "--tenant", mine, "--name", "cli key"], env);
    expect(created.code, created.stderr).toBe(0);
    const key = /key: (\S+)/.exec(created.stdout)?.[1];
    const keyId = /^(key_\S+)/.exec(created.stdout)?.[1];
    expect(key).toMatch(/^hk_/);
    const asTenant = await runCli(["tenants"], { ...env, HOOKLINE_API_KEY: key! });
    expect(asTenant.code, asTenant.stderr).toBe(0);
    expect(asTenant.stdout).toContain(mine);
    expect(asTenant.stdout).not.toContain(theirs);
    const otherTenant = await runCli(["endpoints", "--tenant", theirs], { ...env, HOOKLINE_API_KEY: key! });
    expect(otherTenant.code).not.toBe(0);
    expect(otherTenant.stderr).toMatch(/permission_denied|acts for tenant/i);

    const revoked = await runCli(["keys", "revoke", keyId!], env);
    expect(revoked.code, revoked.stderr).toBe(0);
    expect(revoked.stdout).toMatch(/revoked/);
    await eventually(async () => (await runCli(["tenants"], { ...env, HOOKLINE_API_KEY: key! })).code !== 0, 10_000, "revoked key refused by the CLI");
  });
});

describe("first start without --admin-key", () => {
  it("creates one admin key, prints it once on stderr, never logs it, and accepts it", async () => {
    // Both starts share one store: the data dir, or one nats-server.
    const nats: NatsServer | undefined = testBackend() === "jetstream" ? await startNats() : undefined;
    const shared = nats ? { natsUrl: nats.url } : {};
    const first = await startServer({ adminKey: "", ...shared });
    try {
      const printed = await eventually(async () => /HOOKLINE_API_KEY=(hk_\S+)/.exec(first.stderr())?.[1], 5_000, "key printed");
      expect(JSON.stringify(first.logs)).not.toContain(printed);
      const admin = clients(first.baseUrl, "grpc", printed);
      expect((await admin.tenants.createTenant({ name: "bootstrapped" })).tenant?.id).toMatch(/^tnt_/);
      const res = await fetch(`${first.baseUrl}/hookline.v1.TenantService/ListTenants`, {
        method: "POST",
        headers: { "content-type": "application/json", ...authHeaders(printed) },
        body: "{}",
      });
      expect(res.status).toBe(200);
      await first.stop();

      const second = await startServer({ adminKey: "", dataDir: first.dataDir, ...shared });
      try {
        await second.stop();
        expect(second.stderr()).not.toMatch(/HOOKLINE_API_KEY=/);
      } finally {
        second.cleanup();
      }
    } finally {
      await first.stop();
      first.cleanup();
      await nats?.stop();
    }
  });
});
