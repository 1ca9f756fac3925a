import { readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import Database from "better-sqlite3";
import { StartupError } from "../../preflight.ts";

/** Another process holds the data dir. */
export class DataDirLockedError extends StartupError {
  constructor(readonly dataDir: string, readonly ownerPid: number | undefined) {
    super(
      `data dir ${dataDir} is in use by another hookline process (${ownerPid === undefined ? "pid unknown" : `pid ${ownerPid}`}); stop it or pick another --data-dir`,
    );
    this.name = "DataDirLockedError";
  }
}

/**
 * One hookline process per data dir. The lock is an exclusive SQLite lock (POSIX fcntl) on
 * `hookline.lock`, held for the life of the process: the kernel drops it when the holder
 * exits in any way, kill -9 included, so there is no stale lock to judge and no pid that
 * could have been reused. `hookline.pid` only names the holder in the refusal.
 */
export class DataDirLock {
  private constructor(
    private readonly db: Database.Database,
    private readonly pidFile: string,
  ) {}

  static acquire(dataDir: string): DataDirLock {
    const db = new Database(join(dataDir, "hookline.lock"));
    const pidFile = join(dataDir, "hookline.pid");
    try {
      db.pragma("busy_timeout = 0");
      db.pragma("journal_mode = DELETE");
      db.pragma("locking_mode = EXCLUSIVE");
      // The first write takes the EXCLUSIVE lock; in this locking mode it is kept until close.
      db.exec("BEGIN EXCLUSIVE");
      db.exec("CREATE TABLE IF NOT EXISTS holder (pid INTEGER NOT NULL, since_ms INTEGER NOT NULL)");
      db.exec("DELETE FROM holder");
      db.prepare("INSERT INTO holder (pid, since_ms) VALUES (?, ?)").run(process.pid, Date.now());
      db.exec("COMMIT");
    } catch (err) {
      db.close();
      if ((err as { code?: string }).code === "SQLITE_BUSY") throw new DataDirLockedError(dataDir, readPid(pidFile));
      throw err;
    }
    writeFileSync(pidFile, `${process.pid}\n`);
    return new DataDirLock(db, pidFile);
  }

  release(): void {
    if (!this.db.open) return;
    if (readPid(this.pidFile) === process.pid) rmSync(this.pidFile, { force: true });
    this.db.close();
  }
}

function readPid(file: string): number | undefined {
  try {
    const pid = Number(readFileSync(file, "utf8").trim());
    return Number.isInteger(pid) && pid > 0 ? pid : undefined;
  } catch {
    return undefined;
  }
}
