import { timestampFromMs } from "@bufbuild/protobuf/wkt";
import { EventSchema, PublishResponseSchema } from "../../gen/hookline/v1/event_pb.ts";
import { CONNECTION_FLAGS, JSON_FLAG, connect } from "../api.ts";
import { integer, requiredText, text, type Command } from "../command.ts";
import { iso, out, printJson, printJsonList } from "../output.ts";
import { since } from "./deliveries.ts";
import { PAYLOAD_FLAGS, readPayload } from "./payload.ts";

export const eventCommands: Command[] = [
  {
    name: "publish",
    summary: "Publish one event; the payload is plain JSON from --data, --file or stdin.",
    flags: {
      ...CONNECTION_FLAGS,
      ...JSON_FLAG,
      tenant: { type: "string", value: "ID", help: "the tenant (required)" },
      type: { type: "string", value: "TYPE", help: "event type, e.g. invoice.paid (required)" },
      ...PAYLOAD_FLAGS,
      "idempotency-key": { type: "string", value: "KEY", help: "same key within the window = same event" },
      "ordering-key": { type: "string", value: "KEY", help: "ordered endpoints deliver one key in order" },
    },
    async run({ flags }) {
      const tenantId = requiredText(flags, "tenant");
      const type = requiredText(flags, "type");
      const payload = (await readPayload(flags, true)) as Uint8Array;
      const res = await connect(flags).events.publish({
        events: [{ tenantId, type, payload, idempotencyKey: text(flags, "idempotency-key"), orderingKey: text(flags, "ordering-key") }],
      });
      const r = res.results[0];
      if (flags.json) printJson(PublishResponseSchema, res);
      else out(`${r?.eventId}${r?.duplicate ? "  (duplicate: published before with this idempotency key)" : ""}`);
    },
  },
  {
    name: "events list",
    summary: "List events, newest first; --json includes payloads, events get shows one.",
    flags: {
      ...CONNECTION_FLAGS,
      ...JSON_FLAG,
      tenant: { type: "string", value: "ID", help: "only this tenant's" },
      type: { type: "string", value: "TYPE", help: "only this event type, e.g. invoice.paid" },
      since: { type: "string", value: "AGE", help: "only those created within this long, e.g. 1h or 7d" },
      limit: { type: "string", value: "N", help: "at most this many (1-1000)", default: "50" },
    },
    async run({ flags }) {
      const start = since(flags);
      const { events } = await connect(flags).events.listEvents({
        tenantId: text(flags, "tenant"),
        type: text(flags, "type"),
        pageSize: integer(flags, "limit", 50, 1, 1000),
        ...(start !== undefined && { startTime: timestampFromMs(start) }),
      });
      if (flags.json) printJsonList("events", EventSchema, events);
      else for (const e of events) out(`${iso(e.createTime)}  ${e.id}  ${e.tenantId}  ${e.type}${e.orderingKey ? `  key=${e.orderingKey}` : ""}`);
    },
  },
  {
    name: "events get",
    summary: "Show one event with its payload.",
    args: [{ name: "EVENT_ID", help: "the event (evt_…)" }],
    flags: { ...CONNECTION_FLAGS, ...JSON_FLAG },
    async run({ flags, args }) {
      const { event } = await connect(flags).events.getEvent({ id: args[0] as string });
      if (flags.json) return printJson(EventSchema, event!);
      const e = event!;
      out(`${e.id}  ${iso(e.createTime)}  ${e.tenantId}  ${e.type}${e.orderingKey ? `  key=${e.orderingKey}` : ""}`);
      out(new TextDecoder().decode(e.payload));
    },
  },
];
