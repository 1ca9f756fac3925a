import type { ConnectRouter } from "@connectrpc/connect";
import { connectNodeAdapter } from "@connectrpc/connect-node";
import { apiKeyService } from "./api/api-key-service.ts";
import { deliveryService } from "./api/delivery-service.ts";
import type { ServiceDeps } from "./api/deps.ts";
import { endpointService } from "./api/endpoint-service.ts";
import { errorInterceptor } from "./api/errors.ts";
import { eventService } from "./api/event-service.ts";
import { HealthState, healthService } from "./api/health.ts";
import { reflectionServices } from "./api/reflection.ts";
import { tenantService } from "./api/tenant-service.ts";
import { listen, type Listener } from "./api/transport.ts";
import { Authenticator } from "./auth/authenticator.ts";
import { ensureFirstAdminKey } from "./auth/bootstrap.ts";
import { authInterceptor } from "./auth/interceptor.ts";
import type { Config } from "./config/config.ts";
import { DeliveryFeed } from "./dispatch/delivery-feed.ts";
import { createInlineSender } from "./dispatch/inline-sender.ts";
import { createPoolSender } from "./dispatch/pool-sender.ts";
import { Scheduler } from "./dispatch/scheduler.ts";
import { file_google_rpc_error_details } from "./gen/google/rpc/error_details_pb.ts";
import { Health } from "./gen/grpc/health/v1/health_pb.ts";
import { ServerReflection as ReflectionV1 } from "./gen/grpc/reflection/v1/reflection_pb.ts";
import { ServerReflection as ReflectionV1alpha } from "./gen/grpc/reflection/v1alpha/reflection_pb.ts";
import { ApiKeyService } from "./gen/hookline/v1/api_key_pb.ts";
import { DeliveryService } from "./gen/hookline/v1/delivery_pb.ts";
import { EndpointService } from "./gen/hookline/v1/endpoint_pb.ts";
import { EventService } from "./gen/hookline/v1/event_pb.ts";
import { TenantService } from "./gen/hookline/v1/tenant_pb.ts";
import type { Logger } from "./observability/logger.ts";
import { createMetrics } from "./observability/metrics.ts";
import { Catalog } from "./store/catalog.ts";
import { GroupCommit } from "./store/group-commit.ts";
import { JetStreamStore } from "./store/jetstream/jetstream-store.ts";
import { RetentionSweeper } from "./store/retention.ts";
import { SqliteStore } from "./store/sqlite/sqlite-store.ts";
import type { Store } from "./store/store.ts";
import { VERSION } from "./version.ts";

export interface Hookline {
  readonly port: number;
  readonly host: string;
  /** Graceful stop: refuse new work, finish what is in flight (bounded), close the store. */
  stop(): Promise<void>;
}

const HOOKLINE_SERVICES = [TenantService, EndpointService, EventService, DeliveryService, ApiKeyService];

/** Opens the store, starts the dispatcher and serves every API on one port. */
export async function startHookline(config: Config, logger: Logger): Promise<Hookline> {
  const now = Date.now;
  const store = await openStore(config, logger);
  const catalog = await Catalog.load(store);
  await ensureFirstAdminKey(store.apiKeys, config.adminKey, logger, now());
  const auth = new Authenticator({ keys: store.apiKeys, adminKey: config.adminKey, cacheMs: config.apiKeyCacheMs, now });
  const metrics = createMetrics();
  const sender =
    config.workers === 0
      ? createInlineSender({ allowPrivateTargets: config.allowPrivateTargets })
      : createPoolSender({ threads: config.workers, allowPrivateTargets: config.allowPrivateTargets });
  const feed = new DeliveryFeed();
  const scheduler = new Scheduler({
    store,
    catalog,
    sender,
    feed,
    logger,
    metrics,
    now,
    batchSize: config.workerBatch,
    maxInFlightTotal: 8192,
    breaker: {
      failureThreshold: config.breakerThreshold,
      cooldownMs: config.breakerCooldownMs,
      maxCooldownMs: Math.max(config.breakerCooldownMs, 600_000),
    },
    autoDisableAfterMs: config.autoDisableAfterMs,
  });
  const ingest = new GroupCommit({
    store,
    fanOut: catalog.fanOut,
    now,
    idempotencyWindowMs: config.idempotencyWindowMs,
    maxPendingEvents: config.maxPendingEvents,
    // Bounds how long one commit holds the thread (tens of ms on a busy 2-core box).
    maxRowsPerCommit: 10_000,
    onCommitted({ endpointIds, committedMs, durationMs, stored, duplicates, deliveries }) {
      metrics.commitSeconds.observe(durationMs / 1000);
      metrics.eventsPublished.inc({}, stored);
      metrics.eventsDuplicate.inc({}, duplicates);
      metrics.deliveriesCreated.inc({}, deliveries);
      for (const id of endpointIds) scheduler.markDue(id, committedMs);
    },
  });
  await sender.ready();
  await scheduler.start();
  // Shared stores: work published or requeued by other processes.
  store.onDue?.((endpointIds) => {
    const at = now();
    for (const id of endpointIds) scheduler.markDue(id, at);
  });

  const health = new HealthState();
  const deps: ServiceDeps = { config, logger, store, catalog, now };
  const reflection = reflectionServices([...HOOKLINE_SERVICES, Health, ReflectionV1], [file_google_rpc_error_details]);
  const routes = (router: ConnectRouter): void => {
    router.service(TenantService, tenantService(deps));
    router.service(EndpointService, endpointService({ ...deps, dispatch: scheduler }));
    router.service(EventService, eventService({ ...deps, ingest }));
    router.service(DeliveryService, deliveryService({ ...deps, dispatch: scheduler, feed }));
    router.service(ApiKeyService, apiKeyService({ ...deps, auth }));
    router.service(Health, healthService(health, HOOKLINE_SERVICES.map((s) => s.typeName)));
    router.service(ReflectionV1, reflection.v1);
    router.service(ReflectionV1alpha, reflection.v1alpha);
  };
  const shutdown = new AbortController();
  const handler = connectNodeAdapter({
    routes,
    // The error interceptor is outermost, so refusals leave as proper statuses too.
    interceptors: [errorInterceptor(logger), authInterceptor(auth, logger, now)],
    shutdownSignal: shutdown.signal,
    // A message over this size cannot be decoded, so it fails the call (or ends the stream).
    readMaxBytes: config.maxRequestBytes,
    fallback(req, res) {
      const path = (req.url ?? "").split("?")[0];
      if (req.method === "GET" && path === "/healthz") {
        const ok = health.status === 1;
        res.writeHead(ok ? 200 : 503, { "content-type": "application/json" });
        res.end(JSON.stringify({ status: ok ? "ok" : "shutting_down", version: VERSION }));
      } else if (req.method === "GET" && path === "/metrics") {
        res.writeHead(200, { "content-type": "text/plain; version=0.0.4" });
        res.end(metrics.registry.render());
      } else {
        res.writeHead(404, { "content-type": "text/plain" });
        res.end("not found: hookline serves gRPC, gRPC-Web and Connect under /hookline.v1.*, plus GET /healthz and GET /metrics\n");
      }
    },
  });

  let listener: Listener;
  try {
    listener = await listen(handler, config.host, config.port);
  } catch (err) {
    await scheduler.stop(0);
    await store.close();
    const code = (err as NodeJS.ErrnoException).code;
    if (code === "EADDRINUSE") throw new Error(`port ${config.port} on ${config.host} is in use; pick another with --port`);
    throw err;
  }
  const expiry = setInterval(() => void store.expireIdempotencyKeys(now() - config.idempotencyWindowMs), 60_000);
  expiry.unref();
  const retention = new RetentionSweeper({
    history: store.history,
    windowMs: config.retentionMs,
    intervalMs: config.retentionIntervalMs,
    // Measured with bench/micro/retention.ts: a step of 200 events holds the thread for a few ms.
    batch: 200,
    now,
    logger,
    onPruned(step) {
      metrics.pruned.inc({ kind: "events" }, step.events);
      metrics.pruned.inc({ kind: "deliveries" }, step.deliveries);
      metrics.pruned.inc({ kind: "attempts" }, step.attempts);
    },
  });
  retention.start();
  const backend = config.natsUrl === "" ? { store: "sqlite", dataDir: config.dataDir } : { store: "jetstream", nats: config.natsUrl };
  logger.info({ host: listener.host, port: listener.port, ...backend, workers: config.workers, version: VERSION }, "hookline listening");

  let stopping: Promise<void> | undefined;
  return {
    port: listener.port,
    host: listener.host,
    stop() {
      stopping ??= (async () => {
        logger.info({ graceMs: config.shutdownGraceMs }, "shutting down");
        health.setServing(false);
        clearInterval(expiry);
        await retention.stop();
        shutdown.abort();
        await listener.close(config.shutdownGraceMs);
        await ingest.drain();
        await scheduler.stop(config.shutdownGraceMs);
        await store.releaseLeases();
        await store.close();
        logger.info("stopped");
      })();
      return stopping;
    },
  };
}

/** The embedded SQLite store, or JetStream when --nats is set. */
async function openStore(config: Config, logger: Logger): Promise<Store> {
  if (config.natsUrl === "") return new SqliteStore({ dataDir: config.dataDir, sync: config.sqliteSync });
  return JetStreamStore.open({
    servers: config.natsUrl,
    credsFile: config.natsCredsFile,
    tls: { caFile: config.natsTlsCaFile, certFile: config.natsTlsCertFile, keyFile: config.natsTlsKeyFile },
    replicas: config.natsReplicas,
    idempotencyWindowMs: config.idempotencyWindowMs,
    logger,
  });
}
