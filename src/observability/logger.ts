import { pino, type Logger } from "pino";
import type { LogLevel } from "../config/config.ts";

export type { Logger };

/** JSON logs on stdout; one line per event, machine-readable first. */
export function createLogger(level: LogLevel): Logger {
  return pino({ level, base: { service: "hookline" }, timestamp: pino.stdTimeFunctions.isoTime });
}
