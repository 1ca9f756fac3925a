import { pino, type DestinationStream, type Logger } from "pino";
import type { LogFormat, LogLevel } from "../config/config.ts";

export type { Logger };

/** Logs on stdout, one line per event: JSON for machines (the default), or pretty for a terminal. */
export function createLogger(level: LogLevel, format: LogFormat = "json"): Logger {
  const options = { level, base: { service: "hookline" }, timestamp: pino.stdTimeFunctions.isoTime };
  if (format === "json") return pino(options);
  // pino writes each line synchronously; this reformats it on the way out.
  const stdout = pino.destination({ dest: 1, sync: true });
  const pretty: DestinationStream = { write: (line) => void stdout.write(prettyLine(line)) };
  return pino(options, pretty);
}

const LEVEL_NAMES: Record<number, string> = { 10: "TRACE", 20: "DEBUG", 30: "INFO", 40: "WARN", 50: "ERROR", 60: "FATAL" };
const OMITTED = new Set(["time", "level", "msg", "service"]);

/** One JSON log line as `time LEVEL msg key=value ...` on a single line. */
export function prettyLine(json: string): string {
  let entry: Record<string, unknown>;
  try {
    entry = JSON.parse(json) as Record<string, unknown>;
  } catch {
    return json;
  }
  const level = LEVEL_NAMES[entry.level as number] ?? String(entry.level);
  const parts = [String(entry.time ?? ""), level.padEnd(5), String(entry.msg ?? "")];
  for (const [key, value] of Object.entries(entry)) {
    if (OMITTED.has(key) || value === undefined) continue;
    parts.push(`${key}=${prettyValue(key, value)}`);
  }
  return `${parts.join(" ")}\n`;
}

function prettyValue(key: string, value: unknown): string {
  // Serialized errors carry a multi-line stack: the message keeps the line single.
  if (key === "err" && typeof value === "object" && value !== null && "message" in value) {
    return JSON.stringify(String((value as { message: unknown }).message));
  }
  if (typeof value === "string") return /^[^\s"=]+$/.test(value) ? value : JSON.stringify(value);
  return JSON.stringify(value);
}
