import { EventSchema, PublishResponseSchema } from "../../gen/hookline/v1/event_pb.ts";
import { CONNECTION_FLAGS, JSON_FLAG, connect } from "../api.ts";
import { requiredText, text, type Command } from "../command.ts";
import { iso, out, printJson } from "../output.ts";
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
