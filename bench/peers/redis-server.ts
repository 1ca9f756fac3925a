/**
 * A redis-server of the bench's own for the BullMQ peer: its own temp dir, a free loopback
 * port, AOF on with fsync once a second (what a team would run BullMQ with), killed by pid
 * when the run ends, also when it fails or is interrupted.
 */
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { freePort } from "../../test/helpers/nats.ts";

export interface RedisServer {
  readonly port: number;
  readonly pid: number;
  readonly version: string;
  /** SIGTERM, SIGKILL after a grace period; removes the data dir. */
  stop(): Promise<void>;
}

const READY_TIMEOUT_MS = 15_000;
const STOP_GRACE_MS = 5_000;

let ensured = false;

/** redis-server on PATH, installed by scripts/ensure-redis.sh where it can; else an error with the fix. */
export function ensureRedisServer(root: string): void {
  if (ensured) return;
  if (spawnSync("bash", [join(root, "scripts/ensure-redis.sh")], { stdio: "inherit" }).status !== 0) {
    throw new Error("redis-server is not available for --peers: install it (apt-get install redis-server) or run `bash scripts/ensure-redis.sh` as root");
  }
  ensured = true;
}

function versionOfRedis(): string {
  const out = spawnSync("redis-server", ["--version"], { encoding: "utf8" });
  return /v=(\S+)/.exec(out.stdout ?? "")?.[1] ?? "unknown";
}

/** Every redis-server this process started (and its dir), so an interrupted run leaves none behind. */
const live = new Map<ChildProcess, string>();
process.on("exit", () => {
  for (const [child, dir] of live) {
    child.kill("SIGKILL");
    rmSync(dir, { recursive: true, force: true });
  }
});

export async function startRedis(): Promise<RedisServer> {
  const dir = mkdtempSync(join(tmpdir(), "hookline-bench-redis-"));
  const port = await freePort();
  const args = [
    "--port", String(port),
    "--bind", "127.0.0.1",
    "--dir", dir,
    "--appendonly", "yes",
    "--appendfsync", "everysec",
    // No RDB snapshots: the AOF is the durability, and a fork mid-run would skew the figures.
    "--save", "",
    // BullMQ's requirement: never evict keys.
    "--maxmemory-policy", "noeviction",
    "--daemonize", "no",
    "--logfile", "",
  ];
  const child = spawn("redis-server", args, { stdio: ["ignore", "pipe", "pipe"] });
  live.set(child, dir);
  let output = "";
  const exited = new Promise<void>((resolve) => child.once("exit", () => {
    live.delete(child);
    resolve();
  }));
  const kill = async (): Promise<void> => {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill("SIGTERM");
      const timer = setTimeout(() => child.kill("SIGKILL"), STOP_GRACE_MS);
      await exited;
      clearTimeout(timer);
    }
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`redis-server did not get ready within ${READY_TIMEOUT_MS} ms: ${output.slice(-2000)}`)), READY_TIMEOUT_MS);
      const onData = (c: Buffer): void => {
        output = (output + c.toString()).slice(-8000);
        if (output.includes("Ready to accept connections")) {
          clearTimeout(timer);
          resolve();
        }
      };
      child.stdout?.on("data", onData);
      child.stderr?.on("data", onData);
      child.once("error", (err) => {
        clearTimeout(timer);
        reject(new Error(`redis-server did not start: ${err.message}`));
      });
      void exited.then(() => {
        clearTimeout(timer);
        reject(new Error(`redis-server exited while starting: ${output.slice(-2000)}`));
      });
    });
  } catch (err) {
    await kill();
    throw err;
  }
  // Keep reading its output so a full pipe never stalls it.
  child.stdout?.resume();
  child.stderr?.resume();
  return { port, pid: child.pid ?? -1, version: versionOfRedis(), stop: kill };
}
