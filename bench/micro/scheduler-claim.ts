/**
 * SqliteStore.claim (the scheduler's read of due deliveries, plus leasing them) and
 * claim + complete (recording success), over a deep backlog: one endpoint per call, one
 * call for 50 endpoints (what a scheduler pass does), and an ordered endpoint.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { newId } from "../../src/core/ids.ts";
import { customHeaderSuffix, encodeSentHeaders } from "../../src/core/sent-headers.ts";
import { DeliveryStatus, type EventInput } from "../../src/core/types.ts";
import type { AttemptRecord, ClaimedDelivery, ClaimRequest } from "../../src/store/store.ts";
import { SqliteStore } from "../../src/store/sqlite/sqlite-store.ts";
import { encodePayload } from "../lib/payload.ts";
import { emit, opsPerSecond } from "./lib.ts";

const BACKLOG = 60_000;

interface Case {
  name: string;
  endpoints: number;
  perEndpoint: number;
  ordered: boolean;
}

const CASES: Case[] = [
  // 32 is what an endpoint claims at the default max in-flight; 256 is the default --worker-batch.
  { name: "1 endpoint x 32, unordered", endpoints: 1, perEndpoint: 32, ordered: false },
  { name: "50 endpoints x 32 in one call, unordered", endpoints: 50, perEndpoint: 32, ordered: false },
  // Light load: each endpoint has a delivery or two due per pass, so a claim's fixed cost is all there is.
  { name: "50 endpoints x 1 in one call, unordered", endpoints: 50, perEndpoint: 1, ordered: false },
  { name: "1 endpoint x 256, ordered (1000 keys)", endpoints: 1, perEndpoint: 256, ordered: true },
];

const endpointId = (i: number): string => `ep_${String(i).padStart(26, "0")}`;

/** What an attempt records of its request: user-agent, one HMAC signature, one custom header name. */
const REQUEST_HEADERS = process.env.BENCH_NO_REQUEST_HEADERS
  ? ""
  : encodeSentHeaders("hookline/0.1.0", `v1,${Buffer.alloc(32, 7).toString("base64")}`, customHeaderSuffix({ "x-api-key": "k" }));

function success(c: ClaimedDelivery, now: number): AttemptRecord {
  return {
    status: DeliveryStatus.Succeeded,
    nextAttemptMs: 0,
    attempt: {
      id: newId("att", now),
      deliveryId: c.deliveryId,
      number: c.attempts + 1,
      startedMs: now,
      durationMs: 1,
      statusCode: 200,
      error: "",
      responseBody: new Uint8Array(),
      requestHeaders: REQUEST_HEADERS,
    },
  };
}

/** A store holding BACKLOG due deliveries spread evenly over the case's endpoints. */
async function filledStore(c: Case): Promise<{ store: SqliteStore; dir: string }> {
  const dir = mkdtempSync(join(tmpdir(), "hookline-micro-"));
  const store = new SqliteStore({ dataDir: dir, sync: "full" });
  const batch: EventInput[] = Array.from({ length: 1000 }, (_, i) => ({
    tenantId: "tnt_bench",
    type: "bench.event",
    payload: encodePayload({ seq: i, t: Date.now() }, 512),
    idempotencyKey: "",
    orderingKey: c.ordered ? `key-${i % 1000}` : "",
    priority: 0,
  }));
  const targets = Array.from({ length: c.endpoints }, (_, i) => endpointId(i));
  const eventsNeeded = BACKLOG / c.endpoints;
  for (let i = 0; i < eventsNeeded / batch.length; i++) await store.publish([batch], () => targets, Date.now() - 1000, 86_400_000);
  return { store, dir };
}

for (const c of CASES) {
  for (const withComplete of [false, true]) {
    const { store, dir } = await filledStore(c);
    const requests: ClaimRequest[] = Array.from({ length: c.endpoints }, (_, i) => ({ endpointId: endpointId(i), limit: c.perEndpoint, ordered: c.ordered }));
    const perCall = c.endpoints * c.perEndpoint;
    try {
      const perSecond = await opsPerSecond(
        async () => {
          const now = Date.now();
          const claimed = (await store.claim(requests, now)).flatMap((r) => r.claimed);
          if (withComplete) await store.complete(claimed.map((d) => success(d, now)), { disable: new Map(), failingSince: new Map() }, now);
          // Claim-only: put the leases back when a claim comes up short (ordered: every key's head is leased).
          else if (claimed.length < perCall) await store.releaseLeases();
          return claimed.length;
        },
        { maxOps: withComplete ? BACKLOG - perCall : Infinity },
      );
      emit({ bench: "scheduler-claim", case: `${withComplete ? "claim + complete" : "claim"}, ${c.name}`, opsPerSecond: perSecond, unit: "deliveries" });
    } finally {
      await store.close();
      rmSync(dir, { recursive: true, force: true });
    }
  }
}
