import { mkdtempSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import type { EventInput } from "../../src/core/types.ts";
import { SqliteStore } from "../../src/store/sqlite/sqlite-store.ts";

/**
 * The background checkpointer at the seam: with it, the WAL is copied into the database file
 * by the worker thread while this thread only commits, and closing the store stops it.
 */
describe("SqliteStore with a background checkpoint", () => {
  const dirs: string[] = [];
  afterEach(() => {
    for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
  });

  const event = (n: number): EventInput => ({
    tenantId: "tnt_c",
    type: "check.point",
    payload: new TextEncoder().encode(JSON.stringify({ n, pad: "x".repeat(1000) })),
    idempotencyKey: "",
    orderingKey: "",
    priority: 0,
  });

  it("copies committed pages into the database file from the worker, and keeps every event", async () => {
    const dir = mkdtempSync(join(tmpdir(), "hookline-checkpoint-"));
    dirs.push(dir);
    const errors: string[] = [];
    const store = new SqliteStore({ dataDir: dir, backgroundCheckpoint: { intervalMs: 50, onError: (m) => errors.push(m) } });
    const dbFile = join(dir, "hookline.db");
    const before = statSync(dbFile).size;
    const ids: string[] = [];
    // About 2 MB of events: far below the fallback size at which a commit would checkpoint itself.
    for (let batch = 0; batch < 10; batch++) {
      const results = await store.publish([Array.from({ length: 200 }, (_, i) => event(batch * 200 + i))], () => ["ep_1"], Date.now(), 0);
      ids.push(...results[0]!.map((r) => r.eventId));
    }
    const deadline = Date.now() + 10_000;
    while (statSync(dbFile).size < before + 1_000_000 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    expect(statSync(dbFile).size).toBeGreaterThan(before + 1_000_000);
    expect(errors).toEqual([]);
    await store.close();

    const reopened = new SqliteStore({ dataDir: dir });
    try {
      for (const id of [ids[0]!, ids[999]!, ids[1999]!]) expect(await reopened.getEvent(id)).toBeDefined();
    } finally {
      await reopened.close();
    }
  });
});
