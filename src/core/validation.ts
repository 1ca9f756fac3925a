import { echo, invalidArgument } from "./errors.ts";
import { isOperationalEventType } from "./operational-events.ts";

/** Input limits, enforced at the API edge. */
export const Limits = {
  nameLength: 200,
  descriptionLength: 1000,
  urlLength: 2048,
  metadataPairs: 32,
  metadataKeyLength: 64,
  metadataValueLength: 512,
  eventTypeLength: 128,
  eventTypeFilters: 100,
  headers: 32,
  headerValueLength: 4096,
  idempotencyKeyLength: 256,
  orderingKeyLength: 256,
  rateLimitPerSecond: 100_000,
  /** Slowest non-zero rate: one request per 100 s. Slower ones are almost surely a unit mistake. */
  minRateLimitPerSecond: 0.01,
  maxInFlight: 1000,
  maxAttempts: 100,
  minTimeoutMs: 1_000,
  maxTimeoutMs: 120_000,
  maxBackoffMs: 7 * 24 * 3600_000,
  maxAgeMs: 30 * 24 * 3600_000,
  maxGraceMs: 7 * 24 * 3600_000,
  pageSize: 1000,
  successStatusCodes: 20,
  maxPriority: 9,
} as const;

const EVENT_TYPE = /^[A-Za-z0-9_-]+(\.[A-Za-z0-9_-]+)*$/;
const HEADER_NAME = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;
/** Headers hookline sets on every delivery. */
const SET_BY_HOOKLINE = new Set(["content-type", "content-length", "host", "user-agent"]);
/** Hop-by-hop and connection-control headers: they steer the connection, not the message. */
const CONNECTION_HEADERS = new Set([
  "connection",
  "keep-alive",
  "te",
  "trailer",
  "transfer-encoding",
  "upgrade",
  "expect",
  "http2-settings",
]);
/** C0 controls, DEL and C1 controls. */
const CONTROL = /[\u0000-\u001f\u007f-\u009f]/;
/** What a header value may hold: visible ASCII and inner spaces. */
const HEADER_VALUE = /^(?:[\x21-\x7e](?:[\x20-\x7e]*[\x21-\x7e])?)?$/;

export function requireNonEmpty(field: string, value: string): string {
  if (value.trim() === "") throw invalidArgument(field, "is required");
  return value;
}

export function checkLength(field: string, value: string, max: number): string {
  if (value.length > max) throw invalidArgument(field, `must be at most ${max} characters (got ${value.length})`);
  return value;
}

/** Free text shown to people (descriptions, reasons): bounded, no control characters. */
export function checkText(field: string, value: string, max: number): string {
  checkLength(field, value, max);
  const at = value.search(CONTROL);
  if (at !== -1)
    throw invalidArgument(field, `must not contain control characters (found U+${value.charCodeAt(at).toString(16).toUpperCase().padStart(4, "0")} at ${at})`);
  return value;
}

export function checkName(field: string, value: string): string {
  requireNonEmpty(field, value);
  return checkText(field, value, Limits.nameLength);
}

export function checkMetadata(field: string, metadata: Record<string, string>): Record<string, string> {
  const keys = Object.keys(metadata);
  if (keys.length > Limits.metadataPairs) throw invalidArgument(field, `at most ${Limits.metadataPairs} entries`);
  for (const key of keys) {
    if (key === "" || key.length > Limits.metadataKeyLength)
      throw invalidArgument(`${field}[${echo(key)}]`, `keys must be 1 to ${Limits.metadataKeyLength} characters`);
    if (CONTROL.test(key)) throw invalidArgument(`${field}[${JSON.stringify(key).slice(1, -1)}]`, "keys must not contain control characters");
    checkText(`${field}[${key}]`, metadata[key] ?? "", Limits.metadataValueLength);
  }
  return metadata;
}

export function checkRate(field: string, value: number): number {
  const { minRateLimitPerSecond: min, rateLimitPerSecond: max } = Limits;
  if (!Number.isFinite(value) || value < 0 || value > max || (value > 0 && value < min))
    throw invalidArgument(field, `must be 0 (unlimited) or between ${min} and ${max} per second (got ${value})`);
  return value;
}

export function checkIntRange(field: string, value: number, min: number, max: number): number {
  if (!Number.isInteger(value) || value < min || value > max)
    throw invalidArgument(field, `must be a whole number from ${min} to ${max} (got ${value})`);
  return value;
}

export function checkDurationRange(field: string, ms: number, minMs: number, maxMs: number): number {
  if (!Number.isFinite(ms) || ms < minMs || ms > maxMs)
    throw invalidArgument(field, `must be between ${formatMs(minMs)} and ${formatMs(maxMs)} (got ${formatMs(ms)})`);
  return ms;
}

function formatMs(ms: number): string {
  return ms % 1000 === 0 ? `${ms / 1000}s` : `${ms}ms`;
}

/** An endpoint URL: absolute http(s), no credentials, no fragment, bounded length. */
export function checkUrl(field: string, value: string): string {
  requireNonEmpty(field, value);
  checkLength(field, value, Limits.urlLength);
  // The URL parser would quietly drop CR, LF and TAB and trim spaces: what is stored must be
  // what was meant, so such input is refused rather than repaired.
  const at = value.search(/[\s\u0000-\u001f\u007f]/);
  if (at !== -1)
    throw invalidArgument(field, `must not contain whitespace or control characters (found U+${value.charCodeAt(at).toString(16).toUpperCase().padStart(4, "0")} at ${at}); percent-encode them`);
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw invalidArgument(field, `"${echo(value)}" is not an absolute URL`);
  }
  if (url.protocol !== "http:" && url.protocol !== "https:")
    throw invalidArgument(field, `scheme must be http or https (got ${url.protocol.slice(0, -1)})`);
  if (url.hostname === "") throw invalidArgument(field, "must name a host");
  if (url.username !== "" || url.password !== "") throw invalidArgument(field, "must not carry credentials; use headers");
  if (url.hash !== "") throw invalidArgument(field, "must not have a #fragment");
  return value;
}

export function checkEventType(field: string, value: string): string {
  requireNonEmpty(field, value);
  checkLength(field, value, Limits.eventTypeLength);
  if (!EVENT_TYPE.test(value))
    throw invalidArgument(field, `"${echo(value)}" must be dot-separated words of letters, digits, "_" or "-"`);
  return value;
}

/** An event type a producer may publish: well formed and not one hookline reserves for itself. */
export function checkPublishableEventType(field: string, value: string): string {
  checkEventType(field, value);
  if (isOperationalEventType(value))
    throw invalidArgument(field, `"${value}" is reserved for operational webhooks, which hookline itself sends; use another type`);
  return value;
}

/** Endpoint filters: exact types, "prefix.*" wildcards, or "*" for everything. */
export function checkEventTypeFilters(field: string, filters: readonly string[]): string[] {
  if (filters.length > Limits.eventTypeFilters) throw invalidArgument(field, `at most ${Limits.eventTypeFilters} entries`);
  return filters.map((filter, i) => {
    const at = `${field}[${i}]`;
    if (filter === "*") return filter;
    if (filter.endsWith(".*")) {
      checkEventType(at, filter.slice(0, -2));
      return filter;
    }
    if (filter.includes("*")) throw invalidArgument(at, `"${echo(filter)}": a wildcard may only end a filter, as in "invoice.*"`);
    return checkEventType(at, filter);
  });
}

export function checkHeaders(field: string, headers: Record<string, string>): Record<string, string> {
  const names = Object.keys(headers);
  if (names.length > Limits.headers) throw invalidArgument(field, `at most ${Limits.headers} headers`);
  const out: Record<string, string> = {};
  for (const name of names) {
    const at = `${field}[${echo(name)}]`;
    const lower = name.toLowerCase();
    if (!HEADER_NAME.test(name)) throw invalidArgument(at, "is not a valid HTTP header name");
    if (SET_BY_HOOKLINE.has(lower)) throw invalidArgument(at, "is set by hookline and cannot be overridden");
    if (lower.startsWith("webhook-"))
      throw invalidArgument(at, "webhook-* headers are reserved for the Standard Webhooks signature that hookline sets");
    if (CONNECTION_HEADERS.has(lower) || lower.startsWith("proxy-"))
      throw invalidArgument(at, "is a connection-control (hop-by-hop) header; hookline manages its connections");
    const value = headers[name] ?? "";
    checkLength(at, value, Limits.headerValueLength);
    if (!HEADER_VALUE.test(value))
      throw invalidArgument(at, "value must be visible ASCII with inner spaces only (no control characters, no leading or trailing space)");
    out[lower] = value;
  }
  return out;
}

/** Extra success codes: real HTTP statuses, each once, a bounded list. */
export function checkSuccessStatusCodes(field: string, codes: readonly number[]): number[] {
  if (codes.length > Limits.successStatusCodes) throw invalidArgument(field, `at most ${Limits.successStatusCodes} entries`);
  const seen = new Set<number>();
  codes.forEach((code, i) => {
    checkIntRange(`${field}[${i}]`, code, 100, 599);
    if (seen.has(code)) throw invalidArgument(`${field}[${i}]`, `${code} is listed twice`);
    seen.add(code);
  });
  return [...codes];
}

/** An opaque key (idempotency, ordering): printable, bounded. */
export function checkKey(field: string, value: string, max: number): string {
  return checkText(field, value, max);
}

export function checkPageSize(field: string, value: number): number {
  if (value === 0) return 100;
  return checkIntRange(field, value, 1, Limits.pageSize);
}

/**
 * Does an endpoint with these filters receive events of this type? Operational events go only
 * to endpoints that name their type exactly: never to catch-alls or wildcards.
 */
export function matchesEventType(filters: readonly string[], type: string): boolean {
  if (isOperationalEventType(type)) return filters.includes(type);
  if (filters.length === 0) return true;
  for (const filter of filters) {
    if (filter === "*" || filter === type) return true;
    if (filter.endsWith(".*") && type.startsWith(filter.slice(0, -1))) return true;
  }
  return false;
}

const utf8 = new TextDecoder("utf-8", { fatal: true });

/** An event payload: present, within the size limit, and a JSON document. */
export function checkPayload(field: string, payload: Uint8Array, maxBytes: number): Uint8Array {
  if (payload.length === 0) throw invalidArgument(field, "is required (a JSON document)");
  if (payload.length > maxBytes) throw invalidArgument(field, `is ${payload.length} bytes; the limit is ${maxBytes}`);
  try {
    JSON.parse(utf8.decode(payload));
  } catch (err) {
    throw invalidArgument(field, `must be JSON: ${(err as Error).message}`);
  }
  return payload;
}
