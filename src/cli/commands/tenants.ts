import { TenantSchema, type Tenant } from "../../gen/hookline/v1/tenant_pb.ts";
import { CONNECTION_FLAGS, JSON_FLAG, connect } from "../api.ts";
import { UsageError, allPages, decimal, requiredText, text, type Command } from "../command.ts";
import { out, printJson, printJsonList } from "../output.ts";

const line = (t: Tenant): string =>
  `${t.id}  ${t.name}  rate=${t.rateLimitPerSecond || "unlimited"}${t.strictEventTypes ? "  strict-event-types" : ""}`;

const ID = [{ name: "TENANT_ID", help: "the tenant" }];

export const tenantCommands: Command[] = [
  {
    name: "tenants list",
    summary: "List tenants (a tenant key sees its own).",
    flags: { ...CONNECTION_FLAGS, ...JSON_FLAG },
    async run({ flags }) {
      const api = connect(flags);
      const all = await allPages(async (pageToken) => {
        const page = await api.tenants.listTenants({ pageSize: 1000, pageToken });
        return { items: page.tenants, nextPageToken: page.nextPageToken };
      });
      if (flags.json) printJsonList("tenants", TenantSchema, all);
      else for (const t of all) out(line(t));
    },
  },
  {
    name: "tenants get",
    summary: "Show one tenant.",
    args: ID,
    flags: { ...CONNECTION_FLAGS, ...JSON_FLAG },
    async run({ flags, args }) {
      const { tenant } = await connect(flags).tenants.getTenant({ id: args[0] as string });
      if (flags.json) printJson(TenantSchema, tenant!);
      else out(line(tenant!));
    },
  },
  {
    name: "tenants create",
    summary: "Create a tenant (admin keys only).",
    flags: {
      ...CONNECTION_FLAGS,
      ...JSON_FLAG,
      name: { type: "string", value: "NAME", help: "tenant name (required)" },
      rate: { type: "string", value: "N", help: "deliveries per second across its endpoints; 0 = unlimited", default: "0" },
      "strict-event-types": { type: "boolean", help: "publish refuses event types missing from its catalog (hookline event-types)" },
    },
    async run({ flags }) {
      const { tenant } = await connect(flags).tenants.createTenant({
        name: requiredText(flags, "name"),
        rateLimitPerSecond: decimal(flags, "rate") ?? 0,
        strictEventTypes: flags["strict-event-types"] === true,
      });
      if (flags.json) printJson(TenantSchema, tenant!);
      else out(line(tenant!));
    },
  },
  {
    name: "tenants update",
    summary: "Change a tenant's name, rate limit or strict_event_types.",
    args: ID,
    flags: {
      ...CONNECTION_FLAGS,
      ...JSON_FLAG,
      name: { type: "string", value: "NAME", help: "new name" },
      rate: { type: "string", value: "N", help: "new rate limit per second; 0 = unlimited" },
      "strict-event-types": { type: "string", value: "true|false", help: "whether publish refuses event types missing from its catalog" },
    },
    async run({ flags, args }) {
      const paths: string[] = [];
      const name = text(flags, "name");
      if (flags.name !== undefined) paths.push("name");
      const rate = decimal(flags, "rate");
      if (rate !== undefined) paths.push("rate_limit_per_second");
      const strict = text(flags, "strict-event-types");
      if (flags["strict-event-types"] !== undefined) {
        if (strict !== "true" && strict !== "false") throw new UsageError(`--strict-event-types must be true or false (got "${strict}")`);
        paths.push("strict_event_types");
      }
      if (paths.length === 0) throw new UsageError("nothing to change: pass --name, --rate or --strict-event-types");
      const { tenant } = await connect(flags).tenants.updateTenant({
        tenant: { id: args[0] as string, name, rateLimitPerSecond: rate ?? 0, strictEventTypes: strict === "true" },
        updateMask: { paths },
      });
      if (flags.json) printJson(TenantSchema, tenant!);
      else out(line(tenant!));
    },
  },
  {
    name: "tenants delete",
    summary: "Delete a tenant (admin keys only). One with endpoints or deliveries needs --force, which cancels its open deliveries.",
    args: ID,
    flags: { ...CONNECTION_FLAGS, force: { type: "boolean", help: "also delete its endpoints and cancel its open deliveries" } },
    async run({ flags, args }) {
      await connect(flags).tenants.deleteTenant({ id: args[0] as string, force: flags.force === true });
      out(`${args[0]} deleted`);
    },
  },
];
