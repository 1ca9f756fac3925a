import { Code, ConnectError, type Interceptor } from "@connectrpc/connect";
import { create } from "@bufbuild/protobuf";
import { HooklineError, type ErrorCode } from "../core/errors.ts";
import { BadRequestSchema, BadRequest_FieldViolationSchema } from "../gen/google/rpc/error_details_pb.ts";
import type { Logger } from "../observability/logger.ts";

const CODES: Record<ErrorCode, Code> = {
  invalid_argument: Code.InvalidArgument,
  not_found: Code.NotFound,
  already_exists: Code.AlreadyExists,
  failed_precondition: Code.FailedPrecondition,
  aborted: Code.Aborted,
  resource_exhausted: Code.ResourceExhausted,
  unavailable: Code.Unavailable,
  unimplemented: Code.Unimplemented,
};

/** A domain error as a ConnectError; bad input carries google.rpc.BadRequest naming the fields. */
function toConnectError(err: HooklineError): ConnectError {
  const details =
    err.violations.length > 0
      ? [
          {
            desc: BadRequestSchema,
            value: create(BadRequestSchema, {
              fieldViolations: err.violations.map((v) => create(BadRequest_FieldViolationSchema, v)),
            }),
          },
        ]
      : [];
  return new ConnectError(err.message, CODES[err.code], undefined, details);
}

/** Snake-case name of a Connect code, as used in PublishError.code. */
export function codeName(code: Code): string {
  return Code[code].replace(/([a-z])([A-Z])/g, "$1_$2").toLowerCase();
}

/** Maps any thrown value to what the client should see; unexpected ones are logged, never leaked. */
export function asConnectError(err: unknown, logger: Logger, procedure: string): ConnectError {
  if (err instanceof HooklineError) return toConnectError(err);
  if (err instanceof ConnectError) return err;
  logger.error({ err, procedure }, "unexpected error in handler");
  return new ConnectError("internal error; the server log has the details", Code.Internal);
}

async function* mapStreamErrors<T>(stream: AsyncIterable<T>, logger: Logger, procedure: string): AsyncIterable<T> {
  try {
    yield* stream;
  } catch (err) {
    throw asConnectError(err, logger, procedure);
  }
}

/** Server interceptor: every handler error leaves as a proper gRPC/Connect status. */
export function errorInterceptor(logger: Logger): Interceptor {
  return (next) => async (req) => {
    const procedure = req.url;
    try {
      const res = await next(req);
      if (res.stream) return { ...res, message: mapStreamErrors(res.message, logger, procedure) };
      return res;
    } catch (err) {
      throw asConnectError(err, logger, procedure);
    }
  };
}
