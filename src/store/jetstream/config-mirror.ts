import type { KV, KvWatchEntry } from "@nats-io/kv";
import type { Endpoint, Tenant } from "../../core/types.ts";
import type { Logger } from "../../observability/logger.ts";
import type { CatalogChange } from "../store.ts";
import { decodeJson } from "./codec.ts";

/**
 * A local copy of the config bucket, kept current by a watch: reads cost nothing and every
 * process sees the others' changes within a round trip.
 */
export class ConfigMirror {
  readonly tenants = new Map<string, Tenant>();
  readonly endpoints = new Map<string, Endpoint>();
  readonly failing = new Map<string, number>();
  private readonly listeners = new Set<(change: CatalogChange) => void>();
  private stopWatch: (() => void) | undefined;

  private constructor(private readonly logger: Logger) {}

  /** Loads the bucket and resolves once the copy is complete; later changes keep flowing in. */
  static async open(kv: KV, logger: Logger): Promise<ConfigMirror> {
    const mirror = new ConfigMirror(logger);
    const status = await kv.status();
    const watch = await kv.watch({ key: ">" });
    mirror.stopWatch = () => watch.stop();
    let markReady: () => void = () => {};
    const ready = new Promise<void>((resolve) => (markReady = resolve));
    if (status.values === 0) markReady();
    void (async () => {
      for await (const entry of watch) {
        mirror.apply(entry);
        if ((entry.delta ?? 0) === 0) markReady();
      }
    })().catch((err: unknown) => logger.error({ err }, "config watch ended; restart hookline to resume config updates"));
    await ready;
    return mirror;
  }

  onChange(listener: (change: CatalogChange) => void): void {
    this.listeners.add(listener);
  }

  close(): void {
    this.stopWatch?.();
  }

  /** Writes made by this process, applied at once rather than when the watch echoes them. */
  setTenant(tenant: Tenant): void {
    this.tenants.set(tenant.id, tenant);
  }

  setEndpoint(endpoint: Endpoint): void {
    this.endpoints.set(endpoint.id, endpoint);
  }

  private apply(entry: KvWatchEntry): void {
    const dot = entry.key.indexOf(".");
    const kind = entry.key.slice(0, dot);
    const id = entry.key.slice(dot + 1);
    const removed = entry.operation !== "PUT";
    try {
      if (kind === "tenant") {
        if (removed) this.tenants.delete(id);
        else this.tenants.set(id, decodeJson<Tenant>(entry.value));
        this.emit(removed ? { kind: "tenant-deleted", id } : { kind: "tenant", tenant: this.tenants.get(id) as Tenant });
      } else if (kind === "endpoint") {
        if (removed) this.endpoints.delete(id);
        else this.endpoints.set(id, decodeJson<Endpoint>(entry.value));
        this.emit(removed ? { kind: "endpoint-deleted", id } : { kind: "endpoint", endpoint: this.endpoints.get(id) as Endpoint });
      } else if (kind === "failing") {
        if (removed) this.failing.delete(id);
        else this.failing.set(id, decodeJson<number>(entry.value));
      }
    } catch (err) {
      this.logger.warn({ err, key: entry.key }, "ignoring an unreadable config entry");
    }
  }

  private emit(change: CatalogChange): void {
    for (const l of this.listeners) l(change);
  }
}
