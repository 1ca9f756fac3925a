/** The wait after publishing, shared by hookline's run and the BullMQ peer's. */
import { deliveredSoFar } from "./accounting.ts";
import type { FleetClient } from "./fleet-client.ts";
import { nowMs, sleep } from "./lib/clock.ts";
import type { BenchOptions } from "./options.ts";
import type { Topology } from "./topology.ts";

const TICK_MS = 1000;

export interface DrainInputs {
  fleet: FleetClient;
  topology: Topology;
  options: Pick<BenchOptions, "drainTimeoutS" | "maxDrainS">;
  expected: number;
  /** Once a tick: throws when the process doing the delivering has died. */
  check(): void;
  /** Once a tick, with the deliveries so far: shows progress. */
  tick(delivered: number, secondsSoFar: number): void;
}

/**
 * Waits until every expected delivery arrived, none arrived for --drain-timeout, or
 * --max-drain passed; returns why it stopped early, or undefined when all arrived.
 */
export async function waitForDrain(i: DrainInputs): Promise<string | undefined> {
  const started = nowMs();
  let lastProgressMs = started;
  let lastDelivered = -1;
  for (;;) {
    const delivered = deliveredSoFar((await i.fleet.stats()).okByEndpoint, i.topology);
    if (delivered >= i.expected) return undefined;
    const at = nowMs();
    if (delivered > lastDelivered) {
      lastDelivered = delivered;
      lastProgressMs = at;
    }
    const outstanding = `stopped waiting with ${i.expected - delivered} deliveries outstanding`;
    if (at - lastProgressMs > i.options.drainTimeoutS * 1000) return `${outstanding} (none arrived for ${i.options.drainTimeoutS}s)`;
    if (at - started > i.options.maxDrainS * 1000) return `${outstanding} (drained for ${i.options.maxDrainS}s)`;
    i.check();
    i.tick(delivered, (at - started) / 1000);
    await sleep(TICK_MS);
  }
}
