/**
 * Whether a claim gets dearer as the queue grows: SqliteStore.claim as a scheduler pass
 * makes it (50 endpoints × 32 in one call) over a backlog of 10,000 and of 1,000,000 due
 * deliveries, and the ratio of the two. Only the claims are timed; the leases are given back
 * between them (untimed), so every claim sees the whole backlog.
 *
 *   node --import tsx bench/micro/claim-scaling.ts [small=10000] [large=1000000]
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { EventInput } from "../../src/core/types.ts";
import type { ClaimRequest } from "../../src/store/store.ts";
import { SqliteStore } from "../../src/store/sqlite/sqlite-store.ts";
import { encodePayload } from "../lib/payload.ts";
import { emit } from "./lib.ts";

const SIZES = [Number(process.argv[2] ?? 10_000), Number(process.argv[3] ?? 1_000_000)];
const ENDPOINTS = 50;
const PER_ENDPOINT = 32;
const FILL_BATCH = 2_000;

const endpointId = (i: number): string => `ep_${String(i).padStart(26, "0")}`;
const targets = Array.from({ length: ENDPOINTS }, (_, i) => endpointId(i));
const requests: ClaimRequest[] = targets.map((id) => ({ endpointId: id, limit: PER_ENDPOINT, ordered: false }));

/** A store holding `deliveries` due deliveries spread evenly over the endpoints. */
async function filledStore(deliveries: number): Promise<{ store: SqliteStore; dir: string }> {
  const dir = mkdtempSync(join(tmpdir(), "hookline-micro-scaling-"));
  // The fill is not what is measured: no fsync per commit.
  const store = new SqliteStore({ dataDir: dir, sync: "normal" });
  const batch: EventInput[] = Array.from({ length: FILL_BATCH }, (_, i) => ({
    tenantId: "tnt_bench",
    type: "bench.event",
    payload: encodePayload({ seq: i, t: 0 }, 512),
    idempotencyKey: "",
    orderingKey: "",
    priority: 0,
  }));
  const events = Math.ceil(deliveries / ENDPOINTS);
  const started = performance.now();
  for (let done = 0; done < events; done += FILL_BATCH) {
    await store.publish([batch.slice(0, Math.min(FILL_BATCH, events - done))], () => targets, Date.now() - 1000, 0);
    if (process.env.BENCH_JSON !== "1" && (done / FILL_BATCH) % 50 === 49)
      process.stderr.write(`  filling: ${((done + FILL_BATCH) * ENDPOINTS).toLocaleString("en-US")} of ${deliveries.toLocaleString("en-US")} deliveries, ${Math.round((performance.now() - started) / 1000)} s\n`);
  }
  return { store, dir };
}

const rates: number[] = [];
for (const size of SIZES) {
  const { store, dir } = await filledStore(size);
  try {
    let claimed = 0;
    let claimMs = 0;
    for (let round = 0; round < 5; round++) await store.claim(requests, Date.now()).then(() => store.releaseLeases()); // warm-up
    const until = performance.now() + 2_000;
    while (performance.now() < until) {
      const started = performance.now();
      const results = await store.claim(requests, Date.now());
      claimMs += performance.now() - started;
      claimed += results.reduce((n, r) => n + r.claimed.length, 0);
      await store.releaseLeases();
    }
    const rate = claimed / (claimMs / 1000);
    rates.push(rate);
    emit({ bench: "claim-scaling", case: `claim, 50 endpoints x 32, ${size.toLocaleString("en-US")} queued`, opsPerSecond: rate, unit: "deliveries" });
  } finally {
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  }
}
if (process.env.BENCH_JSON !== "1" && rates.length === 2)
  process.stdout.write(`  cost per delivery at ${SIZES[1]!.toLocaleString("en-US")} ÷ at ${SIZES[0]!.toLocaleString("en-US")}: ${(rates[0]! / rates[1]!).toFixed(2)}\n`);
