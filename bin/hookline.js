#!/usr/bin/env node
// Runs the compiled CLI in dist/ (`npm run build`; `npm ci` builds it through `prepare`).
import { existsSync } from "node:fs";

const entry = new URL("../dist/cli/main.js", import.meta.url);
if (!existsSync(entry)) {
  process.stderr.write("hookline: dist/ is missing; run `npm run build` first\n");
  process.exit(1);
}
const { main } = await import(entry.href);
await main(process.argv.slice(2));
