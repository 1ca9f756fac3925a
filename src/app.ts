import type { ConnectRouter } from "@connectrpc/connect";
import { connectNodeAdapter } from "@connectrpc/connect-node";
import { apiKeyService } from "./api/api-key-service.ts";
import { deliveryService } from "./api/delivery-service.ts";
import type { ServiceDeps } from "./api/deps.ts";
import { endpointService } from "./api/endpoint-service.ts";
import { withDecodeCheck } from "./api/decode-check.ts";
import { errorInterceptor } from "./api/errors.ts";
import { metricsInterceptor } from "./api/metrics-interceptor.ts";
import { eventService } from "./api/event-service.ts";
import { eventTypeService } from "./api/event-type-service.ts";
import { HealthState, healthService } from "./api/health.ts";
import { OPENAPI_PATH, serveOpenApi } from "./api/openapi-route.ts";
import { reflectionServices } from "./api/reflection.ts";
import { tenantService } from "./api/tenant-service.ts";
import { edgeOptions } from "./api/edge.ts";
import { listen, type Listener } from "./api/transport.ts";
import { Authenticator } from "./auth/authenticator.ts";
import { ensureFirstAdminKey } from "./auth/bootstrap.ts";
import { authInterceptor } from "./auth/interceptor.ts";
import type { Config } from "./config/config.ts";
import { consoleRoute } from "./console/route.ts";
import { DeliveryFeed } from "./dispatch/delivery-feed.ts";
import { createInlineSender } from "./dispatch/inline-sender.ts";
import { OperationalEvents } from "./dispatch/operational-events.ts";
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
import { EventTypeService } from "./gen/hookline/v1/event_type_pb.ts";
import { TenantService } from "./gen/hookline/v1/tenant_pb.ts";
import type { Logger } from "./observability/logger.ts";
import { createMetrics, writeMetrics } from "./observability/metrics.ts";
import { RateLimitedLog } from "./observability/rate-limited-log.ts";
import { EventTypeCatalog } from "./catalog/event-types.ts";
import { Catalog } from "./store/catalog.ts";
import { GroupCommit } from "./store/group-commit.ts";
import { WriteGuard } from "./store/write-guard.ts";
import { JetStreamStore } from "./store/jetstream/jetstream-store.ts";
import { RetentionSweeper } from "./store/retention.ts";
import { SqliteStore } from "./store/sqlite/sqlite-store.ts";
import type { Store } from "./store/store.ts";
import { StartupError, checkPortFree, portError, prepareDataDir } from "./preflight.ts";
import { VERSION } from "./version.ts";

export interface Hookline {
  readonly port: number;
  readonly host: string;
  /** Graceful stop: refuse new work, finish what is in flight (bounded), close the store. */
  stop(): Promise<void>;
}

const HOOKLINE_SERVICES = [TenantService, EndpointService, EventService, DeliveryService, ApiKeyService, EventTypeService];

/** Opens the store, starts the dispatcher and serves every API on one port. */
export async function startHookline(config: Config, logger: Logger): Promise<Hookline> {
  const now = Date.now;
  // Nothing is created on disk before the port is known to be free.
  await checkPortFree(config.host, config.port);
  const health = new HealthState();
  const writes = new WriteGuard(await openStore(config, logger), {
    location: config.natsUrl === "" ? config.dataDir : config.natsUrl,
    logger,
    onProblem: (problem) => health.setStoreProblem(problem),
  });
  const store = writes.store;
  const catalog = await Catalog.load(store);
  const eventTypes = await EventTypeCatalog.load(store.eventTypes, logger);
  await ensureFirstAdminKey(store.apiKeys, config.adminKey, logger, now());
  const auth = new Authenticator({ keys: store.apiKeys, adminKey: config.adminKey, cacheMs: config.apiKeyCacheMs, now });
  const metrics = createMetrics({ version: VERSION, store: config.natsUrl === "" ? "sqlite" : "jetstream" });
  const sender =
    config.workers === 0
      ? createInlineSender({ allowPrivateTargets: config.allowPrivateTargets })
      : createPoolSender({ threads: config.workers, allowPrivateTargets: config.allowPrivateTargets });
  const feed = new DeliveryFeed({ bufferPerWatcher: config.watcherBuffer, maxWatchersPerKey: config.maxWatchersPerKey });
  const operational = new OperationalEvents({
    // Through the publish pipeline like any event; only called once the dispatcher runs, after `ingest` exists.
    submit: (events) => ingest.submit(events),
    subscribed: (tenantId, type) => catalog.tenant(tenantId) !== undefined && catalog.fanOut(tenantId, type).length > 0,
    logger,
    count: (type, outcome) => metrics.operationalEvents.inc({ type, outcome }),
    now,
  });
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
    operational,
  });
  const ingest = new GroupCommit({
    store,
    fanOut: catalog.fanOut,
    now,
    idempotencyWindowMs: config.idempotencyWindowMs,
    maxPendingEvents: config.maxPendingEvents,
    // Bounds how long one commit holds the thread (tens of ms on a busy 2-core box).
    maxRowsPerCommit: 10_000,
    commitsInFlight: store.publishWritesFirst ? 2 : 1,
    openLane: () => scheduler.openLane(),
    onCommitted({ endpointIds, committedMs, durationMs, stored, duplicates, deliveries }) {
      metrics.commitSeconds.observe(durationMs / 1000);
      metrics.eventsPublished.inc(stored);
      metrics.eventsDuplicate.inc(duplicates);
      metrics.deliveriesCreated.inc(deliveries);
      for (const id of endpointIds) scheduler.markDue(id, committedMs);
    },
  });
  metrics.readFrom({
    backlog: () => store.backlogSummary(),
    breakersOpen: () => scheduler.breakersOpen(),
    endpointsDisabled: () => catalog.disabledEndpointCount(),
    attemptsInFlight: () => scheduler.attemptsInFlight,
    watchers: () => feed.watcherCount,
    now,
  });
  await sender.ready();
  await scheduler.start();
  // Shared stores: work published or requeued by other processes.
  store.onDue?.((endpointIds) => {
    const at = now();
    for (const id of endpointIds) scheduler.markDue(id, at);
  });

  const deps: ServiceDeps = { config, logger, store, catalog, eventTypes, now };
  const reflection = reflectionServices([...HOOKLINE_SERVICES, Health, ReflectionV1], [file_google_rpc_error_details]);
  const routes = (router: ConnectRouter): void => {
    router.service(TenantService, tenantService(deps));
    router.service(EndpointService, endpointService({ ...deps, dispatch: scheduler, operational }));
    router.service(EventService, eventService({ ...deps, ingest }));
    router.service(DeliveryService, deliveryService({ ...deps, dispatch: scheduler, feed }));
    router.service(ApiKeyService, apiKeyService({ ...deps, auth }));
    router.service(EventTypeService, eventTypeService(deps));
    router.service(Health, healthService(health, HOOKLINE_SERVICES.map((s) => s.typeName)));
    router.service(ReflectionV1, reflection.v1);
    router.service(ReflectionV1alpha, reflection.v1alpha);
  };
  const shutdown = new AbortController();
  const serveConsole = consoleRoute();
  const adapter = connectNodeAdapter({
    routes,
    // The error interceptor wraps auth, so refusals leave as proper statuses too; metrics
    // wrap both, so they count the codes clients see.
    interceptors: [metricsInterceptor(metrics), errorInterceptor(logger), authInterceptor(auth, logger, now)],
    shutdownSignal: shutdown.signal,
    // A message over this size cannot be decoded, so it fails the call (or ends the stream).
    readMaxBytes: config.maxRequestBytes,
    fallback(req, res) {
      if (serveConsole(req, res)) return;
      const path = (req.url ?? "").split("?")[0];
      if (req.method === "GET" && path === "/healthz") {
        const down = health.reason;
        res.writeHead(down ? 503 : 200, { "content-type": "application/json" });
        res.end(JSON.stringify({ ...(down ?? { status: "ok" }), version: VERSION }));
      } else if (req.method === "GET" && path === OPENAPI_PATH) {
        serveOpenApi(res);
      } else if (req.method === "GET" && path === "/metrics") {
        writeMetrics(metrics, res, logger);
      } else {
        res.writeHead(404, { "content-type": "text/plain" });
        res.end("not found: hookline serves gRPC, gRPC-Web and Connect under /hookline.v1.*, plus GET /healthz, GET /metrics, GET /openapi.json and the web console at GET /console\n");
      }
    },
  });

  const handler = withDecodeCheck(adapter, [...HOOKLINE_SERVICES, Health, ReflectionV1, ReflectionV1alpha], config.maxRequestBytes);

  let listener: Listener;
  try {
    listener = await listen(handler, config.host, config.port, edgeOptions(config));
  } catch (err) {
    await scheduler.stop(0);
    await store.close();
    throw portError(err as NodeJS.ErrnoException, config.host, config.port);
  }
  const expiry = setInterval(() => {
    store.expireIdempotencyKeys(now() - config.idempotencyWindowMs).catch((err: unknown) => logger.warn({ err }, "expiring idempotency keys failed"));
  }, 60_000);
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
  logger.info({ host: listener.host, port: listener.port, tls: config.tlsCertFile !== "", ...backend, workers: config.workers, version: VERSION }, "hookline listening");

  let stopping: Promise<void> | undefined;
  return {
    port: listener.port,
    host: listener.host,
    stop() {
      stopping ??= (async () => {
        // One grace period for everything: open requests and attempts in flight share it.
        const deadline = Date.now() + config.shutdownGraceMs;
        logger.info({ graceMs: config.shutdownGraceMs }, "shutting down");
        health.setServing(false);
        clearInterval(expiry);
        await retention.stop();
        shutdown.abort();
        await Promise.all([
          // Requests finish, then what they submitted is committed.
          listener.close(Math.max(0, deadline - Date.now())).then(() => ingest.drain()),
          // No new claims; attempts in flight are recorded, or handed back at the deadline.
          scheduler.stop(deadline),
        ]);
        writes.close();
        await store
          .releaseLeases()
          .catch((err: unknown) => logger.error({ err }, "handing back leased deliveries failed; the next start does it"));
        await store.close();
        logger.info("stopped");
      })();
      return stopping;
    },
  };
}

/** The embedded SQLite store, or JetStream when --nats is set. */
async function openStore(config: Config, logger: Logger): Promise<Store> {
  if (config.natsUrl === "") {
    const log = new RateLimitedLog(logger, { perWindow: 5, windowMs: 60_000, now: Date.now });
    return new SqliteStore({
      dataDir: prepareDataDir(config.dataDir),
      sync: config.sqliteSync,
      backgroundCheckpoint: {
        intervalMs: 1_000,
        onError: (message) => log.warn("checkpoint", { err: message }, "WAL checkpoint failed; the next one tries again (is the disk full?)"),
      },
    });
  }
  return openJetStream(config, logger);
}

async function openJetStream(config: Config, logger: Logger): Promise<Store> {
  try {
    return await JetStreamStore.open({
      servers: config.natsUrl,
      credsFile: config.natsCredsFile,
      tls: { caFile: config.natsTlsCaFile, certFile: config.natsTlsCertFile, keyFile: config.natsTlsKeyFile },
      replicas: config.natsReplicas,
      idempotencyWindowMs: config.idempotencyWindowMs,
      ackWaitMs: config.natsAckWaitMs,
      logger,
    });
  } catch (err) {
    // Its messages already name the setting to check (--nats, TLS, creds).
    throw new StartupError((err as Error).message);
  }
}
