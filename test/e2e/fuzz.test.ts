import { afterAll, beforeAll, describe, expect, it } from "vitest";
import http2 from "node:http2";
import { ScalarType, toBinary, toJsonString, type DescField, type DescMessage, type DescMethod } from "@bufbuild/protobuf";
import { reflect, type ReflectMessage } from "@bufbuild/protobuf/reflect";
import { authHeaders } from "../helpers/auth.ts";
import { clients } from "../helpers/clients.ts";
import { seeded } from "../helpers/random.ts";
import { startServer, type ServerProcess } from "../helpers/server.ts";
import { DeliveryService } from "../../src/gen/hookline/v1/delivery_pb.ts";
import { EndpointService } from "../../src/gen/hookline/v1/endpoint_pb.ts";
import { EventService } from "../../src/gen/hookline/v1/event_pb.ts";
import { EventTypeService } from "../../src/gen/hookline/v1/event_type_pb.ts";
import { TenantService } from "../../src/gen/hookline/v1/tenant_pb.ts";

/**
 * Generated bad input for every RPC of every hookline service, over Connect (binary and JSON,
 * HTTP/1.1) and gRPC (HTTP/2): random bytes, mutated valid messages, JSON of the wrong shape.
 * No answer may be INTERNAL or UNKNOWN, and the server must still answer at the end.
 * HOOKLINE_FUZZ_SEED=<n> replays a run; the seed is printed either way.
 */
const SEED = Number(process.env.HOOKLINE_FUZZ_SEED ?? Date.now() % 2 ** 31);
const CASES_PER_METHOD = 3;
const TIME_BUDGET_MS = 40_000;
/** A stream that is still open after this (a watch that found its tenant) has passed. */
const STREAM_WAIT_MS = 1500;

const SERVICES = [TenantService, EndpointService, EventService, DeliveryService, EventTypeService];
const FORBIDDEN_CONNECT = new Set(["internal", "unknown"]);
const FORBIDDEN_GRPC = new Set(["13", "2"]);

let server: ServerProcess;
beforeAll(async () => {
  server = await startServer({ args: ["--max-request-bytes", String(256 * 1024)] });
});
afterAll(async () => {
  await server.stop();
  server.cleanup();
});

const rand = seeded(SEED);
const int = (n: number): number => Math.floor(rand() * n);
const pick = <T,>(xs: readonly T[]): T => xs[int(xs.length)]!;
const randomBytes = (n: number): Uint8Array => Uint8Array.from({ length: n }, () => int(256));

/** No URL that could name a real host ever reaches the server: endpoints are created only with input that fails URL checks. */
const SAFE = (text: string): boolean => !/https?:/i.test(text);

const STRINGS = ["", " ", "a", "tnt_01HZZZZZZZZZZZZZZZZZZZZZZZ", "ep_x", "dlv_", "evt_01", "*", "invoice.*", "a.b.c", "💥", "\u0000", "../../etc", "x".repeat(3000), "{}"];

function randomString(): string {
  switch (int(3)) {
    case 0:
      return pick(STRINGS);
    case 1:
      return String.fromCharCode(...Array.from({ length: int(40) }, () => 32 + int(95)));
    default:
      return Array.from({ length: int(8) }, () => pick(["é", "字", "🙂", "\t", "%", "'", '"', "\\"])).join("");
  }
}

function randomScalar(type: ScalarType): unknown {
  switch (type) {
    case ScalarType.STRING:
      return randomString();
    case ScalarType.BYTES:
      return rand() < 0.5 ? new TextEncoder().encode(pick(['{"a":1}', "[]", "null", "{"])) : randomBytes(int(64));
    case ScalarType.BOOL:
      return rand() < 0.5;
    case ScalarType.DOUBLE:
    case ScalarType.FLOAT:
      return pick([0, -1, 1.5, 1e300, Number.NaN, Number.POSITIVE_INFINITY]);
    case ScalarType.INT64:
    case ScalarType.SINT64:
    case ScalarType.SFIXED64:
      return pick([0n, -1n, 1n, 2n ** 62n, -(2n ** 63n)]);
    case ScalarType.UINT64:
    case ScalarType.FIXED64:
      return pick([0n, 1n, 2n ** 64n - 1n]);
    case ScalarType.UINT32:
    case ScalarType.FIXED32:
      return pick([0, 1, 4294967295]);
    default:
      return pick([0, 1, -1, 2147483647, -2147483648, int(100)]);
  }
}

/** A message with random values in random fields (valid on the wire, mostly invalid as input). */
function randomMessage(desc: DescMessage, depth = 0): ReflectMessage {
  const msg = reflect(desc);
  for (const field of desc.fields) {
    if (rand() < 0.4) continue;
    try {
      setRandom(msg, field, depth);
    } catch {
      // A value the field refuses (e.g. out of range for its type): leave it unset.
    }
  }
  return msg;
}

function setRandom(msg: ReflectMessage, field: DescField, depth: number): void {
  switch (field.fieldKind) {
    case "scalar":
      msg.set(field, randomScalar(field.scalar) as never);
      return;
    case "enum":
      msg.set(field, pick([0, 1, 2, 3, 99, -1]) as never);
      return;
    case "message":
      if (depth < 3) msg.set(field, randomMessage(field.message, depth + 1) as never);
      return;
    case "list": {
      const list = msg.get(field);
      for (let i = int(4); i > 0; i--) {
        if (field.listKind === "scalar") list.add(randomScalar(field.scalar) as never);
        else if (field.listKind === "enum") list.add(pick([0, 1, 5, 99]) as never);
        else if (depth < 3) list.add(randomMessage(field.message, depth + 1) as never);
      }
      return;
    }
    case "map": {
      const map = msg.get(field);
      for (let i = int(3); i > 0; i--) {
        const key = randomScalar(field.mapKey);
        if (field.mapKind === "scalar") map.set(key as never, randomScalar(field.scalar) as never);
        else if (field.mapKind === "enum") map.set(key as never, pick([0, 1, 99]) as never);
        else if (depth < 3) map.set(key as never, randomMessage(field.message, depth + 1) as never);
      }
      return;
    }
  }
}

/** A valid encoding with some bytes flipped, cut, or spliced. */
function mutate(bytes: Uint8Array): Uint8Array {
  const out = Array.from(bytes);
  for (let i = 1 + int(4); i > 0; i--) {
    const at = int(Math.max(out.length, 1));
    switch (int(4)) {
      case 0:
        out[at] = int(256);
        break;
      case 1:
        out.splice(at);
        break;
      case 2:
        out.splice(at, 0, ...randomBytes(1 + int(8)));
        break;
      default:
        out.splice(at, 0, pick([0x0a, 0x12, 0x08]), 0xff, 0xff, 0xff, 0xff, 0x0f);
    }
  }
  return Uint8Array.from(out);
}

/** JSON of the wrong shape: the method's own field names with values of the wrong type, or no JSON at all. */
function wrongJson(desc: DescMessage): string {
  if (rand() < 0.2) return pick(["", "{", "[1,2]", "null", '"text"', "{\"a\":", "1e999"]);
  const body: Record<string, unknown> = {};
  for (const field of desc.fields) {
    if (rand() < 0.5) continue;
    body[field.jsonName] = pick([5, -1.5, "text", true, null, [], [1, "a"], { nested: { x: 1 } }, "9".repeat(40), "2026-13-45T99:99:99Z", "-1s"]);
  }
  return JSON.stringify(body);
}

interface Case {
  method: DescMethod;
  protocol: "connect-proto" | "connect-json" | "grpc";
  kind: string;
  body: Uint8Array;
}

function cases(method: DescMethod): Case[] {
  const out: Case[] = [];
  for (let i = 0; i < CASES_PER_METHOD; i++) {
    const valid = toBinary(method.input, randomMessage(method.input).message);
    const binaries: [string, Uint8Array][] = [
      ["random bytes", randomBytes(1 + int(200))],
      ["mutated message", mutate(valid)],
      ["random field values", valid],
    ];
    for (const [kind, body] of binaries) {
      out.push({ method, protocol: i % 2 === 0 ? "connect-proto" : "grpc", kind, body });
    }
    let json: string;
    try {
      json = rand() < 0.5 ? wrongJson(method.input) : toJsonString(method.input, randomMessage(method.input).message);
    } catch {
      json = wrongJson(method.input);
    }
    out.push({ method, protocol: "connect-json", kind: "JSON", body: new TextEncoder().encode(json) });
  }
  return out.filter((c) => SAFE(Buffer.from(c.body).toString("latin1")));
}

function envelope(body: Uint8Array): Uint8Array {
  const out = new Uint8Array(5 + body.length);
  new DataView(out.buffer).setUint32(1, body.length);
  out.set(body, 5);
  return out;
}

/** HTTP status and body of a request: over HTTP/1.1 (fetch), or HTTP/2 for bidi streams, which need it. */
async function post(session: http2.ClientHttp2Session, c: Case, contentType: string, body: Uint8Array): Promise<{ status: number; bytes: Uint8Array } | "still open"> {
  const path = `/${c.method.parent.typeName}/${c.method.name}`;
  const headers = { "content-type": contentType, "connect-protocol-version": "1", ...authHeaders() };
  if (c.method.methodKind === "bidi_streaming") {
    return new Promise((resolve) => {
      const req = session.request({ ":method": "POST", ":path": path, ...headers });
      let status = 0;
      const chunks: Buffer[] = [];
      req.on("response", (h) => (status = Number(h[":status"])));
      req.on("data", (d: Buffer) => chunks.push(d));
      req.on("error", () => undefined);
      const timer = setTimeout(() => {
        req.close(http2.constants.NGHTTP2_CANCEL);
        resolve("still open");
      }, STREAM_WAIT_MS);
      req.on("close", () => {
        clearTimeout(timer);
        resolve({ status, bytes: Buffer.concat(chunks) });
      });
      req.end(body);
    });
  }
  const abort = new AbortController();
  const timer = setTimeout(() => abort.abort(), STREAM_WAIT_MS);
  try {
    const res = await fetch(`${server.baseUrl}${path}`, { method: "POST", headers, body: Buffer.from(body), signal: abort.signal });
    return { status: res.status, bytes: new Uint8Array(await res.arrayBuffer()) };
  } catch (err) {
    if (abort.signal.aborted) return "still open";
    throw err;
  } finally {
    clearTimeout(timer);
  }
}

/** The code a Connect call answered with: from the unary JSON error, or a stream's end message. */
async function connectCall(session: http2.ClientHttp2Session, c: Case): Promise<string> {
  const unary = c.method.methodKind === "unary";
  const json = c.protocol === "connect-json";
  const contentType = unary ? (json ? "application/json" : "application/proto") : json ? "application/connect+json" : "application/connect+proto";
  {
    const answer = await post(session, c, contentType, unary ? c.body : envelope(c.body));
    if (answer === "still open") return answer;
    const { status, bytes } = answer;
    if (unary && status === 200) return "ok";
    if (unary || status !== 200) return errorCode(status, bytes);
    // Streams: the end-stream envelope (flag 0b10) carries {"error": {"code": ...}} or nothing.
    for (let at = 0; at + 5 <= bytes.length; ) {
      const flags = bytes[at]!;
      const length = ((bytes[at + 1]! << 24) | (bytes[at + 2]! << 16) | (bytes[at + 3]! << 8) | bytes[at + 4]!) >>> 0;
      const data = bytes.subarray(at + 5, at + 5 + length);
      if (flags & 0b10) {
        const end = JSON.parse(new TextDecoder().decode(data)) as { error?: { code?: string } };
        return end.error?.code ?? "ok";
      }
      at += 5 + length;
    }
    return "no end-stream message";
  }
}

/** The code of a Connect error body, or the HTTP status when the body is not one. */
function errorCode(status: number, bytes: Uint8Array): string {
  try {
    const err = JSON.parse(new TextDecoder().decode(bytes)) as { code?: string };
    if (typeof err.code === "string") return err.code;
  } catch {
    // not JSON
  }
  return `http ${status}`;
}

/** The grpc-status a gRPC call answered with ("still open" for a stream that did not end). */
function grpcCall(session: http2.ClientHttp2Session, c: Case): Promise<string> {
  return new Promise((resolve) => {
    const req = session.request({
      ":method": "POST",
      ":path": `/${c.method.parent.typeName}/${c.method.name}`,
      "content-type": "application/grpc",
      te: "trailers",
      ...authHeaders(),
    });
    let status: string | undefined;
    const take = (h: http2.IncomingHttpHeaders): void => {
      if (h["grpc-status"] !== undefined) status = String(h["grpc-status"]);
    };
    req.on("response", take);
    req.on("trailers", take);
    req.on("data", () => undefined);
    req.on("error", () => undefined);
    const timer = setTimeout(() => {
      req.close(http2.constants.NGHTTP2_CANCEL);
      resolve(status ?? "still open");
    }, STREAM_WAIT_MS);
    req.on("close", () => {
      clearTimeout(timer);
      resolve(status ?? `reset ${req.rstCode}`);
    });
    req.end(envelope(c.body));
  });
}

const hex = (b: Uint8Array): string => Buffer.from(b.subarray(0, 64)).toString("hex") + (b.length > 64 ? "…" : "");

describe(`fuzz every RPC (seed ${SEED})`, () => {
  it("no generated input gets INTERNAL or UNKNOWN, and the server keeps answering", async () => {
    console.log(`fuzz seed ${SEED} (replay with HOOKLINE_FUZZ_SEED=${SEED})`);
    const all = SERVICES.flatMap((s) => s.methods.flatMap((m) => cases(m)));
    const session = http2.connect(server.baseUrl);
    session.on("error", () => undefined);
    const failures: string[] = [];
    const started = Date.now();
    let ran = 0;
    const seen = new Map<string, number>();
    try {
      for (const c of all) {
        if (Date.now() - started > TIME_BUDGET_MS) break;
        const code = c.protocol === "grpc" ? await grpcCall(session, c) : await connectCall(session, c);
        ran++;
        seen.set(code, (seen.get(code) ?? 0) + 1);
        const bad =
          c.protocol === "grpc"
            ? FORBIDDEN_GRPC.has(code) || code.startsWith("reset")
            : FORBIDDEN_CONNECT.has(code) || code.startsWith("http 5") || code === "no end-stream message";
        if (bad) failures.push(`${c.method.parent.name}.${c.method.name} ${c.protocol} ${c.kind} → ${code}; body ${hex(c.body)}`);
      }
    } finally {
      session.close();
    }
    console.log(`fuzz ran ${ran} of ${all.length} cases in ${Date.now() - started}ms; answers: ${[...seen].map(([k, n]) => `${k} ×${n}`).join(", ")}`);
    expect(failures, `seed ${SEED}`).toEqual([]);
    expect(ran).toBeGreaterThan(100);

    // Still alive and serving.
    expect(() => process.kill(server.pid, 0)).not.toThrow();
    const health = await fetch(`${server.baseUrl}/healthz`);
    expect(health.status).toBe(200);
    const api = clients(server.baseUrl, "grpc");
    const tenant = await api.tenants.createTenant({ name: "after-fuzz" });
    expect(tenant.tenant?.name).toBe("after-fuzz");
  });
});
