import { beforeAll, describe, expect, it } from "vitest";
import { Code } from "@connectrpc/connect";
import { timestampMs } from "@bufbuild/protobuf/wkt";
import { OrderingMode } from "../../src/gen/hookline/v1/endpoint_pb.ts";
import { clients, type Clients, type Protocol } from "../helpers/clients.ts";
import { rejection, violatedFields } from "../helpers/errors.ts";
import { useHookline } from "../helpers/fixtures.ts";

const PROTOCOLS: Protocol[] = ["grpc", "connect-http1", "connect-http2", "grpc-web-http1"];
const ID_BODY = /^[0-9A-HJKMNP-TV-Z]{26}$/;

const { server } = useHookline();

describe.each(PROTOCOLS)("CRUD over %s", (protocol) => {
  let api: Clients;
  beforeAll(() => {
    api = clients(server.baseUrl, protocol);
  });

  describe("tenants", () => {
    it("creates a tenant with a tnt_ id and reads it back", async () => {
      const before = Date.now();
      const { tenant } = await api.tenants.createTenant({
        name: `acme ${protocol}`,
        rateLimitPerSecond: 25,
        metadata: { plan: "gold", region: "eu" },
      });
      expect(tenant).toBeDefined();
      expect(tenant!.id.startsWith("tnt_")).toBe(true);
      expect(tenant!.id.slice(4)).toMatch(ID_BODY);
      expect(tenant!.name).toBe(`acme ${protocol}`);
      expect(tenant!.rateLimitPerSecond).toBe(25);
      expect(tenant!.metadata).toEqual({ plan: "gold", region: "eu" });
      const created = timestampMs(tenant!.createTime!);
      expect(created).toBeGreaterThanOrEqual(before - 1000);
      expect(created).toBeLessThanOrEqual(Date.now() + 1000);

      const got = await api.tenants.getTenant({ id: tenant!.id });
      expect(got.tenant?.id).toBe(tenant!.id);
      expect(got.tenant?.name).toBe(tenant!.name);
      expect(got.tenant?.rateLimitPerSecond).toBe(25);
      expect(got.tenant?.metadata).toEqual({ plan: "gold", region: "eu" });
    });

    it("ids sort by creation and ListTenants pages through them in that order", async () => {
      const created: string[] = [];
      for (let i = 0; i < 7; i++) {
        const { tenant } = await api.tenants.createTenant({ name: `page-${protocol}-${i}` });
        created.push(tenant!.id);
      }
      expect([...created].sort()).toEqual(created);
      expect(new Set(created).size).toBe(created.length);

      // Page through every tenant with a small page size.
      const seen: string[] = [];
      let token = "";
      let pages = 0;
      do {
        const page = await api.tenants.listTenants({ pageSize: 3, pageToken: token });
        pages++;
        expect(page.tenants.length).toBeLessThanOrEqual(3);
        if (page.nextPageToken !== "") expect(page.tenants).toHaveLength(3);
        seen.push(...page.tenants.map((t) => t.id));
        token = page.nextPageToken;
        expect(pages).toBeLessThan(100);
      } while (token !== "");
      expect(pages).toBeGreaterThanOrEqual(3);
      // No duplicates, in id (creation) order, every created tenant present in creation order.
      expect(new Set(seen).size).toBe(seen.length);
      expect([...seen].sort()).toEqual(seen);
      expect(seen.filter((id) => created.includes(id))).toEqual(created);

      // One big page agrees with the paged walk.
      const all = await api.tenants.listTenants({ pageSize: 1000 });
      expect(all.tenants.map((t) => t.id)).toEqual(seen);
      expect(all.nextPageToken).toBe("");
    });

    it("updates only the fields in update_mask and refuses unknown paths", async () => {
      const { tenant } = await api.tenants.createTenant({ name: "before", rateLimitPerSecond: 5, metadata: { a: "1" } });
      const id = tenant!.id;

      const { tenant: renamed } = await api.tenants.updateTenant({
        tenant: { id, name: "after", rateLimitPerSecond: 99, metadata: { b: "2" } },
        updateMask: { paths: ["name"] },
      });
      expect(renamed?.name).toBe("after");
      expect(renamed?.rateLimitPerSecond).toBe(5);
      expect(renamed?.metadata).toEqual({ a: "1" });

      const { tenant: limited } = await api.tenants.updateTenant({
        tenant: { id, rateLimitPerSecond: 42, metadata: { b: "2" } },
        updateMask: { paths: ["rate_limit_per_second", "metadata"] },
      });
      expect(limited?.name).toBe("after");
      expect(limited?.rateLimitPerSecond).toBe(42);
      expect(limited?.metadata).toEqual({ b: "2" });

      const got = await api.tenants.getTenant({ id });
      expect(got.tenant?.name).toBe("after");
      expect(got.tenant?.rateLimitPerSecond).toBe(42);
      expect(got.tenant?.metadata).toEqual({ b: "2" });
      expect(timestampMs(got.tenant!.updateTime!)).toBeGreaterThanOrEqual(timestampMs(got.tenant!.createTime!));

      const err = await rejection(
        api.tenants.updateTenant({ tenant: { id, name: "x" }, updateMask: { paths: ["name", "colour"] } }),
      );
      expect(err.code).toBe(Code.InvalidArgument);
      expect(violatedFields(err)).toContain("update_mask.paths[1]");
      expect(err.rawMessage).toContain("colour");
      // Nothing changed by the refused update.
      expect((await api.tenants.getTenant({ id })).tenant?.name).toBe("after");
    });

    it("concurrent updates of different fields all take effect", async () => {
      const { tenant } = await api.tenants.createTenant({ name: "racing", rateLimitPerSecond: 5, metadata: { a: "1" } });
      const id = tenant!.id;
      await Promise.all([
        api.tenants.updateTenant({ tenant: { id, name: "renamed" }, updateMask: { paths: ["name"] } }),
        api.tenants.updateTenant({ tenant: { id, rateLimitPerSecond: 77 }, updateMask: { paths: ["rate_limit_per_second"] } }),
        api.tenants.updateTenant({ tenant: { id, metadata: { b: "2" } }, updateMask: { paths: ["metadata"] } }),
      ]);
      const { tenant: got } = await api.tenants.getTenant({ id });
      expect(got).toMatchObject({ name: "renamed", rateLimitPerSecond: 77, metadata: { b: "2" } });
    });

    it("deletes a tenant; afterwards it is NOT_FOUND everywhere", async () => {
      const { tenant } = await api.tenants.createTenant({ name: "doomed" });
      const id = tenant!.id;
      await api.tenants.deleteTenant({ id });

      for (const call of [
        () => api.tenants.getTenant({ id }),
        () => api.tenants.deleteTenant({ id }),
        () => api.tenants.updateTenant({ tenant: { id, name: "ghost" }, updateMask: { paths: ["name"] } }),
        () => api.endpoints.createEndpoint({ tenantId: id, url: "http://127.0.0.1:9/hook" }),
      ]) {
        const err = await rejection(call());
        expect(err.code).toBe(Code.NotFound);
      }
      const all = await api.tenants.listTenants({ pageSize: 1000 });
      expect(all.tenants.map((t) => t.id)).not.toContain(id);
    });

    it("an unknown tenant id is NOT_FOUND", async () => {
      const err = await rejection(api.tenants.getTenant({ id: "tnt_01ARZ3NDEKTSV4RRFFQ69G5FAV" }));
      expect(err.code).toBe(Code.NotFound);
    });
  });

  describe("endpoints", () => {
    let tenantId: string;
    beforeAll(async () => {
      const { tenant } = await api.tenants.createTenant({ name: `endpoints ${protocol}` });
      tenantId = tenant!.id;
    });

    it("creates an endpoint with an ep_ id and a whsec_ secret that Get never returns, nor header values", async () => {
      const { endpoint } = await api.endpoints.createEndpoint({
        tenantId,
        url: "http://127.0.0.1:9/hook",
        eventTypes: ["invoice.paid", "customer.*"],
        description: "billing",
        headers: { "X-Team": "billing" },
        maxInFlight: 4,
        rateLimitPerSecond: 10,
        timeout: { seconds: 5n },
        ordering: OrderingMode.ORDERED_BY_KEY,
        retryPolicy: { maxAttempts: 5, initialBackoff: { seconds: 1n }, maxBackoff: { seconds: 60n } },
      });
      expect(endpoint).toBeDefined();
      expect(endpoint!.id.startsWith("ep_")).toBe(true);
      expect(endpoint!.id.slice(3)).toMatch(ID_BODY);
      expect(endpoint!.tenantId).toBe(tenantId);
      expect(endpoint!.secret).toMatch(/^whsec_[A-Za-z0-9+/]+={0,2}$/);
      expect(Buffer.from(endpoint!.secret.slice(6), "base64").length).toBeGreaterThanOrEqual(24);

      const { endpoint: got } = await api.endpoints.getEndpoint({ id: endpoint!.id });
      expect(got?.secret).toBe("");
      expect(got?.url).toBe("http://127.0.0.1:9/hook");
      expect(got?.eventTypes).toEqual(["invoice.paid", "customer.*"]);
      expect(got?.description).toBe("billing");
      expect(endpoint!.headers).toEqual({ "x-team": "billing" });
      expect(got?.headers).toEqual({ "x-team": "<redacted>" });
      expect(got?.maxInFlight).toBe(4);
      expect(got?.rateLimitPerSecond).toBe(10);
      expect(got?.timeout?.seconds).toBe(5n);
      expect(got?.ordering).toBe(OrderingMode.ORDERED_BY_KEY);
      expect(got?.retryPolicy?.maxAttempts).toBe(5);
      expect(got?.retryPolicy?.initialBackoff?.seconds).toBe(1n);
      expect(got?.retryPolicy?.maxBackoff?.seconds).toBe(60n);
      expect(got?.disabled).toBe(false);

      const listed = await api.endpoints.listEndpoints({ tenantId });
      for (const e of listed.endpoints) expect(e.secret).toBe("");
    });

    it("lists a tenant's endpoints in creation order across several pages", async () => {
      const { tenant } = await api.tenants.createTenant({ name: `paging ${protocol}` });
      const own = tenant!.id;
      const created: string[] = [];
      for (let i = 0; i < 5; i++) {
        const { endpoint } = await api.endpoints.createEndpoint({ tenantId: own, url: `http://127.0.0.1:9/hook/${i}` });
        created.push(endpoint!.id);
      }
      expect([...created].sort()).toEqual(created);

      const seen: string[] = [];
      const sizes: number[] = [];
      let token = "";
      do {
        const page = await api.endpoints.listEndpoints({ tenantId: own, pageSize: 2, pageToken: token });
        sizes.push(page.endpoints.length);
        for (const e of page.endpoints) {
          expect(e.tenantId).toBe(own);
          expect(e.secret).toBe("");
        }
        seen.push(...page.endpoints.map((e) => e.id));
        token = page.nextPageToken;
        expect(sizes.length).toBeLessThan(10);
      } while (token !== "");
      expect(sizes).toEqual([2, 2, 1]);
      expect(seen).toEqual(created);

      // Without a tenant filter the list spans tenants but still holds these, in order.
      const everything: string[] = [];
      token = "";
      do {
        const page = await api.endpoints.listEndpoints({ pageSize: 4, pageToken: token });
        everything.push(...page.endpoints.map((e) => e.id));
        token = page.nextPageToken;
      } while (token !== "");
      expect([...everything].sort()).toEqual(everything);
      expect(everything.filter((id) => created.includes(id))).toEqual(created);

      // A tenants page token is not an endpoints page token.
      const tenantPage = await api.tenants.listTenants({ pageSize: 1 });
      expect(tenantPage.nextPageToken).not.toBe("");
      const err = await rejection(api.endpoints.listEndpoints({ tenantId: own, pageToken: tenantPage.nextPageToken }));
      expect(err.code).toBe(Code.InvalidArgument);
      expect(violatedFields(err)).toContain("page_token");
    });

    it("updates the fields in update_mask only; an empty or unknown mask is refused", async () => {
      const { endpoint } = await api.endpoints.createEndpoint({
        tenantId,
        url: "http://127.0.0.1:9/old",
        eventTypes: ["a.b"],
        description: "keep me",
      });
      const id = endpoint!.id;

      const { endpoint: updated } = await api.endpoints.updateEndpoint({
        endpoint: { id, url: "http://127.0.0.1:9/new", description: "ignored", disabled: true, disabledReason: "maintenance" },
        updateMask: { paths: ["url", "disabled"] },
      });
      expect(updated?.url).toBe("http://127.0.0.1:9/new");
      expect(updated?.disabled).toBe(true);
      expect(updated?.disabledReason).toBe("maintenance");
      expect(updated?.description).toBe("keep me");
      expect(updated?.eventTypes).toEqual(["a.b"]);
      expect(updated?.secret).toBe("");

      const { endpoint: got } = await api.endpoints.getEndpoint({ id });
      expect(got?.url).toBe("http://127.0.0.1:9/new");
      expect(got?.disabled).toBe(true);
      expect(got?.description).toBe("keep me");

      const { endpoint: enabled } = await api.endpoints.updateEndpoint({
        endpoint: { id, disabled: false, eventTypes: ["x.*"] },
        updateMask: { paths: ["disabled", "event_types"] },
      });
      expect(enabled?.disabled).toBe(false);
      expect(enabled?.disabledReason).toBe("");
      expect(enabled?.eventTypes).toEqual(["x.*"]);

      const unknown = await rejection(
        api.endpoints.updateEndpoint({ endpoint: { id, url: "http://127.0.0.1:9/z" }, updateMask: { paths: ["secret"] } }),
      );
      expect(unknown.code).toBe(Code.InvalidArgument);
      expect(violatedFields(unknown)).toContain("update_mask.paths[0]");

      const empty = await rejection(api.endpoints.updateEndpoint({ endpoint: { id, url: "http://127.0.0.1:9/z" } }));
      expect(empty.code).toBe(Code.InvalidArgument);
      expect(violatedFields(empty)).toContain("update_mask");

      expect((await api.endpoints.getEndpoint({ id })).endpoint?.url).toBe("http://127.0.0.1:9/new");
    });

    it("concurrent updates of different fields, and a rotation, all take effect", async () => {
      const { endpoint } = await api.endpoints.createEndpoint({ tenantId, url: "http://127.0.0.1:9/race", eventTypes: ["a.b"], disabled: true });
      const id = endpoint!.id;
      const update = (fields: Parameters<Clients["endpoints"]["updateEndpoint"]>[0]["endpoint"] & object, path: string) =>
        api.endpoints.updateEndpoint({ endpoint: { ...fields, id }, updateMask: { paths: [path] } });
      const [, , , , , rotated] = await Promise.all([
        update({ description: "raced" }, "description"),
        update({ eventTypes: ["x.*"] }, "event_types"),
        update({ rateLimitPerSecond: 33 }, "rate_limit_per_second"),
        update({ maxInFlight: 7 }, "max_in_flight"),
        update({ headers: { "X-Race": "1" } }, "headers"),
        api.endpoints.rotateEndpointSecret({ id, gracePeriod: { seconds: 0n } }),
      ]);
      const { endpoint: got } = await api.endpoints.getEndpoint({ id });
      expect(got).toMatchObject({ description: "raced", eventTypes: ["x.*"], rateLimitPerSecond: 33, maxInFlight: 7, headers: { "x-race": "<redacted>" }, disabled: true });
      // Get never shows the secret; the rotation itself answered with a new one.
      expect(rotated.endpoint?.secret).not.toBe(endpoint!.secret);
    });

    it("RotateEndpointSecret returns a new whsec_ secret; Get still hides it", async () => {
      const { endpoint } = await api.endpoints.createEndpoint({ tenantId, url: "http://127.0.0.1:9/rotate" });
      const first = endpoint!.secret;
      const { endpoint: rotated } = await api.endpoints.rotateEndpointSecret({ id: endpoint!.id });
      expect(rotated?.id).toBe(endpoint!.id);
      expect(rotated?.secret).toMatch(/^whsec_[A-Za-z0-9+/]+={0,2}$/);
      expect(rotated?.secret).not.toBe(first);

      const chosen = "whsec_" + Buffer.alloc(32, 7).toString("base64");
      const { endpoint: explicit } = await api.endpoints.rotateEndpointSecret({ id: endpoint!.id, secret: chosen });
      expect(explicit?.secret).toBe(chosen);

      expect((await api.endpoints.getEndpoint({ id: endpoint!.id })).endpoint?.secret).toBe("");
    });

    it("deletes an endpoint; afterwards it is NOT_FOUND", async () => {
      const { endpoint } = await api.endpoints.createEndpoint({ tenantId, url: "http://127.0.0.1:9/gone" });
      const id = endpoint!.id;
      await api.endpoints.deleteEndpoint({ id });

      for (const call of [
        () => api.endpoints.getEndpoint({ id }),
        () => api.endpoints.deleteEndpoint({ id }),
        () => api.endpoints.rotateEndpointSecret({ id }),
        () => api.endpoints.updateEndpoint({ endpoint: { id, description: "x" }, updateMask: { paths: ["description"] } }),
      ]) {
        expect((await rejection(call())).code).toBe(Code.NotFound);
      }
      const listed = await api.endpoints.listEndpoints({ tenantId, pageSize: 1000 });
      expect(listed.endpoints.map((e) => e.id)).not.toContain(id);
    });

    it("deleting a tenant with endpoints needs force, and then removes them", async () => {
      const { tenant } = await api.tenants.createTenant({ name: "with endpoints" });
      const { endpoint } = await api.endpoints.createEndpoint({ tenantId: tenant!.id, url: "http://127.0.0.1:9/t" });
      const refused = await rejection(api.tenants.deleteTenant({ id: tenant!.id }));
      expect(refused.code).toBe(Code.FailedPrecondition);
      expect(refused.rawMessage).toMatch(/force/);
      expect((await api.endpoints.getEndpoint({ id: endpoint!.id })).endpoint?.id).toBe(endpoint!.id);
      await api.tenants.deleteTenant({ id: tenant!.id, force: true });
      expect((await rejection(api.endpoints.getEndpoint({ id: endpoint!.id }))).code).toBe(Code.NotFound);
      expect((await rejection(api.endpoints.listEndpoints({ tenantId: tenant!.id }))).code).toBe(Code.NotFound);
    });
  });
});
