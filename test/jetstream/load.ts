import type { Clients } from "../helpers/clients.ts";
import { json } from "../helpers/clients.ts";

export interface LoadOptions {
  tenantId: string;
  /** The API to publish through for batch i (spreads load over processes). */
  apiFor: (batch: number) => Clients;
  total: number;
  batch: number;
  /** Bounds the whole run. */
  deadlineMs: number;
  /** Pause between batches, so the run spans the fault. */
  pauseMs: number;
}

/**
 * Publishes {"n": i} events in batches with idempotency keys, retrying a batch that failed
 * (through the next API in line) until it is acked or the deadline passes. Returns the
 * markers that were acknowledged.
 */
export async function publishWithRetries(o: LoadOptions): Promise<{ acked: Set<number>; retries: number }> {
  const acked = new Set<number>();
  let retries = 0;
  const deadline = Date.now() + o.deadlineMs;
  for (let start = 0, b = 0; start < o.total && Date.now() < deadline; start += o.batch, b++) {
    const ns = Array.from({ length: Math.min(o.batch, o.total - start) }, (_, i) => start + i);
    for (let attempt = 0; Date.now() < deadline; attempt++) {
      try {
        const { results } = await o.apiFor(b + attempt).events.publish({
          events: ns.map((n) => ({ tenantId: o.tenantId, type: "fault.load", payload: json({ n }), idempotencyKey: `n-${n}` })),
        });
        if (results.length === ns.length) for (const n of ns) acked.add(n);
        break;
      } catch {
        retries++;
        await new Promise((r) => setTimeout(r, 200));
      }
    }
    await new Promise((r) => setTimeout(r, o.pauseMs));
  }
  return { acked, retries };
}

/** Attempts a hookline process has sent, from its own metrics. */
export async function attemptsOf(server: { baseUrl: string }): Promise<number> {
  const text = await (await fetch(`${server.baseUrl}/metrics`)).text();
  return [...text.matchAll(/^hookline_attempts_total\{[^}]*\} (\d+)/gm)].reduce((sum, m) => sum + Number(m[1]), 0);
}
