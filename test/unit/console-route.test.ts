import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { consoleRoute } from "../../src/console/route.ts";

// The console route in-process, over a build directory made by the test.

interface Sent {
  status: number;
  headers: Record<string, string>;
  body: string;
}

function call(route: ReturnType<typeof consoleRoute>, url: string, init: { method?: string; headers?: Record<string, string> } = {}): Sent | false {
  const sent: Sent = { status: 0, headers: {}, body: "" };
  const handled = route(
    { url, method: init.method ?? "GET", headers: init.headers ?? {} },
    {
      writeHead(status, headers) {
        sent.status = status;
        sent.headers = headers;
      },
      end(body) {
        sent.body = body === undefined ? "" : Buffer.from(body).toString("utf8");
      },
    },
  );
  return handled && sent;
}

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

function build(files: Record<string, string>): string {
  const dir = mkdtempSync(join(tmpdir(), "hookline-console-"));
  dirs.push(dir);
  mkdirSync(join(dir, "assets"));
  for (const [name, text] of Object.entries(files)) writeFileSync(join(dir, name), text);
  return dir;
}

describe("console route", () => {
  it("leaves paths outside /console to the caller", () => {
    const route = consoleRoute(build({ "index.html": "<!doctype html>" }));
    expect(call(route, "/healthz")).toBe(false);
    expect(call(route, "/consoles")).toBe(false);
    expect(call(route, "/hookline.v1.TenantService/ListTenants", { method: "POST" })).toBe(false);
  });

  it("says how to build the console when there is no build, and serves it once there is", () => {
    const dir = mkdtempSync(join(tmpdir(), "hookline-console-"));
    dirs.push(dir);
    const route = consoleRoute(dir);
    const missing = call(route, "/console") as Sent;
    expect(missing.status).toBe(503);
    expect(missing.body).toContain("npm run build:console");

    mkdirSync(join(dir, "assets"));
    writeFileSync(join(dir, "index.html"), "<!doctype html><title>built</title>");
    const served = call(route, "/console/?x=1") as Sent;
    expect(served.status).toBe(200);
    expect(served.body).toContain("built");
  });

  it("answers HEAD without a body, 304 for a matching ETag, 404 for unknown files, 405 for other methods", () => {
    const route = consoleRoute(build({ "index.html": "<!doctype html>", "assets/main-ABC.js": "console.log(1)" }));
    const js = call(route, "/console/assets/main-ABC.js") as Sent;
    expect(js.status).toBe(200);
    expect(js.headers["content-type"]).toBe("text/javascript; charset=utf-8");
    expect(js.headers["cache-control"]).toContain("immutable");
    expect(js.body).toBe("console.log(1)");

    const head = call(route, "/console/assets/main-ABC.js", { method: "HEAD" }) as Sent;
    expect(head.status).toBe(200);
    expect(head.headers["content-length"]).toBe(String("console.log(1)".length));
    expect(head.body).toBe("");

    expect((call(route, "/console/assets/main-ABC.js", { headers: { "if-none-match": js.headers.etag! } }) as Sent).status).toBe(304);
    expect((call(route, "/console/assets/../../etc/passwd") as Sent).status).toBe(404);
    expect((call(route, "/console/assets/other.js") as Sent).status).toBe(404);
    expect((call(route, "/console", { method: "DELETE" }) as Sent).status).toBe(405);
  });
});
