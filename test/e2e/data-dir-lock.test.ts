import { afterAll, describe, expect, it } from "vitest";
import { rmSync } from "node:fs";
import { clients } from "../helpers/clients.ts";
import { runCli, startServer, tempDir, type ServerProcess } from "../helpers/server.ts";

describe("one hookline per data dir", () => {
  const dataDir = tempDir("hookline-lock-");
  const started: ServerProcess[] = [];
  afterAll(async () => {
    for (const s of started) await s.stop();
    rmSync(dataDir, { recursive: true, force: true });
  });

  it("refuses a second server on the same data dir, naming the first one's pid", async () => {
    const first = await startServer({ dataDir, backend: "sqlite" });
    started.push(first);
    const second = await runCli(["serve", "--port", "0", "--data-dir", dataDir]);
    expect(second.code).toBe(1);
    const lines = second.stderr.trim().split("\n");
    expect(lines).toHaveLength(1);
    expect(lines[0]).toBe(
      `hookline serve: data dir ${dataDir} is in use by another hookline process (pid ${first.pid}); stop it or pick another --data-dir`,
    );
    // The first one is unharmed.
    const { tenant } = await clients(first.baseUrl).tenants.createTenant({ name: "still-here" });
    expect(tenant?.name).toBe("still-here");
  });

  it("takes over the lock of a process killed with SIGKILL", async () => {
    const holder = started.pop() ?? (await startServer({ dataDir, backend: "sqlite" }));
    await holder.kill();
    const next = await startServer({ dataDir, backend: "sqlite" });
    started.push(next);
    const { tenants } = await clients(next.baseUrl).tenants.listTenants({});
    expect(tenants.map((t) => t.name)).toContain("still-here");
  });

  it("frees the data dir on a graceful stop", async () => {
    const holder = started.pop() as ServerProcess;
    expect(await holder.stop()).toBe(0);
    const next = await startServer({ dataDir, backend: "sqlite" });
    started.push(next);
    expect(next.pid).not.toBe(holder.pid);
  });
});
