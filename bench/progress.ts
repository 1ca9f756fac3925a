/** What a scenario run prints while it runs: a progress line per second and phase timings. */
import { nowMs } from "./lib/clock.ts";
import { sampleProcess, type ProcessSample } from "./lib/proc-stats.ts";

/** CPU used between two samples as a share of one core over `ms` (100 = one core busy). */
export function cpuPercent(from: ProcessSample | undefined, to: ProcessSample | undefined, ms: number): number {
  return from && to && ms > 0 ? ((to.cpuMs - from.cpuMs) / ms) * 100 : 0;
}

const rate = (n: number): string => (n >= 1000 ? `${(n / 1000).toFixed(1)}k/s` : `${n.toFixed(0)}/s`);

/** One line per tick: publish and delivery counts with rates, hookline's CPU and RSS, the fleet's CPU. */
export class Progress {
  private lastMs = nowMs();
  private lastDelivered = 0;
  private lastAcked = 0;
  private lastCpu: ProcessSample | undefined;
  private lastFleetCpu: ProcessSample | undefined;
  private readonly startedMs = nowMs();

  constructor(
    private readonly label: string,
    private readonly hooklinePid: number,
    private readonly fleetPid: number,
    private readonly log: (line: string) => void,
  ) {
    this.lastCpu = sampleProcess(hooklinePid);
    this.lastFleetCpu = sampleProcess(fleetPid);
  }

  tick(phase: string, acked: number, events: number, delivered: number, expected: number): void {
    const at = nowMs();
    const ms = Math.max(1, at - this.lastMs);
    const cpu = sampleProcess(this.hooklinePid);
    const fleetCpu = sampleProcess(this.fleetPid);
    this.log(
      `  [${this.label}] ${((at - this.startedMs) / 1000).toFixed(0).padStart(3)}s ${phase.padEnd(7)} ` +
        `acked ${acked}/${events} (${rate(((acked - this.lastAcked) * 1000) / ms)})  ` +
        `delivered ${delivered}/${expected || "?"} (${rate(((delivered - this.lastDelivered) * 1000) / ms)})  ` +
        `hookline cpu ${cpuPercent(this.lastCpu, cpu, ms).toFixed(0)}% rss ${cpu ? Math.round(cpu.rssKb / 1024) : "?"} MB  ` +
        `fleet cpu ${cpuPercent(this.lastFleetCpu, fleetCpu, ms).toFixed(0)}%`,
    );
    this.lastMs = at;
    this.lastDelivered = delivered;
    this.lastAcked = acked;
    this.lastCpu = cpu;
    this.lastFleetCpu = fleetCpu;
  }
}

/** Wall time per phase of a run, for the log and the JSON. */
export class Phases {
  private last = nowMs();
  private readonly list: [string, number][] = [];

  mark(name: string): void {
    this.markAt(name, nowMs());
  }

  /** A phase that ended at a time another process reported. */
  markAt(name: string, atMs: number): void {
    this.list.push([name, Math.max(0, atMs - this.last) / 1000]);
    this.last = Math.max(this.last, atMs);
  }

  seconds(): Record<string, number> {
    return Object.fromEntries(this.list);
  }

  describe(): string {
    return this.list.map(([name, s]) => `${name} ${s.toFixed(1)}s`).join(", ");
  }
}
