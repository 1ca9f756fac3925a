#!/usr/bin/env node
// Runs the TypeScript sources directly: tsx registers its loader, then the CLI starts.
import { register } from "tsx/esm/api";

register();
const { main } = await import("../src/cli/main.ts");
await main(process.argv.slice(2));
