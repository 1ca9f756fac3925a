import { spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { startNats, type NatsServer } from "./nats.ts";
import { TEST_ADMIN_KEY } from "./auth.ts";
import { exited } from "./process.ts";

const ROOT = new URL("../../", import.meta.url).pathname;

export interface ServerProcess {
  readonly port: number;
  readonly baseUrl: string;
  readonly dataDir: string;
  readonly pid: number;
  /** The backend it runs on; for "jetstream", the NATS URL(s) it uses. */
  readonly backend: Backend;
  readonly natsUrl: string;
  /** Every log line the server wrote (JSON objects where parsable). */
  readonly logs: Record<string, unknown>[];
  /** What the server wrote to stderr so far. */
  stderr(): string;
  /** SIGTERM and wait for exit; returns the exit code. */
  stop(): Promise<number | null>;
  /** SIGKILL and wait for exit. */
  kill(): Promise<void>;
  /** Removes the data dir (after stop/kill). */
  cleanup(): void;
}

export type Backend = "sqlite" | "jetstream";

/** The backend e2e tests run on: the vitest project sets HOOKLINE_TEST_BACKEND. */
export function testBackend(): Backend {
  return process.env.HOOKLINE_TEST_BACKEND === "jetstream" ? "jetstream" : "sqlite";
}

export interface StartOptions {
  dataDir?: string;
  /** Defaults to testBackend(). With "jetstream" and no natsUrl, a nats-server of its own is started (and stopped with it). */
  backend?: Backend;
  natsUrl?: string;
  args?: string[];
  env?: Record<string, string>;
  /** Defaults to true: tests deliver to receivers on 127.0.0.1. */
  allowPrivateTargets?: boolean;
  /** --admin-key; defaults to TEST_ADMIN_KEY, "" starts without one. */
  adminKey?: string;
  /** An installed `hookline` executable to run instead of this repo's bin/hookline.js. */
  bin?: string;
  /** Working directory of the server; defaults to the repo root. */
  cwd?: string;
}

export function tempDir(prefix = "hookline-test-"): string {
  return mkdtempSync(join(tmpdir(), prefix));
}

/** Starts `hookline serve` as a real process on a random port and waits until it listens. */
export async function startServer(options: StartOptions = {}): Promise<ServerProcess> {
  const dataDir = options.dataDir ?? tempDir();
  const backend = options.backend ?? testBackend();
  let ownNats: NatsServer | undefined;
  let natsUrl = options.natsUrl ?? "";
  if (backend === "jetstream" && natsUrl === "") {
    ownNats = await startNats();
    natsUrl = ownNats.url;
  }
  const args = [join(ROOT, "bin/hookline.js"), "serve", "--port", "0", "--data-dir", dataDir, "--shutdown-grace", "2s"];
  if (backend === "jetstream") args.push("--nats", natsUrl);
  if (options.allowPrivateTargets !== false) args.push("--allow-private-targets");
  const adminKey = options.adminKey ?? TEST_ADMIN_KEY;
  if (adminKey !== "") args.push("--admin-key", adminKey);
  args.push(...(options.args ?? []));
  const [command, commandArgs] = options.bin === undefined ? [process.execPath, args] : [options.bin, args.slice(1)];
  const child = spawn(command, commandArgs, {
    cwd: options.cwd ?? ROOT,
    env: { ...process.env, HOOKLINE_LOG_LEVEL: "info", ...options.env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  const logs: Record<string, unknown>[] = [];
  let stderr = "";
  child.stderr?.on("data", (c: Buffer) => (stderr += c.toString()));
  const listening = new Promise<number>((resolve, reject) => {
    // Long enough for a replicated JetStream set-up on a busy machine (the server allows 30 s a step).
    const timer = setTimeout(() => reject(new Error(`hookline did not start in 45s; stderr: ${stderr}`)), 45_000);
    const lines = createInterface({ input: child.stdout! });
    lines.on("line", (line) => {
      let entry: Record<string, unknown>;
      try {
        entry = JSON.parse(line) as Record<string, unknown>;
      } catch {
        entry = { raw: line };
      }
      logs.push(entry);
      if (entry.msg === "hookline listening") {
        clearTimeout(timer);
        resolve(entry.port as number);
      }
    });
    child.once("exit", (code) => {
      clearTimeout(timer);
      reject(new Error(`hookline exited with ${code} before listening; stderr: ${stderr}; logs: ${JSON.stringify(logs)}`));
    });
  });
  let port: number;
  try {
    port = await listening;
  } catch (err) {
    await ownNats?.stop();
    throw err;
  }
  return {
    port,
    baseUrl: `http://127.0.0.1:${port}`,
    dataDir,
    pid: child.pid as number,
    backend,
    natsUrl,
    logs,
    stderr: () => stderr,
    async stop() {
      child.kill("SIGTERM");
      const code = await exited(child);
      await ownNats?.stop();
      return code;
    },
    async kill() {
      child.kill("SIGKILL");
      await exited(child);
    },
    cleanup() {
      void ownNats?.stop();
      if (options.dataDir === undefined) rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

/**
 * Runs `hookline <args>` to completion (for start-up failures, CLI commands), with the test
 * admin key unless env says otherwise, and `stdin` as its input when given.
 */
export function runCli(
  args: string[],
  env: Record<string, string> = {},
  stdin?: string,
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [join(ROOT, "bin/hookline.js"), ...args], {
      cwd: ROOT,
      env: { ...process.env, HOOKLINE_API_KEY: TEST_ADMIN_KEY, ...env },
      stdio: [stdin === undefined ? "ignore" : "pipe", "pipe", "pipe"],
    });
    let stdout = "";
    let stderr = "";
    child.stdout?.on("data", (c: Buffer) => (stdout += c.toString()));
    child.stderr?.on("data", (c: Buffer) => (stderr += c.toString()));
    child.stdin?.end(stdin);
    const timer = setTimeout(() => child.kill("SIGKILL"), 20_000);
    child.on("exit", (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}
