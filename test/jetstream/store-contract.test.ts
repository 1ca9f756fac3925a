import { createLogger } from "../../src/observability/logger.ts";
import { JetStreamStore } from "../../src/store/jetstream/jetstream-store.ts";
import { startNats } from "../helpers/nats.ts";
import { IDEMPOTENCY_WINDOW_MS, storeContract } from "../store/contract-cases.ts";

// The store contract on the shared backend, against a nats-server of its own (fresh streams).
storeContract("jetstream", async () => {
  const nats = await startNats();
  try {
    const store = await JetStreamStore.open({
      servers: nats.url,
      credsFile: "",
      tls: { caFile: "", certFile: "", keyFile: "" },
      replicas: 1,
      idempotencyWindowMs: IDEMPOTENCY_WINDOW_MS,
      ackWaitMs: 20_000,
      logger: createLogger("silent"),
    });
    return {
      store,
      async close() {
        await store.close();
        await nats.stop();
      },
    };
  } catch (err) {
    await nats.stop();
    throw err;
  }
});
