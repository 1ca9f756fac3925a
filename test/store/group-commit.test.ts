import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import type { EventInput } from "../../src/core/types.ts";
import { GroupCommit, type CommitSummary } from "../../src/store/group-commit.ts";
import { SqliteStore } from "../../src/store/sqlite/sqlite-store.ts";

/**
 * Group commit at the seam, on a real SQLite store with fsync on: concurrent publishes share
 * commits, each caller gets its own results, and with two commits in flight (the next
 * group's write overlapping the previous group's sync) the idempotency window still holds.
 */
describe("GroupCommit on SqliteStore", () => {
  const dirs: string[] = [];
  const stores: SqliteStore[] = [];
  afterEach(async () => {
    for (const s of stores.splice(0)) await s.close();
    for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
  });

  function setUp(commitsInFlight: number) {
    const dir = mkdtempSync(join(tmpdir(), "hookline-group-"));
    dirs.push(dir);
    const store = new SqliteStore({ dataDir: dir });
    stores.push(store);
    const commits: CommitSummary[] = [];
    const ingest = new GroupCommit({
      store,
      fanOut: (_tenant, type) => (type === "fan.out" ? ["ep_1", "ep_2"] : []),
      now: Date.now,
      idempotencyWindowMs: 60_000,
      maxPendingEvents: 100_000,
      maxRowsPerCommit: 300,
      commitsInFlight,
      onCommitted: (c) => commits.push(c),
    });
    return { store, ingest, commits };
  }

  const event = (n: number, idempotencyKey = "", type = "fan.out"): EventInput => ({
    tenantId: "tnt_g",
    type,
    payload: new TextEncoder().encode(JSON.stringify({ n })),
    idempotencyKey,
    orderingKey: "",
    priority: 0,
  });

  for (const commitsInFlight of [1, 2]) {
    it(`${commitsInFlight} commit(s) in flight: 500 concurrent publishes share commits and each gets its own events back`, async () => {
      const { store, ingest, commits } = setUp(commitsInFlight);
      const results = await Promise.all(Array.from({ length: 500 }, (_, n) => ingest.submit([event(n)])));
      expect(results.every((r) => r.length === 1 && !r[0]!.duplicate && r[0]!.deliveryCount === 2)).toBe(true);
      expect(new Set(results.map((r) => r[0]!.eventId)).size).toBe(500);
      // 3 rows an event, at most 300 rows a commit: several commits, far fewer than publishes.
      expect(commits.length).toBeGreaterThanOrEqual(5);
      expect(commits.length).toBeLessThan(100);
      expect(commits.reduce((n, c) => n + c.stored, 0)).toBe(500);
      for (const [i, r] of results.entries()) {
        const stored = await store.getEvent(r[0]!.eventId);
        expect(JSON.parse(new TextDecoder().decode(stored!.payload))).toEqual({ n: i });
      }
    });
  }

  it("with two commits in flight, an idempotency key seen in the group still syncing makes the next a duplicate", async () => {
    const { ingest } = setUp(2);
    // Enough before them to fill a few commits, so the two land in different groups.
    const filler = Array.from({ length: 300 }, (_, n) => ingest.submit([event(n)]));
    const first = ingest.submit([event(1000, "key-1")]);
    const more = Array.from({ length: 300 }, (_, n) => ingest.submit([event(2000 + n)]));
    const second = ingest.submit([event(1001, "key-1")]);
    const [a, b] = await Promise.all([first, second, ...filler, ...more]);
    expect(a![0]!.duplicate).toBe(false);
    expect(b![0]!.duplicate).toBe(true);
    expect(b![0]!.eventId).toBe(a![0]!.eventId);
    await ingest.drain();
  });
});
