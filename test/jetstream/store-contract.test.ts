import { openJetStreamStore } from "../helpers/jetstream-store.ts";
import { startNats } from "../helpers/nats.ts";
import { IDEMPOTENCY_WINDOW_MS, storeContract } from "../store/contract-cases.ts";

// The store contract on the shared backend, against a nats-server of its own (fresh streams).
storeContract("jetstream", async () => {
  const nats = await startNats();
  try {
    const store = await openJetStreamStore(nats.url, { idempotencyWindowMs: IDEMPOTENCY_WINDOW_MS });
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
