/**
 * Top self-time functions of V8 CPU profiles (from `npm run bench -- --cpu-prof`):
 *   node --import tsx bench/profile-summary.ts [bench/results/profiles/*.cpuprofile] [--top N]
 * With no files, reads every profile in bench/results/profiles/.
 */
import { readFileSync, readdirSync } from "node:fs";
import { join, relative } from "node:path";
import { fileURLToPath } from "node:url";
import { SourceMaps } from "./lib/source-maps.ts";

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number; columnNumber: number };
  hitCount?: number;
}

interface Profile {
  nodes: ProfileNode[];
  samples?: number[];
  timeDeltas?: number[];
  startTime: number;
  endTime: number;
}

const ROOT = fileURLToPath(new URL("../", import.meta.url));
const maps = new SourceMaps();

/** "src/file.ts:123  <that line of code>" for compiled frames with a source map, else "file:line". */
function position(url: string, line: number, column: number): string {
  if (url === "") return "(native)";
  const path = url.startsWith("file://") ? fileURLToPath(url) : url;
  const original = path.endsWith(".js") && !path.includes("/node_modules/") ? maps.originalPosition(path, line, column) : undefined;
  if (original === undefined) return `${where(url)}:${line + 1}`;
  return `${where(original.source)}:${original.line}  ${original.text.trim().slice(0, 70)}`;
}

function where(url: string): string {
  if (url === "") return "(native)";
  const path = url.startsWith("file://") ? fileURLToPath(url) : url;
  return path.startsWith(ROOT) ? relative(ROOT, path) : path;
}

function summarise(file: string, top: number): void {
  const profile = JSON.parse(readFileSync(file, "utf8")) as Profile;
  const byNode = new Map(profile.nodes.map((n) => [n.id, n]));
  // Self time per node from samples and their time deltas (µs).
  const selfUs = new Map<number, number>();
  const samples = profile.samples ?? [];
  const deltas = profile.timeDeltas ?? [];
  for (let i = 0; i < samples.length; i++) {
    const id = samples[i] as number;
    selfUs.set(id, (selfUs.get(id) ?? 0) + (deltas[i + 1] ?? deltas[i] ?? 0));
  }
  const byFunction = new Map<string, number>();
  const byFile = new Map<string, number>();
  let total = 0;
  for (const [id, us] of selfUs) {
    const node = byNode.get(id);
    if (!node) continue;
    const { functionName, url, lineNumber, columnNumber } = node.callFrame;
    // piscina's worker blocks in Atomics.wait between tasks: waiting, not working.
    if (functionName === "(idle)" || functionName === "atomicsWaitLoop") continue;
    total += us;
    const fn = `${functionName || "(anonymous)"}  ${position(url, lineNumber, columnNumber)}`;
    byFunction.set(fn, (byFunction.get(fn) ?? 0) + us);
    const group = url.includes("/node_modules/") ? `node_modules/${url.split("/node_modules/")[1]?.split("/")[0] ?? "?"}` : where(url);
    byFile.set(group, (byFile.get(group) ?? 0) + us);
  }
  const wall = (profile.endTime - profile.startTime) / 1e6;
  process.stdout.write(`\n${relative(process.cwd(), file)}: ${(total / 1e6).toFixed(1)} s busy of ${wall.toFixed(1)} s profiled\n`);
  const print = (title: string, map: Map<string, number>): void => {
    process.stdout.write(`  ${title}\n`);
    for (const [name, us] of [...map].sort((a, b) => b[1] - a[1]).slice(0, top))
      process.stdout.write(`    ${((us / total) * 100).toFixed(1).padStart(5)}%  ${(us / 1000).toFixed(0).padStart(7)} ms  ${name}\n`);
  };
  print("self time by function", byFunction);
  print("self time by file / package", byFile);
}

const args = process.argv.slice(2);
const topAt = args.indexOf("--top");
const top = topAt === -1 ? 25 : Number(args[topAt + 1]);
const files = args.filter((a, i) => !a.startsWith("--") && (topAt === -1 || i !== topAt + 1));
const dir = join(ROOT, "bench/results/profiles");
const list = files.length > 0 ? files : readdirSync(dir).filter((f) => f.endsWith(".cpuprofile")).map((f) => join(dir, f));
for (const file of list) summarise(file, top);
