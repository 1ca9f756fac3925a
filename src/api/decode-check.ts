import { fromBinary, type DescMessage, type DescService } from "@bufbuild/protobuf";
import { Code, ConnectError } from "@connectrpc/connect";
import type http from "node:http";
import type http2 from "node:http2";

type Request = http.IncomingMessage | http2.Http2ServerRequest;
type Response = http.ServerResponse | http2.Http2ServerResponse;
type Handler = (req: Request, res: Response) => void;
type Chunks = AsyncIterable<Uint8Array>;

const ENVELOPED = /^application\/(grpc|grpc\+proto|grpc-web|grpc-web\+proto|connect\+proto)$/;
const UNARY_BINARY = "application/proto";
const FLAG_COMPRESSED = 0b0000_0001;
const FLAG_END_STREAM = 0b1000_0000;

/**
 * Connect's server reports a request message it cannot decode (invalid UTF-8 in a string, a
 * truncated varint, a length past the end) as INTERNAL, before any interceptor sees it.
 * Bad input is the client's fault, so each binary request message is decoded here first, as
 * the body streams in, and an undecodable one fails the call with INVALID_ARGUMENT.
 * Compressed messages and messages over maxBytes pass unchecked (Connect refuses the latter).
 */
export function withDecodeCheck(handler: Handler, services: readonly DescService[], maxBytes: number): Handler {
  const inputs = new Map<string, DescMessage>();
  for (const service of services) for (const method of service.methods) inputs.set(`/${service.typeName}/${method.name}`, method.input);
  return (req, res) => {
    const schema = req.method === "POST" ? inputs.get((req.url ?? "").split("?")[0] ?? "") : undefined;
    const contentType = (req.headers["content-type"] ?? "").split(";")[0]?.trim().toLowerCase() ?? "";
    const encoding = req.headers["content-encoding"];
    let check: ((body: Chunks) => Chunks) | undefined;
    if (schema && ENVELOPED.test(contentType)) check = (body) => checkEnvelopes(body, schema, maxBytes);
    else if (schema && contentType === UNARY_BINARY && (encoding === undefined || encoding === "identity")) {
      check = (body) => checkWhole(body, schema, maxBytes);
    }
    if (check) {
      const read = req[Symbol.asyncIterator].bind(req) as () => AsyncIterator<Uint8Array>;
      const checked = check({ [Symbol.asyncIterator]: read });
      Object.defineProperty(req, Symbol.asyncIterator, { value: () => checked[Symbol.asyncIterator](), configurable: true });
    }
    handler(req, res);
  };
}

function decodable(schema: DescMessage, bytes: Uint8Array): void {
  try {
    fromBinary(schema, bytes);
  } catch (err) {
    const reason = err instanceof Error ? err.message : String(err);
    throw new ConnectError(`the request could not be decoded as ${schema.typeName}: ${reason}`, Code.InvalidArgument);
  }
}

/** A Connect unary body: one message, checked once it is complete. */
async function* checkWhole(body: Chunks, schema: DescMessage, maxBytes: number): Chunks {
  const held: Uint8Array[] = [];
  let size = 0;
  let passing = false;
  for await (const chunk of body) {
    if (passing) {
      yield chunk;
      continue;
    }
    held.push(chunk);
    size += chunk.length;
    if (size > maxBytes) {
      passing = true;
      yield* held.splice(0);
    }
  }
  if (passing) return;
  const whole = concat(held, size);
  decodable(schema, whole);
  yield whole;
}

/** gRPC, gRPC-Web and Connect streaming bodies: each length-prefixed message is checked whole. */
async function* checkEnvelopes(body: Chunks, schema: DescMessage, maxBytes: number): Chunks {
  const held: Uint8Array[] = [];
  let size = 0;
  let passing = false;
  for await (const chunk of body) {
    if (passing) {
      yield chunk;
      continue;
    }
    held.push(chunk);
    size += chunk.length;
    while (size >= 5) {
      const head = held[0]!.length >= 5 ? held[0]! : concat(held.splice(0), size);
      if (head !== held[0]) held.push(head);
      const flags = head[0]!;
      const length = ((head[1]! << 24) | (head[2]! << 16) | (head[3]! << 8) | head[4]!) >>> 0;
      if (length > maxBytes || (flags & FLAG_COMPRESSED) !== 0) {
        passing = true;
        yield* held.splice(0);
        size = 0;
        break;
      }
      if (size < 5 + length) break;
      const buffered = concat(held.splice(0), size);
      const envelope = buffered.subarray(0, 5 + length);
      if ((flags & FLAG_END_STREAM) === 0) decodable(schema, envelope.subarray(5));
      yield envelope;
      const rest = buffered.subarray(5 + length);
      size = rest.length;
      if (size > 0) held.push(rest);
    }
  }
  // An incomplete envelope: Connect reports the broken framing itself.
  if (!passing && size > 0) yield concat(held, size);
}

function concat(chunks: Uint8Array[], size: number): Uint8Array {
  if (chunks.length === 1) return chunks[0]!;
  const out = new Uint8Array(size);
  let at = 0;
  for (const c of chunks) {
    out.set(c, at);
    at += c.length;
  }
  return out;
}
