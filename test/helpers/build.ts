/**
 * Builds dist/ (`tsc -p tsconfig.build.json`): the tests and the bench start the compiled
 * server (bin/hookline.js runs dist/). Incremental: a no-op when dist/ is current. Also the
 * vitest globalSetup, so `vitest run <file>` builds first too (once per vitest project).
 */
import { execFileSync } from "node:child_process";
import { fileURLToPath } from "node:url";

const ROOT = fileURLToPath(new URL("../../", import.meta.url));

export function buildDist(): void {
  execFileSync(process.execPath, ["node_modules/typescript/bin/tsc", "-p", "tsconfig.build.json"], { cwd: ROOT, stdio: "inherit" });
}

export default buildDist;
