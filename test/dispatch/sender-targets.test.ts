/**
 * A task holding several endpoints' deliveries, as the scheduler sends one per pass: each
 * target's results are reported as soon as that target is done, so a slow endpoint never
 * holds back a fast one. In-process (HttpSender) and through the compiled piscina pool, with
 * real HTTP servers on loopback.
 */
import { afterEach, describe, expect, it } from "vitest";
import { generateSecret } from "../../src/core/secrets.ts";
import { HttpSender } from "../../src/dispatch/http-sender.ts";
import type * as PoolSenderModule from "../../src/dispatch/pool-sender.ts";
import type { SendResult, SendTask, Sender } from "../../src/dispatch/send-task.ts";
import { Receiver } from "../helpers/receiver.ts";

const closers: (() => Promise<unknown>)[] = [];

/** A receiver answering `status` after `delayMs`; its URL. */
async function serve(status: number, delayMs: number): Promise<string> {
  const rx = await Receiver.start(() => ({ status, delayMs }));
  closers.push(() => rx.close());
  return rx.url;
}

/** One target per URL, `perTarget` deliveries each; webhook ids say target and item. */
function task(urls: string[], perTarget: number): SendTask {
  const secret = generateSecret();
  return {
    targets: urls.map((url) => ({ url, timeoutMs: 5000, headers: {}, secrets: [secret] })),
    items: urls.flatMap((_, t) => Array.from({ length: perTarget }, (__, i) => ({ target: t, webhookId: `dlv_${t}_${i}`, payload: Buffer.from("{}") }))),
  };
}

interface Report {
  target: number;
  statuses: number[];
  atMs: number;
}

async function sendRecording(send: Sender["send"], t: SendTask): Promise<Report[]> {
  const started = performance.now();
  const reports: Report[] = [];
  await send(t, (target, results: SendResult[]) => reports.push({ target, statuses: results.map((r) => r.statusCode), atMs: performance.now() - started }));
  return reports;
}

afterEach(async () => {
  await Promise.all(closers.splice(0).map((close) => close()));
});

describe("a task of several endpoints", () => {
  it("HttpSender reports a fast endpoint before a slow one has answered", async () => {
    const fast = await serve(200, 0);
    const slow = await serve(202, 800);
    const sender = new HttpSender({ allowPrivateTargets: true });
    closers.push(() => sender.close());
    const reports = await sendRecording((t, onTarget) => sender.sendAll(t, onTarget).then(() => undefined), task([slow, fast], 3));
    expect(reports.map((r) => r.target)).toEqual([1, 0]);
    expect(reports[0]?.statuses).toEqual([200, 200, 200]);
    expect(reports[1]?.statuses).toEqual([202, 202, 202]);
    // The slow endpoint answers after 800 ms; the fast one was reported well before.
    expect(reports[1]?.atMs).toBeGreaterThanOrEqual(750);
    expect(reports[0]?.atMs ?? Infinity).toBeLessThan((reports[1]?.atMs ?? 0) - 300);
  });

  for (const threads of [1, 2]) {
    it(`the piscina pool (${threads} thread${threads > 1 ? "s" : ""}) reports each endpoint as it is done, under its own index`, async () => {
      // The compiled module: its worker thread loads dist/dispatch/worker.js.
      const { createPoolSender } = (await import(new URL("../../dist/dispatch/pool-sender.js", import.meta.url).href)) as typeof PoolSenderModule;
      const pool = createPoolSender({ threads, allowPrivateTargets: true });
      closers.push(() => pool.close());
      await pool.ready();
      const urls = [await serve(202, 800), await serve(200, 0), await serve(201, 0)];
      const reports = await sendRecording(pool.send, task(urls, 2));
      const byTarget = new Map(reports.map((r) => [r.target, r]));
      expect(reports).toHaveLength(3);
      expect(byTarget.get(0)?.statuses).toEqual([202, 202]);
      expect(byTarget.get(1)?.statuses).toEqual([200, 200]);
      expect(byTarget.get(2)?.statuses).toEqual([201, 201]);
      const slowAt = byTarget.get(0)?.atMs ?? 0;
      expect(slowAt).toBeGreaterThanOrEqual(750);
      expect(byTarget.get(1)?.atMs ?? Infinity).toBeLessThan(slowAt - 300);
      expect(byTarget.get(2)?.atMs ?? Infinity).toBeLessThan(slowAt - 300);
    });
  }

  it("is dealt to the pool's threads with each part's items re-indexed to its own targets", async () => {
    const { splitByTarget } = await import("../../src/dispatch/pool-sender.ts");
    const parts = splitByTarget(task(["http://a/", "http://b/", "http://c/"], 2), 2);
    expect(parts.map((p) => p.targets)).toEqual([[0, 2], [1]]);
    expect(parts[0]?.task.targets.map((t) => t.url)).toEqual(["http://a/", "http://c/"]);
    expect(parts[0]?.task.items.map((i) => [i.target, i.webhookId])).toEqual([
      [0, "dlv_0_0"],
      [0, "dlv_0_1"],
      [1, "dlv_2_0"],
      [1, "dlv_2_1"],
    ]);
    expect(parts[1]?.task.items.map((i) => [i.target, i.webhookId])).toEqual([
      [0, "dlv_1_0"],
      [0, "dlv_1_1"],
    ]);
  });
});
