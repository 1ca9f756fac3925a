/** Command-line options of `npm run bench`. */
import type { PeerJobShape } from "./peers/protocol.ts";
import { SCENARIOS, type ScenarioName, type Size } from "./scenarios.ts";

export interface BenchOptions {
  scenarios: ScenarioName[];
  size: Size;
  events: number | undefined;
  endpoints: number | undefined;
  tenants: number | undefined;
  payloadBytes: number;
  /** Longest publish phase per scenario, seconds. */
  durationS: number;
  /** Store of the server under test; jetstream starts a nats-server of its own on loopback. */
  backend: "sqlite" | "jetstream";
  /** hookline --workers per run; undefined keeps the server's default. */
  workers: (number | undefined)[];
  repeat: number;
  batch: number;
  window: number;
  /** Events per second; 0 = as fast as acks come back. */
  rate: number;
  maxInFlight: number | undefined;
  workerBatch: number | undefined;
  sqliteSync: "full" | "normal";
  /** Stop waiting for deliveries after this long without a new one... */
  drainTimeoutS: number;
  /** ...or after this long in all. */
  maxDrainS: number;
  /** Override the flaky fleet's 500 and 429 shares. */
  errorRate: number | undefined;
  throttleRate: number | undefined;
  baselines: boolean;
  /** Also run the BullMQ + Redis + undici peer (fast and backlog). */
  peers: boolean;
  /** Override the peer's worker processes, BullMQ concurrency per process and job shape (bench/peers/bullmq.ts). */
  peerWorkers: number | undefined;
  peerConcurrency: number | undefined;
  peerJobs: PeerJobShape | undefined;
  cpuProf: boolean;
  /** Base name of the result files under bench/results/. */
  name: string;
  serverArgs: string[];
  micro: boolean;
}

export class UsageError extends Error {}

export const USAGE = `npm run bench [-- options]

Runs hookline against a mock receiver fleet in separate processes and writes
bench/results/<name>.json, .md and .svg. Exit code 1 when an acked delivery was lost or a
signature failed, 2 on bad options.

  --quick                  about a minute (smaller event counts)
  --scenario LIST          comma-separated: ${SCENARIOS.join(", ")} or all (default all)
  --events N               events per scenario (overrides the scenario's size)
  --endpoints N            healthy endpoints per scenario
  --tenants N              tenants per scenario
  --payload-bytes N        event payload size (default 512)
  --duration S             longest publish phase per scenario in seconds (default 60)
  --backend NAME           sqlite (default) or jetstream (starts a local nats-server)
  --workers LIST           hookline --workers per run, e.g. 0,1,2 (default: server default)
  --repeat N               run everything N times, interleaved; tables show medians
  --batch N                events per PublishStream request (default 200)
  --window N               PublishStream requests in flight (default 16)
  --rate N                 publish at most N events/s (default 0 = as fast as acked)
  --max-in-flight N        hookline --default-max-in-flight (and the blast's concurrency per endpoint)
  --worker-batch N         hookline --worker-batch
  --sqlite-sync MODE       full (default) or normal, for hookline and the ingest baseline
  --drain-timeout S        after publishing, give up when no delivery arrived for S seconds (default 30);
                           what is missing then counts as lost
  --max-drain S            give up after S seconds of draining in all (default 240, quick 90)
  --error-rate X           share of 500 answers of the flaky fleet (default 0.1)
  --throttle-rate X        share of 429 answers of the flaky fleet (default 0.01)
  --no-baselines           skip the undici and SQLite limits
  --peers                  also run the BullMQ + Redis + undici peer on fast and backlog (starts
                           its own redis-server; installs Debian's redis-server when root and missing)
  --peer-workers N         the peer's worker processes (default 2)
  --peer-concurrency N     the peer's BullMQ concurrency per worker process (default 32)
  --peer-jobs SHAPE        event (default: one job per event, fan-out in the worker) or delivery
                           (one job per event and endpoint)
  --cpu-prof               write V8 CPU profiles of the server to bench/results/profiles/
  --name NAME              result file name (default latest)
  --server-arg ARG         extra argument for hookline serve (repeatable)
  --micro                  run the micro-benchmarks in bench/micro/ instead
  --help
`;

function positiveInt(flag: string, raw: string | undefined, min = 1): number {
  const n = Number(raw);
  if (raw === undefined || !Number.isInteger(n) || n < min) throw new UsageError(`${flag} needs a whole number >= ${min} (got ${raw ?? "nothing"})`);
  return n;
}

function share(flag: string, raw: string): number {
  const n = Number(raw);
  if (raw.trim() === "" || !Number.isFinite(n) || n < 0 || n > 1) throw new UsageError(`${flag} needs a number from 0 to 1 (got ${raw})`);
  return n;
}

export function parseOptions(argv: readonly string[]): BenchOptions | "help" {
  const o: BenchOptions = {
    scenarios: [...SCENARIOS],
    size: "default",
    events: undefined,
    endpoints: undefined,
    tenants: undefined,
    payloadBytes: 512,
    durationS: 60,
    backend: "sqlite",
    workers: [undefined],
    repeat: 1,
    batch: 200,
    window: 16,
    rate: 0,
    maxInFlight: undefined,
    workerBatch: undefined,
    sqliteSync: "full",
    drainTimeoutS: 30,
    maxDrainS: 240,
    errorRate: undefined,
    throttleRate: undefined,
    baselines: true,
    peers: false,
    peerWorkers: undefined,
    peerConcurrency: undefined,
    peerJobs: undefined,
    cpuProf: false,
    name: "latest",
    serverArgs: [],
    micro: false,
  };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i] as string;
    const eq = arg.indexOf("=");
    const flag = eq === -1 ? arg : arg.slice(0, eq);
    const value = (): string => {
      if (eq !== -1) return arg.slice(eq + 1);
      const next = argv[++i];
      if (next === undefined) throw new UsageError(`${flag} needs a value`);
      return next;
    };
    switch (flag) {
      case "--help":
      case "-h":
        return "help";
      case "--quick":
        o.size = "quick";
        o.durationS = 20;
        o.maxDrainS = 90;
        break;
      case "--scenario":
      case "--scenarios": {
        const list = value().split(",").map((s) => s.trim()).filter(Boolean);
        if (list.length === 1 && list[0] === "all") o.scenarios = [...SCENARIOS];
        else {
          for (const s of list) if (!(SCENARIOS as readonly string[]).includes(s)) throw new UsageError(`unknown scenario "${s}"; pick from ${SCENARIOS.join(", ")}`);
          o.scenarios = list as ScenarioName[];
        }
        break;
      }
      case "--events":
        o.events = positiveInt(flag, value());
        break;
      case "--endpoints":
        o.endpoints = positiveInt(flag, value());
        break;
      case "--tenants":
        o.tenants = positiveInt(flag, value());
        break;
      case "--payload-bytes":
        o.payloadBytes = positiveInt(flag, value(), 64);
        break;
      case "--duration":
        o.durationS = positiveInt(flag, value());
        break;
      case "--backend": {
        const backend = value();
        if (backend !== "sqlite" && backend !== "jetstream") throw new UsageError(`unknown backend "${backend}"; use sqlite or jetstream`);
        o.backend = backend;
        break;
      }
      case "--workers":
        o.workers = value()
          .split(",")
          .map((w) => positiveInt("--workers", w.trim(), 0));
        break;
      case "--repeat":
        o.repeat = positiveInt(flag, value());
        break;
      case "--batch":
        o.batch = positiveInt(flag, value());
        break;
      case "--window":
        o.window = positiveInt(flag, value());
        break;
      case "--rate":
        o.rate = positiveInt(flag, value(), 0);
        break;
      case "--max-in-flight":
        o.maxInFlight = positiveInt(flag, value());
        break;
      case "--worker-batch":
        o.workerBatch = positiveInt(flag, value());
        break;
      case "--sqlite-sync": {
        const mode = value();
        if (mode !== "full" && mode !== "normal") throw new UsageError("--sqlite-sync must be full or normal");
        o.sqliteSync = mode;
        break;
      }
      case "--drain-timeout":
        o.drainTimeoutS = positiveInt(flag, value());
        break;
      case "--max-drain":
        o.maxDrainS = positiveInt(flag, value());
        break;
      case "--error-rate":
        o.errorRate = share(flag, value());
        break;
      case "--throttle-rate":
        o.throttleRate = share(flag, value());
        break;
      case "--no-baselines":
        o.baselines = false;
        break;
      case "--peers":
        o.peers = true;
        break;
      case "--peer-workers":
        o.peerWorkers = positiveInt(flag, value());
        break;
      case "--peer-concurrency":
        o.peerConcurrency = positiveInt(flag, value());
        break;
      case "--peer-jobs": {
        const shape = value();
        if (shape !== "event" && shape !== "delivery") throw new UsageError(`--peer-jobs must be event or delivery (got ${shape})`);
        o.peerJobs = shape;
        break;
      }
      case "--cpu-prof":
        o.cpuProf = true;
        break;
      case "--name": {
        const name = value();
        if (!/^[A-Za-z0-9._-]+$/.test(name)) throw new UsageError("--name may only hold letters, digits, '.', '_' and '-'");
        o.name = name;
        break;
      }
      case "--server-arg":
        o.serverArgs.push(value());
        break;
      case "--micro":
        o.micro = true;
        break;
      default:
        throw new UsageError(`unknown option "${arg}"; see npm run bench -- --help`);
    }
  }
  return o;
}

/** hookline serve flags implied by the options (beyond port, data dir, workers). */
export function serverFlags(o: BenchOptions): string[] {
  return [
    ...(o.maxInFlight === undefined ? [] : ["--default-max-in-flight", String(o.maxInFlight)]),
    ...(o.workerBatch === undefined ? [] : ["--worker-batch", String(o.workerBatch)]),
    "--sqlite-sync",
    o.sqliteSync,
    ...o.serverArgs,
  ];
}
