// Clients in other languages: the Go (grpc-go), Python (grpcio) and TypeScript (Connect)
// examples under examples/ run as real child processes against a real hookline server and
// real receivers. Each example creates its own tenant and endpoint (with a secret the test
// picks, so that the test can verify every signature), streams 10,000 events through
// PublishStream and waits until ListDeliveries shows them all SUCCEEDED. They authenticate
// with the test admin key from HOOKLINE_API_KEY, as a user would run them.
//
// Go and Python come from scripts/install-client-toolchains.sh. Without them the Go and
// Python cases are skipped on a developer machine and FAIL under CI=true.
import { spawn, spawnSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { delimiter, dirname, join, relative } from "node:path";
import { Webhook } from "standardwebhooks";
import { afterAll, beforeAll, describe, expect, it, type TestContext } from "vitest";
import { TEST_ADMIN_KEY } from "../helpers/auth.ts";
import { Receiver } from "../helpers/receiver.ts";
import { startServer, type ServerProcess } from "../helpers/server.ts";

const ROOT = new URL("../../", import.meta.url).pathname;
const EVENTS = 10_000;
const INSTALL = "scripts/install-client-toolchains.sh";
const IN_CI = process.env.CI === "true";
/** Time an example gets for publishing and again for delivery (its --timeout). */
const EXAMPLE_TIMEOUT_S = 90;

interface Toolchain {
  ok: boolean;
  /** Why not, when !ok. */
  reason: string;
}

function probe(command: string, args: string[], env: NodeJS.ProcessEnv = process.env): { ok: boolean; out: string } {
  const r = spawnSync(command, args, { cwd: ROOT, env, encoding: "utf8", timeout: 30_000 });
  return { ok: r.status === 0, out: `${r.stdout ?? ""}${r.stderr ?? ""}${r.error ? String(r.error) : ""}`.trim() };
}

// Go: on PATH or where the official tarball puts it.
const GO = probe("go", ["version"]).ok ? "go" : existsSync("/usr/local/go/bin/go") ? "/usr/local/go/bin/go" : "";
const goBin = GO ? probe(GO, ["env", "GOBIN"]).out || join(probe(GO, ["env", "GOPATH"]).out, "bin") : "";
const go: Toolchain = GO ? { ok: true, reason: "" } : { ok: false, reason: "go is not installed" };

// Python: the interpreter must import the generated modules, which checks that grpcio and
// protobuf are installed at (at least) the versions the code was generated for.
const PYTHON = process.env.PYTHON ?? "python3";
/** The examples read their API key from HOOKLINE_API_KEY. */
const EXAMPLE_ENV = { ...process.env, HOOKLINE_API_KEY: TEST_ADMIN_KEY };
// No __pycache__ directories inside examples/python/gen.
const PYTHON_ENV = { ...process.env, PYTHONDONTWRITEBYTECODE: "1", PYTHONUNBUFFERED: "1" };
const pyCheck = probe(
  PYTHON,
  ["-c", "import sys; sys.path.insert(0, 'examples/python/gen'); import hookline.v1.event_pb2_grpc, hookline.v1.delivery_pb2_grpc"],
  PYTHON_ENV,
);
const python: Toolchain = pyCheck.ok
  ? { ok: true, reason: "" }
  : { ok: false, reason: `${PYTHON} cannot load the generated client (${pyCheck.out.split("\n").pop() ?? ""})` };

// Code generation additionally needs the Go plugins and grpcio-tools.
const pluginsOk =
  go.ok &&
  existsSync(join(goBin, "protoc-gen-go")) &&
  existsSync(join(goBin, "protoc-gen-go-grpc")) &&
  probe(PYTHON, ["-c", "import grpc_tools.protoc"], PYTHON_ENV).ok;
const codegen: Toolchain = pluginsOk
  ? { ok: true, reason: "" }
  : { ok: false, reason: "protoc-gen-go, protoc-gen-go-grpc or grpcio-tools is missing" };

/** Skips (developer machine) or fails (CI) a test whose toolchain is missing. */
function requireToolchain(ctx: TestContext, tool: Toolchain): void {
  if (tool.ok) return;
  if (IN_CI) throw new Error(`${tool.reason}; CI must install it with ${INSTALL}`);
  ctx.skip(`${tool.reason}; run ${INSTALL} to enable this test`);
}

interface RunResult {
  code: number | null;
  stdout: string;
  stderr: string;
  ms: number;
}

/** Runs a command to completion, killing it if it outlives timeoutMs. */
function run(command: string, args: string[], options: { cwd?: string; env?: NodeJS.ProcessEnv; timeoutMs: number }): Promise<RunResult> {
  const started = Date.now();
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { cwd: options.cwd ?? ROOT, env: options.env ?? process.env, stdio: ["ignore", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (c: Buffer) => (stdout += c.toString()));
    child.stderr.on("data", (c: Buffer) => (stderr += c.toString()));
    const timer = setTimeout(() => {
      stderr += `\n[killed after ${options.timeoutMs}ms]`;
      child.kill("SIGKILL");
    }, options.timeoutMs);
    child.on("error", (err) => {
      clearTimeout(timer);
      reject(err);
    });
    child.on("close", (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr, ms: Date.now() - started });
    });
  });
}

interface ExampleSummary {
  acked: number;
  delivered: number;
  errors: number;
  deliveries: number;
  tenant_id: string;
  endpoint_id: string;
}

function newSecret(): string {
  return `whsec_${randomBytes(32).toString("base64")}`;
}

/**
 * Runs one example against the server with its own receiver, then checks what the receiver
 * got: 10,000 distinct webhook-ids, no duplicate, every signature valid for the endpoint's
 * secret, every payload the example published exactly once.
 */
async function exerciseExample(server: ServerProcess, client: string, command: string, args: string[], env: NodeJS.ProcessEnv = EXAMPLE_ENV) {
  const receiver = await Receiver.start();
  try {
    const secret = newSecret();
    const result = await run(
      command,
      [...args, "--server", server.baseUrl, "--receiver", receiver.url, "--secret", secret, "--events", String(EVENTS), "--timeout", String(EXAMPLE_TIMEOUT_S)],
      { env, timeoutMs: (2 * EXAMPLE_TIMEOUT_S + 30) * 1000 },
    );
    const context = `${client} example exited ${result.code} after ${result.ms}ms\nstdout: ${result.stdout}\nstderr: ${result.stderr.slice(-4000)}`;
    expect(result.code, context).toBe(0);
    const lines = result.stdout.trim().split("\n");
    expect(lines, context).toHaveLength(1);
    const summary = JSON.parse(lines[0] as string) as ExampleSummary;
    expect(summary, context).toMatchObject({ acked: EVENTS, delivered: EVENTS, errors: 0, deliveries: EVENTS });
    expect(summary.tenant_id).toMatch(/^tnt_/);
    expect(summary.endpoint_id).toMatch(/^ep_/);

    // The example saw every delivery SUCCEEDED, so the receiver has answered all of them.
    expect(receiver.uniqueIds().size).toBe(EVENTS);
    expect(receiver.requests).toHaveLength(EVENTS); // steady state: no duplicates
    const webhook = new Webhook(secret);
    const seqs = new Set<number>();
    let badSignatures = 0;
    for (const req of receiver.requests) {
      try {
        webhook.verify(req.body.toString(), req.headers as Record<string, string>);
      } catch {
        badSignatures++;
      }
      const payload = JSON.parse(req.body.toString()) as { client: string; seq: number };
      expect(payload.client).toBe(client);
      seqs.add(payload.seq);
    }
    expect(badSignatures).toBe(0);
    expect(seqs.size).toBe(EVENTS);
    expect(Math.min(...seqs)).toBe(0);
    expect(Math.max(...seqs)).toBe(EVENTS - 1);
    console.log(`${client} example: ${result.stdout.trim()} (process ${result.ms}ms)`);
  } finally {
    await receiver.close();
  }
}

/** Relative paths and contents of every file under dir. */
function tree(dir: string): Map<string, string> {
  const files = new Map<string, string>();
  const walk = (d: string): void => {
    for (const entry of readdirSync(d, { withFileTypes: true })) {
      const path = join(d, entry.name);
      if (entry.isDirectory()) walk(path);
      else files.set(relative(dir, path), readFileSync(path, "utf8"));
    }
  };
  if (existsSync(dir)) walk(dir);
  return files;
}

describe("clients in other languages", () => {
  let server: ServerProcess;
  let buildDir: string;
  let goBinary = "";
  let goBuildError = "";

  beforeAll(async () => {
    buildDir = mkdtempSync(join(tmpdir(), "hookline-clients-"));
    const goBuild = go.ok
      ? run(GO, ["build", "-o", join(buildDir, "publish-go"), "."], { cwd: join(ROOT, "examples/go"), timeoutMs: 280_000 })
      : Promise.resolve(undefined);
    const [started, built] = await Promise.all([startServer(), goBuild]);
    server = started;
    if (built) {
      if (built.code === 0) goBinary = join(buildDir, "publish-go");
      else goBuildError = `go build failed (${built.code}): ${built.stderr}`;
    }
  }, 300_000); // a cold Go build cache compiles grpc-go: minutes on two cores

  afterAll(async () => {
    await server?.stop();
    server?.cleanup();
    if (buildDir) rmSync(buildDir, { recursive: true, force: true });
  });

  it("Go (grpc-go, protoc-gen-go-grpc) publishes 10,000 events that are all delivered and signed", async (ctx) => {
    requireToolchain(ctx, go);
    expect(goBuildError).toBe("");
    await exerciseExample(server, "go", goBinary, [], EXAMPLE_ENV);
  }, 240_000);

  it("Python (grpcio, grpcio-tools) publishes 10,000 events that are all delivered and signed", async (ctx) => {
    requireToolchain(ctx, python);
    await exerciseExample(server, "python", PYTHON, ["examples/python/publish.py"], { ...PYTHON_ENV, HOOKLINE_API_KEY: TEST_ADMIN_KEY });
  }, 240_000);

  it("TypeScript (Connect over gRPC, src/gen) publishes 10,000 events that are all delivered and signed", async () => {
    await exerciseExample(server, "typescript", process.execPath, ["--import", "tsx", "examples/typescript/publish.ts"], EXAMPLE_ENV);
  }, 240_000);

  describe("without a valid API key, the TypeScript example stops before publishing", () => {
    const TS_EXAMPLE = ["--import", "tsx", "examples/typescript/publish.ts"];
    const noKeyEnv = (): NodeJS.ProcessEnv => {
      const env = { ...process.env };
      delete env.HOOKLINE_API_KEY;
      return env;
    };

    it("no key at all: exits with an error naming HOOKLINE_API_KEY", async () => {
      const result = await run(process.execPath, [...TS_EXAMPLE, "--server", server.baseUrl], { env: noKeyEnv(), timeoutMs: 60_000 });
      expect(result.code, result.stderr).toBe(1);
      expect(result.stdout).toBe("");
      expect(result.stderr).toContain("no API key: set HOOKLINE_API_KEY or pass --api-key KEY");
    }, 90_000);

    it("a key the server does not know: the first call fails UNAUTHENTICATED", async () => {
      const result = await run(process.execPath, [...TS_EXAMPLE, "--server", server.baseUrl, "--api-key", "hk_not_a_key_the_server_issued_0123456789"], {
        env: noKeyEnv(),
        timeoutMs: 60_000,
      });
      expect(result.code, result.stderr).toBe(1);
      expect(result.stdout).toBe("");
      expect(result.stderr).toMatch(/Unauthenticated: invalid or revoked API key/);
    }, 90_000);
  });

  it("the generated code under examples/ matches what the buf templates produce", async (ctx) => {
    requireToolchain(ctx, codegen);
    const out = mkdtempSync(join(tmpdir(), "hookline-clients-gen-"));
    try {
      // Same PATH the generate scripts use: the Go plugins, and the chosen Python first.
      const path = [goBin, ...(process.env.PYTHON ? [dirname(process.env.PYTHON)] : []), process.env.PATH ?? ""].join(delimiter);
      for (const lang of ["go", "python"]) {
        const r = await run(join(ROOT, "node_modules/.bin/buf"), ["generate", "--template", `examples/${lang}/buf.gen.yaml`, "-o", out], {
          env: { ...PYTHON_ENV, PATH: path },
          timeoutMs: 60_000,
        });
        expect(r.code, `buf generate (${lang}): ${r.stderr}`).toBe(0);
        const fresh = tree(join(out, `examples/${lang}/gen`));
        const committed = tree(join(ROOT, `examples/${lang}/gen`));
        expect(fresh.size, `nothing generated for ${lang}`).toBeGreaterThan(0);
        expect([...committed.keys()].sort(), `examples/${lang}/gen is stale: run examples/${lang}/generate.sh`).toEqual([...fresh.keys()].sort());
        for (const [file, content] of fresh) {
          expect(committed.get(file) === content, `examples/${lang}/gen/${file} is stale: run examples/${lang}/generate.sh`).toBe(true);
        }
      }
    } finally {
      rmSync(out, { recursive: true, force: true });
    }
  }, 120_000);
});
