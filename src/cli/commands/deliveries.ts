import { toJson } from "@bufbuild/protobuf";
import { timestampFromMs } from "@bufbuild/protobuf/wkt";
import { AttemptSchema, DeliverySchema, DeliveryStatus, type Delivery } from "../../gen/hookline/v1/delivery_pb.ts";
import { CONNECTION_FLAGS, JSON_FLAG, connect } from "../api.ts";
import { UsageError, allPages, duration, integer, list, requiredText, text, type Command, type Flag, type FlagValues } from "../command.ts";
import { iso, out, printJson, printJsonList } from "../output.ts";
import { attemptHeaderLines, attemptLine } from "./endpoints.ts";

const statusName = (s: DeliveryStatus): string => DeliveryStatus[s]?.toLowerCase() ?? String(s);

export function deliveryLine(d: Delivery): string {
  return `${iso(d.updateTime)}  ${d.id}  ${statusName(d.status).padEnd(9)}  attempts=${d.attempts}  code=${d.lastStatusCode || "-"}  ${d.endpointId}  ${d.eventType}${d.lastError ? `  (${d.lastError})` : ""}`;
}

function statuses(flags: FlagValues, name: string): DeliveryStatus[] {
  return (list(flags, name) ?? []).map((raw) => {
    const value = DeliveryStatus[raw.toUpperCase() as keyof typeof DeliveryStatus];
    if (typeof value !== "number" || value === DeliveryStatus.UNSPECIFIED)
      throw new UsageError(`--${name}: unknown status "${raw}"; use pending, retrying, succeeded, dead or cancelled`);
    return value;
  });
}

/** --since as a start time: that long ago. */
export function since(flags: FlagValues): number | undefined {
  const ago = duration(flags, "since");
  return ago === undefined ? undefined : Date.now() - ago;
}

const FILTER_FLAGS: Record<string, Flag> = {
  tenant: { type: "string", value: "ID", help: "only this tenant's" },
  endpoint: { type: "string", value: "ID", help: "only this endpoint's" },
  event: { type: "string", value: "ID", help: "only this event's" },
};

export const deliveryCommands: Command[] = [
  {
    name: "deliveries list",
    summary: "List deliveries, newest first.",
    flags: {
      ...CONNECTION_FLAGS,
      ...JSON_FLAG,
      ...FILTER_FLAGS,
      status: { type: "string", value: "LIST", help: "only these statuses, e.g. dead,retrying" },
      since: { type: "string", value: "AGE", help: "only those created within this long, e.g. 1h or 7d" },
      limit: { type: "string", value: "N", help: "at most this many (1-1000)", default: "50" },
    },
    async run({ flags }) {
      const start = since(flags);
      const { deliveries } = await connect(flags).deliveries.listDeliveries({
        tenantId: text(flags, "tenant"),
        endpointId: text(flags, "endpoint"),
        eventId: text(flags, "event"),
        statuses: statuses(flags, "status"),
        pageSize: integer(flags, "limit", 50, 1, 1000),
        ...(start !== undefined && { startTime: timestampFromMs(start) }),
      });
      if (flags.json) printJsonList("deliveries", DeliverySchema, deliveries);
      else for (const d of deliveries) out(deliveryLine(d));
    },
  },
  {
    name: "attempts",
    summary: "A delivery with every attempt: status code, duration, error, response body, request headers (custom values masked).",
    args: [{ name: "DELIVERY_ID", help: "the delivery (dlv_…)" }],
    flags: { ...CONNECTION_FLAGS, ...JSON_FLAG },
    async run({ flags, args }) {
      const api = connect(flags);
      const id = args[0] as string;
      const { delivery } = await api.deliveries.getDelivery({ id });
      const all = await allPages(async (pageToken) => {
        const page = await api.deliveries.listAttempts({ deliveryId: id, pageSize: 1000, pageToken });
        return { items: page.attempts, nextPageToken: page.nextPageToken };
      });
      if (flags.json) {
        out(JSON.stringify({ delivery: toJson(DeliverySchema, delivery!), attempts: all.map((a) => toJson(AttemptSchema, a)) }));
        return;
      }
      out(deliveryLine(delivery!));
      for (const a of all) {
        out(attemptLine(a));
        for (const line of attemptHeaderLines(a)) out(line);
      }
    },
  },
  {
    name: "retry",
    summary: "Send one delivery again now, with a fresh retry schedule.",
    args: [{ name: "DELIVERY_ID", help: "the delivery (dlv_…)" }],
    flags: { ...CONNECTION_FLAGS, ...JSON_FLAG },
    async run({ flags, args }) {
      const { delivery } = await connect(flags).deliveries.retryDelivery({ id: args[0] as string });
      if (flags.json) printJson(DeliverySchema, delivery!);
      else out(deliveryLine(delivery!));
    },
  },
  {
    name: "replay",
    summary: "Send an endpoint's deliveries again, by status and creation time.",
    flags: {
      ...CONNECTION_FLAGS,
      endpoint: { type: "string", value: "ID", help: "the endpoint (required)" },
      status: { type: "string", value: "LIST", help: "statuses to replay", default: "dead" },
      since: { type: "string", value: "DURATION", help: "only deliveries created within this long, e.g. 24h" },
    },
    async run({ flags }) {
      const from = since(flags);
      const res = await connect(flags).deliveries.replayDeliveries({
        endpointId: requiredText(flags, "endpoint"),
        statuses: flags.status === undefined ? [DeliveryStatus.DEAD] : statuses(flags, "status"),
        startTime: from === undefined ? undefined : timestampFromMs(from),
      });
      out(`replayed ${res.replayedCount} deliveries`);
    },
  },
  {
    name: "tail",
    summary: 'Stream delivery changes as they happen; "connected" on stderr once nothing will be missed.',
    flags: { ...CONNECTION_FLAGS, ...JSON_FLAG, ...FILTER_FLAGS },
    async run({ flags }) {
      const api = connect(flags);
      const abort = new AbortController();
      process.once("SIGINT", () => abort.abort());
      process.once("SIGTERM", () => abort.abort());
      try {
        for await (const change of api.deliveries.watchDeliveries(
          { tenantId: text(flags, "tenant"), endpointId: text(flags, "endpoint"), eventId: text(flags, "event") },
          { signal: abort.signal },
        )) {
          if (!change.delivery) process.stderr.write("connected\n");
          else if (flags.json) printJson(DeliverySchema, change.delivery);
          else out(deliveryLine(change.delivery));
        }
      } catch (err) {
        if (!abort.signal.aborted) throw err;
      }
    },
  },
];

