/** Error kinds of the domain; the API layer maps each to its gRPC code. */
export type ErrorCode =
  | "invalid_argument"
  | "not_found"
  | "already_exists"
  | "failed_precondition"
  | "aborted"
  | "resource_exhausted"
  | "unavailable"
  | "unimplemented";

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

export function invalidArgument(field: string, description: string): HooklineError {
  return new HooklineError("invalid_argument", `${field}: ${description}`, [{ field, description }]);
}

export function notFound(kind: string, id: string): HooklineError {
  return new HooklineError("not_found", `${kind} "${id}" does not exist`);
}

export function failedPrecondition(message: string): HooklineError {
  return new HooklineError("failed_precondition", message);
}

export function resourceExhausted(message: string): HooklineError {
  return new HooklineError("resource_exhausted", message);
}

/** Prefixes the field paths of a validation error, e.g. "type" → "events[3].type". */
export function withFieldPrefix(err: unknown, prefix: string): unknown {
  if (!(err instanceof HooklineError) || err.code !== "invalid_argument") return err;
  const violations = err.violations.map((v) => ({ field: `${prefix}${v.field}`, description: v.description }));
  const first = violations[0];
  const message = first ? `${first.field}: ${first.description}` : err.message;
  return new HooklineError(err.code, message, violations);
}
