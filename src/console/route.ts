import { createHash } from "node:crypto";
import { existsSync, readdirSync, readFileSync } from "node:fs";
import type { IncomingHttpHeaders } from "node:http";
import { dirname, extname, join } from "node:path";
import { gzipSync } from "node:zlib";

/** Where `npm run build:console` writes the console (console/build.ts). */
export const CONSOLE_DIST = join(packageRoot(), "console", "dist");

/** The console talks only to this origin and loads nothing inline or from elsewhere. */
const CSP = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self'",
  "connect-src 'self'",
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
].join("; ");

const SECURITY_HEADERS = {
  "content-security-policy": CSP,
  "x-content-type-options": "nosniff",
  "referrer-policy": "no-referrer",
  "cross-origin-opener-policy": "same-origin",
  "cross-origin-resource-policy": "same-origin",
};

const CONTENT_TYPES: Record<string, string> = {
  ".html": "text/html; charset=utf-8",
  ".js": "text/javascript; charset=utf-8",
  ".css": "text/css; charset=utf-8",
  ".svg": "image/svg+xml",
};

interface Asset {
  body: Buffer;
  gzip: Buffer | undefined;
  type: string;
  etag: string;
  /** Hashed names never change content, so browsers may keep them for a year. */
  cacheControl: string;
}

/** The parts of an HTTP/1 or HTTP/2 request and response the route uses. */
interface Request {
  readonly url?: string | undefined;
  readonly method?: string | undefined;
  readonly headers: IncomingHttpHeaders;
}
interface Response {
  writeHead(status: number, headers: Record<string, string>): unknown;
  end(body?: Uint8Array | string): unknown;
}

/**
 * Serves the built console under /console: index.html for /console and /console/, hashed files
 * under /console/assets/. Returns false for other paths so the caller can go on.
 */
export function consoleRoute(dir: string = CONSOLE_DIST): (req: Request, res: Response) => boolean {
  let assets: Map<string, Asset> | undefined;
  return (req, res) => {
    const path = (req.url ?? "").split("?")[0] ?? "";
    if (path !== "/console" && !path.startsWith("/console/")) return false;
    if (req.method !== "GET" && req.method !== "HEAD") {
      res.writeHead(405, { allow: "GET, HEAD", "content-type": "text/plain; charset=utf-8", ...SECURITY_HEADERS });
      res.end("the console is read with GET\n");
      return true;
    }
    // Loaded once, on first use: a build made after the server started is picked up then.
    assets ??= loadAssets(dir);
    if (!assets) {
      res.writeHead(503, { "content-type": "text/plain; charset=utf-8", ...SECURITY_HEADERS });
      res.end("the console is not built: run `npm run build:console` (npm install runs it) and reload\n");
      return true;
    }
    const name = path === "/console" || path === "/console/" ? "index.html" : path.slice("/console/".length);
    const asset = assets.get(name);
    if (!asset) {
      res.writeHead(404, { "content-type": "text/plain; charset=utf-8", ...SECURITY_HEADERS });
      res.end("not found in the console\n");
      return true;
    }
    send(req, res, asset);
    return true;
  };
}

function send(req: Request, res: Response, asset: Asset): void {
  const headers: Record<string, string> = {
    "content-type": asset.type,
    "cache-control": asset.cacheControl,
    etag: asset.etag,
    vary: "accept-encoding",
    ...SECURITY_HEADERS,
  };
  if (req.headers["if-none-match"] === asset.etag) {
    res.writeHead(304, headers);
    res.end();
    return;
  }
  const gzip = asset.gzip !== undefined && /\bgzip\b/.test(String(req.headers["accept-encoding"] ?? ""));
  const body = gzip ? asset.gzip! : asset.body;
  if (gzip) headers["content-encoding"] = "gzip";
  headers["content-length"] = String(body.length);
  res.writeHead(200, headers);
  if (req.method === "HEAD") res.end();
  else res.end(body);
}

/** Every file of the build, in memory (a few tens of KB), or undefined when there is no build. */
function loadAssets(dir: string): Map<string, Asset> | undefined {
  if (!existsSync(join(dir, "index.html"))) return undefined;
  const assets = new Map<string, Asset>();
  const add = (name: string, cacheControl: string): void => {
    const body = readFileSync(join(dir, name));
    const type = CONTENT_TYPES[extname(name)] ?? "application/octet-stream";
    assets.set(name, {
      body,
      gzip: body.length > 1024 ? gzipSync(body, { level: 9 }) : undefined,
      type,
      etag: `"${createHash("sha256").update(body).digest("base64url").slice(0, 16)}"`,
      cacheControl,
    });
  };
  // index.html names the current hashed files: revalidate it on every load.
  add("index.html", "no-cache");
  for (const file of readdirSync(join(dir, "assets"))) add(`assets/${file}`, "public, max-age=31536000, immutable");
  return assets;
}

/** The directory holding hookline's package.json, whether running from src/ or a compiled copy. */
function packageRoot(): string {
  let dir = dirname(new URL(import.meta.url).pathname);
  for (;;) {
    const manifest = join(dir, "package.json");
    if (existsSync(manifest) && (JSON.parse(readFileSync(manifest, "utf8")) as { name?: string }).name === "hookline") return dir;
    const parent = dirname(dir);
    if (parent === dir) throw new Error("the console route cannot find hookline's package.json above its own module");
    dir = parent;
  }
}
