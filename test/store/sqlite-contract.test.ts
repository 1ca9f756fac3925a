import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { SqliteStore } from "../../src/store/sqlite/sqlite-store.ts";
import { storeContract } from "./contract-cases.ts";

// The store contract on the embedded backend, in a data dir of its own.
storeContract("sqlite", async () => {
  const dir = mkdtempSync(join(tmpdir(), "hookline-contract-"));
  const store = new SqliteStore({ dataDir: dir, sync: "normal" });
  return {
    store,
    async close() {
      await store.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
});
