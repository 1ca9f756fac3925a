import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { pino } from "pino";
import { prettyLine } from "../../src/observability/logger.ts";
import { RateLimitedLog } from "../../src/observability/rate-limited-log.ts";

/** A real pino logger whose lines land in an array. */
function capture(): { lines: Record<string, unknown>[]; log: RateLimitedLog } {
  const lines: Record<string, unknown>[] = [];
  const logger = pino({ level: "info" }, { write: (line: string) => void lines.push(JSON.parse(line) as Record<string, unknown>) });
  return { lines, log: new RateLimitedLog(logger, { perWindow: 3, windowMs: 10_000 }) };
}

describe("RateLimitedLog", () => {
  beforeEach(() => vi.useFakeTimers({ now: Date.parse("2026-01-01T00:00:00Z") }));
  afterEach(() => vi.useRealTimers());

  it("writes every line while a kind stays under its limit", () => {
    const { lines, log } = capture();
    log.warn("dead-letter", { deliveryId: "dlv_1" }, "delivery dead-lettered");
    log.warn("dead-letter", { deliveryId: "dlv_2" }, "delivery dead-lettered");
    expect(lines.map((l) => l.deliveryId)).toEqual(["dlv_1", "dlv_2"]);
    expect(lines[0]).toMatchObject({ level: 40, kind: "dead-letter", msg: "delivery dead-lettered" });
    vi.advanceTimersByTime(60_000);
    expect(lines).toHaveLength(2);
  });

  it("a flood writes the limit, then one summary with the count left out when the window ends", () => {
    const { lines, log } = capture();
    for (let i = 0; i < 1000; i++) log.warn("dead-letter", { deliveryId: `dlv_${i}` }, "delivery dead-lettered");
    expect(lines).toHaveLength(3);
    vi.advanceTimersByTime(10_000);
    expect(lines).toHaveLength(4);
    expect(lines[3]).toMatchObject({ level: 40, kind: "dead-letter", suppressed: 997, windowMs: 10_000 });
    // The next window starts afresh.
    log.warn("dead-letter", { deliveryId: "dlv_next" }, "delivery dead-lettered");
    expect(lines[4]).toMatchObject({ deliveryId: "dlv_next" });
  });

  it("kinds are limited separately", () => {
    const { lines, log } = capture();
    for (let i = 0; i < 10; i++) log.warn("dead-letter", {}, "delivery dead-lettered");
    log.warn("breaker-open", { endpointId: "ep_1" }, "circuit breaker opened: endpoint paused");
    log.info("breaker-close", { endpointId: "ep_1" }, "circuit breaker closed: endpoint resumed");
    expect(lines.map((l) => l.kind)).toEqual(["dead-letter", "dead-letter", "dead-letter", "breaker-open", "breaker-close"]);
  });

  it("flush writes pending summaries at once", () => {
    const { lines, log } = capture();
    for (let i = 0; i < 5; i++) log.warn("endpoint-gone", {}, "endpoint disabled");
    log.flush();
    expect(lines.at(-1)).toMatchObject({ kind: "endpoint-gone", suppressed: 2 });
    vi.advanceTimersByTime(20_000);
    expect(lines).toHaveLength(4);
  });
});

describe("pretty log lines", () => {
  it("put time, level, message and fields on one line", () => {
    const line = prettyLine(
      JSON.stringify({
        level: 40,
        time: "2026-01-01T00:00:00.000Z",
        service: "hookline",
        kind: "dead-letter",
        deliveryId: "dlv_1",
        error: "HTTP 500",
        attempts: 3,
        err: { type: "Error", message: "boom", stack: "Error: boom\n    at x" },
        msg: "delivery dead-lettered",
      }),
    );
    expect(line).toBe('2026-01-01T00:00:00.000Z WARN  delivery dead-lettered kind=dead-letter deliveryId=dlv_1 error="HTTP 500" attempts=3 err="boom"\n');
  });
});
