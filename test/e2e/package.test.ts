/**
 * The npm package as a user gets it: `npm pack`, `npm install -g` of the tarball into an empty
 * prefix, then the installed `hookline` command serves a publish end to end. Offline: the
 * runtime dependencies come from a registry on 127.0.0.1 that serves package-lock.json's
 * packages out of the npm cache `npm ci` filled (see lockfile-registry.ts).
 */
import { execFile } from "node:child_process";
import { copyFileSync, existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { delimiter, dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { clients, json } from "../helpers/clients.ts";
import { startLockfileRegistry } from "../helpers/lockfile-registry.ts";
import { Receiver } from "../helpers/receiver.ts";
import { startServer, tempDir } from "../helpers/server.ts";

const ROOT = fileURLToPath(new URL("../../", import.meta.url));
const run = promisify(execFile);

/** npm with none of the npm_config_* variables an enclosing `npm test` exports. */
function npm(args: string[], cwd: string): Promise<{ stdout: string; stderr: string }> {
  const env = Object.fromEntries(Object.entries(process.env).filter(([name]) => !name.toLowerCase().startsWith("npm_config_")));
  return run("npm", args, { cwd, env, encoding: "utf8", maxBuffer: 16 * 1024 * 1024 });
}

const versionOf = (dir: string): string => (JSON.parse(readFileSync(join(dir, "package.json"), "utf8")) as { version: string }).version;

describe("the packed npm package", () => {
  const work = tempDir("hookline-package-");
  const prefix = join(work, "prefix");
  const installed = join(prefix, "lib", "node_modules", "hookline");
  let packed: string[] = [];

  beforeAll(async () => {
    // dist/ is current (the vitest globalSetup built it). --ignore-scripts: prepack would delete
    // and rebuild dist/ under the other test files' running servers.
    const pack = await npm(["pack", "--ignore-scripts", "--json", "--pack-destination", work], ROOT);
    const [result] = JSON.parse(pack.stdout) as { filename: string; files: { path: string }[] }[];
    packed = result!.files.map((f) => f.path);

    const cache = (await npm(["config", "get", "cache"], ROOT)).stdout.trim();
    const registry = await startLockfileRegistry(join(ROOT, "package-lock.json"), cache);
    try {
      writeFileSync(join(work, "npmrc"), "");
      await npm(
        [
          "install",
          "--global",
          "--prefix",
          prefix,
          "--registry",
          registry.url,
          "--cache",
          join(work, "npm-cache"),
          "--userconfig",
          join(work, "npmrc"),
          // better-sqlite3's install script would download a prebuilt binary or compile for minutes.
          "--ignore-scripts",
          "--no-audit",
          "--no-fund",
          "--no-update-notifier",
          join(work, result!.filename),
        ],
        work,
      );
    } finally {
      await registry.close();
    }
    // In place of that script: the binary `npm ci` built for this same Node and version.
    const native = join("node_modules", "better-sqlite3", "build", "Release", "better_sqlite3.node");
    expect(versionOf(join(installed, "node_modules", "better-sqlite3"))).toBe(versionOf(join(ROOT, "node_modules", "better-sqlite3")));
    mkdirSync(dirname(join(installed, native)), { recursive: true });
    copyFileSync(join(ROOT, native), join(installed, native));
  }, 300_000);

  afterAll(() => rmSync(work, { recursive: true, force: true }));

  it("ships the compiled code with types and source maps, the CLI and the protos, and no sources or tests", () => {
    for (const file of ["bin/hookline.js", "dist/index.js", "dist/index.d.ts", "dist/cli/main.js", "dist/dispatch/worker.js", "dist/app.js.map"])
      expect(packed).toContain(file);
    expect(packed).toContain("proto/hookline/v1/event.proto");
    expect(packed.filter((f) => /^(src|test|bench|examples|scripts)\//.test(f) || f.endsWith(".tsbuildinfo"))).toEqual([]);
    expect(existsSync(join(prefix, "bin", "hookline"))).toBe(true);
  });

  it("runs the installed hookline command: a published event is delivered to an endpoint", async () => {
    const receiver = await Receiver.start();
    // startServer passes --admin-key TEST_ADMIN_KEY; clients() sends it.
    const server = await startServer({
      bin: join(prefix, "bin", "hookline"),
      cwd: work,
      backend: "sqlite",
      // The command's `#!/usr/bin/env node` finds the Node running this test (its ABI matches better-sqlite3's binary).
      env: { PATH: `${dirname(process.execPath)}${delimiter}${process.env.PATH ?? ""}` },
    });
    try {
      const api = clients(server.baseUrl);
      const { tenant } = await api.tenants.createTenant({ name: "packaged" });
      await api.endpoints.createEndpoint({ tenantId: tenant!.id, url: receiver.url });
      const payload = json({ invoice: 7 });
      const { results } = await api.events.publish({ events: [{ tenantId: tenant!.id, type: "invoice.paid", payload }] });
      expect(results[0]!.deliveryCount).toBe(1);
      await receiver.waitFor((r) => r.length === 1);
      expect(receiver.requests[0]!.body.equals(Buffer.from(payload))).toBe(true);
      expect(await server.stop()).toBe(0);
    } finally {
      await server.kill();
      server.cleanup();
      await receiver.close();
    }
  });

  it("exports the library entry and the generated services by package name", async () => {
    const script = [
      'const hookline = await import("hookline");',
      'const events = await import("hookline/gen/hookline/v1/event_pb");',
      "console.log(JSON.stringify({ version: hookline.VERSION, start: typeof hookline.startHookline, service: events.EventService.typeName, same: events.EventService === hookline.EventService }));",
    ].join("\n");
    // From the global node_modules' parent, "hookline" resolves to the installed package only.
    const { stdout } = await run(process.execPath, ["--input-type=module", "-e", script], { cwd: join(prefix, "lib"), encoding: "utf8" });
    expect(JSON.parse(stdout)).toEqual({ version: versionOf(ROOT), start: "function", service: "hookline.v1.EventService", same: true });
  });
});
