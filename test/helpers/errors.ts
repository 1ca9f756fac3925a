import { expect } from "vitest";
import { ConnectError, type Code } from "@connectrpc/connect";
import { BadRequestSchema } from "../../src/gen/google/rpc/error_details_pb.ts";

/** The ConnectError a call rejects with (fails the test when the call succeeds). */
export async function rejection(call: Promise<unknown>): Promise<ConnectError> {
  try {
    await call;
  } catch (err) {
    return ConnectError.from(err);
  }
  throw new Error("expected the call to fail, but it succeeded");
}

/** The code a call ends with: Code OK (0) when it succeeds. For polling until a call starts failing. */
export async function codeOf(call: Promise<unknown>): Promise<Code | 0> {
  try {
    await call;
    return 0;
  } catch (err) {
    return ConnectError.from(err).code;
  }
}

/** The fields a google.rpc.BadRequest detail of the error names, in order. */
export function violatedFields(err: ConnectError): string[] {
  return err.findDetails(BadRequestSchema).flatMap((d) => d.fieldViolations.map((v) => v.field));
}

/** The error fn throws, checked to be a `type` (fails the test when fn returns). */
export function thrown<E>(fn: () => unknown, type: abstract new (...args: never[]) => E): E {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(type);
    return err as E;
  }
  throw new Error(`expected a ${type.name} to be thrown`);
}
