/**
 * Delivery limit: the same signed POSTs hookline would send (event i to every endpoint of
 * tenant i % tenants), straight from one undici keep-alive Agent with a fixed number of
 * requests in flight. Non-2xx answers are sent again at once (no backoff, no Retry-After):
 * the least work that gets every delivery accepted. Reads BlastConfig on stdin.
 */
import { Agent, type Dispatcher } from "undici";
import { exitWithParent, readJsonInput, send } from "../lib/child.ts";
import { nowMs } from "../lib/clock.ts";
import { encodePayload } from "../lib/payload.ts";
import type { BlastConfig, BlastDone, BlastTarget } from "../lib/protocol.ts";
import { keyOf, signedHeaders } from "../lib/webhook-signature.ts";
import { orderingOf } from "../topology.ts";

const config = await readJsonInput<BlastConfig>();
exitWithParent();

// Same Agent settings as hookline's HttpSender.
const agent = new Agent({ keepAliveTimeout: 30_000, keepAliveMaxTimeout: 120_000, connections: config.connectionsPerOrigin });
const keys = new Map(config.targets.map((t) => [t.index, keyOf(t.secret)]));
const urls = new Map(config.targets.map((t) => [t.index, new URL(t.url)]));
const byTenant: BlastTarget[][] = Array.from({ length: config.tenants }, () => []);
for (const t of config.targets) byTenant[t.tenant]?.push(t);

/**
 * One POST at the dispatcher level: the status, the body drained and dropped. The cheapest way
 * undici sends (no body stream, no signal), the same primitive hookline's HttpSender uses.
 */
function post(url: URL, headers: Record<string, string>, body: Uint8Array): Promise<number> {
  return new Promise((resolve, reject) => {
    let status = 0;
    const handler: Dispatcher.DispatchHandler = {
      // undici takes a handler without onRequestStart for one of the older callback shape.
      onRequestStart: () => undefined,
      onResponseStart: (_controller, statusCode) => {
        if (statusCode >= 200) status = statusCode;
      },
      onResponseEnd: () => resolve(status),
      onResponseError: (_controller, err) => reject(err),
    };
    agent.dispatch({ origin: url.origin, path: `${url.pathname}${url.search}`, method: "POST", headers, body }, handler);
  });
}

/** Jobs in publish order: event by event, each to its tenant's endpoints. */
function* jobs(): Generator<{ seq: number; target: BlastTarget }> {
  for (let seq = 0; seq < config.events; seq++) for (const target of byTenant[seq % config.tenants] ?? []) yield { seq, target };
}

let ok = 0;
let failedAttempts = 0;
let gaveUp = 0;

async function deliver(seq: number, target: BlastTarget): Promise<void> {
  const order = config.orderingKeys > 0 ? orderingOf(seq, config.tenants, config.orderingKeys) : undefined;
  const webhookId = `blast_${seq}_${target.index}`;
  for (let attempt = 1; attempt <= config.maxAttempts && nowMs() < deadline; attempt++) {
    const t = nowMs();
    const body = encodePayload({ seq, t, ...(order ? { k: order.key, s: order.position } : {}) }, config.payloadBytes);
    const timestamp = Math.floor(t / 1000);
    try {
      const statusCode = await post(urls.get(target.index) as URL, signedHeaders("hookline-bench-blast", keys.get(target.index) as Buffer, webhookId, timestamp, body), body);
      if (statusCode >= 200 && statusCode < 300) {
        ok++;
        return;
      }
    } catch {
      // counted below like any failed attempt
    }
    failedAttempts++;
  }
  gaveUp++;
}

const queue = jobs();
let deadline = Infinity;
async function lane(): Promise<void> {
  for (let next = queue.next(); !next.done && nowMs() < deadline; next = queue.next()) await deliver(next.value.seq, next.value.target);
}

const progress = setInterval(() => send({ type: "progress", ok }), 500);
const cpuBefore = process.cpuUsage();
const startMs = nowMs();
deadline = startMs + config.maxDurationMs;
await Promise.all(Array.from({ length: config.concurrency }, lane));
const endMs = nowMs();
const cpu = process.cpuUsage(cpuBefore);
clearInterval(progress);
await agent.close();
const done: BlastDone = { type: "done", startMs, endMs, ok, failedAttempts, gaveUp, cpuMs: (cpu.user + cpu.system) / 1000 };
send(done as unknown as Record<string, unknown>);
process.exit(0);
