import { afterAll, afterEach, beforeAll } from "vitest";
import type { MessageInitShape } from "@bufbuild/protobuf";
import type { CreateEndpointRequestSchema } from "../../src/gen/hookline/v1/endpoint_pb.ts";
import { clients, type Clients } from "./clients.ts";
import { Receiver, type Responder } from "./receiver.ts";
import { startServer, type ServerProcess, type StartOptions } from "./server.ts";

/** Endpoint fields besides the tenant and the URL, which tenantWithEndpoint() fills in. */
export type EndpointFields = Omit<MessageInitShape<typeof CreateEndpointRequestSchema>, "$typeName" | "tenantId" | "url">;

export interface Hookline {
  /** The server of this file or describe block: started in beforeAll, stopped in afterAll. */
  readonly server: ServerProcess;
  /** gRPC clients of that server. */
  readonly api: Clients;
  /** A receiver that is closed after the test. */
  receiver(responder?: Responder): Promise<Receiver>;
  /** A new tenant's id. A tenant per test keeps one test's events away from another's endpoints. */
  newTenant(name: string): Promise<string>;
  /** A new tenant with one endpoint pointing at `rx`. */
  tenantWithEndpoint(
    rx: Receiver,
    tenantName: string,
    endpoint?: EndpointFields,
  ): Promise<{ tenantId: string; endpointId: string; secret: string }>;
}

/**
 * One hookline server shared by the tests of the file or describe block it is called in.
 * Call it at the top of the block; `server` and `api` can be taken apart at once, and read
 * through to the running server once beforeAll has started it.
 */
export function useHookline(options: StartOptions = {}): Hookline {
  let running: { server: ServerProcess; api: Clients } | undefined;
  const receivers = receiverPool();

  beforeAll(async () => {
    const server = await startServer(options);
    running = { server, api: clients(server.baseUrl, "grpc") };
  });
  afterEach(() => receivers.closeAll());
  afterAll(async () => {
    await running?.server.stop();
    running?.server.cleanup();
  });

  const api = startedLater("api", () => running?.api);
  const newTenant = async (name: string): Promise<string> => (await api.tenants.createTenant({ name })).tenant!.id;
  return {
    server: startedLater("server", () => running?.server),
    api,
    receiver: receivers.start,
    newTenant,
    async tenantWithEndpoint(rx, tenantName, endpoint = {}) {
      const tenantId = await newTenant(tenantName);
      const created = (await api.endpoints.createEndpoint({ tenantId, url: rx.url, ...endpoint })).endpoint!;
      return { tenantId, endpointId: created.id, secret: created.secret };
    },
  };
}

/**
 * For files whose tests each need a server of their own (their own flags, or a dispatcher
 * with no backlog left by an earlier test). After each test its receivers are closed, then
 * its servers stopped.
 */
export function useServerPerTest(): {
  /** Starts a server with these extra flags; resolves to its gRPC clients. */
  freshServer(args?: string[]): Promise<Clients>;
  receiver(responder?: Responder): Promise<Receiver>;
} {
  const servers: ServerProcess[] = [];
  const receivers = receiverPool();
  afterEach(async () => {
    await receivers.closeAll();
    for (const s of servers.splice(0)) {
      await s.stop();
      s.cleanup();
    }
  });
  return {
    async freshServer(args = []) {
      const server = await startServer({ args });
      servers.push(server);
      return clients(server.baseUrl, "grpc");
    },
    receiver: receivers.start,
  };
}

/** Receivers a test starts, kept so that a hook can close them (no port outlives its test). */
function receiverPool(): { start(responder?: Responder): Promise<Receiver>; closeAll(): Promise<void> } {
  const open: Receiver[] = [];
  return {
    async start(responder) {
      const r = await Receiver.start(responder);
      open.push(r);
      return r;
    },
    async closeAll() {
      await Promise.all(open.splice(0).map((r) => r.close()));
    },
  };
}

/**
 * Stands for a value that exists only once beforeAll has run: each property read goes to the
 * current value. That lets a file destructure `server` and `api` outside any hook.
 */
function startedLater<T extends object>(what: string, current: () => T | undefined): T {
  return new Proxy({} as T, {
    get(_target, key) {
      const value = current();
      if (value === undefined) throw new Error(`${what} was used before beforeAll started the server`);
      return Reflect.get(value, key);
    },
  });
}
