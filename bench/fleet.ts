/**
 * Mock receiver fleet: many webhook endpoints on 127.0.0.1 in one process. Each endpoint
 * has a secret and a behaviour profile (latency, 500s, 429 + Retry-After, 410, timeouts).
 * Every request's Standard Webhooks signature is checked; 2xx receipts are recorded per
 * endpoint and event (duplicates, loss, latency, per-key order).
 *
 * Control (loopback JSON): POST /setup, GET /stats, GET /report, POST /shutdown.
 * Webhooks: POST http://127.0.0.1:<port>/h/<runId>/<endpointIndex>.
 * Prints {"type":"ready","controlPort":N} on stdout.
 */
import http from "node:http";
import type { AddressInfo } from "node:net";
import { Webhook } from "standardwebhooks";
import { Bitmap } from "./lib/bitmap.ts";
import { nowMs } from "./lib/clock.ts";
import { exitWithParent, send } from "./lib/child.ts";
import { readJsonBody } from "./lib/http-json.ts";
import { decodePayload, type BenchPayload } from "./lib/payload.ts";
import type { FleetEndpointReport, FleetProfile, FleetReport, FleetSetup, FleetSetupReply, FleetStats, PriorityLaneReport } from "./lib/protocol.ts";
import { Samples } from "./lib/samples.ts";
import { keyOf, verifyProblem } from "./lib/webhook-signature.ts";

/** Upper bound on requests held open by "timeout" endpoints, so memory stays bounded. */
const MAX_HELD = 20_000;

interface EndpointSlot {
  index: number;
  key: Buffer;
  secret: string;
  profile: FleetProfile;
  received: Bitmap;
  ok: number;
  firstOkMs: number;
  lastOkMs: number;
  /** The official npm verifier checks each endpoint's first request too. */
  officiallyChecked: boolean;
  lastPositionByKey: Map<string, number>;
  openByKey: Map<string, number>;
}

interface PriorityLane {
  ok: number;
  latency: Samples;
  lastOkMs: number;
  lowerOkAtLast: number;
}

class Run {
  readonly endpoints: (EndpointSlot | undefined)[] = [];
  readonly latencyByProfile = new Map<string, Samples>();
  /** Latency of the events past the warm-up, when the setup named where it ends. */
  readonly settled: Samples | undefined;
  readonly settledFromSeq: number;
  readonly lanes = new Map<number, PriorityLane>();
  readonly okWebhookIds = new Set<string>();
  readonly badReasons: Record<string, number> = {};
  received = 0;
  badSignatures = 0;
  duplicateWebhookIds = 0;
  duplicateEvents = 0;
  stray = 0;
  unparsable = 0;
  orderViolations = 0;
  orderOverlaps = 0;
  held = 0;
  lastOkMs = 0;
  readonly answered = { ok: 0, error: 0, throttled: 0, gone: 0, held: 0 };

  constructor(readonly id: string, setup: FleetSetup) {
    for (const e of setup.endpoints) {
      const profile = setup.profiles[e.profile];
      if (!profile) throw new Error(`endpoint ${e.index}: no profile ${e.profile}`);
      this.endpoints[e.index] = {
        index: e.index,
        key: keyOf(e.secret),
        secret: e.secret,
        profile,
        received: new Bitmap(),
        ok: 0,
        firstOkMs: 0,
        lastOkMs: 0,
        officiallyChecked: false,
        lastPositionByKey: new Map(),
        openByKey: new Map(),
      };
    }
    for (const p of setup.profiles) this.latencyByProfile.set(p.name, new Samples());
    this.settledFromSeq = setup.settledFromSeq ?? Infinity;
    this.settled = setup.settledFromSeq === undefined ? undefined : new Samples();
  }

  stats(): FleetStats {
    return {
      received: this.received,
      okByEndpoint: this.endpoints.map((e) => e?.ok ?? 0),
      lastOkMs: this.lastOkMs,
      badSignatures: this.badSignatures,
      duplicates: this.duplicateWebhookIds + this.duplicateEvents,
      stray: this.stray,
      answered: { ...this.answered },
    };
  }

  report(): FleetReport {
    const latency: FleetReport["latency"] = {};
    const all = new Samples();
    for (const [name, samples] of this.latencyByProfile) {
      latency[name] = samples.summary();
      all.addAll(samples);
    }
    latency.all = all.summary();
    if (this.settled) latency.settled = this.settled.summary();
    const endpoints: FleetEndpointReport[] = [];
    for (const e of this.endpoints) {
      if (e) endpoints.push({ index: e.index, ok: e.ok, firstOkMs: e.firstOkMs, lastOkMs: e.lastOkMs, received: e.received.toBase64() });
    }
    return {
      ...this.stats(),
      endpoints,
      latency,
      badSignatureReasons: { ...this.badReasons },
      duplicateWebhookIds: this.duplicateWebhookIds,
      duplicateEvents: this.duplicateEvents,
      orderViolations: this.orderViolations,
      orderOverlaps: this.orderOverlaps,
      unparsable: this.unparsable,
      byPriority: Object.fromEntries(
        [...this.lanes].map(([priority, lane]): [string, PriorityLaneReport] => [
          String(priority),
          { ok: lane.ok, latency: lane.latency.summary(), lastOkMs: lane.lastOkMs, lowerOkAtLast: lane.lowerOkAtLast },
        ]),
      ),
    };
  }

  /** A first 2xx receipt of an event of this priority: does a higher lane overtake the lower ones? */
  recordLane(priority: number, latencyMs: number, arrivedMs: number): void {
    let lane = this.lanes.get(priority);
    if (!lane) this.lanes.set(priority, (lane = { ok: 0, latency: new Samples(), lastOkMs: 0, lowerOkAtLast: 0 }));
    lane.ok++;
    lane.latency.add(latencyMs);
    lane.lastOkMs = arrivedMs;
    let lower = 0;
    for (const [p, other] of this.lanes) if (p < priority) lower += other.ok;
    lane.lowerOkAtLast = lower;
  }
}

let run: Run | undefined;
let webhookServers: http.Server[] = [];

function header(req: http.IncomingMessage, name: string): string | undefined {
  const v = req.headers[name];
  return Array.isArray(v) ? v[0] : v;
}

function answer(res: http.ServerResponse, status: number, headers: Record<string, string> = {}): void {
  if (res.destroyed || res.writableEnded) return;
  res.writeHead(status, { "content-length": "0", ...headers });
  res.end();
}

function refuseBadSignature(r: Run, res: http.ServerResponse, reason: string): void {
  r.badSignatures++;
  r.badReasons[reason] = (r.badReasons[reason] ?? 0) + 1;
  answer(res, 400);
}

/** Why a request fails the Standard Webhooks check (ours always, the official verifier once per endpoint). */
function signatureProblem(slot: EndpointSlot, req: http.IncomingMessage, body: Buffer, nowSeconds: number): string | undefined {
  const headers = { id: header(req, "webhook-id"), timestamp: header(req, "webhook-timestamp"), signature: header(req, "webhook-signature") };
  const problem = verifyProblem(slot.key, headers, body, nowSeconds);
  if (problem) return problem;
  if (!slot.officiallyChecked) {
    slot.officiallyChecked = true;
    try {
      new Webhook(slot.secret).verify(body.toString("utf8"), req.headers as Record<string, string>);
    } catch (err) {
      return `standardwebhooks verifier: ${(err as Error).message}`;
    }
  }
  if (header(req, "content-type") !== "application/json") return "content-type is not application/json";
  return undefined;
}

/** Answers with the profile's failure for this request (410, hold, 500, 429); false when it should succeed. */
function answeredWithFailure(r: Run, p: FleetProfile, res: http.ServerResponse): boolean {
  if (p.gone) {
    r.answered.gone++;
    answer(res, 410);
    return true;
  }
  if (p.timeout) {
    if (r.held >= MAX_HELD) {
      answer(res, 503);
      return true;
    }
    r.held++;
    r.answered.held++;
    const timer = setTimeout(() => answer(res, 504), p.holdMs);
    res.once("close", () => {
      clearTimeout(timer);
      r.held--;
    });
    return true;
  }
  const dice = Math.random();
  if (dice < p.errorRate) {
    r.answered.error++;
    answer(res, 500);
    return true;
  }
  if (dice < p.errorRate + p.throttleRate) {
    r.answered.throttled++;
    answer(res, 429, { "retry-after": String(p.retryAfterSeconds) });
    return true;
  }
  return false;
}

/** A request about to get a 2xx: duplicates by webhook-id and by event, receipt time, latency, order. */
function recordAccepted(r: Run, slot: EndpointSlot, webhookId: string, payload: BenchPayload, arrivedMs: number): void {
  r.answered.ok++;
  const freshId = !r.okWebhookIds.has(webhookId);
  if (freshId) r.okWebhookIds.add(webhookId);
  else r.duplicateWebhookIds++;
  const freshEvent = slot.received.add(payload.seq);
  if (!freshEvent) {
    if (freshId) r.duplicateEvents++;
    return;
  }
  slot.ok++;
  if (slot.firstOkMs === 0) slot.firstOkMs = arrivedMs;
  slot.lastOkMs = arrivedMs;
  r.lastOkMs = arrivedMs;
  r.latencyByProfile.get(slot.profile.name)?.add(arrivedMs - payload.t);
  if (payload.seq >= r.settledFromSeq) r.settled?.add(arrivedMs - payload.t);
  r.recordLane(payload.pr ?? 0, arrivedMs - payload.t, arrivedMs);
  if (payload.k !== undefined && payload.s !== undefined) trackPosition(r, slot, payload.k, payload.s);
}

function onWebhook(req: http.IncomingMessage, res: http.ServerResponse, body: Buffer): void {
  const arrivedMs = nowMs();
  const r = run;
  // "/h/<runId>/<index>"
  const parts = (req.url ?? "").split("/");
  const slot = r && parts[1] === "h" && parts[2] === r.id ? r.endpoints[Number(parts[3])] : undefined;
  if (!r || !slot) {
    if (r) r.stray++;
    return answer(res, 404);
  }
  r.received++;
  const problem = signatureProblem(slot, req, body, Math.floor(arrivedMs / 1000));
  if (problem) return refuseBadSignature(r, res, problem);
  const payload = decodePayload(body);
  if (!payload) {
    r.unparsable++;
    return answer(res, 400);
  }
  if (payload.k !== undefined) trackOpen(r, slot, payload.k, res);
  if (answeredWithFailure(r, slot.profile, res)) return;
  recordAccepted(r, slot, header(req, "webhook-id") as string, payload, arrivedMs);
  const { latency } = slot.profile;
  const delay = Math.random() < latency.tailProbability ? latency.tailMs : latency.minMs + Math.random() * (latency.maxMs - latency.minMs);
  if (delay < 1) answer(res, 200);
  else setTimeout(() => answer(res, 200), delay);
}

/** Ordered endpoints get one request per key at a time: count requests that overlap. */
function trackOpen(r: Run, slot: EndpointSlot, key: string, res: http.ServerResponse): void {
  const open = slot.openByKey.get(key) ?? 0;
  if (open > 0) r.orderOverlaps++;
  slot.openByKey.set(key, open + 1);
  res.once("close", () => slot.openByKey.set(key, (slot.openByKey.get(key) ?? 1) - 1));
}

/** Per endpoint and key, accepted positions must never go backwards. */
function trackPosition(r: Run, slot: EndpointSlot, key: string, position: number): void {
  const last = slot.lastPositionByKey.get(key) ?? -1;
  if (position < last) r.orderViolations++;
  else slot.lastPositionByKey.set(key, position);
}

function webhookServer(): http.Server {
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => onWebhook(req, res, chunks.length === 1 ? (chunks[0] as Buffer) : Buffer.concat(chunks)));
    req.on("error", () => res.destroy());
  });
  // Senders keep connections for a long time; do not cut them between bursts.
  server.keepAliveTimeout = 120_000;
  server.headersTimeout = 125_000;
  server.requestTimeout = 0;
  server.maxRequestsPerSocket = 0;
  return server;
}

async function setup(s: FleetSetup): Promise<FleetSetupReply> {
  for (const server of webhookServers) {
    server.close();
    server.closeAllConnections();
  }
  run = new Run(s.runId, s);
  webhookServers = [];
  const ports: number[] = [];
  for (let i = 0; i < s.ports; i++) {
    const server = webhookServer();
    await new Promise<void>((resolve, reject) => {
      server.once("error", reject);
      server.listen(0, "127.0.0.1", () => resolve());
    });
    webhookServers.push(server);
    ports.push((server.address() as AddressInfo).port);
  }
  return { ports };
}

const control = http.createServer((req, res) => {
  const reply = (status: number, body: unknown): void => {
    const text = JSON.stringify(body);
    res.writeHead(status, { "content-type": "application/json", "content-length": Buffer.byteLength(text) });
    res.end(text);
  };
  const route = `${req.method} ${req.url}`;
  const handle = async (): Promise<unknown> => {
    switch (route) {
      case "POST /setup":
        return setup(await readJsonBody<FleetSetup>(req));
      case "GET /stats":
        return run?.stats() ?? {};
      case "GET /report":
        return run?.report() ?? {};
      case "POST /shutdown":
        setImmediate(() => process.exit(0));
        return { ok: true };
      default:
        throw Object.assign(new Error(`unknown control route ${route}`), { status: 404 });
    }
  };
  handle().then(
    (body) => reply(200, body),
    (err: Error & { status?: number }) => reply(err.status ?? 500, { error: err.message }),
  );
});

control.listen(0, "127.0.0.1", () => {
  send({ type: "ready", controlPort: (control.address() as AddressInfo).port });
});
exitWithParent();
