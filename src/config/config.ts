import { readFileSync } from "node:fs";

/** hookline's whole configuration, after defaults < config file < HOOKLINE_* env < flags. */
export interface Config {
  host: string;
  port: number;
  dataDir: string;
  logLevel: LogLevel;
  logFormat: LogFormat;
  allowPrivateTargets: boolean;
  /** Delivery worker threads; 0 sends from the main thread. */
  workers: number;
  /** Deliveries handed to a worker per task. */
  workerBatch: number;
  maxBatchEvents: number;
  maxPayloadBytes: number;
  /** Largest encoded request message; bigger ones are refused before decoding. */
  maxRequestBytes: number;
  /** A connection with no open request or stream is closed after this long. */
  idleTimeoutMs: number;
  /** Time a new connection gets for its TLS handshake and first request headers. */
  headerTimeoutMs: number;
  /** Open client connections; more are closed as soon as they are accepted. */
  maxConnections: number;
  /** PEM certificate (chain) and key; when set, the port speaks TLS only. */
  tlsCertFile: string;
  tlsKeyFile: string;
  idempotencyWindowMs: number;
  defaultTimeoutMs: number;
  defaultMaxInFlight: number;
  /** Events waiting for a commit before new publishes get RESOURCE_EXHAUSTED. */
  maxPendingEvents: number;
  shutdownGraceMs: number;
  breakerThreshold: number;
  breakerCooldownMs: number;
  autoDisableAfterMs: number;
  sqliteSync: "full" | "normal";
  /** NATS server URL(s), comma-separated; empty = embedded SQLite store. */
  natsUrl: string;
  natsCredsFile: string;
  natsTlsCaFile: string;
  natsTlsCertFile: string;
  natsTlsKeyFile: string;
  /** Replicas of the streams and buckets hookline creates (1, or 3 on a cluster). */
  natsReplicas: number;
  /** The operator's admin API key; empty = only stored keys (the first start creates one). */
  adminKey: string;
  /** How long an API key lookup is trusted: a revoked key stops working within this time. */
  apiKeyCacheMs: number;
  /** WatchDeliveries streams open at once per caller. */
  maxWatchersPerKey: number;
  /** Changes a WatchDeliveries stream may leave unread before it is dropped. */
  watcherBuffer: number;
  natsAckWaitMs: number;
  /** Events, deliveries and attempts older than this are pruned; 0 keeps them forever. */
  retentionMs: number;
  /** Time between retention sweeps. */
  retentionIntervalMs: number;
}

export type LogFormat = "json" | "pretty";

export type LogLevel = "trace" | "debug" | "info" | "warn" | "error" | "fatal" | "silent";

/** A setting that cannot be used; start-up prints it and exits with code 2. */
export class ConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "ConfigError";
  }
}

type Parser<T> = (raw: string) => T;

interface Setting<K extends keyof Config> {
  key: K;
  flag: string;
  env: string;
  parse: Parser<Config[K]>;
  help: string;
}

const LOG_LEVELS: readonly LogLevel[] = ["trace", "debug", "info", "warn", "error", "fatal", "silent"];

function integer(min: number, max: number): Parser<number> {
  return (raw) => {
    if (!/^-?\d+$/.test(raw.trim())) throw new Error(`must be a whole number from ${min} to ${max}`);
    const n = Number(raw);
    if (n < min || n > max) throw new Error(`must be a whole number from ${min} to ${max}`);
    return n;
  };
}

const UNITS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };

/** "500ms", "15s", "24h", "7d", or plain milliseconds. */
export function parseDuration(raw: string): number {
  const match = /^(\d+(?:\.\d+)?)(ms|s|m|h|d)?$/.exec(raw.trim());
  if (!match) throw new Error('must be a duration such as "500ms", "15s", "10m", "24h" or "7d"');
  return Math.round(Number(match[1]) * (UNITS[match[2] ?? "ms"] ?? 1));
}

function duration(minMs: number, maxMs: number): Parser<number> {
  return (raw) => {
    const ms = parseDuration(raw);
    if (ms < minMs || ms > maxMs) throw new Error(`must be between ${minMs}ms and ${maxMs}ms`);
    return ms;
  };
}

function boolean(raw: string): boolean {
  const v = raw.trim().toLowerCase();
  if (["true", "1", "yes", "on", ""].includes(v)) return true;
  if (["false", "0", "no", "off"].includes(v)) return false;
  throw new Error("must be true or false");
}

function text(raw: string): string {
  if (raw.trim() === "") throw new Error("must not be empty");
  return raw;
}

function logLevel(raw: string): LogLevel {
  const v = raw.trim().toLowerCase() as LogLevel;
  if (!LOG_LEVELS.includes(v)) throw new Error(`must be one of ${LOG_LEVELS.join(", ")}`);
  return v;
}

function logFormat(raw: string): LogFormat {
  const v = raw.trim().toLowerCase();
  if (v !== "json" && v !== "pretty") throw new Error('must be "json" (one JSON object per line) or "pretty" (time level message key=value)');
  return v;
}

function natsUrl(raw: string): string {
  const v = raw.trim();
  if (v === "") return v;
  for (const url of v.split(",")) {
    if (!/^(nats|tls):\/\/[^\s,]+$/.test(url.trim())) throw new Error('must look like "nats://host:port" (several: comma-separated)');
  }
  return v;
}

const MIN_ADMIN_KEY_LENGTH = 32;
const SECRET_SETTINGS: ReadonlySet<keyof Config> = new Set(["adminKey"]);

function adminKey(raw: string): string {
  const v = raw.trim();
  if (v === "") return v;
  if (v.length < MIN_ADMIN_KEY_LENGTH || /\s/.test(v))
    throw new Error(`must be at least ${MIN_ADMIN_KEY_LENGTH} characters without spaces (e.g. the output of "openssl rand -base64 32")`);
  return v;
}

const MAX_RETENTION_MS = 100 * 365 * 86_400_000;

/** 0 (keep forever) or a window of at least a second. */
function retention(raw: string): number {
  const refused = new Error('must be 0 (keep forever) or a duration from "1s" to "36500d", such as "30d"');
  let ms: number;
  try {
    ms = parseDuration(raw);
  } catch {
    throw refused;
  }
  if (ms !== 0 && (ms < 1000 || ms > MAX_RETENTION_MS)) throw refused;
  return ms;
}

function setting<K extends keyof Config>(key: K, flag: string, parse: Parser<Config[K]>, help: string, env?: string): Setting<K> {
  return { key, flag, env: env ?? `HOOKLINE_${flag.replace(/-/g, "_").toUpperCase()}`, parse, help };
}

function syncMode(raw: string): "full" | "normal" {
  const v = raw.trim().toLowerCase();
  if (v !== "full" && v !== "normal") throw new Error('must be "full" (fsync each commit) or "normal" (survives crashes, not power loss)');
  return v;
}

/** Every setting with its flag and env name; the README's configuration table mirrors this list. */
export const SETTINGS = [
  setting("host", "host", text, "address to listen on"),
  setting("port", "port", integer(0, 65535), "port for gRPC, gRPC-Web, Connect, /healthz and /metrics (0 picks a free one)"),
  setting("dataDir", "data-dir", text, "directory of the embedded SQLite store"),
  setting("logLevel", "log-level", logLevel, "trace, debug, info, warn, error, fatal or silent"),
  setting("logFormat", "log-format", logFormat, "json (one object per line) or pretty (time level message key=value, for a terminal)"),
  setting("allowPrivateTargets", "allow-private-targets", boolean, "allow endpoint URLs on loopback/private/link-local addresses"),
  setting("workers", "workers", integer(0, 64), "delivery worker threads (0 = deliver from the main thread)"),
  setting("workerBatch", "worker-batch", integer(1, 10_000), "deliveries claimed per endpoint per scheduler turn"),
  setting("maxBatchEvents", "max-batch-events", integer(1, 100_000), "events per Publish request"),
  setting("maxPayloadBytes", "max-payload-bytes", integer(2, 16 * 1024 * 1024), "bytes per event payload"),
  setting("maxRequestBytes", "max-request-bytes", integer(64 * 1024, 1024 * 1024 * 1024), "bytes per request message; a larger stream message ends the stream with RESOURCE_EXHAUSTED"),
  setting("idleTimeoutMs", "idle-timeout", duration(1000, 86_400_000), "close a client connection that has no open request or stream for this long"),
  setting("headerTimeoutMs", "header-timeout", duration(100, 600_000), "time a new connection gets for its TLS handshake and first request headers (HTTP/1) or HTTP/2 preface"),
  setting("maxConnections", "max-connections", integer(1, 1_000_000), "open client connections; more are closed on accept (keep it below the process's file limit)"),
  setting("tlsCertFile", "tls-cert", text, "PEM certificate chain: serve TLS only (gRPC, Connect, gRPC-Web over HTTP/2 and HTTP/1.1)"),
  setting("tlsKeyFile", "tls-key", text, "PEM private key of --tls-cert"),
  setting("idempotencyWindowMs", "idempotency-window", duration(1000, 30 * 86_400_000), "how long idempotency keys are remembered"),
  setting("defaultTimeoutMs", "default-timeout", duration(1000, 120_000), "attempt timeout of endpoints that set none"),
  setting("defaultMaxInFlight", "default-max-in-flight", integer(1, 1000), "concurrent requests per endpoint that sets none"),
  setting("maxPendingEvents", "max-pending-events", integer(1000, 10_000_000), "events queued for commit before publishers are refused"),
  setting("shutdownGraceMs", "shutdown-grace", duration(0, 600_000), "time given to in-flight work on SIGTERM"),
  setting("breakerThreshold", "breaker-threshold", integer(1, 100_000), "consecutive failed attempts that pause an endpoint"),
  setting("breakerCooldownMs", "breaker-cooldown", duration(100, 3_600_000), "pause before the first probe of a paused endpoint (doubles per failed probe, up to 10 min)"),
  setting("autoDisableAfterMs", "auto-disable-after", duration(1000, 365 * 86_400_000), "disable an endpoint that has failed without a success for this long"),
  setting("sqliteSync", "sqlite-sync", syncMode, "full: fsync every commit; normal: survive process crashes but not power loss"),
  setting("natsUrl", "nats", natsUrl, "NATS server URL(s), comma-separated; when set, JetStream is the store", "HOOKLINE_NATS_URL"),
  setting("natsCredsFile", "nats-creds", text, "NATS credentials file (JWT + nkey seed)"),
  setting("natsTlsCaFile", "nats-tls-ca", text, "CA certificate that signs the NATS server's certificate"),
  setting("natsTlsCertFile", "nats-tls-cert", text, "client certificate for NATS mutual TLS"),
  setting("natsTlsKeyFile", "nats-tls-key", text, "key of --nats-tls-cert"),
  setting("natsReplicas", "nats-replicas", integer(1, 5), "replicas of hookline's streams and buckets when it creates them (3 on a cluster)"),
  setting("adminKey", "admin-key", adminKey, "admin API key (at least 32 characters); without one, the first start creates and prints one"),
  setting("apiKeyCacheMs", "api-key-cache", duration(0, 60_000), "how long an API key check is cached: a revoked key stops working within this time"),
  setting("maxWatchersPerKey", "max-watchers-per-key", integer(1, 10_000), "WatchDeliveries streams open at once per caller; more get RESOURCE_EXHAUSTED"),
  setting("watcherBuffer", "watcher-buffer", integer(10, 1_000_000), "changes a WatchDeliveries stream may leave unread; beyond that it ends with RESOURCE_EXHAUSTED"),
  setting("natsAckWaitMs", "nats-ack-wait", duration(3_000, 3_600_000), "how long deliveries held by a hookline process that stopped answering wait before another takes them"),
  setting("retentionMs", "retention", retention, "prune events, deliveries and attempts older than this (0 = keep forever); open deliveries and their events are kept until they finish"),
  setting("retentionIntervalMs", "retention-interval", duration(100, 86_400_000), "time between retention sweeps"),
] as const;

export const DEFAULTS: Config = {
  host: "127.0.0.1",
  port: 8080,
  dataDir: "./data",
  logLevel: "info",
  logFormat: "json",
  allowPrivateTargets: false,
  // Measured on 2 cores (docs/benchmarks.md): one delivery thread beats main-thread delivery
  // and matches two with less memory. Raise it on machines with more cores.
  workers: 1,
  workerBatch: 256,
  maxBatchEvents: 1000,
  maxPayloadBytes: 256 * 1024,
  maxRequestBytes: 32 * 1024 * 1024,
  idleTimeoutMs: 120_000,
  headerTimeoutMs: 10_000,
  maxConnections: 1000,
  tlsCertFile: "",
  tlsKeyFile: "",
  idempotencyWindowMs: 24 * 3_600_000,
  defaultTimeoutMs: 15_000,
  defaultMaxInFlight: 32,
  maxPendingEvents: 200_000,
  shutdownGraceMs: 10_000,
  breakerThreshold: 20,
  breakerCooldownMs: 30_000,
  autoDisableAfterMs: 5 * 86_400_000,
  sqliteSync: "full",
  natsUrl: "",
  natsCredsFile: "",
  natsTlsCaFile: "",
  natsTlsCertFile: "",
  natsTlsKeyFile: "",
  natsReplicas: 1,
  adminKey: "",
  apiKeyCacheMs: 2_000,
  maxWatchersPerKey: 20,
  watcherBuffer: 10_000,
  natsAckWaitMs: 20_000,
  retentionMs: 30 * 86_400_000,
  retentionIntervalMs: 60_000,
};

export interface ConfigSources {
  argv: readonly string[];
  env: Record<string, string | undefined>;
}

function applySetting(config: Config, s: Setting<keyof Config>, raw: string, origin: string): void {
  try {
    (config as unknown as Record<string, unknown>)[s.key] = s.parse(raw);
  } catch (err) {
    // Secrets are never echoed into a terminal or a log.
    const shown = SECRET_SETTINGS.has(s.key) ? "" : ` (got "${raw}")`;
    throw new ConfigError(`invalid ${origin}: ${(err as Error).message}${shown}`);
  }
}

interface ParsedFlags {
  values: Map<string, string>;
  configFile: string | undefined;
}

function parseFlags(argv: readonly string[]): ParsedFlags {
  const values = new Map<string, string>();
  let configFile: string | undefined;
  const known = new Set<string>(SETTINGS.map((s) => s.flag));
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i] as string;
    if (!arg.startsWith("--")) throw new ConfigError(`unexpected argument "${arg}"; settings are given as --name value`);
    const eq = arg.indexOf("=");
    const name = eq === -1 ? arg.slice(2) : arg.slice(2, eq);
    let value: string;
    if (eq !== -1) {
      value = arg.slice(eq + 1);
    } else if (name === "allow-private-targets" && (argv[i + 1] === undefined || argv[i + 1]?.startsWith("--"))) {
      value = "true";
    } else {
      const next = argv[i + 1];
      if (next === undefined) throw new ConfigError(`flag --${name} needs a value`);
      value = next;
      i++;
    }
    if (name === "config") configFile = value;
    else if (known.has(name)) values.set(name, value);
    else throw new ConfigError(`unknown flag --${name}; run "hookline serve --help" for the list`);
  }
  return { values, configFile };
}

function readConfigFile(path: string): Record<string, unknown> {
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (err) {
    throw new ConfigError(`cannot read config file ${path}: ${(err as Error).message}`);
  }
  try {
    const parsed: unknown = JSON.parse(text);
    if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed)) throw new Error("top level must be an object");
    return parsed as Record<string, unknown>;
  } catch (err) {
    throw new ConfigError(`config file ${path} is not valid JSON: ${(err as Error).message}`);
  }
}

/** Builds the configuration; throws ConfigError naming the setting and where it came from. */
export function loadConfig(sources: ConfigSources): Config {
  const flags = parseFlags(sources.argv);
  const config: Config = { ...DEFAULTS };
  const configFile = flags.configFile ?? sources.env.HOOKLINE_CONFIG;
  if (configFile !== undefined && configFile !== "") {
    const file = readConfigFile(configFile);
    const byKey = new Map<string, Setting<keyof Config>>(SETTINGS.map((s) => [s.key, s]));
    for (const [key, value] of Object.entries(file)) {
      const s = byKey.get(key);
      if (!s) throw new ConfigError(`unknown setting "${key}" in config file ${configFile}`);
      applySetting(config, s, String(value), `setting "${key}" in config file ${configFile}`);
    }
  }
  for (const s of SETTINGS) {
    const raw = sources.env[s.env];
    if (raw !== undefined) applySetting(config, s, raw, `environment variable ${s.env}`);
  }
  for (const s of SETTINGS) {
    const raw = flags.values.get(s.flag);
    if (raw !== undefined) applySetting(config, s, raw, `flag --${s.flag}`);
  }
  if ((config.tlsCertFile === "") !== (config.tlsKeyFile === "")) {
    throw new ConfigError("--tls-cert and --tls-key go together: give both (TLS) or neither (cleartext)");
  }
  return config;
}
