import { open } from "node:fs/promises";

/**
 * Makes committed WAL transactions durable with an fsync on the libuv thread pool, so that
 * the thread serving requests never waits on the disk. Transactions committed under
 * `synchronous = NORMAL` have their frames written to the WAL file but not synced; a sync
 * that starts after a commit returned covers it, since fsync flushes the whole file (header
 * and frames alike). Concurrent callers share syncs: while one is running, everyone who asks
 * waits for the next, which starts as soon as it ends — one fsync per group of commits.
 */
export class WalSync {
  private running: Promise<void> | undefined;
  private next: Promise<void> | undefined;

  constructor(
    private readonly walPath: string,
    /** Synced instead when the WAL file is gone (its content then lives in the database file). */
    private readonly dbPath: string,
    private readonly fsync: (path: string) => Promise<void> = fsyncFile,
  ) {}

  /** Resolves once every transaction committed before the call is on disk. */
  sync(): Promise<void> {
    if (!this.running) return this.start();
    this.next ??= this.running.then(
      () => this.start(),
      () => this.start(),
    );
    return this.next;
  }

  private start(): Promise<void> {
    this.next = undefined;
    const run = this.fsync(this.walPath).catch(async (err: NodeJS.ErrnoException) => {
      if (err.code !== "ENOENT") throw err;
      await this.fsync(this.dbPath);
    });
    this.running = run;
    const clear = (): void => {
      if (this.running === run) this.running = undefined;
    };
    run.then(clear, clear);
    return run;
  }
}

export async function fsyncFile(path: string): Promise<void> {
  const handle = await open(path, "r");
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}
