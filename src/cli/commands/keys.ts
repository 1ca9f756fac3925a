import { ApiKeySchema, CreateApiKeyResponseSchema, type ApiKey } from "../../gen/hookline/v1/api_key_pb.ts";
import { CONNECTION_FLAGS, JSON_FLAG, connect } from "../api.ts";
import { allPages, requiredText, text, type Command } from "../command.ts";
import { iso, out, printJson, printJsonList } from "../output.ts";

function line(k: ApiKey): string {
  const state = k.revokeTime ? `revoked ${iso(k.revokeTime)}` : "active";
  return `${k.id}  ${k.prefix}…  ${k.tenantId || "admin"}  ${state}  ${k.name}`;
}

export const keyCommands: Command[] = [
  {
    name: "keys list",
    summary: "List API keys (never the keys themselves).",
    flags: {
      ...CONNECTION_FLAGS,
      ...JSON_FLAG,
      tenant: { type: "string", value: "ID", help: "only this tenant's keys" },
      all: { type: "boolean", help: "include revoked keys" },
    },
    async run({ flags }) {
      const api = connect(flags);
      const all = await allPages(async (pageToken) => {
        const page = await api.keys.listApiKeys({ tenantId: text(flags, "tenant"), includeRevoked: flags.all === true, pageSize: 1000, pageToken });
        return { items: page.apiKeys, nextPageToken: page.nextPageToken };
      });
      if (flags.json) printJsonList("apiKeys", ApiKeySchema, all);
      else for (const k of all) out(line(k));
    },
  },
  {
    name: "keys create",
    summary: "Create an API key: a tenant key with --tenant, else an admin key. The key is printed only now.",
    flags: {
      ...CONNECTION_FLAGS,
      ...JSON_FLAG,
      name: { type: "string", value: "NAME", help: "label for people (required)" },
      tenant: { type: "string", value: "ID", help: "the tenant the key acts for; omit for an admin key" },
    },
    async run({ flags }) {
      const res = await connect(flags).keys.createApiKey({ tenantId: text(flags, "tenant"), name: requiredText(flags, "name") });
      if (flags.json) printJson(CreateApiKeyResponseSchema, res);
      else out(`${line(res.apiKey!)}\nkey: ${res.key}\n(shown only now)`);
    },
  },
  {
    name: "keys revoke",
    summary: "Revoke an API key; every process refuses it within seconds.",
    args: [{ name: "KEY_ID", help: "the key's id (key_…)" }],
    flags: { ...CONNECTION_FLAGS, ...JSON_FLAG },
    async run({ flags, args }) {
      const { apiKey } = await connect(flags).keys.revokeApiKey({ id: args[0] as string });
      if (flags.json) printJson(ApiKeySchema, apiKey!);
      else out(line(apiKey!));
    },
  },
];

