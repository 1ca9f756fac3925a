/**
 * hookline as a library (the package's "." export): run the server in-process with a config
 * loaded the way the CLI loads it, and the service descriptors for generated clients. Every
 * message type is under "hookline/gen/hookline/v1/<file>_pb".
 */
export { startHookline, type Hookline } from "./app.ts";
export { ConfigError, DEFAULTS, loadConfig, parseDuration, type Config, type ConfigSources, type LogLevel } from "./config/config.ts";
export { createLogger, type Logger } from "./observability/logger.ts";
export { VERSION } from "./version.ts";
export { ApiKeyService } from "./gen/hookline/v1/api_key_pb.ts";
export { DeliveryService } from "./gen/hookline/v1/delivery_pb.ts";
export { EndpointService } from "./gen/hookline/v1/endpoint_pb.ts";
export { EventService } from "./gen/hookline/v1/event_pb.ts";
export { EventTypeService } from "./gen/hookline/v1/event_type_pb.ts";
export { TenantService } from "./gen/hookline/v1/tenant_pb.ts";
