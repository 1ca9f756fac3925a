import { expect } from "vitest";
import { clients, json } from "../helpers/clients.ts";
import { Receiver } from "../helpers/receiver.ts";
import { startServer, type ServerProcess, type StartOptions } from "../helpers/server.ts";

/** One event through a running hookline to a fresh receiver, checked by its payload. */
export async function expectDelivers(server: ServerProcess, label: string): Promise<void> {
  const rx = await Receiver.start(() => ({ status: 200 }));
  try {
    const api = clients(server.baseUrl, "grpc");
    const tenantId = (await api.tenants.createTenant({ name: label })).tenant!.id;
    await api.endpoints.createEndpoint({ tenantId, url: rx.url });
    await api.events.publish({ events: [{ tenantId, type: `${label}.check`, payload: json({ via: label }) }] });
    await rx.waitFor((r) => r.length === 1);
    expect(JSON.parse(rx.requests[0]!.body.toString())).toEqual({ via: label });
  } finally {
    await rx.close();
  }
}

/** Why hookline would not start; a hookline that did start is recorded for cleanup and reported as "started". */
export async function startFailure(options: StartOptions, started: ServerProcess[]): Promise<string> {
  return startServer(options).then(
    (s) => {
      started.push(s);
      return "started";
    },
    (err: Error) => err.message,
  );
}
