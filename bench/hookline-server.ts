/** Starts `hookline serve` as its own process and reads what the bench needs from it. */
import { randomBytes } from "node:crypto";
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { startNats, type NatsServer } from "../test/helpers/nats.ts";
import type { HooklineApi } from "./lib/api-transport.ts";
import { spawnJsonChild, type JsonChild } from "./lib/child.ts";
import { requestText } from "./lib/http-json.ts";

export interface HooklineProcess extends HooklineApi {
  readonly child: JsonChild;
  readonly port: number;
  readonly dataDir: string;
  /** Log lines at warn level or above (pino levels 40+), for the report. */
  readonly warnings: string[];
  /** Main-thread event-loop delay, one sample per second (from bench/lib/loop-monitor.mjs). */
  readonly loopDelay: LoopDelaySample[];
  metrics(): Promise<Map<string, number>>;
  /** SIGTERM (graceful stop), then removes the data dir. */
  stop(): Promise<number | null>;
}

export interface LoopDelaySample {
  atMs: number;
  mean: number;
  p50: number;
  p99: number;
  max: number;
}

export interface HooklineOptions {
  root: string;
  workers: number | undefined;
  extraArgs: readonly string[];
  backend: "sqlite" | "jetstream";
  /** Write a V8 CPU profile of the server into this directory. */
  cpuProfileDir?: string;
}

export async function startHookline(o: HooklineOptions): Promise<HooklineProcess> {
  const dataDir = mkdtempSync(join(tmpdir(), "hookline-bench-"));
  // JetStream: a fresh nats-server per run on loopback, so runs do not share streams.
  // It runs the nats-server scripts/ensure-nats-server.sh builds (durable: sync_interval always).
  if (o.backend === "jetstream" && spawnSync("bash", [join(o.root, "scripts/ensure-nats-server.sh")], { stdio: "inherit" }).status !== 0) {
    throw new Error("nats-server is not available: run `bash scripts/ensure-nats-server.sh`");
  }
  const nats: NatsServer | undefined = o.backend === "jetstream" ? await startNats() : undefined;
  // A fresh admin key per run: the bench's clients send it, nothing else knows it.
  const apiKey = randomBytes(32).toString("base64url");
  const args = [
    ...(o.cpuProfileDir ? ["--cpu-prof", "--cpu-prof-dir", o.cpuProfileDir] : []),
    "--import",
    join(o.root, "bench/lib/loop-monitor.mjs"),
    join(o.root, "bin/hookline.js"),
    "serve",
    "--port",
    "0",
    "--data-dir",
    dataDir,
    "--allow-private-targets",
    "--shutdown-grace",
    "3s",
    "--admin-key",
    apiKey,
    ...(o.workers === undefined ? [] : ["--workers", String(o.workers)]),
    ...(nats ? ["--nats", nats.url] : []),
    ...o.extraArgs,
  ];
  const child = spawnJsonChild("hookline", args, { cwd: o.root, env: { HOOKLINE_LOG_LEVEL: "info" } });
  const warnings: string[] = [];
  const loopDelay: LoopDelaySample[] = [];
  child.onMessage((m) => {
    if (typeof m.level === "number" && m.level >= 40 && warnings.length < 50) {
      const err = m.err as { message?: string } | undefined;
      warnings.push(err?.message ? `${String(m.msg)}: ${err.message}` : String(m.msg));
    }
    if (m.bench === "event-loop-delay" && loopDelay.length < 3600)
      loopDelay.push({ atMs: Date.now(), mean: Number(m.mean), p50: Number(m.p50), p99: Number(m.p99), max: Number(m.max) });
  });
  const ready = await child.waitFor((m) => m.msg === "hookline listening", 30_000, '"hookline listening"').catch(async (err: unknown) => {
    await child.stop("SIGKILL");
    await nats?.stop();
    rmSync(dataDir, { recursive: true, force: true });
    throw err;
  });
  const port = ready.port as number;
  const baseUrl = `http://127.0.0.1:${port}`;
  return {
    child,
    port,
    baseUrl,
    apiKey,
    dataDir,
    warnings,
    loopDelay,
    async metrics() {
      // Not fetch(): its idle keep-alive connection would make hookline's shutdown wait out the grace period.
      const text = await requestText(port, "GET", "/metrics");
      const values = new Map<string, number>();
      for (const line of text.split("\n")) {
        if (line.startsWith("#") || line === "") continue;
        const space = line.lastIndexOf(" ");
        values.set(line.slice(0, space), Number(line.slice(space + 1)));
      }
      return values;
    },
    async stop() {
      const code = await child.stop("SIGTERM", 15_000);
      await nats?.stop();
      rmSync(dataDir, { recursive: true, force: true });
      return code;
    },
  };
}
