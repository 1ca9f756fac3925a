import { createRequire } from "node:module";
import { Worker } from "node:worker_threads";

export interface CheckpointerOptions {
  dbPath: string;
  /** How often the WAL is copied back into the database file. */
  intervalMs: number;
  /** A checkpoint failed (disk full, I/O error): the next one tries again. */
  onError: (message: string) => void;
}

/**
 * The worker's whole program. It is plain CommonJS run with `eval`, so that it loads the same
 * way from the compiled package, from sources under tsx and inside the test runner.
 */
const PROGRAM = `
const { parentPort, workerData } = require("node:worker_threads");
const Database = require(workerData.betterSqlite3);
const db = new Database(workerData.dbPath, { fileMustExist: true });
db.pragma("busy_timeout = 0");
const timer = setInterval(() => {
  try {
    db.pragma("wal_checkpoint(PASSIVE)");
  } catch (err) {
    parentPort.postMessage({ error: String(err && err.message || err) });
  }
}, workerData.intervalMs);
parentPort.on("message", () => {
  clearInterval(timer);
  db.close();
  parentPort.close();
});
`;

/**
 * Copies the WAL back into the database file from a worker thread with a connection of its
 * own. SQLite would otherwise do it inside a commit on the thread that serves requests, once
 * the WAL passes its auto-checkpoint size, blocking that thread for the copy and two fsyncs.
 * PASSIVE checkpoints never wait for readers or writers: they copy what they can, and the
 * next commit starts the WAL over once everything is copied.
 */
export class Checkpointer {
  private readonly worker: Worker;
  private readonly exited: Promise<void>;

  constructor(o: CheckpointerOptions) {
    const betterSqlite3 = createRequire(import.meta.url).resolve("better-sqlite3");
    this.worker = new Worker(PROGRAM, { eval: true, workerData: { dbPath: o.dbPath, intervalMs: o.intervalMs, betterSqlite3 } });
    this.worker.on("message", (m: { error?: string }) => {
      if (m.error !== undefined) o.onError(m.error);
    });
    this.worker.on("error", (err) => o.onError(err.message));
    this.exited = new Promise((resolve) => this.worker.once("exit", () => resolve()));
    this.worker.unref();
  }

  /** Stops checkpointing and closes the worker's connection. */
  async close(): Promise<void> {
    // Held until it has closed: an unreferenced worker would let the process end first.
    this.worker.ref();
    this.worker.postMessage("close");
    await this.exited;
  }
}
