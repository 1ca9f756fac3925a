import { matchesEventType } from "../core/validation.ts";
import type { Endpoint, Tenant } from "../core/types.ts";
import type { CatalogChange, CatalogStore, FanOut } from "./store.ts";

export type EndpointChange = { kind: "upsert"; endpoint: Endpoint } | { kind: "delete"; endpointId: string };

/**
 * Tenants and endpoints held in memory over the store: fan-out and the scheduler read them on
 * every event, so they must not cost a query. Writes go to the store first, then here.
 */
export class Catalog {
  private readonly tenants = new Map<string, Tenant>();
  private readonly endpoints = new Map<string, Endpoint>();
  private readonly fanOutMemo = new Map<string, readonly string[]>();
  private readonly listeners = new Set<(change: EndpointChange) => void>();

  private constructor(readonly store: CatalogStore) {}

  static async load(store: CatalogStore): Promise<Catalog> {
    const catalog = new Catalog(store);
    for (let after: string | undefined; ; ) {
      const page = await store.listTenants(after, 1000);
      for (const t of page) catalog.tenants.set(t.id, t);
      if (page.length < 1000) break;
      after = page[page.length - 1]?.id;
    }
    for (const e of await store.allEndpoints()) catalog.endpoints.set(e.id, e);
    store.watchCatalog?.((change) => catalog.applyRemote(change));
    return catalog;
  }

  /** A change another process made to the shared store (echoes of our own writes are skipped). */
  private applyRemote(change: CatalogChange): void {
    switch (change.kind) {
      case "tenant":
        this.tenants.set(change.tenant.id, change.tenant);
        return;
      case "tenant-deleted":
        this.forgetTenant(change.id);
        return;
      case "endpoint": {
        // Two writers can change an endpoint within one millisecond: compare the whole of it.
        const known = this.endpoints.get(change.endpoint.id);
        if (known && JSON.stringify(known) === JSON.stringify(change.endpoint)) return;
        this.rememberEndpoint(change.endpoint);
        return;
      }
      case "endpoint-deleted":
        this.forgetEndpoint(change.id);
    }
  }

  tenant(id: string): Tenant | undefined {
    return this.tenants.get(id);
  }

  endpoint(id: string): Endpoint | undefined {
    return this.endpoints.get(id);
  }

  endpointCount(tenantId: string): number {
    let count = 0;
    for (const e of this.endpoints.values()) if (e.tenantId === tenantId) count++;
    return count;
  }

  disabledEndpointCount(): number {
    let count = 0;
    for (const e of this.endpoints.values()) if (e.disabled) count++;
    return count;
  }

  onEndpointChange(listener: (change: EndpointChange) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  async createTenant(tenant: Tenant): Promise<void> {
    await this.store.createTenant(tenant);
    this.tenants.set(tenant.id, tenant);
  }

  /** Applies the change to the stored tenant (see Store.updateTenant); undefined when it is gone. */
  async updateTenant(id: string, change: (current: Tenant) => Tenant): Promise<Tenant | undefined> {
    const tenant = await this.store.updateTenant(id, change);
    if (tenant) this.tenants.set(tenant.id, tenant);
    return tenant;
  }

  async deleteTenant(id: string, nowMs: number): Promise<boolean> {
    const deleted = await this.store.deleteTenant(id, nowMs);
    this.forgetTenant(id);
    return deleted;
  }

  async createEndpoint(endpoint: Endpoint): Promise<void> {
    await this.store.createEndpoint(endpoint);
    this.rememberEndpoint(endpoint);
  }

  /** Applies the change to the stored endpoint (see Store.updateEndpoint); undefined when it is gone. */
  async updateEndpoint(id: string, change: (current: Endpoint) => Endpoint): Promise<Endpoint | undefined> {
    const endpoint = await this.store.updateEndpoint(id, change);
    if (endpoint) this.rememberEndpoint(endpoint);
    return endpoint;
  }

  async deleteEndpoint(id: string, nowMs: number): Promise<boolean> {
    const deleted = await this.store.deleteEndpoint(id, nowMs);
    this.forgetEndpoint(id);
    return deleted;
  }

  /** Re-reads an endpoint the store changed by itself (e.g. disabled after 410 Gone). */
  async refreshEndpoint(id: string): Promise<void> {
    const endpoint = await this.store.getEndpoint(id);
    if (endpoint) this.rememberEndpoint(endpoint);
    else this.forgetEndpoint(id);
  }

  /** Enabled endpoints of the tenant whose filters match the type. */
  readonly fanOut: FanOut = (tenantId, type) => {
    const key = `${tenantId}\u0000${type}`;
    let targets = this.fanOutMemo.get(key);
    if (targets === undefined) {
      targets = [];
      for (const e of this.endpoints.values()) {
        if (e.tenantId === tenantId && !e.disabled && matchesEventType(e.eventTypes, type)) (targets as string[]).push(e.id);
      }
      this.fanOutMemo.set(key, targets);
    }
    return targets;
  };

  private rememberEndpoint(endpoint: Endpoint): void {
    this.endpoints.set(endpoint.id, endpoint);
    this.fanOutMemo.clear();
    for (const l of this.listeners) l({ kind: "upsert", endpoint });
  }

  private forgetTenant(id: string): void {
    this.tenants.delete(id);
    for (const e of [...this.endpoints.values()]) if (e.tenantId === id) this.forgetEndpoint(e.id);
  }

  private forgetEndpoint(id: string): void {
    if (!this.endpoints.delete(id)) return;
    this.fanOutMemo.clear();
    for (const l of this.listeners) l({ kind: "delete", endpointId: id });
  }
}
