import type { MessageInitShape } from "@bufbuild/protobuf";
import { AttemptSchema, DeliveryStatus, type Attempt } from "../../gen/hookline/v1/delivery_pb.ts";
import { BreakerState, EndpointSchema, EndpointStatsSchema, type Endpoint, type EndpointStats } from "../../gen/hookline/v1/endpoint_pb.ts";
import { CONNECTION_FLAGS, JSON_FLAG, connect, type Api } from "../api.ts";
import { UsageError, allPages, decimal, duration, integer, list, requiredText, text, type Command, type Flag, type FlagValues } from "../command.ts";
import { orderedHeaders } from "../../core/sent-headers.ts";
import { iso, millis, out, printJson, printJsonList } from "../output.ts";
import { readPayload, PAYLOAD_FLAGS } from "./payload.ts";

const ID = [{ name: "ENDPOINT_ID", help: "the endpoint" }];
const breakerName = (s: BreakerState): string => BreakerState[s]?.toLowerCase() ?? "unknown";

function line(e: Endpoint): string {
  return `${e.id}  ${e.disabled ? "disabled" : "enabled"}  ${e.url}  types=${e.eventTypes.join(",") || "*"}${e.disabled ? `  (${e.disabledReason})` : ""}`;
}

function statsLine(e: Endpoint, s: EndpointStats): string {
  const p95 = s.latencyP95 ? `${millis(s.latencyP95)}ms` : "-";
  const success = s.recentAttempts > 0 ? `${(s.successRate * 100).toFixed(1)}%` : "-";
  return `${e.id.padEnd(32)}${(e.disabled ? "disabled" : "enabled").padEnd(10)}${breakerName(s.breakerState).padEnd(11)}${success.padEnd(9)}${p95.padEnd(9)}${String(s.pending).padEnd(9)}${String(s.retrying).padEnd(10)}${e.url}${e.disabled ? `  (${e.disabledReason})` : ""}`;
}

export function attemptLine(a: Attempt): string {
  const body = new TextDecoder().decode(a.responseBody).replace(/\s+/g, " ").slice(0, 120);
  return `  #${a.number}  ${iso(a.startTime)}  ${a.statusCode || "-"}  ${millis(a.duration)}ms  ${a.error}${body ? `  body: ${body}` : ""}`;
}

/** An attempt's request headers, one indented line each (custom values come masked from the API). */
export function attemptHeaderLines(a: Attempt): string[] {
  return orderedHeaders(a.requestHeaders).map(([name, value]) => `      ${name}: ${value}`);
}

export function allEndpoints(api: Api, tenantId: string): Promise<Endpoint[]> {
  return allPages(async (pageToken) => {
    const page = await api.endpoints.listEndpoints({ tenantId, pageSize: 1000, pageToken });
    return { items: page.endpoints, nextPageToken: page.nextPageToken };
  });
}

const durationProto = (ms: number) => ({ seconds: BigInt(Math.floor(ms / 1000)), nanos: (ms % 1000) * 1e6 });

/** Settings shared by create and update; each maps to an update_mask path. */
const SETTING_FLAGS: Record<string, Flag> = {
  url: { type: "string", value: "URL", help: "where webhooks are POSTed" },
  types: { type: "string", value: "LIST", help: "event-type filter, comma-separated (a.b, c.*); empty = all" },
  description: { type: "string", value: "TEXT", help: "free text" },
  rate: { type: "string", value: "N", help: "deliveries per second; 0 = unlimited" },
  "max-in-flight": { type: "string", value: "N", help: "concurrent requests" },
  timeout: { type: "string", value: "DURATION", help: "attempt timeout, e.g. 15s" },
  header: { type: "string", value: "NAME:VALUE,…", help: "custom headers sent with every webhook" },
};

type EndpointFields = Omit<MessageInitShape<typeof EndpointSchema>, "$typeName">;

function settings(flags: FlagValues): { fields: EndpointFields; paths: string[] } {
  const fields: Record<string, unknown> = {};
  const paths: string[] = [];
  if (flags.url !== undefined) (fields.url = text(flags, "url")), paths.push("url");
  if (flags.types !== undefined) (fields.eventTypes = list(flags, "types")), paths.push("event_types");
  if (flags.description !== undefined) (fields.description = text(flags, "description")), paths.push("description");
  const rate = decimal(flags, "rate");
  if (rate !== undefined) (fields.rateLimitPerSecond = rate), paths.push("rate_limit_per_second");
  if (flags["max-in-flight"] !== undefined) (fields.maxInFlight = integer(flags, "max-in-flight", 0, 1, 1000)), paths.push("max_in_flight");
  const timeout = duration(flags, "timeout");
  if (timeout !== undefined) (fields.timeout = durationProto(timeout)), paths.push("timeout");
  if (flags.header !== undefined) {
    const headers: Record<string, string> = {};
    for (const pair of list(flags, "header") ?? []) {
      const cut = pair.indexOf(":");
      if (cut <= 0) throw new UsageError(`--header takes NAME:VALUE pairs (got "${pair}")`);
      headers[pair.slice(0, cut).trim()] = pair.slice(cut + 1).trim();
    }
    fields.headers = headers;
    paths.push("headers");
  }
  return { fields: fields as EndpointFields, paths };
}

async function setDisabled(flags: FlagValues, id: string, disabled: boolean): Promise<void> {
  const { endpoint } = await connect(flags).endpoints.updateEndpoint({
    endpoint: { id, disabled, disabledReason: text(flags, "reason") },
    updateMask: { paths: ["disabled"] },
  });
  if (flags.json) printJson(EndpointSchema, endpoint!);
  else out(`${id} ${disabled ? "disabled" : "enabled"}`);
}

export const endpointCommands: Command[] = [
  {
    name: "endpoints list",
    summary: "List endpoints with their health: breaker, recent success rate, p95, backlog.",
    flags: { ...CONNECTION_FLAGS, ...JSON_FLAG, tenant: { type: "string", value: "ID", help: "only this tenant's endpoints" } },
    async run({ flags }) {
      const api = connect(flags);
      const endpoints = await allEndpoints(api, text(flags, "tenant"));
      if (flags.json) return printJsonList("endpoints", EndpointSchema, endpoints);
      out("ENDPOINT                        STATE     BREAKER    SUCCESS  P95      PENDING  RETRYING  URL");
      for (const e of endpoints) out(statsLine(e, (await api.endpoints.getEndpointStats({ id: e.id })).stats!));
    },
  },
  {
    name: "endpoints get",
    summary: "Show one endpoint (the secret and header values are never shown).",
    args: ID,
    flags: { ...CONNECTION_FLAGS, ...JSON_FLAG },
    async run({ flags, args }) {
      const { endpoint } = await connect(flags).endpoints.getEndpoint({ id: args[0] as string });
      if (flags.json) printJson(EndpointSchema, endpoint!);
      else out(line(endpoint!));
    },
  },
  {
    name: "endpoints create",
    summary: "Create an endpoint; prints its signing secret once.",
    flags: { ...CONNECTION_FLAGS, ...JSON_FLAG, tenant: { type: "string", value: "ID", help: "owning tenant (required)" }, ...SETTING_FLAGS },
    async run({ flags }) {
      const { fields } = settings(flags);
      const { endpoint } = await connect(flags).endpoints.createEndpoint({ ...fields, tenantId: requiredText(flags, "tenant"), url: requiredText(flags, "url") });
      if (flags.json) printJson(EndpointSchema, endpoint!);
      else out(`${line(endpoint!)}\nsecret: ${endpoint!.secret}`);
    },
  },
  {
    name: "endpoints update",
    summary: "Change an endpoint's settings; only the flags given are changed.",
    args: ID,
    flags: { ...CONNECTION_FLAGS, ...JSON_FLAG, ...SETTING_FLAGS },
    async run({ flags, args }) {
      const { fields, paths } = settings(flags);
      if (paths.length === 0) throw new UsageError("nothing to change: pass at least one setting flag (see --help)");
      const { endpoint } = await connect(flags).endpoints.updateEndpoint({ endpoint: { ...fields, id: args[0] as string }, updateMask: { paths } });
      if (flags.json) printJson(EndpointSchema, endpoint!);
      else out(line(endpoint!));
    },
  },
  {
    name: "endpoints enable",
    summary: "Enable an endpoint; its waiting deliveries go out.",
    args: ID,
    flags: { ...CONNECTION_FLAGS, ...JSON_FLAG },
    run: ({ flags, args }) => setDisabled(flags, args[0] as string, false),
  },
  {
    name: "endpoints disable",
    summary: "Disable an endpoint; its deliveries wait until it is enabled.",
    args: ID,
    flags: { ...CONNECTION_FLAGS, ...JSON_FLAG, reason: { type: "string", value: "TEXT", help: "shown on the endpoint", default: "disabled by operator" } },
    run: ({ flags, args }) => setDisabled(flags, args[0] as string, true),
  },
  {
    name: "endpoints delete",
    summary: "Delete an endpoint; its open deliveries are cancelled.",
    args: ID,
    flags: { ...CONNECTION_FLAGS },
    async run({ flags, args }) {
      await connect(flags).endpoints.deleteEndpoint({ id: args[0] as string });
      out(`${args[0]} deleted`);
    },
  },
  {
    name: "endpoints rotate",
    summary: "Rotate the signing secret; the old one still signs during the grace period.",
    args: ID,
    flags: { ...CONNECTION_FLAGS, ...JSON_FLAG, grace: { type: "string", value: "DURATION", help: "how long the old secret keeps signing", default: "24h" } },
    async run({ flags, args }) {
      const graceMs = duration(flags, "grace");
      const { endpoint } = await connect(flags).endpoints.rotateEndpointSecret({
        id: args[0] as string,
        gracePeriod: graceMs === undefined ? undefined : durationProto(graceMs),
      });
      if (flags.json) printJson(EndpointSchema, endpoint!);
      else out(`${endpoint!.id}\nsecret: ${endpoint!.secret}`);
    },
  },
  {
    name: "endpoints stats",
    summary: "An endpoint's health: success rate, latency, backlog, breaker, effective rate.",
    args: ID,
    flags: { ...CONNECTION_FLAGS, ...JSON_FLAG },
    async run({ flags, args }) {
      const { stats } = await connect(flags).endpoints.getEndpointStats({ id: args[0] as string });
      const s = stats!;
      if (flags.json) return printJson(EndpointStatsSchema, s);
      out(`endpoint        ${s.endpointId}${s.disabled ? `  disabled (${s.disabledReason})` : ""}`);
      out(`recent          ${s.recentAttempts} attempts, ${(s.successRate * 100).toFixed(1)}% success`);
      out(`latency         p50 ${millis(s.latencyP50)}ms  p95 ${millis(s.latencyP95)}ms  p99 ${millis(s.latencyP99)}ms`);
      out(`backlog         ${s.pending} pending, ${s.retrying} retrying, ${s.inFlight} in flight`);
      out(`breaker         ${breakerName(s.breakerState)} (${s.consecutiveFailures} consecutive failures)`);
      out(`rate            ${s.effectiveRatePerSecond || "unlimited"}`);
      out(`last success    ${iso(s.lastSuccessTime)}\nlast failure    ${iso(s.lastFailureTime)}`);
    },
  },
  {
    name: "endpoints test",
    summary: "Send a test event to this endpoint alone and show the attempt (exit 1 when it failed).",
    args: ID,
    flags: {
      ...CONNECTION_FLAGS,
      ...JSON_FLAG,
      type: { type: "string", value: "TYPE", help: "event type", default: "hookline.test" },
      ...PAYLOAD_FLAGS,
      wait: { type: "string", value: "DURATION", help: "how long to wait for the first attempt", default: "30s" },
    },
    async run({ flags, args }) {
      const api = connect(flags);
      const waitMs = duration(flags, "wait") ?? 30_000;
      const payload = (await readPayload(flags, false)) ?? new Uint8Array();
      const sent = await api.endpoints.sendTestEvent({ endpointId: args[0] as string, type: text(flags, "type"), payload });
      const deadline = Date.now() + waitMs;
      for (;;) {
        const { attempts } = await api.deliveries.listAttempts({ deliveryId: sent.deliveryId, pageSize: 1 });
        const first = attempts[0];
        if (first) {
          const ok = first.statusCode >= 200 && first.statusCode < 300 && first.error === "";
          if (flags.json) printJson(AttemptSchema, first);
          else out(`${sent.deliveryId}  ${ok ? "delivered" : "failed"}\n${attemptLine(first)}`);
          if (!ok) process.exitCode = 1;
          return;
        }
        if (Date.now() > deadline) {
          const { delivery } = await api.deliveries.getDelivery({ id: sent.deliveryId });
          throw new Error(`no attempt within ${waitMs}ms (delivery ${sent.deliveryId} is ${DeliveryStatus[delivery!.status]}); see "hookline attempts ${sent.deliveryId}"`);
        }
        await new Promise((r) => setTimeout(r, 200));
      }
    },
  },
];
