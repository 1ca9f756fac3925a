import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { fsyncFile, WalSync } from "../../src/store/sqlite/wal-sync.ts";

/** An fsync whose calls the test finishes by hand, in order. */
function manualFsync() {
  const calls: { path: string; done: () => void; fail: (err: Error) => void }[] = [];
  const fsync = (path: string): Promise<void> =>
    new Promise((resolve, reject) => calls.push({ path, done: resolve, fail: reject }));
  return { calls, fsync };
}

const settled = async (p: Promise<void>): Promise<string> => {
  let state = "pending";
  p.then(
    () => (state = "resolved"),
    () => (state = "rejected"),
  );
  await new Promise((r) => setImmediate(r));
  return state;
};

describe("WalSync", () => {
  it("one fsync at a time; everyone who asks while one runs shares the next, which covers them", async () => {
    const { calls, fsync } = manualFsync();
    const wal = new WalSync("/db-wal", "/db", fsync);
    const first = wal.sync();
    const [second, third] = [wal.sync(), wal.sync()];
    expect(calls).toHaveLength(1);
    // The running sync may have started before their commits: they wait for the next one.
    calls[0]!.done();
    expect(await settled(first)).toBe("resolved");
    expect(await settled(second)).toBe("pending");
    expect(calls).toHaveLength(2);
    const fourth = wal.sync();
    calls[1]!.done();
    expect(await settled(second)).toBe("resolved");
    expect(await settled(third)).toBe("resolved");
    expect(await settled(fourth)).toBe("pending");
    expect(calls).toHaveLength(3);
    calls[2]!.done();
    expect(await settled(fourth)).toBe("resolved");
    expect(calls.map((c) => c.path)).toEqual(["/db-wal", "/db-wal", "/db-wal"]);
  });

  it("a failed fsync rejects the callers it covered; the next one still runs", async () => {
    const { calls, fsync } = manualFsync();
    const wal = new WalSync("/db-wal", "/db", fsync);
    const first = wal.sync();
    const second = wal.sync();
    calls[0]!.fail(Object.assign(new Error("EIO: i/o error"), { code: "EIO" }));
    await expect(first).rejects.toThrow("EIO");
    await new Promise((r) => setImmediate(r));
    calls[1]!.done();
    await expect(second).resolves.toBeUndefined();
  });

  it("syncs the database file when the WAL file is gone", async () => {
    const { calls, fsync } = manualFsync();
    const wal = new WalSync("/db-wal", "/db", fsync);
    const done = wal.sync();
    calls[0]!.fail(Object.assign(new Error("ENOENT: no such file"), { code: "ENOENT" }));
    await new Promise((r) => setImmediate(r));
    expect(calls.map((c) => c.path)).toEqual(["/db-wal", "/db"]);
    calls[1]!.done();
    await expect(done).resolves.toBeUndefined();
  });

  it("fsyncs a real file", async () => {
    const dir = mkdtempSync(join(tmpdir(), "hookline-walsync-"));
    try {
      writeFileSync(join(dir, "f"), "x");
      await expect(fsyncFile(join(dir, "f"))).resolves.toBeUndefined();
      await expect(fsyncFile(join(dir, "missing"))).rejects.toMatchObject({ code: "ENOENT" });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
