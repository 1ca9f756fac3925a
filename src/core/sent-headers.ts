/**
 * The request headers of an attempt, stored compactly. Most of them follow from the attempt
 * itself: webhook-id is the delivery id, webhook-timestamp the second the attempt started,
 * content-type is always application/json. What is stored is the rest, one per line:
 * user-agent, webhook-signature, then the names of the endpoint's custom headers. Their values
 * are never stored: they often carry the receiver's credentials, and reads mask them anyway.
 * An empty string means none were recorded (no request was made, or an older hookline).
 */

/** What reads show instead of a custom header's value. */
export const MASKED_HEADER_VALUE = "<redacted>";

const CONTENT_TYPE = "application/json";

/** The "\n"-prefixed custom header names: computed once per batch, appended to each attempt's record. */
export function customHeaderSuffix(headers: Record<string, string>): string {
  let suffix = "";
  for (const name in headers) suffix += `\n${name}`;
  return suffix;
}

/** The stored form: "" when no signature was made (nothing was sent). */
export function encodeSentHeaders(userAgent: string, signature: string, customSuffix: string): string {
  return signature === "" ? "" : `${userAgent}\n${signature}${customSuffix}`;
}

/** The headers as sent, custom values masked. */
export function sentHeaders(encoded: string | undefined, deliveryId: string, startedMs: number): Record<string, string> {
  if (!encoded) return {};
  const [userAgent = "", signature = "", ...custom] = encoded.split("\n");
  const headers: Record<string, string> = {};
  for (const name of custom) headers[name] = MASKED_HEADER_VALUE;
  headers["content-type"] = CONTENT_TYPE;
  headers["user-agent"] = userAgent;
  headers["webhook-id"] = deliveryId;
  headers["webhook-timestamp"] = String(Math.floor(startedMs / 1000));
  headers["webhook-signature"] = signature;
  return headers;
}

const STANDARD_ORDER = ["content-type", "user-agent", "webhook-id", "webhook-timestamp", "webhook-signature"];

/** Headers for display: the standard ones in a fixed order, then the custom ones by name. */
export function orderedHeaders(headers: Record<string, string>): Array<[string, string]> {
  const standard = STANDARD_ORDER.filter((name) => headers[name] !== undefined).map((name): [string, string] => [name, headers[name] as string]);
  const custom = Object.keys(headers)
    .filter((name) => !STANDARD_ORDER.includes(name))
    .sort()
    .map((name): [string, string] => [name, headers[name] as string]);
  return [...standard, ...custom];
}
