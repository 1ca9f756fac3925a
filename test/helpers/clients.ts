import { createClient, type Client, type Transport } from "@connectrpc/connect";
import { createConnectTransport, createGrpcTransport, createGrpcWebTransport } from "@connectrpc/connect-node";
import type { Interceptor } from "@connectrpc/connect";
import type { DescService } from "@bufbuild/protobuf";
import { TEST_ADMIN_KEY } from "./auth.ts";
import { DeliveryService } from "../../src/gen/hookline/v1/delivery_pb.ts";
import { EndpointService } from "../../src/gen/hookline/v1/endpoint_pb.ts";
import { EventService } from "../../src/gen/hookline/v1/event_pb.ts";
import { EventTypeService } from "../../src/gen/hookline/v1/event_type_pb.ts";
import { TenantService } from "../../src/gen/hookline/v1/tenant_pb.ts";

export type Protocol = "connect-http1" | "connect-http2" | "grpc" | "grpc-web-http1";

/** Sends `authorization: Bearer <key>` on every call; an empty key sends none. */
export function bearer(key: string): Interceptor {
  return (next) => async (req) => {
    if (key !== "") req.header.set("authorization", `Bearer ${key}`);
    return next(req);
  };
}

export function transport(baseUrl: string, protocol: Protocol, key: string = TEST_ADMIN_KEY): Transport {
  const interceptors = [bearer(key)];
  switch (protocol) {
    case "connect-http1":
      return createConnectTransport({ baseUrl, httpVersion: "1.1", interceptors });
    case "connect-http2":
      return createConnectTransport({ baseUrl, httpVersion: "2", interceptors });
    case "grpc":
      return createGrpcTransport({ baseUrl, interceptors });
    case "grpc-web-http1":
      return createGrpcWebTransport({ baseUrl, httpVersion: "1.1", interceptors });
  }
}

export interface Clients {
  tenants: Client<typeof TenantService>;
  endpoints: Client<typeof EndpointService>;
  events: Client<typeof EventService>;
  deliveries: Client<typeof DeliveryService>;
  eventTypes: Client<typeof EventTypeService>;
}

/** Clients that authenticate with `key` (the test admin key unless given). */
export function clients(baseUrl: string, protocol: Protocol = "grpc", key: string = TEST_ADMIN_KEY): Clients {
  return clientsOver(transport(baseUrl, protocol, key));
}

/** The service clients over any transport (for one configured beyond a Protocol). */
export function clientsOver(t: Transport): Clients {
  const make = <S extends DescService>(s: S): Client<S> => createClient(s, t);
  return {
    tenants: make(TenantService),
    endpoints: make(EndpointService),
    events: make(EventService),
    deliveries: make(DeliveryService),
    eventTypes: make(EventTypeService),
  };
}

export const json = (value: unknown): Uint8Array => new TextEncoder().encode(JSON.stringify(value));
