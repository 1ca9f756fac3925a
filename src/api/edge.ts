import { readFileSync } from "node:fs";
import type { Config } from "../config/config.ts";
import type { EdgeOptions } from "./transport.ts";

/** The listener's connection limits and, when configured, its TLS certificate and key. */
export function edgeOptions(config: Config): EdgeOptions {
  const edge: EdgeOptions = {
    idleTimeoutMs: config.idleTimeoutMs,
    headerTimeoutMs: config.headerTimeoutMs,
    maxConnections: config.maxConnections,
  };
  if (config.tlsCertFile === "") return edge;
  return { ...edge, tls: { cert: readPem(config.tlsCertFile, "--tls-cert"), key: readPem(config.tlsKeyFile, "--tls-key") } };
}

function readPem(path: string, flag: string): Buffer {
  try {
    return readFileSync(path);
  } catch (err) {
    throw new Error(`cannot read ${flag} file ${path}: ${(err as Error).message}`);
  }
}
