// A hookline producer in TypeScript: the project's generated code (src/gen, protoc-gen-es)
// with a Connect client speaking the gRPC protocol (@connectrpc/connect-node).
//
// It creates a tenant and an endpoint that points at a receiver URL, streams events through
// EventService.PublishStream with a bounded window of unacknowledged requests, retries
// requests the server refuses for a transient reason, reopens the stream if it breaks
// (idempotency keys make resending safe), then pages through ListDeliveries until every
// delivery has succeeded (or a timeout), and prints a one-line JSON summary on stdout.
// Every call carries the API key (`authorization: Bearer <key>`) from a Connect interceptor.
//
//   HOOKLINE_API_KEY=… node --import tsx examples/typescript/publish.ts --server http://127.0.0.1:8080 --receiver http://127.0.0.1:9000/hook
import { randomBytes } from "node:crypto";
import { parseArgs } from "node:util";
import type { MessageInitShape } from "@bufbuild/protobuf";
import { Code, ConnectError, createClient, type Client, type Interceptor } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import { DeliveryService, DeliveryStatus } from "../../src/gen/hookline/v1/delivery_pb.ts";
import { EndpointService } from "../../src/gen/hookline/v1/endpoint_pb.ts";
import {
  EventService,
  type EventInputSchema,
  type PublishStreamRequestSchema,
} from "../../src/gen/hookline/v1/event_pb.ts";
import { TenantService } from "../../src/gen/hookline/v1/tenant_pb.ts";

const MAX_REQUEST_ATTEMPTS = 5; // per request, for resource_exhausted / unavailable answers
const MAX_STREAM_ATTEMPTS = 20; // stream (re)opens, all within --timeout
const UNARY_TIMEOUT_MS = 10_000; // deadline of every unary call
const RETRYABLE_CODES = new Set([Code.Unavailable, Code.ResourceExhausted]);
const RETRYABLE_ANSWERS = new Set(["unavailable", "resource_exhausted"]);

type EventInit = MessageInitShape<typeof EventInputSchema>;
type StreamRequestInit = MessageInitShape<typeof PublishStreamRequestSchema>;

/** One PublishStream request; its events keep their idempotency keys on every resend. */
interface Batch {
  seq: number;
  events: EventInit[];
  /** Sends refused with a retryable answer so far. */
  attempts: number;
  sentAs: string;
}

interface Summary {
  acked: number;
  delivered: number;
  errors: number;
  duplicates: number;
  /** Deliveries of the tenant found by ListDeliveries at the end. */
  deliveries: number;
  dead: number;
  streams: number;
  retries: number;
  tenant_id: string;
  endpoint_id: string;
  publish_seconds: number;
  deliver_seconds: number;
}

const log = (message: string): void => void process.stderr.write(`publish: ${message}\n`);
const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));
const backoffMs = (attempt: number): number => Math.min(100 * 2 ** Math.min(attempt, 6), 5_000);

function options() {
  const { values } = parseArgs({
    options: {
      server: { type: "string", default: process.env.HOOKLINE_SERVER ?? "http://127.0.0.1:8080" },
      "api-key": { type: "string", default: process.env.HOOKLINE_API_KEY ?? "" },
      receiver: { type: "string", default: process.env.HOOKLINE_RECEIVER_URL ?? "http://127.0.0.1:9000/hook" },
      secret: { type: "string", default: process.env.HOOKLINE_ENDPOINT_SECRET ?? "" },
      events: { type: "string", default: "10000" },
      batch: { type: "string", default: "100" },
      window: { type: "string", default: "8" },
      timeout: { type: "string", default: "60" },
    },
  });
  const o = {
    server: values.server,
    apiKey: values["api-key"],
    receiver: values.receiver,
    secret: values.secret,
    events: Number(values.events),
    batch: Number(values.batch),
    window: Number(values.window),
    timeoutMs: Number(values.timeout) * 1000,
  };
  for (const [name, n] of [["events", o.events], ["batch", o.batch], ["window", o.window], ["timeout", o.timeoutMs]] as const) {
    if (!Number.isInteger(n) || n < 1) throw new UsageError(`--${name} must be a positive integer`);
  }
  if (o.apiKey === "") throw new UsageError("no API key: set HOOKLINE_API_KEY or pass --api-key KEY");
  return o;
}

/** A bad option: reported as it is, not as an RPC error. */
class UsageError extends Error {}

/** Sends the API key on every call, unary and streaming alike. */
function bearer(apiKey: string): Interceptor {
  return (next) => (req) => {
    req.header.set("authorization", `Bearer ${apiKey}`);
    return next(req);
  };
}

/** The request side of the stream: an async iterable that the answer loop feeds. */
class Outbox<T> implements AsyncIterable<T> {
  private readonly items: T[] = [];
  private closed = false;
  private wake: (() => void) | undefined;

  push(item: T): void {
    this.items.push(item);
    this.wake?.();
  }

  close(): void {
    this.closed = true;
    this.wake?.();
  }

  async *[Symbol.asyncIterator](): AsyncIterator<T> {
    for (;;) {
      const item = this.items.shift();
      if (item !== undefined) yield item;
      else if (this.closed) return;
      else await new Promise<void>((resolve) => (this.wake = resolve));
    }
  }
}

/**
 * Sends the batches on one PublishStream, never more than `window` unanswered, and handles
 * each answer. If the stream breaks, `todo` is left holding the unanswered batches and the
 * error is thrown.
 */
async function runStream(
  events: Client<typeof EventService>,
  todo: Batch[],
  window: number,
  deadline: number,
  s: Summary,
  announced: { deliveries: number },
): Promise<void> {
  const outbox = new Outbox<StreamRequestInit>();
  const pending = todo.splice(0); // not yet sent on this stream
  const inFlight: Batch[] = []; // sent, in send order (= answer order)
  const fill = (): void => {
    while (pending.length > 0 && inFlight.length < window) {
      const b = pending.shift() as Batch;
      b.sentAs = `b${b.seq}.${b.attempts}`;
      inFlight.push(b);
      outbox.push({ requestId: b.sentAs, events: b.events });
    }
    // Every request answered: half-close; the server then ends the stream.
    if (inFlight.length === 0) outbox.close();
  };
  fill();
  try {
    const answers = events.publishStream(outbox, { timeoutMs: Math.max(deadline - Date.now(), 1) });
    for await (const resp of answers) {
      const b = inFlight.shift();
      if (b === undefined) throw new ConnectError(`unexpected extra answer ${resp.requestId}`, Code.Internal);
      if (resp.requestId !== b.sentAs) {
        inFlight.unshift(b);
        throw new ConnectError(`answer for ${resp.requestId} arrived while ${b.sentAs} was expected`, Code.Internal);
      }
      if (resp.error) {
        const e = resp.error;
        if (RETRYABLE_ANSWERS.has(e.code) && b.attempts + 1 < MAX_REQUEST_ATTEMPTS) {
          // Nothing of this request was stored: wait, then send it again.
          b.attempts++;
          s.retries++;
          await sleep(backoffMs(b.attempts));
          pending.push(b);
        } else {
          s.errors += b.events.length;
          log(`request ${b.sentAs} refused: ${e.code}: ${e.message} (field "${e.field}")`);
        }
      } else {
        for (const r of resp.results) {
          s.acked++;
          // A duplicate (the resend of a request whose answer was lost with a connection)
          // reports 0 deliveries although the first commit made some: a lower bound.
          announced.deliveries += r.deliveryCount;
          if (r.duplicate) s.duplicates++;
        }
      }
      fill();
    }
    if (inFlight.length > 0 || pending.length > 0) {
      throw new ConnectError("stream ended before every request was answered", Code.Unavailable);
    }
  } catch (err) {
    outbox.close();
    todo.push(...inFlight, ...pending); // what the caller must send again
    throw err;
  }
}

/** Pages through every delivery of the tenant and counts them by status. No status filter:
 * statuses change while we page, and pages are ordered by id. */
async function countDeliveries(deliveries: Client<typeof DeliveryService>, tenantId: string): Promise<Map<DeliveryStatus, number>> {
  const counts = new Map<DeliveryStatus, number>();
  let pageToken = "";
  for (let page = 0; page < 10_000; page++) {
    const resp = await deliveries.listDeliveries({ tenantId, pageSize: 1000, pageToken }, { timeoutMs: UNARY_TIMEOUT_MS });
    for (const d of resp.deliveries) counts.set(d.status, (counts.get(d.status) ?? 0) + 1);
    pageToken = resp.nextPageToken;
    if (pageToken === "") return counts;
  }
  throw new Error("too many pages");
}

async function main(): Promise<number> {
  const o = options();
  const transport = createGrpcTransport({ baseUrl: o.server, interceptors: [bearer(o.apiKey)] });
  const tenants = createClient(TenantService, transport);
  const endpoints = createClient(EndpointService, transport);
  const events = createClient(EventService, transport);
  const deliveries = createClient(DeliveryService, transport);

  // Unary calls get a deadline each. Creates are not retried: they carry no idempotency key.
  const { tenant } = await tenants.createTenant({ name: "typescript-example" }, { timeoutMs: UNARY_TIMEOUT_MS });
  const tenantId = tenant?.id ?? "";
  const { endpoint } = await endpoints.createEndpoint(
    { tenantId, url: o.receiver, eventTypes: ["example.*"], secret: o.secret },
    { timeoutMs: UNARY_TIMEOUT_MS },
  );
  const endpointId = endpoint?.id ?? "";
  log(`tenant ${tenantId}, endpoint ${endpointId} -> ${o.receiver}`);

  const runId = randomBytes(8).toString("hex"); // unique per run, stable across resends
  const encoder = new TextEncoder();
  const batches: Batch[] = [];
  for (let start = 0; start < o.events; start += o.batch) {
    const evs: EventInit[] = [];
    for (let n = start; n < Math.min(start + o.batch, o.events); n++) {
      evs.push({
        tenantId,
        type: "example.created",
        payload: encoder.encode(JSON.stringify({ client: "typescript", seq: n })),
        idempotencyKey: `typescript-${runId}-${n}`,
      });
    }
    batches.push({ seq: batches.length, events: evs, attempts: 0, sentAs: "" });
  }

  const s: Summary = {
    acked: 0, delivered: 0, errors: 0, duplicates: 0, deliveries: 0, dead: 0, streams: 0, retries: 0,
    tenant_id: tenantId, endpoint_id: endpointId, publish_seconds: 0, deliver_seconds: 0,
  };
  let started = Date.now();
  let deadline = started + o.timeoutMs;
  const remaining = batches;
  const announced = { deliveries: 0 };
  for (let attempt = 1; remaining.length > 0; attempt++) {
    s.streams++;
    try {
      await runStream(events, remaining, o.window, deadline, s, announced);
    } catch (err) {
      const e = ConnectError.from(err);
      // connect-node reports a connection lost under an open HTTP/2 stream as ABORTED
      // (ECONNRESET) or CANCELED (Node closes the stream with RST_STREAM CANCEL). This program
      // never cancels or aborts the stream itself (its deadline surfaces as
      // DEADLINE_EXCEEDED), so here both mean a lost connection: as retryable as UNAVAILABLE.
      // Only UNAVAILABLE ends a stream transiently; RESOURCE_EXHAUSTED as a stream status
      // means a request over the server's message size limit: resending it would fail too.
      const code = e.code === Code.Canceled || e.code === Code.Aborted ? Code.Unavailable : e.code;
      if (code !== Code.Unavailable || attempt >= MAX_STREAM_ATTEMPTS || Date.now() > deadline) {
        log(`PublishStream: ${Code[e.code]}: ${e.rawMessage} (${remaining.length} requests unanswered)`);
        return 1;
      }
      log(`stream broke (${Code[e.code]}: ${e.rawMessage}); reopening and resending ${remaining.length} requests`);
      await sleep(backoffMs(attempt));
    }
  }
  s.publish_seconds = (Date.now() - started) / 1000;

  // Read the outcome back: page through the tenant's deliveries until none is open.
  started = Date.now();
  deadline = started + o.timeoutMs;
  for (;;) {
    try {
      const counts = await countDeliveries(deliveries, tenantId);
      s.deliveries = [...counts.values()].reduce((a, b) => a + b, 0);
      s.delivered = counts.get(DeliveryStatus.SUCCEEDED) ?? 0;
      s.dead = counts.get(DeliveryStatus.DEAD) ?? 0;
      const open = (counts.get(DeliveryStatus.PENDING) ?? 0) + (counts.get(DeliveryStatus.RETRYING) ?? 0);
      if (open === 0 && s.deliveries >= announced.deliveries) break;
    } catch (err) {
      const e = ConnectError.from(err);
      if (!RETRYABLE_CODES.has(e.code)) {
        log(`ListDeliveries: ${Code[e.code]}: ${e.rawMessage}`);
        return 1;
      }
    }
    if (Date.now() > deadline) {
      log(`deliveries still open after ${o.timeoutMs / 1000}s`);
      break;
    }
    await sleep(250);
  }
  s.deliver_seconds = (Date.now() - started) / 1000;

  process.stdout.write(`${JSON.stringify(s)}\n`);
  return s.acked === o.events && s.errors === 0 && s.delivered === s.deliveries ? 0 : 1;
}

main().then(
  (code) => {
    process.exitCode = code;
  },
  (err: unknown) => {
    if (err instanceof UsageError) {
      log(err.message);
    } else {
      const e = ConnectError.from(err);
      log(`${Code[e.code]}: ${e.rawMessage}`);
    }
    process.exitCode = 1;
  },
);
