// The generated hookline clients over the Connect protocol, on the origin that served the console.
import { Code, ConnectError, createClient, type Client, type Interceptor } from "@connectrpc/connect";
import { createConnectTransport } from "@connectrpc/connect-web";
import { ApiKeyService } from "../../src/gen/hookline/v1/api_key_pb.ts";
import { DeliveryService } from "../../src/gen/hookline/v1/delivery_pb.ts";
import { EndpointService } from "../../src/gen/hookline/v1/endpoint_pb.ts";
import { EventTypeService } from "../../src/gen/hookline/v1/event_type_pb.ts";
import { TenantService } from "../../src/gen/hookline/v1/tenant_pb.ts";

export interface Api {
  tenants: Client<typeof TenantService>;
  endpoints: Client<typeof EndpointService>;
  deliveries: Client<typeof DeliveryService>;
  apiKeys: Client<typeof ApiKeyService>;
  eventTypes: Client<typeof EventTypeService>;
}

/** Clients that send `key` on every call; `onRejected` hears of a key the server no longer accepts. */
export function createApi(key: string, onRejected: () => void): Api {
  const bearer: Interceptor = (next) => async (req) => {
    req.header.set("authorization", `Bearer ${key}`);
    try {
      return await next(req);
    } catch (err) {
      if (ConnectError.from(err).code === Code.Unauthenticated) onRejected();
      throw err;
    }
  };
  const transport = createConnectTransport({ baseUrl: window.location.origin, interceptors: [bearer] });
  return {
    tenants: createClient(TenantService, transport),
    endpoints: createClient(EndpointService, transport),
    deliveries: createClient(DeliveryService, transport),
    apiKeys: createClient(ApiKeyService, transport),
    eventTypes: createClient(EventTypeService, transport),
  };
}

/** Whether an error only says the call was given up (the view moved on). */
export function isCancel(err: unknown): boolean {
  return ConnectError.from(err).code === Code.Canceled;
}

/** A sentence for a person: what went wrong and, where it helps, what to do. */
export function describeError(err: unknown): string {
  const e = ConnectError.from(err);
  switch (e.code) {
    case Code.Unauthenticated:
      return "The API key was not accepted (mistyped, revoked or unknown). Sign in again.";
    case Code.PermissionDenied:
      return `This API key may not do that: ${e.rawMessage}`;
    case Code.Unavailable:
      return `hookline is not reachable right now (${e.rawMessage}).`;
    case Code.NotFound:
    case Code.InvalidArgument:
    case Code.FailedPrecondition:
    case Code.AlreadyExists:
    case Code.ResourceExhausted:
      return e.rawMessage;
    default:
      return `${Code[e.code] ?? "error"}: ${e.rawMessage}`;
  }
}

export { Code, ConnectError };
