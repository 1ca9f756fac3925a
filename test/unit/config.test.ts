import { afterAll, describe, expect, it } from "vitest";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ConfigError, DEFAULTS, SETTINGS, loadConfig, parseDuration } from "../../src/config/config.ts";
import { thrown } from "../helpers/errors.ts";

const dir = mkdtempSync(join(tmpdir(), "hookline-config-unit-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function file(name: string, content: unknown): string {
  const path = join(dir, name);
  writeFileSync(path, typeof content === "string" ? content : JSON.stringify(content));
  return path;
}

const configError = (fn: () => unknown): ConfigError => thrown(fn, ConfigError);

describe("loadConfig precedence", () => {
  it("no sources gives the defaults", () => {
    expect(loadConfig({ argv: [], env: {} })).toEqual(DEFAULTS);
  });

  it("defaults < file < env < flags, setting by setting", () => {
    const path = file("layers.json", { port: 1111, workers: 1, logLevel: "warn", dataDir: "/from/file" });
    const config = loadConfig({
      argv: ["--config", path, "--port", "3333"],
      env: { HOOKLINE_PORT: "2222", HOOKLINE_WORKERS: "4" },
    });
    expect(config.port).toBe(3333); // flag beats env and file
    expect(config.workers).toBe(4); // env beats file
    expect(config.logLevel).toBe("warn"); // file beats default
    expect(config.dataDir).toBe("/from/file");
    expect(config.maxBatchEvents).toBe(DEFAULTS.maxBatchEvents); // untouched default
  });

  it("HOOKLINE_CONFIG names the file when --config is absent; --config wins over it", () => {
    const a = file("a.json", { workers: 5 });
    const b = file("b.json", { workers: 6 });
    expect(loadConfig({ argv: [], env: { HOOKLINE_CONFIG: a } }).workers).toBe(5);
    expect(loadConfig({ argv: ["--config", b], env: { HOOKLINE_CONFIG: a } }).workers).toBe(6);
  });

  it("accepts --name=value and a bare --allow-private-targets", () => {
    expect(loadConfig({ argv: ["--port=9000"], env: {} }).port).toBe(9000);
    expect(loadConfig({ argv: ["--allow-private-targets"], env: {} }).allowPrivateTargets).toBe(true);
    expect(loadConfig({ argv: ["--allow-private-targets", "--port", "1"], env: {} })).toMatchObject({ allowPrivateTargets: true, port: 1 });
    expect(loadConfig({ argv: ["--allow-private-targets=false"], env: { HOOKLINE_ALLOW_PRIVATE_TARGETS: "true" } }).allowPrivateTargets).toBe(false);
    expect(loadConfig({ argv: [], env: { HOOKLINE_ALLOW_PRIVATE_TARGETS: "true" } }).allowPrivateTargets).toBe(true);
  });

  it("parses durations in every layer", () => {
    const path = file("durations.json", { shutdownGraceMs: "3s", idempotencyWindowMs: "2h" });
    const config = loadConfig({ argv: ["--config", path, "--default-timeout", "20s"], env: { HOOKLINE_BREAKER_COOLDOWN: "1m" } });
    expect(config.shutdownGraceMs).toBe(3_000);
    expect(config.idempotencyWindowMs).toBe(2 * 3_600_000);
    expect(config.defaultTimeoutMs).toBe(20_000);
    expect(config.breakerCooldownMs).toBe(60_000);
  });

  it("every setting has a distinct flag and a HOOKLINE_ env name", () => {
    const flags = SETTINGS.map((s) => s.flag);
    expect(new Set(flags).size).toBe(flags.length);
    for (const s of SETTINGS) expect(s.env).toMatch(/^HOOKLINE_[A-Z_]+$/);
    expect(new Set(SETTINGS.map((s) => s.key))).toEqual(new Set(Object.keys(DEFAULTS)));
  });
});

describe("loadConfig errors name where the bad value came from", () => {
  it("a flag", () => {
    const err = configError(() => loadConfig({ argv: ["--port", "abc"], env: {} }));
    expect(err.message).toContain("flag --port");
    expect(err.message).toContain('"abc"');
  });

  it("an environment variable", () => {
    const err = configError(() => loadConfig({ argv: [], env: { HOOKLINE_WORKERS: "-1" } }));
    expect(err.message).toContain("environment variable HOOKLINE_WORKERS");
  });

  it("a config file setting", () => {
    const path = file("bad.json", { port: "x" });
    const err = configError(() => loadConfig({ argv: ["--config", path], env: {} }));
    expect(err.message).toContain(path);
    expect(err.message).toContain('setting "port"');
  });

  it("an unknown key, bad JSON, a non-object and a missing file", () => {
    expect(configError(() => loadConfig({ argv: ["--config", file("k.json", { colour: 1 })], env: {} })).message).toContain('"colour"');
    expect(configError(() => loadConfig({ argv: ["--config", file("j.json", "{nope")], env: {} })).message).toContain("not valid JSON");
    expect(configError(() => loadConfig({ argv: ["--config", file("arr.json", [1])], env: {} })).message).toContain("object");
    expect(configError(() => loadConfig({ argv: ["--config", join(dir, "missing.json")], env: {} })).message).toContain("missing.json");
  });

  it("an unknown flag, a missing value, a positional argument", () => {
    expect(configError(() => loadConfig({ argv: ["--colour", "red"], env: {} })).message).toContain("--colour");
    expect(configError(() => loadConfig({ argv: ["--port"], env: {} })).message).toContain("--port");
    expect(configError(() => loadConfig({ argv: ["serve"], env: {} })).message).toContain('"serve"');
  });

  it.each([
    ["--port", "65536"],
    ["--port", "1.5"],
    ["--log-level", "loud"],
    ["--log-format", "xml"],
    ["--workers", "65"],
    ["--sqlite-sync", "sometimes"],
    ["--default-timeout", "500ms"],
    ["--shutdown-grace", "soon"],
    ["--nats", "http://localhost:4222"],
    ["--host", ""],
    ["--allow-private-targets", "maybe"],
    ["--idle-timeout", "10ms"],
    ["--header-timeout", "forever"],
    ["--max-connections", "0"],
    ["--tls-cert", ""],
  ])("%s %j is refused", (flag, value) => {
    expect(configError(() => loadConfig({ argv: [flag, value], env: {} })).message).toContain(`flag ${flag}`);
  });

  it("--tls-cert and --tls-key come together, from any layer", () => {
    expect(configError(() => loadConfig({ argv: ["--tls-cert", "c.pem"], env: {} })).message).toContain("--tls-key");
    expect(configError(() => loadConfig({ argv: [], env: { HOOKLINE_TLS_KEY: "k.pem" } })).message).toContain("--tls-cert");
    const both = loadConfig({ argv: ["--tls-key", "k.pem"], env: { HOOKLINE_TLS_CERT: "c.pem" } });
    expect([both.tlsCertFile, both.tlsKeyFile]).toEqual(["c.pem", "k.pem"]);
  });

  it("edge limits parse as durations and counts", () => {
    const config = loadConfig({ argv: ["--idle-timeout", "30s", "--header-timeout", "500ms", "--max-connections", "64"], env: {} });
    expect([config.idleTimeoutMs, config.headerTimeoutMs, config.maxConnections]).toEqual([30_000, 500, 64]);
  });
});

describe("parseDuration", () => {
  it.each([
    ["500ms", 500],
    ["250", 250],
    ["15s", 15_000],
    ["1.5s", 1_500],
    ["10m", 600_000],
    ["24h", 86_400_000],
    ["7d", 604_800_000],
    [" 2s ", 2_000],
  ])("%j → %i ms", (raw, ms) => {
    expect(parseDuration(raw)).toBe(ms);
  });

  it.each(["", "soon", "-1s", "1w", "s", "1 s", "1e3"])("%j is refused", (raw) => {
    expect(() => parseDuration(raw)).toThrow(/duration/);
  });
});

describe("--retention", () => {
  it("defaults to 30 days, swept every minute", () => {
    expect(DEFAULTS.retentionMs).toBe(30 * 86_400_000);
    expect(DEFAULTS.retentionIntervalMs).toBe(60_000);
  });

  it.each([
    ["0", 0],
    ["2s", 2_000],
    ["90d", 90 * 86_400_000],
  ])("%j → %i ms", (raw, ms) => {
    expect(loadConfig({ argv: ["--retention", raw], env: {} }).retentionMs).toBe(ms);
  });

  it.each(["500ms", "soon", "-1d"])("%j is refused, naming the flag and that 0 keeps everything", (raw) => {
    const err = configError(() => loadConfig({ argv: ["--retention", raw], env: {} }));
    expect(err.message).toContain("flag --retention");
    expect(err.message).toContain("0 (keep forever)");
  });
});
