import { createLogger } from "../../src/observability/logger.ts";
import { JetStreamStore, type JetStreamStoreOptions } from "../../src/store/jetstream/jetstream-store.ts";

/** A JetStreamStore in this process on a local nats-server: no credentials, no TLS, one replica. */
export function openJetStreamStore(servers: string, options: Partial<Omit<JetStreamStoreOptions, "servers">> = {}): Promise<JetStreamStore> {
  return JetStreamStore.open({
    servers,
    credsFile: "",
    tls: { caFile: "", certFile: "", keyFile: "" },
    replicas: 1,
    idempotencyWindowMs: 60_000,
    ackWaitMs: 20_000,
    logger: createLogger("silent"),
    ...options,
  });
}
