import { createClient, type Client, type Interceptor } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import { timestampDate, timestampFromMs, type Timestamp } from "@bufbuild/protobuf/wkt";
import { parseDuration } from "../config/config.ts";
import { ApiKeyService, type ApiKey } from "../gen/hookline/v1/api_key_pb.ts";
import { DeliveryService, DeliveryStatus, type Delivery } from "../gen/hookline/v1/delivery_pb.ts";
import { BreakerState, EndpointService } from "../gen/hookline/v1/endpoint_pb.ts";
import { TenantService } from "../gen/hookline/v1/tenant_pb.ts";
import { parseArgs, type ParsedArgs } from "./args.ts";

/** Operator commands: talk to a running server through the generated gRPC client. */
interface Api {
  tenants: Client<typeof TenantService>;
  endpoints: Client<typeof EndpointService>;
  deliveries: Client<typeof DeliveryService>;
  keys: Client<typeof ApiKeyService>;
}

/** The key from --api-key or HOOKLINE_API_KEY, sent on every call. */
function bearer(args: ParsedArgs): Interceptor {
  const key = args.flags.get("api-key") ?? process.env.HOOKLINE_API_KEY ?? "";
  if (key === "") throw new Error("no API key: set HOOKLINE_API_KEY (or pass --api-key KEY); the server printed the first admin key when it first started");
  return (next) => async (req) => {
    req.header.set("authorization", `Bearer ${key}`);
    return next(req);
  };
}

function api(args: ParsedArgs): Api {
  const baseUrl = args.flags.get("server") ?? process.env.HOOKLINE_SERVER ?? "http://127.0.0.1:8080";
  const transport = createGrpcTransport({ baseUrl, interceptors: [bearer(args)] });
  return {
    tenants: createClient(TenantService, transport),
    endpoints: createClient(EndpointService, transport),
    deliveries: createClient(DeliveryService, transport),
    keys: createClient(ApiKeyService, transport),
  };
}

const out = (line: string): boolean => process.stdout.write(`${line}\n`);
const iso = (t: Timestamp | undefined): string => (t ? timestampDate(t).toISOString() : "-");
const statusName = (s: DeliveryStatus): string => DeliveryStatus[s]?.toLowerCase() ?? String(s);
const breakerName = (s: BreakerState): string => BreakerState[s]?.toLowerCase() ?? "unknown";

function parseStatus(name: string): DeliveryStatus {
  const key = name.trim().toUpperCase() as keyof typeof DeliveryStatus;
  const value = DeliveryStatus[key];
  if (typeof value !== "number" || value === DeliveryStatus.UNSPECIFIED)
    throw new Error(`unknown status "${name}": use pending, retrying, succeeded, dead or cancelled`);
  return value;
}

function required(args: ParsedArgs, name: string): string {
  const v = args.flags.get(name);
  if (v === undefined || v === "") throw new Error(`--${name} is required`);
  return v;
}

function deliveryLine(d: Delivery): string {
  return `${iso(d.updateTime)}  ${d.id}  ${statusName(d.status).padEnd(9)}  attempts=${d.attempts}  code=${d.lastStatusCode || "-"}  ${d.endpointId}  ${d.eventType}${d.lastError ? `  (${d.lastError})` : ""}`;
}

async function tenants(args: ParsedArgs): Promise<void> {
  const client = api(args);
  const [sub, ...rest] = args.positionals;
  if (sub === "create") {
    const { tenant } = await client.tenants.createTenant({ name: rest.join(" ") || required(args, "name") });
    out(`${tenant?.id}  ${tenant?.name}`);
    return;
  }
  let pageToken = "";
  do {
    const page = await client.tenants.listTenants({ pageSize: 1000, pageToken });
    for (const t of page.tenants) out(`${t.id}  ${t.name}  rate=${t.rateLimitPerSecond || "unlimited"}`);
    pageToken = page.nextPageToken;
  } while (pageToken !== "");
}

async function endpoints(args: ParsedArgs): Promise<void> {
  const client = api(args);
  const [sub] = args.positionals;
  if (sub === "create") {
    const { endpoint } = await client.endpoints.createEndpoint({
      tenantId: required(args, "tenant"),
      url: required(args, "url"),
      eventTypes: (args.flags.get("types") ?? "").split(",").filter((t) => t !== ""),
    });
    out(`${endpoint?.id}  ${endpoint?.url}\nsecret: ${endpoint?.secret}`);
    return;
  }
  if (sub === "enable" || sub === "disable") {
    const id = required(args, "id");
    await client.endpoints.updateEndpoint({
      endpoint: { id, disabled: sub === "disable", disabledReason: args.flags.get("reason") ?? "" },
      updateMask: { paths: ["disabled"] },
    });
    out(`${id} ${sub}d`);
    return;
  }
  out("ENDPOINT                        STATE     BREAKER    SUCCESS  P95      PENDING  RETRYING  URL");
  let pageToken = "";
  do {
    const page = await client.endpoints.listEndpoints({ tenantId: args.flags.get("tenant") ?? "", pageSize: 200, pageToken });
    for (const e of page.endpoints) {
      const { stats } = await client.endpoints.getEndpointStats({ id: e.id });
      const s = stats!;
      const p95 = s.latencyP95 ? `${Number(s.latencyP95.seconds) * 1000 + Math.round(s.latencyP95.nanos / 1e6)}ms` : "-";
      const success = s.recentAttempts > 0 ? `${(s.successRate * 100).toFixed(1)}%` : "-";
      out(
        `${e.id.padEnd(32)}${(e.disabled ? "disabled" : "enabled").padEnd(10)}${breakerName(s.breakerState).padEnd(11)}${success.padEnd(9)}${p95.padEnd(9)}${String(s.pending).padEnd(9)}${String(s.retrying).padEnd(10)}${e.url}${e.disabled ? `  (${e.disabledReason})` : ""}`,
      );
    }
    pageToken = page.nextPageToken;
  } while (pageToken !== "");
}

async function replay(args: ParsedArgs): Promise<void> {
  const client = api(args);
  const statuses = (args.flags.get("status") ?? "dead").split(",").map(parseStatus);
  const since = args.flags.get("since");
  const res = await client.deliveries.replayDeliveries({
    endpointId: required(args, "endpoint"),
    statuses,
    startTime: since ? timestampFromMs(Date.now() - parseDuration(since)) : undefined,
  });
  out(`replayed ${res.replayedCount} deliveries`);
}

async function attempts(args: ParsedArgs): Promise<void> {
  const client = api(args);
  const id = args.positionals[0] ?? required(args, "delivery");
  const { delivery } = await client.deliveries.getDelivery({ id });
  out(deliveryLine(delivery!));
  const { attempts: list } = await client.deliveries.listAttempts({ deliveryId: id, pageSize: 1000 });
  for (const a of list) {
    const ms = a.duration ? Number(a.duration.seconds) * 1000 + Math.round(a.duration.nanos / 1e6) : 0;
    const body = new TextDecoder().decode(a.responseBody).replace(/\s+/g, " ").slice(0, 120);
    out(`  #${a.number}  ${iso(a.startTime)}  ${a.statusCode || "-"}  ${ms}ms  ${a.error}${body ? `  body: ${body}` : ""}`);
  }
}

async function deliveries(args: ParsedArgs): Promise<void> {
  const client = api(args);
  const status = args.flags.get("status");
  const { deliveries: list } = await client.deliveries.listDeliveries({
    tenantId: args.flags.get("tenant") ?? "",
    endpointId: args.flags.get("endpoint") ?? "",
    eventId: args.flags.get("event") ?? "",
    statuses: status ? status.split(",").map(parseStatus) : [],
    pageSize: Number(args.flags.get("limit") ?? "50"),
  });
  for (const d of list) out(deliveryLine(d));
}

async function tail(args: ParsedArgs): Promise<void> {
  const client = api(args);
  const abort = new AbortController();
  process.once("SIGINT", () => abort.abort());
  try {
    for await (const change of client.deliveries.watchDeliveries(
      { tenantId: args.flags.get("tenant") ?? "", endpointId: args.flags.get("endpoint") ?? "", eventId: args.flags.get("event") ?? "" },
      { signal: abort.signal },
    )) {
      if (change.delivery) out(deliveryLine(change.delivery));
    }
  } catch (err) {
    if (!abort.signal.aborted) throw err;
  }
}

function keyLine(k: ApiKey): string {
  const state = k.revokeTime ? `revoked ${iso(k.revokeTime)}` : "active";
  return `${k.id}  ${k.prefix}…  ${k.tenantId || "admin"}  ${state}  ${k.name}`;
}

async function keys(args: ParsedArgs): Promise<void> {
  const client = api(args);
  const [sub, id] = args.positionals;
  if (sub === "create") {
    const res = await client.keys.createApiKey({ tenantId: args.flags.get("tenant") ?? "", name: required(args, "name") });
    out(`${keyLine(res.apiKey!)}
key: ${res.key}
(shown only now)`);
    return;
  }
  if (sub === "revoke") {
    const res = await client.keys.revokeApiKey({ id: id ?? required(args, "id") });
    out(keyLine(res.apiKey!));
    return;
  }
  let pageToken = "";
  do {
    const page = await client.keys.listApiKeys({ tenantId: args.flags.get("tenant") ?? "", includeRevoked: args.flags.has("all"), pageSize: 1000, pageToken });
    for (const k of page.apiKeys) out(keyLine(k));
    pageToken = page.nextPageToken;
  } while (pageToken !== "");
}

export const ADMIN_USAGE = `operator commands (talk to a running server; --server URL or HOOKLINE_SERVER, default http://127.0.0.1:8080;
the API key comes from --api-key KEY or HOOKLINE_API_KEY):
  hookline tenants [list] | tenants create NAME
  hookline endpoints [list] [--tenant ID]     endpoints with health: breaker, success rate, p95, backlog
  hookline endpoints create --tenant ID --url URL [--types a.b,c.*]
  hookline endpoints enable|disable --id ID [--reason TEXT]
  hookline deliveries [--tenant ID] [--endpoint ID] [--event ID] [--status dead,retrying] [--limit 50]
  hookline attempts DELIVERY_ID               a delivery with every attempt
  hookline replay --endpoint ID [--status dead] [--since 24h]
  hookline tail [--tenant ID] [--endpoint ID] [--event ID]   stream delivery changes as they happen
  hookline keys [list] [--tenant ID] [--all]  API keys (--all includes revoked ones)
  hookline keys create --name NAME [--tenant ID]   a tenant key, or an admin key without --tenant
  hookline keys revoke KEY_ID
`;

export const ADMIN_COMMANDS: Record<string, (args: ParsedArgs) => Promise<void>> = {
  tenants,
  endpoints,
  deliveries,
  attempts,
  replay,
  tail,
  keys,
};

export async function runAdmin(command: string, argv: string[]): Promise<void> {
  const run = ADMIN_COMMANDS[command];
  if (!run) throw new Error(`unknown command ${command}`);
  await run(parseArgs(argv, ["all"]));
}
