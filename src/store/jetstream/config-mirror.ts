import type { KV, KvWatchEntry } from "@nats-io/kv";
import type { Endpoint, Tenant } from "../../core/types.ts";
import type { Logger } from "../../observability/logger.ts";
import type { CatalogChange } from "../store.ts";
import { decodeEndpoint, decodeJson, encodeJson } from "./codec.ts";
import { followBucket } from "./kv-follow.ts";
import { updateAtRevision } from "./kv-update.ts";
import { configKey } from "./layout.ts";

/** Marks a key this process deleted, until the watch echoes the delete. */
const DELETED_HERE = Number.POSITIVE_INFINITY;
/** Read-modify-write rounds lost to concurrent writers before an update gives up with ABORTED. */

/**
 * A local copy of the config bucket, kept current by a watch: reads cost nothing and every
 * process sees the others' changes within a round trip. This process's own writes go through
 * here so they apply at once, and the watch's late echo of an older revision (say, of the
 * rotation before the latest) can never overwrite them.
 */
export class ConfigMirror {
  readonly tenants = new Map<string, Tenant>();
  readonly endpoints = new Map<string, Endpoint>();
  readonly failing = new Map<string, number>();
  /** Priority lanes in use per endpoint (created on first use, so most endpoints have none). */
  readonly priorityLanes = new Map<string, Set<string>>();
  private readonly listeners = new Set<(change: CatalogChange) => void>();
  /** The newest revision applied per key. */
  private readonly revisions = new Map<string, number>();
  private stopWatch: (() => void) | undefined;

  private constructor(
    private readonly kv: KV,
    private readonly logger: Logger,
  ) {}

  /** Loads the bucket and resolves once the copy is complete; later changes keep flowing in. */
  static async open(kv: KV, logger: Logger): Promise<ConfigMirror> {
    const mirror = new ConfigMirror(kv, logger);
    mirror.stopWatch = await followBucket(
      kv,
      (entry) => mirror.apply(entry),
      (err: unknown) => logger.error({ err }, "config watch ended; restart hookline to resume config updates"),
    );
    return mirror;
  }

  onChange(listener: (change: CatalogChange) => void): void {
    this.listeners.add(listener);
  }

  close(): void {
    this.stopWatch?.();
  }

  async putTenant(tenant: Tenant): Promise<void> {
    if (await this.put(configKey.tenant(tenant.id), tenant)) this.tenants.set(tenant.id, tenant);
  }

  async putEndpoint(endpoint: Endpoint): Promise<void> {
    if (await this.put(configKey.endpoint(endpoint.id), endpoint)) this.endpoints.set(endpoint.id, endpoint);
  }

  /**
   * Applies the change to the tenant's newest stored revision; undefined when there is none.
   * Answers with the newest revision known here, which may already include a later change.
   */
  async updateTenant(id: string, change: (current: Tenant) => Tenant): Promise<Tenant | undefined> {
    const written = await this.update(configKey.tenant(id), change, (tenant) => this.tenants.set(id, tenant));
    return written && (this.tenants.get(id) ?? written);
  }

  /** As updateTenant. */
  async updateEndpoint(id: string, change: (current: Endpoint) => Endpoint): Promise<Endpoint | undefined> {
    const written = await this.update(configKey.endpoint(id), change, (endpoint) => this.endpoints.set(id, endpoint));
    return written && (this.endpoints.get(id) ?? written);
  }

  async putFailing(endpointId: string, sinceMs: number): Promise<void> {
    if (await this.put(configKey.failing(endpointId), sinceMs)) this.failing.set(endpointId, sinceMs);
  }

  async putPriorityLane(endpointId: string, lane: string): Promise<void> {
    if (await this.put(configKey.lane(endpointId, lane), 1)) this.lanesOf(endpointId).add(lane);
  }

  private lanesOf(endpointId: string): Set<string> {
    let lanes = this.priorityLanes.get(endpointId);
    if (!lanes) this.priorityLanes.set(endpointId, (lanes = new Set()));
    return lanes;
  }

  async deleteTenant(id: string): Promise<void> {
    await this.remove(configKey.tenant(id));
    this.tenants.delete(id);
  }

  async deleteEndpoint(id: string): Promise<void> {
    await this.remove(configKey.endpoint(id));
    this.endpoints.delete(id);
    await this.remove(configKey.failing(id));
    this.failing.delete(id);
    for (const lane of this.priorityLanes.get(id) ?? []) await this.remove(configKey.lane(id, lane));
    this.priorityLanes.delete(id);
  }

  /** Stores a value; false when a newer revision of the key has already been applied. */
  private async put(key: string, value: unknown): Promise<boolean> {
    const revision = await this.kv.put(key, encodeJson(value));
    if (revision < (this.revisions.get(key) ?? 0)) return false;
    this.revisions.set(key, revision);
    return true;
  }

  /** A revision-checked change of one key (see updateAtRevision), kept here unless the watch brought a newer one. */
  private async update<T>(key: string, change: (current: T) => T, keep: (value: T) => void): Promise<T | undefined> {
    const updated = await updateAtRevision(this.kv, key, change, key.replace(".", " "));
    if (!updated) return undefined;
    if (updated.revision >= (this.revisions.get(key) ?? 0)) {
      this.revisions.set(key, updated.revision);
      keep(updated.value);
    }
    return updated.value;
  }

  private async remove(key: string): Promise<void> {
    this.revisions.set(key, DELETED_HERE);
    await this.kv.delete(key);
  }

  private apply(entry: KvWatchEntry): void {
    const removed = entry.operation !== "PUT";
    const known = this.revisions.get(entry.key) ?? 0;
    // Ids are never reused, so after a delete the key is done with: drop what we know of it.
    if (removed) this.revisions.delete(entry.key);
    else if (entry.revision <= known) return;
    else this.revisions.set(entry.key, entry.revision);
    if (removed && known === DELETED_HERE) return;
    const dot = entry.key.indexOf(".");
    const kind = entry.key.slice(0, dot);
    const id = entry.key.slice(dot + 1);
    try {
      if (kind === "tenant") {
        if (removed) this.tenants.delete(id);
        else this.tenants.set(id, decodeJson<Tenant>(entry.value));
        this.emit(removed ? { kind: "tenant-deleted", id } : { kind: "tenant", tenant: this.tenants.get(id) as Tenant });
      } else if (kind === "endpoint") {
        if (removed) this.endpoints.delete(id);
        else this.endpoints.set(id, decodeEndpoint(entry.value));
        this.emit(removed ? { kind: "endpoint-deleted", id } : { kind: "endpoint", endpoint: this.endpoints.get(id) as Endpoint });
      } else if (kind === "failing") {
        if (removed) this.failing.delete(id);
        else this.failing.set(id, decodeJson<number>(entry.value));
      } else if (kind === "lane") {
        const cut = id.lastIndexOf(".");
        const endpointId = id.slice(0, cut);
        if (removed) this.priorityLanes.get(endpointId)?.delete(id.slice(cut + 1));
        else this.lanesOf(endpointId).add(id.slice(cut + 1));
      }
    } catch (err) {
      this.logger.warn({ err, key: entry.key }, "ignoring an unreadable config entry");
    }
  }

  private emit(change: CatalogChange): void {
    for (const l of this.listeners) l(change);
  }
}

