import { afterAll, describe, expect, it } from "vitest";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import net from "node:net";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Code } from "@connectrpc/connect";
import { SETTINGS } from "../../src/config/config.ts";
import { json } from "../helpers/clients.ts";
import { rejection } from "../helpers/errors.ts";
import { useHookline } from "../helpers/fixtures.ts";
import { runCli } from "../helpers/server.ts";

const dir = mkdtempSync(join(tmpdir(), "hookline-config-"));
/** A data dir for `serve` runs that should never get far enough to use it. */
const dataDir = join(dir, "data");
const serve = (...args: string[]): string[] => ["serve", "--data-dir", dataDir, ...args];

function writeConfig(name: string, content: string): string {
  const path = join(dir, name);
  writeFileSync(path, content);
  return path;
}

afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe("start-up refuses bad configuration with exit code 2", () => {
  it("--port abc names --port", async () => {
    const r = await runCli(serve("--port", "abc"));
    expect(r.code).toBe(2);
    expect(r.stderr).toContain("--port");
    expect(r.stderr).toContain('"abc"');
  });

  it("--port 70000 (out of range) names --port", async () => {
    const r = await runCli(serve("--port", "70000"));
    expect(r.code).toBe(2);
    expect(r.stderr).toContain("--port");
  });

  it("HOOKLINE_PORT=abc names HOOKLINE_PORT", async () => {
    const r = await runCli(serve(), { HOOKLINE_PORT: "abc" });
    expect(r.code).toBe(2);
    expect(r.stderr).toContain("HOOKLINE_PORT");
  });

  it("HOOKLINE_ALLOW_PRIVATE_TARGETS=maybe names the variable", async () => {
    const r = await runCli(serve(), { HOOKLINE_ALLOW_PRIVATE_TARGETS: "maybe" });
    expect(r.code).toBe(2);
    expect(r.stderr).toContain("HOOKLINE_ALLOW_PRIVATE_TARGETS");
  });

  it('a config file with {"port": "x"} names the file and the setting', async () => {
    const file = writeConfig("bad-port.json", JSON.stringify({ port: "x" }));
    const r = await runCli(serve("--config", file));
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(file);
    expect(r.stderr).toContain('"port"');
  });

  it("HOOKLINE_CONFIG points at the file too", async () => {
    const file = writeConfig("bad-level.json", JSON.stringify({ logLevel: "shouty" }));
    const r = await runCli(serve(), { HOOKLINE_CONFIG: file });
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(file);
    expect(r.stderr).toContain("logLevel");
  });

  it("a config file with an unknown key names the key", async () => {
    const file = writeConfig("unknown-key.json", JSON.stringify({ prot: 8080 }));
    const r = await runCli(serve("--config", file));
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('"prot"');
    expect(r.stderr).toContain(file);
  });

  it("a config file that is not JSON, or missing, is refused", async () => {
    const broken = writeConfig("broken.json", "{ port: 1 ");
    const r1 = await runCli(serve("--config", broken));
    expect(r1.code).toBe(2);
    expect(r1.stderr).toContain(broken);
    const missing = join(dir, "does-not-exist.json");
    const r2 = await runCli(serve("--config", missing));
    expect(r2.code).toBe(2);
    expect(r2.stderr).toContain(missing);
  });

  it("an unknown flag is refused", async () => {
    const r = await runCli(serve("--bogus-flag", "1"));
    expect(r.code).toBe(2);
    expect(r.stderr).toContain("--bogus-flag");
  });

  it("a flag without its value is refused", async () => {
    const r = await runCli(serve("--port"));
    expect(r.code).toBe(2);
    expect(r.stderr).toContain("--port");
  });

  it("--log-level loud is refused", async () => {
    const r = await runCli(serve("--log-level", "loud"));
    expect(r.code).toBe(2);
    expect(r.stderr).toContain("--log-level");
    expect(r.stderr).toContain("loud");
  });

  it("a bad duration names the flag", async () => {
    const r = await runCli(serve("--shutdown-grace", "soon"));
    expect(r.code).toBe(2);
    expect(r.stderr).toContain("--shutdown-grace");
  });

  it("an unknown command exits 2", async () => {
    const r = await runCli(["serv"]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain("serv");
  });

  it("a port already in use fails with one line naming the fix, before the data dir is created", async () => {
    const blocker = net.createServer();
    await new Promise<void>((resolve) => blocker.listen(0, "127.0.0.1", resolve));
    const { port } = blocker.address() as AddressInfo;
    const fresh = join(dir, "never-created");
    try {
      const r = await runCli(["serve", "--data-dir", fresh, "--host", "127.0.0.1", "--port", String(port)]);
      expect(r.code).toBe(1);
      expect(r.stderr.trim().split("\n")).toEqual([`hookline serve: port ${port} on 127.0.0.1 is in use by another process; stop it or pick another port with --port`]);
      expect(r.stdout).not.toMatch(/"stack"/);
      expect(existsSync(fresh)).toBe(false);
    } finally {
      await new Promise<void>((resolve) => blocker.close(() => resolve()));
    }
  });

  it("a data dir that is a file, or cannot be created, fails with one line naming --data-dir", async () => {
    const file = writeConfig("not-a-dir", "x");
    const notDir = await runCli(["serve", "--data-dir", file, "--port", "0"]);
    expect(notDir.code).toBe(1);
    expect(notDir.stderr.trim()).toBe(`hookline serve: data dir ${file}: ${file} is not a directory; choose another --data-dir`);
    // Node's recursive mkdir loops forever here; start-up must fail at once instead.
    const proc = await runCli(["serve", "--data-dir", "/proc/hookline-data", "--port", "0"]);
    expect(proc.code).toBe(1);
    expect(proc.stderr.trim()).toMatch(/^hookline serve: data dir \/proc\/hookline-data: cannot create .*; choose another --data-dir$/);
  });

  it("NATS that does not answer fails with one line naming --nats", async () => {
    const closed = net.createServer();
    await new Promise<void>((resolve) => closed.listen(0, "127.0.0.1", resolve));
    const { port } = closed.address() as AddressInfo;
    await new Promise<void>((resolve) => closed.close(() => resolve()));
    const r = await runCli(["serve", "--port", "0", "--nats", `nats://127.0.0.1:${port}`]);
    expect(r.code).toBe(1);
    const lines = r.stderr.trim().split("\n");
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(/^hookline serve: cannot connect to NATS at nats:\/\/127\.0\.0\.1:\d+: .*--nats/);
  });
});

describe("--log-format", () => {
  it("pretty writes `time LEVEL message key=value` lines; xml is refused", async () => {
    const blocker = net.createServer();
    await new Promise<void>((resolve) => blocker.listen(0, "127.0.0.1", resolve));
    const { port } = blocker.address() as AddressInfo;
    try {
      const r = await runCli(serve("--host", "127.0.0.1", "--port", String(port), "--log-format", "pretty"));
      expect(r.code).toBe(1);
      const fatal = r.stdout.split("\n").find((l) => l.includes("could not start"));
      expect(fatal).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z FATAL hookline could not start: port \d+ on 127\.0\.0\.1 is in use by another process; stop it or pick another port with --port$/);
      expect(r.stdout).not.toContain('{"level"');
    } finally {
      await new Promise<void>((resolve) => blocker.close(() => resolve()));
    }
    const bad = await runCli(serve("--log-format", "xml"));
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain("--log-format");
  });
});

describe("help and version", () => {
  it("`hookline serve --help` exits 0 and lists every flag with its help", async () => {
    const r = await runCli(["serve", "--help"]);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain("--config");
    for (const s of SETTINGS) {
      expect(r.stdout).toContain(`--${s.flag}`);
      expect(r.stdout).toContain(s.help);
    }
  });

  it("`hookline version` prints the package version", async () => {
    const r = await runCli(["version"]);
    expect(r.code).toBe(0);
    const pkg = JSON.parse(readFileSync(new URL("../../package.json", import.meta.url), "utf8")) as { version: string };
    expect(r.stdout.trim()).toBe(pkg.version);
  });
});

describe("precedence: defaults < config file < environment < flags", () => {
  const file = writeConfig(
    "layers.json",
    JSON.stringify({ workers: 1, host: "127.0.0.2", maxPayloadBytes: 1000, maxBatchEvents: 5 }),
  );
  const { server, api } = useHookline({
    args: ["--config", file, "--workers", "0"],
    env: { HOOKLINE_WORKERS: "3", HOOKLINE_HOST: "127.0.0.1", HOOKLINE_MAX_BATCH_EVENTS: "4" },
  });

  it("the flag beats the environment and the file (workers in the listening log)", () => {
    const listening = server.logs.find((l) => l.msg === "hookline listening");
    expect(listening?.workers).toBe(0);
  });

  it("the environment beats the file (host in the listening log)", () => {
    const listening = server.logs.find((l) => l.msg === "hookline listening");
    expect(listening?.host).toBe("127.0.0.1");
  });

  it("the file beats the defaults, and env beats file, as limits the API enforces", async () => {
    const { tenant } = await api.tenants.createTenant({ name: "limits" });
    const event = (payload: Uint8Array) => ({ tenantId: tenant!.id, type: "a.b", payload });

    // maxPayloadBytes = 1000 from the file (default 256 KiB).
    const big = json({ blob: "x".repeat(1200) });
    const payloadErr = await rejection(api.events.publish({ events: [event(big)] }));
    expect(payloadErr?.code).toBe(Code.InvalidArgument);
    expect(payloadErr?.rawMessage).toContain("the limit is 1000");

    // maxBatchEvents = 4 from the environment (file says 5, default 1000).
    const five = Array.from({ length: 5 }, () => event(json({})));
    const batchErr = await rejection(api.events.publish({ events: five }));
    expect(batchErr?.code).toBe(Code.InvalidArgument);
    expect(batchErr?.rawMessage).toContain("the limit is 4");
    const four = await api.events.publish({ events: five.slice(0, 4) });
    expect(four.results).toHaveLength(4);
  });
});
