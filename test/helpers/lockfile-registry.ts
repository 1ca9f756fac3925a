/**
 * A package registry on 127.0.0.1 that serves exactly the runtime packages of
 * package-lock.json, their tarballs read from the local npm cache that `npm ci` filled. It lets
 * a test `npm install` the packed hookline tarball the way a user would, without any network:
 * `npm install --offline` cannot do it, because npm ci caches only abbreviated metadata and
 * an install that resolves dependencies asks for full metadata.
 */
import { existsSync, readFileSync } from "node:fs";
import http from "node:http";
import type { AddressInfo } from "node:net";
import { join } from "node:path";

interface LockEntry {
  name?: string;
  version?: string;
  integrity?: string;
  dev?: boolean;
  link?: boolean;
  [field: string]: unknown;
}

/** Lockfile fields a registry manifest carries (what npm needs to resolve and place a package). */
const MANIFEST_FIELDS = [
  "dependencies",
  "optionalDependencies",
  "peerDependencies",
  "peerDependenciesMeta",
  "engines",
  "os",
  "cpu",
  "libc",
  "bin",
  "license",
  "hasInstallScript",
];

export interface LockfileRegistry {
  readonly url: string;
  /** Tarballs asked for that the npm cache did not hold (platform packages npm ci skipped are fine). */
  readonly missing: string[];
  close(): Promise<void>;
}

/** Where cacache (npm's cache) keeps the content with this integrity ("sha512-<base64>"). */
function cachedContent(cacheDir: string, integrity: string): string {
  const [algorithm = "", digest = ""] = integrity.split(" ")[0]!.split("-", 2);
  const hex = Buffer.from(digest, "base64").toString("hex");
  return join(cacheDir, "_cacache", "content-v2", algorithm, hex.slice(0, 2), hex.slice(2, 4), hex.slice(4));
}

export async function startLockfileRegistry(lockfilePath: string, npmCacheDir: string): Promise<LockfileRegistry> {
  const lock = JSON.parse(readFileSync(lockfilePath, "utf8")) as { packages: Record<string, LockEntry> };
  // name -> version -> lock entry; the root ("") and dev-only packages are not served.
  const packages = new Map<string, Map<string, LockEntry>>();
  for (const [path, entry] of Object.entries(lock.packages)) {
    if (path === "" || entry.dev === true || entry.link === true || !entry.version || !entry.integrity) continue;
    const name = entry.name ?? path.slice(path.lastIndexOf("node_modules/") + "node_modules/".length);
    let versions = packages.get(name);
    if (!versions) packages.set(name, (versions = new Map()));
    versions.set(entry.version, entry);
  }

  const missing: string[] = [];
  const server = http.createServer((req, res) => {
    const path = decodeURIComponent(new URL(req.url ?? "/", "http://localhost").pathname).slice(1);
    const tarball = /^-\/tarball\/(.+)\/([^/]+)\.tgz$/.exec(path);
    if (tarball) {
      const entry = packages.get(tarball[1]!)?.get(tarball[2]!);
      const file = entry?.integrity ? cachedContent(npmCacheDir, entry.integrity) : undefined;
      if (!file || !existsSync(file)) {
        missing.push(`${tarball[1]}@${tarball[2]}`);
        res.writeHead(404).end();
        return;
      }
      res.writeHead(200, { "content-type": "application/octet-stream" }).end(readFileSync(file));
      return;
    }
    const versions = packages.get(path);
    if (!versions) {
      res.writeHead(404, { "content-type": "application/json" }).end('{"error":"not found"}');
      return;
    }
    const manifests: Record<string, unknown> = {};
    for (const [version, entry] of versions) {
      const manifest: Record<string, unknown> = { name: path, version };
      for (const field of MANIFEST_FIELDS) if (entry[field] !== undefined) manifest[field] = entry[field];
      manifest.dist = { tarball: `${base}/-/tarball/${encodeURIComponent(path)}/${version}.tgz`, integrity: entry.integrity };
      manifests[version] = manifest;
    }
    const latest = [...versions.keys()].at(-1);
    res.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify({ name: path, "dist-tags": { latest }, versions: manifests }));
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    url: `${base}/`,
    missing,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
