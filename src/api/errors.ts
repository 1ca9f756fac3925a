import { Code, ConnectError, type Interceptor } from "@connectrpc/connect";
import { create } from "@bufbuild/protobuf";
import { HooklineError, echo, type ErrorCode } from "../core/errors.ts";
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
  unauthenticated: Code.Unauthenticated,
  permission_denied: Code.PermissionDenied,
};

/**
 * Longest status message sent. gRPC carries it in a header (grpc-message, with the details in
 * grpc-status-details-bin): a message of tens of KB overflows the peer's header limits and
 * breaks the connection instead of failing one call.
 */
const MAX_MESSAGE_CHARS = 1024;
/** At most this many field violations travel in the details. */
const MAX_VIOLATIONS = 20;

/** A domain error as a ConnectError; bad input carries google.rpc.BadRequest naming the fields. */
function toConnectError(err: HooklineError): ConnectError {
  const details =
    err.violations.length > 0
      ? [
          {
            desc: BadRequestSchema,
            value: create(BadRequestSchema, {
              fieldViolations: err.violations
                .slice(0, MAX_VIOLATIONS)
                .map((v) => create(BadRequest_FieldViolationSchema, { field: echo(v.field, 256), description: echo(v.description, MAX_MESSAGE_CHARS) })),
            }),
          },
        ]
      : [];
  return new ConnectError(echo(err.message, MAX_MESSAGE_CHARS), CODES[err.code], undefined, details);
}

/** The same error with its message cut to MAX_MESSAGE_CHARS. */
function bounded(err: ConnectError): ConnectError {
  if (err.rawMessage.length <= MAX_MESSAGE_CHARS) return err;
  const copy = new ConnectError(echo(err.rawMessage, MAX_MESSAGE_CHARS), err.code, err.metadata, undefined, err.cause);
  copy.details.push(...err.details);
  return copy;
}

/** Snake-case name of a Connect code, as used in PublishError.code. */
export function codeName(code: Code): string {
  return Code[code].replace(/([a-z])([A-Z])/g, "$1_$2").toLowerCase();
}

/** Maps any thrown value to what the client should see; unexpected ones are logged, never leaked. */
export function asConnectError(err: unknown, logger: Logger, procedure: string): ConnectError {
  if (err instanceof HooklineError) return toConnectError(err);
  if (err instanceof ConnectError) return bounded(err);
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
