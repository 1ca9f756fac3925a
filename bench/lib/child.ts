import { spawn, type ChildProcess } from "node:child_process";
import { createInterface } from "node:readline";

/** Every child this process started, so an interrupted run leaves none behind. */
const live = new Set<ChildProcess>();
let cleanupInstalled = false;

function installCleanup(): void {
  if (cleanupInstalled) return;
  cleanupInstalled = true;
  process.on("exit", () => {
    for (const child of live) child.kill("SIGKILL");
  });
  for (const signal of ["SIGINT", "SIGTERM"] as const) {
    process.on(signal, () => {
      process.stderr.write(`\nbench: ${signal}, stopping child processes\n`);
      process.exit(130);
    });
  }
}

export type Message = Record<string, unknown>;

/** A child process that speaks JSON lines on stdout (one object per line). */
export interface JsonChild {
  readonly name: string;
  readonly pid: number;
  readonly exited: Promise<number | null>;
  /** undefined while running, then the exit code (null when killed by a signal it did not handle). */
  readonly exitCode: number | null | undefined;
  /** Called for every JSON line. */
  onMessage(listener: (m: Message) => void): void;
  /** The first message (already seen or still to come) that matches, within timeoutMs. */
  waitFor(match: (m: Message) => boolean, timeoutMs: number, what: string): Promise<Message>;
  /** Signal, then SIGKILL after graceMs; resolves when it has exited. */
  stop(signal?: NodeJS.Signals, graceMs?: number): Promise<number | null>;
  stderrTail(): string;
  /** With `deferInput`: hands the child its JSON input now (it was started early to load its modules). */
  sendInput(input: unknown): void;
}

export interface SpawnOptions {
  /** Serialised as JSON on stdin, then stdin is closed. */
  input?: unknown;
  /** Keep stdin open until sendInput(): the child can load its modules meanwhile. */
  deferInput?: boolean;
  env?: Record<string, string>;
  cwd?: string;
}

const TAIL = 4000;

export function spawnJsonChild(name: string, args: readonly string[], options: SpawnOptions = {}): JsonChild {
  installCleanup();
  const child = spawn(process.execPath, args, {
    cwd: options.cwd,
    env: { ...process.env, ...options.env },
    stdio: ["pipe", "pipe", "pipe"],
  });
  live.add(child);
  const seen: Message[] = [];
  const listeners = new Set<(m: Message) => void>();
  let stderr = "";
  child.stderr?.on("data", (c: Buffer) => {
    stderr = (stderr + c.toString()).slice(-TAIL);
  });
  // Always read stdout to the end: a full pipe would stall the child.
  createInterface({ input: child.stdout! }).on("line", (line) => {
    let m: Message;
    try {
      const parsed: unknown = JSON.parse(line);
      m = typeof parsed === "object" && parsed !== null ? (parsed as Message) : { raw: line };
    } catch {
      m = { raw: line };
    }
    if (seen.length < 10_000) seen.push(m);
    for (const l of listeners) l(m);
  });
  child.stdin?.on("error", () => undefined);
  const sendInput = (input: unknown): void => void child.stdin?.end(input === undefined ? "" : JSON.stringify(input));
  if (!options.deferInput) sendInput(options.input);
  let exitCode: number | null | undefined;
  const exited = new Promise<number | null>((resolve) => {
    child.once("exit", (code, signal) => {
      live.delete(child);
      exitCode = code ?? (signal ? 128 : null);
      resolve(exitCode);
    });
  });

  return {
    name,
    pid: child.pid ?? -1,
    exited,
    get exitCode() {
      return exitCode;
    },
    onMessage(listener) {
      listeners.add(listener);
    },
    waitFor(match, timeoutMs, what) {
      const found = seen.find(match);
      if (found) return Promise.resolve(found);
      return new Promise((resolve, reject) => {
        const done = (fn: () => void): void => {
          clearTimeout(timer);
          listeners.delete(listener);
          fn();
        };
        const listener = (m: Message): void => {
          if (match(m)) done(() => resolve(m));
        };
        const timer = setTimeout(
          () => done(() => reject(new Error(`${name}: no ${what} within ${timeoutMs} ms; stderr: ${stderr.trim() || "(empty)"}`))),
          timeoutMs,
        );
        listeners.add(listener);
        void exited.then((code) =>
          done(() => reject(new Error(`${name} exited (code ${code}) before ${what}; stderr: ${stderr.trim() || "(empty)"}`))),
        );
      });
    },
    async stop(signal = "SIGTERM", graceMs = 10_000) {
      if (child.exitCode !== null || child.signalCode !== null) return exited;
      child.kill(signal);
      const timer = setTimeout(() => child.kill("SIGKILL"), graceMs);
      const code = await exited;
      clearTimeout(timer);
      return code;
    },
    stderrTail: () => stderr,
    sendInput,
  };
}

/** Reads this process's stdin to the end as JSON (the config a parent passed with `input`). */
export async function readJsonInput<T>(): Promise<T> {
  // Tells a parent that started us early that our modules are loaded.
  send({ type: "waiting" });
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  return JSON.parse(Buffer.concat(chunks).toString("utf8")) as T;
}

/** Writes one JSON line on stdout (the message channel to the parent). */
export function send(message: Message): void {
  process.stdout.write(`${JSON.stringify(message)}\n`);
}

/** Node arguments that run a TypeScript file of this repo. */
export function tsNodeArgs(file: string, extra: readonly string[] = []): string[] {
  return ["--import", "tsx", ...extra, file];
}

/** Long-lived children exit when the orchestrator is gone (even after a SIGKILL). */
export function exitWithParent(): void {
  const parent = process.ppid;
  setInterval(() => {
    if (process.ppid !== parent) process.exit(0);
  }, 1000).unref();
}
