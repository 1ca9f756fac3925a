import { readFile } from "node:fs/promises";
import { EventTypeSchema, type EventType } from "../../gen/hookline/v1/event_type_pb.ts";
import { CONNECTION_FLAGS, JSON_FLAG, connect } from "../api.ts";
import { UsageError, allPages, text, type Command, type Flag, type FlagValues } from "../command.ts";
import { out, printJson, printJsonList } from "../output.ts";

function line(t: EventType): string {
  const parts = [t.name, t.tenantId || "instance-wide", `schema=${t.schema === "" ? "no" : "yes"}`];
  if (t.archived) parts.push("archived");
  if (t.description !== "") parts.push(t.description);
  return parts.join("  ");
}

const NAME = [{ name: "NAME", help: "the event type, e.g. invoice.paid" }];

const SCOPE_FLAG: Record<string, Flag> = {
  tenant: { type: "string", value: "ID", help: "the tenant's own type; omit for an instance-wide one (admin keys)" },
};

const CONTENT_FLAGS: Record<string, Flag> = {
  description: { type: "string", value: "TEXT", help: "what the event means" },
  "schema-file": { type: "string", value: "PATH", help: 'JSON Schema (draft 2020-12) that payloads must match ("-" = stdin)' },
  example: { type: "string", value: "JSON", help: "an example payload, as JSON text" },
  "example-file": { type: "string", value: "PATH", help: "read the example payload from a file" },
};

async function readText(path: string, flag: string): Promise<string> {
  try {
    if (path !== "-") return await readFile(path, "utf8");
    const chunks: Buffer[] = [];
    for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
    return Buffer.concat(chunks).toString("utf8");
  } catch (err) {
    throw new UsageError(`--${flag}: cannot read ${path}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
  }
}

/** A JSON document from --NAME (text) or --NAME-file; undefined when neither is given. */
async function jsonDocument(flags: FlagValues, name: string, textFlag: boolean): Promise<string | undefined> {
  const fileFlag = `${name}-file`;
  if (textFlag && flags[name] !== undefined && flags[fileFlag] !== undefined) throw new UsageError(`pass either --${name} or --${fileFlag}, not both`);
  const [source, doc] =
    textFlag && flags[name] !== undefined
      ? [`--${name}`, text(flags, name)]
      : flags[fileFlag] !== undefined
        ? [`--${fileFlag} ${text(flags, fileFlag)}`, await readText(text(flags, fileFlag), fileFlag)]
        : [undefined, undefined];
  if (doc === undefined || doc === "") return doc;
  try {
    JSON.parse(doc);
  } catch (err) {
    throw new UsageError(`${source} is not JSON: ${(err as Error).message}`);
  }
  return doc;
}

export const eventTypeCommands: Command[] = [
  {
    name: "event-types list",
    summary: "List the event-type catalog: a tenant's as publish sees it with --tenant, else every scope (a tenant key sees its own).",
    flags: {
      ...CONNECTION_FLAGS,
      ...JSON_FLAG,
      tenant: { type: "string", value: "ID", help: "this tenant's catalog: its own types and the instance-wide ones" },
      all: { type: "boolean", help: "include archived types" },
    },
    async run({ flags }) {
      const api = connect(flags);
      const all = await allPages(async (pageToken) => {
        const page = await api.eventTypes.listEventTypes({ tenantId: text(flags, "tenant"), includeArchived: flags.all === true, pageSize: 1000, pageToken });
        return { items: page.eventTypes, nextPageToken: page.nextPageToken };
      });
      if (flags.json) printJsonList("eventTypes", EventTypeSchema, all);
      else for (const t of all) out(line(t));
    },
  },
  {
    name: "event-types get",
    summary: "Show one event type with its example and schema.",
    args: NAME,
    flags: { ...CONNECTION_FLAGS, ...JSON_FLAG, ...SCOPE_FLAG },
    async run({ flags, args }) {
      const { eventType } = await connect(flags).eventTypes.getEventType({ tenantId: text(flags, "tenant"), name: args[0] as string });
      if (flags.json) return printJson(EventTypeSchema, eventType!);
      out(line(eventType!));
      if (eventType!.example !== "") out(`example: ${eventType!.example}`);
      if (eventType!.schema !== "") out(`schema: ${eventType!.schema}`);
    },
  },
  {
    name: "event-types create",
    summary: "Add an event type to the catalog; with --schema-file, published payloads of this type must match it.",
    args: NAME,
    flags: { ...CONNECTION_FLAGS, ...JSON_FLAG, ...SCOPE_FLAG, ...CONTENT_FLAGS },
    async run({ flags, args }) {
      const { eventType } = await connect(flags).eventTypes.createEventType({
        eventType: {
          tenantId: text(flags, "tenant"),
          name: args[0] as string,
          description: text(flags, "description"),
          schema: (await jsonDocument(flags, "schema", false)) ?? "",
          example: (await jsonDocument(flags, "example", true)) ?? "",
        },
      });
      if (flags.json) printJson(EventTypeSchema, eventType!);
      else out(line(eventType!));
    },
  },
  {
    name: "event-types update",
    summary: "Change an event type's description, schema or example, or un-archive it.",
    args: NAME,
    flags: {
      ...CONNECTION_FLAGS,
      ...JSON_FLAG,
      ...SCOPE_FLAG,
      ...CONTENT_FLAGS,
      "no-schema": { type: "boolean", help: "remove the schema" },
      unarchive: { type: "boolean", help: "make an archived type live again" },
    },
    async run({ flags, args }) {
      const paths: string[] = [];
      if (flags.description !== undefined) paths.push("description");
      const schema = await jsonDocument(flags, "schema", false);
      if (schema !== undefined && flags["no-schema"] === true) throw new UsageError("pass either --schema-file or --no-schema, not both");
      if (schema !== undefined || flags["no-schema"] === true) paths.push("schema");
      const example = await jsonDocument(flags, "example", true);
      if (example !== undefined) paths.push("example");
      if (flags.unarchive === true) paths.push("archived");
      if (paths.length === 0) throw new UsageError("nothing to change: pass --description, --schema-file, --no-schema, --example, --example-file or --unarchive");
      const { eventType } = await connect(flags).eventTypes.updateEventType({
        eventType: {
          tenantId: text(flags, "tenant"),
          name: args[0] as string,
          description: text(flags, "description"),
          schema: schema ?? "",
          example: example ?? "",
          archived: false,
        },
        updateMask: { paths },
      });
      if (flags.json) printJson(EventTypeSchema, eventType!);
      else out(line(eventType!));
    },
  },
  {
    name: "event-types archive",
    summary: "Archive an event type: its schema no longer applies, and strict tenants can no longer publish it.",
    args: NAME,
    flags: { ...CONNECTION_FLAGS, ...JSON_FLAG, ...SCOPE_FLAG },
    async run({ flags, args }) {
      const { eventType } = await connect(flags).eventTypes.archiveEventType({ tenantId: text(flags, "tenant"), name: args[0] as string });
      if (flags.json) printJson(EventTypeSchema, eventType!);
      else out(line(eventType!));
    },
  },
];
