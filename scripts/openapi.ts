/**
 * Writes openapi/openapi.json: an OpenAPI 3.1 description of hookline's Connect JSON routes
 * (POST /hookline.v1.<Service>/<Method>, bodies in the proto3 JSON mapping).
 *
 * Types come from the compiled descriptors in src/gen (the file_* exports of every
 * src/gen/hookline/**\/*_pb.ts); descriptions come from the proto comments, read from a
 * `buf build` image because the descriptors embedded in src/gen carry none.
 *
 * Run with `npm run openapi` (also part of `npm run generate`). CI regenerates it and fails
 * when the committed file differs.
 */
import { execFileSync } from "node:child_process";
import { mkdirSync, readdirSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { ScalarType, fromBinary, type DescEnum, type DescField, type DescFile, type DescMessage } from "@bufbuild/protobuf";
import { FileDescriptorSetSchema, type FileDescriptorProto } from "@bufbuild/protobuf/wkt";
import { VERSION } from "../src/version.ts";

const ROOT = join(dirname(fileURLToPath(import.meta.url)), "..");
const GEN = join(ROOT, "src/gen/hookline");
export const OUTPUT = join(ROOT, "openapi/openapi.json");

type Schema = Record<string, unknown>;

/** Every file descriptor exported by the generated hookline modules, in path order. */
async function hooklineFiles(): Promise<DescFile[]> {
  const modules = (readdirSync(GEN, { recursive: true }) as string[]).filter((p) => p.endsWith("_pb.ts")).sort();
  const files: DescFile[] = [];
  for (const path of modules) {
    const mod = (await import(pathToFileURL(join(GEN, path)).href)) as Record<string, unknown>;
    for (const [name, value] of Object.entries(mod)) {
      if (name.startsWith("file_") && (value as { kind?: string }).kind === "file") files.push(value as DescFile);
    }
  }
  return files;
}

/** Leading comments of the hookline declarations, by full name ("pkg.Message.field", "pkg.Service.Method"). */
function protoComments(): Map<string, string> {
  const image = execFileSync(join(ROOT, "node_modules/.bin/buf"), ["build", "-o", "-"], { cwd: ROOT, maxBuffer: 64 << 20 });
  const set = fromBinary(FileDescriptorSetSchema, new Uint8Array(image));
  const comments = new Map<string, string>();
  for (const file of set.file) {
    if (!file.name.startsWith("hookline/")) continue;
    collectComments(file, comments);
  }
  return comments;
}

function collectComments(file: FileDescriptorProto, out: Map<string, string>): void {
  const byPath = new Map<string, string>();
  for (const loc of file.sourceCodeInfo?.location ?? []) {
    // Proto comments wrap at ~100 columns: join wrapped lines, keep blank-line paragraphs.
    const text = (loc.leadingComments ?? "")
      .trim()
      .replace(/\n /g, "\n")
      .replace(/([^\n])\n(?!\n)/g, "$1 ");
    if (text !== "") byPath.set(loc.path.join(","), text);
  }
  const note = (name: string, path: number[]): void => {
    const text = byPath.get(path.join(","));
    if (text !== undefined) out.set(name, text);
  };
  const pkg = file.package;
  type MessageProto = FileDescriptorProto["messageType"][number];
  type EnumProto = FileDescriptorProto["enumType"][number];
  const enumComments = (e: EnumProto, name: string, path: number[]): void => {
    note(name, path);
    e.value.forEach((v, i) => note(`${name}.${v.name}`, [...path, 2, i]));
  };
  const messageComments = (m: MessageProto, name: string, path: number[]): void => {
    note(name, path);
    m.field.forEach((f, i) => note(`${name}.${f.name}`, [...path, 2, i]));
    m.nestedType.forEach((n, i) => messageComments(n, `${name}.${n.name}`, [...path, 3, i]));
    m.enumType.forEach((e, i) => enumComments(e, `${name}.${e.name}`, [...path, 4, i]));
  };
  file.messageType.forEach((m, i) => messageComments(m, `${pkg}.${m.name}`, [4, i]));
  file.enumType.forEach((e, i) => enumComments(e, `${pkg}.${e.name}`, [5, i]));
  file.service.forEach((s, i) => {
    note(`${pkg}.${s.name}`, [6, i]);
    s.method.forEach((m, j) => note(`${pkg}.${s.name}.${m.name}`, [6, i, 2, j]));
  });
}

/** Well-known types in their proto3 JSON form. */
const WELL_KNOWN: Record<string, Schema> = {
  "google.protobuf.Timestamp": { type: "string", format: "date-time", description: 'RFC 3339 in UTC, e.g. "2026-01-02T15:04:05.123Z".' },
  "google.protobuf.Duration": {
    type: "string",
    pattern: "^-?[0-9]+(\\.[0-9]{1,9})?s$",
    description: 'Seconds with an "s" suffix, e.g. "30s" or "0.250s".',
  },
  "google.protobuf.FieldMask": { type: "string", description: 'Comma-separated field paths in lowerCamelCase, e.g. "url,maxInFlight".' },
  "google.protobuf.Empty": { type: "object" },
  "google.protobuf.Struct": { type: "object", additionalProperties: true },
  "google.protobuf.Value": {},
  "google.protobuf.ListValue": { type: "array", items: {} },
  "google.protobuf.Any": { type: "object", properties: { "@type": { type: "string" } }, required: ["@type"], additionalProperties: true },
  "google.protobuf.BoolValue": { type: "boolean" },
  "google.protobuf.StringValue": { type: "string" },
  "google.protobuf.BytesValue": { type: "string", contentEncoding: "base64" },
  "google.protobuf.DoubleValue": { type: "number" },
  "google.protobuf.FloatValue": { type: "number" },
  "google.protobuf.Int32Value": { type: "integer", format: "int32" },
  "google.protobuf.UInt32Value": { type: "integer", minimum: 0, maximum: 4294967295 },
  "google.protobuf.Int64Value": { type: "string", format: "int64", pattern: "^-?[0-9]+$" },
  "google.protobuf.UInt64Value": { type: "string", pattern: "^[0-9]+$" },
};

/** Scalars in their proto3 JSON form: 64-bit integers as decimal strings, bytes as base64. */
function scalarSchema(type: ScalarType): Schema {
  switch (type) {
    case ScalarType.STRING:
      return { type: "string" };
    case ScalarType.BOOL:
      return { type: "boolean" };
    case ScalarType.BYTES:
      return { type: "string", contentEncoding: "base64", description: "Bytes, standard or URL-safe base64." };
    case ScalarType.DOUBLE:
      return { type: "number", format: "double" };
    case ScalarType.FLOAT:
      return { type: "number", format: "float" };
    case ScalarType.INT32:
    case ScalarType.SINT32:
    case ScalarType.SFIXED32:
      return { type: "integer", format: "int32" };
    case ScalarType.UINT32:
    case ScalarType.FIXED32:
      return { type: "integer", minimum: 0, maximum: 4294967295 };
    case ScalarType.INT64:
    case ScalarType.SINT64:
    case ScalarType.SFIXED64:
      return { type: "string", format: "int64", pattern: "^-?[0-9]+$", description: "64-bit integer as a decimal string." };
    case ScalarType.UINT64:
    case ScalarType.FIXED64:
      return { type: "string", pattern: "^[0-9]+$", description: "Unsigned 64-bit integer as a decimal string." };
  }
}

const ref = (typeName: string): Schema => ({ $ref: `#/components/schemas/${typeName}` });

/** Builds component schemas for the messages and enums reached from the RPCs. */
class Schemas {
  readonly components = new Map<string, Schema>();

  constructor(private readonly comments: Map<string, string>) {}

  message(desc: DescMessage): Schema {
    const wellKnown = WELL_KNOWN[desc.typeName];
    if (wellKnown) return wellKnown;
    if (!this.components.has(desc.typeName)) {
      const properties: Record<string, Schema> = {};
      const schema: Schema = { type: "object", properties };
      this.describe(schema, desc.typeName);
      // Set before the fields: a message may refer to itself.
      this.components.set(desc.typeName, schema);
      for (const field of desc.fields) properties[field.jsonName] = this.describe(this.field(field), `${desc.typeName}.${field.name}`);
    }
    return ref(desc.typeName);
  }

  private enumeration(desc: DescEnum): Schema {
    if (!this.components.has(desc.typeName)) {
      const values = desc.values.map((v) => v.name);
      const explained = desc.values
        .map((v) => [v.name, this.comments.get(`${desc.typeName}.${v.name}`)])
        .filter((pair): pair is [string, string] => pair[1] !== undefined)
        .map(([name, text]) => `- \`${name}\`: ${text.replace(/\n/g, " ")}`);
      const schema: Schema = { type: "string", enum: values };
      const intro = this.comments.get(desc.typeName);
      const lines = [intro, explained.join("\n"), "The value's number is accepted on input too."].filter((t) => t);
      schema.description = lines.join("\n\n");
      this.components.set(desc.typeName, schema);
    }
    return ref(desc.typeName);
  }

  private field(field: DescField): Schema {
    switch (field.fieldKind) {
      case "scalar":
        return { ...scalarSchema(field.scalar) };
      case "enum":
        return this.enumeration(field.enum);
      case "message":
        return { ...this.message(field.message) };
      case "list": {
        const items =
          field.listKind === "scalar" ? scalarSchema(field.scalar) : field.listKind === "enum" ? this.enumeration(field.enum) : this.message(field.message);
        return { type: "array", items };
      }
      case "map": {
        const values =
          field.mapKind === "scalar" ? scalarSchema(field.scalar) : field.mapKind === "enum" ? this.enumeration(field.enum) : this.message(field.message);
        return { type: "object", additionalProperties: values };
      }
    }
  }

  /** Adds the proto comment of `name` as the description (a $ref keeps its own siblings in 3.1). */
  private describe(schema: Schema, name: string): Schema {
    const text = this.comments.get(name);
    if (text === undefined) return schema;
    schema.description = typeof schema.description === "string" ? `${text}\n\n${schema.description}` : text;
    return schema;
  }
}

const CONNECT_ERROR: Schema = {
  type: "object",
  description: "A Connect error. The HTTP status follows the code (invalid_argument → 400, not_found → 404, …).",
  properties: {
    code: {
      type: "string",
      enum: [
        "canceled",
        "unknown",
        "invalid_argument",
        "deadline_exceeded",
        "not_found",
        "already_exists",
        "permission_denied",
        "resource_exhausted",
        "failed_precondition",
        "aborted",
        "out_of_range",
        "unimplemented",
        "internal",
        "unavailable",
        "data_loss",
        "unauthenticated",
      ],
    },
    message: { type: "string" },
    details: {
      type: "array",
      description: 'Typed details; bad input carries a "google.rpc.BadRequest" naming the field.',
      items: {
        type: "object",
        properties: {
          type: { type: "string", description: 'Full name of the detail\'s message, e.g. "google.rpc.BadRequest".' },
          value: { type: "string", contentEncoding: "base64", description: "The detail message in the protobuf binary format." },
          debug: { description: "The detail in JSON, when the server adds it." },
        },
      },
    },
  },
  required: ["code"],
};

const STREAM_NOTE =
  "Streaming RPC: with the Connect protocol the body is `application/connect+json` and every message is framed as an " +
  "envelope (1 flag byte, 4-byte big-endian length, then the JSON message); the response ends with an end-of-stream " +
  "envelope. Use a Connect, gRPC or gRPC-Web client rather than plain HTTP.";

async function build(): Promise<Schema> {
  const files = await hooklineFiles();
  const comments = protoComments();
  const schemas = new Schemas(comments);
  const paths: Record<string, Schema> = {};
  const tags: Schema[] = [];
  for (const file of files) {
    for (const service of file.services) {
      tags.push({ name: service.name, description: comments.get(service.typeName) ?? service.typeName });
      for (const method of service.methods) {
        const streaming = method.methodKind !== "unary";
        const contentType = streaming ? "application/connect+json" : "application/json";
        const text = comments.get(`${service.typeName}.${method.name}`) ?? method.name;
        const [summary] = text.split(/(?<=\.)\s|\n/, 1);
        paths[`/${service.typeName}/${method.name}`] = {
          post: {
            operationId: `${service.name}_${method.name}`,
            tags: [service.name],
            summary: summary ?? method.name,
            description: streaming ? `${text}\n\n${STREAM_NOTE}` : text,
            ...(streaming ? { "x-connect-streaming": method.methodKind } : {}),
            parameters: [{ $ref: "#/components/parameters/ConnectProtocolVersion" }, { $ref: "#/components/parameters/ConnectTimeoutMs" }],
            requestBody: { required: true, content: { [contentType]: { schema: schemas.message(method.input) } } },
            responses: {
              "200": { description: "Success.", content: { [contentType]: { schema: schemas.message(method.output) } } },
              default: { $ref: "#/components/responses/ConnectError" },
            },
          },
        };
      }
    }
  }
  const sorted = Object.fromEntries([...schemas.components.entries()].sort(([a], [b]) => a.localeCompare(b)));
  return {
    openapi: "3.1.0",
    info: {
      title: "hookline API",
      version: VERSION,
      description:
        "hookline's RPCs over the Connect protocol with JSON bodies: `POST /<package>.<Service>/<Method>` with " +
        "`content-type: application/json` and the request message in the proto3 JSON mapping (lowerCamelCase field " +
        "names; 64-bit integers as strings; bytes as base64; enums by name; Timestamp, Duration and FieldMask as " +
        "strings). The same routes also speak gRPC and gRPC-Web. Generated from the protos in proto/hookline; do not " +
        "edit by hand (`npm run openapi`).",
      license: { name: "Apache-2.0", identifier: "Apache-2.0" },
    },
    security: [{ bearerAuth: [] }],
    tags,
    paths,
    components: {
      securitySchemes: {
        bearerAuth: { type: "http", scheme: "bearer", description: "An API key: `authorization: Bearer <key>`." },
      },
      parameters: {
        ConnectProtocolVersion: {
          name: "Connect-Protocol-Version",
          in: "header",
          required: false,
          description: "The Connect protocol version; hookline does not require it.",
          schema: { type: "string", enum: ["1"] },
        },
        ConnectTimeoutMs: {
          name: "Connect-Timeout-Ms",
          in: "header",
          required: false,
          description: "Deadline for the call in milliseconds.",
          schema: { type: "integer", minimum: 1 },
        },
      },
      responses: {
        ConnectError: {
          description: "The call failed: a Connect error with its code, message and details.",
          content: { "application/json": { schema: { $ref: "#/components/schemas/connect.error" } } },
        },
      },
      schemas: { ...sorted, "connect.error": CONNECT_ERROR },
    },
  };
}

const doc = await build();
mkdirSync(dirname(OUTPUT), { recursive: true });
writeFileSync(OUTPUT, `${JSON.stringify(doc, null, 2)}\n`);
console.log(`wrote ${OUTPUT.slice(ROOT.length + 1)}: ${Object.keys(doc.paths as object).length} routes`);
