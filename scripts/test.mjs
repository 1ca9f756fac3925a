// Runs the whole suite with vitest and ends with the plain summary line CI reads:
//   tests: N passed, N failed
import { spawnSync } from "node:child_process";
import { mkdirSync, readFileSync, existsSync, rmSync } from "node:fs";

// The JetStream half of the suite needs a real nats-server: build the project's version when
// it is missing. Under CI a missing or other server is a failure (the jetstream tests fail
// loudly), never a skip.
const ensure = spawnSync("bash", ["scripts/ensure-nats-server.sh"], { stdio: "inherit" });
if (ensure.status !== 0) console.error("warning: nats-server is not available (bash scripts/ensure-nats-server.sh); the jetstream project's tests will fail");

// The client examples (Go, Python), the generated-code check and grpcurl: pinned versions from
// the language registries; a second before a warm run.
const toolchains = spawnSync("bash", ["scripts/install-client-toolchains.sh"], { stdio: "inherit" });
if (toolchains.status !== 0) console.error("warning: client toolchains missing (bash scripts/install-client-toolchains.sh); the client example tests will be skipped (fail under CI)");

// The console's browser test drives Debian's chromium; like nats-server, install it when we can.
const browser = spawnSync("bash", ["scripts/ensure-chromium.sh"], { stdio: "inherit" });
if (browser.status !== 0) console.error("warning: chromium is not available; the console's browser test will be skipped (fail under CI)");

const report = ".tmp/vitest-report.json";
mkdirSync(".tmp", { recursive: true });
rmSync(report, { force: true });
const args = ["run", "--reporter=default", "--reporter=json", `--outputFile.json=${report}`, ...process.argv.slice(2)];
const run = spawnSync(process.execPath, ["node_modules/vitest/vitest.mjs", ...args], { stdio: "inherit" });

let passed = 0;
let failed = 0;
if (existsSync(report)) {
  const result = JSON.parse(readFileSync(report, "utf8"));
  passed = result.numPassedTests ?? 0;
  failed = result.numFailedTests ?? 0;
  // A file that fails to load has no tests but must still count as a failure.
  for (const file of result.testResults ?? []) {
    if (file.status === "failed" && (file.assertionResults ?? []).length === 0) failed++;
  }
} else {
  failed = 1;
}
const code = run.status ?? 1;
if (code !== 0 && failed === 0) failed = 1;
console.log(`tests: ${passed} passed, ${failed} failed`);
process.exit(code);
