import type { Interceptor } from "@connectrpc/connect";
import { HooklineError } from "../core/errors.ts";
import type { Logger } from "../observability/logger.ts";
import type { Authenticator } from "./authenticator.ts";
import { PRINCIPAL } from "./principal.ts";

/** Services anyone may call: health checks and the schema (the protos are public anyway). */
const OPEN_SERVICES = new Set(["grpc.health.v1.Health", "grpc.reflection.v1.ServerReflection", "grpc.reflection.v1alpha.ServerReflection"]);

/** At most one log line per this interval about refused calls, with the count since the last. */
const LOG_EVERY_MS = 10_000;

/** Server interceptor: every call to a hookline service carries a valid API key, or is UNAUTHENTICATED. */
export function authInterceptor(auth: Authenticator, logger: Logger, now: () => number): Interceptor {
  let refused = 0;
  let lastLogMs = 0;
  return (next) => async (req) => {
    if (OPEN_SERVICES.has(req.service.typeName)) return next(req);
    try {
      req.contextValues.set(PRINCIPAL, await auth.authenticate(req.header.get("authorization")));
    } catch (err) {
      if (err instanceof HooklineError) {
        refused++;
        const at = now();
        if (at - lastLogMs >= LOG_EVERY_MS) {
          logger.warn({ refused, procedure: req.url, reason: err.message }, "refused calls without a valid API key");
          refused = 0;
          lastLogMs = at;
        }
      }
      throw err;
    }
    return next(req);
  };
}
