import { defineConfig } from "vitest/config";

/**
 * The contract suite: e2e files that hold for every backend. They run once per backend, the
 * same files with HOOKLINE_TEST_BACKEND telling the server helper which store to start.
 */
const CONTRACT = [
  "api-crud",
  "attempt-headers",
  "auth",
  "breaker",
  "delivery-smoke",
  "event-types",
  "fuzz",
  "grpc-js",
  "health-reflection",
  "history",
  "isolation",
  "metrics",
  "operational-webhooks",
  "ordering",
  "priority",
  "publish",
  "rate-limits",
  "replay",
  "retention",
  "retries",
  "signing",
  "success-codes",
  "validation",
  "watch-stats",
].map((name) => `test/e2e/${name}.test.ts`);

export default defineConfig({
  test: {
    testTimeout: 60_000,
    hookTimeout: 60_000,
    pool: "forks",
    // Two cores: e2e files each start real server processes.
    maxWorkers: 2,
    fileParallelism: true,
    // e2e tests start the compiled server: build dist/ before any test.
    globalSetup: ["test/helpers/build.ts"],
    projects: [
      {
        extends: true,
        test: { name: "sqlite", include: ["test/**/*.test.ts"], exclude: ["test/jetstream/**"], env: { HOOKLINE_TEST_BACKEND: "sqlite" } },
      },
      {
        extends: true,
        test: { name: "jetstream", include: [...CONTRACT, "test/jetstream/**/*.test.ts"], env: { HOOKLINE_TEST_BACKEND: "jetstream" } },
      },
    ],
  },
});
