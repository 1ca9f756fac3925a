import { invalidArgument } from "./errors.ts";

/** Page tokens are opaque to clients: base64url of the last id served and a kind tag. */
export function encodePageToken(kind: string, lastId: string): string {
  return Buffer.from(JSON.stringify({ k: kind, a: lastId })).toString("base64url");
}

export function decodePageToken(field: string, kind: string, token: string): string | undefined {
  if (token === "") return undefined;
  try {
    const parsed = JSON.parse(Buffer.from(token, "base64url").toString("utf8")) as { k?: unknown; a?: unknown };
    if (parsed.k === kind && typeof parsed.a === "string") return parsed.a;
  } catch {
    // fall through to the error below
  }
  throw invalidArgument(field, "is not a token returned by this list; start again with an empty page_token");
}
