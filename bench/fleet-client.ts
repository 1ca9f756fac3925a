/** The orchestrator's handle on the fleet process (bench/fleet.ts). */
import { join } from "node:path";
import { spawnJsonChild, tsNodeArgs, type JsonChild } from "./lib/child.ts";
import { requestJson } from "./lib/http-json.ts";
import type { FleetReport, FleetSetup, FleetSetupReply, FleetStats } from "./lib/protocol.ts";

export class FleetClient {
  private constructor(
    readonly child: JsonChild,
    private readonly controlPort: number,
  ) {}

  static async start(root: string): Promise<FleetClient> {
    const child = spawnJsonChild("fleet", tsNodeArgs(join(root, "bench/fleet.ts")), { cwd: root });
    const ready = await child.waitFor((m) => m.type === "ready", 30_000, "ready message");
    return new FleetClient(child, ready.controlPort as number);
  }

  setup(s: FleetSetup): Promise<FleetSetupReply> {
    return requestJson(this.controlPort, "POST", "/setup", s);
  }

  stats(): Promise<FleetStats> {
    return requestJson(this.controlPort, "GET", "/stats");
  }

  report(): Promise<FleetReport> {
    return requestJson(this.controlPort, "GET", "/report", undefined, 120_000);
  }

  async shutdown(): Promise<void> {
    await requestJson(this.controlPort, "POST", "/shutdown").catch(() => undefined);
    await this.child.stop("SIGTERM", 5_000);
  }
}
