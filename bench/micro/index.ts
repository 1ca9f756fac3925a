/** `npm run bench -- --micro`: runs every micro-benchmark in its own process and collects the results. */
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { spawnJsonChild, tsNodeArgs } from "../lib/child.ts";
import { rateUnit, type MicroResult } from "./lib.ts";

const MICRO = ["signing", "event-type-check", "store-ingest", "scheduler-claim", "claim-scaling", "worker-roundtrip", "hand-off", "sender-cost", "watchers", "pull", "ack-layout"] as const;

export async function runMicro(root: string, resultsDir: string, log: (line: string) => void): Promise<number> {
  const results: MicroResult[] = [];
  let failed = false;
  for (const name of MICRO) {
    log(`\nmicro: ${name} (node --import tsx bench/micro/${name}.ts)`);
    const child = spawnJsonChild(name, tsNodeArgs(join(root, `bench/micro/${name}.ts`)), { cwd: root, env: { BENCH_JSON: "1" } });
    child.onMessage((m) => {
      if (m.type !== "result") return;
      const r = m as unknown as MicroResult;
      results.push(r);
      log(`  ${r.case.padEnd(50)} ${Math.round(r.opsPerSecond).toLocaleString("en-US").padStart(12)} ${rateUnit(r.unit)}`);
    });
    const code = await child.exited;
    if (code !== 0) {
      failed = true;
      log(`  FAILED (exit ${code}): ${child.stderrTail().trim()}`);
    }
  }
  mkdirSync(resultsDir, { recursive: true });
  writeFileSync(join(resultsDir, "micro.json"), JSON.stringify({ at: new Date().toISOString(), node: process.version, results }, null, 2) + "\n");
  const table = [
    "| micro-benchmark | case | ops/s |",
    "|---|---|--:|",
    ...results.map((r) => `| ${r.bench} | ${r.case} | ${Math.round(r.opsPerSecond).toLocaleString("en-US")} ${rateUnit(r.unit)} |`),
  ].join("\n");
  writeFileSync(join(resultsDir, "micro.md"), `# hookline micro-benchmarks\n\n${new Date().toISOString()} · Node ${process.version}\n\n${table}\n`);
  log(`\n${table}\n\nresults: bench/results/micro.json, bench/results/micro.md`);
  return failed ? 1 : 0;
}
