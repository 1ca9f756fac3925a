/** How the bench's clients reach hookline's API: gRPC with the run's admin key on every call. */
import type { Interceptor, Transport } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";

/** A running hookline: its URL and the admin key the bench started it with. */
export interface HooklineApi {
  readonly baseUrl: string;
  readonly apiKey: string;
}

function bearer(apiKey: string): Interceptor {
  return (next) => (req) => {
    req.header.set("authorization", `Bearer ${apiKey}`);
    return next(req);
  };
}

export function apiTransport(api: HooklineApi): Transport {
  return createGrpcTransport({ baseUrl: api.baseUrl, interceptors: [bearer(api.apiKey)] });
}
