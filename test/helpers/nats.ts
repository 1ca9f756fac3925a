import { spawn, spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { exited } from "./process.ts";

/** A real nats-server with JetStream, on loopback, with its own store dir. */
export interface NatsServer {
  readonly url: string;
  readonly pid: number;
  /** SIGKILL, then wait for the exit. */
  kill(): Promise<void>;
  /** SIGTERM (lame duck skipped), then wait; removes the store dir unless keepData. */
  stop(): Promise<void>;
}

const ROOT = new URL("../../", import.meta.url).pathname;
/** What scripts/ensure-nats-server.sh builds; tests and bench run on this version. */
const PROJECT_SERVER = join(ROOT, ".tools/bin/nats-server");
const WANTED_VERSION = "v2.15.2";
const FIX = "run `bash scripts/ensure-nats-server.sh` (builds nats-server " + WANTED_VERSION + " into .tools/bin)";

function versionOf(binary: string): string {
  const out = spawnSync(binary, ["--version"], { encoding: "utf8" });
  return out.status === 0 ? out.stdout.trim().replace(/^nats-server:\s*/, "") : "";
}

let chosen: string | undefined;

/**
 * The nats-server binary: the project's .tools/bin/nats-server, else one on PATH at the same
 * version. Missing (or another version under CI) is a test failure with the fix; `npm test`
 * and .ci/run build it first (scripts/ensure-nats-server.sh).
 */
export function natsServerBinary(): string {
  if (chosen) return chosen;
  if (existsSync(PROJECT_SERVER) && versionOf(PROJECT_SERVER) === WANTED_VERSION) return (chosen = PROJECT_SERVER);
  const onPath = spawnSync("sh", ["-c", "command -v nats-server"], { encoding: "utf8" });
  const found = onPath.status === 0 ? onPath.stdout.trim() : "";
  if (found === "") throw new Error(`nats-server ${WANTED_VERSION} is not installed: ${FIX}`);
  const version = versionOf(found);
  if (version !== WANTED_VERSION && process.env.CI === "true") {
    throw new Error(`nats-server on PATH (${found}) is ${version || "of unknown version"}, tests need ${WANTED_VERSION}: ${FIX}`);
  }
  return (chosen = found);
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

/** PEM files; with caFile set, clients must present a certificate signed by it. */
export interface NatsTls {
  certFile: string;
  keyFile: string;
  caFile?: string;
}

interface NodeOptions {
  name: string;
  port: number;
  storeDir: string;
  cluster?: { port: number; routes: number[] };
  tls?: NatsTls;
  /** Extra config lines, e.g. operator-mode auth (see nats-auth.ts). */
  config?: string[];
}

async function startNode(o: NodeOptions): Promise<NatsServer> {
  const lines = [
    `server_name: ${o.name}`,
    `listen: 127.0.0.1:${o.port}`,
    // Durable like production should be: every acknowledged write is fsynced first.
    `jetstream { store_dir: "${o.storeDir}", sync_interval: always }`,
  ];
  lines.push(...(o.config ?? []));
  if (o.tls) {
    const { certFile, keyFile, caFile } = o.tls;
    lines.push(`tls { cert_file: "${certFile}", key_file: "${keyFile}"${caFile ? `, ca_file: "${caFile}", verify: true` : ""} }`);
  }
  if (o.cluster) {
    lines.push(
      `cluster { name: hookline_test, listen: 127.0.0.1:${o.cluster.port}, routes: [${o.cluster.routes.map((p) => `nats-route://127.0.0.1:${p}`).join(", ")}] }`,
    );
  }
  const configFile = join(o.storeDir, "nats.conf");
  writeFileSync(configFile, lines.join("\n") + "\n");
  const child = spawn(natsServerBinary(), ["-c", configFile], { stdio: ["ignore", "ignore", "pipe"] });
  let log = "";
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`nats-server did not start in 15s: ${log}`)), 15_000);
    child.stderr?.on("data", (c: Buffer) => {
      log += c.toString();
      if (log.includes("Server is ready")) {
        clearTimeout(timer);
        resolve();
      }
    });
    child.once("exit", (code) => {
      clearTimeout(timer);
      reject(new Error(`nats-server exited with ${code}: ${log}`));
    });
  });
  child.stderr?.removeAllListeners("data");
  child.stderr?.resume();
  return {
    url: `${o.tls ? "tls" : "nats"}://127.0.0.1:${o.port}`,
    pid: child.pid as number,
    async kill() {
      child.kill("SIGKILL");
      await exited(child);
    },
    async stop() {
      child.kill("SIGTERM");
      await exited(child);
    },
  };
}

/** One nats-server with JetStream on a random port; stop() also removes its store. */
export async function startNats(options: { tls?: NatsTls; config?: string[] } = {}): Promise<NatsServer> {
  const storeDir = mkdtempSync(join(tmpdir(), "hookline-nats-"));
  const node = await startNode({ name: "n1", port: await freePort(), storeDir, ...options });
  return {
    ...node,
    async stop() {
      await node.stop();
      rmSync(storeDir, { recursive: true, force: true });
    },
  };
}

/** A three-node JetStream cluster on loopback. */
export interface NatsCluster {
  readonly nodes: NatsServer[];
  /** All client URLs, comma-separated, as --nats takes them (held-back nodes included). */
  readonly urls: string;
  /** Starts the nodes held back with `heldBack`; they join the running ones. */
  startHeldBack(): Promise<void>;
  stop(): Promise<void>;
}

/**
 * `heldBack` nodes are configured (the others route to them) but not started until
 * startHeldBack(): a cluster that is still forming, as hookline meets one in a fresh deploy.
 */
export async function startNatsCluster(size = 3, options: { heldBack?: number } = {}): Promise<NatsCluster> {
  const ports = await Promise.all(Array.from({ length: size }, async () => ({ client: await freePort(), route: await freePort() })));
  const dirs = ports.map(() => mkdtempSync(join(tmpdir(), "hookline-nats-")));
  const start = (i: number): Promise<NatsServer> =>
    startNode({
      name: `n${i + 1}`,
      port: ports[i]!.client,
      storeDir: dirs[i] as string,
      cluster: { port: ports[i]!.route, routes: ports.filter((_, j) => j !== i).map((q) => q.route) },
    });
  const running = size - (options.heldBack ?? 0);
  const nodes = await Promise.all(ports.slice(0, running).map((_, i) => start(i)));
  return {
    nodes,
    urls: ports.map((p) => `nats://127.0.0.1:${p.client}`).join(","),
    async startHeldBack() {
      nodes.push(...(await Promise.all(ports.slice(nodes.length).map((_, k) => start(nodes.length + k)))));
    },
    async stop() {
      await Promise.all(nodes.map((n) => n.stop()));
      for (const d of dirs) rmSync(d, { recursive: true, force: true });
    },
  };
}
