import type { Logger } from "./logger.ts";

export interface RateLimitOptions {
  /** Lines of one kind written per window; the rest are counted. */
  perWindow: number;
  windowMs: number;
  now?: () => number;
}

type Level = "info" | "warn" | "error";

interface Window {
  startMs: number;
  written: number;
  suppressed: number;
  level: Level;
  timer: NodeJS.Timeout | undefined;
}

/**
 * Operational log lines that an incident repeats (a dead-letter per delivery, a breaker per
 * endpoint): each kind writes at most `perWindow` lines per window, then counts; when the
 * window ends, one line says how many of that kind were left out.
 */
export class RateLimitedLog {
  private readonly windows = new Map<string, Window>();
  private readonly now: () => number;

  constructor(
    private readonly logger: Logger,
    private readonly o: RateLimitOptions = { perWindow: 10, windowMs: 10_000 },
  ) {
    this.now = o.now ?? Date.now;
  }

  info(kind: string, fields: Record<string, unknown>, msg: string): void {
    this.write("info", kind, fields, msg);
  }

  warn(kind: string, fields: Record<string, unknown>, msg: string): void {
    this.write("warn", kind, fields, msg);
  }

  error(kind: string, fields: Record<string, unknown>, msg: string): void {
    this.write("error", kind, fields, msg);
  }

  /** Writes the pending summaries now (at shutdown). */
  flush(): void {
    for (const kind of [...this.windows.keys()]) this.close(kind);
  }

  private write(level: Level, kind: string, fields: Record<string, unknown>, msg: string): void {
    const now = this.now();
    let w = this.windows.get(kind);
    if (w && now - w.startMs >= this.o.windowMs) {
      this.close(kind);
      w = undefined;
    }
    if (!w) {
      w = { startMs: now, written: 0, suppressed: 0, level, timer: undefined };
      this.windows.set(kind, w);
    }
    if (w.written < this.o.perWindow) {
      w.written++;
      this.logger[level]({ ...fields, kind }, msg);
      return;
    }
    w.suppressed++;
    if (level === "error" || (level === "warn" && w.level === "info")) w.level = level;
    // The summary must come even if this kind never logs again.
    w.timer ??= setTimeout(() => this.close(kind), Math.max(0, w.startMs + this.o.windowMs - now)).unref();
  }

  private close(kind: string): void {
    const w = this.windows.get(kind);
    if (!w) return;
    this.windows.delete(kind);
    if (w.timer) clearTimeout(w.timer);
    if (w.suppressed > 0) {
      this.logger[w.level]({ kind, suppressed: w.suppressed, windowMs: this.o.windowMs }, `${w.suppressed} more "${kind}" lines suppressed`);
    }
  }
}
