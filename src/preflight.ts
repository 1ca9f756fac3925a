import { accessSync, constants, mkdirSync, statSync } from "node:fs";
import net from "node:net";
import { dirname, resolve } from "node:path";

/** Start-up cannot go on; the message is one line that names the fix. */
export class StartupError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "StartupError";
  }
}

/**
 * Fails fast when the port is taken, before anything is created on disk. (A probe, not a
 * reservation: the real listener binds moments later, and reports a race the same way.)
 */
export async function checkPortFree(host: string, port: number): Promise<void> {
  if (port === 0) return;
  await new Promise<void>((resolveProbe, reject) => {
    const probe = net.createServer();
    probe.once("error", (err: NodeJS.ErrnoException) => reject(portError(err, host, port)));
    probe.listen({ host, port, exclusive: true }, () => probe.close(() => resolveProbe()));
  });
}

export function portError(err: NodeJS.ErrnoException, host: string, port: number): Error {
  switch (err.code) {
    case "EADDRINUSE":
      return new StartupError(`port ${port} on ${host} is in use by another process; stop it or pick another port with --port`);
    case "EACCES":
      return new StartupError(`not allowed to listen on port ${port} on ${host}; use a port above 1023 with --port, or grant the capability`);
    case "EADDRNOTAVAIL":
      return new StartupError(`${host} is not an address of this machine; fix --host (127.0.0.1 for local only, 0.0.0.0 for all)`);
    default:
      return err;
  }
}

/**
 * Makes sure the data dir exists and is a writable directory, creating missing levels one at
 * a time (Node's recursive mkdir loops forever under /proc). Errors name the directory and the fix.
 */
export function prepareDataDir(dir: string): string {
  const path = resolve(dir);
  const missing: string[] = [];
  let existing = path;
  for (;;) {
    try {
      if (!statSync(existing).isDirectory()) {
        throw new StartupError(`data dir ${path}: ${existing} is not a directory; choose another --data-dir`);
      }
      break;
    } catch (err) {
      if (err instanceof StartupError) throw err;
      const code = (err as NodeJS.ErrnoException).code;
      if (code !== "ENOENT") throw dataDirError(path, existing, err as NodeJS.ErrnoException);
      missing.unshift(existing);
      const parent = dirname(existing);
      if (parent === existing) break;
      existing = parent;
    }
  }
  for (const level of missing) {
    try {
      mkdirSync(level);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== "EEXIST") throw dataDirError(path, level, err as NodeJS.ErrnoException);
    }
  }
  try {
    accessSync(path, constants.W_OK | constants.R_OK | constants.X_OK);
  } catch (err) {
    throw dataDirError(path, path, err as NodeJS.ErrnoException);
  }
  return path;
}

function dataDirError(dataDir: string, at: string, err: NodeJS.ErrnoException): StartupError {
  const fix = "choose another --data-dir";
  switch (err.code) {
    case "EACCES":
    case "EPERM":
      return new StartupError(`data dir ${dataDir}: no permission to use ${at}; fix its owner or permissions, or ${fix}`);
    case "EROFS":
      return new StartupError(`data dir ${dataDir}: ${at} is on a read-only file system; ${fix}`);
    case "ENOSPC":
      return new StartupError(`data dir ${dataDir}: no space left to create ${at}; free space or ${fix}`);
    case "ENOTDIR":
      return new StartupError(`data dir ${dataDir}: a part of ${at} is not a directory; ${fix}`);
    case "ENOENT":
      return new StartupError(`data dir ${dataDir}: cannot create ${at} (this file system does not allow it); ${fix}`);
    default:
      return new StartupError(`data dir ${dataDir}: ${err.code ?? ""} ${err.message}; ${fix}`);
  }
}
