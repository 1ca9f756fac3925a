/** Error kinds of the domain; the API layer maps each to its gRPC code. */
export type ErrorCode =
  | "invalid_argument"
  | "not_found"
  | "already_exists"
  | "failed_precondition"
  | "aborted"
  | "resource_exhausted"
  | "unavailable"
  | "unimplemented"
  | "unauthenticated"
  | "permission_denied";

export interface FieldViolation {
  field: string;
  description: string;
}

/** The one error type of hookline's core: a code, a message and, for bad input, the fields. */
export class HooklineError extends Error {
  constructor(
    readonly code: ErrorCode,
    message: string,
    readonly violations: readonly FieldViolation[] = [],
  ) {
    super(message);
    this.name = "HooklineError";
  }
}

/** Longest piece of client input repeated in an error message. */
export const ECHO_MAX_CHARS = 128;

/**
 * Client input as quoted in an error message: cut to ECHO_MAX_CHARS with an ellipsis, so a
 * huge id or value cannot blow up the status message (a header frame in gRPC).
 */
export function echo(value: string, max: number = ECHO_MAX_CHARS): string {
  return value.length <= max ? value : `${value.slice(0, max)}…`;
}

export function invalidArgument(field: string, description: string): HooklineError {
  return new HooklineError("invalid_argument", `${field}: ${description}`, [{ field, description }]);
}

export function notFound(kind: string, id: string): HooklineError {
  return new HooklineError("not_found", `${kind} "${echo(id)}" does not exist`);
}

export function failedPrecondition(message: string): HooklineError {
  return new HooklineError("failed_precondition", message);
}

export function resourceExhausted(message: string): HooklineError {
  return new HooklineError("resource_exhausted", message);
}

export function unauthenticated(message: string): HooklineError {
  return new HooklineError("unauthenticated", message);
}

export function permissionDenied(message: string): HooklineError {
  return new HooklineError("permission_denied", message);
}

/** Prefixes the field paths of a validation error, e.g. "type" → "events[3].type". */
export function withFieldPrefix(err: unknown, prefix: string): unknown {
  if (!(err instanceof HooklineError) || err.code !== "invalid_argument") return err;
  const violations = err.violations.map((v) => ({ field: `${prefix}${v.field}`, description: v.description }));
  const first = violations[0];
  const message = first ? `${first.field}: ${first.description}` : err.message;
  return new HooklineError(err.code, message, violations);
}
