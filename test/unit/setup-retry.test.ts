import { JetStreamApiError } from "@nats-io/jetstream";
import { pino } from "pino";
import { describe, expect, it } from "vitest";
import { isClusterForming, isUnanswered, retryWhileClusterForms } from "../../src/store/jetstream/setup-retry.ts";

const noPeers = (): JetStreamApiError => new JetStreamApiError({ code: 503, err_code: 10005, description: "no suitable peers for placement, peer offline" });
const badConfig = (): JetStreamApiError => new JetStreamApiError({ code: 400, err_code: 10058, description: "stream name already in use with a different configuration" });

function capture(): { lines: Record<string, unknown>[]; logger: pino.Logger } {
  const lines: Record<string, unknown>[] = [];
  return { lines, logger: pino({ level: "info" }, { write: (line: string) => void lines.push(JSON.parse(line) as Record<string, unknown>) }) };
}

describe("retryWhileClusterForms", () => {
  it("tries again while the cluster cannot place the stream, logging each wait", async () => {
    const { lines, logger } = capture();
    let calls = 0;
    const result = await retryWhileClusterForms(
      "stream S",
      async () => {
        if (++calls < 3) throw noPeers();
        return "created";
      },
      { logger, deadlineMs: 5000, pauseMs: 5 },
    );
    expect(result).toBe("created");
    expect(calls).toBe(3);
    expect(lines.map((l) => [l.step, l.attempt])).toEqual([
      ["stream S", 1],
      ["stream S", 2],
    ]);
  });

  it("throws other errors at once: they need the operator", async () => {
    const { lines, logger } = capture();
    let calls = 0;
    const run = retryWhileClusterForms(
      "stream S",
      async () => {
        calls++;
        throw badConfig();
      },
      { logger, deadlineMs: 5000, pauseMs: 5 },
    );
    await expect(run).rejects.toThrow(/different configuration/);
    expect(calls).toBe(1);
    expect(lines).toEqual([]);
  });

  it("gives up with the cluster's own error once the deadline has passed", async () => {
    const { logger } = capture();
    let calls = 0;
    const run = retryWhileClusterForms(
      "bucket B",
      async () => {
        calls++;
        throw noPeers();
      },
      { logger, deadlineMs: 60, pauseMs: 10, maxPauseMs: 20 },
    );
    await expect(run).rejects.toThrow(/no suitable peers/);
    expect(calls).toBeGreaterThan(1);
    expect(calls).toBeLessThan(10);
  });

  it("with notYet, also tries again after a request nobody answered (a meta leader being elected)", async () => {
    const { lines, logger } = capture();
    let calls = 0;
    const result = await retryWhileClusterForms(
      "reaching the JetStream API",
      async () => {
        if (++calls < 3) throw new Error("TIMEOUT");
        return "answered";
      },
      { logger, deadlineMs: 5000, pauseMs: 5, notYet: (err) => isClusterForming(err) || isUnanswered(err) },
    );
    expect(result).toBe("answered");
    expect(lines.map((l) => l.step)).toEqual(["reaching the JetStream API", "reaching the JetStream API"]);
    // Without it a timeout is thrown at once.
    await expect(
      retryWhileClusterForms(
        "stream S",
        async () => {
          throw new Error("TIMEOUT");
        },
        { logger, deadlineMs: 5000, pauseMs: 5 },
      ),
    ).rejects.toThrow("TIMEOUT");
  });
});
