import type { Config } from "../config/config.ts";
import type { Logger } from "../observability/logger.ts";
import type { EventTypeCatalog } from "../catalog/event-types.ts";
import type { Catalog } from "../store/catalog.ts";
import type { Store } from "../store/store.ts";

/** What the service handlers need from the running engine. */
export interface ServiceDeps {
  config: Config;
  logger: Logger;
  store: Store;
  catalog: Catalog;
  eventTypes: EventTypeCatalog;
  now: () => number;
}
