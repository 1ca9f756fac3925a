import { JetStreamApiCodes, JetStreamApiError } from "@nats-io/jetstream";
import type { KV } from "@nats-io/kv";
import { HooklineError } from "../../core/errors.ts";
import { decodeJson, encodeJson } from "./codec.ts";

/** Rounds of read-change-write before a key that keeps changing gives ABORTED. */
const UPDATE_ATTEMPTS = 10;

/** The server refused a write because the key has a newer revision than the one it named. */
export function isWrongRevision(err: unknown): boolean {
  return (
    err instanceof JetStreamApiError &&
    (err.code === JetStreamApiCodes.StreamWrongLastSequence || err.code === JetStreamApiCodes.StreamWrongLastSequenceUnknown)
  );
}

/**
 * Read-modify-write of one JSON value: the write names the revision it was computed from, and
 * the server refuses it when another process wrote the key in between. Then the change is
 * applied again to what that process wrote; a key that keeps changing gives ABORTED naming
 * `what`. Undefined when the key holds nothing.
 */
export async function updateAtRevision<T>(kv: KV, key: string, change: (current: T) => T, what: string): Promise<{ value: T; revision: number } | undefined> {
  for (let round = 0; round < UPDATE_ATTEMPTS; round++) {
    // A cluster may answer the read from a replica a moment behind: give it that moment.
    if (round > 0) await new Promise((resolve) => setTimeout(resolve, 10 * round));
    const entry = await kv.get(key);
    if (!entry || entry.operation !== "PUT") return undefined;
    const value = change(decodeJson<T>(entry.value));
    try {
      return { value, revision: await kv.update(key, encodeJson(value), entry.revision) };
    } catch (err) {
      if (!isWrongRevision(err)) throw err;
    }
  }
  throw new HooklineError("aborted", `${what} was changed by other writers ${UPDATE_ATTEMPTS} times while this update was applied; retry`);
}
