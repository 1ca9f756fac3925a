import { createClient, type Client } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import { ApiKeyService } from "../gen/hookline/v1/api_key_pb.ts";
import { DeliveryService } from "../gen/hookline/v1/delivery_pb.ts";
import { EndpointService } from "../gen/hookline/v1/endpoint_pb.ts";
import { EventService } from "../gen/hookline/v1/event_pb.ts";
import { EventTypeService } from "../gen/hookline/v1/event_type_pb.ts";
import { TenantService } from "../gen/hookline/v1/tenant_pb.ts";
import { UsageError, text, type Flag, type FlagValues } from "./command.ts";

/** Flags every command that talks to a server takes. */
export const CONNECTION_FLAGS: Record<string, Flag> = {
  server: { type: "string", value: "URL", help: "hookline server (env HOOKLINE_SERVER)", default: "http://127.0.0.1:8080" },
  "api-key": { type: "string", value: "KEY", help: "API key (env HOOKLINE_API_KEY)" },
};

/** Read commands also print JSON. */
export const JSON_FLAG: Record<string, Flag> = { json: { type: "boolean", help: "print JSON (protobuf JSON mapping) instead of text" } };

export interface Api {
  tenants: Client<typeof TenantService>;
  endpoints: Client<typeof EndpointService>;
  events: Client<typeof EventService>;
  deliveries: Client<typeof DeliveryService>;
  keys: Client<typeof ApiKeyService>;
  eventTypes: Client<typeof EventTypeService>;
}

/** Generated gRPC clients of the server the flags or environment name, sending the API key. */
export function connect(flags: FlagValues): Api {
  const baseUrl = text(flags, "server", process.env.HOOKLINE_SERVER || "http://127.0.0.1:8080");
  if (!/^https?:\/\/[^\s/]+/.test(baseUrl)) throw new UsageError(`--server must be an http:// or https:// URL (got "${baseUrl}")`);
  const key = text(flags, "api-key", process.env.HOOKLINE_API_KEY ?? "");
  if (key === "") throw new UsageError("no API key: set HOOKLINE_API_KEY (or pass --api-key KEY); the server printed the first admin key when it first started");
  const transport = createGrpcTransport({
    baseUrl,
    interceptors: [
      (next) => async (req) => {
        req.header.set("authorization", `Bearer ${key}`);
        return next(req);
      },
    ],
  });
  return {
    tenants: createClient(TenantService, transport),
    endpoints: createClient(EndpointService, transport),
    events: createClient(EventService, transport),
    deliveries: createClient(DeliveryService, transport),
    keys: createClient(ApiKeyService, transport),
    eventTypes: createClient(EventTypeService, transport),
  };
}
