import { HooklineError } from "../core/errors.ts";
import type { Logger } from "../observability/logger.ts";
import type { Store } from "./store.ts";

/** Store methods that write. */
const WRITES = new Set<keyof Store>([
  "createTenant",
  "updateTenant",
  "deleteTenant",
  "createEndpoint",
  "updateEndpoint",
  "deleteEndpoint",
  "publish",
  "retryDelivery",
  "replayDeliveries",
  "claim",
  "complete",
  "releaseLeases",
  "expireIdempotencyKeys",
  "probeWrite",
]);

const PROBE_EVERY_MS = 1000;

/** A write that failed for want of space (SQLite reports SQLITE_FULL; the OS, ENOSPC). */
export function isDiskFull(err: unknown): boolean {
  const code = (err as { code?: unknown } | null)?.code;
  return code === "SQLITE_FULL" || code === "ENOSPC";
}

export interface WriteGuardOptions {
  /** Where the store writes, named in the error. */
  location: string;
  logger: Logger;
  /** The store cannot write (the reason), or can again (undefined). */
  onProblem(problem: string | undefined): void;
}

/**
 * Wraps a store so a full disk is an answer, not an INTERNAL: the write fails with
 * RESOURCE_EXHAUSTED naming the cause, the server reports NOT_SERVING, and a small probe
 * write every second finds out when space is back (as does any write that succeeds).
 */
export class WriteGuard {
  readonly store: Store;
  private problem: string | undefined;
  private probe: NodeJS.Timeout | undefined;

  constructor(
    inner: Store,
    private readonly o: WriteGuardOptions,
  ) {
    this.store = new Proxy(inner, {
      get: (target, key, receiver) => {
        const value = Reflect.get(target, key, receiver) as unknown;
        if (typeof value !== "function" || !WRITES.has(key as keyof Store)) return value;
        return async (...args: unknown[]) => {
          try {
            const result = await (value as (...a: unknown[]) => Promise<unknown>).apply(target, args);
            this.written();
            return result;
          } catch (err) {
            if (!isDiskFull(err)) throw err;
            throw this.full(err);
          }
        };
      },
    });
  }

  /** Stops probing (shutdown). */
  close(): void {
    if (this.probe) clearInterval(this.probe);
    this.probe = undefined;
  }

  private full(err: unknown): HooklineError {
    const code = (err as { code?: string }).code ?? "ENOSPC";
    const message = `disk full at ${this.o.location}: the store cannot write (${code}); free space to resume`;
    if (this.problem === undefined) {
      this.problem = message;
      this.o.logger.error({ err }, `${message}; reporting NOT_SERVING until a write succeeds`);
      this.o.onProblem(message);
      this.probe = setInterval(() => {
        this.store.probeWrite?.().catch(() => undefined);
      }, PROBE_EVERY_MS);
      this.probe.unref();
    }
    return new HooklineError("resource_exhausted", message);
  }

  private written(): void {
    if (this.problem === undefined) return;
    this.problem = undefined;
    this.close();
    this.o.logger.info("store writes again: serving");
    this.o.onProblem(undefined);
  }
}
