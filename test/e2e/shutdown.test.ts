import http from "node:http";
import { describe, expect, it } from "vitest";
import { startServer } from "../helpers/server.ts";

describe("graceful shutdown", () => {
  it("does not wait out the grace period for an idle HTTP/1.1 keep-alive client", async () => {
    // A long grace period: only a shutdown that ignores the idle connection finishes well inside it.
    const server = await startServer({ args: ["--shutdown-grace", "30s"] });
    const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
    try {
      const status = await new Promise<number>((resolve, reject) => {
        http
          .get(`${server.baseUrl}/healthz`, { agent }, (res) => {
            res.resume();
            res.on("end", () => resolve(res.statusCode ?? 0));
          })
          .on("error", reject);
      });
      expect(status).toBe(200);
      // The connection is now idle in the agent's pool, like a metrics scraper between scrapes.
      const started = Date.now();
      const code = await server.stop();
      expect(code).toBe(0);
      expect(Date.now() - started).toBeLessThan(15_000);
      expect(server.logs.some((l) => l.msg === "stopped")).toBe(true);
    } finally {
      agent.destroy();
      server.cleanup();
    }
  });
});
