import { createClient, type Client, type Transport } from "@connectrpc/connect";
import { createConnectTransport, createGrpcTransport, createGrpcWebTransport } from "@connectrpc/connect-node";
import type { DescService } from "@bufbuild/protobuf";
import { DeliveryService } from "../../src/gen/hookline/v1/delivery_pb.ts";
import { EndpointService } from "../../src/gen/hookline/v1/endpoint_pb.ts";
import { EventService } from "../../src/gen/hookline/v1/event_pb.ts";
import { TenantService } from "../../src/gen/hookline/v1/tenant_pb.ts";

export type Protocol = "connect-http1" | "connect-http2" | "grpc" | "grpc-web-http1";

export function transport(baseUrl: string, protocol: Protocol): Transport {
  switch (protocol) {
    case "connect-http1":
      return createConnectTransport({ baseUrl, httpVersion: "1.1" });
    case "connect-http2":
      return createConnectTransport({ baseUrl, httpVersion: "2" });
    case "grpc":
      return createGrpcTransport({ baseUrl });
    case "grpc-web-http1":
      return createGrpcWebTransport({ baseUrl, httpVersion: "1.1" });
  }
}

export interface Clients {
  tenants: Client<typeof TenantService>;
  endpoints: Client<typeof EndpointService>;
  events: Client<typeof EventService>;
  deliveries: Client<typeof DeliveryService>;
}

export function clients(baseUrl: string, protocol: Protocol = "grpc"): Clients {
  return clientsOver(transport(baseUrl, protocol));
}

/** The four service clients over any transport (for one configured beyond a Protocol). */
export function clientsOver(t: Transport): Clients {
  const make = <S extends DescService>(s: S): Client<S> => createClient(s, t);
  return {
    tenants: make(TenantService),
    endpoints: make(EndpointService),
    events: make(EventService),
    deliveries: make(DeliveryService),
  };
}

export const json = (value: unknown): Uint8Array => new TextEncoder().encode(JSON.stringify(value));
