import * as grpc from "@grpc/grpc-js";
import { TEST_ADMIN_KEY } from "./auth.ts";

/** A grpc-js client interceptor that sends `authorization: Bearer <key>` (none when key is ""). */
export function grpcJsBearer(key: string = TEST_ADMIN_KEY): grpc.Interceptor {
  return (options, nextCall) =>
    new grpc.InterceptingCall(nextCall(options), {
      start(metadata, listener, next) {
        if (key !== "") metadata.set("authorization", `Bearer ${key}`);
        next(metadata, listener);
      },
    });
}
